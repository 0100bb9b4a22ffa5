//! Parity with OpenCV 5.1 (`FaceDetectorYN` + `FaceRecognizerSF`) on the developer photo
//! set, whose `oracle.json` contains OpenCV's faces, embeddings and distances. Skipped with
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
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect()
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
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_string(),
                f["decodable"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let mut pipeline = common::pipeline(options);
    let mut cases = Vec::new();
    for (path, entry) in oracle["images"].as_object().expect("images") {
        if !decodable.get(path).copied().unwrap_or(false)
            || entry["opencv_read"] != Value::Bool(true)
        {
            continue;
        }
        let (_, ours) = pipeline
            .analyze_path(&dir.join(path))
            .unwrap_or_else(|err| panic!("{path}: {err}"));
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
        assert_eq!(
            case.ours.faces.len(),
            expected.len(),
            "{}: face count",
            case.path
        );
        for oracle_face in expected {
            let oracle_box = floats(&oracle_face["box"]);
            let ours = case
                .ours
                .faces
                .iter()
                .min_by(|a, b| {
                    box_gap(&a.detection.bbox, &oracle_box)
                        .total_cmp(&box_gap(&b.detection.bbox, &oracle_box))
                })
                .expect("a face");
            let gap = box_gap(&ours.detection.bbox, &oracle_box);
            let landmarks: Vec<f32> = oracle_face["landmarks"]
                .as_array()
                .expect("lm")
                .iter()
                .flat_map(floats)
                .collect();
            let ours_landmarks: Vec<f32> =
                ours.detection.landmarks.iter().flatten().copied().collect();
            let landmark_gap = landmarks
                .iter()
                .zip(&ours_landmarks)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let cos =
                common::cosine_similarity(&ours.embedding, &floats(&oracle_face["embedding"]));
            eprintln!(
                "{}: box {gap:.3} px, landmarks {landmark_gap:.3} px, cosine {cos:.5}",
                case.path
            );
            worst_box = worst_box.max(gap).max(landmark_gap);
            worst_cos = worst_cos.min(cos);
            if gap > 1.0 || landmark_gap > 1.0 || cos < 0.99 {
                failures.push(format!(
                    "{}: box {gap} px, landmarks {landmark_gap} px, cosine {cos}",
                    case.path
                ));
            }
        }
    }
    eprintln!("worst coordinate gap {worst_box:.3} px, worst cosine {worst_cos:.5}");
    assert!(
        failures.is_empty(),
        "outside tolerance:\n{}",
        failures.join("\n")
    );
}

