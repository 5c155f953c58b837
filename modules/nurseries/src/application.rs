//! The parent's application, as typed (kept for drafts and for showing the
//! form again) and as validated into typed values. One application covers
//! every child of the family applying that year.

use crate::AgeGroup;
use crate::catalogue::Station;
use crate::scoring::{Claims, Review, Rules};
use chrono::{Datelike, NaiveDate};
use dimos_kernel::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Rows for children on the form.
pub const CHILD_ROWS: usize = 4;
/// Stations a family may rank.
pub const PREFERENCES: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawChild {
    pub name: String,
    pub birth: String,
    pub reenrolment: bool,
}

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawApplication {
    pub parent_name: String,
    pub email: String,
    pub mobile: String,
    pub income: String,
    pub family_children: String,
    pub children: Vec<RawChild>,
    pub claims: Vec<String>,
    pub preferences: Vec<String>,
    pub together: bool,
}

impl RawApplication {
    /// Sets a form field by its name (`child-0-name`, `pref-1`, `claim`…);
    /// unknown names are ignored.
    pub fn set(&mut self, name: &str, value: String) {
        let value: String = value.chars().take(500).collect();
        if let Some(rest) = name.strip_prefix("child-") {
            let mut parts = rest.splitn(2, '-');
            let (Some(i), Some(field)) = (parts.next(), parts.next()) else {
                return;
            };
            let Ok(i) = i.parse::<usize>() else { return };
            if i >= CHILD_ROWS {
                return;
            }
            if self.children.len() <= i {
                self.children.resize(i + 1, RawChild::default());
            }
            match field {
                "name" => self.children[i].name = value,
                "birth" => self.children[i].birth = value,
                "reenrolment" => self.children[i].reenrolment = true,
                _ => {}
            }
            return;
        }
        if let Some(i) = name.strip_prefix("pref-") {
            if let Ok(i) = i.parse::<usize>()
                && (1..=PREFERENCES).contains(&i)
            {
                if self.preferences.len() < i {
                    self.preferences.resize(i, String::new());
                }
                self.preferences[i - 1] = value;
            }
            return;
        }
        match name {
            "parent_name" => self.parent_name = value,
            "email" => self.email = value,
            "mobile" => self.mobile = value,
            "income" => self.income = value,
            "family_children" => self.family_children = value,
            "claim" if !self.claims.contains(&value) => self.claims.push(value),
            "together" => self.together = true,
            _ => {}
        }
    }

    /// The child rows the form shows: those typed, padded to `CHILD_ROWS`.
    pub fn child_rows(&self) -> Vec<RawChild> {
        let mut rows = self.children.clone();
        rows.resize(CHILD_ROWS.max(rows.len()), RawChild::default());
        rows
    }

