//! Overlay images: the source picture with the scored face marked and the node's band
//! `VALUE: <distance> | DIST: <normalised>` along the bottom.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ab_glyph::{FontRef, PxScale};
use image::{ImageFormat, Rgb, RgbImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_hollow_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;

use crate::pipeline::Face;

/// Inconsolata (SIL Open Font License; see `src/fonts/LICENSE-Inconsolata.txt`).
const FONT_BYTES: &[u8] = include_bytes!("fonts/Inconsolata.otf");

/// Opacity of the black band behind the text, 0..1.
const BAND_OPACITY: f32 = 0.6;

const PASS_COLOUR: Rgb<u8> = Rgb([64, 220, 96]);
const FAIL_COLOUR: Rgb<u8> = Rgb([240, 140, 40]);
const TEXT_COLOUR: Rgb<u8> = Rgb([255, 255, 255]);

/// Landmark colours: right eye, left eye, nose, right and left mouth corners.
const LANDMARK_COLOURS: [Rgb<u8>; 5] = [
    Rgb([255, 64, 64]),
    Rgb([64, 64, 255]),
    Rgb([64, 255, 64]),
    Rgb([255, 64, 255]),
    Rgb([255, 255, 64]),
];

/// Values printed in an overlay's band and the colour of its face box.
#[derive(Debug, Clone, Copy)]
pub struct OverlayLabel {
    pub distance: f32,
    pub normalized: f32,
    pub passed: bool,
}

/// Formats the band's text with three decimals each, as the ComfyUI node writes it.
pub fn label_text(label: &OverlayLabel) -> String {
    format!(
        "VALUE: {:.3} | DIST: {:.3}",
        label.distance, label.normalized
    )
}

/// Draws the overlay on a copy of `image`: the scored face's box and landmarks, then the
/// band with the label. The font size follows the image size.
pub fn render(image: &RgbImage, face: Option<&Face>, label: &OverlayLabel) -> RgbImage {
    let mut canvas = image.clone();
    if let Some(face) = face {
        draw_face(
            &mut canvas,
            face,
            if label.passed {
                PASS_COLOUR
            } else {
                FAIL_COLOUR
            },
        );
    }
    draw_band(&mut canvas, &label_text(label));
    canvas
}

fn line_width(canvas: &RgbImage) -> u32 {
    (canvas.width().min(canvas.height()) / 250).max(2)
}

fn draw_face(canvas: &mut RgbImage, face: &Face, colour: Rgb<u8>) {
    let [x, y, width, height] = face.detection.bbox;
    let thickness = line_width(canvas);
    for inset in 0..thickness {
        let grow = inset as f32;
        let rect_width = (width - 2.0 * grow).max(1.0) as u32;
        let rect_height = (height - 2.0 * grow).max(1.0) as u32;
        let rect = Rect::at((x + grow) as i32, (y + grow) as i32).of_size(rect_width, rect_height);
        draw_hollow_rect_mut(canvas, rect, colour);
    }
    // Dots stay small on small faces, so they do not hide the face they mark.
    let radius = (thickness as i32 * 3 / 2).min((width / 24.0) as i32).max(1);
    for (point, colour) in face.detection.landmarks.iter().zip(LANDMARK_COLOURS) {
        draw_filled_circle_mut(canvas, (point[0] as i32, point[1] as i32), radius, colour);
    }
}

/// Font size in pixels: the text spans about 80% of the width, and at most an eighth of
/// the height, never under 10 px.
fn font_size(canvas: &RgbImage, text: &str) -> f32 {
    // Inconsolata's advance is half an em.
    let by_width = canvas.width() as f32 * 0.8 / (text.chars().count() as f32 * 0.5);
    let by_height = canvas.height() as f32 / 8.0;
    by_width.min(by_height).max(10.0)
}

fn draw_band(canvas: &mut RgbImage, text: &str) {
    let Ok(font) = FontRef::try_from_slice(FONT_BYTES) else {
        // The font is compiled in; a test checks that it parses.
        return;
    };
    let scale = PxScale::from(font_size(canvas, text));
    let (text_width, text_height) = text_size(scale, &font, text);
    let padding = (scale.y * 0.3) as u32;
    let band_height = (text_height + 2 * padding).min(canvas.height());
    let band_top = canvas.height() - band_height;

    for y in band_top..canvas.height() {
        for x in 0..canvas.width() {
            let pixel = canvas.get_pixel_mut(x, y);
            for channel in 0..3 {
                pixel[channel] = (f32::from(pixel[channel]) * (1.0 - BAND_OPACITY)).round() as u8;
            }
        }
    }
    let text_x = (canvas.width().saturating_sub(text_width) / 2) as i32;
    let text_y = (band_top + padding) as i32;
    draw_text_mut(canvas, TEXT_COLOUR, text_x, text_y, scale, &font, text);
}

/// Builds the overlay's file name from the source's stem, the metric and the distance.
pub fn file_name(source: &Path, metric: &str, distance: Option<f32>) -> String {
    let stem = source
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".to_string());
    match distance {
        Some(distance) => format!("{stem}.{metric}-{distance:.3}.png"),
        None => format!("{stem}.noface.png"),
    }
}

/// Writes `image` as a PNG into `dir` (created if missing) under `name`, atomically: a
/// temporary file in the same folder, flushed and synced, then renamed into place. On
/// any failure the temporary file is removed and nothing is left behind.
pub fn save_atomic(image: &RgbImage, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(name);
    let temp = tempfile::Builder::new()
        .prefix(".facewatch-")
        .suffix(".part")
        .tempfile_in(dir)?;
    {
        let mut writer = BufWriter::new(temp.as_file());
        writer.write_all(&encode_png(image)?)?;
        writer.flush()?;
    }
    // Temporary files are created private (0600); an overlay is for sharing.
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    temp.as_file().sync_all()?;
    temp.persist(&target).map_err(|err| err.error)?;
    Ok(target)
}

fn encode_png(image: &RgbImage) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::detect::Detection;

    fn face() -> Face {
        Face {
            detection: Detection {
                bbox: [20.0, 20.0, 60.0, 60.0],
                landmarks: [
                    [40.0, 40.0],
                    [60.0, 40.0],
                    [50.0, 50.0],
                    [42.0, 65.0],
                    [58.0, 65.0],
                ],
                score: 0.95,
            },
            detected_at: [200, 160],
            embedding: Vec::new(),
        }
    }

    const LABEL: OverlayLabel = OverlayLabel {
        distance: 0.41234,
        normalized: 0.6473,
        passed: true,
    };

    #[test]
    fn font_parses() {
        assert!(FontRef::try_from_slice(FONT_BYTES).is_ok());
    }

    #[test]
    fn label_has_three_decimals() {
        assert_eq!(label_text(&LABEL), "VALUE: 0.412 | DIST: 0.647");
    }

    #[test]
    fn band_darkens_bottom_and_keeps_top() {
        let image = RgbImage::from_pixel(200, 160, Rgb([200, 200, 200]));
        let out = render(&image, None, &LABEL);
        assert_eq!(out.get_pixel(1, 1).0, [200, 200, 200]);
        assert_eq!(out.get_pixel(1, 159).0, [80, 80, 80]);
        // Anti-aliased glyphs rarely cover a pixel fully, so count light pixels.
        let light = out.pixels().filter(|p| p[0] > 160).count()
            - out.pixels().filter(|p| p.0 == [200, 200, 200]).count();
        assert!(light > 20, "text drawn: {light} light pixels in the band");
    }

    #[test]
    fn font_grows_with_image() {
        let text = label_text(&LABEL);
        let small = font_size(&RgbImage::new(256, 256), &text);
        let large = font_size(&RgbImage::new(2048, 2048), &text);
        assert!(large > small * 6.0, "{small} -> {large}");
    }

    #[test]
    fn face_box_is_drawn() {
        let image = RgbImage::from_pixel(200, 160, Rgb([0, 0, 0]));
        let out = render(&image, Some(&face()), &LABEL);
        assert_eq!(*out.get_pixel(20, 50), PASS_COLOUR);
        assert_eq!(*out.get_pixel(40, 40), LANDMARK_COLOURS[0]);
    }

    #[test]
    fn save_is_atomic_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let image = RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]));
        let path = save_atomic(&image, &dir.path().join("sub"), "x.png").unwrap();
        let back = image::open(&path).unwrap().into_rgb8();
        assert_eq!(back, image);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn file_name_carries_distance() {
        assert_eq!(
            file_name(Path::new("/a/out_01.jpg"), "cosine", Some(0.25)),
            "out_01.cosine-0.250.png"
        );
        assert_eq!(
            file_name(Path::new("x.png"), "cosine", None),
            "x.noface.png"
        );
    }
}
