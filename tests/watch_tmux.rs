//! End-to-end tests of `facewatch watch` in a real terminal: a tmux server of its own
//! (`tmux -L facewatch-test-<pid>-<test>`), a 120x40 window, real photos copied into
//! a temporary folder while the dashboard runs.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tmux::{Tmux, tmux_installed};

fn copy_photo(name: &str, folder: &Path) {
    let source = common::photos().join("images").join(name);
    std::fs::copy(&source, folder.join(name))
        .unwrap_or_else(|err| panic!("copy {}: {err}", source.display()));
}

/// Returns the table line that names `file`, skipping the preview pane's title.
fn line_of<'a>(screen: &'a str, file: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|line| line.contains(file) && !line.contains("preview:"))
}

/// Counts rows with the status "match". The title "never counted as matches" is not one.
fn match_rows(screen: &str) -> usize {
    screen.matches(" match ").count()
}

fn row_has(screen: &str, file: &str, word: &str) -> bool {
    line_of(screen, file).is_some_and(|line| line.contains(word))
}

/// Distances in the ranked table, top to bottom.
fn distances(screen: &str) -> Vec<f32> {
    screen
        .lines()
        .filter(|line| line.contains(" match ") || line.contains(" over "))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|word| word.parse::<f32>().ok().filter(|_| word.contains('.')))
        })
        .collect()
}

/// Starts the dashboard in a new tmux server named after this process and `name`.
fn start(name: &str, folder: &Path, state: &Path) -> Tmux {
    common::tmux::start(name, folder, state, &[])
}

