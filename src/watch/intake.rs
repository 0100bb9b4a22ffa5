//! The intake thread: finds the images in the watched folder, follows file events
//! (native, or polling as a fallback), and hands each file to the worker once its
//! size and modification time have stopped changing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

use super::event::{Event, WatcherMode};
use super::worker::JobQueue;
use crate::references::is_image_name;

/// How long size and modification time must stay the same before a file is read.
const SETTLE_TIME: Duration = Duration::from_millis(300);

/// How often waiting files are checked again; file events arriving within one check
/// are handled together.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Poll interval when native events fail and `--poll` gave none.
const FALLBACK_POLL: Duration = Duration::from_millis(1000);

/// How often the watched folder itself is checked: deleted, moved away, or back.
const FOLDER_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Deepest folder level listed with `--recursive`, which also stops symlink loops.
const MAX_DEPTH: usize = 32;

/// A file's size and modification time. A change in either means new content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    /// Reads the stamp of `path`, or of the link itself for a dangling symlink, so
    /// that a link to nothing still gets a row (with the read error) instead of none.
    pub fn of(path: &Path) -> std::io::Result<Stamp> {
        let meta = std::fs::metadata(path).or_else(|_| std::fs::symlink_metadata(path))?;
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// Folder and options for the intake thread.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// The watched folder, canonical.
    pub folder: PathBuf,
    pub recursive: bool,
    /// `Some` forces polling at this interval.
    pub poll: Option<Duration>,
    /// facewatch's own output folders and files (overlays, export), never read even
    /// inside the watched folder.
    pub excluded: Vec<PathBuf>,
}

impl IntakeConfig {
    /// True for an image file name in the watched folder (or below it with
    /// `--recursive`) that is not in an output folder.
    fn accepts(&self, path: &Path) -> bool {
        if !is_image_name(path) || self.excluded.iter().any(|dir| path.starts_with(dir)) {
            return false;
        }
        self.recursive || path.parent() == Some(self.folder.as_path())
    }
}

/// A file seen changing, waiting to settle.
struct Waiting {
    stamp: Stamp,
    since: Instant,
}

struct Intake {
    config: IntakeConfig,
    queue: Arc<JobQueue>,
    events: Sender<Event>,
    waiting: HashMap<PathBuf, Waiting>,
    /// Files handed to the worker, with the stamp they had then.
    submitted: HashMap<PathBuf, Stamp>,
    /// The running watcher; dropping it stops its events.
    watcher: Option<Box<dyn Watcher + Send>>,
    /// Channel the watcher sends file events to, kept to start a new watcher.
    notify_sender: Sender<notify::Result<notify::Event>>,
    /// Identity of the folder the watcher follows, `None` while it is missing.
    folder_identity: Option<u64>,
    folder_checked: Instant,
}

/// Returns an identity of the folder at `path` (the inode on Unix), or `None` when no
/// folder is there. A different value means the folder was replaced.
fn folder_identity(path: &Path) -> Option<u64> {
    let meta = std::fs::metadata(path).ok().filter(|meta| meta.is_dir())?;
    #[cfg(unix)]
    {
        Some(std::os::unix::fs::MetadataExt::ino(&meta))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some(0)
    }
}

/// Starts the intake thread. It lists the folder first, so files already there form
/// the backlog, then follows file events until the UI thread goes away.
pub fn spawn(
    config: IntakeConfig,
    queue: Arc<JobQueue>,
    events: Sender<Event>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("intake".to_string())
        .spawn(move || {
            let (sender, receiver) = mpsc::channel();
            let Some(watcher) = start_watcher(&config, sender.clone(), &events) else {
                return;
            };
            let mut intake = Intake {
                folder_identity: folder_identity(&config.folder),
                config,
                queue,
                events,
                waiting: HashMap::new(),
                submitted: HashMap::new(),
                watcher: Some(watcher),
                notify_sender: sender,
                folder_checked: Instant::now(),
            };
            intake.rescan();
            intake.run(&receiver);
        })
}

