//! Load test of `facewatch watch`: 2,000 images dropped into the watched folder at
//! once, then 20 a second for 2 minutes. At the end the exported table has exactly
//! one row per file. It prints the peak memory (VmHWM) and the key-response
//! distribution, which `docs/robustness.md` records. It takes 4 to 6 minutes.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tmux::{self, Tmux};
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, RgbImage};

const BURST: usize = 2000;
const STREAM_RATE: usize = 20;
const STREAM_SECONDS: usize = 120;

/// Bound on the slowest key response. The target is 100 ms, which the test reports
/// but does not assert, because on a shared CI machine under this load (every core
/// busy with inference) the scheduler alone can delay a capture. A bound of 20 times
/// the target still catches a UI thread that blocks on decoding or inference.
const MAX_KEY_RESPONSE: Duration = Duration::from_secs(2);

/// How long to wait for the backlog to drain after the last file is dropped.
const DRAIN_DEADLINE: Duration = Duration::from_secs(600);

/// Source photos, decoded once: faces and photos without faces.
fn sources() -> Vec<RgbImage> {
    [
        "obama_portrait.jpg",
        "biden_portrait.jpg",
        "obama_and_biden.jpg",
        "biden_standing.jpg",
        "cat.png",
        "rocket.jpg",
    ]
    .iter()
    .map(|name| {
        image::open(common::photos().join("images").join(name))
            .expect("bundled photo")
            .into_rgb8()
    })
    .collect()
}

/// Image number `index`: a crop of one source, at a position and size derived from
/// the index so every image differs, resized to a long side of 256 to 448 px.
fn variant(sources: &[RgbImage], index: usize) -> Vec<u8> {
    let source = &sources[index % sources.len()];
    let (width, height) = source.dimensions();
    let step = (index / sources.len()) as u32;
    let crop_width = width * (80 + step % 20) / 100;
    let crop_height = height * (80 + (step / 20) % 20) / 100;
    let x = (width - crop_width) * (step % 7) / 6;
    let y = (height - crop_height) * (step % 5) / 4;
    let crop = image::imageops::crop_imm(source, x, y, crop_width, crop_height).to_image();
    let long_side = 256 + (step % 8) * 24;
    let scale = f64::from(long_side) / f64::from(crop_width.max(crop_height));
    let resized = image::imageops::resize(
        &crop,
        ((f64::from(crop_width) * scale) as u32).max(1),
        ((f64::from(crop_height) * scale) as u32).max(1),
        FilterType::Triangle,
    );
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(resized)
        .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .expect("encode variant");
    bytes
}

/// Writes all images into `staging`, so dropping one is a rename on the same disk.
fn stage(staging: &Path, count: usize) -> Vec<PathBuf> {
    std::fs::create_dir(staging).expect("create staging folder");
    let sources = sources();
    (0..count)
        .map(|index| {
            let path = staging.join(format!("load_{index:05}.jpg"));
            std::fs::write(&path, variant(&sources, index)).expect("write staged image");
            path
        })
        .collect()
}

fn drop_into(folder: &Path, staged: &Path) {
    let name = staged.file_name().expect("file name");
    std::fs::rename(staged, folder.join(name)).expect("move into watched folder");
}

