//! Translations with Fluent. Every crate that shows text to people ships
//! `.ftl` resources for both languages; the translator merges them.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::BTreeSet;
use unic_langid::{LanguageIdentifier, langid};

/// The languages Dimos speaks. Greek is the default.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    El,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::El, Locale::En];

    pub fn code(self) -> &'static str {
        match self {
            Locale::El => "el",
            Locale::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Locale> {
        match s.trim().to_ascii_lowercase().as_str() {
            "el" | "el-gr" | "gr" => Some(Locale::El),
            "en" | "en-gb" | "en-us" => Some(Locale::En),
            _ => None,
        }
    }

    /// Picks the first supported language of an `Accept-Language` header,
    /// honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(l) = Locale::parse(primary)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map(|(_, l)| l)
    }

    fn langid(self) -> LanguageIdentifier {
        match self {
            Locale::El => langid!("el"),
            Locale::En => langid!("en"),
        }
    }
}

/// One `.ftl` file of a crate, for one language.
#[derive(Debug, Clone, Copy)]
pub struct FtlSource {
    pub locale: Locale,
    pub name: &'static str,
    pub text: &'static str,
}

pub struct Translator {
    el: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
    keys: [BTreeSet<String>; 2],
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator")
            .field("messages", &self.keys[0].len())
            .finish()
    }
}

/// Errors in translation files: syntax errors and duplicate keys.
#[derive(Debug, thiserror::Error)]
#[error("translation file {file}: {message}")]
pub struct FtlError {
    pub file: String,
    pub message: String,
}

/// A whole number as people read it: `10.000` in Greek, `10,000` in
/// English (amounts of money, counts of places); years and codes are not
/// passed through this.
pub fn group_digits(n: i64, locale: Locale) -> String {
    let sep = match locale {
        Locale::El => '.',
        Locale::En => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A whole number written plainly is passed as a number, so that messages
/// choose their plural form ("1 αίτηση", "2 αιτήσεις"); it prints as it was
/// written. Anything else (codes with leading zeros, tax ids, text) stays text.
fn arg_value(v: &str) -> FluentValue<'static> {
    let plain = !v.is_empty()
        && v.len() <= 15
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v == "0" || !v.starts_with('0'));
    match v.parse::<i64>() {
        Ok(n) if plain => FluentValue::from(n),
        _ => FluentValue::from(v.to_owned()),
    }
}

impl Translator {
    pub fn new(sources: &[FtlSource]) -> Result<Self, FtlError> {
        let mk = |l: Locale| {
            let mut b = FluentBundle::new_concurrent(vec![l.langid()]);
            // Isolation marks would end up inside HTML attributes and e-mails.
            b.set_use_isolating(false);
            b
        };
        let mut t = Translator {
            el: mk(Locale::El),
            en: mk(Locale::En),
            keys: Default::default(),
        };
        for src in sources {
            let res =
                FluentResource::try_new(src.text.to_owned()).map_err(|(_, errs)| FtlError {
                    file: src.name.to_owned(),
                    message: format!("{errs:?}"),
                })?;
            for entry in res.entries() {
                if let fluent_syntax::ast::Entry::Message(m) = entry {
                    t.keys[src.locale as usize].insert(m.id.name.to_owned());
                }
            }
            let bundle = match src.locale {
                Locale::El => &mut t.el,
                Locale::En => &mut t.en,
            };
            bundle.add_resource(res).map_err(|errs| FtlError {
                file: src.name.to_owned(),
                message: format!("{errs:?}"),
            })?;
        }
        Ok(t)
    }

    /// Keys present in one language but not the other: must be empty.
    pub fn missing_keys(&self) -> Vec<(Locale, String)> {
        let [el, en] = &self.keys;
        el.difference(en)
            .map(|k| (Locale::En, k.clone()))
            .chain(en.difference(el).map(|k| (Locale::El, k.clone())))
            .collect()
    }

    pub fn has(&self, key: &str) -> bool {
        self.keys[0].contains(key)
    }

    /// The message for a field error: the field's own message if there is
    /// one (`error-for-<field>-<code>`, "Συμπληρώστε τον αριθμό
    /// κυκλοφορίας"), else `error-field-<code>`; the detail as `$detail`,
    /// appended when the message does not use it.
    pub fn field_message(&self, locale: Locale, e: &crate::FieldError) -> String {
        let detail = e.detail.clone().unwrap_or_default();
        let own = format!("error-for-{}-{}", e.field.replace('_', "-"), e.code);
        let key = if self.has(&own) {
            own
        } else {
            format!("error-field-{}", e.code)
        };
        let msg = self.t(locale, &key, &[("detail", detail.clone())]);
        if detail.is_empty() || msg.contains(&detail) {
            msg
        } else {
            format!("{msg} ({detail})")
        }
    }

