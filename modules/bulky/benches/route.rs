//! `cargo bench -p dimos-module-bulky`: a crew's route (nearest neighbour
//! and 2-opt) for a day's stops, and the days offered over a long horizon
//! with every day nearly full. Results go in the module README's table.

use chrono::{Duration, NaiveDate, Weekday};
use dimos_module_bulky::route::{Stop, length, nearest_neighbour, order};
use dimos_module_bulky::schedule::{Calendar, Rules, offered};
use std::collections::BTreeMap;
use std::time::Instant;

/// Points spread over a municipality's few square kilometres, the same
/// every run (a linear congruential generator, no dependency).
fn stops(n: usize) -> Vec<Stop> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        f64::from(u32::try_from(x >> 40).unwrap_or(0)) / f64::from(1u32 << 24)
    };
    (0..n)
        .map(|_| Stop {
            street: String::new(),
            number: None,
            point: Some((37.88 + 0.06 * next(), 23.69 + 0.06 * next())),
        })
        .collect()
}

fn main() {
    let depot = Some((37.91, 23.70));
    println!("| stops | nearest neighbour (m) | with 2-opt (m) | shorter | time |");
    println!("|---:|---:|---:|---:|---:|");
    for n in [20, 60, 150] {
        let s = stops(n);
        let points: Vec<(f64, f64)> = s.iter().filter_map(|x| x.point).collect();
        let nn = length(&points, depot, &nearest_neighbour(&points, depot));
        let started = Instant::now();
        let route = order(&s, depot);
        let took = started.elapsed();
        let opt = length(&points, depot, &route);
        println!(
            "| {n} | {nn:.0} | {opt:.0} | {:.1} % | {:.1} ms |",
            100.0 * (nn - opt) / nn,
            took.as_secs_f64() * 1000.0
        );
    }
    let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    let area = Calendar {
        days: [Weekday::Tue, Weekday::Fri].into_iter().collect(),
        capacity: 40,
    };
    let rules = Rules {
        lead_days: 2,
        horizon_days: 365,
        closed: Default::default(),
        per_week: 1,
        max_items: 5,
    };
    let booked: BTreeMap<NaiveDate, u32> =
        (0..366).map(|n| (today + Duration::days(n), 39)).collect();
    let started = Instant::now();
    let mut days = 0;
    for _ in 0..1000 {
        days = offered(today, &area, &rules, &booked).len();
    }
    println!(
        "\nDays offered over a year's horizon ({days} days, every one nearly full): {:.1} µs each",
        started.elapsed().as_secs_f64() * 1e6 / 1000.0
    );
}
