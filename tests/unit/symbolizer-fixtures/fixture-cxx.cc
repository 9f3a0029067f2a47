// SPDX-License-Identifier: Apache-2.0
// fixture-cxx.cc — a child process for the demangling test: a class
// template in nested namespaces, instantiated for int, built -O2 -g. It
// prints the run-time address of Box<int>::get, then waits until its stdin
// is closed.
#include <cstdio>
#include <unistd.h>

namespace ember_fx {
namespace inner {
template <typename T> struct Box {
	T v;
	__attribute__((noinline)) T get(int times) const
	{
		T acc = v;
		for (int i = 0; i < times; i++)
			acc = acc * 3 + static_cast<T>(i);
		return acc;
	}
};
} // namespace inner
} // namespace ember_fx

int main()
{
	ember_fx::inner::Box<int> b{ 7 };
	int (ember_fx::inner::Box<int>::*fn)(int) const = &ember_fx::inner::Box<int>::get;
	char c;

	(void)fn;
	std::printf("%p\n", reinterpret_cast<void *>(&ember_fx::inner::Box<int>::get));
	std::fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return b.get(3) & 0;
}
