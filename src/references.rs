//! The reference photos: finding them, embedding their largest face, and the mean.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::pipeline::Pipeline;
use crate::score::mean_embedding;

/// File extensions taken as images when a folder is listed. Files named explicitly are
/// read whatever their extension.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "jfif",
];

/// True for a file name facewatch treats as an image when listing a folder: a known
/// extension, not hidden, and not a temporary or partial download.
pub fn is_image_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        // A name that is not valid UTF-8 is still an image when its extension is one.
        return path
            .extension()
            .map(|ext| ext.to_string_lossy().to_lowercase())
            .is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.as_str()));
    };
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .map(str::to_lowercase);
    extension.is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.as_str()))
}

/// Expands files and folders into a sorted list of image files. A folder contributes the
/// images directly inside it (and below it when `recursive`). Problems with the
/// arguments themselves come back as `(path, message)` pairs.
pub fn expand_inputs(
    inputs: &[PathBuf],
    recursive: bool,
) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for input in inputs {
        match std::fs::metadata(input) {
            Err(err) => problems.push((input.clone(), format!("cannot open: {err}"))),
            Ok(meta) if meta.is_dir() => {
                let before = files.len();
                let mut visited = HashSet::new();
                collect_dir(input, recursive, &mut files, &mut problems, &mut visited);
                if files.len() == before {
                    problems.push((input.clone(), "folder contains no images".to_string()));
                }
            }
            Ok(_) => files.push(input.clone()),
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

/// Lists one folder, and its subfolders when `recursive`. Symlinked folders are
/// followed once: `visited` contains the canonical paths already listed, which stops
/// symlink loops.
fn collect_dir(
    dir: &Path,
    recursive: bool,
    files: &mut Vec<PathBuf>,
    problems: &mut Vec<(PathBuf, String)>,
    visited: &mut HashSet<PathBuf>,
) {
    if let Ok(canonical) = dir.canonicalize()
        && !visited.insert(canonical)
    {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            problems.push((dir.to_path_buf(), format!("cannot list folder: {err}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if recursive && !is_hidden {
                    collect_dir(&path, recursive, files, problems, visited);
                }
            }
            Ok(_) if is_image_name(&path) => files.push(path),
            Ok(_) => {}
            // A dangling symlink or a file removed while listing.
            Err(_) if is_image_name(&path) => files.push(path),
            Err(_) => {}
        }
    }
}

/// Outcome of one reference photo: used in the mean or left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceStatus {
    /// Its only face is in the mean.
    Used,
    /// It has several faces; the largest is in the mean.
    UsedLargestOf(usize),
    /// It decoded but has no face: left out of the mean.
    NoFace(String),
    /// It could not be read or decoded: left out of the mean.
    Unreadable(String),
}

impl ReferenceStatus {
    pub fn is_used(&self) -> bool {
        matches!(
            self,
            ReferenceStatus::Used | ReferenceStatus::UsedLargestOf(_)
        )
    }

    /// Describes the outcome in one line, for diagnostics.
    pub fn describe(&self) -> String {
        match self {
            ReferenceStatus::Used => "face found, used".to_string(),
            ReferenceStatus::UsedLargestOf(count) => {
                format!("{count} faces found, used the largest")
            }
            ReferenceStatus::NoFace(reason) => format!("NOT USED: {reason}"),
            ReferenceStatus::Unreadable(reason) => format!("NOT USED: {reason}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReferencePhoto {
    pub path: PathBuf,
    pub status: ReferenceStatus,
}

/// The pinned reference photos and the mean of their largest-face embeddings.
#[derive(Debug, Clone)]
pub struct ReferenceSet {
    pub photos: Vec<ReferencePhoto>,
    pub mean: Vec<f32>,
}

impl ReferenceSet {
    pub fn used_count(&self) -> usize {
        self.photos
            .iter()
            .filter(|photo| photo.status.is_used())
            .count()
    }

    pub fn unused(&self) -> impl Iterator<Item = &ReferencePhoto> {
        self.photos.iter().filter(|photo| !photo.status.is_used())
    }

    /// Diagnostic lines, one per photo and one per problem with the arguments.
    pub fn report_lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "references: {} of {} photos used",
            self.used_count(),
            self.photos.len()
        )];
        for photo in &self.photos {
            lines.push(format!(
                "  {}: {}",
                photo.path.display(),
                photo.status.describe()
            ));
        }
        lines
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("no reference photos given: pass --reference FILE or FOLDER")]
    NoneGiven,
    #[error(
        "no usable reference photo: each one is missing, unreadable or shows no detectable face\n{}\n\
         Pass --reference with photos or folders of photos that show the person's face",
        .0.join("\n")
    )]
    NoneUsable(Vec<String>),
}

