//! Tenant files (`tenants/<slug>.toml`): definitions kept in version control
//! and applied with `dimos tenants apply`.

use crate::model::{RawTenant, TenantSpec, ValidationContext};
use dimos_kernel::{Error, FieldError};
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one tenant file, with the line it is on when known.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    /// Set when the problem is a field's value (translatable by code).
    pub field: Option<FieldError>,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TenantFile {
    pub path: PathBuf,
    pub spec: TenantSpec,
}

/// Parses and validates one file. The slug must match the file name, so a
/// copied file cannot silently overwrite another municipality.
pub fn load_file(path: &Path, ctx: &ValidationContext<'_>) -> Result<TenantFile, Vec<FileError>> {
    let err = |line, message: String| {
        vec![FileError {
            file: path.to_owned(),
            line,
            message,
            field: None,
        }]
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let raw: RawTenant = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        err(line, e.message().trim().to_owned())
    })?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if raw.slug.as_str() != stem {
        return Err(err(
            locate(&text, "slug"),
            format!(
                "slug {:?} does not match the file name {stem:?}.toml",
                raw.slug.as_str()
            ),
        ));
    }
    let dir = path.parent().map(Path::to_owned);
    let ctx = ValidationContext {
        file_dir: dir.as_deref(),
        ..*ctx
    };
    match raw.validate(&ctx) {
        Ok(spec) => Ok(TenantFile {
            path: path.to_owned(),
            spec,
        }),
        Err(Error::Validation(fields)) => Err(fields
            .into_iter()
            .map(|f| FileError {
                file: path.to_owned(),
                line: locate(&text, &f.field),
                message: f.to_string(),
                field: Some(f),
            })
            .collect()),
        Err(other) => Err(err(None, other.to_string())),
    }
}

/// Loads every `*.toml` of a folder (sorted by name), or a single file.
/// Either all files are valid or the errors of all of them are returned.
pub fn load_path(
    path: &Path,
    ctx: &ValidationContext<'_>,
) -> Result<Vec<TenantFile>, Vec<FileError>> {
    let files = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| {
                vec![FileError {
                    file: path.to_owned(),
                    line: None,
                    message: e.to_string(),
                    field: None,
                }]
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_owned()]
    };
    let mut ok = vec![];
    let mut errors = vec![];
    for f in files {
        match load_file(&f, ctx) {
            Ok(t) => ok.push(t),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Best-effort line of a dotted field path (`modules.example.greeting`,
/// `domains.aliases[1]`): the line of the longest matching key or table.
fn locate(text: &str, field: &str) -> Option<usize> {
    let field: String = field.split('[').next().unwrap_or(field).to_owned();
    let mut section = String::new();
    let mut best: Option<(usize, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        let path = if let Some(h) = l.strip_prefix('[').and_then(|h| h.split(']').next()) {
            section = h.trim().trim_matches('[').trim().to_owned();
            section.clone()
        } else if let Some((k, _)) = l.split_once('=') {
            let k = k.trim().trim_matches('"');
            if section.is_empty() {
                k.to_owned()
            } else {
                format!("{section}.{k}")
            }
        } else {
            continue;
        };
        let matches = field == path || field.starts_with(&format!("{path}."));
        if matches && best.is_none_or(|(len, _)| path.len() > len) {
            best = Some((path.len(), i + 1));
        }
    }
    best.map(|(_, line)| line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::ctx;

    const GOOD: &str = r##"slug = "test"
status = "active"

[name]
el = "Δήμος Δοκιμής"
en = "Municipality of Test"

[branding]
primary_colour = "#003476"

[modules.example]
greeting = "Καλώς ήρθατε"
"##;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_good_file_loads() {
        let d = tempfile::tempdir().unwrap();
        let t = load_file(&write(d.path(), "test.toml", GOOD), &ctx()).unwrap();
        assert_eq!(t.spec.modules["example"].config["greeting"], "Καλώς ήρθατε");
    }

    #[test]
    fn syntax_and_type_errors_name_the_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "test.toml", &GOOD.replace("#003476", "navy"));
        let e = load_file(&p, &ctx()).unwrap_err();
        assert_eq!(e[0].line, Some(9), "{e:?}");
        assert!(e[0].message.contains("navy"), "{}", e[0]);

        let p = write(d.path(), "test.toml", &GOOD.replace("[name]", "[name"));
        let e = load_file(&p, &ctx()).unwrap_err();
        assert_eq!(e[0].line, Some(4), "{e:?}");
        assert!(
            e[0].to_string()
                .starts_with(&format!("{}:4: ", p.display()))
        );
    }

    #[test]
    fn validation_errors_name_the_line_of_the_field() {
        let d = tempfile::tempdir().unwrap();
        let text = GOOD
            .replace("greeting", "colour")
            .replace("#003476", "#f0f0f0");
        let p = write(d.path(), "test.toml", &text);
        let e = load_file(&p, &ctx()).unwrap_err();
        let lines: Vec<_> = e
            .iter()
            .map(|e| (e.line, e.field.as_ref().unwrap().code))
            .collect();
        assert_eq!(
            lines,
            vec![(Some(9), "colour-contrast"), (Some(12), "unknown-field")]
        );
    }

    #[test]
    fn slug_must_match_file_name_and_unknown_keys_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = load_file(&write(d.path(), "other.toml", GOOD), &ctx()).unwrap_err();
        assert_eq!(e[0].line, Some(1));
        let e = load_file(
            &write(d.path(), "test.toml", &format!("{GOOD}\n[extra]\nx = 1\n")),
            &ctx(),
        )
        .unwrap_err();
        assert!(e[0].message.contains("extra"), "{}", e[0]);
    }

    #[test]
    fn a_folder_is_all_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "test.toml", GOOD);
        write(d.path(), "bad.toml", "slug = 'bad'\n");
        write(d.path(), "notes.txt", "ignored");
        let e = load_path(d.path(), &ctx()).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].file.ends_with("bad.toml"));
        std::fs::remove_file(d.path().join("bad.toml")).unwrap();
        assert_eq!(load_path(d.path(), &ctx()).unwrap().len(), 1);
    }
}
