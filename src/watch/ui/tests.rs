use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui_image::picker::ProtocolType;

use super::*;
use crate::watch::app::tests::{app_with, rank_settings, sample_app};
use crate::watch::preview::GraphicsSetting;

fn render(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("TestBackend");
    let mut preview = Preview::new(GraphicsSetting::Fixed(ProtocolType::Halfblocks));
    let title = PreviewTitle {
        shown: None,
        loading: false,
    };
    terminal
        .draw(|frame| draw(frame, app, &mut preview, &title, Instant::now()))
        .expect("TestBackend draw cannot fail");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{}", lines.join("\n")))
}

fn row_of(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{}", lines.join("\n")))
}

#[test]
fn header_shows_settings() {
    let lines = render(&sample_app(), 80, 24);
    let settings = &lines[0];
    assert!(settings.contains("model SFace"), "{settings}");
    assert!(settings.contains("metric euclidean"), "{settings}");
    assert!(settings.contains("threshold 10.734 (model)"), "{settings}");
    assert!(settings.contains("best-N off"), "{settings}");
    let references = &lines[1];
    assert!(
        references.contains("references: 2 photos, 1 used"),
        "{references}"
    );
    assert!(
        references.contains("left out: b.jpg (NOT USED"),
        "{references}"
    );
}

#[test]
fn table_rows_in_rank_order() {
    let lines = render(&sample_app(), 120, 40);
    let near = row_of(&lines, "near.png");
    let mid = row_of(&lines, "mid.png");
    let far = row_of(&lines, "far.png");
    assert!(near < mid);
    assert!(mid < far);
    let near_line = line_with(&lines, "near.png");
    assert!(near_line.contains("3.0000"), "{near_line}");
    assert!(near_line.contains("0.279"), "{near_line}");
    assert!(near_line.contains("match"), "{near_line}");
    assert!(line_with(&lines, "far.png").contains("over"));
}

#[test]
fn unscored_listed_apart_with_reason() {
    let lines = render(&sample_app(), 120, 40);
    let section = row_of(&lines, "not scored (2)");
    assert!(section > row_of(&lines, "far.png"));
    assert!(line_with(&lines, "cat.png").contains("no face found"));
    assert!(line_with(&lines, "zero.jpg").contains("empty file (0 bytes)"));
}

#[test]
fn status_line_counts() {
    let lines = render(&sample_app(), 120, 40);
    let status = &lines[38];
    assert!(
        status.contains("scored 3 │ passing 2 │ no face 1 │ failed 1"),
        "{status}"
    );
    assert!(status.contains("idle"), "{status}");
    assert!(status.contains("watcher starting"), "{status}");
    assert!(lines[39].contains("? help"), "{}", lines[39]);
}

#[test]
fn hidden_rows_leave_table() {
    let mut app = sample_app();
    app.act(crate::watch::keys::Action::ToggleHide, Instant::now());
    let lines = render(&app, 120, 40);
    assert!(!lines.iter().any(|line| line.contains("far.png")));
    assert!(lines.iter().any(|line| line.contains("1 hidden")));
}

#[test]
fn help_overlay_lists_keys() {
    let mut app = sample_app();
    app.act(crate::watch::keys::Action::ToggleHelp, Instant::now());
    let lines = render(&app, 120, 40);
    assert!(line_with(&lines, "raise / lower the threshold").contains("+ -"));
    assert!(
        lines
            .iter()
            .any(|line| line.contains("any key closes this help"))
    );
}

#[test]
fn loading_state_before_models() {
    let app = App::new("/w".into(), "/o".into(), "/l".into(), rank_settings());
    let lines = render(&app, 80, 24);
    assert!(
        lines[1].contains("references: loading models…"),
        "{}",
        lines[1]
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("loading models… (0 files queued)"))
    );
}

#[test]
fn small_terminal_keeps_table() {
    let lines = render(&sample_app(), 80, 24);
    assert!(lines.iter().any(|line| line.contains("near.png")));
    assert!(lines.iter().any(|line| line.contains("zero.jpg")));
    assert!(lines[22].contains("scored 3"), "{}", lines[22]);
}

#[test]
fn polling_and_pause_shown() {
    let mut app = app_with(Vec::new());
    app.watcher = crate::watch::event::WatcherMode::Polling {
        interval_ms: 500,
        reason: "--poll given".to_string(),
    };
    app.act(crate::watch::keys::Action::TogglePause, Instant::now());
    let lines = render(&app, 120, 40);
    assert!(
        lines[38].contains("watcher POLLING every 500 ms"),
        "{}",
        lines[38]
    );
    assert!(lines[38].contains("PAUSED"), "{}", lines[38]);
}
