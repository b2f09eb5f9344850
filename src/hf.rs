//! The Hugging Face cache, offline: where a repository's snapshot is, whether its symlinks stay
//! inside the repository's `blobs/`, and whether every blob still holds the bytes its name
//! promises (an LFS blob is named by the SHA-256 of its content, a small file by its git blob
//! SHA-1), with no network request.
//!
//! Layout (as `huggingface_hub` writes it): `CACHE/models--ORG--NAME/{blobs,refs,snapshots}`,
//! `refs/REV` holding a commit hash, `snapshots/COMMIT/PATH` a relative symlink to
//! `../../blobs/HASH`. The cache is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest as _;

/// Why the cache could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HfError {
    #[error("no Hugging Face cache found: set HF_HUB_CACHE or HF_HOME (looked in {})", .0.display())]
    NoCache(PathBuf),
    #[error("{repo} is not in the Hugging Face cache {} (looked for {})", cache.display(), dir.display())]
    NoRepo {
        repo: String,
        cache: PathBuf,
        dir: PathBuf,
    },
    #[error("{repo}: no snapshot for revision {rev:?} (known: {known})")]
    NoRevision {
        repo: String,
        rev: String,
        known: String,
    },
    #[error("{0:?} is not a repository id (ORG/NAME, optionally @REVISION)")]
    BadRepoId(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: a symbolic link to {target}, outside this repository's blobs/ directory: refused", path.display())]
    ForeignLink { path: PathBuf, target: String },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> HfError + '_ {
    move |source| HfError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The cache directory, as huggingface_hub resolves it.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HF_HUB_CACHE")
        .or_else(|| env("HUGGINGFACE_HUB_CACHE"))
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| {
            env("XDG_CACHE_HOME")
                .or_else(|| env("HOME").map(|h| h.join(".cache")))
                .map(|c| c.join("huggingface/hub"))
        })
}

/// `ORG/NAME[@REV]` → (repository id, revision).
pub fn parse_repo(spec: &str) -> Result<(String, Option<String>), HfError> {
    let (id, rev) = match spec.split_once('@') {
        Some((i, r)) if !r.is_empty() => (i, Some(r.to_string())),
        Some(_) => return Err(HfError::BadRepoId(spec.into())),
        None => (spec, None),
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match id.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) => Ok((id.to_string(), rev)),
        None if ok(id) => Ok((id.to_string(), rev)),
        _ => Err(HfError::BadRepoId(spec.into())),
    }
}

/// The folder of a model repository: `models--ORG--NAME`.
pub fn repo_folder(repo_id: &str) -> String {
    format!("models--{}", repo_id.replace('/', "--"))
}

/// The snapshot directory of `repo_id` at `rev` (a ref such as `main`, or a commit hash).
pub fn snapshot(cache: &Path, repo_id: &str, rev: Option<&str>) -> Result<PathBuf, HfError> {
    let dir = cache.join(repo_folder(repo_id));
    if !dir.is_dir() {
        return Err(HfError::NoRepo {
            repo: repo_id.into(),
            cache: cache.to_path_buf(),
            dir,
        });
    }
    let rev = rev.unwrap_or("main");
    let commit = match std::fs::read_to_string(dir.join("refs").join(rev)) {
        Ok(c) if !rev.contains('/') || !rev.contains("..") => c.trim().to_string(),
        _ => rev.to_string(),
    };
    let valid = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    let snap = dir.join("snapshots").join(&commit);
    if valid && snap.is_dir() {
        return Ok(snap);
    }
    let mut known: Vec<String> = std::fs::read_dir(dir.join("refs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    known.extend(
        std::fs::read_dir(dir.join("snapshots"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .chars()
                    .take(12)
                    .collect::<String>()
            }),
    );
    Err(HfError::NoRevision {
        repo: repo_id.into(),
        rev: rev.into(),
        known: if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        },
    })
}

