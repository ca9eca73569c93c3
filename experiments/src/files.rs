//! Whole-file writes for the output folder: a batch's journal and outputs are
//! replaced, never left half-written, even when the batch is killed.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes one whole file or nothing: a temporary file `.NAME.tmpPID` beside it, then
/// a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path
        .file_name()
        .map_or_else(|| "output".to_string(), |n| n.to_string_lossy().to_string());
    dir.unwrap_or(Path::new("."))
        .join(format!(".{name}.tmp{}", std::process::id()))
}

/// Removes from `dir` the temporaries ([`write_atomically`]'s `.NAME.tmpPID`) of
/// writers that are gone: a process killed between writing and renaming leaves its
/// temporary behind, and a resume has another pid. A temporary of a process still
/// running (on Linux, where `/proc` tells) is left alone. Returns how many were
/// removed.
pub fn remove_stale_temporaries(dir: &Path) -> std::io::Result<usize> {
    let own = std::process::id();
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let pid = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".tmp"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if pid != own && !alive {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}
