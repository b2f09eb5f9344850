//! Paths inside a model directory (spec/manifest.md, "Paths").
//!
//! A [`ModelPath`] can only hold a relative, `/`-separated, UTF-8 path with no empty, `.` or
//! `..` component, no backslash, no control character, no Unicode format character
//! (category Cf: bidirectional overrides, zero-width characters…), no `.git` component at
//! any depth (compared case-insensitively), and that does not point into a reserved location
//! at the root (`.weightseal-partial/`, the manifest and attestation files, compared
//! case-insensitively). Readers reject anything else before touching the disk, so joining a
//! `ModelPath` onto the model directory can never leave it. [`fold`] gives the key under which
//! two paths collide on case-insensitive or normalising file systems (macOS, Windows).

use std::fmt;
use std::path::{Path, PathBuf};

/// Longest accepted path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Default file name of the manifest at the model root.
pub const MANIFEST_FILE: &str = "weightseal.manifest";
/// Default file name of the attestation bundle at the model root.
pub const ATTESTATION_FILE: &str = "weightseal.intoto.jsonl";
/// The proof that a release is in a transparency log (C2SP tlog-proof@v1), kept at its root.
pub const LOG_PROOF_FILE: &str = "weightseal.tlog-proof";
/// The OpenSSF model signing bundle kept at a model's root (as Hugging Face repositories keep
/// it): a signature of the release, delivered and checked with it, never a file of it.
pub const OMS_SIGNATURE_FILE: &str = "model.sig";
/// The evidence files at a release's root (spec/manifest.md, "Release directory"): each
/// signature format leaves all of them out of what it signs, so that evidence can be added in
/// any order without breaking what was signed before.
pub const EVIDENCE_FILES: &[&str] = &[
    MANIFEST_FILE,
    ATTESTATION_FILE,
    LOG_PROOF_FILE,
    OMS_SIGNATURE_FILE,
];
/// Scratch directory of downloads at the model root.
pub const PARTIAL_DIR: &str = ".weightseal-partial";
/// A single-file model's manifest is `FILE` + this suffix, beside it.
pub const SINGLE_FILE_MANIFEST_SUFFIX: &str = ".weightseal.manifest";
/// A single-file model's attestations are `FILE` + this suffix, beside it.
pub const SINGLE_FILE_ATTESTATION_SUFFIX: &str = ".weightseal.intoto.jsonl";

/// The name of the evidence file `name` (one of [`EVIDENCE_FILES`]) of a release: `name` for a
/// directory, `FILE.name` for the single-file model `FILE` (whose OpenSSF `model.sig` has no
/// such form: `None`).
pub fn evidence_name(single: Option<&str>, name: &str) -> Option<String> {
    match single {
        None => Some(name.to_string()),
        Some(_) if name == OMS_SIGNATURE_FILE => None,
        Some(file) => Some(format!("{file}.{name}")),
    }
}

/// The manifest of the single-file model `file`: `FILE.weightseal.manifest`.
pub fn single_file_manifest(file: &std::path::Path) -> std::path::PathBuf {
    let mut s = file.as_os_str().to_os_string();
    s.push(SINGLE_FILE_MANIFEST_SUFFIX);
    s.into()
}

/// What a model argument names: a directory, or one file (a single-file model, whose manifest
/// is `FILE.weightseal.manifest` beside it). Every front end resolves `hash`, `sign` and
/// `verify` arguments with [`ModelTarget::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelTarget {
    /// The directory holding the model.
    pub dir: std::path::PathBuf,
    /// A single-file model: its file name in `dir`.
    pub only: Option<String>,
    /// The manifest: the one given, or the default for this kind of model.
    pub manifest: std::path::PathBuf,
}

/// Why a model argument names no model.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{}: no such model directory or file", path.display())]
    Missing {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the file name is not UTF-8", .0.display())]
    NotUtf8(std::path::PathBuf),
    #[error("{} is a manifest, not a model: give the model directory or file (the manifest goes to --manifest)", .0.display())]
    IsManifest(std::path::PathBuf),
}

impl ModelTarget {
    /// Resolves `path` (a directory or a model file), with `manifest` when one is given.
    pub fn resolve(
        path: &std::path::Path,
        manifest: Option<&std::path::Path>,
    ) -> Result<ModelTarget, TargetError> {
        let meta = std::fs::metadata(path).map_err(|source| TargetError::Missing {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            return Ok(ModelTarget {
                dir: path.to_path_buf(),
                only: None,
                manifest: manifest
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_else(|| path.join(MANIFEST_FILE)),
            });
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| TargetError::NotUtf8(path.to_path_buf()))?;
        if name == MANIFEST_FILE || name.ends_with(SINGLE_FILE_MANIFEST_SUFFIX) {
            return Err(TargetError::IsManifest(path.to_path_buf()));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        Ok(ModelTarget {
            dir,
            only: Some(name.to_string()),
            manifest: manifest
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|| single_file_manifest(path)),
        })
    }

    /// The attestation bundle that goes with the manifest (see [`attestations_for`]).
    pub fn attestations(&self) -> std::path::PathBuf {
        attestations_for(&self.manifest)
    }
}

/// The transparency log proof that goes with a manifest: `FILE.weightseal.tlog-proof` for a
/// single-file model's `FILE.weightseal.manifest`, else `weightseal.tlog-proof` beside it.
pub fn log_proof_for(manifest: &std::path::Path) -> std::path::PathBuf {
    let parent = match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    match manifest
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(SINGLE_FILE_MANIFEST_SUFFIX))
    {
        Some(stem) if !stem.is_empty() => parent.join(format!("{stem}.{LOG_PROOF_FILE}")),
        _ => parent.join(LOG_PROOF_FILE),
    }
}

