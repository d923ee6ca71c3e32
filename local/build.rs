//! Lays out the `hookline` binary for a small resident set (README, "The binary's layout"):
//! the functions a server runs (`code-order.txt`, made by `scripts/code-order.sh`) are linked
//! side by side, and relative relocations are packed. The kernel maps code in 64 KiB runs
//! around each page a process touches, so 3.2 MiB of functions spread over the 14 MiB of code
//! kept about 9.5 MiB of it resident; side by side they keep about 4.
//! Both are linker options for LLD (Rust's default linker on x86-64 Linux), left out for
//! other targets and when another linker is configured, so those builds link as before.

use std::env;
use std::path::Path;
use std::process::Command;

/// The layout's list of functions, beside this file.
const CODE_ORDER: &str = "code-order.txt";

fn main() {
    println!("cargo:rerun-if-changed={CODE_ORDER}");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if !links_with_default_lld() {
        return;
    }
    let order = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join(CODE_ORDER);
    if order.is_file() {
        link_arg(&format!("--symbol-ordering-file={}", order.display()));
        // A function the list names may be gone (renamed, inlined, or its crate's hash changed
        // with a dependency): it is skipped, and the rest are still laid out.
        link_arg("--no-warn-symbol-ordering");
    }
    if runs_where_built() && glibc_reads_packed_relocations() {
        link_arg("-z");
        link_arg("pack-relative-relocs");
    }
}

fn link_arg(arg: &str) {
    println!("cargo:rustc-link-arg-bin=hookline=-Wl,{arg}");
}

/// x86-64 GNU Linux with neither a configured linker nor linker flags of its own.
fn links_with_default_lld() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    target == "x86_64-unknown-linux-gnu" && env::var_os("RUSTC_LINKER").is_none() && !rustflags.contains("link")
}

fn runs_where_built() -> bool {
    env::var("TARGET").ok() == env::var("HOST").ok()
}

/// Packed relocations (`DT_RELR`) need glibc 2.36; an older one refuses the binary at start.
fn glibc_reads_packed_relocations() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else { return false };
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().strip_prefix("glibc ").unwrap_or_default();
    let mut parts = version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}
