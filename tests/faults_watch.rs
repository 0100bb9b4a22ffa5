//! Fault injection through `facewatch watch` in tmux: broken inputs, files that
//! vanish or are replaced, the watched folder deleted or moved, a full overlay
//! disk, signals, and setup errors. After each case the dashboard is still running
//! (or exited with status 0 on a signal), the terminal is restored, and the watched
//! files are byte-for-byte unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::faults;
use common::tmux::{self, Tmux};
use serde_json::Value;

macro_rules! require_tmux {
    ($name:literal) => {
        if !tmux::tmux_installed() {
            eprintln!(
                "SKIPPED {}: tmux is not installed (apt-get install -y tmux)",
                $name
            );
            return;
        }
    };
}

fn read_export(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// Presses `e` until the export contains `count` rows and the dashboard is idle.
fn export_when(tmux: &Tmux, export: &Path, count: usize) -> Vec<Value> {
    tmux.wait_for(&format!("{count} rows exported"), |screen| {
        if !screen.contains(" idle ") {
            return false;
        }
        tmux.keys(&["e"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
        read_export(export).len() == count
    });
    read_export(export)
}

/// Waits for the `EXITED` line and checks status 0 and a restored terminal.
fn assert_clean_exit(tmux: &Tmux, after: &str) {
    let screen = tmux.wait_for("the exit status", |screen| screen.contains("EXITED"));
    assert!(
        screen.contains("EXITED 0"),
        "screen after {after}:\n{screen}"
    );
    assert!(
        !tmux.alternate_on(),
        "alternate screen left on after {after}"
    );
    assert!(
        !screen.contains("ranked images"),
        "dashboard left on screen after {after}:\n{screen}"
    );
}

fn part_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.to_string_lossy().ends_with(".part"))
                .collect()
        })
        .unwrap_or_default()
}

fn write_face(path: &Path) {
    let bytes = faults::encode(
        &image::DynamicImage::ImageRgb8(faults::small_face()),
        image::ImageFormat::Jpeg,
    );
    std::fs::write(path, bytes).expect("write face");
}

#[test]
fn fault_inputs_get_rows_in_watch() {
    require_tmux!("fault_inputs_get_rows_in_watch");
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    let mut expected = faults::make_fault_folder(&folder);
    // The export is inside the watched folder with an image extension, and must
    // still never become a row.
    let export = folder.join("exported_table.png");
    let before = faults::hashes(&folder);
    let export_arg = export.to_str().expect("UTF-8 temp path");
    let tmux = tmux::start(
        "faults",
        &folder,
        &temp.path().join("state"),
        &["--export", export_arg],
    );
    tmux.wait_for("the reference set", |screen| screen.contains("3 used"));

    // A file that vanishes right after its event, and one replaced by a rename.
    let vanishing = folder.join("vanishing.jpg");
    write_face(&vanishing);
    std::fs::remove_file(&vanishing).expect("remove vanishing file");
    let replaced = folder.join("replaced.png");
    std::fs::write(&replaced, b"not yet an image").expect("write placeholder");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let staged = folder.join(".replaced.png.tmp");
    write_face(&staged);
    std::fs::rename(&staged, &replaced).expect("rename over");
    expected.push(faults::Expected {
        name: "replaced.png".to_string(),
        status: "ok",
        reason: "",
    });

    let rows = export_when(&tmux, &export, expected.len());
    faults::check_rows(&rows, &expected);
    let screen = tmux.screen();
    assert!(screen.contains("bomb.png"), "{screen}");
    assert!(tmux.alternate_on(), "dashboard still running");

    tmux.signal("HUP");
    assert_clean_exit(&tmux, "SIGHUP");
    let mut after = faults::hashes(&folder);
    after.remove(&export);
    after.remove(&replaced);
    let mut before = before;
    before.remove(&replaced);
    assert_eq!(after, before, "watched files changed");
    assert!(
        part_files(&folder).is_empty(),
        "temporary files left in the folder"
    );
}

#[test]
fn watched_folder_deleted_and_moved() {
    require_tmux!("watched_folder_deleted_and_moved");
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    write_face(&folder.join("first.jpg"));
    let tmux = tmux::start("folder", &folder, &temp.path().join("state"), &[]);
    tmux.wait_for("first.jpg", |screen| screen.contains("first.jpg"));

    std::fs::remove_dir_all(&folder).expect("delete watched folder");
    tmux.wait_for("the folder-gone notice", |screen| {
        screen.contains("is gone") && !screen.contains("first.jpg")
    });
    std::fs::create_dir(&folder).expect("re-create watched folder");
    write_face(&folder.join("second.jpg"));
    tmux.wait_for("second.jpg in the re-created folder", |screen| {
        screen.contains("second.jpg") && screen.contains(" match ")
    });

    let away = temp.path().join("moved-away");
    std::fs::rename(&folder, &away).expect("move folder away");
    tmux.wait_for("the moved-away notice", |screen| {
        screen.contains("is gone") && !screen.contains("second.jpg")
    });
    std::fs::rename(&away, &folder).expect("move folder back");
    write_face(&folder.join("third.jpg"));
    tmux.wait_for("both files back", |screen| {
        screen.contains("second.jpg") && screen.contains("third.jpg")
    });

    tmux.signal("INT");
    assert_clean_exit(&tmux, "SIGINT");
}

