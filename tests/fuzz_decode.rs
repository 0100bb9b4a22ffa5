//! Property test over the decode-and-detect path: corrupted images (random byte flips,
//! truncations and insertions in valid files of every supported format) must give a
//! decode error or an analysis, never a panic. It runs a bounded number of cases in
//! every test run; set `PROPTEST_CASES` to run more.

mod common;

use std::cell::RefCell;
use std::io::Cursor;

use facewatch::pipeline::decode::{DecodeLimits, decode_bytes};
use facewatch::pipeline::{Pipeline, PipelineOptions};
use image::{DynamicImage, ImageFormat};
use proptest::prelude::*;

const FORMATS: [ImageFormat; 6] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::WebP,
    ImageFormat::Gif,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
];

/// Small valid files of every format, cut from a bundled photo around its face.
fn seeds() -> Vec<Vec<u8>> {
    let bytes = std::fs::read(common::photos().join("images/obama_portrait.jpg")).expect("photo");
    let photo = decode_bytes(&bytes, &DecodeLimits::default())
        .expect("decode")
        .rgb;
    let crop = image::imageops::crop_imm(&photo, 560, 180, 480, 520).to_image();
    let small = image::imageops::resize(&crop, 120, 130, image::imageops::FilterType::Triangle);
    FORMATS
        .iter()
        .map(|format| {
            let mut out = Vec::new();
            DynamicImage::ImageRgb8(small.clone())
                .write_to(&mut Cursor::new(&mut out), *format)
                .expect("encode seed");
            out
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { keep: usize },
    Insert { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        match *mutation {
            Mutation::Flip { at, mask } => {
                let index = at % bytes.len();
                bytes[index] ^= mask;
            }
            Mutation::Truncate { keep } => bytes.truncate(keep % bytes.len()),
            Mutation::Insert { at, byte } => {
                let index = at % bytes.len();
                bytes.insert(index, byte);
            }
        }
    }
    bytes
}

thread_local! {
    static PIPELINE: RefCell<Option<Pipeline>> = const { RefCell::new(None) };
    static SEEDS: Vec<Vec<u8>> = seeds();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_images_never_panic(
        seed in 0usize..FORMATS.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let bytes = SEEDS.with(|seeds| apply(seeds[seed].clone(), &mutations));
        if let Ok(decoded) = decode_bytes(&bytes, &DecodeLimits::default()) {
            PIPELINE.with(|cell| {
                let mut slot = cell.borrow_mut();
                let pipeline = slot.get_or_insert_with(|| common::pipeline(PipelineOptions::default()));
                let analysis = pipeline.analyze(&decoded.rgb).expect("models run on any decoded image");
                prop_assert_eq!(analysis.width, decoded.rgb.width());
                Ok(())
            })?;
        }
    }
}
