//! The per-image work: decode, detect, align and embed every face.

pub mod align;
pub mod decode;
pub mod detect;
pub mod embed;

use std::path::Path;
use std::time::{Duration, Instant};

use fast_image_resize::{self as fir, images::Image as FirImage};
use image::RgbImage;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::models::ModelFiles;
use crate::runtime::Runtime;
use decode::{DecodeError, DecodeLimits, Decoded};
use detect::{Detection, Detector, DetectorParams};
use embed::Embedder;

/// An error from ONNX Runtime or from a model's outputs.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    #[error("unexpected model output: {0}")]
    Output(String),
}

impl<T> From<ort::Error<T>> for ModelError {
    fn from(err: ort::Error<T>) -> Self {
        ModelError::Ort(err.to_string())
    }
}

/// Size of the image that YuNet runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectSize {
    /// The image's own size, as OpenCV's `FaceDetectorYN` is usually run. YuNet then
    /// misses faces wider than about 400 pixels.
    Native,
    /// A copy whose longer side is at most this many pixels (smaller images stay native).
    LongSide(u32),
}

impl std::fmt::Display for DetectSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DetectSize::Native => f.write_str("native"),
            DetectSize::LongSide(side) => write!(f, "{side}"),
        }
    }
}

impl std::str::FromStr for DetectSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("native") || text == "0" {
            return Ok(DetectSize::Native);
        }
        match text.parse::<u32>() {
            Ok(side) if (32..=8192).contains(&side) => Ok(DetectSize::LongSide(side)),
            _ => Err(format!(
                "invalid detection size '{text}': expected 'native' or a long side in pixels from 32 to 8192"
            )),
        }
    }
}

/// Source of the pixels the 112×112 face crop is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignSource {
    /// The full-resolution image, with the landmarks mapped back to it.
    Original,
    /// The copy the detector ran on.
    Detection,
}

/// Settings for the per-image work.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub detect_size: DetectSize,
    pub detector: DetectorParams,
    pub align_source: AlignSource,
    pub limits: DecodeLimits,
    /// Threads for each ONNX Runtime session.
    pub intra_threads: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            detect_size: DetectSize::LongSide(640),
            detector: DetectorParams::default(),
            align_source: AlignSource::Original,
            limits: DecodeLimits::default(),
            intra_threads: 1,
        }
    }
}

/// One face found in an image, in the original image's pixels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Face {
    #[serde(flatten)]
    pub detection: Detection,
    /// Size `[width, height]` of the image YuNet found this face on.
    pub detected_at: [u32; 2],
    /// Raw SFace embedding (128 floats, not normalised).
    #[serde(skip)]
    pub embedding: Vec<f32>,
}

/// Result of detecting and embedding the faces of one decoded image.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub width: u32,
    pub height: u32,
    /// Faces, largest box first.
    pub faces: Vec<Face>,
    /// Every size YuNet ran at, in order, `[width, height]`.
    pub sizes_tried: Vec<[u32; 2]>,
    pub timings: StageTimings,
}

/// Time spent in each stage for one image.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    pub decode: Duration,
    pub resize: Duration,
    pub detect: Duration,
    pub align: Duration,
    pub embed: Duration,
}

/// Error that leaves an image without faces to score.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Model(#[from] ModelError),
}

/// The loaded models. One instance runs one image at a time; create one per worker
/// thread to run in parallel.
pub struct Pipeline {
    detector: Detector,
    embedder: Embedder,
    options: PipelineOptions,
}

impl Pipeline {
    /// Loads both models into new ONNX Runtime sessions.
    pub fn new(
        runtime: &Runtime,
        models: &ModelFiles,
        options: PipelineOptions,
    ) -> Result<Self, ModelError> {
        let detector = Detector::new(new_session(
            runtime,
            &models.detector_bytes,
            options.intra_threads,
        )?);
        let embedder = Embedder::new(new_session(
            runtime,
            &models.recognizer_bytes,
            options.intra_threads,
        )?);
        Ok(Self {
            detector,
            embedder,
            options,
        })
    }

    /// Decodes the file at `path` and analyses it.
    pub fn analyze_path(&mut self, path: &Path) -> Result<(Decoded, Analysis), AnalyzeError> {
        let started = Instant::now();
        let decoded = decode::decode_file(path, &self.options.limits)?;
        let decode_time = started.elapsed();
        let mut analysis = self.analyze(&decoded.rgb)?;
        analysis.timings.decode = decode_time;
        Ok((decoded, analysis))
    }

    /// Finds, aligns and embeds every face of `image`. When the first detection size
    /// finds nothing, the detector retries at the other sizes of [`detection_sizes`].
    pub fn analyze(&mut self, image: &RgbImage) -> Result<Analysis, ModelError> {
        let (width, height) = image.dimensions();
        let mut timings = StageTimings::default();
        let mut sizes_tried = Vec::new();
        let mut found = Vec::new();
        let mut detection_image = None;

        for size in detection_sizes(width, height, self.options.detect_size) {
            let started = Instant::now();
            let resized = resize_to(image, size);
            timings.resize += started.elapsed();

            let started = Instant::now();
            let source = resized.as_ref().unwrap_or(image);
            let detections = self.detector.detect(source, &self.options.detector)?;
            timings.detect += started.elapsed();

            sizes_tried.push(size);
            if !detections.is_empty() {
                found = detections;
                detection_image = Some((size, resized));
                break;
            }
        }

        let mut faces = Vec::new();
        if let Some((size, resized)) = detection_image {
            faces = self.embed_faces(image, size, resized.as_ref(), &found, &mut timings)?;
        }
        Ok(Analysis {
            width,
            height,
            faces,
            sizes_tried,
            timings,
        })
    }

