//! The overlay thread: decodes and draws overlays for the preview pane and saves them
//! as PNG files, so neither runs on the UI thread or waits behind the scoring backlog.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use image::RgbImage;
use image::imageops::FilterType;

use super::app::{OverlayRequest, file_name};
use super::event::Event;
use crate::overlay;
use crate::pipeline::decode::{self, DecodeLimits};

/// Maximum long side of a preview picture, in pixels. The pane is at most a few hundred pixels wide
/// even with a graphics protocol, and a smaller picture makes each redraw cheaper.
const PREVIEW_MAX_SIDE: u32 = 1024;

pub enum OverlayJob {
    Show(OverlayRequest),
    Save {
        requests: Vec<OverlayRequest>,
        dir: PathBuf,
    },
}

/// The running overlay thread.
pub struct OverlayThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

/// Starts the overlay thread and returns it with the sender for its jobs.
pub fn spawn(
    limits: DecodeLimits,
    events: Sender<Event>,
) -> std::io::Result<(Sender<OverlayJob>, OverlayThread)> {
    let (sender, receiver) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let handle = std::thread::Builder::new()
        .name("overlays".to_string())
        .spawn(move || run(&receiver, &limits, &events, &thread_stop))?;
    Ok((sender, OverlayThread { stop, handle }))
}

impl OverlayThread {
    /// Stops the thread after the file it is writing, and waits for it. Without this
    /// wait, quitting during a save would end the process with a `.facewatch-*.part`
    /// file left in the overlay folder.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.handle.join().is_err() {
            tracing::error!("the overlay thread panicked");
        }
    }
}

fn run(
    receiver: &Receiver<OverlayJob>,
    limits: &DecodeLimits,
    events: &Sender<Event>,
    stop: &AtomicBool,
) {
    while let Ok(first) = receiver.recv() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // Only the newest preview request matters; saves all run, in order.
        let mut jobs = vec![first];
        jobs.extend(receiver.try_iter());
        let newest_show = jobs
            .iter()
            .rposition(|job| matches!(job, OverlayJob::Show(_)));
        for (index, job) in jobs.into_iter().enumerate() {
            let event = match job {
                OverlayJob::Show(request) if Some(index) == newest_show => show(request, limits),
                OverlayJob::Show(_) => continue,
                OverlayJob::Save { requests, dir } => {
                    Event::Saved(save_all(&requests, &dir, limits, stop))
                }
            };
            if events.send(event).is_err() {
                return;
            }
        }
    }
}

fn show(request: OverlayRequest, limits: &DecodeLimits) -> Event {
    let image = match draw(&request, limits) {
        Ok(image) => Some(shrink(image)),
        Err(message) => {
            tracing::info!(path = %request.key.path.display(), "no preview: {message}");
            None
        }
    };
    Event::Preview {
        key: request.key,
        image,
    }
}

/// Decodes the source and draws the face box, landmarks and band on it. Without a
/// label (no face found) the plain image comes back.
fn draw(request: &OverlayRequest, limits: &DecodeLimits) -> Result<RgbImage, String> {
    let decoded = decode::decode_file(&request.key.path, limits)
        .map_err(|err| format!("cannot read {}: {err}", request.key.path.display()))?;
    Ok(match &request.label {
        Some(label) => overlay::render(&decoded.rgb, request.face.as_ref(), label),
        None => decoded.rgb,
    })
}

fn shrink(image: RgbImage) -> RgbImage {
    let (width, height) = image.dimensions();
    if width.max(height) <= PREVIEW_MAX_SIDE {
        return image;
    }
    let scale = f64::from(PREVIEW_MAX_SIDE) / f64::from(width.max(height));
    let new_width = ((f64::from(width) * scale).round() as u32).max(1);
    let new_height = ((f64::from(height) * scale).round() as u32).max(1);
    image::imageops::resize(&image, new_width, new_height, FilterType::Triangle)
}

/// Saves every request's overlay into `dir`. Returns the written files, or a message
/// naming the first failure and how many were written before it was given up.
fn save_all(
    requests: &[OverlayRequest],
    dir: &Path,
    limits: &DecodeLimits,
    stop: &AtomicBool,
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let mut failures = Vec::new();
    for request in requests {
        if stop.load(Ordering::Relaxed) {
            tracing::info!(
                saved = written.len(),
                skipped = requests.len() - written.len() - failures.len(),
                "quitting: overlay saves stopped"
            );
            break;
        }
        match draw(request, limits).and_then(|image| {
            overlay::save_atomic(&image, dir, &request.file_name).map_err(|err| {
                format!(
                    "cannot write {} into {}: {err}",
                    request.file_name,
                    dir.display()
                )
            })
        }) {
            Ok(path) => {
                tracing::info!(path = %path.display(), "overlay saved");
                written.push(path);
            }
            Err(message) => {
                tracing::warn!(source = %request.key.path.display(), "overlay not saved: {message}");
                failures.push((file_name(&request.key.path), message));
            }
        }
    }
    match failures.first() {
        None => Ok(written),
        Some((name, message)) => Err(format!(
            "overlay for {name} not saved: {message} ({} saved, {} failed; see the log)",
            written.len(),
            failures.len()
        )),
    }
}
