//! When a pickup can be, and whether a request may be made: the area's
//! collection days and daily capacity, the municipality's lead time and
//! horizon, its closed days, the household's weekly limit, the item list
//! with its fees and exclusions (construction debris is not collected).
//! Pure: the caller reads the bookings; the database's conditional update
//! on a day's counter is what finally keeps a day from being overbooked.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A collection area's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The weekdays crews collect in the area.
    pub days: HashSet<Weekday>,
    /// Pickups a day.
    pub capacity: u32,
}

/// The municipality's rules for requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The earliest day is this many days after today.
    pub lead_days: u32,
    /// The latest day offered is this many days after today.
    pub horizon_days: u32,
    /// No collection on these days (holidays).
    pub closed: BTreeSet<NaiveDate>,
    /// Requests one household may have in a week (Monday to Sunday).
    pub per_week: u32,
    /// Items one request may hold, quantities counted.
    pub max_items: u32,
}

/// An item of the municipality's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    /// Per piece, in cents; 0 where collection is free.
    pub fee_cents: u32,
    /// Listed so that the form can say it is not collected (e.g.
    /// construction debris).
    pub excluded: bool,
}

/// Why a request cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The day is not one the area is collected on, or outside the lead
    /// time and horizon, or closed.
    DayNotOffered,
    /// The day has no room left.
    DayFull,
    /// The household has this many requests in that week already.
    WeeklyLimit {
        max: u32,
    },
    /// More items than a request may hold.
    TooManyItems {
        max: u32,
    },
    NoItems,
    /// An item not on the list.
    UnknownItem(String),
    /// An item the municipality does not collect this way.
    Excluded(String),
}

/// Days a request can be booked on, earliest first: the area's collection
/// days from today + lead time to today + horizon, not closed, with room.
pub fn offered(
    today: NaiveDate,
    area: &Calendar,
    rules: &Rules,
    booked: &BTreeMap<NaiveDate, u32>,
) -> Vec<NaiveDate> {
    (rules.lead_days..=rules.horizon_days)
        .filter_map(|n| today.checked_add_signed(Duration::days(i64::from(n))))
        .filter(|d| collected(*d, area, rules) && room(*d, area, booked))
        .collect()
}

/// The first day [`offered`], if any.
pub fn first_available(
    today: NaiveDate,
    area: &Calendar,
    rules: &Rules,
    booked: &BTreeMap<NaiveDate, u32>,
) -> Option<NaiveDate> {
    offered(today, area, rules, booked).into_iter().next()
}

fn collected(day: NaiveDate, area: &Calendar, rules: &Rules) -> bool {
    area.days.contains(&day.weekday()) && !rules.closed.contains(&day)
}

fn room(day: NaiveDate, area: &Calendar, booked: &BTreeMap<NaiveDate, u32>) -> bool {
    booked.get(&day).copied().unwrap_or(0) < area.capacity
}

/// The Monday of `day`'s week.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    // At the calendar's first days there is no Monday before: the day itself.
    day.checked_sub_signed(Duration::days(i64::from(
        day.weekday().num_days_from_monday(),
    )))
    .unwrap_or(day)
}

/// Checks a request for `day` with `items` (item id, quantity), given the
/// household's other requests' days: every refusal at once. On success,
/// the fee in cents.
#[allow(clippy::too_many_arguments)]
pub fn check(
    today: NaiveDate,
    area: &Calendar,
    rules: &Rules,
    booked: &BTreeMap<NaiveDate, u32>,
    day: NaiveDate,
    household: &[NaiveDate],
    items: &[(String, u32)],
    list: &[Item],
) -> Result<u32, Vec<Refusal>> {
    let mut refused = vec![];
    let in_window = day.signed_duration_since(today).num_days();
    let window = i64::from(rules.lead_days)..=i64::from(rules.horizon_days);
    if !window.contains(&in_window) || !collected(day, area, rules) {
        refused.push(Refusal::DayNotOffered);
    } else if !room(day, area, booked) {
        refused.push(Refusal::DayFull);
    }
    let week = week_of(day);
    let same_week = household.iter().filter(|d| week_of(**d) == week).count();
    if u32::try_from(same_week).unwrap_or(u32::MAX) >= rules.per_week {
        refused.push(Refusal::WeeklyLimit {
            max: rules.per_week,
        });
    }
    match fee(items, list) {
        Ok((count, cents)) if count <= rules.max_items => {
            if refused.is_empty() {
                return Ok(cents);
            }
        }
        Ok(_) => refused.push(Refusal::TooManyItems {
            max: rules.max_items,
        }),
        Err(mut r) => refused.append(&mut r),
    }
    Err(refused)
}

