//! Monthly fees (τροφεία), driven by the municipality's table (domain
//! rules §5; the Papagou–Cholargos 2025-26 table is the shipped default).
//! Pure: a family's facts in, the month's amount and its reasoning line by
//! line out; and a month's charge for a child enrolled part of it or at a
//! station closed some days. No I/O: the ledger (issue 21) calls it.
//!
//! The rules, as the table states them:
//! - the band of the family's annual income gives the monthly amount
//!   (each band up to its limit inclusive; the last has none);
//! - a child with a disability of at least `free_disability_percent` pays
//!   nothing; so does a child the municipality exempts (with its reason);
//! - a child holding the national voucher (ΕΕΤΑΑ) is billed to the
//!   programme, not the family;
//! - discounts (second child, large family) do not add up: the largest
//!   applies, and says so;
//! - amounts are whole cents, a discount rounded half up to the cent;
//! - a month is charged in proportion to its weekdays the child could
//!   attend (enrolled, the station open) over all its weekdays, so a
//!   month's closures and a start or end within it lower the charge, and a
//!   month the station is closed throughout costs nothing.

use chrono::{Datelike, NaiveDate, Weekday};
use dimos_kernel::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A band of annual family income: up to `up_to_euros` inclusive (none:
/// the last band), `monthly_cents` a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeBand {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to_euros: Option<u64>,
    pub monthly_cents: u32,
}

/// The municipality's fee table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeTable {
    /// Ascending; the last without a limit.
    pub bands: Vec<FeeBand>,
    /// Off the fee of a family's second and later child at the nurseries.
    pub second_child_percent: u32,
    /// Off the fee of a large family's child (πολύτεκνοι).
    pub large_family_percent: u32,
    /// A child with a disability of at least this percentage pays nothing.
    pub free_disability_percent: u32,
}

impl Default for FeeTable {
    fn default() -> Self {
        let band = |up_to: Option<u64>, euros: u32| FeeBand {
            up_to_euros: up_to,
            monthly_cents: euros * 100,
        };
        FeeTable {
            bands: vec![
                band(Some(12_000), 0),
                band(Some(17_000), 50),
                band(Some(22_000), 60),
                band(Some(27_000), 70),
                band(Some(32_000), 80),
                band(Some(37_000), 90),
                band(Some(40_000), 110),
                band(Some(45_000), 130),
                band(Some(50_000), 160),
                band(Some(55_000), 190),
                band(Some(60_000), 220),
                band(None, 250),
            ],
            second_child_percent: 25,
            large_family_percent: 50,
            free_disability_percent: 35,
        }
    }
}

impl FeeTable {
    /// What is wrong with the table, on its fields.
    pub fn check(&self) -> Vec<FieldError> {
        let mut e = vec![];
        if self.bands.is_empty() {
            e.push(FieldError::new("bands", "required"));
        }
        let mut last = None;
        for (i, b) in self.bands.iter().enumerate() {
            let is_last = i + 1 == self.bands.len();
            match (b.up_to_euros, is_last) {
                (None, false) => e.push(FieldError::new(
                    format!("bands[{i}].up_to_euros"),
                    "required",
                )),
                (Some(_), true) => {
                    e.push(FieldError::new(
                        format!("bands[{i}].up_to_euros"),
                        "fees-last-band-open",
                    ));
                }
                (Some(up), false) => {
                    if last.is_some_and(|l| up <= l) {
                        e.push(FieldError::new(
                            format!("bands[{i}].up_to_euros"),
                            "fees-bands-ascending",
                        ));
                    }
                    last = Some(up);
                }
                (None, true) => {}
            }
        }
        for (f, v) in [
            ("second_child_percent", self.second_child_percent),
            ("large_family_percent", self.large_family_percent),
            ("free_disability_percent", self.free_disability_percent),
        ] {
            if v > 100 {
                e.push(FieldError::new(f, "out-of-range").with_detail("0–100"));
            }
        }
        e
    }

