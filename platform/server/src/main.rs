//! `dimos`: the one binary. Everything happens in the library so tests run
//! exactly what production runs.

fn main() -> std::process::ExitCode {
    dimos_server::cli::main()
}
