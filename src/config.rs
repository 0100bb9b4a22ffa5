//! The config file and the built-in threshold table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pipeline::AlignSource;
use crate::score::{FaceChoice, Metric};

/// The threshold table shipped with facewatch (`config/thresholds.toml`).
pub const BUILTIN_THRESHOLDS: &str = include_str!("../config/thresholds.toml");

/// The documented default config (`config/facewatch.toml`), every key commented out.
pub const DEFAULT_CONFIG: &str = include_str!("../config/facewatch.toml");

/// Settings read from a config file. Every key is optional; command-line flags win.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub metric: Option<Metric>,
    pub threshold: Option<f32>,
    pub best: Option<usize>,
    pub face: Option<FaceChoice>,
    pub detect_size: Option<toml::Value>,
    pub align_from: Option<AlignSource>,
    pub score_threshold: Option<f32>,
    pub nms_threshold: Option<f32>,
    pub max_pixels: Option<u64>,
    pub intra_threads: Option<usize>,
    pub ort_lib: Option<PathBuf>,
    pub models_dir: Option<PathBuf>,
    pub overlays: Option<PathBuf>,
    #[serde(default)]
    pub thresholds: BTreeMap<String, BTreeMap<String, f32>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Where the config file is: `explicit` (flag), `$FACEWATCH_CONFIG`, or
/// `<config dir>/facewatch/config.toml`, where the config dir is `$XDG_CONFIG_HOME`
/// or `~/.config`. The second value is true when the file must exist.
pub fn config_path(explicit: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(path) = explicit {
        return Some((path.to_path_buf(), true));
    }
    if let Some(path) = std::env::var_os("FACEWATCH_CONFIG").filter(|value| !value.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".config")))?;
    Some((base.join("facewatch").join("config.toml"), false))
}

/// Reads the config file, or returns the defaults when no file is set and the default
/// location has none.
pub fn load(explicit: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>), ConfigError> {
    let Some((path, required)) = config_path(explicit) else {
        return Ok((ConfigFile::default(), None));
    };
    if !required && !path.exists() {
        return Ok((ConfigFile::default(), None));
    }
    let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Read {
        path: path.clone(),
        error,
    })?;
    let config = parse(&text).map_err(|message| ConfigError::Parse {
        path: path.clone(),
        message,
    })?;
    Ok((config, Some(path)))
}

/// Parses config text. Errors name the line, column and key, as the TOML parser reports
/// them.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    let config: ConfigFile =
        toml::from_str(text).map_err(|err| err.to_string().trim_end().to_string())?;
    check_ranges(&config)?;
    for (model, metrics) in &config.thresholds {
        for (metric, value) in metrics {
            if Metric::from_name(metric).is_none() {
                return Err(format!(
                    "unknown metric '{metric}' in [thresholds.{model}]: expected cosine, L2_norm or euclidean"
                ));
            }
            if !(value.is_finite() && *value > 0.0) {
                return Err(format!(
                    "thresholds.{model}.{metric} must be a positive number, got {value}"
                ));
            }
        }
    }
    Ok(config)
}

/// Rejects values that parse but make no sense, naming the key and the valid range.
fn check_ranges(config: &ConfigFile) -> Result<(), String> {
    let in_range = |key: &str, value: Option<f32>, low: f32, high: f32| match value {
        Some(value) if !(value.is_finite() && value > low && value <= high) => Err(format!(
            "invalid {key} = {value}: expected a number above {low} and at most {high}"
        )),
        _ => Ok(()),
    };
    in_range("score_threshold", config.score_threshold, 0.0, 1.0)?;
    in_range("nms_threshold", config.nms_threshold, 0.0, 1.0)?;
    if let Some(value) = config.threshold
        && !(value.is_finite() && value >= 0.0)
    {
        return Err(format!(
            "invalid threshold = {value}: expected a distance of 0 or more (0 = the model's threshold)"
        ));
    }
    if config.max_pixels == Some(0) {
        return Err("invalid max_pixels = 0: expected at least 1 pixel".to_string());
    }
    if config.intra_threads == Some(0) {
        return Err("invalid intra_threads = 0: expected at least 1 thread".to_string());
    }
    Ok(())
}

/// Same-person thresholds per model and metric.
#[derive(Debug, Clone)]
pub struct Thresholds {
    table: BTreeMap<String, BTreeMap<Metric, f32>>,
}

impl Thresholds {
    /// Builds the built-in table with the config file's overrides applied.
    pub fn new(overrides: &BTreeMap<String, BTreeMap<String, f32>>) -> Thresholds {
        let mut table: BTreeMap<String, BTreeMap<Metric, f32>> = BTreeMap::new();
        let builtin: BTreeMap<String, BTreeMap<String, f32>> =
            toml::from_str(BUILTIN_THRESHOLDS).unwrap_or_default();
        for source in [&builtin, overrides] {
            for (model, metrics) in source {
                let entry = table.entry(model.clone()).or_default();
                for (name, value) in metrics {
                    if let Some(metric) = Metric::from_name(name) {
                        entry.insert(metric, *value);
                    }
                }
            }
        }
        Thresholds { table }
    }

    /// Returns the threshold for `model` and `metric`, if the table has one.
    pub fn get(&self, model: &str, metric: Metric) -> Option<f32> {
        self.table.get(model)?.get(&metric).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_sface() {
        let thresholds = Thresholds::new(&BTreeMap::new());
        assert_eq!(thresholds.get("SFace", Metric::Cosine), Some(0.637));
        assert_eq!(thresholds.get("SFace", Metric::L2Norm), Some(1.128));
        assert_eq!(thresholds.get("SFace", Metric::Euclidean), Some(10.734));
    }

    #[test]
    fn override_replaces_one_value() {
        let config = parse("[thresholds.SFace]\ncosine = 0.5\n").unwrap();
        let thresholds = Thresholds::new(&config.thresholds);
        assert_eq!(thresholds.get("SFace", Metric::Cosine), Some(0.5));
        assert_eq!(thresholds.get("SFace", Metric::L2Norm), Some(1.128));
    }

    #[test]
    fn default_config_parses_when_uncommented() {
        let uncommented: String = DEFAULT_CONFIG
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest,
                _ => line,
            })
            .filter(|line| !line.contains("/path/to/"))
            .collect::<Vec<_>>()
            .join("\n");
        let config = parse(&uncommented).unwrap();
        assert_eq!(config.metric, Some(Metric::Cosine));
        assert_eq!(config.best, Some(0));
        assert_eq!(config.thresholds["SFace"]["euclidean"], 10.734);
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let err = parse("metric = \"cosine\"\nthreshhold = 0.5\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("threshhold"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        for text in [
            "score_threshold = 0",
            "nms_threshold = -1",
            "max_pixels = 0",
            "intra_threads = 0",
            "threshold = -2",
        ] {
            let err = parse(text).unwrap_err();
            let key = text.split(' ').next().unwrap();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn bad_metric_value_is_rejected() {
        let err = parse("metric = \"manhattan\"\n").unwrap_err();
        assert!(err.contains("manhattan"), "{err}");
    }
}
