/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyembed.c — a program that embeds CPython through Debian's shared
 * libpython3.11 (libpython3.11-dev), as uwsgi, gdb or Blender do: it runs
 * the script given as its first argument with the rest as sys.argv. The
 * interpreter is then not the executable but a library ld.so maps after
 * the exec, which is the case the tests profile pysplit.py through it for.
 *
 *   pyembed SCRIPT [ARGS...]
 */
#include <Python.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	PyObject *sys_argv;
	FILE *f;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: pyembed SCRIPT [ARGS...]\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	Py_Initialize();
	sys_argv = PyList_New(0);
	for (int i = 1; i < argc && sys_argv; i++) {
		PyObject *s = PyUnicode_DecodeFSDefault(argv[i]);

		if (!s || PyList_Append(sys_argv, s) < 0)
			return 1;
		Py_DECREF(s);
	}
	if (!sys_argv || PySys_SetObject("argv", sys_argv) < 0)
		return 1;
	Py_DECREF(sys_argv);
	r = PyRun_SimpleFileExFlags(f, argv[1], 1, NULL);
	if (Py_FinalizeEx() < 0)
		return 120;
	return r == 0 ? 0 : 1;
}
