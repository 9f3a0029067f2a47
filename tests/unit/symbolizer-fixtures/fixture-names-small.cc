// SPDX-License-Identifier: Apache-2.0
// fixture-names-small.cc — a small C++ input for the DWARF fuzz test (no
// standard library, so its DWARF is a few kilobytes): everything whose
// name the reader builds from DIEs where GCC leaves the linkage name out,
// namespaces, class templates with type and value arguments, a lambda,
// operators, cv- and ref-qualified methods, function, array and member
// pointer parameters. Never run.
namespace {
template <typename T, int N> struct Box {
	T v[N];
	__attribute__((noinline)) T sum() const volatile
	{
		T s = 0;
		for (int i = 0; i < N; i++)
			s += v[i];
		return s;
	}
	T &operator[](int i) & { return v[(unsigned)i % N]; }
};
struct Pt {
	int x, y;
};
enum class Mode { fast = 1, slow = 2 };
template <Mode M, char C, bool B, unsigned long U> __attribute__((noinline)) long tuned(long x)
{
	return (long)M * x + C + B + (long)U;
}
__attribute__((noinline)) int by_fn(int (*f)(int), int (&arr)[3], int Pt::*mp, const char *s)
{
	Pt p{ 4, 5 };
	return f(arr[1]) + p.*mp + (int)s[0];
}
template <typename F> __attribute__((noinline)) int apply(F f, int x) { return f(x) + f(x + 1); }
int twice(int x) { return 2 * x; }
} // namespace

volatile long sink;

int main()
{
	int k = 3 + (int)sink;
	Box<long, 3> b{ { 1, 2, k } };
	int arr[3] = { 1, k, 3 };
	auto lam = [k](int x) {
		int s = 0;
		for (int i = 0; i < x; i++)
			s += k ^ i;
		return s;
	};
	sink = b.sum() + b[k] + tuned<Mode::slow, 'x', true, 7ul>(k) +
	       by_fn(twice, arr, k ? &Pt::y : &Pt::x, "hi") + apply(lam, k);
	return 0;
}
