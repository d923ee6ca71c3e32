//! The server under measurement, as a child process, so its CPU time and peak memory are
//! its own (read from /proc) and not mixed with the publishers' and the receiver's.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use hookline_core::adapters::jwt::{JwtKeys, mint_hs256};
use hookline_core::config::AuthConfig;
use hookline_core::domain::access::Role;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary whose server is measured, when not this one (`bench --server`).
static SERVER_BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

pub fn measure_binary(path: PathBuf) {
    let _ = SERVER_BINARY.set(path);
}

pub struct ServerProcess {
    child: Child,
    pub address: String,
    data: PathBuf,
    /// An admin token signed with the server's local key.
    pub admin_token: String,
}

impl ServerProcess {
    pub async fn start(label: &str) -> anyhow::Result<Self> {
        let data = std::env::temp_dir().join(format!("hookline-bench-{}-{label}.db", std::process::id()));
        remove_database(&data);
        let binary = match SERVER_BINARY.get() {
            Some(path) => path.clone(),
            None => std::env::current_exe()?,
        };
        let mut child = Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--allow-http", "--allow-net", "127.0.0.0/8"])
            .arg("--data")
            .arg(&data)
            .env("HOOKLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .context("the server did not start")??
            .ok_or_else(|| anyhow!("the server exited"))?;
        // Keep reading what it prints, so it never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let address = line.split_whitespace().find(|w| w.starts_with("http://")).ok_or_else(|| anyhow!("no address in {line}"))?;
        let settings = crate::key_files::jwt_settings(&AuthConfig::default(), &data, false)?;
        let JwtKeys::Hs256(secret) = &settings.keys else { bail!("the bench server uses its local key") };
        let admin_token = mint_hs256(secret, &settings, "bench", &[Role::Admin], Duration::from_secs(3600))?;
        Ok(Self { address: address.to_owned(), child, data, admin_token })
    }

    /// User plus system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let Some(pid) = self.child.id() else { return 0.0 };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks: f64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
        ticks / 100.0
    }

    /// Peak resident memory in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> f64 {
        self.memory_mib("VmHWM:")
    }

    /// Resident memory now, in MiB (VmRSS).
    pub fn rss_mib(&self) -> f64 {
        self.memory_mib("VmRSS:")
    }

    /// One `/proc/<pid>/status` memory field (kB there), in MiB; 0 when it cannot be read.
    fn memory_mib(&self, field: &str) -> f64 {
        let Some(pid) = self.child.id() else { return 0.0 };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib = status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        kib.unwrap_or(0.0) / 1024.0
    }

    /// The sizes of the data file and of its WAL, in MiB.
    pub fn file_sizes_mib(&self) -> (f64, f64) {
        let size = |suffix: &str| std::fs::metadata(format!("{}{suffix}", self.data.display())).map_or(0.0, |m| m.len() as f64 / 1048576.0);
        (size(""), size("-wal"))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        remove_database(&self.data);
    }
}

fn remove_database(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"].into_iter().chain(crate::key_files::SUFFIXES) {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
