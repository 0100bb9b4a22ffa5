//! `facewatch scan` and `facewatch doctor` as a user runs them, on the bundled photos.

mod common;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn facewatch() -> Command {
    let mut command = Command::cargo_bin("facewatch").expect("binary");
    command
        .current_dir(common::repo())
        .env_remove("ORT_DYLIB_PATH")
        .env("FACEWATCH_CONFIG", "");
    command
}

fn scan(args: &[&str]) -> (String, String, i32) {
    let output = facewatch()
        .arg("scan")
        .args(["--reference", "tests/photos/reference"])
        .args(args)
        .output()
        .expect("run facewatch");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

fn jsonl(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn name_of(row: &Value) -> String {
    Path::new(row["path"].as_str().expect("path"))
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn table_ranks_matches_first() {
    let (stdout, stderr, code) = scan(&["tests/photos/images"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("references: 3 of 3 photos used"),
        "{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("metric cosine"), "{stdout}");
    assert!(
        lines[1].contains("DISTANCE") && lines[1].contains("NORM"),
        "{stdout}"
    );
    for line in &lines[2..7] {
        assert!(line.contains("obama"), "{line}");
        assert!(line.contains(" yes "), "{line}");
    }
    for line in &lines[7..9] {
        assert!(line.contains("biden_"), "{line}");
        assert!(line.contains(" no "), "{line}");
    }
    assert!(
        stdout.contains("no_face  tests/photos/images/cat.png  (no face found at detection sizes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error    tests/photos/images/zero_bytes.jpg  (empty file"),
        "{stdout}"
    );
    let summary = stdout.lines().last().expect("summary");
    assert!(
        summary.starts_with("5 of 14 pass (cosine ≤ 0.637); closest 0.0"),
        "{summary}"
    );
    assert!(summary.ends_with("; 7 without a score"), "{summary}");
}

#[test]
fn jsonl_has_documented_fields() {
    let (stdout, stderr, code) = scan(&[
        "--format",
        "jsonl",
        "--metric",
        "L2_norm",
        "tests/photos/images",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rows = jsonl(&stdout);
    assert_eq!(rows.len(), 14);
    for key in [
        "path",
        "status",
        "reason",
        "faces",
        "distance",
        "normalized",
        "metric",
        "threshold",
        "passed",
    ] {
        assert!(
            rows.iter().all(|row| row.get(key).is_some()),
            "missing {key}"
        );
    }
    let first = &rows[0];
    assert_eq!(first["status"], "ok");
    assert_eq!(first["metric"], "L2_norm");
    assert_eq!(first["threshold"], serde_json::json!(1.128));
    let face = &first["face_list"][0];
    assert_eq!(face["box"].as_array().expect("box").len(), 4);
    assert_eq!(face["landmarks"].as_array().expect("landmarks").len(), 5);
    assert!(face["score"].as_f64().expect("score") > 0.9);
    assert!(face["distance"].as_f64().is_some());

    let no_face = rows
        .iter()
        .find(|row| name_of(row) == "coffee.png")
        .expect("coffee row");
    assert_eq!(no_face["status"], "no_face");
    assert_eq!(no_face["distance"], Value::Null);
    assert_eq!(no_face["passed"], false);
    let broken = rows
        .iter()
        .find(|row| name_of(row) == "text_named_png.png")
        .expect("text row");
    assert_eq!(broken["status"], "error");
    assert!(
        broken["reason"]
            .as_str()
            .expect("reason")
            .contains("not an image")
    );

    let group = rows
        .iter()
        .find(|row| name_of(row) == "obama_and_biden.jpg")
        .expect("group row");
    assert_eq!(group["faces"], 2);
    assert_eq!(group["scored_face_is_largest"], false);
}

#[test]
fn threshold_and_best_filter_rows() {
    let (stdout, _, code) = scan(&[
        "--format",
        "jsonl",
        "--threshold",
        "0",
        "tests/photos/images",
    ]);
    assert_eq!(code, 0);
    let scored: Vec<Value> = jsonl(&stdout)
        .into_iter()
        .filter(|row| row["status"] == "ok")
        .collect();
    assert_eq!(scored.len(), 5);
    assert!(scored.iter().all(|row| row["passed"] == true));

    let (stdout, _, _) = scan(&["--format", "jsonl", "tests/photos/images"]);
    let all: Vec<String> = jsonl(&stdout).iter().map(name_of).collect();
    let (stdout, _, _) = scan(&["--format", "jsonl", "--best", "2", "tests/photos/images"]);
    let scored: Vec<Value> = jsonl(&stdout)
        .into_iter()
        .filter(|row| row["status"] == "ok")
        .collect();
    let names: Vec<String> = scored.iter().map(name_of).collect();
    assert_eq!(names, all[..2]);
}

#[test]
fn nothing_passing_is_said_and_exits_zero() {
    let (stdout, _, code) = scan(&["--threshold", "0.01", "tests/photos/images"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("0 of 14 pass (cosine ≤ 0.010); closest 0.0"),
        "{stdout}"
    );
}

#[test]
fn csv_has_header_and_rows() {
    let (stdout, _, code) = scan(&["--format", "csv", "tests/photos/images/obama_portrait.jpg"]);
    assert_eq!(code, 0);
    let mut lines = stdout.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("path,status,reason,faces,distance,normalized")
    );
    assert!(
        lines
            .next()
            .expect("row")
            .contains("obama_portrait.jpg,ok,,1,")
    );
}

#[test]
fn same_photo_scores_exactly_zero() {
    for metric in ["cosine", "L2_norm", "euclidean"] {
        let output = facewatch()
            .args(["scan", "--format", "jsonl", "--metric", metric])
            .args([
                "--reference",
                "tests/photos/images/obama_portrait.jpg",
                "tests/photos/images/obama_portrait.jpg",
            ])
            .output()
            .expect("run");
        let rows = jsonl(&String::from_utf8_lossy(&output.stdout));
        assert_eq!(rows[0]["distance"], serde_json::json!(0.0), "{metric}");
    }
}

#[test]
fn overlays_are_written_and_originals_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    for name in ["obama_portrait.jpg", "biden_portrait.jpg", "cat.png"] {
        std::fs::copy(
            common::photos().join("images").join(name),
            images.join(name),
        )
        .expect("copy");
    }
    let before = hashes(&images);
    let overlays = dir.path().join("overlays");
    let (_, stderr, code) = scan(&[
        "--overlays",
        overlays.to_str().expect("utf-8"),
        images.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(hashes(&images), before, "originals changed");
    let mut written: Vec<String> = std::fs::read_dir(&overlays)
        .expect("overlay dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(
        written[1].starts_with("obama_portrait.cosine-0.1"),
        "{written:?}"
    );
    let overlay = image::open(overlays.join(&written[1]))
        .expect("overlay opens")
        .into_rgb8();
    assert_eq!(overlay.dimensions(), (1434, 2333));
}

fn hashes(dir: &Path) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            (
                path.display().to_string(),
                facewatch::models::sha256_hex(&bytes),
            )
        })
        .collect();
    list.sort();
    list
}

#[test]
fn faceless_reference_is_named_not_dropped() {
    let output = facewatch()
        .args([
            "scan",
            "--reference",
            "tests/photos/reference",
            "--reference",
            "tests/photos/images/cat.png",
        ])
        .arg("tests/photos/images/obama_portrait.jpg")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("references: 3 of 4 photos used"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cat.png: NOT USED: no face found"),
        "{stderr}"
    );
}

#[test]
fn no_usable_reference_is_fatal() {
    let output = facewatch()
        .args([
            "scan",
            "--reference",
            "tests/photos/images/cat.png",
            "--reference",
            "no/such/photo.jpg",
        ])
        .arg("tests/photos/images/obama_portrait.jpg")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no usable reference photo"), "{stderr}");
    assert!(stderr.contains("cat.png: NOT USED"), "{stderr}");
    assert!(
        stderr.contains("no/such/photo.jpg: NOT USED: cannot open"),
        "{stderr}"
    );
}

#[test]
fn unknown_metric_is_rejected() {
    let (_, stderr, code) = scan(&["--metric", "manhattan", "tests/photos/images"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("manhattan"), "{stderr}");
}

#[test]
fn doctor_reports_runtime_and_models() {
    let output = facewatch().arg("doctor").output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("version 1.32.0"), "{stdout}");
    assert!(stdout.contains("(verified)"), "{stdout}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn missing_runtime_lists_places_and_fix() {
    let output = facewatch()
        .args([
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
            "scan",
            "--reference",
            "tests/photos/reference",
            "tests/photos/images",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/libonnxruntime.so"),
        "{stderr}"
    );
    assert!(stderr.contains("make ort"), "{stderr}");
}

#[test]
fn corrupted_model_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    for model in [facewatch::models::DETECTOR, facewatch::models::RECOGNIZER] {
        std::fs::copy(
            common::repo().join("models").join(model.file_name),
            dir.path().join(model.file_name),
        )
        .expect("copy");
    }
    let detector = dir.path().join(facewatch::models::DETECTOR.file_name);
    let mut bytes = std::fs::read(&detector).expect("read");
    bytes[1000] ^= 0xFF;
    std::fs::write(&detector, bytes).expect("write");
    let output = facewatch()
        .args([
            "--models",
            dir.path().to_str().expect("utf-8"),
            "scan",
            "--reference",
            "tests/photos/reference",
            "tests/photos/images",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("yunet_2023mar_fold_dyn.onnx is corrupted"),
        "{stderr}"
    );
    assert!(stderr.contains("git checkout -- models/"), "{stderr}");
}

#[test]
fn config_error_names_line_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "metric = \"cosine\"\nbestt = 3\n").expect("write");
    let output = facewatch()
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "scan",
            "--reference",
            "tests/photos/reference",
            "tests/photos/images",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("bestt"), "{stderr}");
}

#[test]
fn scanned_reference_is_pointed_out() {
    let output = facewatch()
        .args([
            "scan",
            "--reference",
            "tests/photos/images/obama_portrait.jpg",
            "tests/photos/images",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("obama_portrait.jpg is also a reference photo"),
        "{stderr}"
    );
}

#[test]
fn fifo_gets_a_row_instead_of_hanging() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        common::photos().join("images/obama_portrait.jpg"),
        dir.path().join("a.jpg"),
    )
    .expect("copy");
    let fifo = dir.path().join("pipe.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let (stdout, stderr, code) = scan(&["--format", "jsonl", dir.path().to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{stderr}");
    let rows = jsonl(&stdout);
    assert_eq!(rows.len(), 2);
    let pipe = rows
        .iter()
        .find(|row| name_of(row) == "pipe.png")
        .expect("pipe row");
    assert_eq!(pipe["status"], "error");
    assert!(
        pipe["reason"]
            .as_str()
            .expect("reason")
            .contains("not a regular file")
    );
}

#[test]
fn control_characters_in_names_are_not_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "x\u{1b}]0;title\u{7}\u{1b}[31mred.jpg";
    std::fs::copy(
        common::photos().join("images/obama_portrait.jpg"),
        dir.path().join(name),
    )
    .expect("copy");
    let (stdout, _, code) = scan(&[dir.path().to_str().expect("utf-8")]);
    assert_eq!(code, 0);
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(
        stdout.contains("x\u{FFFD}]0;title\u{FFFD}\u{FFFD}[31mred.jpg"),
        "{stdout:?}"
    );
}

#[test]
fn nothing_to_scan_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, stderr, code) = scan(&[dir.path().to_str().expect("utf-8"), "no/such/folder"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nothing to scan"), "{stderr}");
    assert!(stderr.contains("folder contains no images"), "{stderr}");
    assert!(stderr.contains("no/such/folder: cannot open"), "{stderr}");
}

#[test]
fn negative_threshold_gets_a_clear_message() {
    let (_, stderr, code) = scan(&["--threshold", "-1", "tests/photos/images"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid threshold -1"), "{stderr}");
}

#[test]
fn empty_ort_dylib_path_is_ignored() {
    let output = facewatch()
        .env("ORT_DYLIB_PATH", "")
        .arg("doctor")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
