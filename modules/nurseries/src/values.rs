//! The admin's forms, validated at the edge into typed values; every
//! problem is reported on its field.

use crate::catalogue::Year;
use chrono::NaiveDate;
use dimos_kernel::FieldError;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StationForm {
    #[serde(rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub active: Option<String>,
}

fn text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "required"));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(field, "too-long").with_detail(max.to_string()));
    }
    v.to_owned()
}

impl StationForm {
    /// Name and address, trimmed.
    pub fn validate(&self) -> Result<(String, String), Vec<FieldError>> {
        let mut errors = vec![];
        let name = text(&mut errors, "name", &self.name, 120);
        let address = text(&mut errors, "address", &self.address, 200);
        if errors.is_empty() {
            Ok((name, address))
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct YearForm {
    #[serde(rename = "_csrf", skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub starts_on: String,
    #[serde(default)]
    pub opens_on: String,
    #[serde(default)]
    pub closes_on: String,
    #[serde(default)]
    pub results_on: String,
    #[serde(default)]
    pub objections_until: String,
    #[serde(default)]
    pub accept_days: String,
    /// Dates typed in gov.gr's three boxes (`opens_on-day`, …), joined
    /// into their fields by [`YearForm::join_date_parts`].
    #[serde(flatten, skip_serializing)]
    pub parts: std::collections::BTreeMap<String, String>,
}

impl YearForm {
    /// Dates sent as day, month and year become the form's dates.
    pub fn join_date_parts(&mut self) {
        let parts = std::mem::take(&mut self.parts);
        let get = |name: &str, part: &str| parts.get(&format!("{name}-{part}")).map(String::as_str);
        for (name, field) in [
            ("starts_on", &mut self.starts_on),
            ("opens_on", &mut self.opens_on),
            ("closes_on", &mut self.closes_on),
            ("results_on", &mut self.results_on),
            ("objections_until", &mut self.objections_until),
        ] {
            if let (Some(d), Some(m), Some(y)) =
                (get(name, "day"), get(name, "month"), get(name, "year"))
            {
                *field = dimos_kernel::clock::date_from_parts(d, m, y);
            }
        }
    }

    pub fn of(y: &Year) -> YearForm {
        YearForm {
            csrf: String::new(),
            label: y.label.clone(),
            starts_on: y.starts_on.to_string(),
            opens_on: y.opens_on.to_string(),
            closes_on: y.closes_on.to_string(),
            results_on: y.results_on.to_string(),
            objections_until: y.objections_until.to_string(),
            accept_days: y.accept_days.to_string(),
            parts: Default::default(),
        }
    }

    /// A school year: the label is `YYYY-YYYY` (consecutive years); the
    /// window opens before it closes, results come after it closes,
    /// objections end on or after the results, and the school year starts
    /// after the objections.
    pub fn validate(&self, id: Uuid) -> Result<Year, Vec<FieldError>> {
        let mut errors = vec![];
        let label = self.label.trim();
        let years: Vec<i32> = label
            .split('-')
            .filter_map(|p| (p.len() == 4).then(|| p.parse().ok()).flatten())
            .collect();
        let label_ok = matches!(years[..], [a, b] if b == a + 1 && (2000..2200).contains(&a));
        if !label_ok {
            errors.push(FieldError::new("label", "format-invalid").with_detail("2027-2028"));
        }
        let mut date = |field: &str, v: &str| match NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    field,
                    if v.trim().is_empty() {
                        "required"
                    } else {
                        "date-invalid"
                    },
                ));
                None
            }
        };
        let starts_on = date("starts_on", &self.starts_on);
        let opens_on = date("opens_on", &self.opens_on);
        let closes_on = date("closes_on", &self.closes_on);
        let results_on = date("results_on", &self.results_on);
        let objections_until = date("objections_until", &self.objections_until);
        let accept_days = match self.accept_days.trim().parse::<i32>() {
            Ok(n) if (1..=60).contains(&n) => Some(n),
            Ok(_) => {
                errors.push(FieldError::new("accept_days", "out-of-range").with_detail("1–60"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("accept_days", "number-invalid"));
                None
            }
        };
        let order = [
            ("closes_on", opens_on, closes_on, false),
            ("results_on", closes_on, results_on, false),
            ("objections_until", results_on, objections_until, true),
            ("starts_on", objections_until, starts_on, false),
        ];
        for (field, before, after, same_day) in order {
            if let (Some(b), Some(a)) = (before, after)
                && (a < b || (a == b && !same_day))
            {
                errors.push(FieldError::new(field, "nursery-date-order"));
            }
        }
        match (
            starts_on,
            opens_on,
            closes_on,
            results_on,
            objections_until,
            accept_days,
        ) {
            (Some(s), Some(o), Some(c), Some(r), Some(x), Some(d)) if errors.is_empty() => {
                Ok(Year {
                    id,
                    label: label.to_owned(),
                    starts_on: s,
                    opens_on: o,
                    closes_on: c,
                    results_on: r,
                    objections_until: x,
                    accept_days: d,
                })
            }
            _ => Err(errors),
        }
    }
}

