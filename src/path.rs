//! Paths inside a model directory (spec/manifest.md, "Paths").
//!
//! A [`ModelPath`] can only hold a relative, `/`-separated, UTF-8 path with no empty, `.` or
//! `..` component, no backslash, no NUL or other control character, that does not point into
//! a reserved location (`.git/`, `.weightseal-partial/`, or the manifest and attestation files
//! at the root). Readers reject anything else before touching the disk, so joining a
//! `ModelPath` onto the model directory can never leave it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Longest accepted path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Default file name of the manifest at the model root.
pub const MANIFEST_FILE: &str = "weightseal.manifest";
/// Default file name of the attestation bundle at the model root.
pub const ATTESTATION_FILE: &str = "weightseal.intoto.jsonl";
/// Scratch directory of downloads at the model root.
pub const PARTIAL_DIR: &str = ".weightseal-partial";

/// Why a path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error("path is {len} bytes long, more than {MAX_PATH_LEN}")]
    TooLong { len: usize },
    #[error("absolute path (starts with '/')")]
    Absolute,
    #[error("empty component ('//' or a trailing '/')")]
    EmptyComponent,
    #[error("'.' component")]
    DotComponent,
    #[error("'..' component")]
    DotDotComponent,
    #[error("contains a backslash")]
    Backslash,
    #[error("contains control character U+{0:04X}")]
    ControlCharacter(u32),
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("reserved location '{0}' (weightseal's own files and .git are never part of a model)")]
    Reserved(String),
}

impl PathError {
    /// A stable short code, used by test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            PathError::Empty => "empty",
            PathError::TooLong { .. } => "too-long",
            PathError::Absolute => "absolute",
            PathError::EmptyComponent => "empty-component",
            PathError::DotComponent => "dot-component",
            PathError::DotDotComponent => "dotdot-component",
            PathError::Backslash => "backslash",
            PathError::ControlCharacter(_) => "control-character",
            PathError::NotUtf8 => "not-utf8",
            PathError::Reserved(_) => "reserved",
        }
    }
}

/// A validated relative path inside a model directory.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelPath(String);

impl ModelPath {
    /// Validates `s` against every path rule.
    pub fn new(s: &str) -> Result<ModelPath, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong { len: s.len() });
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(PathError::ControlCharacter(c as u32));
        }
        if s.contains('\\') {
            return Err(PathError::Backslash);
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute);
        }
        for comp in s.split('/') {
            match comp {
                "" => return Err(PathError::EmptyComponent),
                "." => return Err(PathError::DotComponent),
                ".." => return Err(PathError::DotDotComponent),
                _ => {}
            }
        }
        let first = s.split('/').next().unwrap_or("");
        let reserved = match first {
            ".git" | PARTIAL_DIR => true,
            MANIFEST_FILE | ATTESTATION_FILE => first == s,
            _ => false,
        };
        if reserved {
            return Err(PathError::Reserved(first.to_string()));
        }
        Ok(ModelPath(s.to_string()))
    }

    /// Validates raw bytes (e.g. a file name from the disk): must be UTF-8 first.
    pub fn from_bytes(b: &[u8]) -> Result<ModelPath, PathError> {
        let s = std::str::from_utf8(b).map_err(|_| PathError::NotUtf8)?;
        ModelPath::new(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The location of this path under `root`. Cannot escape `root` lexically.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for comp in self.0.split('/') {
            p.push(comp);
        }
        p
    }

    /// The directories that contain this path, shortest first (`a`, `a/b` for `a/b/c`).
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(move |(i, _)| &self.0[..i])
    }
}

impl fmt::Display for ModelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ModelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in [
            "model.safetensors",
            "a/b/c.bin",
            ".gitattributes",
            "x/.git",
            "sub/weightseal.manifest",
            "..a",
            "a..",
        ] {
            assert_eq!(ModelPath::new(p).unwrap().as_str(), p);
        }
    }

    #[test]
    fn rejects_each_bad_path_with_its_reason() {
        let cases = [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute),
            ("a//b", PathError::EmptyComponent),
            ("a/", PathError::EmptyComponent),
            ("./a", PathError::DotComponent),
            ("a/../b", PathError::DotDotComponent),
            ("..", PathError::DotDotComponent),
            ("a\\b", PathError::Backslash),
            ("a\nb", PathError::ControlCharacter(10)),
            ("a\0b", PathError::ControlCharacter(0)),
            (".git/config", PathError::Reserved(".git".into())),
            (
                ".weightseal-partial/x",
                PathError::Reserved(PARTIAL_DIR.into()),
            ),
            (
                "weightseal.manifest",
                PathError::Reserved(MANIFEST_FILE.into()),
            ),
            (
                "weightseal.intoto.jsonl",
                PathError::Reserved(ATTESTATION_FILE.into()),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(ModelPath::new(p), Err(want), "{p:?}");
        }
        assert_eq!(
            ModelPath::new(&"a".repeat(4097)),
            Err(PathError::TooLong { len: 4097 })
        );
        assert_eq!(ModelPath::from_bytes(b"a\xffb"), Err(PathError::NotUtf8));
    }

    #[test]
    fn parents_and_under() {
        let p = ModelPath::new("a/b/c").unwrap();
        assert_eq!(p.parents().collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(p.under(Path::new("/m")), PathBuf::from("/m/a/b/c"));
    }
}
