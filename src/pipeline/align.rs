//! Five-point face alignment to SFace's 112×112 input, matching OpenCV's
//! `FaceRecognizerSF::alignCrop`.

use image::RgbImage;

/// Side of the aligned crop, in pixels.
pub const CROP_SIZE: u32 = 112;

/// Target positions of the five landmarks in the 112×112 crop (the ArcFace template),
/// in the detector's order: right eye, left eye, nose tip, right and left mouth corners.
const TEMPLATE: [[f64; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// A 2×3 affine matrix `[[a, b, tx], [c, d, ty]]` mapping image pixels to crop pixels.
pub type Affine = [[f64; 3]; 2];

/// Least-squares similarity transform (rotation, uniform scale, translation) from the
/// landmarks to the template. This is the closed form of Umeyama's method in two
/// dimensions; it returns `None` when the landmarks coincide.
pub fn similarity_transform(landmarks: &[[f32; 2]; 5]) -> Option<Affine> {
    let source: Vec<[f64; 2]> = landmarks
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let source_mean = mean(&source);
    let target_mean = mean(&TEMPLATE);

    let mut cos_term = 0.0;
    let mut sin_term = 0.0;
    let mut source_variance = 0.0;
    for (p, q) in source.iter().zip(TEMPLATE.iter()) {
        let (px, py) = (p[0] - source_mean[0], p[1] - source_mean[1]);
        let (qx, qy) = (q[0] - target_mean[0], q[1] - target_mean[1]);
        cos_term += px * qx + py * qy;
        sin_term += px * qy - py * qx;
        source_variance += px * px + py * py;
    }
    if source_variance <= f64::EPSILON {
        return None;
    }
    let a = cos_term / source_variance;
    let b = sin_term / source_variance;
    let tx = target_mean[0] - (a * source_mean[0] - b * source_mean[1]);
    let ty = target_mean[1] - (b * source_mean[0] + a * source_mean[1]);
    Some([[a, -b, tx], [b, a, ty]])
}

fn mean(points: &[[f64; 2]]) -> [f64; 2] {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p[0], sy + p[1]));
    [sx / n, sy / n]
}

/// Inverts a similarity (or any invertible affine) matrix.
fn invert(m: &Affine) -> Option<Affine> {
    let [[a, b, tx], [c, d, ty]] = *m;
    let det = a * d - b * c;
    if det.abs() <= f64::EPSILON {
        return None;
    }
    let (ia, ib, ic, id) = (d / det, -b / det, -c / det, a / det);
    Some([
        [ia, ib, -(ia * tx + ib * ty)],
        [ic, id, -(ic * tx + id * ty)],
    ])
}

/// Warps `image` into a 112×112 crop with `forward` (image → crop). Each crop pixel
/// samples the source bilinearly at integer pixel centres; samples outside the image
/// count as black, and the result is rounded to the nearest level. This matches
/// OpenCV's `warpAffine` with `INTER_LINEAR` and a zero border within one grey level.
pub fn warp_crop(image: &RgbImage, forward: &Affine) -> Option<RgbImage> {
    let inverse = invert(forward)?;
    let (width, height) = (i64::from(image.width()), i64::from(image.height()));
    let raw = image.as_raw();
    let sample = |x: i64, y: i64, channel: usize| -> f64 {
        if x < 0 || y < 0 || x >= width || y >= height {
            0.0
        } else {
            f64::from(raw[((y * width + x) * 3) as usize + channel])
        }
    };

    let mut crop = RgbImage::new(CROP_SIZE, CROP_SIZE);
    for (x, y, pixel) in crop.enumerate_pixels_mut() {
        let (cx, cy) = (f64::from(x), f64::from(y));
        let sx = inverse[0][0] * cx + inverse[0][1] * cy + inverse[0][2];
        let sy = inverse[1][0] * cx + inverse[1][1] * cy + inverse[1][2];
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        for channel in 0..3 {
            let top = sample(x0, y0, channel) * (1.0 - fx) + sample(x0 + 1, y0, channel) * fx;
            let bottom =
                sample(x0, y0 + 1, channel) * (1.0 - fx) + sample(x0 + 1, y0 + 1, channel) * fx;
            let value = top * (1.0 - fy) + bottom * fy;
            pixel[channel] = value.round().clamp(0.0, 255.0) as u8;
        }
    }
    Some(crop)
}

/// Aligns one face: the similarity transform from its landmarks, then the warp.
pub fn align_face(image: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let forward = similarity_transform(landmarks)?;
    warp_crop(image, &forward)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_f32() -> [[f32; 2]; 5] {
        TEMPLATE.map(|p| [p[0] as f32, p[1] as f32])
    }

    #[test]
    fn template_maps_to_identity() {
        let m = similarity_transform(&template_f32()).unwrap();
        assert!((m[0][0] - 1.0).abs() < 1e-6);
        assert!(m[0][1].abs() < 1e-6);
        assert!(m[0][2].abs() < 1e-4);
        assert!(m[1][2].abs() < 1e-4);
    }

    #[test]
    fn scaled_and_shifted_landmarks_are_undone() {
        let landmarks = TEMPLATE.map(|p| [(p[0] * 2.0 + 100.0) as f32, (p[1] * 2.0 + 50.0) as f32]);
        let m = similarity_transform(&landmarks).unwrap();
        assert!((m[0][0] - 0.5).abs() < 1e-6);
        assert!((m[0][2] + 50.0).abs() < 1e-4);
        assert!((m[1][2] + 25.0).abs() < 1e-4);
    }

    #[test]
    fn rotation_is_recovered() {
        let angle: f64 = 0.3;
        let (sin, cos) = angle.sin_cos();
        let landmarks = TEMPLATE.map(|p| {
            [
                (cos * p[0] - sin * p[1]) as f32,
                (sin * p[0] + cos * p[1]) as f32,
            ]
        });
        let m = similarity_transform(&landmarks).unwrap();
        assert!((m[0][0] - cos).abs() < 1e-6);
        assert!((m[1][0] + sin).abs() < 1e-6);
    }

    #[test]
    fn coincident_landmarks_are_rejected() {
        assert!(similarity_transform(&[[5.0, 5.0]; 5]).is_none());
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let image = RgbImage::from_fn(120, 120, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let crop = warp_crop(&image, &[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).unwrap();
        assert_eq!(crop.get_pixel(10, 20).0, [10, 20, 7]);
        assert_eq!(crop.get_pixel(111, 111).0, [111, 111, 7]);
    }

    #[test]
    fn warp_outside_image_is_black() {
        let image = RgbImage::from_pixel(10, 10, image::Rgb([200, 200, 200]));
        let crop = warp_crop(&image, &[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).unwrap();
        assert_eq!(crop.get_pixel(50, 50).0, [0, 0, 0]);
    }
}
