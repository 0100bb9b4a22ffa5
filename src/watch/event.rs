//! The one event type every thread of the dashboard sends to the UI thread.

use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::KeyEvent;
use image::RgbImage;

use crate::record::ImageRecord;
use crate::references::ReferenceSet;

/// Source of file events for the intake thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatcherMode {
    /// The watcher is not running yet.
    Starting,
    /// Native file events (inotify, FSEvents, ReadDirectoryChangesW).
    Native,
    /// Polling every `interval_ms` milliseconds. `reason` is why native events are
    /// not used.
    Polling { interval_ms: u64, reason: String },
}

/// Identity of a preview or overlay picture. A late reply for an older selection,
/// metric or score has a different key from the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayKey {
    pub path: PathBuf,
    /// The scored face's distance under the current metric, `None` for no score.
    pub distance: Option<f32>,
    pub metric: &'static str,
}

/// Something that happened. The UI thread applies events to [`super::app::App`] in
/// the order they arrive.
#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    /// The terminal changed size; the next draw uses the new size.
    Resize,
    /// SIGTERM, SIGHUP or SIGINT arrived.
    Quit,
    /// The models are loaded and the reference set is built.
    Ready(ReferenceSet),
    /// Loading the models or building the reference set failed; the dashboard exits
    /// and prints this message.
    LoadFailed(String),
    Watcher(WatcherMode),
    /// The intake thread handed a file to the worker.
    Queued(PathBuf),
    /// The worker finished a file: scored, no face, or failed with a reason.
    Analyzed(ImageRecord),
    /// A file left the watched folder (deleted or renamed away).
    Removed(PathBuf),
    /// The preview thread rendered the overlay of `key`, or found nothing to show.
    Preview {
        key: OverlayKey,
        image: Option<RgbImage>,
    },
    /// An overlay save finished: the written files, or what failed.
    Saved(Result<Vec<PathBuf>, String>),
    /// A message for the status bar from a background thread.
    Notice {
        text: String,
        at: Instant,
    },
}
