//! The `hookline` command: parses arguments and hands off to the library.

/// mimalloc rather than glibc's malloc: allocation and freeing were a fifth of the server's CPU
/// at fan-out (README, "Benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hookline::allocator::return_freed_memory_soon();
    hookline::cli::main()
}
