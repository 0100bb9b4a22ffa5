//! The bundled face models: where they are and whether they are intact.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One bundled model file and the SHA-256 of the copy committed under `models/`.
#[derive(Debug, Clone, Copy)]
pub struct BundledModel {
    pub file_name: &'static str,
    pub sha256: &'static str,
    pub description: &'static str,
}

/// YuNet 2023mar, block-quantised weights folded to float32, dynamic height and width.
pub const DETECTOR: BundledModel = BundledModel {
    file_name: "yunet_2023mar_fold_dyn.onnx",
    sha256: "04ad5fd7ea534d8419e7e8e410955967ea7d822323dd242a75bf1d3e0cf33939",
    description: "YuNet face detector (OpenCV Zoo 2023mar)",
};

/// SFace 2021dec, weights folded to float32, PRelu rewritten, dynamic batch.
pub const RECOGNIZER: BundledModel = BundledModel {
    file_name: "sface_2021dec_fold_fastprelu_dyn.onnx",
    sha256: "c35f64d9d8779f2151f60f3cb973c639b79c71d4eb87893392a7073018253c28",
    description: "SFace face recogniser (OpenCV Zoo 2021dec)",
};

/// The threshold table's name for the recogniser.
pub const RECOGNIZER_NAME: &str = "SFace";

/// Both model files, read and verified.
pub struct ModelFiles {
    pub dir: PathBuf,
    pub detector_bytes: Vec<u8>,
    pub recognizer_bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error(
        "model folder not found; looked in: {0}. Pass --models DIR or set `models_dir` in the config"
    )]
    NoFolder(String),
    #[error("cannot read model {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "model {path} is corrupted or not the bundled version: SHA-256 is {actual}, expected {expected}. \
         Restore it with `git checkout -- models/` (or reinstall facewatch)"
    )]
    Digest {
        path: PathBuf,
        actual: String,
        expected: String,
    },
}

/// Folders searched for the models, in order: `explicit` (flag or config), `models/`
/// beside the executable, `../share/facewatch/models` beside it, and the source checkout
/// this binary was built from.
pub fn search_dirs(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("models"));
        dirs.push(exe_dir.join("../share/facewatch/models"));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    dirs
}

/// Finds the first folder holding both models.
pub fn find_dir(explicit: Option<&Path>) -> Result<PathBuf, ModelFileError> {
    let dirs = search_dirs(explicit);
    dirs.iter()
        .find(|dir| {
            dir.join(DETECTOR.file_name).is_file() && dir.join(RECOGNIZER.file_name).is_file()
        })
        .cloned()
        .ok_or_else(|| {
            let listed: Vec<String> = dirs.iter().map(|dir| dir.display().to_string()).collect();
            ModelFileError::NoFolder(listed.join(", "))
        })
}

/// Reads both models and checks their digests.
pub fn load(explicit: Option<&Path>) -> Result<ModelFiles, ModelFileError> {
    let dir = find_dir(explicit)?;
    let detector_bytes = read_verified(&dir, &DETECTOR)?;
    let recognizer_bytes = read_verified(&dir, &RECOGNIZER)?;
    Ok(ModelFiles {
        dir,
        detector_bytes,
        recognizer_bytes,
    })
}

fn read_verified(dir: &Path, model: &BundledModel) -> Result<Vec<u8>, ModelFileError> {
    let path = dir.join(model.file_name);
    let bytes = std::fs::read(&path).map_err(|error| ModelFileError::Read {
        path: path.clone(),
        error,
    })?;
    let actual = sha256_hex(&bytes);
    if actual != model.sha256 {
        return Err(ModelFileError::Digest {
            path,
            actual,
            expected: model.sha256.to_string(),
        });
    }
    Ok(bytes)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn corrupted_model_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DETECTOR.file_name), b"not a model").unwrap();
        std::fs::write(dir.path().join(RECOGNIZER.file_name), b"not a model").unwrap();
        let err = load(Some(dir.path())).err().unwrap();
        let message = err.to_string();
        assert!(message.contains(DETECTOR.file_name), "{message}");
        assert!(message.contains("SHA-256"), "{message}");
    }
}
