//! Dashboard state. [`App`] is the only owner of what the dashboard shows. It does no
//! I/O: events go in, and [`Command`]s for the main loop come out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::event::{Event, OverlayKey, WatcherMode};
use crate::overlay::OverlayLabel;
use crate::pipeline::Face;
use crate::ranking::{RankSettings, Ranking, rank};
use crate::record::ImageRecord;
use crate::references::ReferenceSet;

/// Completions older than this do not count towards the rate.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// How long a status-bar message stays.
const NOTICE_TIME: Duration = Duration::from_secs(6);

/// One threshold key press moves the threshold by this share of the model's value.
const THRESHOLD_STEP: f32 = 0.02;

/// Work for the main loop, which owns the threads and the terminal.
#[derive(Debug, Clone)]
pub enum Command {
    SetPaused(bool),
    SaveOverlays(Vec<OverlayRequest>),
    /// Write the table to the export file.
    Export,
}

/// Everything the preview thread needs to draw or save one overlay.
#[derive(Debug, Clone)]
pub struct OverlayRequest {
    pub key: OverlayKey,
    /// The scored face, boxed on the overlay.
    pub face: Option<Face>,
    /// The band text; `None` shows the image as it is (no face found).
    pub label: Option<OverlayLabel>,
    pub file_name: String,
}

/// The reference set as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceSummary {
    pub photos: usize,
    pub used: usize,
    /// File names of the photos left out, with the reason.
    pub unused: Vec<(String, String)>,
}

/// Counts for the status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub scored: usize,
    pub passing: usize,
    pub kept: usize,
    pub no_face: usize,
    pub failed: usize,
}

/// Backlog progress: files done out of the files queued since the queue was last empty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// Files a second over the last ten seconds.
    pub rate: f64,
    pub remaining: Option<Duration>,
}

pub struct App {
    pub folder: PathBuf,
    pub overlays_dir: PathBuf,
    pub log_path: PathBuf,
    pub settings: RankSettings,
    /// `None` while the models load.
    pub reference: Option<ReferenceSummary>,
    mean: Vec<f32>,
    records: Vec<ImageRecord>,
    by_path: HashMap<PathBuf, usize>,
    ranking: Ranking,
    selected: Option<PathBuf>,
    /// Position of the selection in the visible rows, used when the selected file
    /// disappears from view.
    selected_position: usize,
    /// False until the user moves the selection; until then it stays on the top row.
    user_moved: bool,
    pub page_size: usize,
    pub hide_failing: bool,
    pub show_help: bool,
    pub show_preview: bool,
    pub paused: bool,
    pub watcher: WatcherMode,
    pending: HashSet<PathBuf>,
    backlog_total: usize,
    completions: VecDeque<Instant>,
    notice: Option<(String, Instant)>,
    pub quit: bool,
    pub load_error: Option<String>,
}

impl App {
    /// Creates the state shown while the models load. A threshold of `None` in
    /// `settings` becomes the model's threshold, because the dashboard always filters.
    pub fn new(
        folder: PathBuf,
        overlays_dir: PathBuf,
        log_path: PathBuf,
        mut settings: RankSettings,
    ) -> App {
        if settings.filter_threshold.is_none() {
            settings.filter_threshold = Some(0.0);
        }
        App {
            folder,
            overlays_dir,
            log_path,
            settings,
            reference: None,
            mean: Vec::new(),
            records: Vec::new(),
            by_path: HashMap::new(),
            ranking: Ranking::default(),
            selected: None,
            selected_position: 0,
            user_moved: false,
            page_size: 10,
            hide_failing: false,
            show_help: false,
            show_preview: true,
            paused: false,
            watcher: WatcherMode::Starting,
            pending: HashSet::new(),
            backlog_total: 0,
            completions: VecDeque::new(),
            notice: None,
            quit: false,
            load_error: None,
        }
    }

