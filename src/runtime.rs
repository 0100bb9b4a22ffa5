//! Finding and loading the ONNX Runtime shared library.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use ort::environment::Environment;

/// The ONNX Runtime version facewatch is tested with; `make ort` provisions it.
pub const TESTED_VERSION: &str = "1.32.0";

/// The oldest ONNX Runtime the `ort` bindings accept (API level 22).
pub const MIN_MINOR_VERSION: u32 = 22;

/// Origin of a library candidate, in search order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    /// `--ort-lib`, `ORT_DYLIB_PATH` or `ort_lib` in the config file.
    Explicit(&'static str),
    BesideExecutable,
    /// The copy `make ort` extracts into the checkout.
    Provisioned,
    /// The `onnxruntime` package of a Python interpreter.
    Python,
    /// The dynamic linker's search path.
    System,
}

impl std::fmt::Display for LibrarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LibrarySource::Explicit(what) => f.write_str(what),
            LibrarySource::BesideExecutable => f.write_str("beside the executable"),
            LibrarySource::Provisioned => f.write_str("provisioned by `make ort`"),
            LibrarySource::Python => f.write_str("Python's onnxruntime package"),
            LibrarySource::System => f.write_str("system library path"),
        }
    }
}

/// A loaded ONNX Runtime.
pub struct Runtime {
    environment: Environment,
    pub library: PathBuf,
    pub source: LibrarySource,
    pub version: String,
    /// Every candidate looked at before the one that loaded, with why it was skipped.
    pub skipped: Vec<(PathBuf, String)>,
}

impl Runtime {
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// A warning when the loaded version is not the tested one.
    pub fn version_warning(&self) -> Option<String> {
        (self.version != TESTED_VERSION).then(|| {
            format!(
                "ONNX Runtime {} loaded from {}; facewatch is tested with {TESTED_VERSION}, so \
                 distances may differ slightly. Run `make ort` for the tested version.",
                self.version,
                self.library.display()
            )
        })
    }
}

/// Error listing every library tried and the fix, when none loads.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(String);

/// The process-wide runtime: ONNX Runtime allows one environment per process, so the
/// first successful load is kept for the life of the program.
static RUNTIME: OnceLock<Result<Arc<Runtime>, RuntimeError>> = OnceLock::new();

