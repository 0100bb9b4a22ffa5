use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::config::Thresholds;
use crate::pipeline::detect::Detection;
use crate::record::Status;
use crate::references::{ReferencePhoto, ReferenceStatus};
use crate::score::{FaceChoice, Metric};

/// The embedding is [distance, 1] and the reference [0, 1], so the euclidean
/// distance is `distance`. SFace's euclidean threshold is 10.734.
fn scored(name: &str, distance: f32) -> ImageRecord {
    ImageRecord {
        path: PathBuf::from("/w").join(name),
        status: Status::Ok,
        reason: None,
        width: 100,
        height: 100,
        faces: vec![Face {
            detection: Detection {
                bbox: [1.0, 2.0, 30.0, 40.0],
                landmarks: [[0.0; 2]; 5],
                score: 0.9,
            },
            detected_at: [100, 100],
            embedding: vec![distance, 1.0],
        }],
    }
}

fn no_face(name: &str) -> ImageRecord {
    ImageRecord {
        status: Status::NoFace,
        reason: Some("no face found".to_string()),
        faces: Vec::new(),
        ..scored(name, 0.0)
    }
}

fn failed(name: &str) -> ImageRecord {
    ImageRecord::failed(
        &PathBuf::from("/w").join(name),
        "empty file (0 bytes)".to_string(),
    )
}

fn reference_set() -> ReferenceSet {
    ReferenceSet {
        photos: vec![
            ReferencePhoto {
                path: PathBuf::from("/r/a.jpg"),
                status: ReferenceStatus::Used,
            },
            ReferencePhoto {
                path: PathBuf::from("/r/b.jpg"),
                status: ReferenceStatus::NoFace("no face found".to_string()),
            },
        ],
        mean: vec![0.0, 1.0],
    }
}

pub(crate) fn rank_settings() -> RankSettings {
    RankSettings {
        metric: Metric::Euclidean,
        model: "SFace".to_string(),
        thresholds: Thresholds::new(&BTreeMap::new()),
        filter_threshold: None,
        best: 0,
        face: FaceChoice::Best,
    }
}

/// Builds an app with the reference set loaded and these records analysed.
pub(crate) fn app_with(records: Vec<ImageRecord>) -> App {
    let mut app = App::new(
        PathBuf::from("/w"),
        PathBuf::from("/w-facewatch-overlays"),
        PathBuf::from("/log"),
        rank_settings(),
    );
    let now = Instant::now();
    app.apply(Event::Ready(reference_set()), now);
    for record in records {
        app.apply(Event::Analyzed(record), now);
    }
    app
}

pub(crate) fn sample_app() -> App {
    app_with(vec![
        scored("far.png", 12.0),
        failed("zero.jpg"),
        scored("near.png", 3.0),
        no_face("cat.png"),
        scored("mid.png", 7.0),
    ])
}

fn names(app: &App) -> Vec<String> {
    app.visible_rows()
        .iter()
        .map(|row| file_name(&app.record(row).path))
        .collect()
}

fn selected_name(app: &App) -> Option<String> {
    app.selected_path().map(file_name)
}

fn key(app: &mut App, character: char) -> Vec<Command> {
    let event = Event::Key(KeyEvent::new(KeyCode::Char(character), KeyModifiers::NONE));
    app.apply(event, Instant::now())
}

#[test]
fn rows_sorted_closest_first() {
    let app = sample_app();
    assert_eq!(
        names(&app),
        ["near.png", "mid.png", "far.png", "cat.png", "zero.jpg"]
    );
}

#[test]
fn equal_distances_sorted_by_path() {
    let app = app_with(vec![scored("b.png", 2.0), scored("a.png", 2.0)]);
    assert_eq!(names(&app), ["a.png", "b.png"]);
}

#[test]
fn selection_follows_file() {
    let mut app = sample_app();
    key(&mut app, 'j');
    assert_eq!(selected_name(&app).as_deref(), Some("mid.png"));
    app.apply(Event::Analyzed(scored("closest.png", 1.0)), Instant::now());
    assert_eq!(selected_name(&app).as_deref(), Some("mid.png"));
    assert_eq!(app.selected_position(), Some(2));
}

