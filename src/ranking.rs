//! Sorting and filtering scored images, shared by `scan` and the dashboard.

use std::cmp::Ordering;

use crate::config::Thresholds;
use crate::record::{ImageRecord, Status};
use crate::score::{FaceChoice, ImageScore, Metric, normalized, score_faces};

/// What decides the ranking: the metric, the filters and the threshold table.
#[derive(Debug, Clone)]
pub struct RankSettings {
    pub metric: Metric,
    /// The recognition model, for the threshold table.
    pub model: String,
    pub thresholds: Thresholds,
    /// Keep images at or under this distance; `Some(0.0)` means the model's threshold
    /// and `None` keeps everything.
    pub filter_threshold: Option<f32>,
    /// Keep the N closest images; 0 keeps all.
    pub best: usize,
    pub face: FaceChoice,
}

impl RankSettings {
    /// Returns the model's same-person threshold for the current metric.
    pub fn model_threshold(&self) -> Option<f32> {
        self.thresholds.get(&self.model, self.metric)
    }

    /// Returns the distance at or under which an image passes: the filter when one is set,
    /// otherwise the model's threshold.
    pub fn pass_threshold(&self) -> Option<f32> {
        match self.filter_threshold {
            Some(value) if value > 0.0 => Some(value),
            _ => self.model_threshold(),
        }
    }
}

/// One image's place in the ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankedRow {
    /// Index into the records the ranking was built from.
    pub record: usize,
    pub score: Option<ImageScore>,
    /// `min(1, distance / model threshold)`.
    pub normalized: Option<f32>,
    /// Distance at or under the pass threshold.
    pub passed: bool,
    /// Survives the threshold filter and the best-N cut.
    pub kept: bool,
}

/// The ranked rows: scored images closest first (ties broken by path), then the images
/// without a score, by path.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    pub rows: Vec<RankedRow>,
}

impl Ranking {
    pub fn scored(&self) -> impl Iterator<Item = &RankedRow> {
        self.rows.iter().filter(|row| row.score.is_some())
    }

    pub fn passed_count(&self) -> usize {
        self.rows.iter().filter(|row| row.passed).count()
    }

    pub fn kept_scored(&self) -> impl Iterator<Item = &RankedRow> {
        self.scored().filter(|row| row.kept)
    }

    pub fn closest(&self) -> Option<f32> {
        self.scored()
            .next()
            .and_then(|row| row.score.map(|score| score.distance))
    }
}

/// Scores every record against `reference` and ranks them.
pub fn rank(records: &[ImageRecord], reference: &[f32], settings: &RankSettings) -> Ranking {
    let pass = settings.pass_threshold();
    let model_threshold = settings.model_threshold();
    let mut rows: Vec<RankedRow> = records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let score = match record.status {
                Status::Ok => score_faces(&record.faces, reference, settings.metric, settings.face),
                Status::NoFace | Status::Error => None,
            };
            let distance = score.map(|score| score.distance);
            RankedRow {
                record: index,
                score,
                normalized: distance.zip(model_threshold).map(|(d, t)| normalized(d, t)),
                passed: distance.zip(pass).is_some_and(|(d, t)| d <= t),
                kept: false,
            }
        })
        .collect();

    rows.sort_by(|a, b| compare_rows(a, b, records));
    let mut kept_count = 0;
    for row in &mut rows {
        let Some(score) = row.score else {
            continue;
        };
        let under_filter = match settings.filter_threshold {
            None => true,
            Some(_) => pass.is_some_and(|t| score.distance <= t),
        };
        if under_filter && (settings.best == 0 || kept_count < settings.best) {
            row.kept = true;
            kept_count += 1;
        }
    }
    Ranking { rows }
}

fn compare_rows(a: &RankedRow, b: &RankedRow, records: &[ImageRecord]) -> Ordering {
    let distance = |row: &RankedRow| {
        row.score
            .map(|score| score.distance)
            .filter(|d| !d.is_nan())
    };
    match (distance(a), distance(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => records[a.record].status.cmp(&records[b.record].status),
    }
    .then_with(|| records[a.record].path.cmp(&records[b.record].path))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::pipeline::Face;
    use crate::pipeline::detect::Detection;

    fn face(embedding: Vec<f32>) -> Face {
        Face {
            detection: Detection {
                bbox: [0.0, 0.0, 10.0, 10.0],
                landmarks: [[0.0; 2]; 5],
                score: 0.95,
            },
            detected_at: [100, 100],
            embedding,
        }
    }

    fn record(name: &str, embedding: Option<Vec<f32>>) -> ImageRecord {
        match embedding {
            Some(embedding) => ImageRecord {
                path: Path::new(name).to_path_buf(),
                status: Status::Ok,
                reason: None,
                width: 100,
                height: 100,
                faces: vec![face(embedding)],
            },
            None => ImageRecord::failed(Path::new(name), "broken".to_string()),
        }
    }

    fn settings(filter_threshold: Option<f32>, best: usize) -> RankSettings {
        RankSettings {
            metric: Metric::Euclidean,
            model: "SFace".to_string(),
            thresholds: Thresholds::new(&BTreeMap::new()),
            filter_threshold,
            best,
            face: FaceChoice::Best,
        }
    }

    fn records() -> Vec<ImageRecord> {
        vec![
            record("c.png", Some(vec![3.0, 0.0])),
            record("broken.png", None),
            record("a.png", Some(vec![20.0, 0.0])),
            record("b.png", Some(vec![3.0, 0.0])),
        ]
    }

    fn order(ranking: &Ranking, records: &[ImageRecord]) -> Vec<String> {
        ranking
            .rows
            .iter()
            .map(|row| records[row.record].path.display().to_string())
            .collect()
    }

    #[test]
    fn closest_first_ties_by_path_failures_last() {
        let records = records();
        let ranking = rank(&records, &[0.0, 0.0], &settings(None, 0));
        assert_eq!(
            order(&ranking, &records),
            ["b.png", "c.png", "a.png", "broken.png"]
        );
        assert!(ranking.rows[..3].iter().all(|row| row.kept));
        assert!(!ranking.rows[3].kept);
    }

    #[test]
    fn zero_filter_uses_model_threshold() {
        let records = records();
        let ranking = rank(&records, &[0.0, 0.0], &settings(Some(0.0), 0));
        let kept: Vec<bool> = ranking.rows.iter().map(|row| row.kept).collect();
        assert_eq!(kept, [true, true, false, false]);
        assert_eq!(ranking.passed_count(), 2);
    }

    #[test]
    fn best_n_keeps_closest() {
        let records = records();
        let ranking = rank(&records, &[0.0, 0.0], &settings(None, 1));
        assert_eq!(ranking.kept_scored().count(), 1);
        assert_eq!(records[ranking.rows[0].record].path, Path::new("b.png"));
    }

    #[test]
    fn normalized_uses_model_threshold() {
        let records = records();
        let ranking = rank(&records, &[0.0, 0.0], &settings(Some(5.0), 0));
        let first = ranking.rows[0];
        assert!((first.normalized.unwrap() - 3.0 / 10.734).abs() < 1e-6);
        assert!(!ranking.rows[2].passed);
    }
}
