//! Scoring of nursery applications, driven entirely by the municipality's
//! rules (the Alimos 2016 table is the shipped default, `default-rules.toml`).
//! Pure: claims in, points and a line-by-line explanation out. Each line
//! says which rule it is, how many points it gives, and whether it counted
//! (claimed and accepted, not outranked within its group) or why not.

use dimos_kernel::{FieldError, LocalizedText};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A criterion a family may claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub id: String,
    pub label: LocalizedText,
    pub points: u32,
    /// Within a group only the criterion with the most points counts
    /// (resident or inhabitant; single parent or divorced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The documents that prove it (ids of the module's document kinds).
    #[serde(default)]
    pub documents: Vec<String>,
}

/// Points for a large family: `points_per_child` for every child when
/// the family has at least `min_children`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LargeFamily {
    pub min_children: u32,
    pub points_per_child: u32,
    #[serde(default)]
    pub documents: Vec<String>,
}

/// An income band: incomes up to `up_to_euros` (inclusive; none for the
/// last band) get `points`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomeBand {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to_euros: Option<u64>,
    pub points: u32,
}

/// How ties are broken after points (the lottery always comes last).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// Lower family income first, then the lottery.
    #[default]
    LowerIncome,
    /// The lottery only.
    Lottery,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub criteria: Vec<Criterion>,
    pub large_family: LargeFamily,
    pub income_bands: Vec<IncomeBand>,
    /// Documents that prove income (for the income line).
    #[serde(default)]
    pub income_documents: Vec<String>,
    #[serde(default)]
    pub tie_break: TieBreak,
}

impl Rules {
    /// The Alimos 2016 table, shipped as the default.
    pub fn alimos() -> Rules {
        // The file is part of the crate and checked by a test.
        toml::from_str(include_str!("default-rules.toml")).unwrap_or_else(|_| Rules {
            criteria: Vec::new(),
            large_family: LargeFamily {
                min_children: 3,
                points_per_child: 5,
                documents: Vec::new(),
            },
            income_bands: Vec::new(),
            income_documents: Vec::new(),
            tie_break: TieBreak::LowerIncome,
        })
    }

    /// Every problem, each on its field, for the admin's settings page.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, c) in self.criteria.iter().enumerate() {
            let ok = !c.id.is_empty()
                && c.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok || !ids.insert(c.id.as_str()) {
                errors.push(FieldError::new(
                    format!("criteria[{i}].id"),
                    "duplicate-or-invalid",
                ));
            }
            if c.label.el.trim().is_empty() || c.label.en.trim().is_empty() {
                errors.push(FieldError::new(format!("criteria[{i}].label"), "required"));
            }
            if c.points > 1000 {
                errors.push(
                    FieldError::new(format!("criteria[{i}].points"), "out-of-range")
                        .with_detail("0–1000"),
                );
            }
        }
        if self.large_family.min_children < 2 {
            errors.push(
                FieldError::new("large_family.min_children", "out-of-range").with_detail("≥ 2"),
            );
        }
        // Bands rise strictly and end open, so every income has one band.
        let mut last = None;
        for (i, b) in self.income_bands.iter().enumerate() {
            let open = b.up_to_euros.is_none();
            if open && i + 1 != self.income_bands.len() {
                errors.push(FieldError::new(
                    format!("income_bands[{i}].up_to_euros"),
                    "required",
                ));
            }
            if let (Some(prev), Some(now)) = (last, b.up_to_euros)
                && now <= prev
            {
                errors.push(
                    FieldError::new(format!("income_bands[{i}].up_to_euros"), "invalid")
                        .with_detail("bands must rise"),
                );
            }
            last = b.up_to_euros.or(last);
        }
        if self
            .income_bands
            .last()
            .is_some_and(|b| b.up_to_euros.is_some())
        {
            errors.push(
                FieldError::new("income_bands", "invalid").with_detail("the last band is open"),
            );
        }
        errors
    }

    fn band(&self, euros: u64) -> Option<(usize, &IncomeBand)> {
        self.income_bands
            .iter()
            .enumerate()
            .find(|(_, b)| b.up_to_euros.is_none_or(|up| euros <= up))
    }
}

/// What staff decided about a claimed criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Review {
    /// Not checked yet: counts provisionally.
    Pending,
    Accepted,
    Rejected,
}

/// What a family claims, and what staff made of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Claims {
    /// Claimed criterion ids with their review.
    pub criteria: BTreeMap<String, Review>,
    /// Children in the family (for the large-family points).
    pub children: u32,
    /// Annual family income in euros, if declared.
    pub income_euros: Option<u64>,
    /// The reviewer's reasons for rejections, by criterion id.
    pub reasons: BTreeMap<String, String>,
}

