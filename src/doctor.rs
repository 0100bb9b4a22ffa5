//! `facewatch doctor`: what facewatch would load, and whether it works.

use std::fmt::Write as _;

use crate::cli::Cli;
use crate::models::{self, DETECTOR, RECOGNIZER};
use crate::runtime::{self, TESTED_VERSION};
use crate::settings::{self, Engine};

/// Prints the runtime library, models and config in use and checks each one. Returns
/// an error when something facewatch needs is broken.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let mut report = String::new();
    let mut problems = 0;

    let settings = match settings::resolve(cli, None) {
        Ok(settings) => settings,
        Err(err) => {
            write_stdout(&format!("config: ERROR {err:#}\n"))?;
            anyhow::bail!("the config file is invalid");
        }
    };
    match &settings.config_path {
        Some(path) => writeln!(report, "config: {} (ok)", path.display())?,
        None => {
            let default =
                crate::config::config_path(None).map(|(path, _)| path.display().to_string());
            writeln!(
                report,
                "config: none (defaults; would read {})",
                default.unwrap_or_default()
            )?
        }
    }

    match runtime::load(settings.ort_lib.clone()) {
        Ok(loaded) => {
            writeln!(
                report,
                "onnxruntime: {} version {} ({}; tested with {TESTED_VERSION})",
                loaded.library.display(),
                loaded.version,
                loaded.source
            )?;
            for (path, reason) in &loaded.skipped {
                writeln!(report, "  skipped {}: {reason}", path.display())?;
            }
            if let Some(warning) = loaded.version_warning() {
                writeln!(report, "  WARNING: {warning}")?;
            }
        }
        Err(err) => {
            problems += 1;
            writeln!(report, "onnxruntime: ERROR {err}")?;
        }
    }

    match models::load(settings.models_dir.as_deref()) {
        Ok(files) => {
            writeln!(report, "models: {}", files.dir.display())?;
            for model in [DETECTOR, RECOGNIZER] {
                writeln!(
                    report,
                    "  {} sha256 {} (verified) — {}",
                    model.file_name, model.sha256, model.description
                )?;
            }
        }
        Err(err) => {
            problems += 1;
            writeln!(report, "models: ERROR {err}")?;
        }
    }

    if problems == 0 {
        match Engine::load(&settings).and_then(|engine| engine.pipeline(&settings.pipeline)) {
            Ok(mut pipeline) => {
                let probe = image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]));
                match pipeline.analyze(&probe) {
                    Ok(_) => writeln!(
                        report,
                        "sessions: both models load and run (checked on a blank 64×64 image)"
                    )?,
                    Err(err) => {
                        problems += 1;
                        writeln!(report, "sessions: ERROR {err}")?;
                    }
                }
            }
            Err(err) => {
                problems += 1;
                writeln!(report, "sessions: ERROR {err:#}")?;
            }
        }
    }
    writeln!(
        report,
        "thresholds ({}): {}",
        settings.rank.model,
        crate::score::Metric::ALL
            .iter()
            .map(|metric| format!(
                "{metric} {}",
                settings
                    .rank
                    .thresholds
                    .get(&settings.rank.model, *metric)
                    .map_or("-".to_string(), |t| t.to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    if let Some(log) = crate::logging::log_file_path() {
        writeln!(report, "log file (watch): {}", log.display())?;
    }
    if problems == 0 {
        report.push_str("all checks passed\n");
    }
    write_stdout(&report)?;
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// Writes to stdout; a closed pipe (`facewatch doctor | head -1`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