#[test]
fn selection_stays_on_top_until_moved() {
    let mut app = sample_app();
    assert_eq!(selected_name(&app).as_deref(), Some("near.png"));
    app.apply(Event::Analyzed(scored("closest.png", 1.0)), Instant::now());
    assert_eq!(selected_name(&app).as_deref(), Some("closest.png"));
}

#[test]
fn removed_selection_moves_to_neighbour() {
    let mut app = sample_app();
    key(&mut app, 'j');
    app.apply(Event::Removed(PathBuf::from("/w/mid.png")), Instant::now());
    assert_eq!(selected_name(&app).as_deref(), Some("far.png"));
    assert_eq!(names(&app).len(), 4);
    assert!(app.notice().is_some_and(|text| text.contains("mid.png")));
}

#[test]
fn replaced_file_updates_row() {
    let mut app = sample_app();
    app.apply(Event::Analyzed(scored("far.png", 0.5)), Instant::now());
    assert_eq!(names(&app)[0], "far.png");
    assert_eq!(app.counts().scored, 3);
}

#[test]
fn movement_keys_clamp() {
    let mut app = sample_app();
    key(&mut app, 'G');
    assert_eq!(selected_name(&app).as_deref(), Some("zero.jpg"));
    key(&mut app, 'j');
    assert_eq!(selected_name(&app).as_deref(), Some("zero.jpg"));
    key(&mut app, 'g');
    key(&mut app, 'k');
    assert_eq!(selected_name(&app).as_deref(), Some("near.png"));
}

#[test]
fn counts_by_status() {
    let counts = sample_app().counts();
    assert_eq!(counts.scored, 3);
    assert_eq!(counts.passing, 2);
    assert_eq!(counts.kept, 2);
    assert_eq!(counts.no_face, 1);
    assert_eq!(counts.failed, 1);
}

#[test]
fn threshold_keys_step_and_reset() {
    let mut app = sample_app();
    let model = 10.734_f32;
    key(&mut app, '+');
    let raised = app.settings.pass_threshold().expect("threshold");
    assert!((raised - model * 1.02).abs() < 1e-4, "raised to {raised}");
    // 21 steps down from 1.02 × the model value leave 0.60 × 10.734 = 6.44.
    for _ in 0..21 {
        key(&mut app, '-');
    }
    let lowered = app.settings.pass_threshold().expect("threshold");
    assert!(lowered < 7.0, "lowered to {lowered}");
    assert_eq!(app.counts().passing, 1);
    key(&mut app, '0');
    assert_eq!(app.settings.filter_threshold, Some(0.0));
    assert_eq!(app.counts().passing, 2);
}

#[test]
fn threshold_stays_positive() {
    let mut app = sample_app();
    for _ in 0..100 {
        key(&mut app, '-');
    }
    let lowest = app.settings.pass_threshold().expect("threshold");
    assert!(lowest > 0.0);
    assert_eq!(app.counts().passing, 0);
}

#[test]
fn best_keys_cut_and_turn_off() {
    let mut app = sample_app();
    key(&mut app, ']');
    assert_eq!(app.settings.best, 1);
    assert_eq!(app.counts().kept, 1);
    assert_eq!(app.counts().passing, 2);
    key(&mut app, '[');
    assert_eq!(app.settings.best, 0);
    assert_eq!(app.counts().kept, 2);
    key(&mut app, ']');
    key(&mut app, ']');
    key(&mut app, 'b');
    assert_eq!(app.settings.best, 0);
}

#[test]
fn metric_key_rescores_and_resets_threshold() {
    let mut app = sample_app();
    key(&mut app, '+');
    key(&mut app, 'm');
    assert_eq!(app.settings.metric, Metric::Cosine);
    assert_eq!(app.settings.filter_threshold, Some(0.0));
    assert!(app.notice().is_some_and(|text| text.contains("cosine")));
    // Cosine distances are 1 - 1/sqrt(d² + 1): 0.684 for near.png, over 0.637.
    assert_eq!(names(&app)[0], "near.png");
    assert_eq!(app.counts().passing, 0);
}