/// Sends `key` and returns the time until a capture of the pane satisfies `check`.
/// Unlike [`Tmux::wait_for`] it takes the first matching capture, because the
/// progress line changes on every frame while the backlog drains.
fn time_key(tmux: &Tmux, key: &str, what: &str, check: impl Fn(&str) -> bool) -> Duration {
    let sent = Instant::now();
    tmux.keys(&[key]);
    loop {
        let screen = tmux.screen();
        if check(&screen) {
            return sent.elapsed();
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "{what} never appeared after {key}:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Times `?` opening the help overlay and `?` closing it again: two samples.
fn key_responses(tmux: &Tmux, samples: &mut Vec<Duration>) {
    samples.push(time_key(tmux, "?", "the help overlay", |screen| {
        screen.contains("show this help")
    }));
    samples.push(time_key(tmux, "?", "the closed help overlay", |screen| {
        !screen.contains("show this help")
    }));
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Sums the scored, no-face and failed counts of the status line, such as
/// "scored 12 │ passing 12 │ no face 1 │ failed 8 │ idle │ watcher native".
fn status_total(line: &str) -> Option<usize> {
    let count = |label: &str| -> Option<usize> {
        let rest = line.split(label).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    Some(count("scored ")? + count("no face ")? + count("failed ")?)
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index]
}

#[test]
fn burst_and_stream_every_file_once() {
    if !tmux::tmux_installed() {
        eprintln!("SKIPPED burst_and_stream_every_file_once: tmux is not installed");
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    let total = BURST + STREAM_RATE * STREAM_SECONDS;
    let staged = stage(&temp.path().join("staging"), total);
    let export = temp.path().join("table.jsonl");
    let export_arg = export.to_str().expect("UTF-8 temp path");
    let tmux = tmux::start(
        "load",
        &folder,
        &temp.path().join("state"),
        &["--export", export_arg],
    );
    tmux.wait_for("the reference set", |screen| screen.contains("3 used"));
    tmux.keys(&["p"]);
    let pid = tmux.dashboard_pid();
    let rss_start = status_kb(pid, "VmRSS:");

    let mut responses = Vec::new();
    for path in &staged[..BURST] {
        drop_into(&folder, path);
    }
    let stream_started = Instant::now();
    let mut last_probe = Instant::now();
    for (second, chunk) in staged[BURST..].chunks(STREAM_RATE).enumerate() {
        for path in chunk {
            drop_into(&folder, path);
        }
        if last_probe.elapsed() >= Duration::from_secs(2) {
            key_responses(&tmux, &mut responses);
            last_probe = Instant::now();
        }
        let next = Duration::from_secs(second as u64 + 1);
        std::thread::sleep(next.saturating_sub(stream_started.elapsed()));
    }
    let rss_after_drop = status_kb(pid, "VmRSS:");

    let drained = Instant::now();
    loop {
        let screen = tmux.screen();
        if screen
            .lines()
            .any(|line| line.contains(" idle ") && status_total(line) == Some(total))
        {
            break;
        }
        assert!(
            drained.elapsed() < DRAIN_DEADLINE,
            "backlog never drained:\n{screen}"
        );
        if last_probe.elapsed() >= Duration::from_secs(2) {
            key_responses(&tmux, &mut responses);
            last_probe = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let peak_kb = status_kb(pid, "VmHWM:");
    let rss_end = status_kb(pid, "VmRSS:");
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit status", |screen| screen.contains("EXITED"));
    assert!(screen.contains("EXITED 0"), "{screen}");

    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&export)
        .expect("export written on quit")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    let exported: Vec<String> = rows.iter().map(common::faults::row_name).collect();
    let unique: BTreeSet<&String> = exported.iter().collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&folder)
        .expect("list folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let on_disk_refs: BTreeSet<&String> = on_disk.iter().collect();
    let duplicates = exported.len() - unique.len();
    let missing = on_disk_refs.difference(&unique).count();
    let extra = unique.difference(&on_disk_refs).count();

    responses.sort();
    let median = percentile(&responses, 0.5);
    let p95 = percentile(&responses, 0.95);
    let max = *responses.last().expect("key responses measured");
    eprintln!(
        "load: {total} files, {} rows, {duplicates} duplicates, {missing} missing, {extra} extra; \
         drain after last drop {:.1} s; RSS {rss_start} kB at start, {rss_after_drop} kB after the \
         last drop, {rss_end} kB at the end, peak (VmHWM) {peak_kb} kB; key response over {} samples: \
         median {} ms, p95 {} ms, max {} ms",
        rows.len(),
        drained.elapsed().as_secs_f64(),
        responses.len(),
        median.as_millis(),
        p95.as_millis(),
        max.as_millis(),
    );
    assert_eq!(on_disk.len(), total, "files in the folder");
    assert_eq!(duplicates, 0, "duplicate rows");
    assert_eq!(missing, 0, "files without a row");
    assert_eq!(extra, 0, "rows without a file");
    assert_eq!(rows.len(), total, "rows exported");
    assert!(max <= MAX_KEY_RESPONSE, "slowest key response {max:?}");
}
