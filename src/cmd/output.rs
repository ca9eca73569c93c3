//! The files a command writes. They are checked before any work starts (never onto
//! one of the command's inputs, never two onto one path) and written together or not
//! at all: each goes to a temporary file beside its target first, and only when every
//! one is complete are they renamed into place. A failed run leaves no output behind
//! that looks complete.
//!
//! An output path that is a symbolic link is replaced by the new file (the rename
//! replaces the link, not its target); a read-only file at an output path is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The planned outputs of one command, and the bytes staged for them so far.
#[derive(Debug, Default)]
pub struct Outputs {
    planned: Vec<(String, PathBuf)>,
    staged: Vec<(PathBuf, Vec<u8>)>,
}

impl Outputs {
    /// Plans the outputs `(flag, path)` of a command that reads `inputs` (flags whose
    /// path is `None` are not written). Refuses, naming the flags, an output onto an
    /// input, two outputs onto one path, an output in a folder that does not exist,
    /// and a read-only file or a directory at an output path.
    pub fn plan(inputs: &[&Path], outputs: &[(&str, Option<&PathBuf>)]) -> anyhow::Result<Self> {
        let mut planned: Vec<(String, PathBuf)> = Vec::new();
        for (flag, path) in outputs {
            let Some(path) = path else { continue };
            if let Some(input) = inputs.iter().find(|i| same_file(i, path)) {
                anyhow::bail!(
                    "{flag} {}: that is an input of this command ({}); write the output elsewhere",
                    path.display(),
                    input.display()
                );
            }
            if let Some((other, _)) = planned.iter().find(|(_, p)| same_file(p, path)) {
                anyhow::bail!(
                    "{flag} and {other} both name {}: give each output its own file",
                    path.display()
                );
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    anyhow::bail!(
                        "{flag} {}: the folder {} does not exist",
                        path.display(),
                        dir.display()
                    );
                }
            }
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.is_dir() {
                    anyhow::bail!("{flag} {}: is a directory, not a file", path.display());
                }
                if meta.permissions().readonly() {
                    anyhow::bail!("{flag} {}: the file is read-only", path.display());
                }
            }
            planned.push((flag.to_string(), path.to_path_buf()));
        }
        Ok(Outputs {
            planned,
            staged: Vec::new(),
        })
    }

    /// Stages the complete contents of the planned output `path`.
    ///
    /// # Panics
    /// If `path` was not planned: that is a programming error of the command.
    pub fn stage(&mut self, path: &Path, bytes: impl Into<Vec<u8>>) {
        assert!(
            self.planned.iter().any(|(_, p)| p == path),
            "output {} was not planned",
            path.display()
        );
        self.staged.push((path.to_path_buf(), bytes.into()));
    }

    /// Writes every staged output: all into temporary files first, then renamed into
    /// place. If any temporary file cannot be written, none of the outputs is touched.
    pub fn commit(self) -> anyhow::Result<()> {
        let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
        let mut failure = None;
        for (path, bytes) in &self.staged {
            let tmp = temp_path(path);
            match write_synced(&tmp, bytes) {
                Ok(()) => temps.push((tmp, path)),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    failure =
                        Some(anyhow::anyhow!(e).context(format!("writing {}", path.display())));
                    break;
                }
            }
        }
        if let Some(e) = failure {
            for (tmp, _) in &temps {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e.context("no output was written"));
        }
        for (i, (tmp, path)) in temps.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, path) {
                for (t, _) in &temps[i..] {
                    let _ = std::fs::remove_file(t);
                }
                let written: Vec<String> = temps[..i]
                    .iter()
                    .map(|(_, p)| p.display().to_string())
                    .collect();
                return Err(anyhow::anyhow!(e).context(format!(
                    "writing {} (already written: {})",
                    path.display(),
                    if written.is_empty() {
                        "none".to_string()
                    } else {
                        written.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

/// Writes one whole file or nothing: a temporary file beside it, then a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path
        .file_name()
        .map_or_else(|| "output".to_string(), |n| n.to_string_lossy().to_string());
    dir.unwrap_or(Path::new("."))
        .join(format!(".{name}.tmp{}", std::process::id()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Whether two paths name the same file: the same inode when both exist, otherwise
/// the same absolute path after resolving the folder.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    resolved(a) == resolved(b)
}

fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(dir.canonicalize().ok()?.join(name))
}
