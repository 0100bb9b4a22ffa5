//! `facewatch scan`: score files once and print the ranking.

mod timings;
mod workers;

pub use workers::{SCAN_WORKERS_ENV, analyze_files};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::cli::{Cli, OutputFormat, ScanArgs};
use crate::overlay::{self, OverlayLabel};
use crate::pipeline::decode;
use crate::ranking::{RankSettings, RankedRow, Ranking, rank};
use crate::record::{ImageRecord, Status};
use crate::references;
use crate::score;
use crate::settings::{self, Engine, Settings};

/// Set by SIGINT, SIGTERM or SIGHUP. Workers stop taking images and the overlay loop
/// stops between files, so an interrupted scan never leaves a partly written overlay.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Replaces the default action of SIGINT, SIGTERM and SIGHUP (an immediate exit) with
/// setting [`INTERRUPTED`].
fn catch_interrupts() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            tracing::info!(signal, "signal received, stopping the scan");
            INTERRUPTED.store(true, Ordering::Relaxed);
        }
    });
    Ok(())
}

/// Runs `scan`. Images that fail are rows with a reason; only setup problems (no
/// runtime, no usable reference) and an interruption are errors.
pub fn run(cli: &Cli, args: &ScanArgs) -> anyhow::Result<()> {
    catch_interrupts()?;
    let settings = settings::resolve(cli, Some(&args.score))?;
    if let Some(dir) = &settings.overlays {
        anyhow::ensure!(
            !dir.exists() || dir.is_dir(),
            "invalid --overlays {}: it is a file, not a folder; name a folder (it is created if missing)",
            dir.display()
        );
    }
    let engine = Engine::load(&settings)?;
    eprintln!(
        "onnxruntime {} from {} ({})",
        engine.runtime.version,
        engine.runtime.library.display(),
        engine.runtime.source
    );
    let mut pipeline = engine.pipeline(&settings.pipeline)?;

    let reference_set = references::build(&mut pipeline, &args.score.references)?;
    let mut stderr = std::io::stderr().lock();
    for line in reference_set.report_lines() {
        writeln!(stderr, "{line}")?;
    }
    drop(stderr);

    let (mut files, problems) = references::expand_inputs(&args.inputs, args.score.recursive);
    if files.is_empty() {
        let listed: Vec<String> = problems
            .iter()
            .map(|(path, message)| format!("  {}: {message}", path.display()))
            .collect();
        anyhow::bail!(
            "nothing to scan: no image found in the paths given\n{}",
            listed.join("\n")
        );
    }
    if let Some(dir) = &settings.overlays {
        files.retain(|file| !is_inside(file, dir));
    }
    warn_about_scanned_references(&files, &reference_set);
    let mut records: Vec<ImageRecord> = problems
        .into_iter()
        .map(|(path, message)| ImageRecord::failed(&path, message))
        .collect();
    let workers = workers::scan_workers();
    let started = Instant::now();
    let (analysed, stages) = analyze_files(&engine, &mut pipeline, &settings, &files, workers);
    let analyze = started.elapsed();
    records.extend(analysed);
    anyhow::ensure!(
        !interrupted(),
        "interrupted by a signal; no table was printed"
    );
    tracing::debug!(?stages, "stage totals");

    let started = Instant::now();
    let ranking = rank(&records, &reference_set.mean, &settings.rank);
    timings::write_if_requested(&timings::ScanTotals {
        images: files.len(),
        workers,
        analyze,
        stages,
        score: started.elapsed(),
    });
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        OutputFormat::Table => write_table(&mut stdout, &records, &ranking, &settings.rank),
        OutputFormat::Csv => write_csv(
            &mut stdout,
            &records,
            &ranking,
            &settings.rank,
            &reference_set.mean,
        ),
        OutputFormat::Jsonl => write_jsonl(
            &mut stdout,
            &records,
            &ranking,
            &settings.rank,
            &reference_set.mean,
        ),
    };
    match written {
        // A closed pipe (`facewatch scan … | head`) is not an error.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    drop(stdout);

    let summary = summary_line(&ranking, &settings.rank);
    if args.format == OutputFormat::Table {
        println!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    if let Some(dir) = &settings.overlays {
        write_overlays(dir, &records, &ranking, &settings);
    }
    Ok(())
}

/// Tells the user when a reference photo is also being scored: it will rank at or near
/// distance 0 and tells nothing about the generated images.
fn warn_about_scanned_references(files: &[PathBuf], references: &references::ReferenceSet) {
    let canonical: Vec<PathBuf> = references
        .photos
        .iter()
        .filter_map(|photo| photo.path.canonicalize().ok())
        .collect();
    for file in files {
        if file
            .canonicalize()
            .is_ok_and(|path| canonical.contains(&path))
        {
            eprintln!(
                "note: {} is also a reference photo, so it scores near 0 against itself",
                file.display()
            );
        }
    }
}

fn is_inside(file: &Path, dir: &Path) -> bool {
    match (file.canonicalize(), dir.canonicalize()) {
        (Ok(file), Ok(dir)) => file.starts_with(dir),
        _ => false,
    }
}

/// Builds the closing line: how many images pass and how close the closest one is.
pub fn summary_line(ranking: &Ranking, settings: &RankSettings) -> String {
    let scored = ranking.scored().count();
    let unscored = ranking.rows.len() - scored;
    let threshold = settings.pass_threshold().map_or_else(
        || "no threshold".to_string(),
        |t| format!("{} ≤ {t:.3}", settings.metric),
    );
    let closest = ranking.closest().map_or_else(
        || "no image has a face".to_string(),
        |d| format!("closest {d:.3}"),
    );
    let mut line = format!(
        "{} of {} pass ({threshold}); {closest}",
        ranking.passed_count(),
        ranking.rows.len()
    );
    if unscored > 0 {
        line.push_str(&format!("; {unscored} without a score"));
    }
    line
}

fn shown_rows(ranking: &Ranking) -> impl Iterator<Item = &RankedRow> {
    ranking
        .rows
        .iter()
        .filter(|row| row.kept || row.score.is_none())
}

fn fmt_opt(value: Option<f32>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn write_table(
    out: &mut impl Write,
    records: &[ImageRecord],
    ranking: &Ranking,
    settings: &RankSettings,
) -> std::io::Result<()> {
    let threshold = settings
        .model_threshold()
        .map_or("none".to_string(), |t| format!("{t:.3}"));
    writeln!(
        out,
        "metric {} (0 = identical; same person at ≤ {threshold}); NORM = distance / threshold, capped at 1",
        settings.metric
    )?;
    writeln!(
        out,
        "{:>4}  {:>8}  {:>5}  {:<4}  {:>5}  {:<7}  FILE",
        "RANK", "DISTANCE", "NORM", "PASS", "FACES", "STATUS"
    )?;
    let mut rank_number = 0;
    for row in shown_rows(ranking) {
        let record = &records[row.record];
        let rank_text = if row.score.is_some() {
            rank_number += 1;
            rank_number.to_string()
        } else {
            "-".to_string()
        };
        let pass = match row.score {
            Some(_) if row.passed => "yes",
            Some(_) => "no",
            None => "-",
        };
        let mut note = String::new();
        if let Some(reason) = &record.reason {
            note = format!("  ({})", crate::record::printable(reason));
        } else if row.score.is_some_and(|score| score.not_largest) {
            note = "  (scored face is not the largest)".to_string();
        }
        writeln!(
            out,
            "{rank_text:>4}  {:>8}  {:>5}  {pass:<4}  {:>5}  {:<7}  {}{note}",
            fmt_opt(row.score.map(|s| s.distance)),
            fmt_opt(row.normalized),
            record.faces.len(),
            record.status.as_str(),
            crate::record::printable(&record.path.display().to_string()),
        )?;
    }
    Ok(())
}

fn write_csv(
    out: &mut impl Write,
    records: &[ImageRecord],
    ranking: &Ranking,
    settings: &RankSettings,
    reference: &[f32],
) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let header = [
        "path",
        "status",
        "reason",
        "faces",
        "distance",
        "normalized",
        "metric",
        "threshold",
        "passed",
        "scored_face",
        "scored_face_is_largest",
    ];
    writer.write_record(header)?;
    for row in shown_rows(ranking) {
        let json = row_json(&records[row.record], row, settings, reference);
        writer.write_record([
            json.path,
            json.status.as_str().to_string(),
            json.reason.unwrap_or_default(),
            json.faces.to_string(),
            json.distance.map(|d| format!("{d:.6}")).unwrap_or_default(),
            json.normalized
                .map(|d| format!("{d:.6}"))
                .unwrap_or_default(),
            json.metric.to_string(),
            json.threshold.map(|d| format!("{d}")).unwrap_or_default(),
            json.passed.to_string(),
            json.scored_face.map(|i| i.to_string()).unwrap_or_default(),
            json.scored_face_is_largest
                .map(|b| b.to_string())
                .unwrap_or_default(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

fn write_jsonl(
    out: &mut impl Write,
    records: &[ImageRecord],
    ranking: &Ranking,
    settings: &RankSettings,
    reference: &[f32],
) -> std::io::Result<()> {
    for row in shown_rows(ranking) {
        let json = row_json(&records[row.record], row, settings, reference);
        serde_json::to_writer(&mut *out, &json)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// One image in `jsonl` and `csv` output.
#[derive(Debug, Serialize)]
pub struct RowJson {
    pub path: String,
    pub status: Status,
    pub reason: Option<String>,
    pub faces: usize,
    #[serde(serialize_with = "shortest_decimal")]
    pub distance: Option<f32>,
    #[serde(serialize_with = "shortest_decimal")]
    pub normalized: Option<f32>,
    pub metric: &'static str,
    #[serde(serialize_with = "shortest_decimal")]
    pub threshold: Option<f32>,
    pub passed: bool,
    pub scored_face: Option<usize>,
    pub scored_face_is_largest: Option<bool>,
    pub width: u32,
    pub height: u32,
    pub face_list: Vec<FaceJson>,
}

#[derive(Debug, Serialize)]
pub struct FaceJson {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    #[serde(serialize_with = "shortest_decimal")]
    pub distance: Option<f32>,
    pub detected_at: [u32; 2],
}

/// Writes an f32 with its shortest decimal form (0.637, not 0.6370000243186951), which
/// is what widening to f64 would otherwise print.
fn shortest_decimal<S: serde::Serializer>(
    value: &Option<f32>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) if value.is_finite() => {
            let widened: f64 = value.to_string().parse().unwrap_or(f64::from(*value));
            serializer.serialize_some(&widened)
        }
        _ => serializer.serialize_none(),
    }
}

pub fn row_json(
    record: &ImageRecord,
    row: &RankedRow,
    settings: &RankSettings,
    reference: &[f32],
) -> RowJson {
    RowJson {
        path: record.path.display().to_string(),
        status: record.status,
        reason: record.reason.clone(),
        faces: record.faces.len(),
        distance: row.score.map(|s| s.distance),
        normalized: row.normalized,
        metric: settings.metric.name(),
        threshold: settings.pass_threshold(),
        passed: row.passed,
        scored_face: row.score.map(|s| s.face),
        scored_face_is_largest: row.score.map(|s| !s.not_largest),
        width: record.width,
        height: record.height,
        face_list: record
            .faces
            .iter()
            .map(|face| FaceJson {
                bbox: face.detection.bbox,
                landmarks: face.detection.landmarks,
                score: face.detection.score,
                distance: Some(score::distance(settings.metric, &face.embedding, reference)),
                detected_at: face.detected_at,
            })
            .collect(),
    }
}

fn write_overlays(dir: &Path, records: &[ImageRecord], ranking: &Ranking, settings: &Settings) {
    let mut written = 0;
    let mut failed = 0;
    for row in ranking.kept_scored() {
        if interrupted() {
            eprintln!("interrupted by a signal: stopped writing overlays");
            break;
        }
        let record = &records[row.record];
        let Some(score) = row.score else { continue };
        let result = decode::decode_file(&record.path, &settings.pipeline.limits)
            .map_err(anyhow::Error::from)
            .and_then(|decoded| {
                let label = OverlayLabel {
                    distance: score.distance,
                    normalized: row.normalized.unwrap_or(1.0),
                    passed: row.passed,
                };
                let image = overlay::render(&decoded.rgb, record.faces.get(score.face), &label);
                let name = overlay::file_name(
                    &record.path,
                    settings.rank.metric.name(),
                    Some(score.distance),
                );
                overlay::save_atomic(&image, dir, &name)
                    .with_context(|| format!("cannot write overlay into {}", dir.display()))
            });
        match result {
            Ok(_) => written += 1,
            Err(err) => {
                failed += 1;
                eprintln!("overlay for {} not written: {err:#}", record.path.display());
            }
        }
    }
    let failures = if failed > 0 {
        format!(", {failed} failed")
    } else {
        String::new()
    };
    eprintln!("overlays: {written} written to {}{failures}", dir.display());
}
