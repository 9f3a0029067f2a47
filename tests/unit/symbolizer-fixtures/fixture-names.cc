// SPDX-License-Identifier: Apache-2.0
// fixture-names.cc — a child process for the name tests: C++ that GCC -O2
// names in every way the demangler writes: templates in namespaces, class
// templates with value arguments, lambdas (also nested, in templates, as
// template arguments), anonymous namespaces, internal-linkage templates,
// operators, conversion operators, const / volatile / ref-qualified
// methods, constructors and destructors, virtual calls, function pointer,
// array and member pointer parameters, parameter packs, std containers,
// std::function, std::unique_ptr, std::string and iostreams, exceptions.
// Built -O2 -g (the subject) and -O0 -fkeep-inline-functions (whose
// symbol table names every function the -O2 build only inlines). Prints
// the run-time address of main, then waits until its stdin is closed.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

volatile long sink;

namespace geo {
template <typename T, int N> struct Vec {
	T v[N];
	__attribute__((noinline)) T dot(const Vec &o) const
	{
		T s = 0;
		for (int i = 0; i < N; i++)
			s += v[i] * o.v[i];
		return s;
	}
	Vec operator+(const Vec &o) const
	{
		Vec r;
		for (int i = 0; i < N; i++)
			r.v[i] = v[i] + o.v[i];
		return r;
	}
	__attribute__((noinline)) T &operator[](int i) & { return v[(unsigned)i % N]; }
	T sum() const volatile
	{
		T s = 0;
		for (int i = 0; i < N; i++)
			s += v[i];
		return s;
	}
	__attribute__((noinline)) T take() && { return v[0]; }
};
struct Shape {
	virtual ~Shape() {}
	virtual double area() const = 0;
};
struct Sq : Shape {
	double s;
	explicit Sq(double x) : s(x) {}
	double area() const override { return s * s; }
	explicit operator bool() const { return s != 0; }
	operator long() const { return (long)s; }
};
struct Pt {
	int x, y;
};
enum class Mode { fast = 1, slow = 2 };
template <Mode M, char C, bool B, unsigned long U> __attribute__((noinline)) long tuned(long x)
{
	return (long)M * x + C + B + (long)U;
}
} // namespace geo

namespace {
template <typename T> struct Acc {
	T total;
	__attribute__((noinline)) void add(T x) { total += x * 3; }
	static T twice(T x) { return x + x; }
};
__attribute__((noinline)) int anon_fn(int x) { return Acc<int>::twice(x) + 1; }
namespace deeper {
inline int helper(int x) { return x ^ 0x5a; }
__attribute__((noinline)) int nested(int x) { return helper(x) * 7; }
} // namespace deeper
struct Local {
	int k;
	bool operator<(const Local &o) const { return k < o.k; }
	bool operator==(const Local &o) const { return k == o.k; }
	__attribute__((noinline)) int get() & { return k * 2; }
	__attribute__((noinline)) int get() && { return k * 3; }
	__attribute__((noinline)) int peek() const volatile { return k + 1; }
};
} // namespace

namespace outer {
namespace {
template <class T> __attribute__((noinline)) T ilt(T x) { return x * x + 1; }
}
struct Functor {
	int k;
	int operator()(int x) const { return x * k; }
};
template <typename... Ts> __attribute__((noinline)) int count_args(Ts... ts)
{
	return (int)sizeof...(ts) + (0 + ... + (int)ts);
}
inline namespace v2 {
__attribute__((noinline)) int versioned(int x) { return x * 11; }
}
} // namespace outer

template <typename F> __attribute__((noinline)) int apply(F f, int x) { return f(x) + f(x + 1); }

template <typename T> __attribute__((noinline)) T with_lambda(T x)
{
	auto inner = [x](T y) { return x * y + 1; };
	return inner(x) + inner(x + 1);
}

/* internal linkage: no linkage names, for the lambda nor its function */
template <typename T> static __attribute__((noinline)) T static_lambda(T x)
{
	auto twice = [](T y) {
		T s = 0;
		for (T i = 0; i < y; i++)
			s += y ^ i;
		return s;
	};
	return twice(x) + twice(x + 1);
}

