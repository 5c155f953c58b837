//! What a municipality sets: its document types and the deadline a charge
//! gets unless the head says otherwise.

use dimos_kernel::FieldError;
use dimos_web::ModuleConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EdmsConfig {
    /// Days a document charged to someone is due in, unless the head sets
    /// a date.
    pub deadline_days: u32,
    /// The document types the protocol office chooses from.
    pub kinds: Vec<Kind>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    pub id: String,
    pub el: String,
    pub en: String,
}

impl Kind {
    fn of(id: &str, el: &str, en: &str) -> Kind {
        Kind {
            id: id.into(),
            el: el.into(),
            en: en.into(),
        }
    }

    pub fn label(&self, english: bool) -> &str {
        if english { &self.en } else { &self.el }
    }
}

impl Default for EdmsConfig {
    fn default() -> Self {
        EdmsConfig {
            deadline_days: 30,
            kinds: vec![
                Kind::of("letter", "Έγγραφο", "Letter"),
                Kind::of("request", "Αίτηση πολίτη", "Citizen's request"),
                Kind::of("complaint", "Αναφορά / παράπονο", "Complaint"),
                Kind::of("circular", "Εγκύκλιος", "Circular"),
                Kind::of("invoice", "Τιμολόγιο", "Invoice"),
                Kind::of("court", "Δικόγραφο", "Court document"),
                Kind::of("other", "Άλλο", "Other"),
            ],
        }
    }
}

impl ModuleConfig for EdmsConfig {
    fn check(&self) -> Vec<FieldError> {
        let mut e = vec![];
        if !(1..=365).contains(&self.deadline_days) {
            e.push(FieldError::new("deadline_days", "out-of-range").with_detail("1–365"));
        }
        if self.kinds.is_empty() {
            e.push(FieldError::new("kinds", "required"));
        }
        for (i, k) in self.kinds.iter().enumerate() {
            let ok_id = !k.id.is_empty()
                && k.id.len() <= 40
                && k.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok_id {
                e.push(FieldError::new(format!("kinds[{i}].id"), "invalid"));
            }
            if self.kinds[..i].iter().any(|o| o.id == k.id) {
                e.push(FieldError::new(format!("kinds[{i}].id"), "duplicate"));
            }
            for (f, v) in [("el", &k.el), ("en", &k.en)] {
                if v.trim().is_empty() || v.chars().count() > 80 {
                    e.push(FieldError::new(format!("kinds[{i}].{f}"), "required"));
                }
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_mistakes_are_named() {
        assert!(EdmsConfig::default().check().is_empty());
        let mut c = EdmsConfig {
            deadline_days: 0,
            ..EdmsConfig::default()
        };
        c.kinds.push(Kind::of("letter", "x", "y"));
        c.kinds.push(Kind::of("Bad Id", "", "y"));
        let fields: Vec<String> = c.check().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["deadline_days", "kinds[7].id", "kinds[8].id", "kinds[8].el"]
        );
    }
}
