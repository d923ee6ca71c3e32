//! `hookline bench`: runs the server as a child process over a fresh SQLite file, drives it
//! over HTTP from concurrent publishers, receives on a loopback receiver of its own, and
//! prints medians of three runs per workload, with the server's CPU time and peak memory.

mod receiver;
mod server_process;
mod workloads;

use clap::Args;

use workloads::{Measurement, Workload};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Runs per workload; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Scales every workload's event count (0.1 for a quick smoke run).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Only these workloads (throughput, fanout, latency); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let receiver = receiver::BenchReceiver::start().await?;
    for workload in Workload::all(args.scale) {
        if !args.only.is_empty() && !args.only.iter().any(|name| name == workload.name()) {
            continue;
        }
        let mut runs = Vec::new();
        for run in 0..args.runs.max(1) {
            let measurement = workload.run(&receiver, run).await?;
            println!("  {} run {}: {}", workload.name(), run + 1, measurement.summary());
            runs.push(measurement);
        }
        println!("{} (median of {}): {}", workload.describe(), runs.len(), Measurement::median(&runs).summary());
    }
    Ok(())
}
