//! Service reports: per process, cases by stage and result, handling time
//! (average and 90th percentile) of decided cases, and overdue work. Pure
//! over rows already read through the tenant's scoped queries.

use crate::query::CaseRow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServiceStats {
    pub process: String,
    pub total: u64,
    pub active: u64,
    pub waiting: u64,
    pub approved: u64,
    pub rejected: u64,
    pub withdrawn: u64,
    /// Open cases past their expected completion date.
    pub overdue: u64,
    /// Days from submission to decision, over approved and rejected cases.
    pub avg_days: Option<f64>,
    pub p90_days: Option<f64>,
    /// Open cases per current step.
    pub by_step: BTreeMap<String, u64>,
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Between 0 and the length (p is a percentage): no truncation or sign
    // to lose.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn services(cases: &[CaseRow], now: DateTime<Utc>) -> Vec<ServiceStats> {
    let mut by: BTreeMap<&str, (ServiceStats, Vec<f64>)> = BTreeMap::new();
    for c in cases {
        let (s, durations) = by.entry(c.process.as_str()).or_insert_with(|| {
            (
                ServiceStats {
                    process: c.process.clone(),
                    ..Default::default()
                },
                vec![],
            )
        });
        s.total += 1;
        match (c.status.as_str(), c.result.as_deref()) {
            ("closed", Some(r)) => {
                match r {
                    "approved" => s.approved += 1,
                    "rejected" => s.rejected += 1,
                    _ => s.withdrawn += 1,
                }
                if r != "withdrawn"
                    && let Some(closed) = c.closed_at
                {
                    durations.push((closed - c.submitted_at).num_seconds() as f64 / 86_400.0);
                }
            }
            (status, _) => {
                if status == "waiting" {
                    s.waiting += 1;
                } else {
                    s.active += 1;
                    if c.due_at < now {
                        s.overdue += 1;
                    }
                }
                *s.by_step.entry(c.step.clone()).or_default() += 1;
            }
        }
    }
    by.into_values()
        .map(|(mut s, mut d)| {
            d.sort_by(f64::total_cmp);
            if !d.is_empty() {
                let avg = d.iter().sum::<f64>() / d.len() as f64;
                s.avg_days = Some((avg * 10.0).round() / 10.0);
                s.p90_days = percentile(&d, 90.0).map(|v| (v * 10.0).round() / 10.0);
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::Map;
    use sqlx::types::Json;
    use uuid::Uuid;

    /// A fixed instant: the tests do not depend on today.
    fn at() -> chrono::DateTime<Utc> {
        chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    fn case(
        process: &str,
        status: &str,
        result: Option<&str>,
        days: i64,
        overdue: bool,
    ) -> CaseRow {
        let now = at();
        let submitted = now - Duration::days(100);
        CaseRow {
            id: Uuid::now_v7(),
            process: process.into(),
            snapshot_id: Uuid::nil(),
            module: "m".into(),
            applicant: Uuid::nil(),
            applicant_name: String::new(),
            filed_by: None,
            subject: String::new(),
            data: Json(Map::new()),
            status: status.into(),
            step: "review".into(),
            result: result.map(str::to_owned),
            reasoning: None,
            protocol_book: None,
            protocol_year: None,
            protocol_number: None,
            submitted_at: submitted,
            due_at: if overdue {
                now - Duration::days(1)
            } else {
                now + Duration::days(1)
            },
            waiting_since: None,
            waiting_until: None,
            paused_seconds: 0,
            closed_at: (status == "closed").then(|| submitted + Duration::days(days)),
            updated_at: now,
        }
    }

    #[test]
    fn nearest_rank_percentile() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&v, 100.0), Some(10.0));
        assert_eq!(percentile(&[4.0], 90.0), Some(4.0));
        assert_eq!(percentile(&[], 90.0), None);
    }

    #[test]
    fn counts_times_and_overdue_per_service() {
        let mut cases: Vec<CaseRow> = (1..=10)
            .map(|d| {
                case(
                    "a.x",
                    "closed",
                    Some(if d % 2 == 0 { "approved" } else { "rejected" }),
                    d,
                    false,
                )
            })
            .collect();
        cases.push(case("a.x", "closed", Some("withdrawn"), 50, false));
        cases.push(case("a.x", "active", None, 0, true));
        cases.push(case("a.x", "waiting", None, 0, true));
        cases.push(case("b.y", "active", None, 0, false));
        let s = services(&cases, at());
        assert_eq!(s.len(), 2);
        let a = &s[0];
        assert_eq!(
            (a.total, a.approved, a.rejected, a.withdrawn),
            (13, 5, 5, 1)
        );
        assert_eq!((a.active, a.waiting, a.overdue), (1, 1, 1));
        // Withdrawn cases do not count towards handling time.
        assert_eq!(a.avg_days, Some(5.5));
        assert_eq!(a.p90_days, Some(9.0));
        assert_eq!(a.by_step["review"], 2);
        assert_eq!((s[1].total, s[1].overdue, s[1].avg_days), (1, 0, None));
    }
}