fn box_gap(a: &[f32; 4], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

/// Identity key → mean of the largest-face embeddings of its reference photos.
fn identity_means(cases: &[Case]) -> BTreeMap<String, Vec<f32>> {
    let mut grouped: BTreeMap<String, Vec<&[f32]>> = BTreeMap::new();
    for case in cases {
        let Some(rest) = case.path.strip_prefix("reference/") else {
            continue;
        };
        let identity = rest.split('/').next().expect("identity folder").to_string();
        if let Some(face) = case.ours.faces.first() {
            grouped.entry(identity).or_default().push(&face.embedding);
        }
    }
    grouped
        .into_iter()
        .map(|(identity, embeddings)| {
            (
                identity,
                mean_embedding(&embeddings).expect("a reference face"),
            )
        })
        .collect()
}

const METRICS: [(Metric, &str); 3] = [
    (Metric::Cosine, "cosine"),
    (Metric::Euclidean, "euclidean"),
    (Metric::L2Norm, "l2_norm"),
];

#[test]
fn native_distances_match_opencv() {
    let Some(dir) = common::shared_faces() else {
        eprintln!("skipped: ../shared/data/faces not present");
        return;
    };
    let oracle = load_json(&dir.join("oracle.json"));
    let cases = run_all(&dir, native());
    let means = identity_means(&cases);
    assert_eq!(means.len(), 4);
    let mut compared = 0;
    let mut worst = 0f64;
    for case in &cases {
        let Some(expected) = oracle["distances_to_largest_face"].get(&case.path) else {
            continue;
        };
        let largest = case
            .ours
            .faces
            .first()
            .unwrap_or_else(|| panic!("{}: no face", case.path));
        for (identity, mean) in &means {
            for (metric, key) in METRICS {
                let ours = f64::from(distance(metric, &largest.embedding, mean));
                let theirs = expected[identity][key].as_f64().expect("oracle distance");
                let gap = (ours - theirs).abs();
                worst = worst.max(gap);
                assert!(
                    gap <= 0.03,
                    "{} vs {identity} {key}: ours {ours:.4}, OpenCV {theirs:.4}",
                    case.path
                );
                compared += 1;
            }
        }
    }
    eprintln!("{compared} distances compared, worst gap {worst:.5}");
    assert!(compared >= 3 * 4 * 30);
}

/// Same/different verdicts with facewatch's defaults (640 px detection), on every
/// pair the oracle scores: each identity mean against the largest face of each
/// decodable image, leaving out photos whose two largest faces are nearly equal.
#[test]
fn default_verdicts_are_all_right() {
    let Some(dir) = common::shared_faces() else {
        eprintln!("skipped: ../shared/data/faces not present");
        return;
    };
    let manifest = load_json(&dir.join("manifest.json"));
    let cases = run_all(&dir, PipelineOptions::default());
    let means = identity_means(&cases);
    let thresholds = facewatch::config::Thresholds::new(&BTreeMap::new());
    let mut pairs = 0;
    let mut separation: BTreeMap<&str, (f32, f32)> = BTreeMap::new();
    for file in manifest["files"].as_array().expect("files") {
        let path = file["path"].as_str().expect("path");
        if !path.starts_with("images/") || file["largest_face_ambiguous"] == Value::Bool(true) {
            continue;
        }
        let Some(case) = cases.iter().find(|case| case.path == path) else {
            continue;
        };
        let Some(largest) = case.ours.faces.first() else {
            continue;
        };
        for (identity, mean) in &means {
            let same = file["identity"].as_str() == Some(identity.as_str());
            for (metric, _) in [METRICS[0], METRICS[2]] {
                let d = distance(metric, &largest.embedding, mean);
                let threshold = thresholds.get("SFace", metric).expect("threshold");
                let entry = separation.entry(metric.name()).or_insert((0.0, f32::MAX));
                if same {
                    entry.0 = entry.0.max(d);
                } else {
                    entry.1 = entry.1.min(d);
                }
                assert_eq!(
                    d <= threshold,
                    same,
                    "{path} vs {identity}: {metric} {d:.3} (threshold {threshold})"
                );
            }
            pairs += 1;
        }
    }
    eprintln!("{pairs} pairs; same max / different min: {separation:?}");
    assert!(pairs >= 4 * 25, "only {pairs} pairs scored");
}

/// Photos whose faces are too large for YuNet at native size are found at the
/// default detection size.
#[test]
fn default_finds_large_faces_opencv_misses() {
    let Some(dir) = common::shared_faces() else {
        eprintln!("skipped: ../shared/data/faces not present");
        return;
    };
    let cases = run_all(&dir, PipelineOptions::default());
    let face_count = |path: &str| {
        cases
            .iter()
            .find(|case| case.path == path)
            .map(|case| case.ours.faces.len())
    };
    for (path, expected) in [
        ("images/img_003.jpg", 1),
        ("images/img_010.jpg", 1),
        ("images/img_011.jpg", 1),
        ("images/img_017.jpg", 2),
        ("images/img_029.jpg", 1),
        ("images/img_040.jpg", 1),
        ("images/img_005.jpg", 3),
    ] {
        assert_eq!(face_count(path), Some(expected), "{path}");
    }
}
