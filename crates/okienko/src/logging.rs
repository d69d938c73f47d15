//! Logs go to stderr through `tracing`; stdout is kept for what commands print (JSON, URLs).

use tracing_subscriber::EnvFilter;

/// `quiet` is for commands whose output is the point (benchmarks, parsers): warnings only,
/// unless OKIENKO_LOG or RUST_LOG says otherwise.
pub fn init(quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        "info,sqlx=warn,hyper=warn"
    };
    let filter = EnvFilter::try_from_env("OKIENKO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
