//! `hookline-fuzz <target>`: replays the target's corpus, then feeds it mutated inputs until
//! the time is up. Exits 3 with the input saved when a target panics, runs an input past the
//! timeout or the process passes the memory limit; `--replay <file>` runs saved inputs again.
//! `hookline-fuzz list` names the targets.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use hookline_fuzz::mutate::Mutator;
use hookline_fuzz::watch::{Limits, Watch, peak_resident_mib};
use hookline_fuzz::{TARGETS, Target, corpus_dir, find};

#[derive(Parser)]
#[command(name = "hookline-fuzz", about = "Fuzzes one of Hookline's network-input parsers from its corpus.")]
struct Args {
    /// The target to run (`list` names them).
    target: String,
    /// How long to mutate after replaying the corpus.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The corpus folder (default: fuzz/corpus/<target>).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// The mutator's seed (default: from the clock); the same seed makes the same inputs.
    #[arg(long)]
    seed: Option<u64>,
    /// The longest input made, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_len: usize,
    /// How long one input may run.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// The most resident memory the process may reach, in MiB.
    #[arg(long, default_value_t = 1024)]
    rss_limit_mib: u64,
    /// Where an input that found something is saved.
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// Run only these saved inputs, once each.
    #[arg(long, num_args = 1..)]
    replay: Vec<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if args.target == "list" {
        TARGETS.iter().for_each(|target| println!("{}", target.name));
        return;
    }
    let Some(target) = find(&args.target) else {
        let names: Vec<&str> = TARGETS.iter().map(|target| target.name).collect();
        eprintln!("hookline-fuzz: no target named '{}' (targets: {})", args.target, names.join(", "));
        std::process::exit(2);
    };
    let artifacts = args.artifacts.clone().unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"));
    let limits = Limits { input_timeout: Duration::from_secs(args.timeout_secs), rss_limit_mib: args.rss_limit_mib };
    let watch = Watch::start(target.name, artifacts, limits);
    if args.replay.is_empty() {
        fuzz(target, &watch, &args);
    } else {
        let inputs = args.replay.iter().map(|file| read(file)).collect::<Vec<_>>();
        inputs.iter().for_each(|input| watch.run(input, target.run));
        println!("{}: replayed {} inputs, nothing found", target.name, inputs.len());
    }
    let _ = std::fs::remove_dir_all(hookline_fuzz::targets::scratch_dir());
}

fn fuzz(target: &Target, watch: &Watch, args: &Args) {
    let folder = args.corpus.clone().unwrap_or_else(|| corpus_dir(target.name));
    let corpus = load(&folder);
    let started = Instant::now();
    corpus.iter().for_each(|input| watch.run(input, target.run));
    let seed = args.seed.unwrap_or_else(|| u64::from(std::process::id()) ^ u64::from(started.elapsed().subsec_nanos()) ^ clock_seed());
    let mut mutator = Mutator::new(seed, target.dictionary, args.max_len);
    let deadline = started + Duration::from_secs(args.seconds);
    let mut mutated = 0u64;
    while Instant::now() < deadline {
        let base = mutator.pick(&corpus);
        let input = mutator.mutate(base, &corpus);
        watch.run(&input, target.run);
        mutated += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let total = mutated + corpus.len() as u64;
    println!(
        "{}: {total} inputs ({} from the corpus, {mutated} mutated) in {seconds:.1} s ({:.0}/s), seed {seed}, peak RSS {} MiB: nothing found",
        target.name,
        corpus.len(),
        total as f64 / seconds,
        peak_resident_mib()
    );
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64)
}

/// Every file of the folder, in name order (a missing folder is an empty corpus).
fn load(folder: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder).into_iter().flatten().flatten().map(|entry| entry.path()).collect();
    files.sort();
    files.iter().filter(|file| file.is_file()).map(|file| read(file)).collect()
}

fn read(file: &Path) -> Vec<u8> {
    std::fs::read(file).unwrap_or_else(|error| {
        eprintln!("hookline-fuzz: cannot read {}: {error}", file.display());
        std::process::exit(2);
    })
}
