//! YuNet face detection: input tensor, output decoding and non-maximum suppression,
//! following OpenCV's `FaceDetectorYN`.

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use super::ModelError;

/// Strides of YuNet's three output heads.
const STRIDES: [u32; 3] = [8, 16, 32];

/// One detected face, in the pixel coordinates of the image it was detected on.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Detection {
    /// Box as `[x, y, width, height]`, top-left origin.
    pub bbox: [f32; 4],
    /// Right eye, left eye, nose tip, right mouth corner, left mouth corner (from the
    /// subject's point of view), each `[x, y]`.
    pub landmarks: [[f32; 2]; 5],
    /// Detector confidence in 0..1.
    pub score: f32,
}

impl Detection {
    /// Box area in square pixels.
    pub fn area(&self) -> f32 {
        self.bbox[2] * self.bbox[3]
    }

    /// Multiplies every coordinate by `factor`, to map a detection made on a resized
    /// copy back to the original pixels.
    pub fn scaled(&self, factor: f32) -> Detection {
        let mut out = *self;
        for value in &mut out.bbox {
            *value *= factor;
        }
        for point in &mut out.landmarks {
            point[0] *= factor;
            point[1] *= factor;
        }
        out
    }
}

/// Detector settings.
#[derive(Debug, Clone, Copy)]
pub struct DetectorParams {
    /// Minimum score for a face, OpenCV's `score_threshold`.
    pub score_threshold: f32,
    /// Maximum overlap (intersection over union) between two kept faces.
    pub nms_threshold: f32,
    /// Maximum number of candidates that enter non-maximum suppression.
    pub top_k: usize,
}

impl Default for DetectorParams {
    fn default() -> Self {
        Self {
            score_threshold: 0.9,
            nms_threshold: 0.3,
            top_k: 5000,
        }
    }
}

/// The YuNet model and its session.
pub struct Detector {
    session: Session,
}

impl Detector {
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    /// Finds the faces in `image` at its own size, as OpenCV's `FaceDetectorYN` does with
    /// the input size set to the image size.
    pub fn detect(
        &mut self,
        image: &RgbImage,
        params: &DetectorParams,
    ) -> Result<Vec<Detection>, ModelError> {
        let (width, height) = image.dimensions();
        let padded_width = pad_to_32(width);
        let padded_height = pad_to_32(height);
        let input = bgr_planes(image, padded_width, padded_height);
        let shape = [1usize, 3, padded_height as usize, padded_width as usize];
        let tensor = TensorRef::from_array_view((shape, input.as_slice()))?;
        let outputs = self.session.run(ort::inputs!["input" => tensor])?;

        let mut candidates = Vec::new();
        for stride in STRIDES {
            let head = |name: &str| -> Result<Vec<f32>, ModelError> {
                let key = format!("{name}_{stride}");
                let value = outputs
                    .get(key.as_str())
                    .ok_or_else(|| ModelError::Output(format!("YuNet has no output `{key}`")))?;
                let (_, data) = value.try_extract_tensor::<f32>()?;
                Ok(data.to_vec())
            };
            let heads = Heads {
                cls: head("cls")?,
                obj: head("obj")?,
                bbox: head("bbox")?,
                kps: head("kps")?,
            };
            decode_stride(
                &heads,
                stride,
                padded_width / stride,
                params.score_threshold,
                &mut candidates,
            )?;
        }
        Ok(non_max_suppression(candidates, params))
    }
}

/// YuNet's input must have a height and width that are multiples of 32.
fn pad_to_32(size: u32) -> u32 {
    size.div_ceil(32) * 32
}

/// Builds YuNet's input: planar B, G, R as float 0..255, zero-padded at the right and
/// bottom, so detections come out in the original image's pixels.
fn bgr_planes(image: &RgbImage, padded_width: u32, padded_height: u32) -> Vec<f32> {
    let plane = (padded_width * padded_height) as usize;
    let mut input = vec![0f32; plane * 3];
    let (width, _) = image.dimensions();
    for (index, pixel) in image.pixels().enumerate() {
        let x = index as u32 % width;
        let y = index as u32 / width;
        let offset = (y * padded_width + x) as usize;
        input[offset] = f32::from(pixel[2]);
        input[plane + offset] = f32::from(pixel[1]);
        input[2 * plane + offset] = f32::from(pixel[0]);
    }
    input
}

struct Heads {
    cls: Vec<f32>,
    obj: Vec<f32>,
    bbox: Vec<f32>,
    kps: Vec<f32>,
}

