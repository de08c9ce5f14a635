use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    return_large_allocations_to_the_system();
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

/// glibc raises its mmap threshold to the size of the largest block freed (up to 32 MB),
/// after which a 10 MB import buffer comes from a thread's heap and stays there after it
/// is freed: the process's memory climbs with every concurrent upload and never comes
/// back. A fixed threshold keeps blocks of 256 KB and more in their own mappings, which
/// `free` returns to the system at once.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads
    // allocate (first thing in main).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
