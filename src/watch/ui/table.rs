//! The ranking table, and the images without a score listed under it.

use std::path::Path;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};

use crate::ranking::RankedRow;
use crate::record::Status;
use crate::watch::app::App;

/// Most rows the unscored list takes while scored rows need the space.
const UNSCORED_MAX_ROWS: u16 = 5;

pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    if app.reference.is_none() {
        let text = format!("loading models… ({} files queued)", app.pending_count());
        let block = Block::new().borders(Borders::ALL).title(" images ");
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let scored = app.scored_rows();
    let unscored = app.unscored_rows();
    let selected = app.selected_position();
    let unscored_height = match unscored.len() {
        0 => 0,
        count => (count as u16).min(UNSCORED_MAX_ROWS) + 3,
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(unscored_height)]).areas(area);
    draw_scored(
        frame,
        app,
        &scored,
        selected.filter(|position| *position < scored.len()),
        top,
    );
    if !unscored.is_empty() {
        let position = selected.and_then(|position| position.checked_sub(scored.len()));
        draw_unscored(frame, app, &unscored, position, bottom);
    }
}

fn draw_scored(
    frame: &mut Frame<'_>,
    app: &App,
    rows: &[RankedRow],
    selected: Option<usize>,
    area: Rect,
) {
    let hidden = app.ranking_len_scored().saturating_sub(rows.len());
    let title = match hidden {
        0 => format!(" ranked images ({}) ", rows.len()),
        count => format!(
            " ranked images ({} shown, {count} hidden: h shows them) ",
            rows.len()
        ),
    };
    let header = Row::new(["#", "file", "distance", "score", "faces", "status"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| scored_row(app, index + 1, row))
        .collect();
    let widths = [
        Constraint::Length(4),
        Constraint::Min(16),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(9),
    ];
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("›");
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

fn scored_row(app: &App, rank: usize, row: &RankedRow) -> Row<'static> {
    let record = app.record(row);
    let distance = row
        .score
        .map_or_else(String::new, |score| format!("{:.4}", score.distance));
    let normalized = row
        .normalized
        .map_or_else(String::new, |value| format!("{value:.3}"));
    let (status, style) = if row.kept {
        ("match", Style::new().fg(Color::Green))
    } else if row.passed {
        ("> best-N", Style::new().add_modifier(Modifier::DIM))
    } else {
        ("over", Style::new().add_modifier(Modifier::DIM))
    };
    let cells = [
        rank.to_string(),
        display_name(&app.folder, &record.path),
        distance,
        normalized,
        record.faces.len().to_string(),
        status.to_string(),
    ];
    Row::new(cells).style(style)
}

fn draw_unscored(
    frame: &mut Frame<'_>,
    app: &App,
    rows: &[RankedRow],
    selected: Option<usize>,
    area: Rect,
) {
    let body: Vec<Row> = rows
        .iter()
        .map(|row| {
            let record = app.record(row);
            let (status, colour) = match record.status {
                Status::NoFace => ("no face", Color::Yellow),
                Status::Error | Status::Ok => ("error", Color::Red),
            };
            let reason = crate::record::printable(record.reason.as_deref().unwrap_or_default());
            Row::new([
                display_name(&app.folder, &record.path),
                status.to_string(),
                reason,
            ])
            .style(Style::new().fg(colour))
        })
        .collect();
    let widths = [
        Constraint::Length(24),
        Constraint::Length(8),
        Constraint::Min(10),
    ];
    let title = format!(" not scored ({}): never counted as matches ", rows.len());
    let table = Table::new(body, widths)
        .block(Block::new().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("›");
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// Returns the path below the watched folder, or the whole path when it is elsewhere.
fn display_name(folder: &Path, path: &Path) -> String {
    let shown = path
        .strip_prefix(folder)
        .unwrap_or(path)
        .display()
        .to_string();
    crate::record::printable(&shown)
}