/// Decodes one stride's grid. The anchor of cell (row, col) is its top-left corner.
fn decode_stride(
    heads: &Heads,
    stride: u32,
    cols: u32,
    score_threshold: f32,
    out: &mut Vec<Detection>,
) -> Result<(), ModelError> {
    let cells = heads.cls.len();
    if heads.obj.len() != cells || heads.bbox.len() != cells * 4 || heads.kps.len() != cells * 10 {
        return Err(ModelError::Output(format!(
            "YuNet stride {stride} outputs have inconsistent lengths"
        )));
    }
    let stride_f = stride as f32;
    for cell in 0..cells {
        let score = (heads.cls[cell].clamp(0.0, 1.0) * heads.obj[cell].clamp(0.0, 1.0)).sqrt();
        if score < score_threshold {
            continue;
        }
        let col = (cell as u32 % cols) as f32;
        let row = (cell as u32 / cols) as f32;
        let b = &heads.bbox[cell * 4..cell * 4 + 4];
        let center_x = (col + b[0]) * stride_f;
        let center_y = (row + b[1]) * stride_f;
        let box_width = b[2].exp() * stride_f;
        let box_height = b[3].exp() * stride_f;
        let k = &heads.kps[cell * 10..cell * 10 + 10];
        let mut landmarks = [[0f32; 2]; 5];
        for (n, point) in landmarks.iter_mut().enumerate() {
            *point = [(k[2 * n] + col) * stride_f, (k[2 * n + 1] + row) * stride_f];
        }
        out.push(Detection {
            bbox: [
                center_x - box_width / 2.0,
                center_y - box_height / 2.0,
                box_width,
                box_height,
            ],
            landmarks,
            score,
        });
    }
    Ok(())
}

/// Runs greedy non-maximum suppression as OpenCV's `NMSBoxes` does. Boxes are truncated
/// to integers, candidates strictly above the score threshold are sorted by score
/// (stable) and the first `top_k` kept. A box is dropped when its overlap with a kept box
/// exceeds the NMS threshold. OpenCV skips this step when there is a single candidate.
pub fn non_max_suppression(candidates: Vec<Detection>, params: &DetectorParams) -> Vec<Detection> {
    if candidates.len() <= 1 {
        return candidates;
    }
    let mut sorted: Vec<Detection> = candidates
        .into_iter()
        .filter(|candidate| candidate.score > params.score_threshold)
        .collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    sorted.truncate(params.top_k);

    let mut kept: Vec<Detection> = Vec::new();
    for candidate in sorted {
        let overlaps = kept
            .iter()
            .any(|other| integer_iou(&candidate.bbox, &other.bbox) > params.nms_threshold);
        if !overlaps {
            kept.push(candidate);
        }
    }
    kept
}

fn integer_iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let [ax, ay, aw, ah] = a.map(|v| v.trunc());
    let [bx, by, bw, bh] = b.map(|v| v.trunc());
    let overlap_width = ((ax + aw).min(bx + bw) - ax.max(bx)).max(0.0);
    let overlap_height = ((ay + ah).min(by + bh) - ay.max(by)).max(0.0);
    let intersection = overlap_width * overlap_height;
    let union = aw * ah + bw * bh - intersection;
    if union <= 0.0 {
        0.0
    } else {
        intersection / union
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(bbox: [f32; 4], score: f32) -> Detection {
        Detection {
            bbox,
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn padding_rounds_up_to_32() {
        assert_eq!(pad_to_32(1), 32);
        assert_eq!(pad_to_32(32), 32);
        assert_eq!(pad_to_32(886), 896);
    }

    #[test]
    fn bgr_planes_swap_channels_and_pad_with_zero() {
        let image = RgbImage::from_pixel(2, 1, image::Rgb([10, 20, 30]));
        let input = bgr_planes(&image, 32, 32);
        let plane = 32 * 32;
        assert_eq!(input[0], 30.0);
        assert_eq!(input[plane], 20.0);
        assert_eq!(input[2 * plane + 1], 10.0);
        assert_eq!(input[2], 0.0);
        assert_eq!(input[32], 0.0);
    }

    #[test]
    fn nms_drops_overlapping_lower_score() {
        let kept = non_max_suppression(
            vec![
                detection([0.0, 0.0, 100.0, 100.0], 0.95),
                detection([10.0, 10.0, 100.0, 100.0], 0.97),
                detection([300.0, 0.0, 50.0, 50.0], 0.91),
            ],
            &DetectorParams::default(),
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.97);
        assert_eq!(kept[1].score, 0.91);
    }

    #[test]
    fn nms_keeps_single_candidate_at_threshold() {
        let kept = non_max_suppression(
            vec![detection([0.0, 0.0, 10.0, 10.0], 0.9)],
            &DetectorParams::default(),
        );
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn decode_uses_top_left_anchor() {
        let heads = Heads {
            cls: vec![0.0, 1.0],
            obj: vec![0.0, 1.0],
            bbox: vec![0.0; 8],
            kps: vec![0.0; 20],
        };
        let mut out = Vec::new();
        decode_stride(&heads, 8, 2, 0.9, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bbox, [4.0, -4.0, 8.0, 8.0]);
        assert_eq!(out[0].landmarks[0], [8.0, 0.0]);
    }
}
