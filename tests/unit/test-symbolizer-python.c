/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-python.c — the symbolizer's Python part against a live
 * CPython 3.11 (Debian's /usr/bin/python3, a child of this test):
 *
 * - the offsets it finds, from python3.11-dbg's debug information and from
 *   its table (no debug directory), equal what this file, compiled against
 *   CPython's own internal headers (libpython3.11-dev), says;
 * - a code object is named with its qualified name and file, and the line
 *   of every instruction is the line CPython's co_lines() gives;
 * - a code object freed and another allocated at its address (the child
 *   makes that happen) is not misnamed: the old identity gives an unnamed
 *   frame, the new one the new name;
 * - a process that is not Python is -ENOENT.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>

#include <stddef.h>

#include "symbolizer-test.h"

static const char script[] =
	"import sys\n"
	"BODY = '\\n'.join(f'    x{i} = a + {i}' for i in range(60))\n"
	"def make(name, line, path):\n"
	"    src = '\\n' * line + f'def {name}(a):\\n{BODY}\\n    return a\\n'\n"
	"    ns = {}\n"
	"    exec(compile(src, path, 'exec'), ns)\n"
	"    return ns[name]\n"
	"def ident(co):\n"
	"    return f'{id(co)} {id(co.co_filename)} {id(co.co_qualname)} {id(co.co_linetable)} "
	"{co.co_firstlineno}'\n"
	"class Klass:\n"
	"    def method(self, n):\n"
	"        total = 0\n"
	"        for i in range(n):\n"
	"            if i % 3:\n"
	"                total += i\n"
	"            else:\n"
	"                total -= 1\n"
	"        return total\n"
	"co = Klass.method.__code__\n"
	"print('CODE', ident(co), co.co_filename, flush=True)\n"
	"for start, end, line in co.co_lines():\n"
	"    print('LINE', start, end, -1 if line is None else line)\n"
	"print('END', flush=True)\n"
	"sys.stdin.readline()\n"
	/* a code object freed, its address taken by another one */
	"f = make('old_fn', 10, '/nowhere/old.py')\n"
	"old = ident(f.__code__)\n"
	"addr = id(f.__code__)\n"
	"del f\n"
	"keep = []\n"
	"for i in range(20000):\n"
	"    g = make('new_fn', 20, '/nowhere/new.py')\n"
	"    if id(g.__code__) == addr:\n"
	"        break\n"
	"    keep.append(g)\n"
	"else:\n"
	"    g = None\n"
	"print('REUSE', old, ident(g.__code__) if g else 'none', flush=True)\n"
	"sys.stdin.readline()\n";

struct child {
	pid_t pid;
	FILE *out;
	int in_fd;
};

static int child_start(const char *python, struct child *c)
{
	int to[2], from[2];

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execl(python, python, "-c", script, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->in_fd = to[1];
	c->out = fdopen(from[0], "r");
	return c->out ? 0 : -errno;
}

static void child_next(struct child *c)
{
	if (write(c->in_fd, "\n", 1) != 1)
		fprintf(stderr, "cannot write to the child\n");
}

static void child_stop(struct child *c)
{
	close(c->in_fd);
	fclose(c->out);
	waitpid(c->pid, NULL, 0);
}

/* "ADDR FILENAME QUALNAME LINETABLE FIRSTLINE" -> code address, identity */
static int parse_ident(const char *s, uint64_t *code, uint64_t *ident, int *used)
{
	unsigned long long a, fn, qn, lt;
	unsigned first;

	if (sscanf(s, "%llu %llu %llu %llu %u%n", &a, &fn, &qn, &lt, &first, used) != 5)
		return -EINVAL;
	*code = a;
	*ident = ember_py_ident(fn, qn, lt, first);
	return 0;
}

static void check_offsets(const struct sym_python *py, const char *what)
{
	const struct ember_py_offsets *o = &py->off;

	fprintf(stderr, "%s: version %#x, offsets from %s\n", what, py->version,
		py->from_debug_info ? "debug information" : "the table");
	CHECK(py->supported);
	CHECK((py->version >> 16) == 0x030b);
	CHECK(o->runtime_interp_head == offsetof(_PyRuntimeState, interpreters.head));
	CHECK(o->interp_next == offsetof(PyInterpreterState, next));
	CHECK(o->interp_threads_head == offsetof(PyInterpreterState, threads.head));
	CHECK(o->tstate_next == offsetof(PyThreadState, next));
	CHECK(o->tstate_native_tid == offsetof(PyThreadState, native_thread_id));
	CHECK(o->tstate_cframe == offsetof(PyThreadState, cframe));
	CHECK(o->cframe_current_frame == offsetof(_PyCFrame, current_frame));
	CHECK(o->frame_code == offsetof(_PyInterpreterFrame, f_code));
	CHECK(o->frame_previous == offsetof(_PyInterpreterFrame, previous));
	CHECK(o->frame_prev_instr == offsetof(_PyInterpreterFrame, prev_instr));
	CHECK(o->frame_is_entry == offsetof(_PyInterpreterFrame, is_entry));
	CHECK(o->code_firstlineno == offsetof(PyCodeObject, co_firstlineno));
	CHECK(o->code_filename == offsetof(PyCodeObject, co_filename));
	CHECK(o->code_qualname == offsetof(PyCodeObject, co_qualname));
	CHECK(o->code_linetable == offsetof(PyCodeObject, co_linetable));
	CHECK(o->code_adaptive == offsetof(PyCodeObject, co_code_adaptive));
	/* every window covers its fields */
	CHECK(o->tstate_size >= offsetof(PyThreadState, native_thread_id) + 8);
	CHECK(o->frame_size >= offsetof(_PyInterpreterFrame, prev_instr) + 8);
	CHECK(o->code_size >= offsetof(PyCodeObject, co_linetable) + 8);
	CHECK(py->runtime && py->code_type);
}

int main(void)
{
	const char *python = "/usr/bin/python3";
	struct sym_options no_debug = { .no_kernel = true, .debug_dir = "" };
	struct sym_options defaults = { .no_kernel = true };
	struct sym_session *s = NULL, *t = NULL;
	struct sym_python py;
	struct ember_py_offsets table;
	struct sym_frame f;
	struct child c = { .pid = -1, .in_fd = -1 };
	char line[1024], file[512];
	uint64_t code, ident;
	size_t n_lines = 0;
	int used, firstlineno = 0;

	if (access(python, X_OK) != 0) {
		fprintf(stderr, "%s is missing: install python3.11 (scripts/test.sh does)\n", python);
		return 1;
	}
	CHECK(child_start(python, &c) == 0);
	CHECK(fgets(line, sizeof(line), c.out) && !strncmp(line, "CODE ", 5));
	CHECK(parse_ident(line + 5, &code, &ident, &used) == 0);
	CHECK(sscanf(line + 5 + used, " %511s", file) == 1);
	sscanf(line + 5, "%*u %*u %*u %*u %d", &firstlineno);

	CHECK(sym_session__new(&defaults, &s) == 0);
	CHECK(sym_session__new(&no_debug, &t) == 0);
	CHECK(sym_session__python(t, c.pid, 0, &py) == 0);
	check_offsets(&py, "without debug information");
	CHECK(!py.from_debug_info);
	table = py.off;
	/* quick: the table until the debug information has been read */
	CHECK(sym_session__python(s, c.pid, SYM_PYTHON_QUICK, &py) == 0);
	check_offsets(&py, "quick, before the debug information is read");
	CHECK(!py.from_debug_info);
	CHECK(sym_session__python(s, c.pid, 0, &py) == 0);
	check_offsets(&py, "with python3.11-dbg");
	CHECK(py.from_debug_info);
	/* what the debug information says is the table, field for field */
	CHECK(memcmp(&py.off, &table, sizeof(table)) == 0);
	/* read once: quick now gives the debug information's */
	CHECK(sym_session__python(s, c.pid, SYM_PYTHON_QUICK, &py) == 0);
	CHECK(py.from_debug_info);

	/* Every instruction's line, as CPython's co_lines() gives it. */
	while (fgets(line, sizeof(line), c.out) && strncmp(line, "END", 3)) {
		unsigned start, end;
		int want;

		CHECK(sscanf(line, "LINE %u %u %d", &start, &end, &want) == 3);
		for (unsigned b = start; b < end; b += 2) {
			CHECK(sym_session__python_frame(s, c.pid, code, ident, (int32_t)(b / 2), &f) == 0);
			CHECK_STR(f.name, "Klass.method");
			CHECK_STR(f.file, file);
			CHECK(f.kind == SYM_FRAME_PYTHON && f.miss == SYM_MISS_NONE);
			if (f.line != (uint32_t)(want < 0 ? firstlineno : want)) {
				fprintf(stderr, "instruction %u: line %u, CPython says %d\n", b / 2,
					f.line, want);
				test_failures++;
			}
			n_lines++;
		}
	}
	CHECK(n_lines > 20);
	/* before the first instruction: the first line */
	CHECK(sym_session__python_frame(s, c.pid, code, ident, -1, &f) == 0);
	CHECK(f.line == (uint32_t)firstlineno);
	/* an identity the object does not have: not named */
	CHECK(sym_session__python_frame(s, c.pid, code, ident ^ 1, 0, &f) == 0);
	CHECK(f.miss != SYM_MISS_NONE && !f.file);

	/* Freed, and another code object at its address. */
	child_next(&c);
	CHECK(fgets(line, sizeof(line), c.out) && !strncmp(line, "REUSE ", 6));
	{
		uint64_t old_code, old_ident, new_code, new_ident;
		const char *p = line + 6;

		CHECK(parse_ident(p, &old_code, &old_ident, &used) == 0);
		p += used;
		if (parse_ident(p, &new_code, &new_ident, &used) != 0) {
			fprintf(stderr, "the child could not reuse the code object's address: %s", line);
			test_failures++;
		} else {
			CHECK(new_code == old_code && new_ident != old_ident);
			CHECK(sym_session__python_frame(s, c.pid, old_code, old_ident, 0, &f) == 0);
			test_print_frame("the freed code object", &f);
			CHECK(f.miss != SYM_MISS_NONE);
			CHECK(strcmp(f.name, "old_fn") && strcmp(f.name, "new_fn"));
			CHECK(sym_session__python_frame(s, c.pid, new_code, new_ident, 0, &f) == 0);
			CHECK_STR(f.name, "new_fn");
			CHECK_STR(f.file, "/nowhere/new.py");
			CHECK(f.line == 21);
		}
	}
	child_next(&c);
	child_stop(&c);

	/* Not a Python process. */
	CHECK(sym_session__python(s, getpid(), 0, &py) == -ENOENT);
	sym_session__free(s);
	sym_session__free(t);
	return test_exit();
}
