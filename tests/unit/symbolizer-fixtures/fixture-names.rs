// SPDX-License-Identifier: Apache-2.0
// fixture-names.rs — a child process for the name tests: Rust that rustc
// -O names in the ways Rust's demanglers write (legacy and v0 mangling):
// generic methods in modules, trait methods, closures, iterator chains and
// sorting from std inlined into our functions. Prints the run-time
// address of sort_desc, then waits until its stdin is closed.
use std::io::Read;

pub mod geo {
    pub struct Vec2<T> {
        pub x: T,
        pub y: T,
    }

    impl<T: Copy + std::ops::Mul<Output = T> + std::ops::Add<Output = T>> Vec2<T> {
        #[inline(never)]
        pub fn dot(&self, o: &Vec2<T>) -> T {
            self.x * o.x + self.y * o.y
        }

        #[inline(always)]
        pub fn norm2(&self) -> T {
            self.dot(self)
        }
    }

    pub trait Shape {
        fn area(&self) -> f64;
    }

    pub struct Sq(pub f64);

    impl Shape for Sq {
        #[inline(never)]
        fn area(&self) -> f64 {
            self.0 * self.0
        }
    }
}

#[inline(never)]
fn apply<F: Fn(i64) -> i64>(f: F, n: i64) -> i64 {
    (0..n).map(|i| f(i)).sum()
}

#[inline(never)]
fn sort_desc(v: &mut Vec<i64>) {
    v.sort_by(|a, b| b.cmp(a));
}

fn main() {
    let k = std::env::args().count() as i64 + 2;
    let s = apply(|x| x * k + 1, 100);
    let mut v: Vec<i64> = (0..1000).map(|i| (i * 7919 + k) % 1000).collect();
    sort_desc(&mut v);
    let p = geo::Vec2 { x: 1.5f64, y: k as f64 };
    let q = geo::Vec2 { x: 3i32, y: k as i32 };
    let sh: Box<dyn geo::Shape> = Box::new(geo::Sq(k as f64));
    eprintln!("{} {} {} {} {}", s, v[0], p.norm2(), q.norm2(), sh.area());
    println!("{:p}", sort_desc as *const ());
    let mut buf = [0u8; 1];
    while std::io::stdin().read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
}
