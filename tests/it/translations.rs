//! Every translation key a template names literally exists, so no page
//! ever shows a raw id such as `verify-check-intact-no`. Keys built at run
//! time (`"cert-status-" ~ status`) are left to the link crawler, which
//! reads every rendered page.

use dimos_web::module::Modules;

#[test]
fn every_key_a_template_names_is_translated() {
    let modules = Modules::new(dimos_it::Options::default().modules).expect("modules");
    let translator = dimos_web::ui::build_translator(&modules).expect("translations load");
    // `t(` up to its closing parenthesis (keys hold no parentheses).
    let call = regex::Regex::new(r#"\bt\(([^()]*)\)"#).unwrap();
    let literal = regex::Regex::new(r#"(=\s*)?["']([a-z0-9]+(?:-[a-z0-9]+)*)["']"#).unwrap();
    let list = regex::Regex::new(r"\[[^\]]*\]").unwrap();
    let mut missing = vec![];
    let templates = dimos_web::ui::SHELL_TEMPLATES
        .iter()
        .chain(dimos_pages::TEMPLATES.iter())
        .chain(modules.iter().flat_map(|m| m.templates.iter()));
    let mut checked = 0;
    for (name, src) in templates {
        for c in call.captures_iter(src) {
            // Lists (`status in ["revoked", "expired"]`) hold values.
            let args = list.replace_all(&c[1], "");
            let args = args.as_ref();
            for l in literal.captures_iter(args) {
                // `name="value"` is an argument's value, not a key; a
                // literal followed by `~` is the start of a built key.
                let end = l.get(0).unwrap().end();
                if l.get(1).is_some() || args[end..].trim_start().starts_with('~') {
                    continue;
                }
                let key = &l[2];
                checked += 1;
                // (Both languages hold the same keys: checked at start-up.)
                if !translator.has(key) {
                    missing.push(format!("{name}: {key}"));
                }
            }
        }
    }
    assert!(
        checked > 300,
        "only {checked} keys found: is the pattern right?"
    );
    assert!(
        missing.is_empty(),
        "untranslated keys:\n{}",
        missing.join("\n")
    );
}

/// The staff hub shows each module page's label with a description under
/// it: both must exist.
#[test]
fn every_staff_page_has_a_label_and_a_description() {
    let modules = Modules::new(dimos_it::Options::default().modules).expect("modules");
    let translator = dimos_web::ui::build_translator(&modules).expect("translations load");
    let mut missing = vec![];
    for m in modules.iter() {
        for p in m.staff_pages {
            for key in [
                p.label_key.to_owned(),
                format!("{}-description", p.label_key),
            ] {
                if !translator.has(&key) {
                    missing.push(format!("{}: {key}", m.id));
                }
            }
        }
    }
    assert!(missing.is_empty(), "untranslated:\n{}", missing.join("\n"));
}