/// Loads ONNX Runtime once. `explicit` is the library named on the command line, in
/// `ORT_DYLIB_PATH` or in the config file, with the name of where it came from.
pub fn load(explicit: Option<(PathBuf, &'static str)>) -> Result<Arc<Runtime>, RuntimeError> {
    RUNTIME.get_or_init(|| load_uncached(explicit)).clone()
}

fn load_uncached(explicit: Option<(PathBuf, &'static str)>) -> Result<Arc<Runtime>, RuntimeError> {
    if let Some((path, what)) = explicit {
        // An explicit choice is final: falling back silently would hide a typo.
        return try_load(&path, LibrarySource::Explicit(what))
            .map(Arc::new)
            .map_err(|reason| {
                RuntimeError(format!(
                    "cannot load ONNX Runtime from {} (set by {what}): {reason}\n{}",
                    path.display(),
                    fix_hint()
                ))
            });
    }
    let mut skipped = Vec::new();
    for (path, source) in candidates() {
        if !path.exists() && source != LibrarySource::System {
            skipped.push((path, "not found".to_string()));
            continue;
        }
        match try_load(&path, source) {
            Ok(mut runtime) => {
                runtime.skipped = skipped;
                return Ok(Arc::new(runtime));
            }
            Err(reason) => skipped.push((path, reason)),
        }
    }
    let mut message = String::from("ONNX Runtime (libonnxruntime) was not found. Places tried:\n");
    for (path, reason) in &skipped {
        let _ = writeln!(message, "  {}: {reason}", path.display());
    }
    message.push_str(&fix_hint());
    Err(RuntimeError(message))
}

fn fix_hint() -> String {
    format!(
        "Fix: run `make ort` in the facewatch checkout (it extracts libonnxruntime {TESTED_VERSION} from \
         PyPI's onnxruntime wheel), or `pip install onnxruntime=={TESTED_VERSION}`, or pass \
         --ort-lib /path/to/libonnxruntime.so"
    )
}

fn try_load(path: &Path, source: LibrarySource) -> Result<Runtime, String> {
    let version = library_version(path)?;
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|minor| minor.parse::<u32>().ok())
        .unwrap_or(0);
    if minor < MIN_MINOR_VERSION {
        return Err(format!(
            "version {version} is too old: facewatch needs ONNX Runtime 1.{MIN_MINOR_VERSION} or newer \
             and is tested with {TESTED_VERSION}"
        ));
    }
    let builder = ort::init_from(path).map_err(|err| match err {
        ort::LoadDynamicError::BadVersion { version_str, .. } => format!(
            "version {version_str} is too old: facewatch needs ONNX Runtime 1.{MIN_MINOR_VERSION} or newer \
             and is tested with {TESTED_VERSION}"
        ),
        other => other.to_string(),
    })?;
    let environment = builder
        .with_name("facewatch")
        .with_telemetry(false)
        .with_logger(Arc::new(forward_ort_log))
        .build()
        .map_err(|err| format!("cannot create the ONNX Runtime environment: {err}"))?;
    Ok(Runtime {
        environment,
        library: path.to_path_buf(),
        source,
        version,
        skipped: Vec::new(),
    })
}

/// Sends ONNX Runtime's own messages to the log file instead of stderr, where they would
/// draw over the dashboard.
fn forward_ort_log(
    level: ort::logging::LogLevel,
    category: &str,
    id: &str,
    location: &str,
    message: &str,
) {
    use ort::logging::LogLevel;
    match level {
        LogLevel::Verbose | LogLevel::Info => {
            tracing::debug!(target: "onnxruntime", category, id, location, "{message}")
        }
        LogLevel::Warning => {
            tracing::warn!(target: "onnxruntime", category, id, location, "{message}")
        }
        LogLevel::Error | LogLevel::Fatal => {
            tracing::error!(target: "onnxruntime", category, id, location, "{message}")
        }
    }
}

/// Reads the library's own version string (`OrtGetApiBase()->GetVersionString()`),
/// before `ort` initialises it, so an old library is explained instead of rejected
/// with a bare error.
#[allow(unsafe_code)]
fn library_version(path: &Path) -> Result<String, String> {
    // SAFETY: opening a shared library runs its initialisers; libonnxruntime's only set
    // up static state. `OrtGetApiBase` takes no arguments and returns a pointer to a
    // static table whose `GetVersionString` returns a static NUL-terminated string, as
    // the ONNX Runtime C API documents. Nothing outlives `library`.
    unsafe {
        let library =
            libloading::Library::new(path).map_err(|err| format!("cannot load: {err}"))?;
        let get_api_base: libloading::Symbol<
            unsafe extern "system" fn() -> *const ort::sys::OrtApiBase,
        > = library
            .get(b"OrtGetApiBase")
            .map_err(|_| "not an ONNX Runtime library (no OrtGetApiBase symbol)".to_string())?;
        let base = get_api_base();
        if base.is_null() {
            return Err("OrtGetApiBase returned null".to_string());
        }
        let version = ((*base).GetVersionString)();
        if version.is_null() {
            return Err("GetVersionString returned null".to_string());
        }
        Ok(std::ffi::CStr::from_ptr(version)
            .to_string_lossy()
            .into_owned())
    }
}

/// Library file names to look for in a folder, newest naming first.
fn library_names_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("libonnxruntime.so") || name == "libonnxruntime.dylib" {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found.reverse();
    found
}

/// Returns the folder `make ort` extracts the library into.
pub fn provisioned_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ort")
}

/// Lists every candidate, in search order. Folders that hold no library still appear once, so
/// the error lists them.
fn candidates() -> Vec<(PathBuf, LibrarySource)> {
    let mut list = Vec::new();
    let push_dir =
        |dir: PathBuf, source: LibrarySource, list: &mut Vec<(PathBuf, LibrarySource)>| {
            let names = library_names_in(&dir);
            if names.is_empty() {
                list.push((dir.join("libonnxruntime.so"), source));
            } else {
                list.extend(names.into_iter().map(|path| (path, source)));
            }
        };
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        push_dir(dir, LibrarySource::BesideExecutable, &mut list);
    }
    push_dir(provisioned_dir(), LibrarySource::Provisioned, &mut list);
    for dir in python_package_dirs() {
        push_dir(dir.join("capi"), LibrarySource::Python, &mut list);
    }
    list.push((PathBuf::from("libonnxruntime.so"), LibrarySource::System));
    list
}

/// Finds the `onnxruntime` package folders of the Python interpreters on the PATH. The package
/// is located without being imported, which keeps this fast.
fn python_package_dirs() -> Vec<PathBuf> {
    const FIND: &str = "import importlib.util as u, os; s = u.find_spec('onnxruntime'); \
                        print(os.path.dirname(s.origin) if s and s.origin else '')";
    let mut dirs = Vec::new();
    for python in ["python3", "python"] {
        let Ok(output) = Command::new(python).args(["-c", FIND]).output() else {
            continue;
        };
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if output.status.success() && !text.is_empty() && !dirs.contains(&PathBuf::from(&text)) {
            dirs.push(PathBuf::from(text));
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_library_is_explained() {
        let err = library_version(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
        assert!(err.contains("cannot load"), "{err}");
    }
}
