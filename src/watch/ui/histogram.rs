//! The distance histogram with the threshold marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Sparkline};

use crate::watch::app::App;

/// Draws two rows of bars (one column per distance bin) and an axis row below with
/// the range and a `▲` under the threshold.
pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    if area.height < 3 || area.width < 20 {
        return;
    }
    let distances = app.distances();
    let threshold = app.settings.pass_threshold();
    let top = axis_max(&distances, threshold);
    let bins = bin_counts(&distances, top, usize::from(area.width));
    let bars = Rect::new(area.x, area.y, area.width, 2);
    let sparkline = Sparkline::default()
        .data(&bins)
        .style(Style::new().fg(Color::Blue));
    frame.render_widget(sparkline, bars);
    let axis = Rect::new(area.x, area.y + 2, area.width, 1);
    let line = axis_line(top, threshold, usize::from(area.width));
    frame.render_widget(
        Paragraph::new(Line::styled(line, Style::new().fg(Color::DarkGray))),
        axis,
    );
}

/// Right end of the axis: past the largest distance and the threshold, so both fit.
fn axis_max(distances: &[f32], threshold: Option<f32>) -> f32 {
    let largest = distances
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .fold(0.0_f32, f32::max);
    let threshold = threshold.unwrap_or(0.0);
    (largest.max(threshold * 1.5) * 1.05).max(f32::EPSILON)
}

/// Counts distances into `width` equal bins from 0 to `top`.
pub fn bin_counts(distances: &[f32], top: f32, width: usize) -> Vec<u64> {
    let mut bins = vec![0_u64; width];
    if width == 0 {
        return bins;
    }
    for distance in distances.iter().filter(|d| d.is_finite()) {
        let index = ((distance / top) * width as f32).floor().max(0.0) as usize;
        bins[index.min(width - 1)] += 1;
    }
    bins
}

/// "0" at the left, the top value at the right and "▲ threshold" at its column.
fn axis_line(top: f32, threshold: Option<f32>, width: usize) -> String {
    let mut cells: Vec<char> = vec![' '; width];
    let mut put = |start: usize, text: &str| {
        for (offset, character) in text.chars().enumerate() {
            if let Some(cell) = cells.get_mut(start + offset) {
                *cell = character;
            }
        }
    };
    put(0, "0");
    let end = format!("{top:.2}");
    put(width.saturating_sub(end.len()), &end);
    if let Some(threshold) = threshold {
        let column = ((threshold / top) * width as f32).floor() as usize;
        let label = format!("▲ {threshold:.3}");
        put(
            column.min(width.saturating_sub(label.chars().count())),
            &label,
        );
    }
    cells.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_range() {
        let bins = bin_counts(&[0.0, 0.49, 0.5, 0.99, 5.0], 1.0, 2);
        assert_eq!(bins, [2, 3]);
    }

    #[test]
    fn axis_marks_threshold() {
        let line = axis_line(1.0, Some(0.5), 40);
        assert_eq!(line.chars().position(|c| c == '▲'), Some(20));
        assert!(line.starts_with('0'));
        assert!(line.ends_with("1.00"));
    }
}
