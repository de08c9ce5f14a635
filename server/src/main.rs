use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Plain text when logs go to a file, so request ids can be searched for.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    enclave_server::cli::run(std::env::args().skip(1).collect()).await
}
