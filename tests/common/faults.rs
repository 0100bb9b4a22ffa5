//! A folder of broken, awkward and hostile inputs, each with the status and reason
//! that `scan` and `watch` must report for it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, RgbImage};
use sha2::{Digest, Sha256};

/// What one input must produce: a row with `status` whose reason contains `reason`.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The row's file name as `scan --format jsonl` prints it (lossy UTF-8).
    pub name: String,
    pub status: &'static str,
    /// Part of the reason; empty for rows that have no reason.
    pub reason: &'static str,
}

/// Crops a bundled portrait to a face photo small enough to score quickly.
pub fn small_face() -> RgbImage {
    let photo = image::open(super::photos().join("images/obama_portrait.jpg"))
        .expect("bundled photo")
        .into_rgb8();
    let crop = image::imageops::crop_imm(&photo, 480, 100, 640, 700).to_image();
    image::imageops::resize(&crop, 320, 350, image::imageops::FilterType::Triangle)
}

pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encode test image");
    bytes
}

/// Builds a PNG whose header claims `side`×`side` pixels but whose data is tiny.
pub fn png_bomb(side: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    };
    let mut header = Vec::new();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    bytes
}

/// Encodes `rgb` as an Adobe CMYK JPEG with no black ink.
pub fn cmyk_jpeg(rgb: &RgbImage) -> Vec<u8> {
    let ink: Vec<u8> = rgb
        .pixels()
        .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
        .collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 95)
        .encode(
            &ink,
            rgb.width() as u16,
            rgb.height() as u16,
            jpeg_encoder::ColorType::Cmyk,
        )
        .expect("encode CMYK");
    bytes
}

/// Encodes a two-frame GIF: the face, then a blank frame.
fn animated_gif(face: &RgbImage) -> Vec<u8> {
    let blank = RgbImage::from_pixel(face.width(), face.height(), image::Rgb([40, 40, 40]));
    let mut bytes = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
        for frame in [face.clone(), blank] {
            let rgba = DynamicImage::ImageRgb8(frame).into_rgba8();
            encoder
                .encode_frame(image::Frame::new(rgba))
                .expect("encode frame");
        }
    }
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write fault input");
}

/// Returns the bytes of every file format variant that must score one face.
fn face_variants(face: &RgbImage) -> Vec<(&'static str, Vec<u8>)> {
    let rgb = DynamicImage::ImageRgb8(face.clone());
    let mut rgba = rgb.to_rgba8();
    for pixel in rgba.pixels_mut().take(2000) {
        pixel[3] = 0;
    }
    vec![
        ("face.jpg", encode(&rgb, ImageFormat::Jpeg)),
        (
            "face_16bit.png",
            encode(&DynamicImage::ImageRgb16(rgb.to_rgb16()), ImageFormat::Png),
        ),
        (
            "face_grey.png",
            encode(&DynamicImage::ImageLuma8(rgb.to_luma8()), ImageFormat::Png),
        ),
        (
            "face_alpha.png",
            encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
        ),
        ("face_palette.gif", encode(&rgb, ImageFormat::Gif)),
        ("face_animated.gif", animated_gif(face)),
        ("face_lossless.webp", encode(&rgb, ImageFormat::WebP)),
        ("face_cmyk.jpg", cmyk_jpeg(face)),
    ]
}

/// Returns the bytes of every broken file, with the reason it must be listed with.
fn broken_files(face: &RgbImage) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let rgb = DynamicImage::ImageRgb8(face.clone());
    let jpeg = encode(&rgb, ImageFormat::Jpeg);
    let png = encode(&rgb, ImageFormat::Png);
    let webp = encode(&rgb, ImageFormat::WebP);
    let mut corrupt_png = png.clone();
    for byte in corrupt_png.iter_mut().skip(100).step_by(7).take(400) {
        *byte ^= 0x5A;
    }
    let mut corrupt_webp = webp.clone();
    for byte in corrupt_webp.iter_mut().skip(30) {
        *byte = 0xEE;
    }
    vec![
        ("zero.jpg", Vec::new(), "empty file"),
        (
            "text.png",
            b"this is a text file, not a PNG\n".to_vec(),
            "not an image",
        ),
        (
            "truncated.jpg",
            jpeg[..jpeg.len() / 2].to_vec(),
            "ends early",
        ),
        ("truncated.png", png[..png.len() / 2].to_vec(), "PNG"),
        ("corrupt.png", corrupt_png, "PNG"),
        ("truncated.webp", webp[..webp.len() / 2].to_vec(), "WEBP"),
        ("corrupt.webp", corrupt_webp, "WEBP"),
        ("bomb.png", png_bomb(100_000), "limit"),
    ]
}