/// Removes the tmpfs mounted for the "disk full" case, even when the test fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A 64 KiB tmpfs plays the full disk. Without root (no mount), a read-only
/// folder plays it, and as root without mount the case is skipped.
fn full_overlay_folder(dir: &Path) -> Option<Option<Mount>> {
    std::fs::create_dir(dir).expect("create overlay folder");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir)
        .output()
        .is_ok_and(|output| output.status.success());
    if mounted {
        eprintln!("overlay folder: 64 KiB tmpfs");
        return Some(Some(Mount(dir.to_path_buf())));
    }
    faults::set_mode(dir, 0o555);
    if std::fs::write(dir.join("probe"), b"x").is_ok() {
        eprintln!("SKIPPED full overlay disk: no tmpfs mount and root ignores modes");
        return None;
    }
    eprintln!("overlay folder: read-only folder");
    Some(None)
}

#[test]
fn full_overlay_disk_keeps_dashboard_running() {
    require_tmux!("full_overlay_disk_keeps_dashboard_running");
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    std::fs::copy(
        common::photos().join("images/obama_portrait.jpg"),
        folder.join("big_portrait.jpg"),
    )
    .expect("copy photo");
    let overlays = temp.path().join("overlays");
    let Some(_mount) = full_overlay_folder(&overlays) else {
        return;
    };
    let before = faults::hashes(&folder);
    let overlays_arg = overlays.to_str().expect("UTF-8 temp path");
    let tmux = tmux::start(
        "diskfull",
        &folder,
        &temp.path().join("state"),
        &["--overlays", overlays_arg],
    );
    tmux.wait_for("the scored photo", |screen| screen.contains(" match "));

    tmux.keys(&["s"]);
    let screen = tmux.wait_for("the failed-save notice", |screen| {
        screen.contains("not saved")
    });
    let notice = screen.lines().last().unwrap_or_default().to_string();
    assert!(notice.contains("big_portrait"), "{screen}");
    let left: Vec<_> = std::fs::read_dir(&overlays)
        .expect("list overlay folder")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| !path.ends_with("probe"))
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");

    tmux.keys(&["?"]);
    tmux.wait_for("the help overlay", |screen| {
        screen.contains("show this help")
    });
    tmux.keys(&["q"]);
    assert_clean_exit(&tmux, "q");
    assert_eq!(faults::hashes(&folder), before, "watched files changed");
}

#[test]
fn sigterm_during_saves_leaves_no_part_file() {
    require_tmux!("sigterm_during_saves_leaves_no_part_file");
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    let source = common::photos().join("images/obama_biden_child_4100px.jpg");
    for index in 0..4 {
        std::fs::copy(&source, folder.join(format!("large_{index}.jpg"))).expect("copy photo");
    }
    let overlays = temp.path().join("overlays");
    let overlays_arg = overlays.to_str().expect("UTF-8 temp path");
    let tmux = tmux::start(
        "sigsave",
        &folder,
        &temp.path().join("state"),
        &["--overlays", overlays_arg],
    );
    tmux.wait_for("four matches", |screen| screen.contains("passing 4 "));

    tmux.keys(&["S"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    tmux.signal("TERM");
    assert_clean_exit(&tmux, "SIGTERM during saves");
    assert!(
        part_files(&overlays).is_empty(),
        "{:?}",
        part_files(&overlays)
    );
}

fn watch_setup_error(args: &[&str]) -> String {
    let temp = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_facewatch"))
        .current_dir(common::repo())
        .env_remove("ORT_DYLIB_PATH")
        .env("FACEWATCH_CONFIG", "")
        .env("XDG_STATE_HOME", temp.path())
        .args(args)
        .args(["watch", "--reference", "tests/photos/reference"])
        .arg(temp.path())
        .output()
        .expect("run facewatch");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("\u{1b}[?1049h"),
        "the dashboard started: {stdout:?}"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn watch_setup_errors_before_the_ui() {
    let stderr = watch_setup_error(&["--ort-lib", "/nonexistent/libonnxruntime.so"]);
    assert!(
        stderr.contains("/nonexistent/libonnxruntime.so"),
        "{stderr}"
    );
    assert!(stderr.contains("make ort"), "{stderr}");

    let models = tempfile::tempdir().expect("temp dir");
    for model in [facewatch::models::DETECTOR, facewatch::models::RECOGNIZER] {
        std::fs::copy(
            common::repo().join("models").join(model.file_name),
            models.path().join(model.file_name),
        )
        .expect("copy model");
    }
    let recognizer = models.path().join(facewatch::models::RECOGNIZER.file_name);
    let mut bytes = std::fs::read(&recognizer).expect("read model");
    bytes[2000] ^= 0xFF;
    std::fs::write(&recognizer, bytes).expect("write model");
    let stderr = watch_setup_error(&["--models", models.path().to_str().expect("UTF-8")]);
    assert!(
        stderr.contains("sface_2021dec_fold_fastprelu_dyn.onnx is corrupted"),
        "{stderr}"
    );

    let config = models.path().join("config.toml");
    std::fs::write(&config, "metric = \"cosine\"\nthreshhold = 0.5\n").expect("write config");
    let stderr = watch_setup_error(&["--config", config.to_str().expect("UTF-8")]);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("threshhold"), "{stderr}");
}
