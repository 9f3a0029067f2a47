/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-unwind.cc — a shared library of C++ frames with exception-handling
 * data for test-symbolizer-unwind.c: fixture_cxx_raii keeps a std::string
 * alive across the callback (a cleanup: CIE augmentation "zPLR", whose
 * personality routine pointer libunwind reads from this library's data),
 * fixture_cxx_try catches around it. Built by g++ -O2 -fomit-frame-pointer,
 * so only the CFI can walk through them.
 */
#include <stdexcept>
#include <string>

static volatile unsigned long fixture_sink;

extern "C" __attribute__((noinline)) void fixture_cxx_raii(void (*cb)(void))
{
	std::string label = "raii-" + std::to_string(fixture_sink);

	cb();
	fixture_sink = fixture_sink + label.size();
	__asm__ volatile("" ::: "memory");
}

extern "C" __attribute__((noinline)) void fixture_cxx_try(void (*cb)(void))
{
	try {
		fixture_cxx_raii(cb);
	} catch (const std::exception &e) {
		fixture_sink = fixture_sink + 1;
	}
	__asm__ volatile("" ::: "memory");
}