    pub fn preference_rows(&self) -> Vec<String> {
        let mut rows = self.preferences.clone();
        rows.resize(PREFERENCES, String::new());
        rows
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Child {
    pub name: String,
    pub birth: NaiveDate,
    pub group: String,
    pub reenrolment: bool,
}

/// A validated application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub parent_name: String,
    pub email: String,
    /// `+3069XXXXXXXX`.
    pub mobile: String,
    pub income_euros: u64,
    pub family_children: u32,
    pub children: Vec<Child>,
    pub claims: Vec<String>,
    pub preferences: Vec<Uuid>,
    pub together: bool,
}

/// Whole months from `birth` to `on` (0 if born after).
pub fn months(birth: NaiveDate, on: NaiveDate) -> u32 {
    if on < birth {
        return 0;
    }
    let mut m =
        (on.year() - birth.year()) * 12 + on.month().cast_signed() - birth.month().cast_signed();
    if on.day() < birth.day() {
        m -= 1;
    }
    u32::try_from(m.max(0)).unwrap_or(0)
}

/// The age group a child born on `birth` belongs to on `on`.
pub fn age_group(groups: &[AgeGroup], birth: NaiveDate, on: NaiveDate) -> Option<&AgeGroup> {
    let m = months(birth, on);
    groups
        .iter()
        .find(|g| g.from_months <= m && m < g.to_months)
}

fn email_ok(s: &str) -> bool {
    let mut parts = s.splitn(2, '@');
    let (Some(local), Some(domain)) = (parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && s.len() <= 254
}

/// What the form is checked against.
pub struct Context<'a> {
    pub rules: &'a Rules,
    pub groups: &'a [AgeGroup],
    pub stations: &'a [Station],
    /// The school year's first day: ages are counted on it.
    pub starts_on: NaiveDate,
}

impl RawApplication {
    pub fn validate(&self, cx: &Context<'_>) -> Result<Application, Vec<FieldError>> {
        let mut errors = vec![];
        let parent_name = self.parent_name.trim().to_owned();
        if parent_name.is_empty() {
            errors.push(FieldError::new("parent_name", "required"));
        } else if parent_name.chars().count() > 120 {
            errors.push(FieldError::new("parent_name", "too-long").with_detail("120"));
        }
        let email = self.email.trim().to_owned();
        if !email_ok(&email) {
            errors.push(FieldError::new(
                "email",
                if email.is_empty() {
                    "required"
                } else {
                    "email-invalid"
                },
            ));
        }
        let mobile = match dimos_web::contact::greek_mobile(&self.mobile) {
            Ok(m) => m,
            Err(e) => {
                errors.push(e);
                String::new()
            }
        };
        let income_euros = match self.income.trim().replace(['.', ' '], "").parse::<u64>() {
            Ok(n) if n <= 10_000_000 => n,
            Ok(_) => {
                errors.push(FieldError::new("income", "out-of-range").with_detail("0–10.000.000"));
                0
            }
            Err(_) if self.income.trim().is_empty() => {
                errors.push(FieldError::new("income", "required"));
                0
            }
            Err(_) => {
                errors.push(FieldError::new("income", "number-invalid"));
                0
            }
        };
        let mut children = vec![];
        for (i, c) in self.children.iter().enumerate() {
            let name = c.name.trim();
            if name.is_empty() && c.birth.trim().is_empty() {
                continue;
            }
            let field = |f: &str| format!("child-{i}-{f}");
            if name.is_empty() {
                errors.push(FieldError::new(field("name"), "required"));
            } else if name.chars().count() > 120 {
                errors.push(FieldError::new(field("name"), "too-long").with_detail("120"));
            }
            let birth = match NaiveDate::parse_from_str(c.birth.trim(), "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(
                        field("birth"),
                        if c.birth.trim().is_empty() {
                            "required"
                        } else {
                            "date-invalid"
                        },
                    ));
                    None
                }
            };
            if let Some(birth) = birth {
                match age_group(cx.groups, birth, cx.starts_on) {
                    Some(g) => children.push(Child {
                        name: name.to_owned(),
                        birth,
                        group: g.id.clone(),
                        reenrolment: c.reenrolment,
                    }),
                    None => errors.push(
                        FieldError::new(field("birth"), "nursery-age-outside")
                            .with_detail(cx.starts_on.format("%d/%m/%Y").to_string()),
                    ),
                }
            }
        }
        let listed = self
            .children
            .iter()
            .filter(|c| !c.name.trim().is_empty() || !c.birth.trim().is_empty())
            .count();
        if listed == 0 {
            errors.push(FieldError::new("child-0-name", "nursery-no-child"));
        }
        let family_children = match self.family_children.trim().parse::<u32>() {
            Ok(n) if n >= u32::try_from(listed.max(1)).unwrap_or(u32::MAX) && n <= 20 => n,
            Ok(_) => {
                errors.push(
                    FieldError::new("family_children", "out-of-range")
                        .with_detail(format!("{}–20", listed.max(1))),
                );
                0
            }
            Err(_) => {
                errors.push(FieldError::new(
                    "family_children",
                    if self.family_children.trim().is_empty() {
                        "required"
                    } else {
                        "number-invalid"
                    },
                ));
                0
            }
        };
        let known: BTreeSet<&str> = cx.rules.criteria.iter().map(|c| c.id.as_str()).collect();
        let claims: Vec<String> = self
            .claims
            .iter()
            .filter(|c| known.contains(c.as_str()))
            .cloned()
            .collect();
        let mut preferences = vec![];
        for (i, p) in self.preferences.iter().enumerate() {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let field = format!("pref-{}", i + 1);
            match Uuid::parse_str(p)
                .ok()
                .filter(|id| cx.stations.iter().any(|s| s.id == *id && s.active))
            {
                Some(id) if preferences.contains(&id) => {
                    errors.push(FieldError::new(field, "nursery-preference-repeat"));
                }
                Some(id) => preferences.push(id),
                None => errors.push(FieldError::new(field, "invalid")),
            }
        }
        if preferences.is_empty() && !errors.iter().any(|e| e.field.starts_with("pref-")) {
            errors.push(FieldError::new("pref-1", "required"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Application {
            parent_name,
            email,
            mobile,
            income_euros,
            family_children,
            together: self.together && children.len() > 1,
            children,
            claims,
            preferences,
        })
    }
}

/// A reviewer's decision on one claimed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub review: Review,
    #[serde(default)]
    pub reason: String,
}