#[test]
fn watch_dashboard_in_tmux() {
    if !tmux_installed() {
        eprintln!(
            "SKIPPED watch_dashboard_in_tmux: tmux is not installed (apt-get install -y tmux)"
        );
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    let tmux = start("dashboard", &folder, &temp.path().join("state"));

    tmux.wait_for("the reference set", |screen| {
        screen.contains("references: 3 photos, 3 used")
    });

    let written = Instant::now();
    copy_photo("obama_portrait.jpg", &folder);
    tmux.wait_for("obama_portrait.jpg as a match", |screen| {
        row_has(screen, "obama_portrait.jpg", "match")
    });
    eprintln!(
        "file copied to row shown: {} ms",
        written.elapsed().as_millis()
    );
    copy_photo("biden_portrait.jpg", &folder);
    tmux.wait_for("biden_portrait.jpg over the threshold", |screen| {
        row_has(screen, "biden_portrait.jpg", "over")
    });

    let burst = [
        "obama_exif_rotated.jpg",
        "biden_standing.jpg",
        "obama_and_biden.jpg",
        "cat.png",
        "text_named_png.png",
        "zero_bytes.jpg",
    ];
    for name in burst {
        copy_photo(name, &folder);
    }
    let screen = tmux.wait_for("the burst scored", |screen| {
        screen.contains("scored 5 │ passing 3 │ no face 1 │ failed 2")
    });
    check_full_table(&screen);
    check_keys(&tmux);
    check_saved_overlay(&tmux, &temp.path().join("generated-facewatch-overlays"));
    check_slow_write(&tmux, &folder);
    check_rename_and_delete(&tmux, &folder);

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit status", |screen| screen.contains("EXITED"));
    assert!(screen.contains("EXITED 0"), "screen after q:\n{screen}");
    assert!(
        !screen.contains("ranked images"),
        "dashboard left on screen:\n{screen}"
    );
    let alternate = tmux.run(&["display-message", "-p", "-t", "watch", "#{alternate_on}"]);
    assert_eq!(String::from_utf8_lossy(&alternate.stdout).trim(), "0");
}

fn check_full_table(screen: &str) {
    for name in [
        "obama_portrait.jpg",
        "obama_exif_rotated.jpg",
        "obama_and_biden.jpg",
    ] {
        assert!(
            row_has(screen, name, "match"),
            "{name} should match:\n{screen}"
        );
    }
    for name in ["biden_portrait.jpg", "biden_standing.jpg"] {
        assert!(
            row_has(screen, name, "over"),
            "{name} should be over the threshold:\n{screen}"
        );
    }
    assert!(
        row_has(screen, "cat.png", "no face"),
        "cat.png should have no face:\n{screen}"
    );
    assert!(
        row_has(screen, "text_named_png.png", "not an image"),
        "text file reason:\n{screen}"
    );
    assert!(
        row_has(screen, "zero_bytes.jpg", "empty file"),
        "empty file reason:\n{screen}"
    );
    let shown = distances(screen);
    assert_eq!(shown.len(), 5, "five scored rows expected:\n{screen}");
    assert!(
        shown.windows(2).all(|pair| pair[0] <= pair[1]),
        "rows not sorted: {shown:?}"
    );
    let screen_lines: Vec<&str> = screen.lines().collect();
    let position = |name: &str| screen_lines.iter().position(|line| line.contains(name));
    assert!(
        position("biden_standing.jpg") < position("cat.png"),
        "unscored rows must follow:\n{screen}"
    );
}

fn check_keys(tmux: &Tmux) {
    tmux.keys(&["]"]);
    let screen = tmux.wait_for("best-N 1", |screen| screen.contains("best-N 1"));
    assert_eq!(
        match_rows(&screen),
        1,
        "best-N 1 keeps one match:\n{screen}"
    );
    tmux.keys(&["b"]);
    tmux.wait_for("best-N off", |screen| {
        screen.contains("best-N off") && match_rows(screen) == 3
    });

    // 40 steps of 2% take the cosine threshold from 0.637 to 0.127, under every
    // match except obama_exif_rotated.jpg at 0.082.
    for _ in 0..40 {
        tmux.keys(&["-"]);
    }
    let screen = tmux.wait_for("threshold 0.127", |screen| {
        screen.contains("threshold 0.127 ")
    });
    assert!(screen.contains("passing 1 "), "{screen}");
    assert_eq!(match_rows(&screen), 1, "{screen}");
    assert!(
        row_has(&screen, "obama_exif_rotated.jpg", "match"),
        "{screen}"
    );
    tmux.keys(&["0"]);
    tmux.wait_for("the model threshold", |screen| {
        screen.contains("threshold 0.637 (model)") && screen.contains("passing 3 ")
    });

    tmux.keys(&["m"]);
    let screen = tmux.wait_for("metric L2_norm", |screen| screen.contains("metric L2_norm"));
    assert!(screen.contains("threshold 1.128 (model)"), "{screen}");
    assert!(row_has(&screen, "obama_portrait.jpg", "match"), "{screen}");
    tmux.keys(&["m", "m"]);
    tmux.wait_for("metric cosine again", |screen| {
        screen.contains("metric cosine")
    });

    tmux.keys(&["h"]);
    tmux.wait_for("hidden rows", |screen| {
        screen.contains("2 hidden") && line_of(screen, "biden_portrait.jpg").is_none()
    });
    tmux.keys(&["h"]);
    tmux.wait_for("rows shown again", |screen| {
        line_of(screen, "biden_portrait.jpg").is_some()
    });
}

fn check_saved_overlay(tmux: &Tmux, overlays: &Path) {
    tmux.keys(&["g", "s"]);
    tmux.wait_for("the save notice", |screen| screen.contains("saved "));
    let saved: Vec<PathBuf> = std::fs::read_dir(overlays)
        .expect("overlay folder created next to the watched folder")
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    assert_eq!(saved.len(), 1, "one overlay expected: {saved:?}");
    let name = saved[0]
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        name.starts_with("obama_") && name.contains(".cosine-0.") && name.ends_with(".png"),
        "{name}"
    );
    let image = image::open(&saved[0]).expect("saved overlay opens as an image");
    assert!(image.width() > 0);
    assert!(image.height() > 0);
    let bytes = std::fs::read(&saved[0]).expect("read overlay");
    assert_eq!(
        image::guess_format(&bytes).ok(),
        Some(image::ImageFormat::Png)
    );
}

