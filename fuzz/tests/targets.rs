//! Each fuzz target for a bounded time, as the test command runs them: the checked-in corpus
//! (seeds and every input a fuzzer once found), then mutations of it. A panic, an input past
//! 10 s or the process past 1 GiB resident fails the test with the input, saved to replay.
//! `HOOKLINE_FUZZ_SECONDS` sets the time per target (20 s); `scripts/fuzz.sh` runs the
//! coverage-guided fuzzer for longer.

#![allow(clippy::unwrap_used)]

use std::process::Command;

/// The address space the driver may map: a parser that tries to allocate past it fails at
/// once, rather than after swapping.
const ADDRESS_SPACE_KIB: u64 = 8 * 1024 * 1024;

fn fuzz(target: &str) {
    let seconds = std::env::var("HOOKLINE_FUZZ_SECONDS").unwrap_or_else(|_| "20".to_owned());
    let driver = env!("CARGO_BIN_EXE_hookline-fuzz");
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""))
        .arg(driver)
        .args([target, "--seconds", &seconds, "--timeout-secs", "10", "--rss-limit-mib", "1024"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "the fuzz target {target} found something ({}):\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("nothing found"), "{stdout}");
}

#[test]
fn api() {
    fuzz("api");
}

#[test]
fn lambda() {
    fuzz("lambda");
}

#[test]
fn expression() {
    fuzz("expression");
}

#[test]
fn signature() {
    fuzz("signature");
}

#[test]
fn cursor() {
    fuzz("cursor");
}

#[test]
fn schema() {
    fuzz("schema");
}

#[test]
fn every_target_has_a_test_and_a_seeded_corpus() {
    let source = include_str!("targets.rs");
    for target in hookline_fuzz::TARGETS {
        assert!(source.contains(&format!("fn {}()", target.name)), "no test runs the target {}", target.name);
        let seeds = std::fs::read_dir(hookline_fuzz::corpus_dir(target.name)).map(Iterator::count).unwrap_or(0);
        assert!(seeds > 0, "the target {} has no corpus", target.name);
    }
}
