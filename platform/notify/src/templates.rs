//! Message templates per event and language (`templates.toml`), with the
//! variables they may use checked when they are loaded, and a
//! municipality's overrides checked the same way before they are stored.

use dimos_kernel::{FieldError, Locale};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "citizen",
    "municipality",
    "service",
    "subject",
    "protocol",
    "link",
    "deadline",
    "request",
    "reasoning",
    "message",
    "count",
    "tasks",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
}

#[derive(Debug, Clone)]
pub struct Templates {
    /// event → language → template
    map: BTreeMap<String, BTreeMap<String, Template>>,
}

fn env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

/// Values for every variable, to try a template with.
fn sample() -> BTreeMap<&'static str, String> {
    VARIABLES.iter().map(|v| (*v, format!("[{v}]"))).collect()
}

fn render_part(
    env: &minijinja::Environment<'_>,
    src: &str,
    html: bool,
    vars: &BTreeMap<&str, String>,
) -> Result<String, String> {
    let name = if html { "part.html" } else { "part.txt" };
    let mut env = env.clone();
    env.add_template_owned(name.to_owned(), src.to_owned())
        .map_err(|e| e.to_string())?;
    env.get_template(name)
        .and_then(|t| t.render(vars))
        .map_err(|e| e.to_string())
}

impl Template {
    /// Every part renders with the known variables and nothing else.
    pub fn check(&self, path: &str) -> Vec<FieldError> {
        let env = env();
        let vars = sample();
        let mut errs = vec![];
        for (part, src, html) in [
            ("subject", &self.subject, false),
            ("text", &self.text, false),
            ("html", &self.html, true),
            ("sms", &self.sms, false),
        ] {
            if src.trim().is_empty() {
                errs.push(FieldError::new(format!("{path}.{part}"), "required"));
            } else if let Err(e) = render_part(&env, src, html, &vars) {
                errs.push(
                    FieldError::new(format!("{path}.{part}"), "template-invalid").with_detail(e),
                );
            }
        }
        errs
    }

    pub fn render(&self, vars: &BTreeMap<&str, String>) -> Result<Rendered, String> {
        let env = env();
        Ok(Rendered {
            subject: render_part(&env, &self.subject, false, vars)?.replace('\n', " "),
            text: render_part(&env, &self.text, false, vars)?,
            html: render_part(&env, &self.html, true, vars)?,
            sms: render_part(&env, &self.sms, false, vars)?,
        })
    }
}

impl Templates {
    /// The shipped templates; a problem in them stops start-up.
    pub fn builtin() -> Result<Templates, Vec<FieldError>> {
        let map: BTreeMap<String, BTreeMap<String, Template>> =
            toml::from_str(include_str!("templates.toml")).map_err(|e| {
                vec![
                    FieldError::new("templates.toml", "definition-syntax")
                        .with_detail(e.to_string()),
                ]
            })?;
        let mut errs = vec![];
        for (event, langs) in &map {
            for l in ["el", "en"] {
                match langs.get(l) {
                    Some(t) => errs.extend(t.check(&format!("{event}.{l}"))),
                    None => errs.push(FieldError::new(format!("{event}.{l}"), "required")),
                }
            }
        }
        if errs.is_empty() {
            Ok(Templates { map })
        } else {
            Err(errs)
        }
    }

    pub fn events(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub fn get(&self, event: &str, lang: Locale) -> Option<&Template> {
        self.map.get(event)?.get(lang.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_are_valid_and_complete() {
        let t = Templates::builtin().unwrap();
        for e in [
            "registered",
            "info-requested",
            "approved",
            "rejected",
            "ready",
            "expiring",
            "progress",
        ] {
            assert!(
                t.get(e, Locale::El).is_some() && t.get(e, Locale::En).is_some(),
                "{e}"
            );
        }
    }

    #[test]
    fn unknown_variables_and_bad_syntax_are_refused() {
        let t = Template {
            subject: "Αρ. {{ protocol }}".into(),
            text: "{{ citizen }} {{ password }}".into(),
            html: "<p>{% if %}</p>".into(),
            sms: String::new(),
        };
        let codes: Vec<_> = t
            .check("x")
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("x.text".to_owned(), "template-invalid"),
                ("x.html".to_owned(), "template-invalid"),
                ("x.sms".to_owned(), "required"),
            ]
        );
    }

    #[test]
    fn html_is_escaped_text_is_not() {
        let t = Templates::builtin().unwrap();
        let mut vars = sample();
        vars.insert("citizen", "<b>Μαρία</b> & Co".into());
        let r = t
            .get("registered", Locale::El)
            .unwrap()
            .render(&vars)
            .unwrap();
        assert!(
            r.html.contains("&lt;b&gt;Μαρία&lt;&#x2f;b&gt; &amp; Co"),
            "{}",
            r.html
        );
        assert!(r.text.contains("<b>Μαρία</b> & Co"));
    }
}