/// Starts native watching, or polling when that fails or `--poll` is given, and
/// reports which one runs. Returns `None` after reporting [`Event::LoadFailed`] when
/// neither can watch the folder.
fn start_watcher(
    config: &IntakeConfig,
    sender: Sender<notify::Result<notify::Event>>,
    events: &Sender<Event>,
) -> Option<Box<dyn Watcher + Send>> {
    let mode = if config.recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    let reason = match config.poll {
        Some(_) => "--poll given".to_string(),
        None => match RecommendedWatcher::new(sender.clone(), notify::Config::default())
            .and_then(|mut watcher| watcher.watch(&config.folder, mode).map(|()| watcher))
        {
            Ok(watcher) => {
                tracing::info!(folder = %config.folder.display(), "watching with native file events");
                let _ = events.send(Event::Watcher(WatcherMode::Native));
                return Some(Box::new(watcher));
            }
            Err(err) => {
                tracing::warn!(folder = %config.folder.display(), "native file events failed, polling instead: {err}");
                format!("native events failed: {err}")
            }
        },
    };
    let interval = config.poll.unwrap_or(FALLBACK_POLL);
    let poll_config = notify::Config::default().with_poll_interval(interval);
    match PollWatcher::new(sender, poll_config)
        .and_then(|mut watcher| watcher.watch(&config.folder, mode).map(|()| watcher))
    {
        Ok(watcher) => {
            let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
            let _ = events.send(Event::Watcher(WatcherMode::Polling {
                interval_ms,
                reason,
            }));
            Some(Box::new(watcher))
        }
        Err(err) => {
            let message = format!("cannot watch {}: {err}", config.folder.display());
            tracing::error!("{message}");
            let _ = events.send(Event::LoadFailed(message));
            None
        }
    }
}

/// True for events after which a file is complete: closed after writing (inotify's
/// `IN_CLOSE_WRITE`), or renamed into place.
fn is_write_complete(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    matches!(
        kind,
        notify::EventKind::Access(AccessKind::Close(AccessMode::Write))
            | notify::EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
    )
}

