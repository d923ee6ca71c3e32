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

/// The core's layers, lowest first, each with the layers it may import from (ARCHITECTURE.md):
/// no arrow points up.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("ports", &["domain"]),
    ("service", &["domain", "ports"]),
    ("adapters", &["domain", "ports"]),
    ("api", &["domain", "ports", "service"]),
    ("config", &["domain", "ports", "service", "adapters", "api"]),
    ("tuning", &["domain", "ports", "service", "adapters", "api", "config"]),
    ("backend", &["domain", "ports", "service", "adapters", "api", "config"]),
];

/// The modules a file names as `crate::<module>`.
fn crate_imports(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(at, found)| text[at + found.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}

#[test]
fn no_layer_of_the_core_imports_one_above_it() {
    let core = workspace().join("shared/src");
    for (layer, allowed) in LAYERS {
        let dir = core.join(layer);
        let files = if dir.is_dir() { rust_files(&dir) } else { vec![core.join(format!("{layer}.rs"))] };
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for module in crate_imports(&text) {
                let fine = module == *layer || module == "VERSION" || allowed.contains(&module.as_str());
                assert!(fine, "{} ({layer}) imports crate::{module}, a layer above it or beside it", file.display());
            }
        }
    }
}

#[test]
fn the_hosts_build_their_adapters_only_through_the_composition_root() {
    let hosts = [workspace().join("local/src"), workspace().join("functions")];
    let constructors = ["SubscriptionStore::new", "EventStore::new", "DeliveryStore::new", "DeliveryQueue::new", "Db::open", "Dynamo::new"];
    for file in hosts.iter().flat_map(|dir| rust_files(dir)) {
        let text = fs::read_to_string(&file).unwrap();
        for constructor in constructors {
            assert!(!text.contains(constructor), "{} builds an adapter itself ({constructor}); use backend::assemble", file.display());
        }
    }
}

#[test]
fn the_dashboard_never_parses_data_as_html() {
    let dashboard = workspace().join("shared/dashboard");
    let mut scripts = 0;
    for entry in fs::read_dir(&dashboard).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "js") {
            scripts += 1;
            let text = fs::read_to_string(&path).unwrap();
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                assert!(!text.contains(sink), "{} uses {sink}: build elements with dom.js's el()", path.display());
            }
        }
    }
    assert!(scripts >= 7, "the dashboard's modules are where this test looks: {scripts}");
}

#[test]
fn unsafe_code_is_allowed_only_where_the_allocator_is_tuned() {
    for file in source_files() {
        let text = fs::read_to_string(&file).unwrap();
        let allowed = file.ends_with("local/src/allocator.rs");
        let allows = text.contains(concat!("allow(", "unsafe_code)"));
        assert!(allowed || !allows, "{} allows unsafe code", file.display());
    }
}
