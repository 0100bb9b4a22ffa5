//! Decoding image files into 8-bit RGB pixels, the way a photo viewer would show them.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// Colour that transparent pixels are composited over: a neutral mid-grey, so that a
/// cut-out face gets no bright or dark halo that would pull the embedding either way.
pub const ALPHA_BACKGROUND: [u8; 3] = [128, 128, 128];

/// Decoder limits. A file that claims more pixels than this is rejected before any
/// pixel buffer is allocated, which defeats decompression bombs.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Maximum width or height, in pixels.
    pub max_side: u32,
    /// Maximum width × height, in pixels.
    pub max_pixels: u64,
    /// Maximum bytes the decoder may allocate at once.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_side: 16_384,
            max_pixels: 80_000_000,
            max_alloc: 1024 * 1024 * 1024,
        }
    }
}

/// Error that kept a file from being turned into pixels.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file (a folder, pipe or device)")]
    NotAFile,
    #[error("empty file (0 bytes)")]
    Empty,
    #[error(
        "not an image: the content matches no supported format (PNG, JPEG, WebP, GIF, BMP, TIFF)"
    )]
    UnknownFormat,
    #[error(
        "image is {width}×{height} pixels, over the limit of {limit}; raise `max_pixels` in the config to accept it"
    )]
    TooLarge {
        width: u32,
        height: u32,
        limit: String,
    },
    #[error(
        "rejected by the decoder limits ({0}); the header claims more pixels than facewatch accepts"
    )]
    LimitExceeded(String),
    #[error("{format} decoder failed: {message}")]
    Decode { format: String, message: String },
}

/// A decoded image with what the decoder reported about it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Upright pixels (EXIF orientation applied), 8-bit RGB.
    pub rgb: RgbImage,
    /// Container format, as sniffed from the bytes.
    pub format: ImageFormat,
    /// True when the source had an alpha channel that was composited over
    /// [`ALPHA_BACKGROUND`].
    pub had_alpha: bool,
    /// True when the source had more than 8 bits per channel.
    pub high_bit_depth: bool,
}

/// Reads and decodes the image at `path`.
pub fn decode_file(path: &Path, limits: &DecodeLimits) -> Result<Decoded, DecodeError> {
    // Reading a FIFO or a device would block or never end.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(DecodeError::NotAFile);
    }
    let bytes = std::fs::read(path)?;
    decode_bytes(&bytes, limits)
}

/// Decodes an image held in memory. The format is taken from the content, never from a
/// file name.
pub fn decode_bytes(bytes: &[u8], limits: &DecodeLimits) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| DecodeError::UnknownFormat)?;
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        // Lenient JPEG decoders fill a cut-off file with grey; such pixels must never be
        // scored, and a file still being written looks exactly like this.
        return Err(DecodeError::Decode {
            format: "JPEG".to_string(),
            message: "file ends early: no end-of-image marker after the last scan (truncated or still being written)"
                .to_string(),
        });
    }
    if format == ImageFormat::Jpeg {
        return decode_jpeg(bytes, limits);
    }
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    decode_reader(reader, format, limits)
}

fn jpeg_error(message: impl Into<String>) -> DecodeError {
    DecodeError::Decode {
        format: "JPEG".to_string(),
        message: message.into(),
    }
}

/// Decodes a JPEG with libjpeg-turbo's decoder (through `mozjpeg`, built from source
/// without SIMD), the decoder OpenCV uses, so pixels and therefore distances match
/// OpenCV's exactly. The `image` crate's own JPEG decoder differs by up to 5 levels
/// on some pixels. CMYK and YCCK files are converted as OpenCV converts them.
fn decode_jpeg(bytes: &[u8], limits: &DecodeLimits) -> Result<Decoded, DecodeError> {
    // The EXIF orientation comes from the `image` crate's header parser.
    let orientation = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes))
        .and_then(|mut decoder| decoder.orientation())
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // libjpeg reports errors by unwinding (without running the panic hook).
    let decoded =
        std::panic::catch_unwind(|| decode_jpeg_pixels(bytes, limits)).map_err(|payload| {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "corrupt data".to_string());
            jpeg_error(message)
        })??;
    let mut image = DynamicImage::ImageRgb8(decoded);
    image.apply_orientation(orientation);
    Ok(Decoded {
        rgb: image.into_rgb8(),
        format: ImageFormat::Jpeg,
        had_alpha: false,
        high_bit_depth: false,
    })
}

