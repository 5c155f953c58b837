//! Placement of children in stations: applicant-proposing deferred
//! acceptance (Gale–Shapley) over each family's ranked stations, with the
//! municipality's priority (re-enrolment first, then points, then the
//! tie-break, then a recorded lottery) and capacities per age group.
//!
//! A family that asks for its children to be placed together is one *unit*:
//! it proposes to a station as a whole and a station holds it only if it
//! has room for all of them, each in their age group; it is never split.
//! Children whose family did not ask are units of one, with the family's
//! priority.
//!
//! Every station ranks units the same way (a master list), so a stable
//! result exists even with sibling units: it is the one where each unit,
//! in priority order, gets its best station that still has room for it.
//! Deferred acceptance reaches it when a station that frees room (a unit
//! it held for siblings was displaced) lets the units it had turned away
//! propose again; `stability` checks the outcome and the tests compare it
//! with that serial order.
//!
//! Pure and deterministic: indices in, indices out; no clock, no RNG (the
//! lottery numbers come from `lottery`, a hash of a recorded seed).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cmp::{Ordering, Reverse};
use std::collections::VecDeque;

/// How a unit ranks: the smaller, the earlier it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    /// A child re-enrolling (or a sibling of one) is placed first.
    pub reenrolment: bool,
    pub points: u32,
    /// Lower income first when the tie-break says so; `None` when the
    /// tie-break is the lottery alone, or the family declared none (last).
    pub income: Option<u64>,
    pub lottery: u64,
}

impl Priority {
    fn key(&self) -> (bool, Reverse<u32>, u64, u64) {
        (
            !self.reenrolment,
            Reverse(self.points),
            self.income.unwrap_or(u64::MAX),
            self.lottery,
        )
    }