impl Application {
    /// The claims to score: each claimed criterion, the large family and the
    /// income, with what the reviewers decided so far.
    pub fn claims(&self, decisions: &BTreeMap<String, Decision>) -> Claims {
        let review = |id: &str| decisions.get(id).map_or(Review::Pending, |d| d.review);
        let mut criteria: BTreeMap<String, Review> =
            self.claims.iter().map(|c| (c.clone(), review(c))).collect();
        for extra in ["large-family", "income"] {
            if let Some(d) = decisions.get(extra) {
                criteria.insert(extra.to_owned(), d.review);
            }
        }
        Claims {
            criteria,
            children: self.family_children,
            income_euros: Some(self.income_euros),
            reasons: decisions
                .iter()
                .filter(|(_, d)| d.review == Review::Rejected)
                .map(|(k, d)| (k.clone(), d.reason.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NurseriesConfig;
    use crate::scoring::score;

    fn station(active: bool) -> Station {
        Station {
            id: Uuid::now_v7(),
            name: "Α".into(),
            address: "Οδός 1".into(),
            active,
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ages_are_whole_months_on_the_first_day() {
        assert_eq!(months(d(2026, 3, 1), d(2027, 9, 1)), 18);
        assert_eq!(months(d(2025, 3, 2), d(2027, 9, 1)), 29);
        assert_eq!(months(d(2025, 3, 1), d(2027, 9, 1)), 30);
        let cfg = NurseriesConfig::default();
        let g = |b| age_group(&cfg.age_groups, b, d(2027, 9, 1)).map(|g| g.id.as_str());
        assert_eq!(g(d(2025, 3, 2)), Some("infants"));
        assert_eq!(g(d(2025, 3, 1)), Some("preschool"));
        assert_eq!(g(d(2027, 5, 1)), None, "too young: 4 months");
        assert_eq!(g(d(2023, 8, 1)), None, "too old: 49 months");
    }

    #[test]
    fn a_family_with_twins_applies_and_is_scored_by_the_table() {
        let cfg = NurseriesConfig::default();
        let stations = [station(true), station(true), station(false)];
        let mut raw = RawApplication::default();
        for (k, v) in [
            ("parent_name", "Μαρία Παπαδοπούλου"),
            ("email", "maria@example.gr"),
            ("mobile", "69 1234 5678"),
            ("income", "18.500"),
            ("family_children", "3"),
            ("child-0-name", "Νίκος"),
            ("child-0-birth", "2026-01-10"),
            ("child-1-name", "Ελένη"),
            ("child-1-birth", "2026-01-10"),
            ("claim", "resident"),
            ("claim", "working-mother"),
            ("claim", "made-up"),
            ("together", "1"),
        ] {
            raw.set(k, v.to_owned());
        }
        raw.set("pref-1", stations[1].id.to_string());
        raw.set("pref-2", stations[0].id.to_string());
        let cx = Context {
            rules: &cfg.rules,
            groups: &cfg.age_groups,
            stations: &stations,
            starts_on: d(2027, 9, 1),
        };
        let a = raw.validate(&cx).unwrap();
        assert_eq!(a.mobile, "+306912345678");
        assert_eq!(a.income_euros, 18_500);
        assert_eq!(a.claims, ["resident", "working-mother"]);
        assert!(a.together);
        assert!(a.children.iter().all(|c| c.group == "infants"));
        assert_eq!(a.preferences, [stations[1].id, stations[0].id]);
        // 50 + 50 + 3 children × 5 + income 10–20k: 20.
        assert_eq!(score(&cfg.rules, &a.claims(&BTreeMap::new())).total, 135);
        let mut decisions = BTreeMap::new();
        decisions.insert(
            "working-mother".to_owned(),
            Decision {
                review: Review::Rejected,
                reason: "Η βεβαίωση εργασίας είναι του 2024".into(),
            },
        );
        assert_eq!(score(&cfg.rules, &a.claims(&decisions)).total, 85);
    }

    #[test]
    fn every_problem_is_reported_on_its_field() {
        let cfg = NurseriesConfig::default();
        let stations = [station(true), station(false)];
        let mut raw = RawApplication::default();
        for (k, v) in [
            ("email", "maria"),
            ("mobile", "210 1234567"),
            ("income", "πολλά"),
            ("family_children", "1"),
            ("child-0-name", "Νίκος"),
            ("child-0-birth", "2020-01-10"),
            ("child-1-birth", "10/01/2026"),
        ] {
            raw.set(k, v.to_owned());
        }
        raw.set("pref-1", stations[0].id.to_string());
        raw.set("pref-2", stations[0].id.to_string());
        raw.set("pref-3", stations[1].id.to_string());
        let cx = Context {
            rules: &cfg.rules,
            groups: &cfg.age_groups,
            stations: &stations,
            starts_on: d(2027, 9, 1),
        };
        let fields: Vec<String> = raw
            .validate(&cx)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}:{}", e.field, e.code))
            .collect();
        assert_eq!(
            fields,
            [
                "parent_name:required",
                "email:email-invalid",
                "mobile:phone-invalid",
                "income:number-invalid",
                "child-0-birth:nursery-age-outside",
                "child-1-name:required",
                "child-1-birth:date-invalid",
                "family_children:out-of-range",
                "pref-2:nursery-preference-repeat",
                "pref-3:invalid",
            ]
        );
    }
}
