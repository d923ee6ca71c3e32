//! What the driver watches while a target runs: a panic anywhere in the process (also in a
//! task a runtime would have caught), one input running past its time, and the process's
//! resident memory past a limit. Each is reported with the input that caused it, written to
//! the artifacts folder to replay (`hookline-fuzz <target> --replay <file>`), and ends the run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// How often the watchdog looks.
const TICK: Duration = Duration::from_millis(50);

/// The exit status of a run that found something.
pub const FOUND: i32 = 3;

pub struct Limits {
    pub input_timeout: Duration,
    pub rss_limit_mib: u64,
}

#[derive(Clone)]
pub struct Watch {
    shared: Arc<Shared>,
}

struct Shared {
    target: &'static str,
    artifacts: PathBuf,
    epoch: Instant,
    /// Milliseconds from `epoch` to the current input's start, plus one; 0 between inputs.
    started: AtomicU64,
    current: Mutex<Vec<u8>>,
}

impl Watch {
    /// Installs the panic hook and starts the watchdog thread.
    pub fn start(target: &'static str, artifacts: PathBuf, limits: Limits) -> Self {
        let shared =
            Arc::new(Shared { target, artifacts, epoch: Instant::now(), started: AtomicU64::new(0), current: Mutex::new(Vec::new()) });
        let watch = Self { shared };
        watch.install_panic_hook();
        let watchdog = watch.clone();
        std::thread::spawn(move || watchdog.patrol(&limits));
        watch
    }

    /// Runs one input, recorded as the current one while it runs.
    pub fn run(&self, input: &[u8], target: fn(&[u8])) {
        if let Ok(mut current) = self.shared.current.lock() {
            current.clear();
            current.extend_from_slice(input);
        }
        self.shared.started.store(self.elapsed_ms() + 1, Ordering::SeqCst);
        target(input);
        self.shared.started.store(0, Ordering::SeqCst);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.shared.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn install_panic_hook(&self) {
        let default = std::panic::take_hook();
        let watch = self.clone();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            watch.found("panic", &info.to_string());
        }));
    }

    fn patrol(&self, limits: &Limits) {
        loop {
            std::thread::sleep(TICK);
            let started = self.shared.started.load(Ordering::SeqCst);
            let running_ms = if started == 0 { 0 } else { self.elapsed_ms().saturating_sub(started - 1) };
            if running_ms > u64::try_from(limits.input_timeout.as_millis()).unwrap_or(u64::MAX) {
                self.found("timeout", &format!("one input ran for more than {:?}", limits.input_timeout));
            }
            let rss = resident_mib();
            if rss > limits.rss_limit_mib {
                self.found("memory", &format!("resident memory reached {rss} MiB, past the limit of {} MiB", limits.rss_limit_mib));
            }
        }
    }

    /// Reports a finding with the current input, and ends the process.
    fn found(&self, kind: &str, what: &str) -> ! {
        // The input is copied so a panic while the lock is held cannot deadlock the report.
        let input = self.shared.current.try_lock().map(|current| current.clone()).unwrap_or_default();
        let file = save_artifact(&self.shared.artifacts, self.shared.target, kind, &input);
        eprintln!(
            "\nFOUND {kind} in target {}: {what}\ninput ({} bytes, base64): {}\nsaved to {}",
            self.shared.target,
            input.len(),
            STANDARD.encode(&input),
            file.display()
        );
        std::process::exit(FOUND);
    }
}

fn save_artifact(folder: &Path, target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let file = folder.join(format!("{target}-{kind}-{:016x}", fnv1a(input)));
    if std::fs::create_dir_all(folder).and_then(|()| std::fs::write(&file, input)).is_err() {
        eprintln!("could not save the input to {}", file.display());
    }
    file
}

/// A stable name for an input (the same input always lands in the same file).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The process's resident memory now (`VmRSS`), in MiB.
pub fn resident_mib() -> u64 {
    status_kib("VmRSS:") / 1024
}

/// The most resident memory the process has had (`VmHWM`), in MiB.
pub fn peak_resident_mib() -> u64 {
    status_kib("VmHWM:") / 1024
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