/// Why a line did or did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum LineStatus {
    /// Counted, accepted by staff.
    Counted,
    /// Counted for now: the document is still to be checked.
    Provisional,
    /// Staff rejected the claim (with their reason).
    Rejected { reason: String },
    /// Another criterion of the same group gives more points.
    Outranked { by: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// A criterion id, `large-family` or `income`.
    pub id: String,
    pub points: u32,
    #[serde(flatten)]
    pub status: LineStatus,
    /// Documents that prove this line.
    pub documents: Vec<String>,
}

impl Line {
    pub fn counts(&self) -> bool {
        matches!(self.status, LineStatus::Counted | LineStatus::Provisional)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub total: u32,
    pub lines: Vec<Line>,
}

/// Scores claims under rules. Unknown claimed ids are ignored (the form
/// only offers the municipality's criteria).
pub fn score(rules: &Rules, claims: &Claims) -> Score {
    let mut lines = Vec::new();
    // Best counting criterion per group: most points, then the rules' order.
    let mut best: BTreeMap<&str, (u32, &str)> = BTreeMap::new();
    for c in &rules.criteria {
        if let (Some(g), Some(r)) = (&c.group, claims.criteria.get(&c.id))
            && *r != Review::Rejected
            && best.get(g.as_str()).is_none_or(|(p, _)| c.points > *p)
        {
            best.insert(g, (c.points, &c.id));
        }
    }
    for c in &rules.criteria {
        let Some(review) = claims.criteria.get(&c.id) else {
            continue;
        };
        let status = match review {
            Review::Rejected => LineStatus::Rejected {
                reason: claims.reasons.get(&c.id).cloned().unwrap_or_default(),
            },
            _ => match &c.group {
                Some(g) if best.get(g.as_str()).is_some_and(|(_, id)| *id != c.id) => {
                    LineStatus::Outranked {
                        by: best[g.as_str()].1.to_owned(),
                    }
                }
                _ if *review == Review::Accepted => LineStatus::Counted,
                _ => LineStatus::Provisional,
            },
        };
        lines.push(Line {
            id: c.id.clone(),
            points: c.points,
            status,
            documents: c.documents.clone(),
        });
    }
    let lf = &rules.large_family;
    if claims.children >= lf.min_children {
        let review = claims
            .criteria
            .get("large-family")
            .copied()
            .unwrap_or(Review::Pending);
        lines.push(Line {
            id: "large-family".into(),
            points: lf.points_per_child * claims.children,
            status: match review {
                Review::Rejected => LineStatus::Rejected {
                    reason: claims
                        .reasons
                        .get("large-family")
                        .cloned()
                        .unwrap_or_default(),
                },
                Review::Accepted => LineStatus::Counted,
                Review::Pending => LineStatus::Provisional,
            },
            documents: lf.documents.clone(),
        });
    }
    if let Some(euros) = claims.income_euros
        && let Some((_, band)) = rules.band(euros)
    {
        let review = claims
            .criteria
            .get("income")
            .copied()
            .unwrap_or(Review::Pending);
        lines.push(Line {
            id: "income".into(),
            points: band.points,
            status: match review {
                Review::Rejected => LineStatus::Rejected {
                    reason: claims.reasons.get("income").cloned().unwrap_or_default(),
                },
                Review::Accepted => LineStatus::Counted,
                Review::Pending => LineStatus::Provisional,
            },
            documents: rules.income_documents.clone(),
        });
    }
    Score {
        total: lines.iter().filter(|l| l.counts()).map(|l| l.points).sum(),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(ids: &[&str], children: u32, income: Option<u64>) -> Claims {
        Claims {
            criteria: ids
                .iter()
                .map(|i| (i.to_string(), Review::Pending))
                .collect(),
            children,
            income_euros: income,
            reasons: BTreeMap::new(),
        }
    }

    #[test]
    fn the_shipped_alimos_table_is_valid() {
        let r = Rules::alimos();
        assert!(r.check().is_empty(), "{:?}", r.check());
        assert!(r.criteria.len() >= 7);
        assert_eq!(r.income_bands.len(), 5);
    }

    #[test]
    fn a_family_scores_by_the_alimos_table_line_by_line() {
        let r = Rules::alimos();
        // Resident, working mother, single parent, three children, 15k €.
        let s = score(
            &r,
            &claims(
                &["resident", "working-mother", "single-parent"],
                3,
                Some(15_000),
            ),
        );
        assert_eq!(s.total, 50 + 50 + 25 + 15 + 20);
        let ids: Vec<_> = s.lines.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "resident",
                "working-mother",
                "single-parent",
                "large-family",
                "income"
            ]
        );
        assert!(s.lines.iter().all(|l| l.status == LineStatus::Provisional));
        assert!(
            s.lines
                .iter()
                .find(|l| l.id == "resident")
                .is_some_and(|l| !l.documents.is_empty()),
            "each line names its proof"
        );
    }

