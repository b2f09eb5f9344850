//! Verifying a release as a whole: the files against the manifest, and the manifest against the
//! trust the user gives (keys, a policy or the trust store) and the pins they asked for, in one
//! typed verdict that every front end renders (the CLI today; the Python package builds on it).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use weightseal::attest::{attest, Claims, Policy, PrivateKey};
//! use weightseal::attest::{bundle, time::Timestamp};
//! use weightseal::manifest::{build, BuildOptions};
//! use weightseal::progress::NoProgress;
//! use weightseal::release::{verify_release, Pins};
//! use weightseal::verify::VerifyOptions;
//!
//! // Publish: hash a directory and sign its manifest.
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("weights.bin"), vec![7u8; 100_000])?;
//! let opts = BuildOptions { name: Some("org/model".into()), ..Default::default() };
//! let m = build(dir.path(), &opts, &NoProgress)?.manifest;
//! let key = PrivateKey::from_seed(&[1; 32]);
//! let claims = Claims {
//!     role: "publisher".into(), signer: "ACME".into(), issued_at: Timestamp::now(),
//!     expires_at: None, version: Some(1), derived_from: vec![], annotations: Default::default(),
//! };
//! let line = attest(&m, &key, &claims)?.to_line();
//!
//! // Verify: the files, the signature by the publisher's key, the pinned model name.
//! let trust = Policy::publisher_keys(vec![("acme".into(), key.public())]);
//! let pins = Pins { model: Some("org/model".into()), digest: None };
//! let v = verify_release(
//!     dir.path(), &m, &bundle::parse(&line), Some(&trust), &pins,
//!     &VerifyOptions::default(), Timestamp::now(), &NoProgress,
//! )?;
//! assert!(v.ok && v.signatures.as_ref().unwrap().ok);
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use serde::Serialize;

use crate::attest::bundle::BundleLine;
use crate::attest::policy::{check_pins, PolicyReport, Problem};
use crate::attest::time::Timestamp;
use crate::attest::{check_release, Policy};
use crate::digest::Digest;
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::verify::{verify_dir, Report, VerifyError, VerifyOptions};

/// What the user asked for: the model's name and/or the exact manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub model: Option<String>,
    pub digest: Option<Digest>,
}

/// The verdict on a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Every file verified, the trust (when given) is met and every pin holds.
    pub ok: bool,
    pub name: String,
    pub manifest_digest: Digest,
    /// The files against the manifest.
    pub files: Report,
    /// The attestations against the trust; `None` when no trust was given (then only the
    /// files' consistency with the manifest beside them was shown).
    pub signatures: Option<PolicyReport>,
    /// Pins that do not hold.
    pub pins: Vec<Problem>,
}

/// Why a release could not be judged at all.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The policy's state file could not be read or written.
    #[error("{0}")]
    State(String),
    /// The trust store could not be read.
    #[error("{0}")]
    Trust(String),
}

/// Judges a release whose files were already checked (`files`, from a directory or a mirror):
/// the attestations of `bundle` against `trust` (recording the version in the policy's state
/// file when it is met) and the pins.
pub fn judge(
    manifest: &Manifest,
    files: Report,
    bundle: &[BundleLine],
    trust: Option<&Policy>,
    pins: &Pins,
    now: Timestamp,
) -> Result<Verdict, ReleaseError> {
    let signatures = trust
        .map(|p| check_release(p, manifest, bundle, now))
        .transpose()
        .map_err(ReleaseError::State)?;
    let pins = check_pins(
        pins.model.as_deref(),
        pins.digest,
        manifest.name(),
        manifest.digest(),
    );
    Ok(Verdict {
        ok: files.ok && pins.is_empty() && signatures.as_ref().is_none_or(|s| s.ok),
        name: manifest.name().to_string(),
        manifest_digest: manifest.digest(),
        files,
        signatures,
        pins,
    })
}

/// Verifies the release in directory `dir`: its files against `manifest`, then [`judge`].
#[allow(clippy::too_many_arguments)]
pub fn verify_release(
    dir: &Path,
    manifest: &Manifest,
    bundle: &[BundleLine],
    trust: Option<&Policy>,
    pins: &Pins,
    opts: &VerifyOptions,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Verdict, ReleaseError> {
    let files = verify_dir(dir, manifest, opts, progress)?;
    judge(manifest, files, bundle, trust, pins, now)
}

/// Where the trust for a release comes from.
#[derive(Clone, Debug, Default)]
pub enum Trust {
    /// Nobody vouches for the manifest: files are checked against it for integrity only.
    #[default]
    Nothing,
    /// Keys or a policy the caller gave.
    Policy(Policy),
    /// The entries of the trust store at this path that match the model's name (nothing when
    /// none match).
    Store(std::path::PathBuf),
}

/// The trust that applies to one model.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub policy: Option<Policy>,
    /// The trust store entries used, `name (role for pattern)`, when they were.
    pub store_entries: Vec<String>,
    pub store_path: Option<std::path::PathBuf>,
}