    /// Translate `key`; falls back to the other language, then to the key
    /// itself, so a missing string is visible but never breaks a page.
    pub fn t(&self, locale: Locale, key: &str, args: &[(&str, String)]) -> String {
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, arg_value(v));
        }
        let order = match locale {
            Locale::El => [&self.el, &self.en],
            Locale::En => [&self.en, &self.el],
        };
        for bundle in order {
            if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
                let mut errs = vec![];
                let out = bundle.format_pattern(pattern, Some(&fargs), &mut errs);
                return out.into_owned();
            }
        }
        tracing::warn!(key, "missing translation");
        key.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        assert_eq!(
            Locale::from_accept_language("en-GB,en;q=0.9"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::from_accept_language("fr;q=1, en;q=0.5, el;q=0.8"),
            Some(Locale::El)
        );
        assert_eq!(Locale::from_accept_language("fr, de"), None);
    }

    #[test]
    fn numbers_choose_plural_forms_and_print_as_written() {
        let text = "n = { $count ->\n    [one] { $count } αίτηση\n   *[other] { $count } αιτήσεις\n}\nid = ΑΦΜ { $id }\n";
        let t = Translator::new(&[
            FtlSource {
                locale: Locale::El,
                name: "el",
                text,
            },
            FtlSource {
                locale: Locale::En,
                name: "en",
                text,
            },
        ])
        .unwrap();
        let n = |c: &str| t.t(Locale::El, "n", &[("count", c.to_owned())]);
        assert_eq!(n("1"), "1 αίτηση");
        assert_eq!(n("2"), "2 αιτήσεις");
        assert_eq!(n("0"), "0 αιτήσεις");
        assert_eq!(n("2026"), "2026 αιτήσεις");
        // Codes keep their zeros; they are not numbers.
        let id = |v: &str| t.t(Locale::El, "id", &[("id", v.to_owned())]);
        assert_eq!(id("012345678"), "ΑΦΜ 012345678");
        assert_eq!(id("100000064"), "ΑΦΜ 100000064");
    }

    #[test]
    fn digits_are_grouped_the_greek_way() {
        assert_eq!(group_digits(10000, Locale::El), "10.000");
        assert_eq!(group_digits(1234567, Locale::El), "1.234.567");
        assert_eq!(group_digits(1234567, Locale::En), "1,234,567");
        assert_eq!(group_digits(999, Locale::El), "999");
        assert_eq!(group_digits(-12000, Locale::El), "-12.000");
        assert_eq!(group_digits(0, Locale::En), "0");
    }

    #[test]
    fn a_field_may_have_its_own_message() {
        let el = "error-field-required = Το πεδίο είναι υποχρεωτικό\nerror-for-plate-required = Συμπληρώστε τον αριθμό κυκλοφορίας\n";
        let t = Translator::new(&[
            FtlSource {
                locale: Locale::El,
                name: "el",
                text: el,
            },
            FtlSource {
                locale: Locale::En,
                name: "en",
                text: el,
            },
        ])
        .unwrap();
        let msg = |f: &str| t.field_message(Locale::El, &crate::FieldError::new(f, "required"));
        assert_eq!(msg("plate"), "Συμπληρώστε τον αριθμό κυκλοφορίας");
        assert_eq!(msg("location"), "Το πεδίο είναι υποχρεωτικό");
    }

    #[test]
    fn falls_back_and_reports_missing() {
        let t = Translator::new(&[
            FtlSource {
                locale: Locale::El,
                name: "el",
                text: "hello = Γεια σου { $name }\nonly-el = μόνο\n",
            },
            FtlSource {
                locale: Locale::En,
                name: "en",
                text: "hello = Hello { $name }\n",
            },
        ])
        .unwrap();
        assert_eq!(
            t.t(Locale::El, "hello", &[("name", "Μαρία".into())]),
            "Γεια σου Μαρία"
        );
        assert_eq!(
            t.t(Locale::En, "hello", &[("name", "Maria".into())]),
            "Hello Maria"
        );
        assert_eq!(t.t(Locale::En, "only-el", &[]), "μόνο");
        assert_eq!(t.t(Locale::En, "nope", &[]), "nope");
        assert_eq!(t.missing_keys(), vec![(Locale::En, "only-el".to_string())]);
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let err = Translator::new(&[FtlSource {
            locale: Locale::El,
            name: "broken.ftl",
            text: "= nokey\n",
        }])
        .unwrap_err();
        assert_eq!(err.file, "broken.ftl");
    }
}
