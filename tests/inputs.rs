//! Every kind of awkward or broken input gets a face count or a clear reason, never a
//! crash. The awkward variants (CMYK, 16-bit, RGBA, grey, WebP, truncated, bombs) are
//! made here from the bundled public-domain photos.

mod common;

use common::faults;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use facewatch::pipeline::decode::{DecodeError, DecodeLimits, decode_bytes};
use facewatch::pipeline::{Analysis, AnalyzeError, Pipeline, PipelineOptions};
use image::{DynamicImage, ImageFormat, RgbImage};

fn photo(name: &str) -> PathBuf {
    common::photos().join("images").join(name)
}

fn analyze(pipeline: &mut Pipeline, path: &Path) -> Result<Analysis, AnalyzeError> {
    pipeline.analyze_path(path).map(|(_, analysis)| analysis)
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn portrait() -> RgbImage {
    let bytes = std::fs::read(photo("obama_portrait.jpg")).expect("bundled photo");
    decode_bytes(&bytes, &DecodeLimits::default())
        .expect("decode")
        .rgb
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encode");
    bytes
}

/// Returns the embedding of the bundled portrait's only face, for comparing variants.
fn reference_embedding(pipeline: &mut Pipeline) -> Vec<f32> {
    let analysis = pipeline.analyze(&portrait()).expect("analyse");
    assert_eq!(analysis.faces.len(), 1);
    analysis.faces[0].embedding.clone()
}

fn assert_same_face(pipeline: &mut Pipeline, path: &Path, expected: &[f32], min_cosine: f64) {
    let analysis =
        analyze(pipeline, path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert_eq!(analysis.faces.len(), 1, "{}", path.display());
    let cosine = common::cosine_similarity(&analysis.faces[0].embedding, expected);
    assert!(cosine >= min_cosine, "{}: cosine {cosine}", path.display());
}

#[test]
fn broken_files_have_reasons() {
    let mut pipeline = common::pipeline(PipelineOptions::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let jpeg = std::fs::read(photo("obama_portrait.jpg")).expect("photo");
    let truncated = write_temp(dir.path(), "cut.jpg", &jpeg[..jpeg.len() * 2 / 5]);
    let png = encode(&DynamicImage::ImageRgb8(portrait()), ImageFormat::Png);
    let truncated_png = write_temp(dir.path(), "cut.png", &png[..png.len() / 2]);
    let cases = [
        (photo("zero_bytes.jpg"), "empty file"),
        (photo("text_named_png.png"), "not an image"),
        (truncated, "ends early"),
        (truncated_png, "PNG"),
        (dir.path().join("missing.png"), "cannot read"),
    ];
    for (path, expected) in cases {
        let err = analyze(&mut pipeline, &path).expect_err("must fail");
        let message = err.to_string();
        assert!(message.contains(expected), "{}: {message}", path.display());
    }
}

#[test]
fn format_variants_give_the_same_face() {
    let mut pipeline = common::pipeline(PipelineOptions::default());
    let expected = reference_embedding(&mut pipeline);
    let dir = tempfile::tempdir().expect("temp dir");
    let rgb = portrait();

    let sixteen = DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(rgb.clone()).into_rgb16());
    let path = write_temp(dir.path(), "deep.png", &encode(&sixteen, ImageFormat::Png));
    assert_same_face(&mut pipeline, &path, &expected, 0.9999);

    let opaque = DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).into_rgba8());
    let path = write_temp(dir.path(), "alpha.png", &encode(&opaque, ImageFormat::Png));
    assert_same_face(&mut pipeline, &path, &expected, 0.9999);

    let webp = write_temp(
        dir.path(),
        "lossless.webp",
        &encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::WebP),
    );
    assert_same_face(&mut pipeline, &webp, &expected, 0.9999);

    let grey = DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb.clone()).into_luma8());
    let path = write_temp(dir.path(), "grey.jpg", &encode(&grey, ImageFormat::Jpeg));
    assert_same_face(&mut pipeline, &path, &expected, 0.9);

    let path = write_temp(dir.path(), "cmyk.jpg", &faults::cmyk_jpeg(&rgb));
    assert_same_face(&mut pipeline, &path, &expected, 0.99);
}

