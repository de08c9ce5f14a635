use std::process::ExitCode;

/// mimalloc instead of glibc's malloc. Under page load (`ENCLAVE_BENCH_PERF=1
/// scripts/bench-pages`) glibc's malloc, free and their consolidation took a fifth of the
/// server's CPU. It also gives freed pages back to the system (about a second after the
/// free), a freed 10 MB import buffer's included, which glibc did only with its mmap
/// threshold pinned by `mallopt` (its default rises to the largest block freed, and the
/// process's memory climbed with every upload): end2end/tests/hardening.spec.js bounds
/// the peak, the soak and fuzz suites the growth.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let storms = std::sync::Arc::new(enclave_server::log_storm::StormLimit::new());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Plain text when logs go to a file, so request ids can be searched for.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into()),
                )
                .with_filter(tracing_subscriber::filter::dynamic_filter_fn(
                    move |m, _| storms.allow(m),
                )),
        )
        .init();
    enclave_server::cli::run(std::env::args_os()).await
}
