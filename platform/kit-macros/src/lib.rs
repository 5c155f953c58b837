//! `module_files!()`: a module's files gathered from its folder by
//! convention, so its descriptor states only what is particular to it.
//!
//! Read at compile time from the module crate's directory:
//! - `migrations/postgres/NNNN_name.sql` with its `migrations/sqlite/`
//!   twin (the two sets must match),
//! - `locales/<el|en>/*.ftl`,
//! - `templates/**/*.html`, named `<id>/<path>`,
//! - `workflows/*.toml`, the file stem as the process id.
//!
//! Each file is embedded with `include_str!`, so editing one rebuilds the
//! module; adding or removing one takes a touch of `src/lib.rs` (as with
//! any directory-reading macro on stable Rust). No dependencies: the
//! expansion is written as text and parsed.

use proc_macro::TokenStream;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Expands to a `dimos_web::module::ModuleDescriptor` with the module's
/// id (the package name after `dimos-module-`), its files and the kit's
/// defaults; the module overrides the rest with struct update syntax.
#[proc_macro]
pub fn module_files(input: TokenStream) -> TokenStream {
    if !input.is_empty() {
        return error("module_files!() takes no arguments");
    }
    match expand() {
        Ok(code) => code
            .parse()
            .unwrap_or_else(|_| error("module_files!: bad expansion")),
        Err(e) => error(&e),
    }
}

fn error(msg: &str) -> TokenStream {
    format!("::core::compile_error!({msg:?})")
        .parse()
        .unwrap_or_default()
}

fn expand() -> Result<String, String> {
    // A proc macro runs in the compiling crate's build environment: these
    // name the module being built, not configuration.
    #[allow(clippy::disallowed_methods)]
    let dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    #[allow(clippy::disallowed_methods)]
    let package = std::env::var("CARGO_PKG_NAME").map_err(|e| e.to_string())?;
    let id = package
        .strip_prefix("dimos-module-")
        .ok_or_else(|| format!("package {package:?} is not named dimos-module-<id>"))?
        .to_owned();
    let root = PathBuf::from(dir);
    let mut out = String::new();
    let _ = write!(
        out,
        "::dimos_web::module::ModuleDescriptor::from_files(::dimos_web::module::ModuleFiles {{ id: {id:?}, \
         name_key: {name:?}, description_key: {description:?}, \
         navigation: &[::dimos_web::module::NavEntry {{ path: \"\", label_key: {name:?}, description_key: {description:?} }}], ",
        name = format!("{id}-name"),
        description = format!("{id}-description"),
    );
    out.push_str(&migrations(&root)?);
    out.push_str(&translations(&root, &id)?);
    out.push_str(&templates(&root, &id)?);
    out.push_str(&workflows(&root)?);
    out.push_str("})");
    Ok(out)
}

/// Files directly in `dir` ending in `ext`, sorted; none when `dir` is absent.
fn files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.is_file() && p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn all_files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.is_dir() {
            all_files(&p, ext, out)?;
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    Ok(())
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn include(p: &Path) -> String {
    format!("::core::include_str!({:?})", p.display().to_string())
}

fn migrations(root: &Path) -> Result<String, String> {
    let pg = files(&root.join("migrations/postgres"), "sql")?;
    let lite = files(&root.join("migrations/sqlite"), "sql")?;
    let names = |v: &[PathBuf]| v.iter().map(|p| name_of(p)).collect::<Vec<_>>();
    if names(&pg) != names(&lite) {
        return Err(format!(
            "migrations/postgres {:?} and migrations/sqlite {:?} must hold the same files",
            names(&pg),
            names(&lite)
        ));
    }
    let mut numbered = vec![];
    for (p, s) in pg.iter().zip(&lite) {
        let file = name_of(p);
        let stem = file.trim_end_matches(".sql").to_owned();
        let (num, name) = stem
            .split_once('_')
            .ok_or_else(|| format!("migration {file:?} is not named NNNN_name.sql"))?;
        let version: i64 = num
            .parse()
            .map_err(|_| format!("migration {file:?} is not named NNNN_name.sql"))?;
        numbered.push((version, name.to_owned(), p, s));
    }
    // By number, not by name ("9_x" before "10_y"), and 1, 2, 3… without
    // gaps or twins: a compile error here, not a start-up failure.
    numbered.sort_by_key(|(v, ..)| *v);
    for (i, (v, ..)) in numbered.iter().enumerate() {
        if usize::try_from(*v).ok() != Some(i + 1) {
            return Err(format!(
                "migrations must be numbered 1, 2, 3… without gaps or twins; found {v} at place {}",
                i + 1
            ));
        }
    }
    let mut out = String::from("migrations: &[");
    for (version, name, p, s) in &numbered {
        let _ = write!(
            out,
            "::dimos_web::module::Migration {{ version: {version}, name: {name:?}, postgres: {}, sqlite: {} }},",
            include(p),
            include(s)
        );
    }
    out.push_str("], ");
    Ok(out)
}

fn translations(root: &Path, id: &str) -> Result<String, String> {
    let mut out = String::from("translations: &[");
    for (dir, locale) in [("el", "El"), ("en", "En")] {
        for p in files(&root.join("locales").join(dir), "ftl")? {
            let _ = write!(
                out,
                "::dimos_web::module::FtlSource {{ locale: ::dimos_web::module::Locale::{locale}, name: {:?}, text: {} }},",
                format!("modules/{id}/locales/{dir}/{}", name_of(&p)),
                include(&p)
            );
        }
    }
    out.push_str("], ");
    Ok(out)
}

fn templates(root: &Path, id: &str) -> Result<String, String> {
    let base = root.join("templates");
    let mut found = vec![];
    all_files(&base, "html", &mut found)?;
    let mut out = String::from("templates: &[");
    for p in found {
        let rel = p
            .strip_prefix(&base)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let _ = write!(out, "({:?}, {}),", format!("{id}/{rel}"), include(&p));
    }
    out.push_str("], ");
    Ok(out)
}

fn workflows(root: &Path) -> Result<String, String> {
    let mut out = String::from("workflows: &[");
    for p in files(&root.join("workflows"), "toml")? {
        let file = name_of(&p);
        let _ = write!(
            out,
            "::dimos_web::module::WorkflowSource {{ id: {:?}, source: {} }},",
            file.trim_end_matches(".toml"),
            include(&p)
        );
    }
    out.push_str("], ");
    Ok(out)
}
