/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cxxchain.cpp — a C++ test program whose call chains pass through the
 * frames C++ code is made of: functions with exception-handling data (a
 * try/catch, destructors that run during unwinding), std::function, a
 * lambda given to a template, a virtual call, libstdc++'s own code calling
 * back (std::ostream::write -> a streambuf's xsputn), and a shared library
 * of ours (libcxxlib*.so) that runs its own leaf and calls back. Eight
 * chains share the CPU equally, one unit each a round:
 *
 *   main -> via_try -> try_body -> hot_try
 *   main -> via_raii -> hot_raii
 *   main -> via_function -> [std::function's invoker] -> hot_function
 *   main -> via_lambda -> apply_each<lambda> -> lambda -> hot_lambda
 *   main -> via_virtual -> Burner::work -> hot_virtual
 *   main -> via_stream -> std::ostream::write (libstdc++)
 *           -> CountingBuf::xsputn -> hot_stream
 *   main -> via_library -> cxxlib_run -> cxxlib_hot       (the library)
 *   main -> via_callback -> cxxlib_call_back -> hot_callback
 *
 * try_body throws every 16th round, caught in via_try. With --threads N
 * the rounds run in N std::threads instead of main: the chains then start
 * clone3 -> start_thread -> execute_native_thread_routine (libstdc++) ->
 * std::thread's _M_run -> worker_main. With --signal the program instead
 * spins in main -> spin_loop -> spin_leaf while a SIGPROF handler, every
 * 2 ms of CPU, burns 1 ms in
 *
 *   main -> spin_loop -> spin_leaf -> __restore_rt (libc's signal frame)
 *        -> on_signal -> hot_signal
 *
 * Usage: cxxchain [--seconds S | --cpu-seconds S] [--threads N] [--signal]
 */
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include <sys/time.h>

#include "args.h"
#include "burn.h"
#include "cxxlib.h"

#define BARRIER() __asm__ volatile("" ::: "memory")

static volatile uint64_t sink;
static uint64_t deadline_ns;      /* wall clock (burn_now_ns) */
static uint64_t cpu_deadline_ns;  /* the process's CPU time; 0: none */

/* The CPU time all threads of the process have used. */
static uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Whether the run is over: its wall time is up, or, with --cpu-seconds,
 * the process has had its CPU time (async-signal-safe). */
static bool past_deadline(void)
{
	return burn_now_ns() >= deadline_ns ||
	       (cpu_deadline_ns && process_cpu_ns() >= cpu_deadline_ns);
}

/* Rounds are scaled by 1..4, drawn per round (as split does): the shares
 * stay exact within a round, but rounds stop being periodic, which would
 * alias with a periodic sampling timer. */
static thread_local uint64_t round_rng = 1;

static uint64_t next_round_scale()
{
	round_rng = round_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return 1 + (round_rng >> 62);
}

/* ---- the leaves: each runs burn() with its own seed -------------------- */

__attribute__((noinline)) void hot_try(uint64_t units)
{
	burn(0xc001, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_raii(uint64_t units)
{
	burn(0xc002, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_function(uint64_t units)
{
	burn(0xc003, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_lambda(uint64_t units)
{
	burn(0xc004, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_virtual(uint64_t units)
{
	burn(0xc005, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_stream(uint64_t units)
{
	burn(0xc006, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_callback(uint64_t units)
{
	burn(0xc007, units * BURN_UNIT_ITERS);
	BARRIER();
}

__attribute__((noinline)) void hot_signal(uint64_t units)
{
	burn(0xc008, units * BURN_UNIT_ITERS);
	BARRIER();
}

/* ---- the chains --------------------------------------------------------- */

__attribute__((noinline)) void try_body(uint64_t units, bool fail)
{
	hot_try(units);
	if (fail)
		throw std::runtime_error("round " + std::to_string(units));
	BARRIER();
}

__attribute__((noinline)) void via_try(uint64_t units, bool fail)
{
	try {
		try_body(units, fail);
	} catch (const std::runtime_error &e) {
		sink = sink + e.what()[0];
	}
	BARRIER();
}

__attribute__((noinline)) void via_raii(uint64_t units)
{
	/* Both need their destructors run if hot_raii threw. */
	std::string label = "raii-" + std::to_string(units);
	auto buf = std::make_unique<std::vector<uint64_t>>(4);

	hot_raii(units);
	(*buf)[0] = label.size();
	sink = sink + (*buf)[0];
	BARRIER();
}

/* Set in main: called through the object, its target is unknown here. */
static std::function<void(uint64_t)> function_target;

__attribute__((noinline)) void via_function(uint64_t units)
{
	function_target(units);
	BARRIER();
}

template <typename F>
__attribute__((noinline)) void apply_each(uint64_t units, F f)
{
	f(units);
	BARRIER();
}

__attribute__((noinline)) void via_lambda(uint64_t units)
{
	uint64_t calls = 0;

	apply_each(units, [&calls](uint64_t u) __attribute__((noinline)) {
		hot_lambda(u);
		calls++;
		BARRIER();
	});
	sink = sink + calls;
	BARRIER();
}

struct Worker {
	virtual ~Worker() = default;
	virtual void work(uint64_t units) = 0;
};

struct Burner final : Worker {
	__attribute__((noinline)) void work(uint64_t units) override
	{
		hot_virtual(units);
		BARRIER();
	}
};

/* Set in main, read through a volatile pointer: no devirtualisation. */
static Worker *volatile the_worker;

__attribute__((noinline)) void via_virtual(uint64_t units)
{
	the_worker->work(units);
	BARRIER();
}

/* libstdc++'s std::ostream::write (compiled in libstdc++.so, with a
 * try/catch of its own) calls the buffer's xsputn. */
class CountingBuf : public std::streambuf {
public:
	uint64_t units = 0;

protected:
	__attribute__((noinline)) std::streamsize xsputn(const char *s, std::streamsize n) override
	{
		hot_stream(units);
		sink = sink + (n ? s[0] : 0);
		BARRIER();
		return n;
	}
};

__attribute__((noinline)) void via_stream(std::ostream &os, CountingBuf &buf, uint64_t units)
{
	buf.units = units;
	os.write("x", 1);
	BARRIER();
}

__attribute__((noinline)) void via_library(uint64_t units)
{
	cxxlib_run(units);
	BARRIER();
}

__attribute__((noinline)) void via_callback(uint64_t units)
{
	cxxlib_call_back(units, hot_callback);
	BARRIER();
}

/* Rounds until the deadline. Always inlined, so main (or worker_main) is
 * the direct caller of every via_X. */
static inline __attribute__((always_inline)) void rounds()
{
	CountingBuf buf;
	std::ostream os(&buf);
	uint64_t n = 0;

	do {
		uint64_t scale = next_round_scale();

		via_try(scale, ++n % 16 == 0);
		via_raii(scale);
		via_function(scale);
		via_lambda(scale);
		via_virtual(scale);
		via_stream(os, buf, scale);
		via_library(scale);
		via_callback(scale);
	} while (!past_deadline());
}

__attribute__((noinline)) void worker_main(unsigned seed)
{
	round_rng = seed;
	rounds();
	BARRIER();
}

/* ---- --signal ----------------------------------------------------------- */

static std::atomic<bool> done;

extern "C" __attribute__((noinline)) void on_signal(int sig)
{
	hot_signal(10);
	if (past_deadline())
		done.store(true, std::memory_order_relaxed);
	sink = sink + sig;
	BARRIER();
}

/* Makes no call: the signal always interrupts it here. */
__attribute__((noinline)) void spin_leaf()
{
	while (!done.load(std::memory_order_relaxed))
		burn(0xc009, BURN_UNIT_ITERS / 8);
	BARRIER();
}

__attribute__((noinline)) void spin_loop()
{
	spin_leaf();
	BARRIER();
}

static int run_signal()
{
	struct sigaction sa;
	struct itimerval it = {};

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	it.it_interval.tv_usec = 2000;
	it.it_value.tv_usec = 2000;
	if (sigaction(SIGPROF, &sa, nullptr) < 0 || setitimer(ITIMER_PROF, &it, nullptr) < 0) {
		perror("cxxchain: SIGPROF timer");
		return 1;
	}
	spin_loop();
	it = {};
	setitimer(ITIMER_PROF, &it, nullptr);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cxxchain [--seconds S | --cpu-seconds S] [--threads N] [--signal]\n"
		   "  Burns CPU equally in eight C++ call chains (try/catch, RAII,\n"
		   "  std::function, a lambda, a virtual call, std::ostream, a\n"
		   "  shared library and its callback).\n"
		   "  --seconds S  run for S seconds of wall time (default 3)\n"
		   "  --cpu-seconds S  run until the process has had S seconds of\n"
		   "               CPU time (all threads), or 30 x S of wall time\n"
		   "  --threads N  run the chains in N std::threads instead of main\n"
		   "  --signal     burn in a SIGPROF handler instead\n");
}

int main(int argc, char **argv)
{
	unsigned long seconds = 3, threads = 0;
	bool signal_mode = false, cpu_time = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0 || !seconds)
				goto bad;
			cpu_time = false;
		} else if (!strcmp(argv[i], "--cpu-seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 2880, &seconds) < 0 || !seconds)
				goto bad;
			cpu_time = true;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (args_uint(argv[++i], 64, &threads) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--signal")) {
			signal_mode = true;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}

	if (cpu_time) {
		cpu_deadline_ns = process_cpu_ns() + seconds * 1000000000ULL;
		deadline_ns = burn_now_ns() + 30 * seconds * 1000000000ULL;
	} else {
		deadline_ns = burn_now_ns() + seconds * 1000000000ULL;
	}
	if (signal_mode)
		return run_signal();

	{
		Burner burner;
		std::vector<std::thread> pool;

		the_worker = &burner;
		function_target = [](uint64_t units) {
			hot_function(units);
			BARRIER();
		};
		if (threads == 0) {
			rounds();
		} else {
			try {
				for (unsigned long t = 0; t < threads; t++)
					pool.emplace_back(worker_main, (unsigned)t + 1);
			} catch (const std::system_error &e) {
				fprintf(stderr, "cxxchain: starting a thread: %s\n", e.what());
				return 1;
			}
			for (auto &t : pool)
				t.join();
		}
	}
	return 0;
bad:
	usage(stderr);
	return 2;
}