    /// Applies one event at time `now`.
    pub fn apply(&mut self, event: Event, now: Instant) -> Vec<Command> {
        match event {
            Event::Key(key) => {
                if let Some(action) = super::keys::action_for(&key) {
                    return self.act(action, now);
                }
            }
            Event::Resize | Event::Preview { .. } => {}
            Event::Quit => self.quit = true,
            Event::Ready(set) => self.set_reference(&set),
            Event::LoadFailed(message) => {
                self.load_error = Some(message);
                self.quit = true;
            }
            Event::Watcher(mode) => self.watcher = mode,
            Event::Queued(path) => self.queue(path),
            Event::Analyzed(record) => self.add_record(record, now),
            Event::Removed(path) => self.remove(&path, now),
            Event::Saved(result) => self.report_saved(result, now),
            Event::Notice { text, at } => self.notice = Some((text, at)),
        }
        Vec::new()
    }

    fn set_reference(&mut self, set: &ReferenceSet) {
        self.reference = Some(ReferenceSummary {
            photos: set.photos.len(),
            used: set.used_count(),
            unused: set
                .unused()
                .map(|photo| (file_name(&photo.path), photo.status.describe()))
                .collect(),
        });
        self.mean = set.mean.clone();
        self.rerank();
    }

    fn queue(&mut self, path: PathBuf) {
        if self.pending.insert(path) {
            self.backlog_total += 1;
        }
    }

    /// Adds a record, or replaces the one for the same file.
    fn add_record(&mut self, record: ImageRecord, now: Instant) {
        self.pending.remove(&record.path);
        if self.pending.is_empty() {
            self.backlog_total = 0;
        }
        self.completions.push_back(now);
        match self.by_path.get(&record.path) {
            Some(&index) => self.records[index] = record,
            None => {
                self.by_path.insert(record.path.clone(), self.records.len());
                self.records.push(record);
            }
        }
        self.rerank();
    }

    fn remove(&mut self, path: &Path, now: Instant) {
        if self.pending.remove(path) && self.pending.is_empty() {
            self.backlog_total = 0;
        }
        if self.by_path.remove(path).is_none() {
            return;
        }
        self.records.retain(|record| record.path != path);
        self.by_path = self
            .records
            .iter()
            .enumerate()
            .map(|(index, record)| (record.path.clone(), index))
            .collect();
        self.notice = Some((
            format!("{} was removed from the folder", file_name(path)),
            now,
        ));
        self.rerank();
    }

    fn report_saved(&mut self, result: Result<Vec<PathBuf>, String>, now: Instant) {
        let text = match result {
            Ok(paths) if paths.len() == 1 => format!("saved {}", paths[0].display()),
            Ok(paths) => format!(
                "saved {} overlays to {}",
                paths.len(),
                self.overlays_dir.display()
            ),
            Err(message) => message,
        };
        self.notice = Some((text, now));
    }

    fn rerank(&mut self) {
        self.ranking = rank(&self.records, &self.mean, &self.settings);
        self.fix_selection();
    }

    /// Keeps the selection on the same file once the user has moved it, and on the
    /// top row before that. When the selected file is no longer visible, the row now
    /// at the selection's old position is selected.
    fn fix_selection(&mut self) {
        let visible = self.visible_rows();
        if !self.user_moved {
            self.selected_position = 0;
            self.selected = visible
                .first()
                .map(|row| self.records[row.record].path.clone());
            return;
        }
        let found = self.selected.as_ref().and_then(|path| {
            visible
                .iter()
                .position(|row| &self.records[row.record].path == path)
        });
        if let Some(position) = found {
            self.selected_position = position;
            return;
        }
        let position = self.selected_position.min(visible.len().saturating_sub(1));
        self.selected = visible
            .get(position)
            .map(|row| self.records[row.record].path.clone());
        self.selected_position = position;
    }
}

mod actions;
mod view;

pub use view::file_name;

#[cfg(test)]
pub(crate) mod tests;
