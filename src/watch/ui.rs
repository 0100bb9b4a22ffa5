//! Drawing. Every function here reads [`App`] and writes into a [`Frame`]; none does
//! I/O.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::App;
use super::event::WatcherMode;
use super::keys::{HELP, HINT};
use super::preview::Preview;

mod histogram;
mod table;

/// Narrowest terminal that still gets the preview pane next to the table.
const PREVIEW_MIN_WIDTH: u16 = 100;

/// Rows of the frame that are not table rows: header 2, histogram 3, table header and
/// borders 3, status 1, hint 1.
pub const FIXED_ROWS: u16 = 10;

/// Title facts of the preview pane: the file on show and whether a newer one is loading.
pub struct PreviewTitle {
    pub shown: Option<String>,
    pub loading: bool,
}

/// Draws the whole dashboard.
pub fn draw(
    frame: &mut Frame<'_>,
    app: &App,
    preview: &mut Preview,
    title: &PreviewTitle,
    now: Instant,
) {
    let [header, chart, body, status, hint] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Min(4),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, app, header);
    histogram::draw(frame, app, chart);
    let table_area = if app.show_preview && body.width >= PREVIEW_MIN_WIDTH {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
                .areas(body);
        draw_preview(frame, preview, title, right);
        left
    } else {
        body
    };
    table::draw(frame, app, table_area);
    frame.render_widget(Paragraph::new(status_line(app, now)), status);
    draw_hint(frame, app, hint);
    if app.show_help {
        draw_help(frame, frame.area());
    }
}

/// Builds the two header lines: the ranking settings first, because they must fit
/// in 80 columns, then the reference set with the photos left out, and the folders.
pub fn header_lines(app: &App) -> [Line<'static>; 2] {
    let settings = &app.settings;
    let threshold = match (settings.pass_threshold(), settings.filter_threshold) {
        (None, _) => "none".to_string(),
        (Some(value), Some(filter)) if filter > 0.0 => format!("{value:.3}"),
        (Some(value), _) => format!("{value:.3} (model)"),
    };
    let best = match settings.best {
        0 => "off".to_string(),
        count => count.to_string(),
    };
    let first = Line::from(vec![
        Span::styled("facewatch ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "model {} │ metric {} │ threshold {threshold} │ best-N {best}",
            settings.model, settings.metric
        )),
    ]);
    [first, reference_line(app)]
}

fn reference_line(app: &App) -> Line<'static> {
    let Some(summary) = &app.reference else {
        return Line::raw("references: loading models…");
    };
    let text = format!(
        "references: {} photos, {} used",
        summary.photos, summary.used
    );
    if summary.unused.is_empty() {
        let folders = format!(
            " │ watching {} │ overlays → {}",
            app.folder.display(),
            app.overlays_dir.display()
        );
        return Line::from(vec![
            Span::raw(text),
            Span::styled(folders, Style::new().fg(Color::DarkGray)),
        ]);
    }
    let names: Vec<String> = summary
        .unused
        .iter()
        .map(|(name, reason)| format!("{name} ({reason})"))
        .collect();
    Line::from(vec![
        Span::raw(text),
        Span::styled(
            format!(" │ left out: {}", names.join(", ")),
            Style::new().fg(Color::Yellow),
        ),
    ])
}

fn draw_header(frame: &mut Frame<'_>, app: &App, area: Rect) {
    frame.render_widget(Paragraph::new(header_lines(app).to_vec()), area);
}

/// Builds the status line: counts, backlog progress, watcher mode and pause state.
pub fn status_line(app: &App, now: Instant) -> Line<'static> {
    let counts = app.counts();
    let mut spans = vec![Span::raw(format!(
        "scored {} │ passing {} │ no face {} │ failed {} │ ",
        counts.scored, counts.passing, counts.no_face, counts.failed
    ))];
    spans.push(Span::raw(progress_text(app, now)));
    let watcher = match &app.watcher {
        WatcherMode::Starting => "watcher starting".to_string(),
        WatcherMode::Native => "watcher native".to_string(),
        WatcherMode::Polling { interval_ms, .. } => {
            format!("watcher POLLING every {interval_ms} ms")
        }
    };
    spans.push(Span::raw(format!(" │ {watcher}")));
    if app.paused {
        spans.push(Span::styled(
            " │ PAUSED",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn progress_text(app: &App, now: Instant) -> String {
    let Some(progress) = app.progress(now) else {
        return "idle".to_string();
    };
    const BAR_WIDTH: usize = 10;
    let filled = (progress.done * BAR_WIDTH)
        .checked_div(progress.total)
        .unwrap_or(0);
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(BAR_WIDTH - filled));
    let remaining = progress.remaining.map_or_else(
        || "time left unknown".to_string(),
        |left| format!("~{} left", short_duration(left)),
    );
    format!(
        "{}/{} {bar} {:.1}/s {remaining}",
        progress.done, progress.total, progress.rate
    )
}

fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }
}

fn draw_hint(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let line = match app.notice() {
        Some(text) => Line::styled(text.to_string(), Style::new().fg(Color::Cyan)),
        None => Line::styled(HINT, Style::new().fg(Color::DarkGray)),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_preview(frame: &mut Frame<'_>, preview: &mut Preview, title: &PreviewTitle, area: Rect) {
    let mut text = match &title.shown {
        Some(name) => format!(" preview: {name} "),
        None => " preview ".to_string(),
    };
    if title.loading {
        text.push_str("(loading…) ");
    }
    let block = Block::new().borders(Borders::ALL).title(text);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    preview.render(frame, inner);
}

/// Draws the help overlay, centred in `area`.
pub fn draw_help(frame: &mut Frame<'_>, area: Rect) {
    let width = area.width.min(76);
    let height = area.height.min(HELP.len() as u16 + 4);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, action)| {
            Line::from(vec![
                Span::styled(format!("{keys:>14}  "), Style::new().fg(Color::Cyan)),
                Span::raw(*action),
            ])
        })
        .collect();
    lines.push(Line::styled(
        "any key closes this help",
        Style::new().fg(Color::DarkGray),
    ));
    frame.render_widget(Clear, popup);
    let block = Block::new().borders(Borders::ALL).title(" keys ");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests;
