//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::pipeline::{AlignSource, DetectSize};
use crate::score::{FaceChoice, Metric};

/// Rank generated images by how much their faces look like a set of reference photos.
#[derive(Debug, Parser)]
#[command(name = "facewatch", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: $FACEWATCH_CONFIG, then ~/.config/facewatch/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// ONNX Runtime library to load (libonnxruntime.so); `ORT_DYLIB_PATH` sets it too.
    #[arg(long, global = true, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,

    /// Folder holding the bundled YuNet and SFace models.
    #[arg(long, global = true, value_name = "DIR")]
    pub models: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score image files or folders once and print a sorted table, CSV or JSON lines.
    Scan(ScanArgs),
    /// Watch a folder and show a live dashboard that ranks every new image.
    Watch(WatchArgs),
    /// Show which ONNX Runtime, models and config facewatch would use, and check them.
    Doctor,
}

/// Options shared by `scan` and `watch`.
#[derive(Debug, Args, Clone)]
pub struct ScoreArgs {
    /// Reference photo or folder of photos of the person; repeat for more. The mean of
    /// their largest faces' embeddings is the target.
    #[arg(short, long = "reference", value_name = "FILE|DIR", required = true)]
    pub references: Vec<PathBuf>,

    /// Distance metric [default: cosine].
    #[arg(short, long, value_enum)]
    pub metric: Option<Metric>,

    /// Keep images at or under this distance; 0 uses the model's same-person threshold.
    #[arg(short, long, value_name = "X", allow_negative_numbers = true)]
    pub threshold: Option<f32>,

    /// Keep only the N closest images; 0 keeps all.
    #[arg(short, long, value_name = "N")]
    pub best: Option<usize>,

    /// Face that scores an image: the closest one, or the largest (the ComfyUI node's
    /// behaviour) [default: best].
    #[arg(long, value_enum)]
    pub face: Option<FaceChoice>,

    /// Long side in pixels of the copy the detector runs on, or "native" for the
    /// image's own size [default: 640].
    #[arg(long, value_name = "PIXELS|native")]
    pub detect_size: Option<DetectSize>,

    /// Take face crops from the detector's copy or from the original pixels
    /// [default: original].
    #[arg(long, value_enum)]
    pub align_from: Option<AlignFrom>,

    /// Write an overlay PNG for every kept image into this folder.
    #[arg(short, long, value_name = "DIR")]
    pub overlays: Option<PathBuf>,

    /// Descend into subfolders.
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

/// Command-line spelling of [`AlignSource`].
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlignFrom {
    Detection,
    Original,
}

impl From<AlignFrom> for AlignSource {
    fn from(value: AlignFrom) -> Self {
        match value {
            AlignFrom::Detection => AlignSource::Detection,
            AlignFrom::Original => AlignSource::Original,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub score: ScoreArgs,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Images or folders to score.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub score: ScoreArgs,

    /// Poll the folder instead of using native file events, optionally every N
    /// milliseconds (default 1000). Use on network and WSL mounts.
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "1000")]
    pub poll: Option<u64>,

    /// Write the table as JSON lines (the format of `scan --format jsonl`) to this
    /// file on the `e` key and on quit. It is replaced atomically and never scored.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,

    /// Folder the generator writes into.
    #[arg(value_name = "FOLDER")]
    pub folder: PathBuf,
}