impl Intake {
    fn run(&mut self, receiver: &Receiver<notify::Result<notify::Event>>) {
        loop {
            match receiver.recv_timeout(CHECK_INTERVAL) {
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(event) = receiver.try_recv() {
                self.handle(event);
            }
            let now = Instant::now();
            if now.saturating_duration_since(self.folder_checked) >= FOLDER_CHECK_INTERVAL {
                self.folder_checked = now;
                self.check_folder();
            }
            if !self.submit_settled(now) {
                return;
            }
        }
    }

    /// Notices when the watched folder is deleted or moved away (its files leave the
    /// table), and when a folder of that name appears again: a new watcher follows
    /// it and its files are listed.
    fn check_folder(&mut self) {
        let current = folder_identity(&self.config.folder);
        if current == self.folder_identity {
            return;
        }
        let folder = self.config.folder.display().to_string();
        let text = match current {
            None => {
                tracing::warn!(
                    folder,
                    "the watched folder is gone; waiting for it to come back"
                );
                self.watcher = None;
                format!("the watched folder {folder} is gone; waiting for it to come back")
            }
            Some(_) => {
                tracing::info!(folder, "the watched folder is back; listing it again");
                // The old watcher follows the old folder, wherever it went.
                self.watcher = None;
                self.watcher =
                    start_watcher(&self.config, self.notify_sender.clone(), &self.events);
                format!("the watched folder {folder} is back; listing it again")
            }
        };
        self.folder_identity = current;
        self.rescan();
        let _ = self.events.send(Event::Notice {
            text,
            at: Instant::now(),
        });
    }

    fn handle(&mut self, event: notify::Result<notify::Event>) {
        match event {
            Ok(event) if event.need_rescan() => {
                tracing::warn!("file events were dropped, listing the folder again");
                self.rescan();
            }
            Ok(event) => {
                let complete = is_write_complete(&event.kind);
                for path in event.paths {
                    self.note(path, complete);
                }
            }
            Err(err) => {
                // NOTE: an error here (such as the inotify watch limit reached for a new
                // subfolder) keeps native events for the rest of the tree. Only a failure
                // at start switches to polling.
                tracing::warn!("file watcher error, listing the folder again: {err}");
                self.rescan();
            }
        }
    }

    /// Looks at one path named by an event. `complete` means the event itself shows the
    /// writer is done (closed after writing, or renamed into place), so the file skips
    /// the settle window; it is still decoded in full before it gets a score.
    fn note(&mut self, path: PathBuf, complete: bool) {
        let meta = std::fs::metadata(&path).or_else(|_| std::fs::symlink_metadata(&path));
        match meta {
            Ok(meta) if meta.is_dir() => {
                // Files can land in a new subfolder before its watch is in place.
                if self.config.recursive && path.starts_with(&self.config.folder) {
                    self.list_dir(&path, 0, &mut HashSet::new());
                }
            }
            Ok(meta) if self.config.accepts(&path) => {
                let stamp = Stamp {
                    len: meta.len(),
                    modified: meta.modified().ok(),
                };
                let now = Instant::now();
                let since = if complete {
                    now.checked_sub(SETTLE_TIME).unwrap_or(now)
                } else {
                    now
                };
                self.wait_for(path, stamp, since, complete);
            }
            Ok(_) => {}
            Err(_) => self.forget(&path),
        }
    }

    fn wait_for(&mut self, path: PathBuf, stamp: Stamp, since: Instant, complete: bool) {
        if self.submitted.get(&path) == Some(&stamp) {
            return;
        }
        let entry = self.waiting.entry(path).or_insert(Waiting { stamp, since });
        if entry.stamp != stamp || complete {
            entry.stamp = stamp;
            entry.since = since;
        }
    }

    /// Drops a file that is gone, and sends [`Event::Removed`] if it was submitted.
    fn forget(&mut self, path: &Path) {
        self.waiting.remove(path);
        if self.submitted.remove(path).is_some() {
            tracing::info!(path = %path.display(), "file removed");
            let _ = self.events.send(Event::Removed(path.to_path_buf()));
        }
    }

    /// Lists the whole folder again: new and changed files wait to settle, and files
    /// that disappeared are forgotten.
    fn rescan(&mut self) {
        let folder = self.config.folder.clone();
        self.list_dir(&folder, 0, &mut HashSet::new());
        let gone: Vec<PathBuf> = self
            .submitted
            .keys()
            .filter(|path| std::fs::symlink_metadata(path).is_err())
            .cloned()
            .collect();
        for path in gone {
            self.forget(&path);
        }
    }

    /// Lists `dir`, and its subfolders with `--recursive`. `visited` contains the
    /// canonical folders already listed, so a symlink loop lists each folder once
    /// instead of once per level down to [`MAX_DEPTH`].
    fn list_dir(&mut self, dir: &Path, depth: usize, visited: &mut HashSet<PathBuf>) {
        if let Ok(canonical) = dir.canonicalize()
            && !visited.insert(canonical)
        {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => {
                tracing::warn!(folder = %dir.display(), "cannot list folder: {err}");
                return;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'));
            let is_dir = std::fs::metadata(&path).is_ok_and(|meta| meta.is_dir());
            if is_dir {
                let excluded = self
                    .config
                    .excluded
                    .iter()
                    .any(|excluded| path.starts_with(excluded));
                if self.config.recursive && !hidden && !excluded && depth < MAX_DEPTH {
                    self.list_dir(&path, depth + 1, visited);
                }
            } else {
                self.note(path, false);
            }
        }
    }

    /// Hands every file whose stamp has not changed for [`SETTLE_TIME`] to the worker.
    /// Returns false when the UI thread is gone.
    fn submit_settled(&mut self, now: Instant) -> bool {
        let mut settled = Vec::new();
        let mut gone = Vec::new();
        for (path, waiting) in &mut self.waiting {
            match Stamp::of(path) {
                Err(_) => gone.push(path.clone()),
                Ok(stamp) if stamp != waiting.stamp => {
                    waiting.stamp = stamp;
                    waiting.since = now;
                }
                Ok(stamp) if now.saturating_duration_since(waiting.since) >= SETTLE_TIME => {
                    settled.push((path.clone(), stamp));
                }
                Ok(_) => {}
            }
        }
        for path in gone {
            self.forget(&path);
        }
        for (path, stamp) in settled {
            self.waiting.remove(&path);
            self.submitted.insert(path.clone(), stamp);
            if self.queue.push(path.clone()) && self.events.send(Event::Queued(path)).is_err() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(recursive: bool) -> IntakeConfig {
        IntakeConfig {
            folder: PathBuf::from("/w"),
            recursive,
            poll: None,
            excluded: vec![PathBuf::from("/w/out")],
        }
    }

    #[test]
    fn accepts_images_in_folder() {
        assert!(config(false).accepts(Path::new("/w/a.png")));
        assert!(!config(false).accepts(Path::new("/w/.a.png")));
        assert!(!config(false).accepts(Path::new("/w/a.txt")));
    }

    #[test]
    fn rejects_output_folder() {
        assert!(!config(true).accepts(Path::new("/w/out/a.png")));
    }

    #[test]
    fn subfolders_need_recursive() {
        assert!(!config(false).accepts(Path::new("/w/sub/a.png")));
        assert!(config(true).accepts(Path::new("/w/sub/a.png")));
    }
}