/// Fills `dir` with the fault inputs and returns what each must produce.
pub fn make_fault_folder(dir: &Path) -> Vec<Expected> {
    let face = small_face();
    let mut expected = Vec::new();
    let mut add = |name: &str, status, reason| {
        expected.push(Expected {
            name: name.to_string(),
            status,
            reason,
        })
    };
    for (name, bytes) in face_variants(&face) {
        write(dir, name, &bytes);
        add(name, "ok", "");
    }
    for (name, bytes, reason) in broken_files(&face) {
        write(dir, name, &bytes);
        add(name, "error", reason);
    }
    let one_pixel = encode(
        &DynamicImage::ImageRgb8(RgbImage::new(1, 1)),
        ImageFormat::Png,
    );
    write(dir, "one_pixel.png", &one_pixel);
    add("one_pixel.png", "no_face", "no face found");

    let jpeg = encode(&DynamicImage::ImageRgb8(face.clone()), ImageFormat::Jpeg);
    std::os::unix::fs::symlink("face.jpg", dir.join("link_to_face.jpg")).expect("symlink");
    add("link_to_face.jpg", "ok", "");
    std::os::unix::fs::symlink("missing.jpg", dir.join("dangling.jpg")).expect("symlink");
    add("dangling.jpg", "error", "cannot read");

    use std::os::unix::ffi::OsStrExt;
    let raw_name = std::ffi::OsStr::from_bytes(b"not_utf8_\xff\xfe.jpg");
    std::fs::write(dir.join(raw_name), &jpeg).expect("write non-UTF-8 name");
    add("not_utf8_\u{FFFD}\u{FFFD}.jpg", "ok", "");

    let locked = dir.join("no_permission.jpg");
    std::fs::write(&locked, &jpeg).expect("write locked file");
    set_mode(&locked, 0o000);
    if std::fs::read(&locked).is_ok() {
        // Root (as in CI containers) reads a mode-000 file, so it is scored.
        add("no_permission.jpg", "ok", "");
    } else {
        add("no_permission.jpg", "error", "ermission denied");
    }
    expected
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// SHA-256 of every file under `dir` (symlinks as their target text), by path.
/// Unreadable files are listed as "unreadable" so a change of mode still shows.
pub fn hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("list folder") {
            let path = entry.expect("dir entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let digest = if meta.file_type().is_symlink() {
                format!(
                    "link:{}",
                    std::fs::read_link(&path).expect("readlink").display()
                )
            } else if meta.is_dir() {
                stack.push(path.clone());
                "folder".to_string()
            } else {
                match std::fs::read(&path) {
                    Ok(bytes) => format!("{:x}", Sha256::digest(&bytes)),
                    Err(_) => "unreadable".to_string(),
                }
            };
            out.insert(path, digest);
        }
    }
    out
}

/// Returns the file name of a JSON row's `path`.
pub fn row_name(row: &serde_json::Value) -> String {
    let path = row["path"].as_str().expect("path field");
    Path::new(path)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Checks that `rows` (JSON lines of `scan` or the `watch` export) hold exactly one
/// row per expected input, with its status and reason.
pub fn check_rows(rows: &[serde_json::Value], expected: &[Expected]) {
    let mut by_name: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for row in rows {
        by_name.entry(row_name(row)).or_default().push(row);
    }
    for case in expected {
        let found = by_name.get(&case.name).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(
            found.len(),
            1,
            "{}: expected one row, rows: {by_name:#?}",
            case.name
        );
        let row = found[0];
        assert_eq!(row["status"], case.status, "{}: {row}", case.name);
        let reason = row["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains(case.reason),
            "{}: reason {reason:?}",
            case.name
        );
        if case.status != "ok" {
            assert!(
                !reason.is_empty(),
                "{}: a row without a score needs a reason",
                case.name
            );
        }
    }
    assert_eq!(
        rows.len(),
        expected.len(),
        "unexpected extra rows: {by_name:#?}"
    );
}