    /// The band of an income in cents (the first whose limit it does not
    /// exceed: 12,000.01 € is above a band up to 12,000 €).
    fn band(&self, income_cents: u64) -> Option<(usize, &FeeBand)> {
        self.bands.iter().enumerate().find(|(_, b)| {
            b.up_to_euros
                .is_none_or(|up| income_cents <= up.saturating_mul(100))
        })
    }
}

/// What decides a child's fee.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// Annual family income (the tax clearance's), in cents: cents count
    /// at a band's edge.
    pub income_cents: u64,
    /// 1 for the family's first child at the nurseries, 2 for the second…
    pub child_order: u32,
    pub large_family: bool,
    /// The child's certified disability, percent (0: none).
    pub disability_percent: u32,
    /// Holds the national voucher (ΕΕΤΑΑ): billed to the programme.
    pub voucher: bool,
    /// Exempted by a decision of the municipality, with its reason.
    pub exemption: Option<String>,
}

/// Who pays the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Payer {
    Family,
    /// The national voucher programme.
    Voucher,
    /// Nobody: free.
    Nobody,
}

/// One line of a decision's reasoning, as a parent reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Line {
    /// The income band: from (exclusive) and up to (inclusive) euros.
    Band {
        index: usize,
        above_euros: Option<u64>,
        up_to_euros: Option<u64>,
        cents: u32,
    },
    /// A discount that applied.
    Discount {
        what: Discount,
        percent: u32,
        cents_off: u32,
    },
    /// A discount the family has that did not apply, because a larger one
    /// did (they do not add up).
    Outranked { what: Discount, percent: u32 },
    /// Free for the child's disability (at least the table's percentage).
    Disability { percent: u32, threshold: u32 },
    /// Free by the municipality's decision.
    Exempt { reason: String },
    /// Billed to the voucher programme.
    Voucher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Discount {
    SecondChild,
    LargeFamily,
}

/// A child's monthly fee and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What a full month costs whoever pays it.
    pub monthly_cents: u32,
    pub payer: Payer,
    pub lines: Vec<Line>,
}

/// `cents` less `percent`, the discount rounded half up to the cent.
fn off(cents: u32, percent: u32) -> u32 {
    let discount = (u64::from(cents) * u64::from(percent.min(100)) + 50) / 100;
    u32::try_from(discount).unwrap_or(cents).min(cents)
}

/// The fee of one child.
pub fn decide(t: &FeeTable, f: &Family) -> Decision {
    let mut lines = vec![];
    let Some((index, band)) = t.band(f.income_cents) else {
        // A table without bands (refused by `check`) charges nothing.
        return Decision {
            monthly_cents: 0,
            payer: Payer::Nobody,
            lines,
        };
    };
    lines.push(Line::Band {
        index,
        above_euros: index
            .checked_sub(1)
            .and_then(|p| t.bands.get(p))
            .and_then(|b| b.up_to_euros),
        up_to_euros: band.up_to_euros,
        cents: band.monthly_cents,
    });
    if let Some(reason) = &f.exemption {
        lines.push(Line::Exempt {
            reason: reason.clone(),
        });
        return Decision {
            monthly_cents: 0,
            payer: Payer::Nobody,
            lines,
        };
    }
    if f.disability_percent >= t.free_disability_percent && f.disability_percent > 0 {
        lines.push(Line::Disability {
            percent: f.disability_percent,
            threshold: t.free_disability_percent,
        });
        return Decision {
            monthly_cents: 0,
            payer: Payer::Nobody,
            lines,
        };
    }
    let mut discounts = vec![];
    if f.child_order >= 2 && t.second_child_percent > 0 {
        discounts.push((Discount::SecondChild, t.second_child_percent));
    }
    if f.large_family && t.large_family_percent > 0 {
        discounts.push((Discount::LargeFamily, t.large_family_percent));
    }
    // The largest applies (the large family's on a tie: it is the
    // family's standing, not the child's order).
    discounts.sort_by_key(|(what, p)| (std::cmp::Reverse(*p), *what != Discount::LargeFamily));
    let mut monthly = band.monthly_cents;
    for (i, (what, percent)) in discounts.into_iter().enumerate() {
        if i == 0 {
            let cents_off = off(monthly, percent);
            monthly -= cents_off;
            lines.push(Line::Discount {
                what,
                percent,
                cents_off,
            });
        } else {
            lines.push(Line::Outranked { what, percent });
        }
    }
    let payer = if monthly == 0 {
        Payer::Nobody
    } else if f.voucher {
        lines.push(Line::Voucher);
        Payer::Voucher
    } else {
        Payer::Family
    };
    Decision {
        monthly_cents: monthly,
        payer,
        lines,
    }
}

