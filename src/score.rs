//! Distances between embeddings, the reference mean, and per-image scores.

use serde::{Deserialize, Serialize};

use crate::pipeline::Face;

/// Distance metric between two embeddings, as the `FaceEmbedDistance` node defines it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
pub enum Metric {
    /// Euclidean distance between the two unit-normalised vectors (0 to 2).
    #[serde(rename = "L2_norm")]
    #[value(name = "L2_norm", alias = "l2_norm", alias = "l2")]
    L2Norm,
    /// One minus the cosine similarity (0 to 2).
    #[serde(rename = "cosine")]
    #[value(name = "cosine")]
    Cosine,
    /// Euclidean distance between the raw vectors.
    #[serde(rename = "euclidean")]
    #[value(name = "euclidean")]
    Euclidean,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Cosine, Metric::L2Norm, Metric::Euclidean];

    /// Returns the name used in the threshold table, the config file and the output.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2Norm => "L2_norm",
            Metric::Cosine => "cosine",
            Metric::Euclidean => "euclidean",
        }
    }

    /// Returns the metric after this one, for cycling through them with a key.
    pub fn next(self) -> Metric {
        match self {
            Metric::Cosine => Metric::L2Norm,
            Metric::L2Norm => Metric::Euclidean,
            Metric::Euclidean => Metric::Cosine,
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|metric| metric.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Distance between two embeddings, computed in f64. Identical vectors give exactly 0
/// under every metric, and rounding never makes a distance negative.
pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    if a == b {
        return 0.0;
    }
    let value = match metric {
        Metric::Euclidean => euclidean(
            a.iter().map(|&x| f64::from(x)),
            b.iter().map(|&x| f64::from(x)),
        ),
        Metric::L2Norm => {
            let (norm_a, norm_b) = (norm(a), norm(b));
            if norm_a == 0.0 || norm_b == 0.0 {
                return f32::NAN;
            }
            euclidean(
                a.iter().map(|&x| f64::from(x) / norm_a),
                b.iter().map(|&x| f64::from(x) / norm_b),
            )
        }
        Metric::Cosine => {
            let (norm_a, norm_b) = (norm(a), norm(b));
            if norm_a == 0.0 || norm_b == 0.0 {
                return f32::NAN;
            }
            let dot: f64 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            1.0 - dot / (norm_a * norm_b)
        }
    };
    value.max(0.0) as f32
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

fn euclidean(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> f64 {
    a.zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// Computes the normalised score shown beside a distance: `min(1, distance / threshold)`, so 1
/// means "at or past the same-person threshold".
pub fn normalized(distance: f32, threshold: f32) -> f32 {
    if threshold <= 0.0 {
        return 1.0;
    }
    (distance / threshold).min(1.0)
}

/// Element-wise mean of several embeddings; `None` for an empty list.
pub fn mean_embedding(embeddings: &[&[f32]]) -> Option<Vec<f32>> {
    let first = embeddings.first()?;
    let mut sum = vec![0f64; first.len()];
    for embedding in embeddings {
        for (total, &value) in sum.iter_mut().zip(embedding.iter()) {
            *total += f64::from(value);
        }
    }
    let count = embeddings.len() as f64;
    Some(
        sum.into_iter()
            .map(|total| (total / count) as f32)
            .collect(),
    )
}

/// Rule for choosing the face that gives an image its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FaceChoice {
    /// The face closest to the references.
    #[default]
    Best,
    /// The largest face, as the ComfyUI node does.
    Largest,
}

/// The score of one image: which face, and how far it is from the references.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageScore {
    /// Index into the image's faces (largest first).
    pub face: usize,
    pub distance: f32,
    /// True when the scoring face is not the largest one.
    pub not_largest: bool,
}

/// Scores an image's faces against the reference mean. Returns `None` without faces.
pub fn score_faces(
    faces: &[Face],
    reference: &[f32],
    metric: Metric,
    choice: FaceChoice,
) -> Option<ImageScore> {
    let distances: Vec<f32> = faces
        .iter()
        .map(|face| distance(metric, &face.embedding, reference))
        .collect();
    let face = match choice {
        FaceChoice::Largest => (!distances.is_empty()).then_some(0)?,
        FaceChoice::Best => distances
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_nan())
            .min_by(|(_, a), (_, b)| a.total_cmp(b))
            .map(|(index, _)| index)?,
    };
    Some(ImageScore {
        face,
        distance: distances[face],
        not_largest: face != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [f32; 3] = [1.0, 2.0, 3.0];
    const B: [f32; 3] = [-2.0, 0.5, 4.0];

    #[test]
    fn identical_vectors_score_zero() {
        let v = [0.1f32, -0.7, 2.3, 5.9, -1.1];
        for metric in Metric::ALL {
            assert_eq!(distance(metric, &v, &v), 0.0, "{metric}");
        }
    }

    #[test]
    fn cosine_matches_definition() {
        let dot = 1.0 * -2.0 + 2.0 * 0.5 + 3.0 * 4.0;
        let expected = 1.0 - dot / (14f64.sqrt() * 20.25f64.sqrt());
        assert!((f64::from(distance(Metric::Cosine, &A, &B)) - expected).abs() < 1e-6);
    }

    #[test]
    fn euclidean_uses_raw_vectors() {
        let expected = (9.0f64 + 2.25 + 1.0).sqrt();
        assert!((f64::from(distance(Metric::Euclidean, &A, &B)) - expected).abs() < 1e-6);
    }

    #[test]
    fn l2_norm_ignores_scale() {
        let scaled: Vec<f32> = A.iter().map(|x| x * 7.0).collect();
        assert!(distance(Metric::L2Norm, &A, &scaled) < 1e-6);
        let cos = 1.0 - f64::from(distance(Metric::Cosine, &A, &B));
        let expected = (2.0 - 2.0 * cos).sqrt();
        assert!((f64::from(distance(Metric::L2Norm, &A, &B)) - expected).abs() < 1e-6);
    }

    #[test]
    fn zero_vector_has_no_angle() {
        assert!(distance(Metric::Cosine, &[0.0, 0.0], &[1.0, 0.0]).is_nan());
    }

    #[test]
    fn normalized_caps_at_one() {
        assert_eq!(normalized(0.5, 1.0), 0.5);
        assert_eq!(normalized(3.0, 1.0), 1.0);
    }

    #[test]
    fn mean_is_elementwise() {
        let mean = mean_embedding(&[&[1.0, 2.0], &[3.0, 6.0]]).unwrap();
        assert_eq!(mean, vec![2.0, 4.0]);
        assert!(mean_embedding(&[]).is_none());
    }

    #[test]
    fn metric_names_round_trip() {
        for metric in Metric::ALL {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Metric::Cosine.next().next().next(), Metric::Cosine);
    }
}
