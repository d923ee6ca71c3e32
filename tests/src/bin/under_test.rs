//! The `hookline` command, built inside the test crate so integration tests can run it as
//! a separate process (to kill it with SIGKILL or SIGTERM).

fn main() -> std::process::ExitCode {
    hookline::cli::main()
}
