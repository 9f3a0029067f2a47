/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cxxlib.h — the shared library of the C++ test program (cxxchain.cpp):
 * C++ functions with exception-handling data (a std::string local, a
 * try/catch), so that unwinding through a library's frames needs its
 * personality routine's address from the library's own data, one of them
 * calling back into the executable.
 */
#ifndef EMBER_TESTPROGS_CXXLIB_H
#define EMBER_TESTPROGS_CXXLIB_H

#include <cstdint>

/* main -> via_library -> cxxlib_run -> cxxlib_hot: burns units in the
 * library's own leaf. */
void cxxlib_run(uint64_t units);
void cxxlib_hot(uint64_t units);

/* main -> via_callback -> cxxlib_call_back -> callback (in the
 * executable): the library calls back. */
void cxxlib_call_back(uint64_t units, void (*callback)(uint64_t));

#endif