#[test]
fn semi_transparent_face_still_found() {
    let mut pipeline = common::pipeline(PipelineOptions::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rgba = DynamicImage::ImageRgb8(portrait()).into_rgba8();
    let width = rgba.width();
    for (x, _, pixel) in rgba.enumerate_pixels_mut() {
        // Fully transparent at the left and right edges, opaque in the middle.
        let from_centre = (f64::from(x) / f64::from(width) - 0.5).abs();
        pixel[3] = if from_centre > 0.4 { 0 } else { 255 };
    }
    let path = write_temp(
        dir.path(),
        "cutout.png",
        &encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
    );
    let analysis = analyze(&mut pipeline, &path).expect("analyse");
    assert_eq!(analysis.faces.len(), 1);
}

#[test]
fn awkward_bundled_photos() {
    let mut pipeline = common::pipeline(PipelineOptions::default());
    let rotated = analyze(&mut pipeline, &photo("obama_exif_rotated.jpg")).expect("rotated");
    assert_eq!(
        (rotated.width, rotated.height),
        (320, 240),
        "EXIF orientation applied"
    );
    assert_eq!(rotated.faces.len(), 1);

    let tiny = analyze(&mut pipeline, &photo("obama_tiny_face.jpg")).expect("tiny");
    assert_eq!(tiny.faces.len(), 1);
    assert!(tiny.faces[0].detection.bbox[2] < 40.0);

    let large = analyze(&mut pipeline, &photo("obama_biden_child_4100px.jpg")).expect("large");
    assert_eq!(large.width, 4100);
    assert_eq!(large.faces.len(), 3);

    for name in [
        "cat.png",
        "coffee.png",
        "rocket.jpg",
        "grey_blank.jpg",
        "hubble_deep_field.jpg",
    ] {
        let analysis = analyze(&mut pipeline, &photo(name)).expect(name);
        assert!(
            analysis.faces.is_empty(),
            "{name}: found {} faces",
            analysis.faces.len()
        );
        assert!(
            analysis.sizes_tried.len() >= 2,
            "{name}: retried at another size"
        );
    }
}

/// Builds a small JPEG whose frame header is patched to claim `size`×`size` pixels.
fn jpeg_bomb(size: u16) -> Vec<u8> {
    let mut bytes = encode(
        &DynamicImage::ImageRgb8(RgbImage::new(16, 16)),
        ImageFormat::Jpeg,
    );
    let sof = bytes
        .windows(2)
        .position(|pair| pair == [0xFF, 0xC0])
        .expect("baseline frame header");
    bytes[sof + 5..sof + 7].copy_from_slice(&size.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&size.to_be_bytes());
    bytes
}

#[test]
fn decompression_bombs_are_rejected() {
    let limits = DecodeLimits::default();
    for (name, bytes) in [
        ("png", faults::png_bomb(30_000)),
        ("jpeg", jpeg_bomb(60_000)),
    ] {
        let err = decode_bytes(&bytes, &limits).expect_err(name);
        assert!(
            matches!(
                err,
                DecodeError::TooLarge { .. } | DecodeError::LimitExceeded(_)
            ),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("limit"), "{name}: {err}");
    }
}

#[test]
fn first_frame_of_animated_gif_is_scored() {
    let mut pipeline = common::pipeline(PipelineOptions::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let face =
        image::imageops::resize(&portrait(), 400, 650, image::imageops::FilterType::Triangle);
    let blank = RgbImage::from_pixel(400, 650, image::Rgb([40, 40, 40]));
    let mut bytes = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
        for frame in [face, blank] {
            let rgba = DynamicImage::ImageRgb8(frame).into_rgba8();
            encoder
                .encode_frame(image::Frame::new(rgba))
                .expect("encode frame");
        }
    }
    let path = write_temp(dir.path(), "animated.gif", &bytes);
    let analysis = analyze(&mut pipeline, &path).expect("animated GIF");
    assert_eq!(analysis.faces.len(), 1);
}

#[test]
fn tiny_and_palette_images_are_handled() {
    let mut pipeline = common::pipeline(PipelineOptions::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let one = write_temp(
        dir.path(),
        "one.png",
        &encode(
            &DynamicImage::ImageRgb8(RgbImage::new(1, 1)),
            ImageFormat::Png,
        ),
    );
    let analysis = analyze(&mut pipeline, &one).expect("1×1 image");
    assert!(analysis.faces.is_empty());
    assert_eq!((analysis.width, analysis.height), (1, 1));

    let gif = write_temp(
        dir.path(),
        "palette.gif",
        &encode(&DynamicImage::ImageRgb8(portrait()), ImageFormat::Gif),
    );
    let analysis = analyze(&mut pipeline, &gif).expect("palette image");
    assert_eq!(analysis.faces.len(), 1);
}
