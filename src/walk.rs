//! Listing the files of a model directory (spec/manifest.md, "Directory walk").
//!
//! Every regular file under the root, recursively, sorted by the UTF-8 bytes of its path.
//! Left out: `.git` (exactly) at the root, `weightseal.manifest`, `weightseal.intoto.jsonl`,
//! `weightseal.tlog-proof` and `model.sig` at the root, `.weightseal-partial/` while a download is using it ([`Scratch::LeaveOut`]),
//! plus any file the caller excludes (a manifest written under another name inside the
//! directory). Any other `.git` (at depth, or `.GIT`) and a leftover `.weightseal-partial/` are
//! refused, so that they are reported, never passed over. Symlinks are refused unless the caller
//! follows them (then a link to a file is hashed as that file's bytes under the link's path);
//! special files and names that are not valid model paths are refused. Refusals are entries,
//! not errors, so `verify` can report them beside everything else and `hash` can name them.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::path::{
    ModelPath, ATTESTATION_FILE, LOG_PROOF_FILE, MANIFEST_FILE, OMS_SIGNATURE_FILE, PARTIAL_DIR,
};

/// What to do with symbolic links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Symlinks {
    /// A symlink is refused (the default: nothing outside the directory is read).
    #[default]
    Refuse,
    /// A symlink to a regular file is read as that file (Hugging Face cache snapshots).
    Follow,
}

/// Why an entry cannot be part of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("is a symbolic link (use --follow-symlinks to hash its target)")]
    Symlink,
    #[error("is a symbolic link to a directory, which is not followed")]
    SymlinkToDirectory,
    #[error("is a {0}, not a regular file")]
    Special(&'static str),
    #[error("name is not a valid model path: {0}")]
    BadName(crate::path::PathError),
    #[error("cannot be read: {0}")]
    Unreadable(String),
}

impl Refusal {
    /// A name reserved by the path rule (a nested `.git`, a leftover `.weightseal-partial`):
    /// never part of a model, and never an extra file that may be allowed.
    pub fn is_reserved(&self) -> bool {
        matches!(self, Refusal::BadName(crate::path::PathError::Reserved(_)))
    }
}

/// One thing found under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file (or, when following, a symlink to one).
    File {
        path: ModelPath,
        fs_path: PathBuf,
        size: u64,
    },
    /// Something that cannot be hashed; `name` is the path shown to the user.
    Refused {
        name: String,
        fs_path: PathBuf,
        reason: Refusal,
    },
}

impl Entry {
    /// The path as shown to the user (and the sort key).
    pub fn name(&self) -> &str {
        match self {
            Entry::File { path, .. } => path.as_str(),
            Entry::Refused { name, .. } => name,
        }
    }
}

/// The directory itself could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read model directory {}: {source}", path.display())]
pub struct WalkError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// What to do with the root's `.weightseal-partial/` (a download's scratch space).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scratch {
    /// Refuse it: outside a download it is an interrupted download's leftovers, not the model.
    #[default]
    Refuse,
    /// Leave it out: the download in progress owns it.
    LeaveOut,
}

/// Lists a download's destination `root` (its scratch space left out). `exclude` names files
/// (by identity, wherever they are) to leave out.
pub fn walk(root: &Path, symlinks: Symlinks, exclude: &[PathBuf]) -> Result<Vec<Entry>, WalkError> {
    walk_with(root, symlinks, exclude, None, Scratch::LeaveOut)
}

/// [`walk`], or with `only` the one file of that name directly in `root` (a single-file model:
/// nothing else in the directory is listed, read or judged).
pub fn walk_only(
    root: &Path,
    symlinks: Symlinks,
    exclude: &[PathBuf],
    only: Option<&str>,
) -> Result<Vec<Entry>, WalkError> {
    walk_with(root, symlinks, exclude, only, Scratch::Refuse)
}