fn decode_jpeg_pixels(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, DecodeError> {
    use mozjpeg::{ColorSpace, Decompress};

    let decompress = Decompress::new_mem(bytes).map_err(|err| jpeg_error(err.to_string()))?;
    let (width, height) = decompress.size();
    let (width, height) = (width as u32, height as u32);
    check_dimensions(width, height, limits)?;
    let cmyk = matches!(
        decompress.color_space(),
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK
    );
    let target = if cmyk {
        ColorSpace::JCS_CMYK
    } else {
        ColorSpace::JCS_RGB
    };
    let mut started = decompress
        .to_colorspace(target)
        .map_err(|err| jpeg_error(err.to_string()))?;
    let pixels: Vec<u8> = started
        .read_scanlines::<u8>()
        .map_err(|err| jpeg_error(err.to_string()))?;
    started
        .finish()
        .map_err(|err| jpeg_error(err.to_string()))?;
    let rgb = if cmyk { cmyk_to_rgb(&pixels) } else { pixels };
    RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| jpeg_error("decoder returned a short pixel buffer"))
}

/// Converts Adobe-style (inverted) CMYK to RGB with OpenCV's integer formula:
/// each channel is `k - ((255 - c) * k >> 8)`.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for pixel in cmyk.chunks_exact(4) {
        let k = i32::from(pixel[3]);
        for &channel in &pixel[..3] {
            rgb.push((k - (((255 - i32::from(channel)) * k) >> 8)) as u8);
        }
    }
    rgb
}

fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), DecodeError> {
    let too_many = u64::from(width) * u64::from(height) > limits.max_pixels;
    if too_many || width > limits.max_side || height > limits.max_side || width == 0 || height == 0
    {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: format!(
                "{} pixels and {} px a side",
                limits.max_pixels, limits.max_side
            ),
        });
    }
    Ok(())
}

