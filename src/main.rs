//! `concierge`: the command-line front of the library. It parses arguments,
//! runs the command (`cli`) and reports errors as one line with a non-zero
//! exit.

mod cli;

use clap::Parser;

/// mimalloc rather than the system allocator: indexing and search make
/// millions of small allocations across threads (feed strings, documents,
/// offers), where glibc's arenas spend a large share of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // A closed pipe (`concierge ... | head`) ends the program quietly, and
    // anything unexpected is one line on stderr, not a trace.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {}",
            message.replace('\n', "; ")
        );
    }));
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', "; "));
            std::process::exit(1);
        }
    }
}
