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
