//! What a municipality sets: its document types (each with how long its
//! documents are kept after closing and what happens to them then) and the
//! deadline a charge gets unless the head says otherwise.

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
    /// The approval chain of each kind of outgoing document, as roles in
    /// order (the last signs); a template without one: the drafter
    /// chooses the approvers.
    #[serde(default)]
    pub chains: Vec<Chain>,
}

/// The roles an outgoing document of a template is approved by, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// letter, decision, certificate
    pub template: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    pub id: String,
    pub el: String,
    pub en: String,
    /// Years a closed document of this type is kept, counted from the end
    /// of the year it was closed (as archives count); none: kept (a type
    /// saved before retention existed keeps its documents until someone
    /// decides, rather than getting a rule nobody chose).
    #[serde(default)]
    pub retention_years: Option<u32>,
    /// Then: destroyed, or transferred to the archive.
    #[serde(default)]
    pub disposal: Disposal,
}

/// What happens to a document whose retention ran out.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Disposal {
    /// Its files and contents are deleted; its number, type and dates stay.
    #[default]
    Destroy,
    /// A package of it (files, details, history) is kept for the archive
    /// (the General State Archives); the rest is deleted as for destroy.
    Archive,
}

impl Disposal {
    pub fn id(self) -> &'static str {
        match self {
            Disposal::Destroy => "destroy",
            Disposal::Archive => "archive",
        }
    }
}

impl Kind {
    fn of(id: &str, el: &str, en: &str, retention_years: u32, disposal: Disposal) -> Kind {
        Kind {
            id: id.into(),
            el: el.into(),
            en: en.into(),
            retention_years: Some(retention_years),
            disposal,
        }
    }

    pub fn label(&self, english: bool) -> &str {
        if english { &self.en } else { &self.el }
    }
}

/// The most document types a municipality lists.
pub const MAX_KINDS: usize = 60;

impl EdmsConfig {
    /// The configured chain of a template, if any.
    pub fn chain(&self, template: &str) -> Option<&[String]> {
        self.chains
            .iter()
            .find(|c| c.template == template)
            .map(|c| c.roles.as_slice())
            .filter(|r| !r.is_empty())
    }

    /// The type of this id (documents of a type no longer listed are kept).
    pub fn kind(&self, id: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.id == id)
    }
}

impl Default for EdmsConfig {
    fn default() -> Self {
        use Disposal::{Archive, Destroy};
        EdmsConfig {
            deadline_days: 30,
            kinds: vec![
                Kind::of("letter", "Έγγραφο", "Letter", 10, Destroy),
                Kind::of("request", "Αίτηση πολίτη", "Citizen's request", 5, Destroy),
                Kind::of("complaint", "Αναφορά / παράπονο", "Complaint", 5, Destroy),
                Kind::of("circular", "Εγκύκλιος", "Circular", 10, Archive),
                Kind::of("invoice", "Τιμολόγιο", "Invoice", 10, Destroy),
                Kind::of("court", "Δικόγραφο", "Court document", 20, Archive),
                Kind::of("decision", "Απόφαση", "Decision", 20, Archive),
                Kind::of("certificate", "Βεβαίωση", "Certificate", 5, Destroy),
                Kind::of("other", "Άλλο", "Other", 5, Destroy),
            ],
            chains: vec![],
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
        } else if self.kinds.len() > MAX_KINDS {
            e.push(FieldError::new("kinds", "too-long").with_detail(MAX_KINDS.to_string()));
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
            if k.retention_years.is_some_and(|y| !(1..=100).contains(&y)) {
                e.push(
                    FieldError::new(format!("kinds[{i}].retention_years"), "out-of-range")
                        .with_detail("1–100"),
                );
            }
            for (f, v) in [("el", &k.el), ("en", &k.en)] {
                if v.trim().is_empty() || v.chars().count() > 80 {
                    e.push(FieldError::new(format!("kinds[{i}].{f}"), "required"));
                }
            }
        }
        for (i, c) in self.chains.iter().enumerate() {
            if !crate::outgoing::TEMPLATES.contains(&c.template.as_str())
                || self.chains[..i].iter().any(|o| o.template == c.template)
            {
                e.push(FieldError::new(format!("chains[{i}].template"), "invalid"));
            }
            if c.roles
                .iter()
                .enumerate()
                .any(|(j, r)| c.roles[..j].contains(r))
            {
                e.push(FieldError::new(format!("chains[{i}].roles"), "duplicate"));
            }
            if c.roles.len() > crate::outgoing::MAX_APPROVERS {
                e.push(
                    FieldError::new(format!("chains[{i}].roles"), "too-long")
                        .with_detail(crate::outgoing::MAX_APPROVERS.to_string()),
                );
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
        c.kinds
            .push(Kind::of("letter", "x", "y", 5, Disposal::Destroy));
        c.kinds
            .push(Kind::of("Bad Id", "", "y", 0, Disposal::Archive));
        let fields: Vec<String> = c.check().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "deadline_days",
                "kinds[9].id",
                "kinds[10].id",
                "kinds[10].retention_years",
                "kinds[10].el"
            ]
        );
    }

    #[test]
    fn settings_saved_before_retention_read_with_its_defaults() {
        let c: EdmsConfig = serde_json::from_value(serde_json::json!({
            "kinds": [{"id": "letter", "el": "Έγγραφο", "en": "Letter"}]
        }))
        .unwrap();
        assert_eq!(
            c.kinds[0].retention_years, None,
            "kept until someone decides"
        );
        assert_eq!(c.kinds[0].disposal, Disposal::Destroy);
        assert!(c.check().is_empty());
    }
}
