//! Read-only views of the state for drawing and for the main loop.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{App, Counts, NOTICE_TIME, OverlayRequest, Progress, RATE_WINDOW};
use crate::overlay::{self, OverlayLabel};
use crate::ranking::RankedRow;
use crate::record::{ImageRecord, Status};
use crate::scan::{RowJson, row_json};
use crate::watch::event::OverlayKey;

/// Returns the last component of `path`, for display.
pub fn file_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    crate::record::printable(&name)
}

impl App {
    pub fn record(&self, row: &RankedRow) -> &ImageRecord {
        &self.records[row.record]
    }

    /// Scored rows on show, closest first: all of them, or only the kept ones while
    /// non-passing rows are hidden.
    pub fn scored_rows(&self) -> Vec<RankedRow> {
        self.ranking
            .scored()
            .filter(|row| row.kept || !self.hide_failing)
            .copied()
            .collect()
    }

    /// Number of scored images, shown or hidden.
    pub fn ranking_len_scored(&self) -> usize {
        self.ranking.scored().count()
    }

    /// Images without a score (no face, or failed), by status and path.
    pub fn unscored_rows(&self) -> Vec<RankedRow> {
        self.ranking
            .rows
            .iter()
            .filter(|row| row.score.is_none())
            .copied()
            .collect()
    }

    /// Returns every selectable row: the scored rows on show, then the unscored ones.
    pub fn visible_rows(&self) -> Vec<RankedRow> {
        let mut rows = self.scored_rows();
        rows.extend(self.unscored_rows());
        rows
    }

    pub fn selected_path(&self) -> Option<&Path> {
        self.selected.as_deref()
    }

    pub fn selected_row(&self) -> Option<RankedRow> {
        let path = self.selected.as_ref()?;
        let index = *self.by_path.get(path)?;
        self.ranking
            .rows
            .iter()
            .find(|row| row.record == index)
            .copied()
    }

    /// Position of the selection among [`App::visible_rows`].
    pub fn selected_position(&self) -> Option<usize> {
        self.selected.as_ref().map(|_| self.selected_position)
    }

    /// Builds the request for the selected row's preview. Failed images have nothing
    /// to show.
    pub fn preview_request(&self) -> Option<OverlayRequest> {
        let row = self.selected_row()?;
        (self.records[row.record].status != Status::Error).then(|| self.overlay_request(&row))
    }

    pub(super) fn overlay_request(&self, row: &RankedRow) -> OverlayRequest {
        let record = &self.records[row.record];
        let metric = self.settings.metric.name();
        let distance = row.score.map(|score| score.distance);
        OverlayRequest {
            key: OverlayKey {
                path: record.path.clone(),
                distance,
                metric,
            },
            face: row
                .score
                .and_then(|score| record.faces.get(score.face).cloned()),
            label: row.score.map(|score| OverlayLabel {
                distance: score.distance,
                normalized: row.normalized.unwrap_or(1.0),
                passed: row.passed,
            }),
            file_name: overlay::file_name(&record.path, metric, distance),
        }
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            passing: self.ranking.passed_count(),
            kept: self.ranking.kept_scored().count(),
            ..Counts::default()
        };
        for record in &self.records {
            match record.status {
                Status::Ok => counts.scored += 1,
                Status::NoFace => counts.no_face += 1,
                Status::Error => counts.failed += 1,
            }
        }
        counts
    }

    /// Distances of every scored image under the current metric, closest first.
    pub fn distances(&self) -> Vec<f32> {
        self.ranking
            .scored()
            .filter_map(|row| row.score.map(|score| score.distance))
            .collect()
    }

    /// Backlog progress, or `None` when the queue is empty.
    pub fn progress(&self, now: Instant) -> Option<Progress> {
        if self.pending.is_empty() {
            return None;
        }
        let recent: Vec<&Instant> = self
            .completions
            .iter()
            .filter(|at| now.saturating_duration_since(**at) <= RATE_WINDOW)
            .collect();
        // The span starts at the oldest recent completion, so a backlog that began a
        // second ago is not averaged over the whole window.
        let span = recent
            .first()
            .map_or(RATE_WINDOW, |oldest| {
                now.saturating_duration_since(**oldest)
            })
            .max(Duration::from_secs(1));
        let rate = recent.len() as f64 / span.as_secs_f64();
        let remaining =
            (rate > 0.0).then(|| Duration::from_secs_f64(self.pending.len() as f64 / rate));
        Some(Progress {
            done: self.backlog_total.saturating_sub(self.pending.len()),
            total: self.backlog_total,
            rate,
            remaining,
        })
    }

    /// Drops completions that no longer count towards the rate.
    pub fn expire(&mut self, now: Instant) {
        while self
            .completions
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > RATE_WINDOW)
        {
            self.completions.pop_front();
        }
        if self
            .notice
            .as_ref()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) > NOTICE_TIME)
        {
            self.notice = None;
        }
    }

    pub fn notice(&self) -> Option<&str> {
        self.notice.as_ref().map(|(text, _)| text.as_str())
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Returns every row of the table, hidden ones included, in ranked order, as
    /// `scan --format jsonl` prints them.
    pub fn export_rows(&self) -> Vec<RowJson> {
        self.ranking
            .rows
            .iter()
            .map(|row| row_json(&self.records[row.record], row, &self.settings, &self.mean))
            .collect()
    }
}
