//! Fuzz targets for every parser that takes input from the network, run two ways:
//!
//! - the test command runs `hookline-fuzz` (`src/bin/driver.rs`) on each target for a bounded
//!   time: it replays the checked-in corpus (`fuzz/corpus/<target>/`), then mutates it, and
//!   fails on a panic, an input that runs too long, or memory past a limit;
//! - `scripts/fuzz.sh <target>` builds `hookline-libfuzzer` with coverage instrumentation
//!   (stable rustc's sanitizer-coverage flags) and runs libFuzzer for as long as asked, merging
//!   what it found into the corpus.
//!
//! A target takes arbitrary bytes and returns; it panics only when Hookline did something it
//! must never do (a panic of its own, a 5xx for bad input, a 4xx without `code` and `detail`, a
//! forged cursor or signature accepted), so every panic is a finding.

pub mod mutate;
pub mod targets;
pub mod watch;

/// One fuzz target: its name (and corpus folder), its entry point, and tokens the mutator
/// splices in because random bytes would rarely spell them.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub dictionary: &'static [&'static str],
}

pub const TARGETS: &[Target] = &[
    Target { name: "api", run: targets::api::run, dictionary: targets::api::DICTIONARY },
    Target { name: "lambda", run: targets::lambda::run, dictionary: targets::lambda::DICTIONARY },
    Target { name: "expression", run: targets::expression::run, dictionary: targets::expression::DICTIONARY },
    Target { name: "signature", run: targets::signature::run, dictionary: targets::signature::DICTIONARY },
    Target { name: "cursor", run: targets::cursor::run, dictionary: targets::cursor::DICTIONARY },
    Target { name: "schema", run: targets::schema::run, dictionary: targets::schema::DICTIONARY },
];

pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|target| target.name == name)
}

/// The checked-in corpus of a target.
pub fn corpus_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(name)
}
