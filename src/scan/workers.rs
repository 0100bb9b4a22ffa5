//! Scanning many files at once: a few worker threads, each with its own pipeline, take
//! whole images from a shared counter, so one image's decoding overlaps another's
//! inference and every core stays busy.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::pipeline::decode;
use crate::pipeline::{Pipeline, StageTimings};
use crate::record::{ImageRecord, Status};
use crate::settings::{Engine, Settings};

/// Environment variable that sets the number of worker threads of `scan`. `1` decodes
/// and analyses every image on the calling thread, which the benchmark uses to time each
/// stage without contention.
pub const SCAN_WORKERS_ENV: &str = "FACEWATCH_SCAN_WORKERS";

/// Returns the worker count from [`SCAN_WORKERS_ENV`], or the number of cores when it is
/// unset or not a positive integer.
pub fn scan_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    std::env::var(SCAN_WORKERS_ENV)
        .ok()
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|&count| count >= 1)
        .unwrap_or(cores)
}

/// Records made by one worker thread, tagged with their index in the file list, and
/// its stage totals.
#[derive(Default)]
struct WorkerOutput {
    records: Vec<(usize, ImageRecord)>,
    timings: StageTimings,
}

/// The shared work list and progress counter.
struct Queue<'a> {
    files: &'a [PathBuf],
    next: AtomicUsize,
    done: AtomicUsize,
    show_progress: bool,
}

impl Queue<'_> {
    fn take(&self) -> Option<(usize, &Path)> {
        if super::interrupted() {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        self.files.get(index).map(|path| (index, path.as_path()))
    }

    fn finish_one(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.show_progress {
            eprint!("\rscanned {done}/{}", self.files.len());
        }
    }
}

/// Analyses `files` on up to `workers` threads. The calling thread uses `pipeline`, and
/// each extra thread loads its own from `engine` (a thread whose models fail to load
/// logs the error and takes no files). Returns one record per file, in the order given,
/// and the stage totals summed over threads.
pub fn analyze_files(
    engine: &Engine,
    pipeline: &mut Pipeline,
    settings: &Settings,
    files: &[PathBuf],
    workers: usize,
) -> (Vec<ImageRecord>, StageTimings) {
    let queue = Queue {
        files,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        show_progress: std::io::stderr().is_terminal() && files.len() > 1,
    };
    let extra_workers = workers.clamp(1, files.len().max(1)) - 1;
    let outputs = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..extra_workers)
            .map(|_| scope.spawn(|| run_extra_worker(engine, settings, &queue)))
            .collect();
        let mut outputs = vec![run_worker(pipeline, settings, &queue)];
        for handle in handles {
            match handle.join() {
                Ok(output) => outputs.push(output),
                Err(_) => tracing::error!(
                    "scan worker thread panicked; its images are reported as errors"
                ),
            }
        }
        outputs
    });
    if queue.show_progress {
        eprint!("\r\x1b[K");
    }
    collect(files, outputs)
}

fn run_extra_worker(engine: &Engine, settings: &Settings, queue: &Queue) -> WorkerOutput {
    match engine.pipeline(&settings.pipeline) {
        Ok(mut pipeline) => run_worker(&mut pipeline, settings, queue),
        Err(err) => {
            tracing::warn!("scan worker not started, the other workers take its files: {err:#}");
            WorkerOutput::default()
        }
    }
}

fn run_worker(pipeline: &mut Pipeline, settings: &Settings, queue: &Queue) -> WorkerOutput {
    let mut output = WorkerOutput::default();
    while let Some((index, path)) = queue.take() {
        let record = analyze_file(pipeline, settings, path, &mut output.timings);
        output.records.push((index, record));
        queue.finish_one();
    }
    output
}

/// Decodes and analyses one file, adding its stage times to `totals`.
fn analyze_file(
    pipeline: &mut Pipeline,
    settings: &Settings,
    path: &Path,
    totals: &mut StageTimings,
) -> ImageRecord {
    let started = Instant::now();
    let decoded = decode::decode_file(path, &settings.pipeline.limits);
    totals.decode += started.elapsed();
    let record = match decoded {
        Err(err) => ImageRecord::failed(path, err.to_string()),
        Ok(decoded) => match pipeline.analyze(&decoded.rgb) {
            Ok(analysis) => {
                add_timings(totals, &analysis.timings);
                ImageRecord::from_analysis(path, &analysis)
            }
            Err(err) => ImageRecord::failed(path, format!("face models failed: {err}")),
        },
    };
    if record.status == Status::Error {
        tracing::info!(path = %path.display(), reason = record.reason.as_deref().unwrap_or(""), "image not scored");
    }
    record
}

fn add_timings(totals: &mut StageTimings, one: &StageTimings) {
    totals.decode += one.decode;
    totals.resize += one.resize;
    totals.detect += one.detect;
    totals.align += one.align;
    totals.embed += one.embed;
}

/// Puts the records back in file order. A file left without a record, because its
/// worker thread panicked, gets an error record.
fn collect(files: &[PathBuf], outputs: Vec<WorkerOutput>) -> (Vec<ImageRecord>, StageTimings) {
    let mut slots: Vec<Option<ImageRecord>> = vec![None; files.len()];
    let mut totals = StageTimings::default();
    for output in outputs {
        add_timings(&mut totals, &output.timings);
        for (index, record) in output.records {
            slots[index] = Some(record);
        }
    }
    let records = slots
        .into_iter()
        .zip(files)
        .map(|(slot, path)| {
            slot.unwrap_or_else(|| {
                ImageRecord::failed(path, "scan worker thread panicked".to_string())
            })
        })
        .collect();
    (records, totals)
}
