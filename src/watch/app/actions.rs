//! State changes for each key action.

use std::time::Instant;

use super::{App, Command, THRESHOLD_STEP};
use crate::watch::keys::Action;

impl App {
    /// Applies a user action at time `now`.
    pub fn act(&mut self, action: Action, now: Instant) -> Vec<Command> {
        if self.show_help && action != Action::Quit {
            // Any key closes the help overlay and does nothing else.
            self.show_help = false;
            return Vec::new();
        }
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.show_help = true,
            Action::CloseHelp => {}
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page_size.max(1) as isize)),
            Action::PageDown => self.move_by(self.page_size.max(1) as isize),
            Action::First => self.move_to(0),
            Action::Last => self.move_to(usize::MAX),
            Action::ThresholdUp => self.step_threshold(1.0),
            Action::ThresholdDown => self.step_threshold(-1.0),
            Action::ThresholdReset => self.set_filter(Some(0.0)),
            Action::BestUp => self.set_best(self.settings.best.saturating_add(1)),
            Action::BestDown => self.set_best(self.settings.best.saturating_sub(1)),
            Action::BestOff => self.set_best(0),
            Action::CycleMetric => self.cycle_metric(now),
            Action::ToggleHide => {
                self.hide_failing = !self.hide_failing;
                self.fix_selection();
            }
            Action::TogglePreview => self.show_preview = !self.show_preview,
            Action::SaveSelected => return self.save_selected(now),
            Action::SavePassing => return self.save_passing(now),
            Action::Export => return vec![Command::Export],
            Action::TogglePause => {
                self.paused = !self.paused;
                return vec![Command::SetPaused(self.paused)];
            }
        }
        Vec::new()
    }

    fn move_by(&mut self, delta: isize) {
        let target = self.selected_position.saturating_add_signed(delta);
        self.move_to(target);
    }

    fn move_to(&mut self, position: usize) {
        self.user_moved = true;
        let visible = self.visible_rows();
        let position = position.min(visible.len().saturating_sub(1));
        self.selected = visible
            .get(position)
            .map(|row| self.records[row.record].path.clone());
        self.selected_position = position;
    }

    /// Moves the threshold by one step up (`direction` 1) or down (-1). The threshold
    /// never goes under one step, because 0 means "the model's threshold".
    fn step_threshold(&mut self, direction: f32) {
        let Some(current) = self.settings.pass_threshold() else {
            return;
        };
        let base = self.settings.model_threshold().unwrap_or(current);
        let step = (base * THRESHOLD_STEP).max(f32::EPSILON);
        let next = (current + direction * step).max(step);
        // Rounding to 1e-6 stops repeated steps from drifting away from the model value.
        let rounded = (next * 1e6).round() / 1e6;
        self.set_filter(Some(rounded));
    }

    fn set_filter(&mut self, threshold: Option<f32>) {
        self.settings.filter_threshold = threshold;
        self.rerank();
    }

    fn set_best(&mut self, best: usize) {
        self.settings.best = best;
        self.rerank();
    }

    /// Switches to the next metric. A custom threshold is in the old metric's units,
    /// so it goes back to the model's threshold for the new metric.
    fn cycle_metric(&mut self, now: Instant) {
        self.settings.metric = self.settings.metric.next();
        let custom = self
            .settings
            .filter_threshold
            .is_some_and(|value| value > 0.0);
        self.settings.filter_threshold = Some(0.0);
        if custom {
            let text = format!(
                "threshold reset to the model's value for {}",
                self.settings.metric
            );
            self.notice = Some((text, now));
        }
        self.rerank();
    }

    fn save_selected(&mut self, now: Instant) -> Vec<Command> {
        let Some(row) = self.selected_row() else {
            self.notice = Some(("no row selected: nothing to save".to_string(), now));
            return Vec::new();
        };
        if row.score.is_none() {
            let name = super::file_name(&self.records[row.record].path);
            self.notice = Some((
                format!("{name} has no scored face: no overlay to save"),
                now,
            ));
            return Vec::new();
        }
        vec![Command::SaveOverlays(vec![self.overlay_request(&row)])]
    }

    fn save_passing(&mut self, now: Instant) -> Vec<Command> {
        let requests: Vec<_> = self
            .ranking
            .kept_scored()
            .map(|row| self.overlay_request(row))
            .collect();
        if requests.is_empty() {
            self.notice = Some(("no passing rows: no overlays to save".to_string(), now));
            return Vec::new();
        }
        vec![Command::SaveOverlays(requests)]
    }
}