/// Checks that a JPEG written in two halves 1.5 s apart gets no score from the
/// first half.
fn check_slow_write(tmux: &Tmux, folder: &Path) {
    let bytes =
        std::fs::read(common::photos().join("images/obama_tiny_face.jpg")).expect("read photo");
    let target = folder.join("slow_write.jpg");
    let (first, second) = bytes.split_at(bytes.len() / 2);
    std::fs::write(&target, first).expect("write first half");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        let screen = tmux.screen();
        assert!(
            line_of(&screen, "slow_write.jpg").is_none(),
            "half a file was listed:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&target)
        .expect("open for append");
    std::io::Write::write_all(&mut file, second).expect("write second half");
    drop(file);
    tmux.wait_for("slow_write.jpg as a match", |screen| {
        row_has(screen, "slow_write.jpg", "match")
    });
}

/// Checks that a file renamed into place is scored under its new name, a hidden temporary file
/// is not, and a deleted file leaves the table.
fn check_rename_and_delete(tmux: &Tmux, folder: &Path) {
    let hidden = folder.join(".partial_download.jpg");
    std::fs::copy(common::photos().join("images/obama_portrait.jpg"), &hidden)
        .expect("copy hidden");
    std::fs::rename(&hidden, folder.join("renamed_into_place.jpg")).expect("rename");
    let screen = tmux.wait_for("the renamed file", |screen| {
        row_has(screen, "renamed_into_place.jpg", "match")
    });
    assert!(
        !screen.contains("partial_download"),
        "hidden file listed:\n{screen}"
    );

    std::fs::remove_file(folder.join("biden_portrait.jpg")).expect("delete");
    // The notice is on the last line, which ratatui writes after the table rows, so a
    // capture that shows it also shows the updated table.
    let screen = tmux.wait_for("the removal notice", |screen| {
        screen.contains("biden_portrait.jpg was removed")
    });
    assert!(line_of(&screen, "biden_portrait.jpg was removed").is_some());
    let rows: Vec<&str> = screen
        .lines()
        .filter(|line| line.contains("biden_portrait.jpg"))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "only the notice names the deleted file:\n{screen}"
    );
}

#[test]
fn resize_then_sigterm_restores_terminal() {
    if !tmux_installed() {
        eprintln!(
            "SKIPPED resize_then_sigterm_restores_terminal: tmux is not installed (apt-get install -y tmux)"
        );
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let folder = temp.path().join("generated");
    std::fs::create_dir(&folder).expect("create watched folder");
    copy_photo("obama_portrait.jpg", &folder);
    copy_photo("cat.png", &folder);
    let tmux = start("sigterm", &folder, &temp.path().join("state"));
    tmux.wait_for("the first rows", |screen| {
        screen.contains("scored 1 │ passing 1 │ no face 1")
    });

    let output = tmux.run(&["resize-window", "-t", "watch", "-x", "80", "-y", "24"]);
    assert!(output.status.success(), "resize-window failed: {output:?}");
    let screen = tmux.wait_for("the 80x24 layout", |screen| {
        screen.lines().count() <= 24 && screen.contains("best-N off")
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[0].contains("threshold 0.637 (model) │ best-N off"),
        "{screen}"
    );
    assert!(row_has(&screen, "obama_portrait.jpg", "match"), "{screen}");
    assert!(row_has(&screen, "cat.png", "no face"), "{screen}");
    assert!(
        lines.iter().any(|line| line.starts_with("scored 1 │")),
        "{screen}"
    );

    tmux.signal("TERM");
    let screen = tmux.wait_for("the exit status", |screen| screen.contains("EXITED"));
    assert!(
        screen.contains("EXITED 0"),
        "screen after SIGTERM:\n{screen}"
    );
    let alternate = tmux.run(&["display-message", "-p", "-t", "watch", "#{alternate_on}"]);
    assert_eq!(String::from_utf8_lossy(&alternate.stdout).trim(), "0");
}
