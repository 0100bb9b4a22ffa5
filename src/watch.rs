//! `facewatch watch`: the live dashboard. This module sets up the threads and the
//! terminal and runs the event loop; the state lives in [`app::App`].
//!
//! Threads: intake (file events, settling), worker (models, scoring), overlays
//! (preview and saved PNGs), input (terminal keys), signals. All of them send
//! [`event::Event`]s into one channel that the UI thread drains.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::{Cli, WatchArgs};
use crate::logging;
use crate::references;
use crate::settings::{self, Engine};

pub mod app;
pub mod event;
mod export;
mod intake;
pub mod keys;
mod overlays;
pub mod preview;
mod terminal;
pub mod ui;
mod worker;

use app::{App, Command};
use event::{Event, OverlayKey};
use intake::IntakeConfig;
use overlays::OverlayJob;
use preview::{GraphicsSetting, Preview};
use worker::JobQueue;

/// Redraw interval when no event arrives, for the progress rate and notices.
const TICK: Duration = Duration::from_millis(250);

/// Runs `watch` until the user quits or a signal arrives. Setup problems (missing
/// folder, no reference photos, an unusable reference set) are errors.
pub fn run(cli: &Cli, args: &WatchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let settings = settings::resolve(cli, Some(&args.score))?;
    let folder = watched_folder(&args.folder)?;
    check_references(&args.score.references)?;
    let overlays_dir = overlays_dir(settings.overlays.as_deref(), &folder)?;
    let export_path = args.export.as_deref().map(export::resolve).transpose()?;
    let graphics = GraphicsSetting::from_env()?;
    // ONNX Runtime and the model files are checked here, so a missing library or a
    // corrupted model is reported before the dashboard takes over the terminal. The
    // slow part, building the sessions, runs on the worker thread.
    let engine = Engine::load(&settings)?;
    let (_log_guard, log_path) = logging::init_file()?;
    tracing::info!(folder = %folder.display(), overlays = %overlays_dir.display(), "watch starting");

    let (sender, receiver) = mpsc::channel();
    if let Some(warning) = engine.runtime.version_warning() {
        // Shown on the status line when the dashboard opens, and kept in the log.
        tracing::warn!("{warning}");
        let _ = sender.send(Event::Notice {
            text: warning,
            at: Instant::now(),
        });
    }
    terminal::spawn_signal_thread(sender.clone())?;
    let queue = Arc::new(JobQueue::default());
    let intake_config = IntakeConfig {
        folder: folder.clone(),
        recursive: args.score.recursive,
        poll: args.poll.map(Duration::from_millis),
        excluded: [Some(overlays_dir.clone()), export_path.clone()]
            .into_iter()
            .flatten()
            .collect(),
    };
    intake::spawn(intake_config, Arc::clone(&queue), sender.clone())?;
    worker::spawn(
        engine,
        settings.clone(),
        args.score.references.clone(),
        Arc::clone(&queue),
        sender.clone(),
    )?;
    let (overlay_jobs, overlay_thread) = overlays::spawn(settings.pipeline.limits, sender.clone())?;

    let mut app = App::new(folder, overlays_dir, log_path, settings.rank.clone());
    let mut channels = Channels {
        sender,
        receiver,
        queue,
        overlay_jobs,
        export_path,
    };
    {
        let mut terminal = terminal::TerminalGuard::enter()?;
        let mut preview = Preview::new(graphics);
        event_loop(
            &mut terminal,
            &mut app,
            &mut preview,
            &mut channels,
            started,
        )?;
    }
    let export_path = channels.export_path.take();
    drop(channels);
    overlay_thread.stop();
    if let Some(message) = app.load_error {
        tracing::info!("watch stopped: {message}");
        anyhow::bail!("{message}");
    }
    if let Some(path) = export_path {
        let rows = export::write(&app, &path)
            .with_context(|| format!("the table was not exported to {}", path.display()))?;
        eprintln!("table exported to {} ({rows} rows)", path.display());
    }
    tracing::info!("watch stopped");
    Ok(())
}

/// Returns the folder's canonical path, so file events and exclusions compare alike.
fn watched_folder(folder: &Path) -> anyhow::Result<PathBuf> {
    let canonical = folder
        .canonicalize()
        .with_context(|| format!("cannot open the folder to watch {}", folder.display()))?;
    anyhow::ensure!(
        canonical.is_dir(),
        "{} is not a folder: pass the folder the generator writes into",
        folder.display()
    );
    Ok(canonical)
}

/// Fails before the dashboard starts when no reference photo can be found at all.
///
/// NOTE: whether the photos have a face is known only once the models are loaded in
/// the background. When none has one, the dashboard closes, the terminal is restored,
/// and the reference report is printed with exit status 2.
fn check_references(inputs: &[PathBuf]) -> anyhow::Result<()> {
    let (files, problems) = references::expand_inputs(inputs, false);
    if files.is_empty() {
        let lines: Vec<String> = problems
            .iter()
            .map(|(path, message)| format!("  {}: {message}", path.display()))
            .collect();
        anyhow::bail!(
            "no reference photo found: pass --reference FILE or FOLDER\n{}",
            lines.join("\n")
        );
    }
    Ok(())
}