/// True when an end-of-image marker (FF D9) follows the last start-of-scan marker
/// (FF DA). Entropy-coded data cannot contain FF D9, and checking after the last scan
/// skips the end marker of an EXIF thumbnail.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|pair| pair == [0xFF, 0xDA]);
    let Some(start) = last_scan else {
        return false;
    };
    bytes[start..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

fn decode_reader<R: BufRead + Seek>(
    mut reader: ImageReader<R>,
    format: ImageFormat,
    limits: &DecodeLimits,
) -> Result<Decoded, DecodeError> {
    let format_name = format!("{format:?}").to_uppercase();
    let as_decode_error = |err: image::ImageError| classify(err, &format_name, limits);

    let mut image_limits = Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(image_limits);

    let mut decoder = reader.into_decoder().map_err(as_decode_error)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let orientation = decoder.orientation().map_err(as_decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(as_decode_error)?;
    image.apply_orientation(orientation);

    let had_alpha = image.color().has_alpha();
    let high_bit_depth = image.color().bytes_per_pixel() / image.color().channel_count() > 1;
    let rgb = to_rgb8(image);
    Ok(Decoded {
        rgb,
        format,
        had_alpha,
        high_bit_depth,
    })
}

fn classify(err: image::ImageError, format: &str, limits: &DecodeLimits) -> DecodeError {
    match err {
        image::ImageError::Limits(limit) => {
            DecodeError::LimitExceeded(format!("{limit}; max side {} px", limits.max_side))
        }
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Decode {
                format: format.to_string(),
                message: "file ends early (truncated or still being written)".to_string(),
            }
        }
        other => DecodeError::Decode {
            format: format.to_string(),
            message: other.to_string(),
        },
    }
}

impl DecodeError {
    /// True when a later read might succeed, because the file may still be growing.
    pub fn may_be_incomplete(&self) -> bool {
        match self {
            DecodeError::Empty | DecodeError::Io(_) => true,
            DecodeError::Decode { message, .. } => {
                let message = message.to_lowercase();
                message.contains("end")
                    || message.contains("eof")
                    || message.contains("truncated")
                    || message.contains("insufficient")
            }
            DecodeError::UnknownFormat
            | DecodeError::NotAFile
            | DecodeError::TooLarge { .. }
            | DecodeError::LimitExceeded(_) => false,
        }
    }
}

/// Converts any decoded colour type to 8-bit RGB: 16-bit and float channels are scaled
/// down, grey is replicated, and alpha is composited over [`ALPHA_BACKGROUND`].
fn to_rgb8(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut rgb = RgbImage::new(width, height);
    for (out, pixel) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(pixel[3]);
        for channel in 0..3 {
            let over = u32::from(pixel[channel]) * alpha;
            let under = u32::from(ALPHA_BACKGROUND[channel]) * (255 - alpha);
            out[channel] = ((over + under + 127) / 255) as u8;
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgba};

    fn encode_png(image: &DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .expect("encode test PNG");
        bytes
    }

    #[test]
    fn empty_bytes_are_rejected() {
        let err = decode_bytes(&[], &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Empty));
    }

    #[test]
    fn text_is_not_an_image() {
        let err = decode_bytes(b"hello, this is text", &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::UnknownFormat));
    }

    #[test]
    fn transparent_pixels_become_background() {
        let rgba: ImageBuffer<Rgba<u8>, _> = ImageBuffer::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgba([255, 0, 0, 0])
            } else {
                Rgba([255, 0, 0, 255])
            }
        });
        let bytes = encode_png(&DynamicImage::ImageRgba8(rgba));
        let decoded = decode_bytes(&bytes, &DecodeLimits::default()).unwrap();
        assert!(decoded.had_alpha);
        assert_eq!(decoded.rgb.get_pixel(0, 0).0, ALPHA_BACKGROUND);
        assert_eq!(decoded.rgb.get_pixel(1, 0).0, [255, 0, 0]);
    }

    #[test]
    fn jpeg_without_end_marker_is_truncated() {
        let image = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 64, image::Rgb([9, 99, 199])));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
            .unwrap();
        assert!(decode_bytes(&bytes, &DecodeLimits::default()).is_ok());
        let cut = &bytes[..bytes.len() - 40];
        let err = decode_bytes(cut, &DecodeLimits::default()).unwrap_err();
        assert!(err.to_string().contains("ends early"), "{err}");
        assert!(err.may_be_incomplete());
    }

    #[test]
    fn grey_is_replicated() {
        let grey: ImageBuffer<Luma<u8>, _> = ImageBuffer::from_pixel(1, 1, Luma([77]));
        let decoded = decode_bytes(
            &encode_png(&DynamicImage::ImageLuma8(grey)),
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!(decoded.rgb.get_pixel(0, 0).0, [77, 77, 77]);
    }

    #[test]
    fn sixteen_bit_scales_to_eight() {
        let wide: ImageBuffer<image::Rgb<u16>, _> =
            ImageBuffer::from_pixel(1, 1, image::Rgb([200 * 257, 0, 65535]));
        let decoded = decode_bytes(
            &encode_png(&DynamicImage::ImageRgb16(wide)),
            &DecodeLimits::default(),
        )
        .unwrap();
        assert!(decoded.high_bit_depth);
        assert_eq!(decoded.rgb.get_pixel(0, 0).0, [200, 0, 255]);
    }

    #[test]
    fn pixel_limit_rejects_before_decoding() {
        let small = DynamicImage::ImageRgb8(RgbImage::new(64, 64));
        let limits = DecodeLimits {
            max_pixels: 1000,
            ..DecodeLimits::default()
        };
        let err = decode_bytes(&encode_png(&small), &limits).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    width: 64,
                    height: 64,
                    ..
                }
            ),
            "{err}"
        );
    }
}