/// The pieces and the fee (cents) of `items` on the list; the items that
/// are not on it or not collected otherwise.
pub fn fee(items: &[(String, u32)], list: &[Item]) -> Result<(u32, u32), Vec<Refusal>> {
    let mut refused = vec![];
    let (mut count, mut cents) = (0u32, 0u32);
    for (id, quantity) in items.iter().filter(|(_, q)| *q > 0) {
        match list.iter().find(|i| &i.id == id) {
            None => refused.push(Refusal::UnknownItem(id.clone())),
            Some(i) if i.excluded => refused.push(Refusal::Excluded(id.clone())),
            Some(i) => {
                count = count.saturating_add(*quantity);
                cents = cents.saturating_add(i.fee_cents.saturating_mul(*quantity));
            }
        }
    }
    if count == 0 && refused.is_empty() {
        refused.push(Refusal::NoItems);
    }
    if refused.is_empty() {
        Ok((count, cents))
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn area(days: &[Weekday], capacity: u32) -> Calendar {
        Calendar {
            days: days.iter().copied().collect(),
            capacity,
        }
    }

    fn rules() -> Rules {
        Rules {
            lead_days: 2,
            horizon_days: 21,
            closed: [d("2026-12-25")].into_iter().collect(),
            per_week: 1,
            max_items: 5,
        }
    }

    fn list() -> Vec<Item> {
        vec![
            Item {
                id: "sofa".into(),
                fee_cents: 0,
                excluded: false,
            },
            Item {
                id: "fridge".into(),
                fee_cents: 1500,
                excluded: false,
            },
            Item {
                id: "debris".into(),
                fee_cents: 0,
                excluded: true,
            },
        ]
    }

    #[test]
    fn the_first_day_is_the_areas_next_collection_day_after_the_lead_time() {
        // Monday 2026-12-07; Tuesdays and Fridays; two days' lead.
        let a = area(&[Weekday::Tue, Weekday::Fri], 2);
        let today = d("2026-12-07");
        let none = BTreeMap::new();
        assert_eq!(
            first_available(today, &a, &rules(), &none),
            Some(d("2026-12-11"))
        );
        // That Friday is full: the next Tuesday.
        let booked = [(d("2026-12-11"), 2)].into_iter().collect();
        assert_eq!(
            first_available(today, &a, &rules(), &booked),
            Some(d("2026-12-15"))
        );
        // Christmas (a Friday) is closed.
        let days = offered(today, &a, &rules(), &none);
        assert!(!days.contains(&d("2026-12-25")), "{days:?}");
        assert!(days.windows(2).all(|w| w[0] < w[1]));
        assert!(days.iter().all(|x| *x <= d("2026-12-28")));
        // An area nobody collects in offers nothing.
        assert_eq!(first_available(today, &area(&[], 5), &rules(), &none), None);
    }

    #[test]
    fn a_request_is_refused_for_every_reason_at_once_with_the_limit_named() {
        let a = area(&[Weekday::Tue, Weekday::Fri], 1);
        let today = d("2026-12-07");
        let booked = [(d("2026-12-11"), 1)].into_iter().collect();
        let sofa = vec![("sofa".to_owned(), 1)];
        // A day already taken by the household that week, and full.
        let r = check(
            today,
            &a,
            &rules(),
            &booked,
            d("2026-12-11"),
            &[d("2026-12-08")],
            &sofa,
            &list(),
        );
        assert_eq!(
            r,
            Err(vec![Refusal::DayFull, Refusal::WeeklyLimit { max: 1 }])
        );
        // A Monday; debris; an unknown item; too many pieces.
        let r = check(
            today,
            &a,
            &rules(),
            &BTreeMap::new(),
            d("2026-12-14"),
            &[],
            &[("debris".into(), 1), ("piano".into(), 1)],
            &list(),
        );
        assert_eq!(
            r,
            Err(vec![
                Refusal::DayNotOffered,
                Refusal::Excluded("debris".into()),
                Refusal::UnknownItem("piano".into())
            ])
        );
        let r = check(
            today,
            &a,
            &rules(),
            &BTreeMap::new(),
            d("2026-12-15"),
            &[],
            &[("sofa".into(), 6)],
            &list(),
        );
        assert_eq!(r, Err(vec![Refusal::TooManyItems { max: 5 }]));
        let r = check(
            today,
            &a,
            &rules(),
            &BTreeMap::new(),
            d("2026-12-15"),
            &[],
            &[("sofa".into(), 0)],
            &list(),
        );
        assert_eq!(r, Err(vec![Refusal::NoItems]));
        // Two fridges and a sofa next week: €30.
        let r = check(
            today,
            &a,
            &rules(),
            &BTreeMap::new(),
            d("2026-12-15"),
            &[d("2026-12-08")],
            &[("fridge".into(), 2), ("sofa".into(), 1)],
            &list(),
        );
        assert_eq!(r, Ok(3000));
    }

    proptest! {
        /// Every day offered is accepted by `check` (for a household with
        /// no other request), and a day `check` accepts is offered.
        #[test]
        fn offered_and_check_agree(
            days in proptest::collection::btree_set(0u32..7, 0..7),
            capacity in 0u32..4,
            lead in 0u32..5,
            extra in 0u32..30,
            bookings in proptest::collection::vec((0i64..40, 0u32..5), 0..20),
            probe in 0i64..40,
        ) {
            let today = d("2026-12-07");
            let a = Calendar {
                days: days.iter().filter_map(|n| Weekday::try_from(u8::try_from(*n).ok()?).ok()).collect(),
                capacity,
            };
            let r = Rules { lead_days: lead, horizon_days: lead + extra, ..rules() };
            let booked: BTreeMap<NaiveDate, u32> = bookings
                .iter()
                .map(|(n, b)| (today + Duration::days(*n), *b))
                .collect();
            let sofa = vec![("sofa".to_owned(), 1)];
            let offered = offered(today, &a, &r, &booked);
            for day in &offered {
                prop_assert_eq!(check(today, &a, &r, &booked, *day, &[], &sofa, &list()), Ok(0));
            }
            let day = today + Duration::days(probe);
            let accepted = check(today, &a, &r, &booked, day, &[], &sofa, &list()).is_ok();
            prop_assert_eq!(accepted, offered.contains(&day));
        }
    }
}
