//! Whole-file writes: a batch's journal and outputs, and a command's output files,
//! are replaced, never left half-written, even when the run is killed.
//!
//! [`Outputs`]: the files a command writes. They are checked before any work starts (never onto
//! one of the command's inputs, never two onto one path) and written together or not
//! at all: each goes to a temporary file beside its target first, and only when every
//! one is complete are they renamed into place. A failed run leaves no output behind
//! that looks complete.
//!
//! An output path that is a symbolic link is replaced by the new file (the rename
//! replaces the link, not its target); a read-only file at an output path is refused.

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

/// Why a command's outputs cannot be planned or written. Each names the flag and the
/// path; the write failures carry the system's error as their source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// An output path is one of the command's inputs.
    #[error("{flag} {}: that is an input of this command ({}); write the output elsewhere", .path.display(), .input.display())]
    OntoInput {
        /// The output's flag.
        flag: String,
        /// The output path.
        path: PathBuf,
        /// The input it names.
        input: PathBuf,
    },
    /// Two outputs name one file.
    #[error("{flag} and {other} both name {}: give each output its own file", .path.display())]
    SamePath {
        /// The later flag.
        flag: String,
        /// The earlier flag.
        other: String,
        /// The file both name.
        path: PathBuf,
    },
    /// The output's folder does not exist.
    #[error("{flag} {}: the folder {} does not exist", .path.display(), .folder.display())]
    NoFolder {
        /// The output's flag.
        flag: String,
        /// The output path.
        path: PathBuf,
        /// Its missing folder.
        folder: PathBuf,
    },
    /// A directory stands at the output path.
    #[error("{flag} {}: is a directory, not a file", .path.display())]
    Directory {
        /// The output's flag.
        flag: String,
        /// The output path.
        path: PathBuf,
    },
    /// A read-only file stands at the output path.
    #[error("{flag} {}: the file is read-only", .path.display())]
    ReadOnly {
        /// The output's flag.
        flag: String,
        /// The output path.
        path: PathBuf,
    },
    /// A temporary file could not be written: no output was touched.
    #[error("no output was written: writing {}", .path.display())]
    NoneWritten {
        /// The output whose temporary failed.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A rename failed after others succeeded.
    #[error("writing {} (already written: {written})", .path.display())]
    PartlyWritten {
        /// The output whose rename failed.
        path: PathBuf,
        /// The outputs already in place, or "none".
        written: String,
        /// The system's error.
        source: std::io::Error,
    },
}

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
    pub fn plan(
        inputs: &[&Path],
        outputs: &[(&str, Option<&PathBuf>)],
    ) -> Result<Self, OutputError> {
        let mut planned: Vec<(String, PathBuf)> = Vec::new();
        for (flag, path) in outputs {
            let Some(path) = path else { continue };
            if let Some(input) = inputs.iter().find(|i| same_file(i, path)) {
                return Err(OutputError::OntoInput {
                    flag: flag.to_string(),
                    path: path.to_path_buf(),
                    input: input.to_path_buf(),
                });
            }
            if let Some((other, _)) = planned.iter().find(|(_, p)| same_file(p, path)) {
                return Err(OutputError::SamePath {
                    flag: flag.to_string(),
                    other: other.clone(),
                    path: path.to_path_buf(),
                });
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(OutputError::NoFolder {
                        flag: flag.to_string(),
                        path: path.to_path_buf(),
                        folder: dir.to_path_buf(),
                    });
                }
            }
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.is_dir() {
                    return Err(OutputError::Directory {
                        flag: flag.to_string(),
                        path: path.to_path_buf(),
                    });
                }
                if meta.permissions().readonly() {
                    return Err(OutputError::ReadOnly {
                        flag: flag.to_string(),
                        path: path.to_path_buf(),
                    });
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
    pub fn commit(self) -> Result<(), OutputError> {
        let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
        let mut failure = None;
        for (path, bytes) in &self.staged {
            let tmp = temp_path(path);
            match write_synced(&tmp, bytes) {
                Ok(()) => temps.push((tmp, path)),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    failure = Some(OutputError::NoneWritten {
                        path: path.clone(),
                        source: e,
                    });
                    break;
                }
            }
        }
        if let Some(e) = failure {
            for (tmp, _) in &temps {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e);
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
                return Err(OutputError::PartlyWritten {
                    path: path.to_path_buf(),
                    written: if written.is_empty() {
                        "none".to_string()
                    } else {
                        written.join(", ")
                    },
                    source: e,
                });
            }
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bf-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn two_outputs_onto_one_file_are_refused_naming_both_flags() {
        let dir = scratch("same");
        let p = dir.join("a.csv");
        let e = Outputs::plan(&[], &[("--flows", Some(&p)), ("--prices", Some(&p))]).unwrap_err();
        assert!(matches!(e, OutputError::SamePath { .. }));
        assert!(
            e.to_string().starts_with("--prices and --flows both name"),
            "{e}"
        );
    }

    #[test]
    fn an_output_onto_an_input_is_refused() {
        let dir = scratch("input");
        let input = dir.join("m.json");
        std::fs::write(&input, "{}").unwrap();
        let e = Outputs::plan(&[&input], &[("--out", Some(&input))]).unwrap_err();
        assert!(matches!(e, OutputError::OntoInput { .. }), "{e}");
    }

    #[test]
    fn commit_writes_every_staged_file_and_leaves_no_temporary() {
        let dir = scratch("commit");
        let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
        let mut o =
            Outputs::plan(&[], &[("-a", Some(&a)), ("-b", Some(&b)), ("-c", None)]).unwrap();
        o.stage(&a, "one");
        o.stage(&b, b"two".to_vec());
        o.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn a_missing_folder_is_refused_before_anything_is_written() {
        let dir = scratch("nofolder");
        let p = dir.join("absent").join("x.csv");
        let e = Outputs::plan(&[], &[("--out", Some(&p))]).unwrap_err();
        assert!(matches!(e, OutputError::NoFolder { .. }), "{e}");
    }
}