    fn embed_faces(
        &mut self,
        image: &RgbImage,
        size: [u32; 2],
        resized: Option<&RgbImage>,
        detections: &[Detection],
        timings: &mut StageTimings,
    ) -> Result<Vec<Face>, ModelError> {
        let to_original = image.width() as f32 / size[0] as f32;
        let started = Instant::now();
        let mut faces = Vec::new();
        let mut crops = Vec::new();
        for detection in detections {
            let (source, landmarks) = match (self.options.align_source, resized) {
                (AlignSource::Detection, Some(small)) => (small, detection.landmarks),
                _ => (image, detection.scaled(to_original).landmarks),
            };
            // A face whose landmarks coincide cannot be aligned; it is not a usable face.
            let Some(crop) = align::align_face(source, &landmarks) else {
                continue;
            };
            crops.push(crop);
            faces.push(Face {
                detection: detection.scaled(to_original),
                detected_at: size,
                embedding: Vec::new(),
            });
        }
        timings.align += started.elapsed();

        let started = Instant::now();
        let embeddings = self.embedder.embed(&crops)?;
        timings.embed += started.elapsed();
        for (face, embedding) in faces.iter_mut().zip(embeddings) {
            face.embedding = embedding;
        }
        faces.sort_by(|a, b| b.detection.area().total_cmp(&a.detection.area()));
        Ok(faces)
    }
}

/// Returns the detection sizes to try, in order: the configured size first, then the
/// image's native size when it is at least twice as large, then half the smaller of
/// the configured and native sizes. Duplicates are skipped.
pub fn detection_sizes(width: u32, height: u32, preferred: DetectSize) -> Vec<[u32; 2]> {
    let native = [width, height];
    let long_side = width.max(height);
    let fit = |side: u32| -> [u32; 2] {
        if side >= long_side {
            return native;
        }
        let scale = f64::from(side) / f64::from(long_side);
        let scaled = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
        [scaled(width), scaled(height)]
    };
    let mut sizes = Vec::new();
    match preferred {
        DetectSize::Native => sizes.push(native),
        DetectSize::LongSide(side) => {
            sizes.push(fit(side));
            // Unless the image is at least twice as large as `side`, a face missed at
            // `side` but found at native size is under about 16 px and too small to
            // identify. Skipping that retry saves a costly run on faceless images.
            if long_side >= side.saturating_mul(2) {
                sizes.push(native);
            }
            sizes.push(fit(side.min(long_side) / 2));
        }
    }
    let mut unique: Vec<[u32; 2]> = Vec::new();
    for size in sizes {
        if !unique.contains(&size) && size[0] >= 16 && size[1] >= 16 {
            unique.push(size);
        }
    }
    if unique.is_empty() {
        unique.push(native);
    }
    unique
}

/// Resizes with a SIMD convolution (area-like box filter for downscaling), or returns
/// `None` when `size` is the image's own size.
fn resize_to(image: &RgbImage, size: [u32; 2]) -> Option<RgbImage> {
    if image.dimensions() == (size[0], size[1]) {
        return None;
    }
    let mut target = FirImage::new(size[0], size[1], fir::PixelType::U8x3);
    let options =
        fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Box));
    let mut resizer = fir::Resizer::new();
    if resizer.resize(image, &mut target, &options).is_err() {
        // Resizing fails only on mismatched pixel types, which two RGB8 images cannot
        // have. Fall back to the slower resize rather than lose the image.
        return Some(image::imageops::resize(
            image,
            size[0],
            size[1],
            image::imageops::FilterType::Triangle,
        ));
    }
    RgbImage::from_raw(size[0], size[1], target.into_vec())
}

/// Creates one ONNX Runtime session with facewatch's settings: full graph
/// optimisation, one inter-op thread, and no spin-waiting, so idle workers leave the
/// CPU to the UI and to the decoder.
fn new_session(
    runtime: &Runtime,
    model: &[u8],
    intra_threads: usize,
) -> Result<Session, ModelError> {
    let session = Session::builder(runtime.environment())?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(intra_threads.max(1))?
        .with_inter_threads(1)?
        .with_intra_op_spinning(false)?
        .commit_from_memory(model)?;
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_start_with_long_side() {
        let sizes = detection_sizes(4100, 2927, DetectSize::LongSide(640));
        assert_eq!(sizes[0], [640, 457]);
        assert_eq!(sizes[1], [4100, 2927]);
        assert_eq!(sizes[2], [320, 228]);
    }

    #[test]
    fn native_retry_needs_twice_the_size() {
        let sizes = detection_sizes(1024, 1024, DetectSize::LongSide(640));
        assert_eq!(sizes, vec![[640, 640], [320, 320]]);
    }

    #[test]
    fn small_image_stays_native() {
        let sizes = detection_sizes(320, 240, DetectSize::LongSide(640));
        assert_eq!(sizes, vec![[320, 240], [160, 120]]);
    }

    #[test]
    fn native_means_one_size() {
        assert_eq!(
            detection_sizes(2000, 1000, DetectSize::Native),
            vec![[2000, 1000]]
        );
    }

    #[test]
    fn detect_size_parses() {
        assert_eq!("native".parse::<DetectSize>(), Ok(DetectSize::Native));
        assert_eq!("640".parse::<DetectSize>(), Ok(DetectSize::LongSide(640)));
        assert!("12".parse::<DetectSize>().is_err());
    }
}