#[test]
fn hide_toggles_failing_rows() {
    let mut app = sample_app();
    key(&mut app, 'j');
    key(&mut app, 'j');
    assert_eq!(selected_name(&app).as_deref(), Some("far.png"));
    key(&mut app, 'h');
    assert_eq!(names(&app), ["near.png", "mid.png", "cat.png", "zero.jpg"]);
    assert_eq!(selected_name(&app).as_deref(), Some("cat.png"));
    key(&mut app, 'h');
    assert_eq!(names(&app).len(), 5);
}

#[test]
fn pause_key_sends_command() {
    let mut app = sample_app();
    let commands = key(&mut app, ' ');
    assert!(
        matches!(commands.as_slice(), [Command::SetPaused(true)]),
        "{commands:?}"
    );
    assert!(app.paused);
    let commands = key(&mut app, ' ');
    assert!(
        matches!(commands.as_slice(), [Command::SetPaused(false)]),
        "{commands:?}"
    );
}

#[test]
fn save_selected_names_distance() {
    let mut app = sample_app();
    let commands = key(&mut app, 's');
    let [Command::SaveOverlays(requests)] = commands.as_slice() else {
        panic!("expected one save command, got {commands:?}");
    };
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].file_name, "near.euclidean-3.000.png");
    assert_eq!(requests[0].label.map(|label| label.passed), Some(true));
}

#[test]
fn save_unscored_only_notices() {
    let mut app = sample_app();
    key(&mut app, 'G');
    assert!(key(&mut app, 's').is_empty());
    assert!(app.notice().is_some_and(|text| text.contains("zero.jpg")));
}

#[test]
fn save_all_takes_kept_rows() {
    let mut app = sample_app();
    let commands = key(&mut app, 'S');
    let [Command::SaveOverlays(requests)] = commands.as_slice() else {
        panic!("expected one save command, got {commands:?}");
    };
    let names: Vec<&str> = requests
        .iter()
        .map(|request| request.file_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["near.euclidean-3.000.png", "mid.euclidean-7.000.png"]
    );
}

#[test]
fn help_swallows_next_key() {
    let mut app = sample_app();
    key(&mut app, '?');
    assert!(app.show_help);
    key(&mut app, 'j');
    assert!(!app.show_help);
    assert_eq!(selected_name(&app).as_deref(), Some("near.png"));
}

#[test]
fn progress_counts_backlog() {
    let mut app = app_with(Vec::new());
    let start = Instant::now();
    for name in ["a.png", "b.png", "c.png"] {
        app.apply(Event::Queued(Path::new("/w").join(name)), start);
    }
    app.apply(Event::Analyzed(scored("a.png", 1.0)), start);
    let progress = app
        .progress(start + Duration::from_secs(1))
        .expect("backlog");
    assert_eq!((progress.done, progress.total), (1, 3));
    assert!((progress.rate - 1.0).abs() < 1e-9);
    assert_eq!(progress.remaining, Some(Duration::from_secs(2)));
    app.apply(Event::Analyzed(scored("b.png", 1.0)), start);
    app.apply(Event::Removed(PathBuf::from("/w/c.png")), start);
    assert_eq!(app.progress(start), None);
}

#[test]
fn load_failure_quits() {
    let mut app = App::new(
        PathBuf::from("/w"),
        PathBuf::from("/o"),
        PathBuf::from("/l"),
        rank_settings(),
    );
    app.apply(
        Event::LoadFailed("no usable reference photo".to_string()),
        Instant::now(),
    );
    assert!(app.quit);
    assert_eq!(app.load_error.as_deref(), Some("no usable reference photo"));
}

#[test]
fn saved_result_becomes_notice() {
    let mut app = sample_app();
    app.apply(
        Event::Saved(Err("cannot write x.png".to_string())),
        Instant::now(),
    );
    assert_eq!(app.notice(), Some("cannot write x.png"));
    let later = Instant::now() + Duration::from_secs(60);
    app.expire(later);
    assert_eq!(app.notice(), None);
}
