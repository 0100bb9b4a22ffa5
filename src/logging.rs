//! Logging with `tracing`. The dashboard logs to a file only, never to the terminal;
//! `scan` and `doctor` log warnings to stderr.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Environment variable with the log filter, in `tracing`'s `EnvFilter` syntax.
pub const LOG_ENV: &str = "FACEWATCH_LOG";

/// `$XDG_STATE_HOME/facewatch/facewatch.log`, or `~/.local/state/facewatch/facewatch.log`.
pub fn log_file_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".local/state")))?;
    Some(base.join("facewatch").join("facewatch.log"))
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logs warnings and errors (or `$FACEWATCH_LOG`) to stderr.
pub fn init_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("warn"))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Logs to the log file through a background writer. Keep the guard alive until the
/// program ends, or the last lines are lost.
pub fn init_file() -> anyhow::Result<(WorkerGuard, PathBuf)> {
    let path = log_file_path()
        .ok_or_else(|| anyhow::anyhow!("cannot find a home folder for the log file"))?;
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&dir)
        .map_err(|err| anyhow::anyhow!("cannot create the log folder {}: {err}", dir.display()))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|err| anyhow::anyhow!("cannot open the log file {}: {err}", path.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok((guard, path))
}
