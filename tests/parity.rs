//! Parity with OpenCV 5.1 (`FaceDetectorYN` + `FaceRecognizerSF`) on the developer photo
//! set, whose `oracle.json` holds OpenCV's faces, embeddings and distances. Skipped with
//! a message when the set is not present.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use facewatch::pipeline::{AlignSource, Analysis, DetectSize, PipelineOptions};
use facewatch::score::{Metric, distance, mean_embedding};
use serde_json::Value;

fn load_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read json")).expect("parse json")
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number") as f32).collect()
}

struct Case {
    path: String,
    oracle: Value,
    ours: Analysis,
}

fn run_all(dir: &Path, options: PipelineOptions) -> Vec<Case> {
    let oracle = load_json(&dir.join("oracle.json"));
    let manifest = load_json(&dir.join("manifest.json"));
    let decodable: BTreeMap<String, bool> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| (f["path"].as_str().expect("path").to_string(), f["decodable"].as_bool().unwrap_or(false)))
        .collect();
    let mut pipeline = common::pipeline(options);
    let mut cases = Vec::new();
    for (path, entry) in oracle["images"].as_object().expect("images") {
        if !decodable.get(path).copied().unwrap_or(false) || entry["opencv_read"] != Value::Bool(true) {
            continue;
        }
        let (_, ours) = pipeline.analyze_path(&dir.join(path)).unwrap_or_else(|err| panic!("{path}: {err}"));
        cases.push(Case {
            path: path.clone(),
            oracle: entry.clone(),
            ours,
        });
    }
    cases
}

fn native() -> PipelineOptions {
    PipelineOptions {
        detect_size: DetectSize::Native,
        align_source: AlignSource::Original,
        ..PipelineOptions::default()
    }
}

#[test]
fn native_detection_matches_opencv() {
    let Some(dir) = common::shared_faces() else {
        eprintln!("skipped: ../shared/data/faces not present");
        return;
    };
    let cases = run_all(&dir, native());
    assert!(cases.len() >= 45, "only {} decodable files", cases.len());
    let mut worst_box = 0f32;
    let mut worst_cos = 1f64;
    let mut failures = Vec::new();
    for case in &cases {
        let expected = case.oracle["faces"].as_array().expect("faces");
        assert_eq!(case.ours.faces.len(), expected.len(), "{}: face count", case.path);
        for oracle_face in expected {
            let oracle_box = floats(&oracle_face["box"]);
            let ours = case
                .ours
                .faces
                .iter()
                .min_by(|a, b| box_gap(&a.detection.bbox, &oracle_box).total_cmp(&box_gap(&b.detection.bbox, &oracle_box)))
                .expect("a face");
            let gap = box_gap(&ours.detection.bbox, &oracle_box);
            let landmarks: Vec<f32> = oracle_face["landmarks"].as_array().expect("lm").iter().flat_map(floats).collect();
            let ours_landmarks: Vec<f32> = ours.detection.landmarks.iter().flatten().copied().collect();
            let landmark_gap = landmarks.iter().zip(&ours_landmarks).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let cos = common::cosine_similarity(&ours.embedding, &floats(&oracle_face["embedding"]));
            eprintln!("{}: box {gap:.3} px, landmarks {landmark_gap:.3} px, cosine {cos:.5}", case.path);
            worst_box = worst_box.max(gap).max(landmark_gap);
            worst_cos = worst_cos.min(cos);
            if gap > 1.0 || landmark_gap > 1.0 || cos < 0.99 {
                failures.push(format!("{}: box {gap} px, landmarks {landmark_gap} px, cosine {cos}", case.path));
            }
        }
    }
    eprintln!("worst coordinate gap {worst_box:.3} px, worst cosine {worst_cos:.5}");
    assert!(failures.is_empty(), "outside tolerance:\n{}", failures.join("\n"));
}

fn box_gap(a: &[f32; 4], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
}