/// The attestation bundle that goes with a manifest: `FILE.weightseal.intoto.jsonl` for a
/// single-file model's `FILE.weightseal.manifest`, else `weightseal.intoto.jsonl` beside it.
pub fn attestations_for(manifest: &std::path::Path) -> std::path::PathBuf {
    let parent = match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    match manifest
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(SINGLE_FILE_MANIFEST_SUFFIX))
    {
        Some(stem) if !stem.is_empty() => {
            parent.join(format!("{stem}{SINGLE_FILE_ATTESTATION_SUFFIX}"))
        }
        _ => parent.join(ATTESTATION_FILE),
    }
}

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
    #[error("contains Unicode format character U+{0:04X} (bidirectional override, zero-width or similar)")]
    FormatCharacter(u32),
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
            PathError::FormatCharacter(_) => "format-character",
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
        if let Some(c) = s.chars().find(|&c| is_format_char(c)) {
            return Err(PathError::FormatCharacter(c as u32));
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
        // `.git` anywhere: git would read a nested `sub/.git/config` (core.fsmonitor runs
        // commands); `.GIT` is the same directory on case-insensitive file systems.
        if let Some(g) = s.split('/').find(|c| c.eq_ignore_ascii_case(".git")) {
            return Err(PathError::Reserved(g.to_string()));
        }
        let first = s.split('/').next().unwrap_or("");
        let reserved = first.eq_ignore_ascii_case(PARTIAL_DIR)
            || (first == s
                && (first.eq_ignore_ascii_case(MANIFEST_FILE)
                    || first.eq_ignore_ascii_case(ATTESTATION_FILE)
                    || first.eq_ignore_ascii_case(LOG_PROOF_FILE)
                    || first.eq_ignore_ascii_case(OMS_SIGNATURE_FILE)));
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

/// Unicode general category Cf (format characters), Unicode 15.1: invisible characters that
/// change how text around them is shown (bidirectional overrides and isolates, zero-width
/// joiners and spaces, the BOM, tag characters…).
const FORMAT_CHARS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` is a Unicode format character (category Cf).
pub fn is_format_char(c: char) -> bool {
    let c = c as u32;
    FORMAT_CHARS.iter().any(|&(a, b)| (a..=b).contains(&c))
}

/// The collision key of a path: NFC, then the Unicode full uppercase mapping, then the
/// default lowercase mapping, then NFC again. Two paths with the same key are the same file on
/// a case-insensitive or normalisation-insensitive file system (APFS, NTFS), so a manifest may
/// not list both. Uppercasing first folds what lowercasing alone leaves apart, as those file
/// systems do: `ſ`/`s`, `ς`/`σ`, `µ`/`μ`, `ϐ`/`β`, `ß`/`ss`, `ﬁ`/`fi`.
pub fn fold(s: &str) -> String {
    let nfc = icu_normalizer::ComposingNormalizerBorrowed::new_nfc();
    let lower = nfc.normalize(s).to_uppercase().to_lowercase();
    nfc.normalize(&lower).into_owned()
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
            "x/.github/workflows",
            "sub/weightseal.manifest",
            "sub/.weightseal-partial/x",
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
            ("sub/.git/config", PathError::Reserved(".git".into())),
            ("x/.git", PathError::Reserved(".git".into())),
            (".GIT/config", PathError::Reserved(".GIT".into())),
            (
                "WeightSeal.Manifest",
                PathError::Reserved("WeightSeal.Manifest".into()),
            ),
            ("a\u{202e}gnp.exe", PathError::FormatCharacter(0x202e)),
            ("a\u{200b}b", PathError::FormatCharacter(0x200b)),
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
    fn the_folded_form_uses_the_unicode_version_of_the_spec() {
        // spec/manifest.md pins the folded form to the folding table testvectors/fold/table.txt
        // (Unicode 17.0), which the generator writes from these tables (the toolchain's case
        // mappings, icu_normalizer's data): a toolchain on another Unicode version changes the
        // table and which paths collide. Change the spec (and the vectors) with it, never
        // silently.
        assert_eq!(char::UNICODE_VERSION, (17, 0, 0));
        assert_eq!(
            fold("\u{39f}\u{394}\u{39f}\u{3a3}"),
            "\u{3bf}\u{3b4}\u{3bf}\u{3c2}"
        );
        assert_eq!(fold("\u{a7cb}"), "\u{264}");
    }

    #[test]
    fn fold_joins_case_and_normalisation_variants() {
        assert_eq!(fold("Model.SafeTensors"), fold("model.safetensors"));
        assert_eq!(fold("caf\u{e9}"), fold("cafe\u{301}"));
        assert_eq!(fold("CAF\u{c9}"), fold("cafe\u{301}"));
        assert_ne!(fold("a"), fold("b"));
        assert!(is_format_char('\u{202e}') && is_format_char('\u{feff}'));
        assert!(!is_format_char('a') && !is_format_char('\u{e9}'));
    }

    #[test]
    fn parents_and_under() {
        let p = ModelPath::new("a/b/c").unwrap();
        assert_eq!(p.parents().collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(p.under(Path::new("/m")), PathBuf::from("/m/a/b/c"));
    }
}
