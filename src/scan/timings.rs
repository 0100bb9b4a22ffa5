//! Per-stage totals for the benchmark. With `FACEWATCH_STAGE_TIMINGS=FILE` set, `scan`
//! writes them to FILE as JSON when it finishes; `docs/benchmark.md` describes the fields.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::pipeline::StageTimings;

/// Environment variable naming the JSON file that receives the stage totals.
pub const STAGE_TIMINGS_ENV: &str = "FACEWATCH_STAGE_TIMINGS";

/// Time one `scan` spent on its images, in milliseconds.
#[derive(Debug, Serialize)]
struct StageReport {
    images: usize,
    /// Threads that ran the face models.
    workers: usize,
    /// Wall time from the first decode to the last embedding.
    analyze_ms: f64,
    /// Time summed over images (and threads) for each stage.
    stages_ms: StageMillis,
}

#[derive(Debug, Serialize)]
struct StageMillis {
    decode: f64,
    resize: f64,
    detect: f64,
    align: f64,
    embed: f64,
    score: f64,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The totals of one `scan` run over its image files (references excluded).
pub struct ScanTotals {
    pub images: usize,
    pub workers: usize,
    pub analyze: Duration,
    pub stages: StageTimings,
    pub score: Duration,
}

/// Writes `totals` to the file named by [`STAGE_TIMINGS_ENV`], when it is set. A
/// failure is logged, not returned, because the scan itself succeeded.
pub fn write_if_requested(totals: &ScanTotals) {
    let Some(path) = std::env::var_os(STAGE_TIMINGS_ENV).filter(|value| !value.is_empty()) else {
        return;
    };
    let report = StageReport {
        images: totals.images,
        workers: totals.workers,
        analyze_ms: millis(totals.analyze),
        stages_ms: StageMillis {
            decode: millis(totals.stages.decode),
            resize: millis(totals.stages.resize),
            detect: millis(totals.stages.detect),
            align: millis(totals.stages.align),
            embed: millis(totals.stages.embed),
            score: millis(totals.score),
        },
    };
    if let Err(err) = write_json(Path::new(&path), &report) {
        tracing::warn!(path = %Path::new(&path).display(), %err, "stage timings not written");
    }
}

fn write_json(path: &Path, report: &StageReport) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n")
}
