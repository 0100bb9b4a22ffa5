//! The worker thread: loads the models, builds the reference set, then decodes and
//! scores queued files one at a time. It owns the only [`Pipeline`].

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::event::Event;
use super::intake::Stamp;
use crate::pipeline::{AnalyzeError, Pipeline};
use crate::record::ImageRecord;
use crate::references;
use crate::settings::{Engine, Settings};

/// Most files waiting at once. The intake thread blocks when the queue is full, which
/// is fine because it only needs to catch up later.
const QUEUE_CAPACITY: usize = 4096;

/// Retries of a file whose decode failed in a way a still-growing file fails.
const MAX_RETRIES: u32 = 4;

/// Wait before the first retry; it doubles for each further one (0.25 + 0.5 + 1 + 2 s).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);

/// Files waiting for the worker, in arrival order, each at most once.
pub struct JobQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Default)]
struct QueueState {
    order: VecDeque<PathBuf>,
    queued: HashSet<PathBuf>,
    paused: bool,
}

impl Default for JobQueue {
    fn default() -> Self {
        JobQueue {
            state: Mutex::new(QueueState::default()),
            changed: Condvar::new(),
        }
    }
}

impl JobQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding the lock leaves the queue consistent, so the poison
        // flag is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `path` unless it is already waiting. Returns whether it was added. Blocks
    /// while the queue is full.
    pub fn push(&self, path: PathBuf) -> bool {
        let mut state = self.lock();
        if state.queued.contains(&path) {
            return false;
        }
        while state.order.len() >= QUEUE_CAPACITY {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.queued.insert(path.clone());
        state.order.push_back(path);
        self.changed.notify_all();
        true
    }

    /// Takes the oldest file, waiting at most `timeout`. Returns `None` on timeout and
    /// while paused.
    pub fn pop(&self, timeout: Duration) -> Option<PathBuf> {
        let state = self.lock();
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |state| {
                state.paused || state.order.is_empty()
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.paused {
            return None;
        }
        let path = state.order.pop_front()?;
        state.queued.remove(&path);
        self.changed.notify_all();
        Some(path)
    }

    pub fn set_paused(&self, paused: bool) {
        self.lock().paused = paused;
        self.changed.notify_all();
    }
}

/// A file to read again later because it may still be growing.
struct Retry {
    path: PathBuf,
    attempt: u32,
    due: Instant,
}

/// Starts the worker thread. It reports [`Event::Ready`] or [`Event::LoadFailed`]
/// first, then one [`Event::Analyzed`] per finished file.
pub fn spawn(
    engine: Engine,
    settings: Settings,
    references: Vec<PathBuf>,
    queue: std::sync::Arc<JobQueue>,
    events: Sender<Event>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("worker".to_string())
        .spawn(move || {
            let Some(pipeline) = load(&engine, &settings, &references, &events) else {
                return;
            };
            run(pipeline, &queue, &events);
        })
}

fn load(
    engine: &Engine,
    settings: &Settings,
    references: &[PathBuf],
    events: &Sender<Event>,
) -> Option<Pipeline> {
    let started = Instant::now();
    let mut pipeline = match engine.pipeline(&settings.pipeline) {
        Ok(pipeline) => pipeline,
        Err(err) => {
            tracing::error!("loading the models failed: {err:#}");
            let _ = events.send(Event::LoadFailed(format!("{err:#}")));
            return None;
        }
    };
    match references::build(&mut pipeline, references) {
        Ok(set) => {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis(),
                used = set.used_count(),
                "models and references ready"
            );
            events.send(Event::Ready(set)).ok()?;
            Some(pipeline)
        }
        Err(err) => {
            tracing::error!("reference set failed: {err}");
            let _ = events.send(Event::LoadFailed(err.to_string()));
            None
        }
    }
}

fn run(mut pipeline: Pipeline, queue: &JobQueue, events: &Sender<Event>) {
    let mut retries: Vec<Retry> = Vec::new();
    loop {
        let now = Instant::now();
        let (path, attempt) = match take_due(&mut retries, now) {
            Some(retry) => (retry.path, retry.attempt),
            None => {
                let next_due = retries.iter().map(|retry| retry.due).min();
                let wait = next_due.map_or(Duration::from_millis(500), |due| {
                    due.saturating_duration_since(now)
                });
                let Some(path) = queue.pop(wait) else {
                    continue;
                };
                // A fresh request replaces a pending retry of the same file.
                retries.retain(|retry| retry.path != path);
                (path, 0)
            }
        };
        if let Some(record) = analyze(&mut pipeline, &path, attempt, &mut retries)
            && events.send(Event::Analyzed(record)).is_err()
        {
            return;
        }
    }
}

fn take_due(retries: &mut Vec<Retry>, now: Instant) -> Option<Retry> {
    let index = retries.iter().position(|retry| retry.due <= now)?;
    Some(retries.swap_remove(index))
}

/// Scores one file. Returns `None` when the file is gone or was scheduled for a retry.
fn analyze(
    pipeline: &mut Pipeline,
    path: &Path,
    attempt: u32,
    retries: &mut Vec<Retry>,
) -> Option<ImageRecord> {
    let before = Stamp::of(path).ok()?;
    let started = Instant::now();
    let outcome = pipeline.analyze_path(path);
    let changed = Stamp::of(path).ok() != Some(before);
    let incomplete = match &outcome {
        Err(AnalyzeError::Decode(err)) => err.may_be_incomplete(),
        _ => false,
    };
    if (changed || incomplete) && attempt < MAX_RETRIES {
        let delay = FIRST_RETRY_DELAY * 2u32.pow(attempt);
        tracing::debug!(path = %path.display(), attempt, changed, "file not complete yet, retrying");
        retries.push(Retry {
            path: path.to_path_buf(),
            attempt: attempt + 1,
            due: Instant::now() + delay,
        });
        return None;
    }
    let mut record = ImageRecord::from_outcome(path, &outcome);
    if changed {
        record = ImageRecord::failed(
            path,
            format!("file kept changing while read ({} attempts)", attempt + 1),
        );
    } else if incomplete && let Some(reason) = record.reason.take() {
        record.reason = Some(format!(
            "{reason} (still unreadable after {} attempts)",
            attempt + 1
        ));
    }
    tracing::info!(
        path = %path.display(),
        status = record.status.as_str(),
        elapsed_ms = started.elapsed().as_millis(),
        "image analysed"
    );
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_drops_duplicates() {
        let queue = JobQueue::default();
        assert!(queue.push(PathBuf::from("a.png")));
        assert!(!queue.push(PathBuf::from("a.png")));
        assert!(queue.push(PathBuf::from("b.png")));
        assert_eq!(queue.pop(Duration::ZERO), Some(PathBuf::from("a.png")));
        assert!(queue.push(PathBuf::from("a.png")));
        assert_eq!(queue.pop(Duration::ZERO), Some(PathBuf::from("b.png")));
        assert_eq!(queue.pop(Duration::ZERO), Some(PathBuf::from("a.png")));
        assert_eq!(queue.pop(Duration::ZERO), None);
    }

    #[test]
    fn paused_queue_yields_nothing() {
        let queue = JobQueue::default();
        queue.push(PathBuf::from("a.png"));
        queue.set_paused(true);
        assert_eq!(queue.pop(Duration::from_millis(10)), None);
        queue.set_paused(false);
        assert_eq!(queue.pop(Duration::ZERO), Some(PathBuf::from("a.png")));
    }
}