/// One places field: `0` when left empty, otherwise 0–999.
pub fn places(errors: &mut Vec<FieldError>, field: &str, value: &str) -> i32 {
    let v = value.trim();
    if v.is_empty() {
        return 0;
    }
    match v.parse::<i32>() {
        Ok(n) if (0..=999).contains(&n) => n,
        Ok(_) => {
            errors.push(FieldError::new(field, "out-of-range").with_detail("0–999"));
            0
        }
        Err(_) => {
            errors.push(FieldError::new(field, "number-invalid"));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> YearForm {
        YearForm {
            csrf: String::new(),
            label: "2027-2028".into(),
            starts_on: "2027-09-01".into(),
            opens_on: "2027-05-20".into(),
            closes_on: "2027-06-15".into(),
            results_on: "2027-07-01".into(),
            objections_until: "2027-07-10".into(),
            accept_days: "10".into(),
            parts: Default::default(),
        }
    }

    #[test]
    fn dates_typed_in_three_boxes_join() {
        let mut f = YearForm {
            opens_on: "ignored".into(),
            parts: [
                ("opens_on-day", "5"),
                ("opens_on-month", "6"),
                ("opens_on-year", "2027"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ..good()
        };
        f.join_date_parts();
        assert_eq!(f.opens_on, "2027-06-05");
        assert_eq!(f.closes_on, "2027-06-15", "untouched without its boxes");
    }

    fn fields(f: &YearForm) -> Vec<String> {
        f.validate(Uuid::nil())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| format!("{}:{}", e.field, e.code))
            .collect()
    }

    #[test]
    fn a_school_year_in_order_is_accepted() {
        let y = good().validate(Uuid::nil()).unwrap();
        assert_eq!(y.accept_days, 10);
        assert_eq!(
            y.phase(NaiveDate::from_ymd_opt(2027, 6, 1).unwrap()),
            "open"
        );
        assert_eq!(
            y.phase(NaiveDate::from_ymd_opt(2027, 6, 20).unwrap()),
            "closed"
        );
        assert_eq!(
            y.phase(NaiveDate::from_ymd_opt(2027, 7, 10).unwrap()),
            "objections"
        );
    }

    #[test]
    fn each_problem_is_on_its_field() {
        let mut f = good();
        f.label = "2027-2029".into();
        f.closes_on = "2027-05-01".into();
        f.results_on = "1/7/2027".into();
        f.accept_days = "0".into();
        assert_eq!(
            fields(&f),
            [
                "label:format-invalid",
                "results_on:date-invalid",
                "accept_days:out-of-range",
                "closes_on:nursery-date-order"
            ]
        );
        let mut f = good();
        f.starts_on = "2027-07-10".into();
        f.opens_on = String::new();
        assert_eq!(
            fields(&f),
            ["opens_on:required", "starts_on:nursery-date-order"]
        );
    }

    #[test]
    fn places_are_whole_numbers_in_range() {
        let mut e = vec![];
        assert_eq!(places(&mut e, "p", ""), 0);
        assert_eq!(places(&mut e, "p", " 12 "), 12);
        assert!(e.is_empty());
        places(&mut e, "a", "-1");
        places(&mut e, "b", "δώδεκα");
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].code, "number-invalid");
    }
}
