//! The table export (`watch --export FILE`): every row as JSON lines, the format of
//! `scan --format jsonl`, written on the `e` key and when the dashboard quits.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::app::App;

/// Returns the export path made absolute, with its folder in canonical form, so that
/// intake can compare it with the paths of file events and never read it.
pub fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("invalid export path {}", path.display()))?;
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        anyhow::bail!(
            "invalid export path {}: pass a file name such as table.jsonl",
            path.display()
        );
    };
    let parent = parent.canonicalize().with_context(|| {
        format!(
            "cannot open the folder of the export file {}: create it first",
            path.display()
        )
    })?;
    Ok(parent.join(name))
}

/// Writes the table to `path` through a temporary file in the same folder, renamed
/// over the target, so a reader sees the old export or the new one and never a part.
/// Returns the number of rows written.
pub fn write(app: &App, path: &Path) -> anyhow::Result<usize> {
    let rows = app.export_rows();
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".facewatch-export-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let mut writer = BufWriter::new(temp.as_file());
        for row in &rows {
            serde_json::to_writer(&mut writer, row)?;
            writer.write_all(b"\n")?;
        }
        writer.flush()?;
    }
    temp.as_file().sync_all()?;
    temp.persist(path)
        .map_err(|err| err.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(rows.len())
}