/// Embeds the largest face of every reference photo and averages them. Photos without
/// a face are kept in the report; only when none has a face is it an error.
pub fn build(pipeline: &mut Pipeline, inputs: &[PathBuf]) -> Result<ReferenceSet, ReferenceError> {
    if inputs.is_empty() {
        return Err(ReferenceError::NoneGiven);
    }
    let (files, problems) = expand_inputs(inputs, false);
    let mut photos: Vec<ReferencePhoto> = problems
        .into_iter()
        .map(|(path, message)| ReferencePhoto {
            path,
            status: ReferenceStatus::Unreadable(message),
        })
        .collect();
    let mut embeddings = Vec::new();
    for path in files {
        let status = match pipeline.analyze_path(&path) {
            Err(err) => ReferenceStatus::Unreadable(err.to_string()),
            Ok((_, analysis)) => match analysis.faces.len() {
                0 => ReferenceStatus::NoFace("no face found".to_string()),
                count => {
                    embeddings.push(analysis.faces[0].embedding.clone());
                    if count == 1 {
                        ReferenceStatus::Used
                    } else {
                        ReferenceStatus::UsedLargestOf(count)
                    }
                }
            },
        };
        tracing::info!(path = %path.display(), status = %status.describe(), "reference photo");
        photos.push(ReferencePhoto { path, status });
    }
    let views: Vec<&[f32]> = embeddings.iter().map(Vec::as_slice).collect();
    match mean_embedding(&views) {
        Some(mean) => Ok(ReferenceSet { photos, mean }),
        None => {
            let set = ReferenceSet {
                photos,
                mean: Vec::new(),
            };
            Err(ReferenceError::NoneUsable(set.report_lines()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_by_extension() {
        assert!(is_image_name(Path::new("a/b/out_0001.PNG")));
        assert!(is_image_name(Path::new("x.jpeg")));
        assert!(!is_image_name(Path::new(".hidden.png")));
        assert!(!is_image_name(Path::new("notes.txt")));
        assert!(!is_image_name(Path::new("x.png~")));
    }

    #[test]
    fn expand_lists_folder_images_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.png", "a.jpg", "c.txt", ".d.png"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let (files, problems) = expand_inputs(&[dir.path().to_path_buf()], false);
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.jpg", "b.png"]);
        assert!(problems.is_empty());
    }

    #[test]
    fn symlink_loop_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("a.png"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path(), sub.join("loop")).unwrap();
        let (files, problems) = expand_inputs(&[dir.path().to_path_buf()], true);
        assert_eq!(files, vec![sub.join("a.png")]);
        assert!(problems.is_empty());
    }

    #[test]
    fn non_utf8_name_is_an_image() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
        assert!(is_image_name(Path::new(name)));
    }

    #[test]
    fn expand_reports_missing_and_empty() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        let (files, problems) = expand_inputs(&[missing.clone(), dir.path().to_path_buf()], false);
        assert!(files.is_empty());
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].0, missing);
        assert!(problems[1].1.contains("no images"));
    }
}