impl Trust {
    /// The caller's policy if given, else the trust store's when `store` is true and a store
    /// can be located (`WEIGHTSEAL_TRUST`, the XDG config directory), else nothing.
    pub fn given_or_store(policy: Option<Policy>, store: bool) -> Trust {
        match (
            policy,
            store.then(crate::attest::trust::default_path).flatten(),
        ) {
            (Some(p), _) => Trust::Policy(p),
            (None, Some(path)) => Trust::Store(path),
            (None, None) => Trust::Nothing,
        }
    }

    /// The policy for model `name`.
    pub fn resolve(&self, name: &str) -> Result<Resolved, ReleaseError> {
        match self {
            Trust::Nothing => Ok(Resolved::default()),
            Trust::Policy(p) => Ok(Resolved {
                policy: Some(p.clone()),
                ..Default::default()
            }),
            Trust::Store(path) => {
                let store = crate::attest::trust::TrustStore::load(path)
                    .map_err(|e| ReleaseError::Trust(e.to_string()))?;
                let policy = store
                    .policy_for(name, path)
                    .map_err(|e| ReleaseError::Trust(e.to_string()))?;
                let store_entries = match policy {
                    Some(_) => store
                        .matching(name)
                        .iter()
                        .map(|e| format!("{} ({} for {})", e.name, e.role, e.model))
                        .collect(),
                    None => Vec::new(),
                };
                Ok(Resolved {
                    policy,
                    store_entries,
                    store_path: Some(path.clone()),
                })
            }
        }
    }
}

/// Where a fetch takes its manifest and attestations from, and what it demands of them.
#[derive(Clone, Debug, Default)]
pub struct FetchRequest {
    /// A local manifest file, another URL, or (`None`) `URL/weightseal.manifest`.
    pub manifest: Option<String>,
    /// A local attestation bundle, or (`None`) `URL/weightseal.intoto.jsonl` (absent: none).
    pub attestations: Option<std::path::PathBuf>,
    pub trust: Trust,
    /// Download even when nobody vouches for the manifest (integrity checking only).
    pub allow_unsigned: bool,
    pub pins: Pins,
    /// Largest manifest and bundle downloaded.
    pub manifest_limit: u64,
    pub bundle_limit: u64,
}

/// The outcome of [`fetch_release`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FetchVerdict {
    /// Every file is in place and verified, the trust (when any) is met and the pins hold.
    pub ok: bool,
    pub name: String,
    pub manifest_digest: Digest,
    /// The attestations against the trust, judged before any weight byte was requested.
    pub signatures: Option<PolicyReport>,
    pub pins: Vec<Problem>,
    /// The trust store entries that supplied the trust, when they did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust_store: Vec<String>,
    /// The download; `None` when the manifest was refused before it (pins, signatures).
    pub files: Option<crate::fetch::FetchReport>,
}

/// Why a fetch could not be carried out or judged.
#[derive(Debug, thiserror::Error)]
pub enum FetchReleaseError {
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    #[error("{origin}: the server has no manifest (HTTP 404)")]
    NoManifest { origin: String },
    #[error("invalid manifest {origin}: {source}")]
    Manifest {
        origin: String,
        #[source]
        source: crate::manifest::ManifestError,
    },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: the attestation bundle is not UTF-8")]
    BundleNotUtf8 { url: String },
    #[error(transparent)]
    Bundle(#[from] crate::attest::bundle::BundleError),
    /// No trust and no digest pin, and unsigned downloads were not allowed.
    #[error("refusing to download {name}: no key or policy is given, no trust store entry matches it and no digest is pinned, so nobody vouches for its manifest")]
    Unvouched { name: String },
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error("{}: {source}", dest.display())]
    Destination {
        dest: std::path::PathBuf,
        #[source]
        source: crate::safedir::SafeDirError,
    },
}

/// The manifest of a remote model (`explicit`: a local file, another URL, or `None` for
/// `URL/weightseal.manifest`), with its bytes.
pub fn remote_manifest(
    remote: &crate::fetch::Remote,
    explicit: Option<&str>,
    limit: u64,
) -> Result<(Manifest, Vec<u8>), FetchReleaseError> {
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    let (origin, bytes) = match explicit {
        Some(p) if !is_url(p) => (
            p.to_string(),
            std::fs::read(p).map_err(|source| FetchReleaseError::Io {
                path: p.into(),
                source,
            })?,
        ),
        other => {
            let url = other
                .map(str::to_string)
                .unwrap_or_else(|| remote.url_for(crate::path::MANIFEST_FILE));
            let b = remote
                .get_document(&url, limit.min(crate::manifest::MAX_MANIFEST_LEN))?
                .ok_or_else(|| FetchReleaseError::NoManifest {
                    origin: crate::net::redact_url(&url),
                })?;
            (crate::net::redact_url(&url), b)
        }
    };
    let m = Manifest::decode(&bytes)
        .map_err(|source| FetchReleaseError::Manifest { origin, source })?;
    Ok((m, bytes))
}

