//! Synthetic placement instances for the benchmark and the cross-check
//! against an independent implementation. Deterministic from a seed.

use crate::placement::{Instance, Priority, Unit};

/// Shape of a generated instance.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub applicants: usize,
    pub stations: usize,
    pub groups: usize,
    pub preferences: usize,
    /// Share of applicants (in per cent) who are in sibling groups that
    /// ask to be placed together.
    pub siblings_percent: u32,
    /// Places per station per age group, on average.
    pub places: u32,
}

/// SplitMix64: small, fast and enough for test data.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// An instance with popular stations (preferences lean towards low
/// indices, as families lean towards central stations), points on the
/// Alimos scale in steps of five and a few re-enrolments.
pub fn generate(shape: Shape, seed: u64) -> Instance {
    let mut rng = Mix(seed);
    let capacity = (0..shape.stations)
        .map(|_| {
            (0..shape.groups)
                .map(|_| {
                    shape.places / 2
                        + u32::try_from(rng.below(shape.places as usize + 1)).unwrap_or(0)
                })
                .collect()
        })
        .collect();
    let mut units = Vec::new();
    let mut children = 0;
    while children < shape.applicants {
        let together = rng.below(100) < shape.siblings_percent as usize;
        let size = if together {
            (2 + rng.below(2)).min(shape.applicants - children).max(1)
        } else {
            1
        };
        let mut preferences = Vec::with_capacity(shape.preferences);
        while preferences.len() < shape.preferences.min(shape.stations) {
            // The smaller of two draws: popular stations get more demand.
            let s = rng.below(shape.stations).min(rng.below(shape.stations));
            if !preferences.contains(&s) {
                preferences.push(s);
            }
        }
        units.push(Unit {
            children: (0..size).map(|_| rng.below(shape.groups)).collect(),
            preferences,
            priority: Priority {
                reenrolment: rng.below(100) < 5,
                points: 5 * u32::try_from(rng.below(40)).unwrap_or(0),
                income: Some(5_000 * rng.below(12) as u64),
                lottery: rng.next(),
            },
        });
        children += size;
    }
    Instance { capacity, units }
}
