//! The `hookline` command: parses arguments and hands off to the library.

fn main() -> std::process::ExitCode {
    hookline::cli::main()
}