static __attribute__((noinline)) long with_ptr(int n)
{
	auto p = std::make_unique<std::vector<int>>(n);
	for (int i = 0; i < n; i++)
		(*p)[i] = i * 3;
	return std::accumulate(p->begin(), p->end(), 0L);
}

static __attribute__((noinline)) int by_fn(int (*f)(int), int (&arr)[3], int geo::Pt::*mp,
					   const char *s)
{
	geo::Pt p{ 4, 5 };
	return f(arr[1]) + p.*mp + (int)s[0];
}

static __attribute__((noinline)) std::string words(const std::string &a, int n)
{
	std::ostringstream os;
	for (int i = 0; i < n; i++)
		os << a << i;
	return os.str();
}

static __attribute__((noinline)) int risky(int x)
{
	try {
		if (x > 5)
			throw std::runtime_error("big");
		return x;
	} catch (const std::exception &e) {
		return -1;
	}
}

static __attribute__((noinline)) long mapped(int n)
{
	std::map<Local, long> m;
	for (int i = 0; i < n; i++)
		m[Local{ i % 7 }] += i;
	long s = 0;
	for (auto &kv : m)
		s += kv.second;
	return s;
}

static __attribute__((noinline)) int tupled(std::tuple<int, long, std::tuple<>> t)
{
	return std::get<0>(t) + (int)std::get<1>(t);
}

static int twice(int x) { return 2 * x; }

int main()
{
	char c;
	std::vector<int> v;
	/* sink is 0: values the compiler cannot fold */
	int k = 3 + (int)sink;
	for (int i = 0; i < 1000; i++)
		v.push_back((i * 7919 + k) % 1000);
	auto lam = [&k](int x) { return x * k + 1; };
	auto lam2 = [](double d) { return d * 2; };
	std::sort(v.begin(), v.end(), [](int a, int b) { return a > b; });
	geo::Vec<double, 8> a{}, b{};
	for (int i = 0; i < 8; i++)
		a.v[i] = b.v[i] = i + k;
	sink = (long)(a + b).dot(b);
	volatile geo::Vec<long, 3> vv{ { 1, 2, k } };
	sink += vv.sum() + geo::Vec<int, 1>{ { k } }.take();
	geo::Vec<int, 4> w{ { 1, 2, 3, k } };
	sink += w[k & 3];
	Acc<long> acc{ 0 };
	acc.add(5);
	sink += acc.total + anon_fn(k) + deeper::nested(k) + outer::ilt<int>(k) + outer::ilt<long>(k);
	sink += apply(lam, k) + apply(outer::Functor{ k }, 4) + (long)lam2(k * 1.5);
	sink += outer::count_args(k, 2L, 'c') + outer::count_args() + outer::versioned(k);
	sink += with_lambda(k) + (long)with_lambda(k * 2.5) + static_lambda(k);
	std::function<int(int)> fn = [&](int x) {
		auto deep = [x](int y) {
			int s = 0;
			for (int i = 0; i < y; i++)
				s += x ^ i;
			return s;
		};
		return lam(x) + deep(x + 2);
	};
	sink += fn(k);
	std::unique_ptr<geo::Shape> sh(new geo::Sq(k));
	sink += (long)sh->area() + with_ptr(100);
	geo::Sq sq(k);
	if (sq)
		sink += (long)sq;
	sink += geo::tuned<geo::Mode::slow, 'x', true, 7ul>(k);
	int arr[3] = { 1, k, 3 };
	sink += by_fn(twice, arr, k ? &geo::Pt::y : &geo::Pt::x, "hi");
	sink += (long)words("ab", 3).size() + risky(k) + risky(9) + mapped(50);
	sink += tupled(std::make_tuple(k, 2L, std::tuple<>()));
	Local lo{ k };
	sink += lo.get() + Local{ k }.get() + static_cast<volatile Local &>(lo).peek();
	std::printf("%p\n", (void *)&main);
	std::fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
