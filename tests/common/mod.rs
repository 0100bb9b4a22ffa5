//! Helpers shared by the integration tests: the real runtime and models, and paths.

#![allow(dead_code)]

use std::path::PathBuf;

use facewatch::pipeline::{Pipeline, PipelineOptions};
use facewatch::settings::Engine;

/// Returns the repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the folder of photos committed to the repository (public domain, CC0 or made by the tests).
pub fn photos() -> PathBuf {
    repo().join("tests/photos")
}

/// Returns the wider developer photo set, when present (on development machines and in CI).
pub fn shared_faces() -> Option<PathBuf> {
    let dir = repo().join("../shared/data/faces");
    dir.join("oracle.json").is_file().then_some(dir)
}

/// Builds a pipeline on the real models, with `options`.
pub fn pipeline(options: PipelineOptions) -> Pipeline {
    let runtime = facewatch::runtime::load(None).expect("ONNX Runtime: run `make ort` first");
    let models = facewatch::models::load(None).expect("bundled models");
    let engine = Engine { runtime, models };
    engine.pipeline(&options).expect("sessions")
}

/// Cosine similarity of two vectors.
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

pub mod faults;
pub mod tmux;