/// A month's charge for one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthCharge {
    pub cents: u32,
    /// The month's weekdays.
    pub weekdays: u32,
    /// Those the child could attend: enrolled, the station open.
    pub billable: u32,
}

fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The days of a month (none for a month that does not exist).
fn days_of(year: i32, month: u32) -> impl Iterator<Item = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    first
        .into_iter()
        .flat_map(|f| f.iter_days())
        .take_while(move |d| d.month() == month && d.year() == year)
}

/// What `month` of `year` costs for a child whose monthly fee is
/// `monthly_cents`, enrolled from `from` until `until` (inclusive; none:
/// still enrolled), at a station closed on `closed` days.
pub fn month_charge(
    monthly_cents: u32,
    year: i32,
    month: u32,
    from: NaiveDate,
    until: Option<NaiveDate>,
    closed: &BTreeSet<NaiveDate>,
) -> MonthCharge {
    let mut weekdays = 0u32;
    let mut billable = 0u32;
    for d in days_of(year, month).filter(|d| is_weekday(*d)) {
        weekdays += 1;
        if d >= from && until.is_none_or(|u| d <= u) && !closed.contains(&d) {
            billable += 1;
        }
    }
    let cents = if weekdays == 0 || billable == weekdays {
        if weekdays == 0 { 0 } else { monthly_cents }
    } else {
        // Rounded half up to the cent.
        let c = (u64::from(monthly_cents) * u64::from(billable) * 2 + u64::from(weekdays))
            / (2 * u64::from(weekdays));
        u32::try_from(c).unwrap_or(monthly_cents)
    };
    MonthCharge {
        cents,
        weekdays,
        billable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn family(euros: u64) -> Family {
        Family {
            income_cents: euros * 100,
            child_order: 1,
            ..Family::default()
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_shipped_table_holds() {
        assert!(FeeTable::default().check().is_empty());
    }

    #[test]
    fn each_band_edge_of_the_shipped_table() {
        let t = FeeTable::default();
        for (income, euros) in [
            (0, 0),
            (12_000, 0),
            (12_001, 50),
            (17_000, 50),
            (17_001, 60),
            (22_000, 60),
            (22_001, 70),
            (27_000, 70),
            (27_001, 80),
            (32_000, 80),
            (32_001, 90),
            (37_000, 90),
            (37_001, 110),
            (40_000, 110),
            (40_001, 130),
            (45_000, 130),
            (45_001, 160),
            (50_000, 160),
            (50_001, 190),
            (55_000, 190),
            (55_001, 220),
            (60_000, 220),
            (60_001, 250),
            (1_000_000, 250),
        ] {
            assert_eq!(
                decide(&t, &family(income)).monthly_cents,
                euros * 100,
                "{income} €"
            );
        }
    }

    #[test]
    fn a_cent_above_a_limit_is_the_next_band() {
        let t = FeeTable::default();
        let cents = |c| {
            decide(
                &t,
                &Family {
                    income_cents: c,
                    child_order: 1,
                    ..Family::default()
                },
            )
            .monthly_cents
        };
        assert_eq!(cents(1_200_000), 0);
        assert_eq!(cents(1_200_001), 5000);
    }

    #[test]
    fn discounts_do_not_add_up_the_largest_applies_and_says_so() {
        let t = FeeTable::default();
        let second = Family {
            child_order: 2,
            ..family(30_000)
        };
        let d = decide(&t, &second);
        assert_eq!(d.monthly_cents, 6000, "80 € less 25 %");
        assert_eq!(d.payer, Payer::Family);
        let both = Family {
            large_family: true,
            ..second.clone()
        };
        let d = decide(&t, &both);
        assert_eq!(d.monthly_cents, 4000, "80 € less 50 %, not 75 %");
        assert!(d.lines.contains(&Line::Discount {
            what: Discount::LargeFamily,
            percent: 50,
            cents_off: 4000
        }));
        assert!(d.lines.contains(&Line::Outranked {
            what: Discount::SecondChild,
            percent: 25
        }));
        // 110 € less 25 %: 82.50 €; 90 € less 25 %: 67.50 €.
        assert_eq!(
            decide(
                &t,
                &Family {
                    child_order: 3,
                    ..family(38_000)
                }
            )
            .monthly_cents,
            8250
        );
    }

    #[test]
    fn disability_exemption_and_voucher() {
        let t = FeeTable::default();
        let at = |p| Family {
            disability_percent: p,
            ..family(70_000)
        };
        assert_eq!(decide(&t, &at(35)).monthly_cents, 0);
        assert_eq!(decide(&t, &at(35)).payer, Payer::Nobody);
        assert_eq!(decide(&t, &at(34)).monthly_cents, 25_000);
        let exempt = Family {
            exemption: Some("Απόφαση Δημάρχου 12/2026".into()),
            ..family(70_000)
        };
        let d = decide(&t, &exempt);
        assert_eq!((d.monthly_cents, d.payer), (0, Payer::Nobody));
        let voucher = Family {
            voucher: true,
            ..family(20_000)
        };
        let d = decide(&t, &voucher);
        assert_eq!((d.monthly_cents, d.payer), (6000, Payer::Voucher));
        assert_eq!(d.lines.last(), Some(&Line::Voucher));
        // Nothing to bill: the voucher is not used.
        let d = decide(
            &t,
            &Family {
                voucher: true,
                ..family(5_000)
            },
        );
        assert_eq!(d.payer, Payer::Nobody);
    }

    #[test]
    fn a_table_s_mistakes_are_named() {
        let mut t = FeeTable::default();
        t.bands.swap(1, 2);
        t.bands.push(FeeBand {
            up_to_euros: Some(1),
            monthly_cents: 1,
        });
        t.second_child_percent = 101;
        let fields: Vec<String> = t.check().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "bands[2].up_to_euros",
                "bands[11].up_to_euros",
                "bands[12].up_to_euros",
                "second_child_percent"
            ]
        );
    }

    #[test]
    fn a_partial_month_and_closures_are_charged_by_weekdays() {
        // December 2026: 23 weekdays.
        let none = BTreeSet::new();
        let full = month_charge(8000, 2026, 12, date(2026, 9, 1), None, &none);
        assert_eq!(
            full,
            MonthCharge {
                cents: 8000,
                weekdays: 23,
                billable: 23
            }
        );
        // From Monday 14 December: 14 weekdays of 23.
        let late = month_charge(8000, 2026, 12, date(2026, 12, 14), None, &none);
        assert_eq!((late.billable, late.cents), (14, 4870));
        // Withdrawn on Friday 4 December: 4 weekdays.
        let left = month_charge(
            8000,
            2026,
            12,
            date(2026, 9, 1),
            Some(date(2026, 12, 4)),
            &none,
        );
        assert_eq!((left.billable, left.cents), (4, 1391));
        // Closed 24–31 December (6 weekdays): 17 of 23.
        let closed: BTreeSet<NaiveDate> = (24..=31).map(|d| date(2026, 12, d)).collect();
        let xmas = month_charge(8000, 2026, 12, date(2026, 9, 1), None, &closed);
        assert_eq!((xmas.billable, xmas.cents), (17, 5913));
        // August, closed throughout: nothing.
        let august: BTreeSet<NaiveDate> = (1..=31).map(|d| date(2026, 8, d)).collect();
        assert_eq!(
            month_charge(8000, 2026, 8, date(2026, 1, 1), None, &august).cents,
            0
        );
        // Not yet enrolled, or withdrawn before the month.
        assert_eq!(
            month_charge(8000, 2026, 12, date(2027, 1, 4), None, &none).cents,
            0
        );
        assert_eq!(
            month_charge(
                8000,
                2026,
                12,
                date(2026, 9, 1),
                Some(date(2026, 11, 30)),
                &none
            )
            .cents,
            0
        );
    }

    /// The fee as one would work it out by hand from the table, without
    /// the code's search and ordering: every band scanned, every discount
    /// computed, the smallest result taken.
    fn by_hand(t: &FeeTable, f: &Family) -> u32 {
        if f.exemption.is_some()
            || (f.disability_percent > 0 && f.disability_percent >= t.free_disability_percent)
        {
            return 0;
        }
        // The band whose range holds the income: above the previous
        // limit, at most its own (both sides checked, in cents).
        let mut above: Option<u64> = None;
        let mut base = None;
        for b in &t.bands {
            let over_previous = above.is_none_or(|a| f.income_cents > a);
            let within = b.up_to_euros.is_none_or(|u| f.income_cents <= u * 100);
            if over_previous && within {
                base = Some(b.monthly_cents);
                break;
            }
            above = b.up_to_euros.map(|u| u * 100);
        }
        let base = f64::from(base.unwrap_or(0));
        let mut best = base;
        if f.child_order >= 2 {
            best = best.min(base - (base * f64::from(t.second_child_percent) / 100.0).round());
        }
        if f.large_family {
            best = best.min(base - (base * f64::from(t.large_family_percent) / 100.0).round());
        }
        // Whole cents, between 0 and the band's amount.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let cents = best as u32;
        cents
    }

    proptest! {
        #[test]
        fn the_fee_is_what_the_table_says_by_hand(
            income in 0u64..12_000_000,
            order in 1u32..5,
            large in any::<bool>(),
            disability in 0u32..100,
            voucher in any::<bool>(),
        ) {
            let t = FeeTable::default();
            let f = Family { income_cents: income, child_order: order, large_family: large, disability_percent: disability, voucher, exemption: None };
            prop_assert_eq!(decide(&t, &f).monthly_cents, by_hand(&t, &f));
        }

        #[test]
        fn more_income_never_costs_less_and_a_discount_never_costs_more(
            income in 0u64..120_000,
            more in 0u64..50_000,
            order in 1u32..5,
            large in any::<bool>(),
        ) {
            let t = FeeTable::default();
            let f = Family { income_cents: income * 100, child_order: order, large_family: large, ..Family::default() };
            let richer = Family { income_cents: (income + more) * 100, ..f.clone() };
            prop_assert!(decide(&t, &f).monthly_cents <= decide(&t, &richer).monthly_cents);
            let plain = Family { child_order: 1, large_family: false, ..f.clone() };
            prop_assert!(decide(&t, &f).monthly_cents <= decide(&t, &plain).monthly_cents);
        }

        #[test]
        fn a_month_never_costs_more_than_its_fee_and_days_add_up(
            fee in 0u32..50_000,
            month in 1u32..=12,
            start in 1u32..=28,
            split in 1u32..=27,
            closed_days in proptest::collection::btree_set(1u32..=28, 0..8),
        ) {
            let closed: BTreeSet<NaiveDate> = closed_days.iter().map(|d| date(2026, month, *d)).collect();
            let from = date(2026, month, start);
            let c = month_charge(fee, 2026, month, from, None, &closed);
            prop_assert!(c.cents <= fee);
            prop_assert!(c.billable <= c.weekdays);
            // Counted day by day, independently.
            let by_day = (start..=31)
                .filter_map(|d| NaiveDate::from_ymd_opt(2026, month, d))
                .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !closed.contains(d))
                .count();
            prop_assert_eq!(c.billable as usize, by_day);
            // Withdrawn on day `split`, re-enrolled the day after: the two
            // parts are the whole, within a cent of rounding each.
            let whole = month_charge(fee, 2026, month, date(2026, month, 1), None, &closed);
            let a = month_charge(fee, 2026, month, date(2026, month, 1), Some(date(2026, month, split)), &closed);
            let b = month_charge(fee, 2026, month, date(2026, month, split + 1), None, &closed);
            prop_assert_eq!(a.billable + b.billable, whole.billable);
            prop_assert!((i64::from(a.cents) + i64::from(b.cents) - i64::from(whole.cents)).abs() <= 1);
        }
    }
}