/// Checks that every symlink under `snapshot` resolves into `blobs` of its repository
/// (`snapshot/../../blobs`); returns the first that does not.
pub fn check_snapshot_links(snapshot: &Path) -> Result<(), HfError> {
    let blobs = snapshot
        .parent()
        .and_then(Path::parent)
        .map(|r| r.join("blobs"))
        .ok_or_else(|| HfError::Io {
            path: snapshot.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a snapshot"),
        })?;
    let blobs = blobs.canonicalize().map_err(io(&blobs))?;
    let mut stack = vec![snapshot.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            let m = std::fs::symlink_metadata(&p).map_err(io(&p))?;
            if m.is_dir() {
                stack.push(p);
            } else if m.file_type().is_symlink() {
                let target = std::fs::read_link(&p).map_err(io(&p))?;
                let inside = p
                    .canonicalize()
                    .ok()
                    .filter(|t| t.parent() == Some(blobs.as_path()));
                if inside.is_none() {
                    return Err(HfError::ForeignLink {
                        path: p,
                        target: target.display().to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// One blob's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum BlobStatus {
    Ok,
    /// The content's hash is not the blob's name.
    Corrupt {
        algorithm: &'static str,
        found: String,
    },
    /// Named like neither a SHA-256 nor a git SHA-1, so its content cannot be checked: a
    /// problem when a snapshot uses it (see [`BlobReport::passes`]).
    Unknown,
    Unreadable {
        reason: String,
    },
}

/// A blob of a repository and who uses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlobReport {
    pub repo: String,
    pub blob: String,
    pub size: u64,
    #[serde(flatten)]
    pub status: BlobStatus,
    /// `snapshots/COMMIT/PATH` entries that link to it.
    pub used_by: Vec<String>,
}

impl BlobReport {
    /// The blob is what its name says, or (not named by a hash) no snapshot uses it: a file a
    /// snapshot links to must be checkable against its name.
    pub fn passes(&self) -> bool {
        match self.status {
            BlobStatus::Ok => true,
            BlobStatus::Unknown => self.used_by.is_empty(),
            _ => false,
        }
    }
}

/// A snapshot entry whose link is broken or leaves the repository's blobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    pub repo: String,
    /// `snapshots/COMMIT/PATH`.
    pub path: String,
    pub target: String,
    /// `dangling` or `foreign`.
    pub problem: &'static str,
}

/// The whole check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub cache: String,
    pub repos: Vec<String>,
    pub blobs: Vec<BlobReport>,
    pub links: Vec<LinkReport>,
}

fn hash_blob(path: &Path, name: &str) -> std::io::Result<BlobStatus> {
    let sha256 = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
    let sha1 = name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit());
    if !sha256 && !sha1 {
        return Ok(BlobStatus::Unknown);
    }
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    let found = if sha256 {
        let mut h = sha2::Sha256::new();
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        crate::digest::hex(&h.finalize())
    } else {
        // git's blob id: SHA-1 of "blob LEN\0" and the content.
        let mut h = sha1::Sha1::new();
        h.update(format!("blob {len}\0").as_bytes());
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        crate::digest::hex(&h.finalize())
    };
    Ok(if found.eq_ignore_ascii_case(name) {
        BlobStatus::Ok
    } else {
        BlobStatus::Corrupt {
            algorithm: if sha256 { "sha256" } else { "git-sha1" },
            found,
        }
    })
}

/// Checks every blob and snapshot link of the cache (or of one repository), offline.
pub fn check(cache: &Path, repo: Option<&str>) -> Result<CheckReport, HfError> {
    if !cache.is_dir() {
        return Err(HfError::NoCache(cache.to_path_buf()));
    }
    let folders: Vec<(String, PathBuf)> = match repo {
        Some(r) => {
            let dir = cache.join(repo_folder(r));
            if !dir.is_dir() {
                return Err(HfError::NoRepo {
                    repo: r.into(),
                    cache: cache.to_path_buf(),
                    dir,
                });
            }
            vec![(r.to_string(), dir)]
        }
        None => {
            let mut v = Vec::new();
            for e in std::fs::read_dir(cache).map_err(io(cache))? {
                let e = e.map_err(io(cache))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(rest) = ["models--", "datasets--", "spaces--"]
                    .iter()
                    .find_map(|p| name.strip_prefix(p))
                {
                    if e.path().is_dir() {
                        v.push((rest.replacen("--", "/", 1), e.path()));
                    }
                }
            }
            v.sort();
            v
        }
    };
    let mut blobs = Vec::new();
    let mut links = Vec::new();
    for (repo, dir) in &folders {
        // Snapshot links, and which blob each uses.
        let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let snaps = dir.join("snapshots");
        let mut stack: Vec<PathBuf> = std::fs::read_dir(&snaps)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        let blob_dir = dir.join("blobs");
        let blob_canon = blob_dir.canonicalize().ok();
        while let Some(p) = stack.pop() {
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = p
                .strip_prefix(dir)
                .map(|r| r.display().to_string())
                .unwrap_or_default();
            if m.is_dir() {
                stack.extend(
                    std::fs::read_dir(&p)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path()),
                );
            } else if m.file_type().is_symlink() {
                let target = std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                match p.canonicalize() {
                    Ok(t) if t.parent().map(Path::to_path_buf) == blob_canon => {
                        let name = t
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        used.entry(name).or_default().push(rel);
                    }
                    Ok(_) => links.push(LinkReport {
                        repo: repo.clone(),
                        path: rel,
                        target,
                        problem: "foreign",
                    }),
                    // The target does not exist: a link into blobs/ is dangling, any other
                    // target is also foreign.
                    Err(_) => {
                        let into_blobs = target.starts_with("../../blobs/")
                            && !target["../../blobs/".len()..].contains('/');
                        links.push(LinkReport {
                            repo: repo.clone(),
                            path: rel,
                            target,
                            problem: if into_blobs { "dangling" } else { "foreign" },
                        })
                    }
                }
            }
        }
        let mut names: Vec<(String, PathBuf, u64)> = std::fs::read_dir(&blob_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                m.is_file().then(|| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.path(),
                        m.len(),
                    )
                })
            })
            .collect();
        names.sort();
        let results: Vec<BlobReport> = names
            .par_iter()
            .map(|(name, path, size)| BlobReport {
                repo: repo.clone(),
                blob: name.clone(),
                size: *size,
                status: hash_blob(path, name).unwrap_or_else(|e| BlobStatus::Unreadable {
                    reason: e.to_string(),
                }),
                used_by: used.get(name).cloned().unwrap_or_default(),
            })
            .collect();
        blobs.extend(results);
    }
    links.sort_by(|a, b| (&a.repo, &a.path).cmp(&(&b.repo, &b.path)));
    let ok = links.is_empty() && blobs.iter().all(BlobReport::passes);
    Ok(CheckReport {
        ok,
        cache: cache.display().to_string(),
        repos: folders.into_iter().map(|f| f.0).collect(),
        blobs,
        links,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_ids() {
        let hex = |b: &[u8]| crate::digest::hex(&sha1::Sha1::digest(b));
        assert_eq!(hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(&[b'a'; 1000]),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
        // git hash-object of "hello\n".
        assert_eq!(
            hex(b"blob 6\0hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn repo_ids() {
        assert_eq!(parse_repo("org/name").unwrap(), ("org/name".into(), None));
        assert_eq!(
            parse_repo("org/name@v1.0").unwrap(),
            ("org/name".into(), Some("v1.0".into()))
        );
        assert!(parse_repo("../etc").is_err());
        assert!(parse_repo("a/b/c").is_err());
        assert_eq!(repo_folder("org/name"), "models--org--name");
    }
}
