//! `cargo bench -p dimos-module-nurseries`: placement at national scale
//! (100,000 applicants, 2,000 stations, 3 preferences, 10 % in sibling
//! groups), time and peak heap; and the speed ratio against PyPI
//! `matching` on the cross-check's sibling-free instance when python3 has
//! it. Results go in the module README's table.

// The peak-heap figure needs a counting global allocator.
#![allow(unsafe_code)]

use dimos_module_nurseries::generate::{Shape, generate};
use dimos_module_nurseries::placement::{place, stability, waiting_lists};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only
// counters are updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn row(name: &str, shape: Shape) {
    let inst = generate(shape, 7);
    let children: usize = inst.units.iter().map(|u| u.children.len()).sum();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..3 {
        let started = Instant::now();
        let o = place(&inst);
        best = best.min(started.elapsed().as_secs_f64());
        out = Some(o);
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let Some(out) = out else { return };
    let started = Instant::now();
    let lists = waiting_lists(&inst, &out);
    let lists_seconds = started.elapsed().as_secs_f64();
    let placed: usize = out
        .station
        .iter()
        .zip(&inst.units)
        .filter(|(s, _)| s.is_some())
        .map(|(_, u)| u.children.len())
        .sum();
    let stable = stability(&inst, &out).is_ok() && out.settled;
    println!(
        "| {name} | {children} | {} | {placed} | {:.0} ms | {:.0} ms | {:.1} MiB | {} |",
        inst.capacity.len(),
        best * 1000.0,
        lists_seconds * 1000.0,
        mib(peak),
        if stable { "yes" } else { "NO" },
    );
    drop(lists);
}

fn main() {
    println!(
        "| instance | children | stations | placed | placement | waiting lists | peak heap | stable |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let national = Shape {
        applicants: 100_000,
        stations: 2_000,
        groups: 2,
        preferences: 3,
        siblings_percent: 10,
        places: 20,
    };
    row("100k, 10 % siblings", national);
    row(
        "100k, no siblings",
        Shape {
            siblings_percent: 0,
            ..national
        },
    );
    row(
        "Alimos-size (600, 6 stations)",
        Shape {
            applicants: 600,
            stations: 6,
            places: 40,
            ..national
        },
    );
    println!();
    println!("The speed ratio against PyPI `matching` is printed by the cross-check test:");
    println!("cargo test -p dimos-module-nurseries --release --test crosscheck -- --nocapture");
}