    #[test]
    fn within_a_group_only_the_highest_counts() {
        let r = Rules::alimos();
        let s = score(
            &r,
            &claims(
                &["resident", "inhabitant", "divorced", "single-parent"],
                1,
                None,
            ),
        );
        assert_eq!(s.total, 50 + 25);
        let inhabitant = s.lines.iter().find(|l| l.id == "inhabitant").unwrap();
        assert_eq!(
            inhabitant.status,
            LineStatus::Outranked {
                by: "resident".into()
            }
        );
        // If the higher one is rejected, the next one counts.
        let mut c = claims(&["resident", "inhabitant"], 1, None);
        c.criteria.insert("resident".into(), Review::Rejected);
        c.reasons.insert(
            "resident".into(),
            "Δεν είναι εγγεγραμμένος στα δημοτολόγια".into(),
        );
        let s = score(&r, &c);
        assert_eq!(s.total, 30);
        assert_eq!(
            s.lines[0].status,
            LineStatus::Rejected {
                reason: "Δεν είναι εγγεγραμμένος στα δημοτολόγια".into()
            }
        );
    }

    #[test]
    fn income_bands_are_inclusive_and_the_last_is_open() {
        let r = Rules::alimos();
        let pts = |e| score(&r, &claims(&[], 1, Some(e))).total;
        assert_eq!(pts(0), 25);
        assert_eq!(pts(10_000), 25);
        assert_eq!(pts(10_001), 20);
        assert_eq!(pts(40_000), 10);
        assert_eq!(pts(1_000_000), 5);
        // Not declared: no income line at all.
        assert!(score(&r, &claims(&[], 1, None)).lines.is_empty());
    }

    #[test]
    fn reviews_turn_provisional_points_into_counted_or_rejected() {
        let r = Rules::alimos();
        let mut c = claims(&["resident", "working-mother"], 1, Some(25_000));
        c.criteria.insert("resident".into(), Review::Accepted);
        c.criteria.insert("working-mother".into(), Review::Rejected);
        c.criteria.insert("income".into(), Review::Accepted);
        let s = score(&r, &c);
        assert_eq!(s.total, 50 + 15);
        assert_eq!(s.lines[0].status, LineStatus::Counted);
        assert!(matches!(s.lines[1].status, LineStatus::Rejected { .. }));
        assert_eq!(s.lines[2].status, LineStatus::Counted);
    }

    #[test]
    fn a_municipality_s_own_table_is_checked() {
        let mut r = Rules::alimos();
        r.criteria[1].id = r.criteria[0].id.clone();
        r.income_bands.swap(0, 1);
        r.income_bands.push(IncomeBand {
            up_to_euros: Some(1),
            points: 1,
        });
        r.large_family.min_children = 1;
        let fields: Vec<String> = r.check().into_iter().map(|e| e.field).collect();
        assert!(fields.contains(&"criteria[1].id".to_string()), "{fields:?}");
        assert!(
            fields.iter().any(|f| f.starts_with("income_bands")),
            "{fields:?}"
        );
        assert!(fields.contains(&"large_family.min_children".to_string()));
        assert!(
            fields.contains(&"income_bands".to_string()),
            "the last band must be open"
        );
    }

    #[test]
    fn the_total_is_the_sum_of_the_lines_that_count() {
        let r = Rules::alimos();
        let all: Vec<&str> = r.criteria.iter().map(|c| c.id.as_str()).collect();
        for n in 0..(1u32 << all.len()) {
            let ids: Vec<&str> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| n & (1 << i) != 0)
                .map(|(_, id)| *id)
                .collect();
            let s = score(&r, &claims(&ids, n % 5, Some(u64::from(n) * 1_000)));
            let sum: u32 = s
                .lines
                .iter()
                .filter(|l| l.counts())
                .map(|l| l.points)
                .sum();
            assert_eq!(s.total, sum);
            // At most one counting line per group.
            let mut groups = BTreeSet::new();
            for l in s.lines.iter().filter(|l| l.counts()) {
                if let Some(g) = r
                    .criteria
                    .iter()
                    .find(|c| c.id == l.id)
                    .and_then(|c| c.group.clone())
                {
                    assert!(groups.insert(g), "{ids:?}");
                }
            }
        }
    }
}
