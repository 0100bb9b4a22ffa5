//! One row's worth of facts about an image: its status and its faces.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pipeline::decode::Decoded;
use crate::pipeline::{Analysis, AnalyzeError, Face};

/// Whether an image could be scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At least one face was found and embedded.
    Ok,
    /// The image decoded but the detector found no face.
    NoFace,
    /// The file could not be read, decoded or analysed.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NoFace => "no_face",
            Status::Error => "error",
        }
    }
}

/// Facts about one image file: its status, size and faces.
#[derive(Debug, Clone)]
pub struct ImageRecord {
    pub path: PathBuf,
    pub status: Status,
    /// Why the image has no score; `None` for [`Status::Ok`].
    pub reason: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Faces, largest first. Empty unless the status is [`Status::Ok`].
    pub faces: Vec<Face>,
}

impl ImageRecord {
    /// Builds the record from the outcome of [`crate::pipeline::Pipeline::analyze_path`].
    pub fn from_outcome(
        path: &Path,
        outcome: &Result<(Decoded, Analysis), AnalyzeError>,
    ) -> ImageRecord {
        match outcome {
            Ok((_, analysis)) => ImageRecord::from_analysis(path, analysis),
            Err(err) => ImageRecord::failed(path, err.to_string()),
        }
    }

    pub fn from_analysis(path: &Path, analysis: &Analysis) -> ImageRecord {
        let (status, reason) = if analysis.faces.is_empty() {
            let sizes: Vec<String> = analysis
                .sizes_tried
                .iter()
                .map(|[width, height]| format!("{width}×{height}"))
                .collect();
            (
                Status::NoFace,
                Some(format!(
                    "no face found at detection sizes {}",
                    sizes.join(", ")
                )),
            )
        } else {
            (Status::Ok, None)
        };
        ImageRecord {
            path: path.to_path_buf(),
            status,
            reason,
            width: analysis.width,
            height: analysis.height,
            faces: analysis.faces.clone(),
        }
    }

    pub fn failed(path: &Path, reason: String) -> ImageRecord {
        ImageRecord {
            path: path.to_path_buf(),
            status: Status::Error,
            reason: Some(reason),
            width: 0,
            height: 0,
            faces: Vec::new(),
        }
    }
}

/// Returns `text` with control characters (escape sequences, newlines, tabs) replaced by
/// `�`, so a file name cannot recolour or retitle the terminal or split a table row.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_control_characters() {
        assert_eq!(printable("a\u{1b}[31mb\nc"), "a\u{FFFD}[31mb\u{FFFD}c");
        assert_eq!(printable("plain é.png"), "plain é.png");
    }
}
