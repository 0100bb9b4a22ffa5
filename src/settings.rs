//! Effective settings: command-line flags over the config file over the defaults.

use std::path::PathBuf;

use crate::cli::{Cli, ScoreArgs};
use crate::config::{self, ConfigFile, Thresholds};
use crate::models::{self, ModelFiles, RECOGNIZER_NAME};
use crate::pipeline::decode::DecodeLimits;
use crate::pipeline::detect::DetectorParams;
use crate::pipeline::{DetectSize, Pipeline, PipelineOptions};
use crate::ranking::RankSettings;
use crate::runtime::{self, Runtime};
use crate::score::Metric;

/// Everything a command needs to know before it starts work.
#[derive(Debug, Clone)]
pub struct Settings {
    pub pipeline: PipelineOptions,
    pub rank: RankSettings,
    pub overlays: Option<PathBuf>,
    pub ort_lib: Option<(PathBuf, &'static str)>,
    pub models_dir: Option<PathBuf>,
    pub config_path: Option<PathBuf>,
}

/// Reads the config file and merges it with the global flags and, when given, the
/// scoring flags of `scan` or `watch`.
pub fn resolve(cli: &Cli, score: Option<&ScoreArgs>) -> anyhow::Result<Settings> {
    let (file, config_path) = config::load(cli.config.as_deref())?;
    resolve_with(cli, score, file, config_path)
}

fn resolve_with(
    cli: &Cli,
    score: Option<&ScoreArgs>,
    file: ConfigFile,
    config_path: Option<PathBuf>,
) -> anyhow::Result<Settings> {
    let detect_size = match (score.and_then(|args| args.detect_size), &file.detect_size) {
        (Some(size), _) => size,
        (None, Some(value)) => parse_detect_size(value)?,
        (None, None) => PipelineOptions::default().detect_size,
    };
    let defaults = PipelineOptions::default();
    let detector = DetectorParams {
        score_threshold: file
            .score_threshold
            .unwrap_or(defaults.detector.score_threshold),
        nms_threshold: file
            .nms_threshold
            .unwrap_or(defaults.detector.nms_threshold),
        ..defaults.detector
    };
    let limits = DecodeLimits {
        max_pixels: file.max_pixels.unwrap_or(defaults.limits.max_pixels),
        ..defaults.limits
    };
    let pipeline = PipelineOptions {
        detect_size,
        detector,
        align_source: score
            .and_then(|args| args.align_from.map(Into::into))
            .or(file.align_from)
            .unwrap_or(defaults.align_source),
        limits,
        intra_threads: file.intra_threads.unwrap_or(defaults.intra_threads),
    };

    let filter_threshold = score.and_then(|args| args.threshold).or(file.threshold);
    if let Some(value) = filter_threshold {
        anyhow::ensure!(
            value.is_finite() && value >= 0.0,
            "invalid threshold {value}: expected a distance of 0 or more (0 = the model's threshold)"
        );
    }
    let rank = RankSettings {
        metric: score
            .and_then(|args| args.metric)
            .or(file.metric)
            .unwrap_or(Metric::Cosine),
        model: RECOGNIZER_NAME.to_string(),
        thresholds: Thresholds::new(&file.thresholds),
        filter_threshold,
        best: score.and_then(|args| args.best).or(file.best).unwrap_or(0),
        face: score
            .and_then(|args| args.face)
            .or(file.face)
            .unwrap_or_default(),
    };

    // An empty ORT_DYLIB_PATH counts as unset.
    let from_env = std::env::var_os("ORT_DYLIB_PATH")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let ort_lib = match (&cli.ort_lib, from_env, &file.ort_lib) {
        (Some(path), _, _) => Some((path.clone(), "--ort-lib")),
        (None, Some(path), _) => Some((path, "ORT_DYLIB_PATH")),
        (None, None, Some(path)) => Some((path.clone(), "ort_lib in the config file")),
        (None, None, None) => None,
    };
    Ok(Settings {
        pipeline,
        rank,
        overlays: score
            .and_then(|args| args.overlays.clone())
            .or(file.overlays),
        ort_lib,
        models_dir: cli.models.clone().or(file.models_dir),
        config_path,
    })
}

fn parse_detect_size(value: &toml::Value) -> anyhow::Result<DetectSize> {
    let text = match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Integer(number) => number.to_string(),
        other => anyhow::bail!(
            "invalid detect_size {other} in the config file: expected \"native\" or pixels"
        ),
    };
    text.parse::<DetectSize>()
        .map_err(|message| anyhow::anyhow!("config file: {message}"))
}

/// The loaded runtime and models, ready to build pipelines from.
pub struct Engine {
    pub runtime: std::sync::Arc<Runtime>,
    pub models: ModelFiles,
}

impl Engine {
    /// Loads ONNX Runtime and reads the verified model files.
    pub fn load(settings: &Settings) -> anyhow::Result<Engine> {
        let runtime = runtime::load(settings.ort_lib.clone())?;
        if let Some(warning) = runtime.version_warning() {
            tracing::warn!("{warning}");
        }
        let models = models::load(settings.models_dir.as_deref())?;
        Ok(Engine { runtime, models })
    }

    pub fn pipeline(&self, options: &PipelineOptions) -> anyhow::Result<Pipeline> {
        Ok(Pipeline::new(&self.runtime, &self.models, options.clone())?)
    }
}
