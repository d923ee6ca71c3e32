//! The coverage-guided entry point: libFuzzer calls the target that `HOOKLINE_FUZZ_TARGET`
//! names. Built and run by `scripts/fuzz.sh`, with coverage instrumentation.

#![no_main]

use std::sync::OnceLock;

use hookline_fuzz::{Target, find};

libfuzzer_sys::fuzz_target!(|data: &[u8]| (selected().run)(data));

fn selected() -> &'static Target {
    static SELECTED: OnceLock<&'static Target> = OnceLock::new();
    SELECTED.get_or_init(|| {
        let name = std::env::var("HOOKLINE_FUZZ_TARGET").unwrap_or_default();
        find(&name).unwrap_or_else(|| {
            eprintln!("HOOKLINE_FUZZ_TARGET must name a target (hookline-fuzz list), not '{name}'");
            std::process::exit(2);
        })
    })
}