    /// Which of two consecutive units the tie was decided by, for the
    /// explanation: `None` when they differ already in points.
    pub fn tie_decided_by(&self, other: &Priority) -> Option<TieDecider> {
        if self.reenrolment != other.reenrolment || self.points != other.points {
            None
        } else if self.income != other.income {
            Some(TieDecider::Income)
        } else {
            Some(TieDecider::Lottery)
        }
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieDecider {
    Income,
    Lottery,
}

/// A lottery number anyone can recompute: the first eight bytes of
/// SHA-256 over `seed:key` (the key is the application's protocol number).
pub fn lottery(seed: &str, key: &str) -> u64 {
    let digest = Sha256::digest(format!("{seed}:{key}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Children placed as one: all at one station or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// The age group of each child.
    pub children: Vec<usize>,
    /// Station indices, best first; no repeats.
    pub preferences: Vec<usize>,
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Places per station per age group open to placement (the reserved
    /// places for emergency social cases are already taken off).
    pub capacity: Vec<Vec<u32>>,
    pub units: Vec<Unit>,
}

impl Instance {
    fn need(&self, u: usize) -> impl Iterator<Item = usize> + '_ {
        self.units[u].children.iter().copied()
    }

    fn cap(&self, s: usize, g: usize) -> u32 {
        self.capacity
            .get(s)
            .and_then(|c| c.get(g))
            .copied()
            .unwrap_or(0)
    }

    /// Whether unit `u` fits at `s` next to the seats `used`.
    fn fits(&self, s: usize, u: usize, used: &[u32]) -> bool {
        if let [g] = self.units[u].children[..] {
            return used.get(g).copied().unwrap_or(0) < self.cap(s, g);
        }
        let mut extra: Vec<(usize, u32)> = Vec::new();
        for g in self.need(u) {
            match extra.iter_mut().find(|(h, _)| *h == g) {
                Some((_, n)) => *n += 1,
                None => extra.push((g, 1)),
            }
        }
        extra
            .iter()
            .all(|&(g, n)| used.get(g).copied().unwrap_or(0) + n <= self.cap(s, g))
    }

    fn groups(&self) -> usize {
        let held = self.capacity.iter().map(Vec::len).max().unwrap_or(0);
        let asked = self
            .units
            .iter()
            .flat_map(|u| u.children.iter().map(|g| g + 1))
            .max()
            .unwrap_or(0);
        held.max(asked)
    }
}

/// Where each unit went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Per unit: the station it was placed at, or none (wait-listed).
    pub station: Vec<Option<usize>>,
    /// Whether deferred acceptance settled within its bound (always, with
    /// one master list; kept so a caller can refuse to publish otherwise).
    pub settled: bool,
}

impl Outcome {
    /// The position of the unit's station in its preferences (0 = first).
    pub fn choice(&self, inst: &Instance, u: usize) -> Option<usize> {
        let s = self.station[u]?;
        inst.units[u].preferences.iter().position(|&p| p == s)
    }

    /// Seats taken per station per age group.
    pub fn used(&self, inst: &Instance) -> Vec<Vec<u32>> {
        let groups = inst.groups();
        let mut used = vec![vec![0u32; groups]; inst.capacity.len()];
        for (u, s) in self.station.iter().enumerate() {
            if let Some(s) = *s {
                for g in inst.need(u) {
                    used[s][g] += 1;
                }
            }
        }
        used
    }
}

/// Units in the order they are served: by priority (ties, which a lottery
/// makes all but impossible, go by index so the order is total).
pub fn served_order(inst: &Instance) -> Vec<usize> {
    let mut order: Vec<usize> = (0..inst.units.len()).collect();
    order.sort_by(|&a, &b| {
        inst.units[a]
            .priority
            .cmp(&inst.units[b].priority)
            .then(a.cmp(&b))
    });
    order
}

/// Each unit's place in `served_order`.
fn ranks(inst: &Instance) -> Vec<usize> {
    let order = served_order(inst);
    let mut rank = vec![0; order.len()];
    for (r, &u) in order.iter().enumerate() {
        rank[u] = r;
    }
    rank
}

struct Run<'a> {
    inst: &'a Instance,
    rank: Vec<usize>,
    /// Index into the unit's preferences of the station it proposes to next
    /// (or holds); `len` when it has run out.
    next: Vec<usize>,
    holder: Vec<Option<usize>>,
    /// Per station: the units it holds, in rank order, and the seats taken.
    held: Vec<Vec<usize>>,
    used: Vec<Vec<u32>>,
    /// Per station: units it turned away, who may propose again if it
    /// frees room.
    refused: Vec<Vec<usize>>,
    queue: VecDeque<usize>,
    queued: Vec<bool>,
    /// Stations that freed room and must let refused units back in.
    pending_reopen: Vec<usize>,
}

impl Run<'_> {
    fn enqueue(&mut self, u: usize) {
        if !self.queued[u] {
            self.queued[u] = true;
            self.queue.push_back(u);
        }
    }

    fn take(&mut self, s: usize, u: usize) {
        let at = self.held[s]
            .binary_search_by_key(&self.rank[u], |&h| self.rank[h])
            .unwrap_or_else(|i| i);
        self.held[s].insert(at, u);
        for g in self.inst.need(u) {
            self.used[s][g] += 1;
        }
        self.holder[u] = Some(s);
    }

    fn release(&mut self, s: usize, u: usize) {
        self.held[s].retain(|&h| h != u);
        for g in self.inst.need(u) {
            self.used[s][g] -= 1;
        }
        self.holder[u] = None;
    }

    /// `u` proposes to `s`: the station keeps, in rank order, every unit
    /// that still fits, and turns the rest away. Returns whether any seat
    /// became free that was taken before.
    fn propose(&mut self, s: usize, u: usize) -> bool {
        let inst = self.inst;
        if inst.fits(s, u, &self.used[s]) {
            self.take(s, u);
            return false;
        }
        if self.held[s]
            .last()
            .is_none_or(|&h| self.rank[h] < self.rank[u])
        {
            // Ranked below everyone held and no room: turned away as is.
            self.next[u] += 1;
            self.refused[s].push(u);
            self.enqueue(u);
            return false;
        }
        let before = self.used[s].clone();
        let mut candidates = std::mem::take(&mut self.held[s]);
        let at = candidates
            .binary_search_by_key(&self.rank[u], |&h| self.rank[h])
            .unwrap_or_else(|i| i);
        candidates.insert(at, u);
        self.used[s].iter_mut().for_each(|n| *n = 0);
        for c in candidates {
            if inst.fits(s, c, &self.used[s]) {
                self.held[s].push(c);
                for g in inst.need(c) {
                    self.used[s][g] += 1;
                }
                self.holder[c] = Some(s);
            } else {
                self.holder[c] = None;
                self.next[c] += 1;
                self.refused[s].push(c);
                self.enqueue(c);
            }
        }
        self.used[s].iter().zip(&before).any(|(now, was)| now < was)
    }

    /// Room opened at `s`: units it turned away that still want it more
    /// than what they hold, and would now be kept, propose again.
    fn reopen(&mut self, s: usize) {
        let inst = self.inst;
        let mut refused = std::mem::take(&mut self.refused[s]);
        refused.sort_by_key(|&r| self.rank[r]);
        refused.dedup();
        let mut keep = Vec::new();
        for r in refused {
            let Some(pos) = inst.units[r].preferences.iter().position(|&p| p == s) else {
                continue;
            };
            if self.next[r] <= pos {
                // It will reach `s` again by itself.
                keep.push(r);
                continue;
            }
            // Would the station keep it, next to the units it ranks above?
            let mut used = vec![0u32; self.used[s].len()];
            for &h in self.held[s]
                .iter()
                .filter(|&&h| self.rank[h] < self.rank[r])
            {
                for g in inst.need(h) {
                    used[g] += 1;
                }
            }
            if !inst.fits(s, r, &used) {
                keep.push(r);
                continue;
            }
            if let Some(t) = self.holder[r] {
                self.release(t, r);
                // What it leaves may reopen that station in turn.
                self.pending_reopen.push(t);
            }
            self.next[r] = pos;
            self.enqueue(r);
        }
        self.refused[s].extend(keep);
    }
}

/// Places every unit it can. Deterministic: the same instance gives the
/// same outcome.
pub fn place(inst: &Instance) -> Outcome {
    let n = inst.units.len();
    let groups = inst.groups();
    let mut run = Run {
        inst,
        rank: ranks(inst),
        next: vec![0; n],
        holder: vec![None; n],
        held: vec![Vec::new(); inst.capacity.len()],
        used: vec![vec![0; groups]; inst.capacity.len()],
        refused: vec![Vec::new(); inst.capacity.len()],
        queue: VecDeque::new(),
        queued: vec![false; n],
        pending_reopen: Vec::new(),
    };
    // Units propose in priority order: the outcome does not depend on it,
    // but the fewest proposals are rejected that way.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&u| run.rank[u]);
    for u in order {
        run.enqueue(u);
    }
    // A bound well above what one master list needs; see `settled`.
    let total: usize = inst.units.iter().map(|u| u.preferences.len() + 1).sum();
    let mut budget = total.saturating_mul(64).max(1024);
    let mut settled = true;
    while let Some(u) = run.queue.pop_front() {
        run.queued[u] = false;
        if budget == 0 {
            settled = false;
            break;
        }
        budget -= 1;
        let Some(&s) = inst.units[u].preferences.get(run.next[u]) else {
            continue;
        };
        if s >= inst.capacity.len() {
            run.next[u] += 1;
            run.enqueue(u);
            continue;
        }
        if run.propose(s, u) {
            run.pending_reopen.push(s);
        }
        while let Some(t) = run.pending_reopen.pop() {
            run.reopen(t);
        }
    }
    Outcome {
        station: run.holder,
        settled,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Violation {
    /// More children placed than the station has places for the group.
    Overfull { station: usize, group: usize },
    /// A unit refused a station it preferred, though the station holds a
    /// child of its age group ranked below it, and taking the lower-ranked
    /// out would make room.
    Envy {
        unit: usize,
        station: usize,
        below: usize,
    },
}

/// Checks the outcome: capacities hold and no unit envies a station that
/// admitted a lower-ranked child of its age group, unless the unit could
/// not fit there even with every lower-ranked unit gone (siblings asking
/// for more seats than the higher-ranked left: the explanation says so).
pub fn stability(inst: &Instance, out: &Outcome) -> Result<(), Vec<Violation>> {
    let rank = ranks(inst);
    let used = out.used(inst);
    let mut violations = Vec::new();
    for (s, row) in used.iter().enumerate() {
        for (g, &n) in row.iter().enumerate() {
            if n > inst.cap(s, g) {
                violations.push(Violation::Overfull {
                    station: s,
                    group: g,
                });
            }
        }
    }
    let mut at: Vec<Vec<usize>> = vec![Vec::new(); inst.capacity.len()];
    for (u, s) in out.station.iter().enumerate() {
        if let Some(s) = *s {
            at[s].push(u);
        }
    }
    for (u, unit) in inst.units.iter().enumerate() {
        let wanted = match out.choice(inst, u) {
            Some(c) => &unit.preferences[..c],
            None => &unit.preferences[..],
        };
        for &s in wanted.iter().filter(|&&s| s < inst.capacity.len()) {
            let lower = at[s]
                .iter()
                .copied()
                .filter(|&h| rank[h] > rank[u])
                .find(|&h| inst.need(h).any(|g| unit.children.contains(&g)));
            let Some(below) = lower else { continue };
            let mut higher = vec![0u32; used[s].len()];
            for &h in at[s].iter().filter(|&&h| rank[h] < rank[u]) {
                for g in inst.need(h) {
                    higher[g] += 1;
                }
            }
            if inst.fits(s, u, &higher) {
                violations.push(Violation::Envy {
                    unit: u,
                    station: s,
                    below,
                });
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Why a unit is not at a station it ranked above where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub station: usize,
    pub group: usize,
    /// 1-based place on the station's waiting list for that age group.
    pub position: usize,
    /// The lowest-ranked unit admitted there in that age group, if any.
    pub last_admitted: Option<usize>,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// The station has no places for that age group.
    NoPlaces,
    /// The places went to children ranked higher.
    Full,
    /// The family asked for its children together and the station could
    /// not take all of them, though one alone would have ranked high enough.
    SiblingsTogether,
}

/// Waiting lists: per station and age group, the units that ranked the
/// station above where they went, best first.
pub fn waiting_lists(inst: &Instance, out: &Outcome) -> Vec<Vec<Vec<usize>>> {
    let groups = inst.groups();
    let mut lists = vec![vec![Vec::new(); groups]; inst.capacity.len()];
    let order = served_order(inst);
    for u in order {
        let unit = &inst.units[u];
        let wanted = match out.choice(inst, u) {
            Some(c) => &unit.preferences[..c],
            None => &unit.preferences[..],
        };
        for &s in wanted.iter().filter(|&&s| s < inst.capacity.len()) {
            let mut gs = unit.children.clone();
            gs.sort_unstable();
            gs.dedup();
            for g in gs {
                lists[s][g].push(u);
            }
        }
    }
    lists
}

/// For one unit: each station it preferred and did not get, and why.
pub fn refusals(
    inst: &Instance,
    out: &Outcome,
    lists: &[Vec<Vec<usize>>],
    u: usize,
) -> Vec<Refusal> {
    let rank = ranks(inst);
    let unit = &inst.units[u];
    let wanted = match out.choice(inst, u) {
        Some(c) => &unit.preferences[..c],
        None => &unit.preferences[..],
    };
    let mut groups = unit.children.clone();
    groups.sort_unstable();
    groups.dedup();
    let mut result = Vec::new();
    for &s in wanted {
        for &g in &groups {
            let position = lists
                .get(s)
                .and_then(|l| l.get(g))
                .and_then(|l| l.iter().position(|&w| w == u))
                .map_or(0, |p| p + 1);
            let last_admitted = out
                .station
                .iter()
                .enumerate()
                .filter(|(h, at)| **at == Some(s) && inst.need(*h).any(|hg| hg == g))
                .map(|(h, _)| h)
                .max_by_key(|&h| rank[h]);
            let reason = if inst.cap(s, g) == 0 {
                RefusalReason::NoPlaces
            } else if last_admitted.is_some_and(|l| rank[l] > rank[u]) {
                RefusalReason::SiblingsTogether
            } else {
                RefusalReason::Full
            };
            result.push(Refusal {
                station: s,
                group: g,
                position,
                last_admitted,
                reason,
            });
        }
    }
    result
}

/// A unit moved by `reoffer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub unit: usize,
    pub from: Option<usize>,
    pub to: usize,
}

/// After publication: `gone` units gave up their places (declined, let the
/// deadline pass, withdrew). Their seats go down the waiting lists: the
/// best-ranked unit still waiting that wanted the station more than what it
/// holds, and fits, is offered it; the seat that unit leaves goes on in
/// turn. `out` is updated; the moves are returned in order.
pub fn reoffer(
    inst: &Instance,
    out: &mut Outcome,
    gone: &[usize],
    out_of_play: &[bool],
) -> Vec<Move> {
    let mut freed: Vec<usize> = Vec::new();
    for &u in gone {
        if let Some(s) = out.station.get_mut(u).and_then(Option::take) {
            freed.push(s);
        }
    }
    let mut moves = Vec::new();
    let order = served_order(inst);
    while let Some(s) = freed.pop() {
        let mut used = out.used(inst);
        for &u in &order {
            if out_of_play.get(u).copied().unwrap_or(false) || gone.contains(&u) {
                continue;
            }
            let unit = &inst.units[u];
            let Some(pos) = unit.preferences.iter().position(|&p| p == s) else {
                continue;
            };
            if out.choice(inst, u).is_some_and(|c| c <= pos) {
                continue;
            }
            if !inst.fits(s, u, &used[s]) {
                continue;
            }
            let from = out.station[u];
            out.station[u] = Some(s);
            if let Some(t) = from {
                freed.push(t);
            }
            moves.push(Move {
                unit: u,
                from,
                to: s,
            });
            used = out.used(inst);
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn single(group: usize, prefs: &[usize], points: u32, lottery: u64) -> Unit {
        Unit {
            children: vec![group],
            preferences: prefs.to_vec(),
            priority: Priority {
                reenrolment: false,
                points,
                income: None,
                lottery,
            },
        }
    }

    /// The stable outcome under one master list, computed the obvious way:
    /// each unit in priority order takes its best station with room.
    fn serial(inst: &Instance) -> Vec<Option<usize>> {
        let order = served_order(inst);
        let mut used = vec![vec![0u32; inst.groups()]; inst.capacity.len()];
        let mut station = vec![None; inst.units.len()];
        for u in order {
            for &s in &inst.units[u].preferences {
                if s < inst.capacity.len() && inst.fits(s, u, &used[s]) {
                    for g in inst.need(u) {
                        used[s][g] += 1;
                    }
                    station[u] = Some(s);
                    break;
                }
            }
        }
        station
    }

    #[test]
    fn higher_points_win_the_contested_place_and_the_other_moves_on() {
        let inst = Instance {
            capacity: vec![vec![1], vec![1]],
            units: vec![
                single(0, &[0, 1], 50, 1),
                single(0, &[0, 1], 80, 2),
                single(0, &[0], 30, 3),
            ],
        };
        let out = place(&inst);
        assert_eq!(out.station, vec![Some(1), Some(0), None]);
        assert!(out.settled);
        assert_eq!(out.choice(&inst, 0), Some(1));
        assert!(stability(&inst, &out).is_ok());
        let lists = waiting_lists(&inst, &out);
        assert_eq!(lists[0][0], vec![0, 2]);
        let why = refusals(&inst, &out, &lists, 2);
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].position, 2);
        assert_eq!(why[0].last_admitted, Some(1));
        assert_eq!(why[0].reason, RefusalReason::Full);
    }

    #[test]
    fn ties_go_to_lower_income_then_the_lottery_and_re_enrolment_comes_first() {
        let mut a = single(0, &[0], 50, 9);
        let mut b = single(0, &[0], 50, 1);
        a.priority.income = Some(10_000);
        b.priority.income = Some(20_000);
        let inst = Instance {
            capacity: vec![vec![1]],
            units: vec![a.clone(), b.clone()],
        };
        assert_eq!(place(&inst).station, vec![Some(0), None]);
        assert_eq!(
            a.priority.tie_decided_by(&b.priority),
            Some(TieDecider::Income)
        );
        b.priority.income = Some(10_000);
        let inst = Instance {
            capacity: vec![vec![1]],
            units: vec![a.clone(), b.clone()],
        };
        assert_eq!(place(&inst).station, vec![None, Some(0)], "lottery 1 < 9");
        let mut c = single(0, &[0], 0, 99);
        c.priority.reenrolment = true;
        let inst = Instance {
            capacity: vec![vec![1]],
            units: vec![a, b, c],
        };
        assert_eq!(place(&inst).station, vec![None, None, Some(0)]);
    }

    #[test]
    fn the_lottery_is_a_published_hash_of_the_seed() {
        // sha256("2026-seed:ΑΠ-17") read as the first 8 bytes, big-endian.
        let n = lottery("2026-seed", "ΑΠ-17");
        let d = Sha256::digest("2026-seed:ΑΠ-17".as_bytes());
        assert_eq!(n.to_be_bytes(), d[..8]);
        assert_ne!(n, lottery("2026-seed", "ΑΠ-18"));
        assert_ne!(n, lottery("other", "ΑΠ-17"));
    }

    #[test]
    fn twins_are_placed_together_or_not_at_all() {
        // One infant place left at station 0 after a higher-ranked child:
        // the twins go together to station 1.
        let twins = Unit {
            children: vec![0, 0],
            preferences: vec![0, 1],
            priority: Priority {
                reenrolment: false,
                points: 70,
                income: None,
                lottery: 5,
            },
        };
        let inst = Instance {
            capacity: vec![vec![2], vec![2]],
            units: vec![single(0, &[0], 90, 1), twins, single(0, &[0], 10, 2)],
        };
        let out = place(&inst);
        assert_eq!(out.station, vec![Some(0), Some(1), Some(0)]);
        assert!(stability(&inst, &out).is_ok());
        let lists = waiting_lists(&inst, &out);
        let why = refusals(&inst, &out, &lists, 1);
        assert_eq!(why[0].reason, RefusalReason::SiblingsTogether);
        assert_eq!(why[0].last_admitted, Some(2));
    }

    #[test]
    fn a_family_refused_for_want_of_room_for_both_is_placed_as_the_serial_order_says() {
        // Station 0: 2 infant places, 1 preschool place. H (infant +
        // preschooler, 60) is held; P (twin infants, 50) is refused; Z
        // (preschooler, 70) then displaces H; the twins must get station 0
        // back rather than L (infant, 10).
        let p = |points, lottery| Priority {
            reenrolment: false,
            points,
            income: None,
            lottery,
        };
        let inst = Instance {
            capacity: vec![vec![2, 1], vec![2, 2]],
            units: vec![
                Unit {
                    children: vec![0, 1],
                    preferences: vec![0, 1],
                    priority: p(60, 1),
                },
                Unit {
                    children: vec![0, 0],
                    preferences: vec![0, 1],
                    priority: p(50, 2),
                },
                Unit {
                    children: vec![1],
                    preferences: vec![0],
                    priority: p(70, 3),
                },
                Unit {
                    children: vec![0],
                    preferences: vec![0, 1],
                    priority: p(10, 4),
                },
            ],
        };
        let out = place(&inst);
        assert_eq!(out.station, serial(&inst));
        assert_eq!(out.station[1], Some(0));
        assert!(
            stability(&inst, &out).is_ok(),
            "{:?}",
            stability(&inst, &out)
        );
    }

    #[test]
    fn a_declined_place_goes_down_the_waiting_list_and_the_chain_moves_on() {
        let inst = Instance {
            capacity: vec![vec![1], vec![1]],
            units: vec![
                single(0, &[0], 90, 1),
                single(0, &[0, 1], 80, 2),
                single(0, &[1], 70, 3),
                single(0, &[0, 1], 60, 4),
            ],
        };
        let mut out = place(&inst);
        assert_eq!(out.station, vec![Some(0), Some(1), None, None]);
        let moves = reoffer(&inst, &mut out, &[0], &[true, false, false, false]);
        // Unit 1 moves up to its first choice; its place at 1 goes to 2.
        assert_eq!(
            moves,
            vec![
                Move {
                    unit: 1,
                    from: Some(1),
                    to: 0
                },
                Move {
                    unit: 2,
                    from: None,
                    to: 1
                }
            ]
        );
        assert_eq!(out.station, vec![None, Some(0), Some(1), None]);
    }

    fn priority() -> impl Strategy<Value = Priority> {
        (
            prop::bool::weighted(0.1),
            0u32..6,
            prop::option::of(0u64..4),
            any::<u64>(),
        )
            .prop_map(|(reenrolment, p, income, lottery)| Priority {
                reenrolment,
                points: p * 10,
                income: income.map(|i| i * 10_000),
                lottery,
            })
    }

    fn instance(siblings: bool) -> impl Strategy<Value = Instance> {
        (1usize..6, 1usize..3).prop_flat_map(move |(stations, groups)| {
            let children = if siblings { 1usize..4 } else { 1usize..2 };
            let unit = (
                prop::collection::vec(0..groups, children),
                Just((0..stations).collect::<Vec<_>>()).prop_shuffle(),
                1usize..4,
                priority(),
            )
                .prop_map(|(children, prefs, k, priority)| Unit {
                    children,
                    preferences: prefs.into_iter().take(k).collect(),
                    priority,
                });
            (
                prop::collection::vec(prop::collection::vec(0u32..4, groups), stations),
                prop::collection::vec(unit, 0..40),
            )
                .prop_map(|(capacity, units)| Instance { capacity, units })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn placement_is_stable_settled_and_the_serial_order(inst in instance(true)) {
            let out = place(&inst);
            prop_assert!(out.settled);
            prop_assert_eq!(&out.station, &serial(&inst));
            prop_assert!(stability(&inst, &out).is_ok(), "{:?}", stability(&inst, &out));
            // Capacity is never exceeded.
            for (s, row) in out.used(&inst).iter().enumerate() {
                for (g, &n) in row.iter().enumerate() {
                    prop_assert!(n <= inst.cap(s, g));
                }
            }
            // Every unit is placed at a station it asked for or wait-listed
            // on every station it asked for; siblings share one answer.
            let lists = waiting_lists(&inst, &out);
            for (u, unit) in inst.units.iter().enumerate() {
                match out.station[u] {
                    Some(s) => prop_assert!(unit.preferences.contains(&s)),
                    None => {
                        for &s in &unit.preferences {
                            for &g in &unit.children {
                                prop_assert!(lists[s][g].contains(&u));
                            }
                        }
                    }
                }
            }
        }

        #[test]
        fn placement_is_deterministic_whatever_the_order_of_applications(
            inst in instance(true),
            seed in any::<u64>(),
        ) {
            let out = place(&inst);
            prop_assert_eq!(&out, &place(&inst));
            // The same applications listed in another order: the same children
            // get the same stations.
            let n = inst.units.len();
            let mut perm: Vec<usize> = (0..n).collect();
            perm.sort_by_key(|&i| lottery(&seed.to_string(), &i.to_string()));
            let shuffled = Instance {
                capacity: inst.capacity.clone(),
                units: perm.iter().map(|&i| inst.units[i].clone()).collect(),
            };
            let again = place(&shuffled);
            for (j, &i) in perm.iter().enumerate() {
                prop_assert_eq!(again.station[j], out.station[i]);
            }
        }

        #[test]
        fn reoffering_declined_places_is_placing_without_them(
            inst in instance(false),
            gone_mask in any::<u64>(),
        ) {
            let mut out = place(&inst);
            let gone: Vec<usize> = (0..inst.units.len())
                .filter(|&u| out.station[u].is_some() && gone_mask & (1 << (u % 64)) != 0)
                .collect();
            let out_of_play: Vec<bool> = (0..inst.units.len()).map(|u| gone.contains(&u)).collect();
            reoffer(&inst, &mut out, &gone, &out_of_play);
            // Without the families that left, the stable outcome is what the
            // waiting lists produced.
            let mut without = inst.clone();
            for &u in &gone {
                without.units[u].preferences.clear();
            }
            prop_assert_eq!(out.station, serial(&without));
        }
    }
}
