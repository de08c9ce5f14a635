use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: under page load (`ENCLAVE_BENCH_PERF=1
/// scripts/bench-pages`) glibc's malloc, free and their consolidation took a fifth of the
/// server's CPU, and pages are ~25 % faster without them (docs/ARCHITECTURE.md, "Memory").
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

/// mimalloc's defaults keep freed memory for a second and commit arenas whole; a 10 MB
/// import file then left the server ~110 MB above its size at the peak of
/// end2end/tests/hardening.spec.js (the bound is 64 MB). Purging at once and committing
/// on demand measured 44 MB. Set from the process's constructors, before Rust's runtime
/// makes the first allocation (and mimalloc its first arena): in `main` it is too late
/// for that arena, which kept the peak at 65 MB. The numbers are `mi_option_e` in
/// mimalloc.h (3.x), which libmimalloc-sys does not name. (`.init_array` is ELF's: other
/// systems build with mimalloc's defaults.)
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00100"]
static RETURN_FREED_MEMORY_AT_ONCE: extern "C" fn() = return_freed_memory_at_once;

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
extern "C" fn return_freed_memory_at_once() {
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    // SAFETY: setting an option touches mimalloc's option table only; nothing allocates.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}
