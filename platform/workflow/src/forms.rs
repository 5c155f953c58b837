//! Task forms: posted strings in, typed case data out, or field errors
//! that the page shows next to each field.

use crate::definition::{FieldKind, Form};
use dimos_kernel::FieldError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const TEXT_MAX: u32 = 200;
const TEXTAREA_MAX: u32 = 5000;

impl Form {
    pub fn parse(
        &self,
        posted: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut out = Map::new();
        let mut errs = vec![];
        for f in &self.fields {
            let raw = posted.get(&f.id).map(|s| s.trim()).unwrap_or("");
            if f.kind == FieldKind::Boolean {
                out.insert(
                    f.id.clone(),
                    Value::Bool(matches!(raw, "on" | "true" | "1" | "yes")),
                );
                continue;
            }
            if raw.is_empty() {
                if f.required {
                    errs.push(FieldError::new(f.id.clone(), "required"));
                }
                continue;
            }
            let value = match f.kind {
                FieldKind::Text | FieldKind::Textarea => {
                    let max = f.max_length.unwrap_or(if f.kind == FieldKind::Text {
                        TEXT_MAX
                    } else {
                        TEXTAREA_MAX
                    });
                    if raw.chars().count() > max as usize {
                        errs.push(
                            FieldError::new(f.id.clone(), "too-long").with_detail(max.to_string()),
                        );
                        continue;
                    }
                    // Checked when the definition was loaded; a bad pattern
                    // never gets here.
                    if let Some(Ok(re)) = f.regex()
                        && !re.is_match(raw)
                    {
                        let e = FieldError::new(f.id.clone(), "format-invalid");
                        errs.push(match &f.example {
                            Some(x) => e.with_detail(x.clone()),
                            None => e,
                        });
                        continue;
                    }
                    Value::String(raw.to_owned())
                }
                FieldKind::Number => {
                    // Greek users write decimals with a comma.
                    let Ok(n) = raw.replace(',', ".").parse::<f64>() else {
                        errs.push(FieldError::new(f.id.clone(), "number-invalid"));
                        continue;
                    };
                    let below = f.min.is_some_and(|m| n < m);
                    let above = f.max.is_some_and(|m| n > m);
                    if !n.is_finite() || below || above {
                        let range = format!(
                            "{}–{}",
                            f.min.map_or(String::new(), |m| m.to_string()),
                            f.max.map_or(String::new(), |m| m.to_string())
                        );
                        errs.push(FieldError::new(f.id.clone(), "out-of-range").with_detail(range));
                        continue;
                    }
                    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
                }
                FieldKind::Date => {
                    if chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_err() {
                        errs.push(FieldError::new(f.id.clone(), "date-invalid"));
                        continue;
                    }
                    Value::String(raw.to_owned())
                }
                FieldKind::Choice => {
                    if !f.options.iter().any(|o| o.id == raw) {
                        errs.push(FieldError::new(f.id.clone(), "invalid"));
                        continue;
                    }
                    Value::String(raw.to_owned())
                }
                FieldKind::Boolean => unreachable!("handled above"),
            };
            out.insert(f.id.clone(), value);
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }
}

#[cfg(test)]
mod tests {
    use crate::definition::Definition;
    use std::collections::BTreeMap;

    fn posted(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn posted_values_become_typed_data_or_field_errors() {
        let d = Definition::parse_toml(include_str!("definition/fixture.toml")).unwrap();
        let form = d.form("review").unwrap();
        let ok = form
            .parse(&posted(&[
                ("assessment", "  Πλήρης φάκελος "),
                ("score", "7,5"),
            ]))
            .unwrap();
        assert_eq!(ok["assessment"], "Πλήρης φάκελος");
        assert_eq!(ok["score"], 7.5);
        let errs = form.parse(&posted(&[("score", "11")])).unwrap_err();
        let codes: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            vec![("assessment", "required"), ("score", "out-of-range")]
        );
        let errs = form
            .parse(&posted(&[
                ("assessment", &"α".repeat(2001)),
                ("score", "abc"),
            ]))
            .unwrap_err();
        let codes: Vec<_> = errs.iter().map(|e| e.code).collect();
        assert_eq!(codes, vec!["too-long", "number-invalid"]);
    }

    #[test]
    fn a_pattern_is_matched_by_the_whole_value() {
        let form: crate::definition::Form = toml::from_str(
            r#"fields = [{ id = "ada", kind = "text", label = { el = "ΑΔΑ", en = "ADA" }, pattern = "[Α-ΩA-Z0-9]{7}-[Α-ΩA-Z0-9]{3}", example = "ΡΒΠΕ7ΛΞ-Ν1Ζ" }]"#,
        )
        .unwrap();
        assert_eq!(
            form.parse(&posted(&[("ada", "ΡΒΠΕ7ΛΞ-Ν1Ζ")])).unwrap()["ada"],
            "ΡΒΠΕ7ΛΞ-Ν1Ζ"
        );
        for bad in ["ΡΒΠΕ7ΛΞΝ1Ζ", "xΡΒΠΕ7ΛΞ-Ν1Ζ", "ΡΒΠΕ7ΛΞ-Ν1Ζ-1"] {
            let errs = form.parse(&posted(&[("ada", bad)])).unwrap_err();
            assert_eq!(errs[0].code, "format-invalid", "{bad}");
            assert_eq!(errs[0].detail.as_deref(), Some("ΡΒΠΕ7ΛΞ-Ν1Ζ"));
        }
        // Optional and empty: nothing to match.
        assert!(form.parse(&posted(&[])).is_ok());
    }
}
