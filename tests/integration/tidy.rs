//! Architecture invariants, checked on every test run (see ARCHITECTURE.md).

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn source_files() -> Vec<PathBuf> {
    ["shared/src", "local/src", "tests/src", "tests/integration", "functions"]
        .iter()
        .flat_map(|dir| rust_files(&workspace().join(dir)))
        .collect()
}

#[test]
fn the_domain_imports_no_io_or_wire_format_crate() {
    let forbidden = [
        "aws_sdk",
        "aws_lambda_events",
        "lambda_http",
        "lambda_runtime",
        "axum",
        "reqwest",
        "rusqlite",
        "tokio",
        "hyper",
        "crate::adapters",
        "crate::api",
        "crate::service",
    ];
    for file in rust_files(&workspace().join("shared/src/domain")) {
        let text = fs::read_to_string(&file).unwrap();
        for name in forbidden {
            assert!(!text.contains(name), "{} mentions {name}: the domain must stay pure", file.display());
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_for() {
    for file in source_files() {
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("//!"), "{} must start with a //! line saying what it is for", file.display());
    }
}

#[test]
fn no_source_file_grows_past_400_lines() {
    for file in source_files() {
        let lines = fs::read_to_string(&file).unwrap().lines().count();
        assert!(lines <= 400, "{} has {lines} lines; split it", file.display());
    }
}

#[test]
fn configuration_is_read_only_in_config_and_the_cli() {
    for file in source_files() {
        let text = fs::read_to_string(&file).unwrap();
        let allowed = file.ends_with("cli.rs") || file.ends_with("config.rs") || file.starts_with(workspace().join("tests"));
        assert!(allowed || !text.contains("std::env::var"), "{} reads the environment; go through Config", file.display());
    }
}
