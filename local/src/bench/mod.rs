//! `hookline bench`: runs the server as a child process over a fresh SQLite file, drives it
//! over HTTP from concurrent publishers, receives on a loopback receiver of its own, and
//! prints medians of three runs per workload, with the server's CPU time and peak memory.

mod receiver;
mod server_process;
mod soak;
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
    /// Only these workloads (loopback, throughput, fanout, fanout-filtered, latency); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run the soak instead, for this many seconds (an hour is what the README reports).
    #[arg(long)]
    pub soak_secs: Option<u64>,
    /// Measure this `hookline` binary's server instead of this one's (another build, side by side).
    #[arg(long)]
    pub server: Option<std::path::PathBuf>,
    /// The soak's steady rate, in events per second (published in batches of 100).
    #[arg(long, default_value_t = 500)]
    pub soak_rate: usize,
    /// Also print each workload's medians as one JSON line (prefixed `json `).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(server) = &args.server {
        server_process::measure_binary(server.clone());
    }
    let receiver = receiver::BenchReceiver::start().await?;
    if let Some(seconds) = args.soak_secs {
        let report_every = std::time::Duration::from_secs(seconds.clamp(10, 600) / 10);
        return soak::Soak { seconds, events_per_second: args.soak_rate, report_every }.run(&receiver).await;
    }
    let (mut loopback_rate, mut fanout_rate) = (None, None);
    for workload in Workload::all(args.scale) {
        if !args.only.is_empty() && !args.only.iter().any(|name| name == workload.name()) {
            continue;
        }
        let mut runs = Vec::new();
        for run in 0..args.runs.max(1) {
            let measurement = match workload.run(&receiver, run).await {
                Ok(measurement) => measurement,
                // Measuring an older build side by side: it has no content filters to measure.
                Err(error) if workload.name() == "fanout-filtered" => {
                    println!("  fanout-filtered skipped: the server refused a filtered webhook ({error})");
                    break;
                }
                Err(error) => return Err(error),
            };
            println!("  {} run {}: {}", workload.name(), run + 1, measurement.summary());
            runs.push(measurement);
        }
        if runs.is_empty() {
            continue;
        }
        let median = Measurement::median(&runs);
        println!("{} (median of {}): {}", workload.describe(), runs.len(), median.summary());
        match (workload.name(), loopback_rate) {
            ("loopback", _) => loopback_rate = Some(median.deliveries_per_sec),
            ("throughput" | "fanout", Some(raw)) => {
                println!("  = {:.1} % of the loopback path's rate ({raw:.0}/s)", 100.0 * median.deliveries_per_sec / raw);
            }
            ("fanout-filtered", _) => {
                if let Some(unfiltered) = fanout_rate {
                    println!("  = {:.3} × the unfiltered fan-out's rate ({unfiltered:.0}/s)", median.deliveries_per_sec / unfiltered);
                }
            }
            _ => {}
        }
        if workload.name() == "fanout" {
            fanout_rate = Some(median.deliveries_per_sec);
        }
        if args.json {
            println!("json {}", median.json(workload.name()));
        }
    }
    Ok(())
}