/// The attestations of a remote model (`explicit`: a local bundle, or `None` for
/// `URL/weightseal.intoto.jsonl`, absent meaning none), with the text to keep beside the files.
pub fn remote_bundle(
    remote: &crate::fetch::Remote,
    explicit: Option<&Path>,
    limit: u64,
) -> Result<(Vec<BundleLine>, Option<String>), FetchReleaseError> {
    use crate::attest::bundle;
    if let Some(p) = explicit {
        let text = std::fs::read_to_string(p).map_err(|source| FetchReleaseError::Io {
            path: p.to_path_buf(),
            source,
        })?;
        return Ok((bundle::parse(&text), Some(text)));
    }
    let url = remote.url_for(crate::path::ATTESTATION_FILE);
    match remote.get_document(&url, limit.min(bundle::MAX_BUNDLE_LEN))? {
        None => Ok((Vec::new(), None)),
        Some(b) => {
            let text = String::from_utf8(b).map_err(|_| FetchReleaseError::BundleNotUtf8 {
                url: crate::net::redact_url(&url),
            })?;
            Ok((bundle::parse(&text), Some(text)))
        }
    }
}

/// Downloads the release at `remote` into `dest`, verifying as it goes: the manifest's pins
/// and attestations are judged before any weight byte is requested; each chunk is checked on
/// arrival and each file lands at its final path only once all of it verified. When every file
/// verified, the manifest and bundle are written beside them, so that verifying `dest` later
/// judges it as this fetch did.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use weightseal::attest::{Policy, PublicKey};
/// use weightseal::fetch::{FetchOptions, Remote};
/// use weightseal::progress::NoProgress;
/// use weightseal::release::{fetch_release, FetchRequest, Pins, Trust};
///
/// let publisher = PublicKey::read_all(std::path::Path::new("acme.pub"))?;
/// let trust = Policy::publisher_keys(publisher.into_iter().map(|k| ("acme".into(), k)).collect());
/// let remote = Remote::new("https://models.example/org/model", FetchOptions::default())?;
/// let req = FetchRequest {
///     trust: Trust::Policy(trust),
///     pins: Pins { model: Some("org/model".into()), digest: None },
///     ..FetchRequest::default()
/// };
/// let v = fetch_release(&remote, std::path::Path::new("model"), &req, &NoProgress)?;
/// assert!(v.ok, "not verified: {v:?}");
/// # Ok(())
/// # }
/// ```
pub fn fetch_release(
    remote: &crate::fetch::Remote,
    dest: &Path,
    req: &FetchRequest,
    progress: &dyn Progress,
) -> Result<FetchVerdict, FetchReleaseError> {
    let limit = |l: u64, default: u64| if l == 0 { default } else { l };
    let (m, manifest_bytes) = remote_manifest(
        remote,
        req.manifest.as_deref(),
        limit(req.manifest_limit, crate::manifest::MAX_MANIFEST_LEN),
    )?;
    let resolved = req.trust.resolve(m.name())?;
    if resolved.policy.is_none() && !req.allow_unsigned && req.pins.digest.is_none() {
        return Err(FetchReleaseError::Unvouched {
            name: m.name().to_string(),
        });
    }
    let mut verdict = FetchVerdict {
        ok: false,
        name: m.name().to_string(),
        manifest_digest: m.digest(),
        signatures: None,
        pins: check_pins(
            req.pins.model.as_deref(),
            req.pins.digest,
            m.name(),
            m.digest(),
        ),
        trust_store: resolved.store_entries.clone(),
        files: None,
    };
    if !verdict.pins.is_empty() {
        return Ok(verdict);
    }
    let (lines, bundle_text) = remote_bundle(
        remote,
        req.attestations.as_deref(),
        limit(req.bundle_limit, crate::attest::bundle::MAX_BUNDLE_LEN),
    )?;
    if let Some(p) = &resolved.policy {
        let report = check_release(p, &m, &lines, Timestamp::now()).map_err(ReleaseError::State)?;
        let met = report.ok;
        verdict.signatures = Some(report);
        if !met {
            return Ok(verdict);
        }
    }
    let report = crate::fetch::fetch(remote, &m, dest, progress)?;
    if report.files.iter().all(|f| f.error.is_none()) {
        // Through the destination's handle: a link planted at these names is refused, not
        // followed or replaced.
        let dest_err = |source| FetchReleaseError::Destination {
            dest: dest.to_path_buf(),
            source,
        };
        let root = crate::safedir::Dir::open(dest, false).map_err(dest_err)?;
        root.write_atomic(crate::path::MANIFEST_FILE, &manifest_bytes, 0o644)
            .map_err(dest_err)?;
        if let Some(text) = &bundle_text {
            root.write_atomic(crate::path::ATTESTATION_FILE, text.as_bytes(), 0o644)
                .map_err(dest_err)?;
        }
    }
    verdict.ok = report.ok;
    verdict.files = Some(report);
    Ok(verdict)
}