fn walk_with(
    root: &Path,
    symlinks: Symlinks,
    exclude: &[PathBuf],
    only: Option<&str>,
    scratch: Scratch,
) -> Result<Vec<Entry>, WalkError> {
    let meta = fs::metadata(root).map_err(|source| WalkError {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(WalkError {
            path: root.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let excluded: Vec<(u64, u64)> = exclude
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    let mut out = Vec::new();
    // (directory on disk, its model-relative prefix with trailing '/', or "" at the root)
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if prefix.is_empty() => {
                return Err(WalkError {
                    path: dir,
                    source: e,
                });
            }
            Err(e) => {
                out.push(Entry::Refused {
                    name: prefix.trim_end_matches('/').to_string(),
                    fs_path: dir,
                    reason: Refusal::Unreadable(e.to_string()),
                });
                continue;
            }
        };
        for item in rd {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    out.push(Entry::Refused {
                        name: prefix.trim_end_matches('/').to_string(),
                        fs_path: dir.clone(),
                        reason: Refusal::Unreadable(e.to_string()),
                    });
                    continue;
                }
            };
            let fs_path = item.path();
            let raw = item.file_name();
            let raw = raw.as_encoded_bytes();
            let name = format!("{prefix}{}", String::from_utf8_lossy(raw));
            if only.is_some_and(|o| o.as_bytes() != raw) {
                continue;
            }
            // The repository the model was cloned with: `.git` exactly, at the root.
            if prefix.is_empty() && raw == b".git" {
                continue;
            }
            // Any other `.git` (nested, or `.GIT`, the same directory on case-insensitive file
            // systems) is refused, not passed over: git run there reads its config, whose
            // `core.fsmonitor` runs commands.
            if raw.eq_ignore_ascii_case(b".git") {
                out.push(Entry::Refused {
                    name: name.clone(),
                    fs_path: fs_path.clone(),
                    reason: Refusal::BadName(crate::path::PathError::Reserved(
                        String::from_utf8_lossy(raw).into_owned(),
                    )),
                });
                continue;
            }
            if prefix.is_empty() {
                let n: &[u8] = raw;
                if n == MANIFEST_FILE.as_bytes()
                    || n == ATTESTATION_FILE.as_bytes()
                    || n == LOG_PROOF_FILE.as_bytes()
                    || n == OMS_SIGNATURE_FILE.as_bytes()
                {
                    continue;
                }
                if n.eq_ignore_ascii_case(PARTIAL_DIR.as_bytes()) {
                    if scratch == Scratch::Refuse || n != PARTIAL_DIR.as_bytes() {
                        out.push(Entry::Refused {
                            name: name.clone(),
                            fs_path: fs_path.clone(),
                            reason: Refusal::BadName(crate::path::PathError::Reserved(
                                String::from_utf8_lossy(raw).into_owned(),
                            )),
                        });
                    }
                    continue;
                }
            }
            let refuse = |reason| Entry::Refused {
                name: name.clone(),
                fs_path: fs_path.clone(),
                reason,
            };
            let lmeta = match fs::symlink_metadata(&fs_path) {
                Ok(m) => m,
                Err(e) => {
                    out.push(refuse(Refusal::Unreadable(e.to_string())));
                    continue;
                }
            };
            let ft = lmeta.file_type();
            let meta = if ft.is_symlink() {
                if symlinks == Symlinks::Refuse {
                    out.push(refuse(Refusal::Symlink));
                    continue;
                }
                match fs::metadata(&fs_path) {
                    Ok(m) if m.is_dir() => {
                        out.push(refuse(Refusal::SymlinkToDirectory));
                        continue;
                    }
                    Ok(m) => m,
                    Err(e) => {
                        out.push(refuse(Refusal::Unreadable(format!(
                            "broken symbolic link: {e}"
                        ))));
                        continue;
                    }
                }
            } else {
                lmeta
            };
            if excluded.contains(&(meta.dev(), meta.ino())) {
                continue;
            }
            let ft = meta.file_type();
            if ft.is_dir() && only.is_some() {
                out.push(refuse(Refusal::Unreadable(
                    "a directory, not a file".into(),
                )));
                continue;
            }
            if ft.is_dir() {
                let mut raw_prefix = prefix.clone();
                match std::str::from_utf8(raw) {
                    Ok(s) => raw_prefix.push_str(s),
                    Err(_) => {
                        out.push(refuse(Refusal::BadName(crate::path::PathError::NotUtf8)));
                        continue;
                    }
                }
                raw_prefix.push('/');
                stack.push((fs_path, raw_prefix));
                continue;
            }
            if !ft.is_file() {
                let kind = if ft.is_fifo() {
                    "named pipe"
                } else if ft.is_socket() {
                    "socket"
                } else if ft.is_block_device() {
                    "block device"
                } else if ft.is_char_device() {
                    "character device"
                } else {
                    "special file"
                };
                out.push(refuse(Refusal::Special(kind)));
                continue;
            }
            let mut full = prefix.as_bytes().to_vec();
            full.extend_from_slice(raw);
            match ModelPath::from_bytes(&full) {
                Ok(path) => out.push(Entry::File {
                    path,
                    fs_path,
                    size: meta.len(),
                }),
                Err(e) => out.push(refuse(Refusal::BadName(e))),
            }
        }
    }
    out.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_sorted_and_skips_reserved() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("b/c")).unwrap();
        fs::create_dir_all(r.join(".git/objects")).unwrap();
        fs::create_dir_all(r.join(PARTIAL_DIR)).unwrap();
        for f in [
            "z",
            "b/c/d",
            "b/a",
            "a-b",
            ".git/HEAD",
            "weightseal.manifest",
            "weightseal.intoto.jsonl",
            "b/weightseal.manifest",
        ] {
            fs::write(r.join(f), f).unwrap();
        }
        fs::write(r.join(PARTIAL_DIR).join("x"), "x").unwrap();
        let names: Vec<String> = walk(r, Symlinks::Refuse, &[])
            .unwrap()
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        assert_eq!(
            names,
            vec!["a-b", "b/a", "b/c/d", "b/weightseal.manifest", "z"]
        );
        // Excluding by identity.
        let names: Vec<String> = walk(r, Symlinks::Refuse, &[r.join("z")])
            .unwrap()
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        assert_eq!(names, vec!["a-b", "b/a", "b/c/d", "b/weightseal.manifest"]);
    }

    #[test]
    fn nested_git_and_leftover_scratch_are_refused_not_skipped() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for dir in [".git", "sub/.git", "x/.GIT", PARTIAL_DIR] {
            fs::create_dir_all(r.join(dir)).unwrap();
            fs::write(r.join(dir).join("config"), "[core]\nfsmonitor = evil\n").unwrap();
        }
        fs::write(r.join("w.bin"), "w").unwrap();
        let refused = |entries: Vec<Entry>| -> Vec<String> {
            entries
                .into_iter()
                .filter_map(|e| match e {
                    Entry::Refused {
                        name,
                        reason: Refusal::BadName(crate::path::PathError::Reserved(_)),
                        ..
                    } => Some(name),
                    _ => None,
                })
                .collect()
        };
        let all = walk_only(r, Symlinks::Refuse, &[], None).unwrap();
        assert_eq!(
            refused(all),
            vec![PARTIAL_DIR.to_string(), "sub/.git".into(), "x/.GIT".into()]
        );
        // A download leaves its own scratch space out; nested `.git` is still refused.
        let dest = walk(r, Symlinks::Refuse, &[]).unwrap();
        assert_eq!(refused(dest), vec!["sub/.git".to_string(), "x/.GIT".into()]);
    }

    #[test]
    fn symlinks_refused_or_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("blob"), b"hello").unwrap();
        std::os::unix::fs::symlink(outside.path().join("blob"), d.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("dirlink")).unwrap();
        let e = walk(d.path(), Symlinks::Refuse, &[]).unwrap();
        assert!(
            matches!(&e[1], Entry::Refused { reason: Refusal::Symlink, name, .. } if name == "link")
        );
        assert!(
            matches!(&e[0], Entry::Refused { reason: Refusal::Symlink, name, .. } if name == "dirlink")
        );
        let e = walk(d.path(), Symlinks::Follow, &[]).unwrap();
        assert!(matches!(
            &e[0],
            Entry::Refused {
                reason: Refusal::SymlinkToDirectory,
                ..
            }
        ));
        assert!(matches!(&e[1], Entry::File { size: 5, path, .. } if path.as_str() == "link"));
    }

    #[test]
    fn special_files_and_bad_names_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(d.path().join("sock")).unwrap();
        fs::write(d.path().join("a\\b"), b"x").unwrap();
        let e = walk(d.path(), Symlinks::Refuse, &[]).unwrap();
        assert!(matches!(
            &e[0],
            Entry::Refused {
                reason: Refusal::BadName(crate::path::PathError::Backslash),
                ..
            }
        ));
        assert!(matches!(
            &e[1],
            Entry::Refused {
                reason: Refusal::Special("socket"),
                ..
            }
        ));
    }

    #[test]
    fn missing_root_is_an_error() {
        let err = walk(Path::new("/nonexistent/weightseal"), Symlinks::Refuse, &[]).unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    }
}
