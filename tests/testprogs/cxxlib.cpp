/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cxxlib.cpp — the shared library of cxxchain (see cxxlib.h). Each entry
 * point keeps a std::string alive across its call and catches what the
 * callee throws, so its FDE has an LSDA and its CIE a personality routine
 * (augmentation "zPLR"): the case that cut every C++ stack at its first
 * such frame.
 */
#include "cxxlib.h"

#include <stdexcept>
#include <string>

#include "burn.h"

static volatile uint64_t lib_sink;

__attribute__((noinline)) void cxxlib_hot(uint64_t units)
{
	burn(0x11b1, units * BURN_UNIT_ITERS);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void cxxlib_run(uint64_t units)
{
	std::string label = "lib-" + std::to_string(units);

	try {
		cxxlib_hot(units);
		if (units == 0)
			throw std::invalid_argument(label);
	} catch (const std::invalid_argument &e) {
		lib_sink = lib_sink + 1;
	}
	lib_sink = lib_sink + label.size();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void cxxlib_call_back(uint64_t units, void (*callback)(uint64_t))
{
	std::string label = "callback-" + std::to_string(units);

	callback(units);
	lib_sink = lib_sink + label.size();
	__asm__ volatile("" ::: "memory");
}