/// Returns the overlay folder: `--overlays` (or the config file), else a folder next
/// to the watched one named `<folder>-facewatch-overlays`. The path is absolute so
/// that intake can exclude files under it. The folder is created when the first
/// overlay is saved.
fn overlays_dir(configured: Option<&Path>, folder: &Path) -> anyhow::Result<PathBuf> {
    let dir = match configured {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("invalid overlay folder {}", dir.display()))?,
        None => {
            let name = folder
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            folder.with_file_name(format!("{name}-facewatch-overlays"))
        }
    };
    // Match the canonical form of the watched folder when the overlay folder exists.
    Ok(dir.canonicalize().unwrap_or(dir))
}

struct Channels {
    sender: Sender<Event>,
    receiver: Receiver<Event>,
    queue: Arc<JobQueue>,
    overlay_jobs: Sender<OverlayJob>,
    export_path: Option<PathBuf>,
}

/// The preview pane's bookkeeping in the UI thread.
#[derive(Default)]
struct PreviewState {
    requested: Option<OverlayKey>,
    shown: Option<OverlayKey>,
}

fn event_loop(
    terminal: &mut terminal::TerminalGuard,
    app: &mut App,
    preview: &mut Preview,
    channels: &mut Channels,
    started: Instant,
) -> anyhow::Result<()> {
    let mut preview_state = PreviewState::default();
    let mut input_started = false;
    let mut arrived: Vec<PathBuf> = Vec::new();
    let mut last_tick = Instant::now();
    terminal.draw(app, preview, &preview_state.title(), Instant::now())?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis(),
        "first frame drawn"
    );
    preview.start_detection();
    loop {
        if preview.poll_detection() {
            terminal.clear()?;
        }
        // The graphics probe reads the terminal's reply from stdin, so key input
        // starts only after it is done.
        if !input_started && !preview.is_detecting() {
            terminal::spawn_input_thread(channels.sender.clone())?;
            input_started = true;
        }
        let wait = if preview.is_detecting() {
            Duration::from_millis(10)
        } else {
            TICK.saturating_sub(last_tick.elapsed())
        };
        match channels.receiver.recv_timeout(wait) {
            Ok(event) => {
                note_arrival(&event, &mut arrived);
                handle(event, app, preview, &mut preview_state, channels);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        while let Ok(event) = channels.receiver.try_recv() {
            note_arrival(&event, &mut arrived);
            handle(event, app, preview, &mut preview_state, channels);
        }
        if app.quit {
            return Ok(());
        }
        let now = Instant::now();
        if now.duration_since(last_tick) >= TICK {
            app.expire(now);
            last_tick = now;
        }
        request_preview(app, preview, &mut preview_state, &channels.overlay_jobs);
        app.page_size = usize::from(terminal.height()?.saturating_sub(ui::FIXED_ROWS + 8)).max(1);
        terminal.draw(app, preview, &preview_state.title(), now)?;
        // The benchmark measures latency from a file's last write to this line.
        for path in arrived.drain(..) {
            tracing::debug!(path = %path.display(), "row on screen");
        }
    }
}

fn note_arrival(event: &Event, arrived: &mut Vec<PathBuf>) {
    if let Event::Analyzed(record) = event {
        arrived.push(record.path.clone());
    }
}

fn handle(
    event: Event,
    app: &mut App,
    preview: &mut Preview,
    state: &mut PreviewState,
    channels: &Channels,
) {
    if let Event::Preview { key, image } = event {
        if state.requested.as_ref() == Some(&key) {
            preview.set_image(image);
            state.shown = Some(key);
        }
        return;
    }
    for command in app.apply(event, Instant::now()) {
        match command {
            Command::SetPaused(paused) => channels.queue.set_paused(paused),
            Command::SaveOverlays(requests) => {
                let job = OverlayJob::Save {
                    requests,
                    dir: app.overlays_dir.clone(),
                };
                if channels.overlay_jobs.send(job).is_err() {
                    tracing::error!("overlay thread is gone; overlays cannot be saved");
                }
            }
            Command::Export => {
                let text = export_now(app, channels.export_path.as_deref());
                app.apply(
                    Event::Notice {
                        text,
                        at: Instant::now(),
                    },
                    Instant::now(),
                );
            }
        }
    }
}

/// Writes the export file and returns the status-bar message saying what happened.
fn export_now(app: &App, path: Option<&Path>) -> String {
    let Some(path) = path else {
        return "no export file: start watch with --export FILE".to_string();
    };
    match export::write(app, path) {
        Ok(rows) => {
            tracing::info!(path = %path.display(), rows, "table exported");
            format!("exported {rows} rows to {}", path.display())
        }
        Err(err) => {
            tracing::error!(path = %path.display(), "export failed: {err:#}");
            format!("export failed: {err:#}")
        }
    }
}

/// Asks the overlay thread for the selected row's overlay when the selection, the
/// metric or the score changed.
fn request_preview(
    app: &App,
    preview: &mut Preview,
    state: &mut PreviewState,
    jobs: &Sender<OverlayJob>,
) {
    let wanted = app.show_preview.then(|| app.preview_request()).flatten();
    if wanted.as_ref().map(|request| &request.key) == state.requested.as_ref() {
        return;
    }
    state.requested = wanted.as_ref().map(|request| request.key.clone());
    match wanted {
        Some(request) => {
            if jobs.send(OverlayJob::Show(request)).is_err() {
                tracing::error!("overlay thread is gone; the preview stays empty");
            }
        }
        None => {
            preview.set_image(None);
            state.shown = None;
        }
    }
}

impl PreviewState {
    fn title(&self) -> ui::PreviewTitle {
        ui::PreviewTitle {
            shown: self.shown.as_ref().map(|key| app::file_name(&key.path)),
            loading: self.requested.is_some() && self.requested != self.shown,
        }
    }
}
