//! SFace face embedding.

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use super::ModelError;
use super::align::CROP_SIZE;

/// Length of an SFace embedding.
pub const EMBEDDING_LEN: usize = 128;

/// The SFace model and its session.
pub struct Embedder {
    session: Session,
}

impl Embedder {
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    /// Embeds aligned 112×112 crops in one batch. Returns one raw (not normalised)
    /// 128-float vector per crop, in the same order.
    pub fn embed(&mut self, crops: &[RgbImage]) -> Result<Vec<Vec<f32>>, ModelError> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let input = rgb_planes(crops);
        let side = CROP_SIZE as usize;
        let shape = [crops.len(), 3, side, side];
        let tensor = TensorRef::from_array_view((shape, input.as_slice()))?;
        let outputs = self.session.run(ort::inputs!["data" => tensor])?;
        let value = outputs
            .get("fc1")
            .ok_or_else(|| ModelError::Output("SFace has no output `fc1`".to_string()))?;
        let (_, data) = value.try_extract_tensor::<f32>()?;
        if data.len() != crops.len() * EMBEDDING_LEN {
            return Err(ModelError::Output(format!(
                "SFace returned {} values for {} faces, expected {} each",
                data.len(),
                crops.len(),
                EMBEDDING_LEN
            )));
        }
        Ok(data.chunks(EMBEDDING_LEN).map(<[f32]>::to_vec).collect())
    }
}

/// Builds SFace's input: planar R, G, B as float 0..255. The model subtracts 127.5 and
/// scales by 1/128 itself, so no normalisation happens here.
fn rgb_planes(crops: &[RgbImage]) -> Vec<f32> {
    let plane = (CROP_SIZE * CROP_SIZE) as usize;
    let mut input = vec![0f32; crops.len() * plane * 3];
    for (index, crop) in crops.iter().enumerate() {
        let base = index * plane * 3;
        for (offset, pixel) in crop.pixels().enumerate() {
            for channel in 0..3 {
                input[base + channel * plane + offset] = f32::from(pixel[channel]);
            }
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_keep_rgb_order() {
        let crop = RgbImage::from_pixel(CROP_SIZE, CROP_SIZE, image::Rgb([1, 2, 3]));
        let input = rgb_planes(&[crop.clone(), crop]);
        let plane = (CROP_SIZE * CROP_SIZE) as usize;
        assert_eq!(input.len(), plane * 6);
        assert_eq!(input[0], 1.0);
        assert_eq!(input[plane], 2.0);
        assert_eq!(input[2 * plane], 3.0);
        assert_eq!(input[3 * plane], 1.0);
    }
}
