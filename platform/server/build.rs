//! The module list is this crate's `dimos-module-*` dependencies, in the
//! order Cargo.toml lists them: adding a module to the server is one line
//! there, and the tests mount the same list.

use std::fmt::Write as _;

fn main() {
    println!("cargo::rerun-if-changed=Cargo.toml");
    let manifest = match std::fs::read_to_string("Cargo.toml") {
        Ok(m) => m,
        Err(e) => {
            println!("cargo::error=reading Cargo.toml for the module list: {e}");
            return;
        }
    };
    let mut list = String::from("vec![\n");
    for line in manifest.lines() {
        let Some(rest) = line.trim().strip_prefix("dimos-module-") else {
            continue;
        };
        let Some((name, _)) = rest.split_once([' ', '=', '.']) else {
            continue;
        };
        let krate = format!("dimos_module_{}", name.replace('-', "_"));
        let _ = writeln!(list, "    {krate}::descriptor(),");
    }
    list.push(']');
    // Cargo's own variable for build scripts, not configuration.
    #[allow(clippy::disallowed_methods)]
    let Ok(out) = std::env::var("OUT_DIR") else {
        println!("cargo::error=OUT_DIR is not set");
        return;
    };
    if let Err(e) = std::fs::write(std::path::Path::new(&out).join("modules.rs"), list) {
        println!("cargo::error=writing the module list: {e}");
    }
}
