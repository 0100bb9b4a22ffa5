//! Fault injection through `facewatch scan`: every broken or awkward input gets one
//! row with a status and a reason, the run carries on, and no input file changes.

mod common;

use std::path::Path;

use assert_cmd::Command;
use common::faults;
use serde_json::Value;

fn facewatch() -> Command {
    let mut command = Command::cargo_bin("facewatch").expect("binary");
    command
        .current_dir(common::repo())
        .env_remove("ORT_DYLIB_PATH")
        .env("FACEWATCH_CONFIG", "");
    command
}

fn scan_jsonl(args: &[&str], inputs: &[&Path]) -> (Vec<Value>, String, i32) {
    let output = facewatch()
        .arg("scan")
        .args(["--format", "jsonl", "--reference", "tests/photos/reference"])
        .args(args)
        .args(inputs)
        .output()
        .expect("run facewatch");
    let rows = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    (
        rows,
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

#[test]
fn every_fault_input_gets_a_row() {
    let temp = tempfile::tempdir().expect("temp dir");
    let expected = faults::make_fault_folder(temp.path());
    let before = faults::hashes(temp.path());

    let (rows, stderr, code) = scan_jsonl(&[], &[temp.path()]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    faults::check_rows(&rows, &expected);
    assert_eq!(faults::hashes(temp.path()), before, "input files changed");
}

#[test]
fn symlink_loop_is_listed_once() {
    let temp = tempfile::tempdir().expect("temp dir");
    let sub = temp.path().join("sub");
    std::fs::create_dir(&sub).expect("create subfolder");
    let face = faults::encode(
        &image::DynamicImage::ImageRgb8(faults::small_face()),
        image::ImageFormat::Jpeg,
    );
    std::fs::write(sub.join("face.jpg"), face).expect("write face");
    std::os::unix::fs::symlink("..", sub.join("loop")).expect("symlink loop");
    let before = faults::hashes(temp.path());

    let (rows, stderr, code) = scan_jsonl(&["--recursive"], &[temp.path()]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    assert_eq!(rows.len(), 1, "one row for the one file: {rows:?}");
    assert_eq!(rows[0]["status"], "ok");
    assert_eq!(faults::hashes(temp.path()), before, "input files changed");
}

#[test]
fn reference_problems_name_the_file() {
    let temp = tempfile::tempdir().expect("temp dir");
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).expect("create empty folder");
    let missing = temp.path().join("missing.jpg");
    let output = facewatch()
        .arg("scan")
        .args(["--reference", "tests/photos/reference"])
        .arg("--reference")
        .arg(&missing)
        .arg("--reference")
        .arg(&empty)
        .args(["--reference", "tests/photos/images/cat.png"])
        .args(["--reference", "tests/photos/images/obama_and_biden.jpg"])
        .arg("tests/photos/images/obama_portrait.jpg")
        .output()
        .expect("run facewatch");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains("references: 4 of 7 photos used"),
        "{stderr}"
    );
    let line = |name: &str| {
        stderr
            .lines()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("no line names {name}:\n{stderr}"))
            .to_string()
    };
    assert!(line("missing.jpg").contains("NOT USED: cannot open"));
    assert!(line("empty").contains("NOT USED: folder contains no images"));
    assert!(line("cat.png").contains("NOT USED: no face found"));
    assert!(line("obama_and_biden.jpg").contains("2 faces found, used the largest"));
}

#[test]
fn only_unusable_references_are_fatal() {
    let temp = tempfile::tempdir().expect("temp dir");
    let output = facewatch()
        .arg("scan")
        .arg("--reference")
        .arg(temp.path())
        .args(["--reference", "tests/photos/images/cat.png"])
        .arg("tests/photos/images/obama_portrait.jpg")
        .output()
        .expect("run facewatch");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("no usable reference photo"), "{stderr}");
    assert!(stderr.contains("folder contains no images"), "{stderr}");
    assert!(
        stderr.contains("cat.png: NOT USED: no face found"),
        "{stderr}"
    );
}

/// Overlays into a read-only folder fail one by one with the reason, the table is
/// still printed, and no temporary file is left behind.
#[test]
fn unwritable_overlay_folder_is_reported() {
    let temp = tempfile::tempdir().expect("temp dir");
    let overlays = temp.path().join("overlays");
    std::fs::create_dir(&overlays).expect("create overlay folder");
    faults::set_mode(&overlays, 0o555);
    let probe = overlays.join("probe");
    if std::fs::write(&probe, b"x").is_ok() {
        // Root writes into a read-only folder, so this fault cannot be made here.
        std::fs::remove_file(&probe).expect("remove probe");
        eprintln!("SKIPPED unwritable_overlay_folder_is_reported: running as root");
        return;
    }
    let (rows, stderr, code) = scan_jsonl(
        &["--overlays", overlays.to_str().expect("UTF-8 temp path")],
        &[Path::new("tests/photos/images/obama_portrait.jpg")],
    );
    assert_eq!(code, 0, "stderr:\n{stderr}");
    assert_eq!(rows.len(), 1);
    assert!(stderr.contains("overlay for"), "{stderr}");
    assert!(stderr.contains("not written"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&overlays).expect("list").collect();
    assert!(
        left.is_empty(),
        "files left in the overlay folder: {left:?}"
    );
}

/// A signal at any moment of a `scan --overlays` run leaves no partly written overlay:
/// the run either finishes or stops with "interrupted by a signal".
#[test]
fn scan_signal_leaves_no_part_file() {
    for delay_ms in [400u64, 900, 1500, 2500, 4000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let overlays = dir.path().join("overlays");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_facewatch"))
            .current_dir(common::repo())
            .env("FACEWATCH_CONFIG", "")
            .args([
                "scan",
                "--reference",
                "tests/photos/reference",
                "--overlays",
            ])
            .arg(&overlays)
            .arg("tests/photos/images")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start facewatch");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let output = child.wait_with_output().expect("wait for facewatch");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Exit 0: finished first. Exit 2: stopped by the signal. No code: the signal came
        // before the handler was installed, when nothing had been written yet.
        let code = output.status.code();
        assert!(
            matches!(code, Some(0) | Some(2) | None),
            "after {delay_ms} ms: {code:?} {stderr}"
        );
        if code == Some(2) {
            assert!(
                stderr.contains("interrupted by a signal"),
                "after {delay_ms} ms: {stderr}"
            );
        }
        let leftovers: Vec<String> = std::fs::read_dir(&overlays)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".part"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "after {delay_ms} ms: {leftovers:?}");
    }
}
