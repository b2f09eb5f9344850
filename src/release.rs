//! THE judge. Verifying a release as a whole — the files against what was signed, every kind of
//! signature (weightseal attestations, OpenSSF model signing bundles with a key, a certificate
//! chain or a Sigstore identity) against the trust the user gives (keys, a policy or the trust
//! store), and the pins they asked for — in one typed [`Verdict`]. The CLI and the Python
//! package render it; they never decide. [`Verdict::ok`] is the only source of a success.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use weightseal::attest::{attest, Claims, Policy, PrivateKey};
//! use weightseal::attest::{bundle, time::Timestamp};
//! use weightseal::manifest::{build, BuildOptions};
//! use weightseal::progress::NoProgress;
//! use weightseal::release::{verify, Ask, Pins, Release, Trust};
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
//! let ask = Ask {
//!     trust: Trust::Policy(trust),
//!     pins: Pins { model: Some("org/model".into()), digest: None },
//!     ..Ask::default()
//! };
//! let release = Release::Local {
//!     dir: dir.path(), manifest: &m, attestations: &bundle::parse(&line),
//!     opts: &VerifyOptions::default(), log_proof: None,
//! };
//! let v = verify(release, &ask, &NoProgress)?;
//! assert!(v.ok() && v.signatures.as_ref().unwrap().ok);
//!
//! // The same release, asked for under another name: refused, and the verdict says why.
//! let ask = Ask { pins: Pins { model: Some("org/other".into()), digest: None }, ..ask };
//! let release = Release::Local {
//!     dir: dir.path(), manifest: &m, attestations: &bundle::parse(&line),
//!     opts: &VerifyOptions::default(), log_proof: None,
//! };
//! let v = verify(release, &ask, &NoProgress)?;
//! assert!(!v.ok() && v.reasons[0].starts_with("wrong-model"));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::attest::bundle::BundleLine;
use crate::attest::policy::{check_pins, PolicyReport, Problem};
use crate::attest::time::Timestamp;
use crate::attest::{check_release, Policy};
use crate::digest::Digest;
use crate::manifest::Manifest;
use crate::oms::{self, OmsCheck, OmsError};
use crate::progress::Progress;
use crate::verify::{verify_dir, Report, VerifyError, VerifyOptions};

/// What the user asked for: the model's name and/or the exact manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub model: Option<String>,
    pub digest: Option<Digest>,
}

/// What to do when nobody the user trusts vouches for a release.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unsigned {
    /// Refuse it (`fetch`, the verified loader): trust or a digest pin is required.
    Refuse,
    /// Accept it for integrity only when the user has configured no trust at all (no key, no
    /// policy, no trust store entries): `verify` of a model whose publisher is unknown. A user
    /// with a trust store never gets a release that no trusted key signed.
    #[default]
    WhenNoTrustConfigured,
    /// Accept it for integrity only (`--integrity-only`, `allow_unsigned=True`).
    Allow,
}

/// What the caller demands of a release, whatever its kind.
#[derive(Clone, Debug)]
pub struct Ask {
    pub trust: Trust,
    pub pins: Pins,
    pub unsigned: Unsigned,
    /// The time attestations are judged at.
    pub now: Timestamp,
    /// Require a proof that the release is in this transparency log, cosigned by enough of its
    /// witnesses (`--log-key`, `--witness`, `--quorum`, or a policy's `[log]`).
    pub log: Option<crate::log::LogPolicy>,
}

impl Default for Ask {
    fn default() -> Ask {
        Ask {
            trust: Trust::Nothing,
            pins: Pins::default(),
            unsigned: Unsigned::default(),
            now: Timestamp::now(),
            log: None,
        }
    }
}

/// The transparency log proof of a release, as checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogCheck {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<crate::log::proof::ProofReport>,
    /// Why it does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks `proof` (the bytes of `weightseal.tlog-proof`, if any) for the release `m` against
/// `policy`.
fn check_log(policy: &crate::log::LogPolicy, proof: Option<&[u8]>, m: &Manifest) -> LogCheck {
    let r = match proof {
        None => Err("no proof that the release is in the log (weightseal.tlog-proof)".to_string()),
        Some(b) => crate::log::TlogProof::parse(b)
            .and_then(|p| p.verify(policy, m.name(), m.digest()))
            .map_err(|e| e.to_string()),
    };
    match r {
        Ok(p) => LogCheck {
            ok: true,
            proof: Some(p),
            error: None,
        },
        Err(e) => LogCheck {
            ok: false,
            proof: None,
            error: Some(e),
        },
    }
}

/// The release to judge, with its evidence.
// Built once per verification: the size of the variant holding a report does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Release<'a> {
    /// A model directory (or one file of it, `opts.only`), its weightseal manifest and the
    /// attestations beside it.
    Local {
        dir: &'a Path,
        manifest: &'a Manifest,
        attestations: &'a [BundleLine],
        opts: &'a VerifyOptions,
        /// The release's `weightseal.tlog-proof`, when it has one.
        log_proof: Option<&'a [u8]>,
    },
    /// A weightseal release whose files were checked elsewhere (a mirror streamed by
    /// `verify --url`), with the OpenSSF model signing bundle served beside it, if any: its
    /// signature is checked with the publisher keys of the trust, and the files it signs must
    /// be the manifest's, with the SHA-256 the manifest records.
    Checked {
        manifest: &'a Manifest,
        attestations: &'a [BundleLine],
        files: Report,
        signature: Option<&'a str>,
        log_proof: Option<&'a [u8]>,
    },
    /// A weightseal manifest whose files the caller checks itself as it reads them (the
    /// verified loader reads each tensor into memory and compares it there): only who vouches
    /// for the manifest and the pins are judged, and the verdict has no `files`.
    Manifest {
        manifest: &'a Manifest,
        attestations: &'a [BundleLine],
        log_proof: Option<&'a [u8]>,
    },
    /// A model directory signed with an OpenSSF model signing bundle (`model.sig`).
    Oms {
        dir: &'a Path,
        /// The bundle file. When it lies in `dir`, that one file (by identity, never through a
        /// link) is left out of the files checked, as model_signing leaves it out.
        signature: &'a Path,
        /// How to check it; `None`: with the trust store's publisher keys for the model.
        check: Option<&'a OmsCheck>,
        /// Paths left out, as model_signing takes them (relative to `dir`, or to the
        /// current directory when inside it).
        ignore_paths: &'a [PathBuf],
        /// Leave out `.git`, `.github`, `.gitattributes`, `.gitignore` (model_signing's default).
        ignore_git: bool,
    },
}

/// The kind of signature a release carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Weightseal,
    Oms,
}

/// Who vouched for the manifest the files were checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vouched {
    /// Keys, a policy or trust store entries judged the signatures (see `signatures`/`oms`).
    Checked,
    /// No trust is configured at all: the files were checked against the manifest beside them
    /// only, which whoever changed them could have regenerated.
    NotGiven,
    /// The manifest is the one the `--digest` pin names (learned out of band).
    DigestPinned,
    /// The caller asked for integrity only.
    IntegrityOnly,
    /// Trust is configured, but no key the caller trusts is assigned to this model's name.
    NoTrustedKey,
}

/// An OpenSSF model signing signature, as judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OmsReport {
    pub ok: bool,
    pub method: Option<oms::Method>,
    /// Who signed (key id, certificate subject, Sigstore identity), when it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_type: Option<String>,
    /// `files` or `shards`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serialization: Option<&'static str>,
    pub resources: usize,
    /// Made by model_signing 0.2.
    pub legacy: bool,
    /// Why it did not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The verdict on a release: the one answer every front end renders. Exit code 0, `"ok":
/// true` and every success word come from [`Verdict::ok`], which no front end can set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    ok: bool,
    pub format: Format,
    /// The model's name, as its signed statement or manifest gives it (empty when the
    /// signature was refused before it could be read).
    pub name: String,
    /// The weightseal manifest digest (BLAKE3), or an OMS statement's subject digest
    /// (SHA-256); `None` when the signature was refused before it could be read.
    pub manifest_digest: Option<Digest>,
    /// The bytes the manifest lists (weightseal releases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The files against the manifest; `None` when the release was refused before they were
    /// checked (an OMS signature that does not verify says nothing of what the files should be).
    pub files: Option<Report>,
    pub vouched: Vouched,
    /// The weightseal attestations against the trust, when judged.
    pub signatures: Option<PolicyReport>,
    /// The OMS signature, for an OMS release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oms: Option<OmsReport>,
    /// Pins that do not hold.
    pub pins: Vec<Problem>,
    /// The trust store entries that supplied the trust, when they did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust_store: Vec<String>,
    /// The transparency log proof, when one was required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogCheck>,
    /// Why the release is not verified, most important first (empty when it is).
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Every file verified, whoever must vouch for the manifest did, and every pin holds.
    pub fn ok(&self) -> bool {
        self.ok
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        format: Format,
        name: String,
        manifest_digest: Option<Digest>,
        files: Option<Report>,
        vouched: Vouched,
        signatures: Option<PolicyReport>,
        oms: Option<OmsReport>,
        pins: Vec<Problem>,
        trust_store: Vec<String>,
    ) -> Verdict {
        let mut reasons: Vec<String> = pins
            .iter()
            .map(|p| format!("{}: {}", p.code, p.detail))
            .collect();
        if vouched == Vouched::NoTrustedKey {
            reasons.push(format!(
                "nobody vouches for its manifest: no key you trust is assigned to the model {name:?}"
            ));
        }
        if let Some(s) = signatures.as_ref().filter(|s| !s.ok) {
            let mut codes: Vec<&str> = s
                .attestations
                .iter()
                .filter(|a| a.status != crate::attest::policy::Status::Valid)
                .map(|a| a.code.as_str())
                .chain(s.problems.iter().map(|p| p.code))
                .collect();
            codes.sort_unstable();
            codes.dedup();
            let unmet: Vec<String> = s
                .roles
                .iter()
                .filter(|r| !r.met)
                .map(|r| format!("{} {}/{}", r.role, r.keys.len(), r.threshold))
                .collect();
            let mut why = String::from("the attestations do not meet the trust");
            if !unmet.is_empty() {
                why.push_str(&format!(" (unmet: {})", unmet.join(", ")));
            }
            if !codes.is_empty() {
                why.push_str(&format!(": {}", codes.join(", ")));
            }
            reasons.push(why);
        }
        if let Some(e) = oms.as_ref().and_then(|o| o.error.as_ref()) {
            reasons.push(format!("the signature does not verify: {e}"));
        }
        match &files {
            Some(f) if !f.ok => reasons.push(files_reason(f)),
            Some(_) => {}
            None if reasons.is_empty() => reasons.push("the files were not checked".into()),
            None => {}
        }
        let vouch_ok = match vouched {
            Vouched::Checked => {
                signatures.as_ref().is_some_and(|s| s.ok) || oms.as_ref().is_some_and(|o| o.ok)
            }
            Vouched::NotGiven | Vouched::DigestPinned | Vouched::IntegrityOnly => true,
            Vouched::NoTrustedKey => false,
        };
        let ok = reasons.is_empty()
            && vouch_ok
            && files.as_ref().is_some_and(|f| f.ok)
            && signatures.as_ref().is_none_or(|s| s.ok)
            && oms.as_ref().is_none_or(|o| o.ok);
        if !ok && reasons.is_empty() {
            reasons.push("the signatures were not shown to vouch for it".into());
        }
        Verdict {
            ok,
            format,
            name,
            manifest_digest,
            size: None,
            files,
            vouched,
            signatures,
            oms,
            pins,
            trust_store,
            log: None,
            reasons,
        }
    }
}

/// "3 file(s) do not verify: a, b, c ..." and the tensor set and index problems.
fn files_reason(f: &Report) -> String {
    let bad: Vec<&str> = f
        .files
        .iter()
        .filter(|x| !x.status.passes())
        .map(|x| x.path.as_str())
        .collect();
    let mut parts = Vec::new();
    if !bad.is_empty() {
        let shown: Vec<&str> = bad.iter().take(5).copied().collect();
        parts.push(format!(
            "{} file(s) do not verify: {}{}",
            bad.len(),
            shown.join(", "),
            if bad.len() > 5 { ", ..." } else { "" }
        ));
    }
    if f.tensor_set.as_ref().is_some_and(|t| !t.ok) {
        parts.push("the tensor set differs".into());
    }
    if !f.index.is_empty() {
        parts.push(format!("{} index problem(s)", f.index.len()));
    }
    if parts.is_empty() {
        parts.push("the files do not verify".into());
    }
    parts.join("; ")
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
    /// The signature file could not be read or the model directory listed.
    #[error(transparent)]
    Oms(OmsError),
    /// Nothing to check an OMS bundle with.
    #[error("verifying an OpenSSF model signing bundle needs the signer's public key (--key PUB), the certificates you trust (--certificate-chain CA.pem), a Sigstore identity (--identity ID --identity-provider URL), or a trust store entry for the model")]
    NoOmsCheck,
}

/// What a signature file given with `--signature` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureKind {
    /// An OpenSSF model signing bundle (a Sigstore bundle, by its media type).
    Oms,
    /// weightseal attestations (DSSE envelopes, one per line).
    Attestations,
}

/// Tells what the signature file at `path` holds, from its media type.
pub fn signature_kind(path: &Path) -> Result<SignatureKind, ReleaseError> {
    let text = oms::read_bundle(path).map_err(ReleaseError::Oms)?;
    Ok(if oms::is_oms_bundle(&text) {
        SignatureKind::Oms
    } else {
        SignatureKind::Attestations
    })
}

/// Judges a release: its files, its signatures of any kind against the trust, and the pins,
/// into one [`Verdict`].
pub fn verify(
    release: Release<'_>,
    ask: &Ask,
    progress: &dyn Progress,
) -> Result<Verdict, ReleaseError> {
    match release {
        Release::Local {
            dir,
            manifest,
            attestations,
            opts,
            log_proof,
        } => {
            // Trust first: a trust store that cannot be read stops before any hashing.
            let resolved = ask.trust.resolve(manifest.name())?;
            let files = verify_dir(dir, manifest, opts, progress)?;
            let v = weightseal_verdict(manifest, Some(files), attestations, ask, resolved)?;
            Ok(with_log(v, ask, log_proof, manifest))
        }
        Release::Checked {
            manifest,
            attestations,
            files,
            signature,
            log_proof,
        } => {
            let resolved = ask.trust.resolve(manifest.name())?;
            let check = resolved
                .policy
                .as_ref()
                .map(|p| OmsCheck::Keys(p.keys_for_role("publisher")));
            let mut v = weightseal_verdict(manifest, Some(files), attestations, ask, resolved)?;
            if let Some(text) = signature {
                let o = signature_against_manifest(text, check.as_ref(), manifest);
                let mut again = Verdict::new(
                    v.format,
                    v.name.clone(),
                    v.manifest_digest,
                    v.files.take(),
                    v.vouched,
                    v.signatures.take(),
                    Some(o),
                    std::mem::take(&mut v.pins),
                    std::mem::take(&mut v.trust_store),
                );
                again.size = v.size;
                v = again;
            }
            Ok(with_log(v, ask, log_proof, manifest))
        }
        Release::Manifest {
            manifest,
            attestations,
            log_proof,
        } => {
            let resolved = ask.trust.resolve(manifest.name())?;
            let v = weightseal_verdict(manifest, None, attestations, ask, resolved)?;
            Ok(with_log(v, ask, log_proof, manifest))
        }
        Release::Oms {
            dir,
            signature,
            check,
            ignore_paths,
            ignore_git,
        } => oms_verdict(dir, signature, check, ignore_paths, ignore_git, ask),
    }
}

/// The verdict with the log proof checked, when the caller requires one.
fn with_log(mut v: Verdict, ask: &Ask, proof: Option<&[u8]>, m: &Manifest) -> Verdict {
    if let Some(policy) = &ask.log {
        let c = check_log(policy, proof, m);
        if let Some(e) = &c.error {
            v.ok = false;
            v.reasons.push(format!("transparency log: {e}"));
        }
        v.log = Some(c);
    }
    v
}

/// Who vouches when no trust applies to the model.
fn unvouched(resolved: &Resolved, ask: &Ask) -> Vouched {
    if ask.pins.digest.is_some() {
        Vouched::DigestPinned
    } else if ask.unsigned == Unsigned::Allow {
        Vouched::IntegrityOnly
    } else if resolved.configured || ask.unsigned == Unsigned::Refuse {
        Vouched::NoTrustedKey
    } else {
        Vouched::NotGiven
    }
}

/// The verdict on a weightseal release; `files: None` judges the manifest alone (the caller
/// checks the bytes as it reads them).
fn weightseal_verdict(
    m: &Manifest,
    files: Option<Report>,
    lines: &[BundleLine],
    ask: &Ask,
    resolved: Resolved,
) -> Result<Verdict, ReleaseError> {
    let pins = check_pins(
        ask.pins.model.as_deref(),
        ask.pins.digest,
        m.name(),
        m.digest(),
    );
    let (vouched, signatures) = match &resolved.policy {
        Some(p) => (
            Vouched::Checked,
            Some(check_release(p, m, lines, ask.now).map_err(ReleaseError::State)?),
        ),
        None => (unvouched(&resolved, ask), None),
    };
    let files_checked = files.is_some();
    let mut v = Verdict::new(
        Format::Weightseal,
        m.name().to_string(),
        Some(m.digest()),
        files.or(Some(Report::new(Vec::new(), Vec::new(), None))),
        vouched,
        signatures,
        None,
        pins,
        resolved.store_entries,
    );
    v.size = Some(m.total_size());
    if !files_checked {
        v.files = None;
    }
    Ok(v)
}

fn oms_verdict(
    dir: &Path,
    signature: &Path,
    check: Option<&OmsCheck>,
    ignore_paths: &[PathBuf],
    ignore_git: bool,
    ask: &Ask,
) -> Result<Verdict, ReleaseError> {
    let (text, identity) = oms::read_signature(signature).map_err(ReleaseError::Oms)?;
    let refused = |method, e: OmsError, store: Vec<String>| {
        Verdict::new(
            Format::Oms,
            String::new(),
            None,
            None,
            Vouched::Checked,
            None,
            Some(OmsReport {
                ok: false,
                method,
                signer: None,
                hash_type: None,
                serialization: None,
                resources: 0,
                legacy: false,
                error: Some(e.to_string()),
            }),
            Vec::new(),
            store,
        )
    };
    let bundle = match oms::Bundle::parse(&text) {
        Ok(b) => b,
        Err(e) => return Ok(refused(None, e, Vec::new())),
    };
    let method = bundle.method();
    // The check: the caller's, or the trust store's publisher keys for the name the statement
    // claims (the signature then authenticates that name).
    let (check, store_entries) = match check {
        Some(c) => (c.clone(), Vec::new()),
        None => {
            let claimed = bundle.claimed_name().unwrap_or_default();
            let resolved = ask.trust.resolve(&claimed)?;
            match resolved.policy {
                Some(p) => (
                    OmsCheck::Keys(p.keys_for_role("publisher")),
                    resolved.store_entries,
                ),
                None if resolved.configured => {
                    return Ok(Verdict::new(
                        Format::Oms,
                        claimed,
                        None,
                        None,
                        Vouched::NoTrustedKey,
                        None,
                        None,
                        Vec::new(),
                        Vec::new(),
                    ))
                }
                None => return Err(ReleaseError::NoOmsCheck),
            }
        }
    };
    let verified = match oms::verify_bundle(&bundle, &check) {
        Ok(v) => v,
        Err(e @ OmsError::Io { .. }) => return Err(ReleaseError::Oms(e)),
        Err(e) => return Ok(refused(Some(method), e, store_entries)),
    };
    let m = &verified.manifest;
    let pins = match m.subject {
        Some(d) => check_pins(ask.pins.model.as_deref(), ask.pins.digest, &m.model_name, d),
        None => {
            let mut p = check_pins(
                ask.pins.model.as_deref(),
                None,
                &m.model_name,
                Digest([0; 32]),
            );
            if let Some(d) = ask.pins.digest {
                p.push(Problem {
                    code: "wrong-digest",
                    detail: format!("asked for {d}, but a model_signing 0.2 signature has no single digest to compare"),
                });
            }
            p
        }
    };
    let ignore = oms::ignored_paths(dir, ignore_paths, ignore_git);
    let files = oms::verify_dir(dir, m, &ignore, Some(&identity)).map_err(ReleaseError::Oms)?;
    Ok(Verdict::new(
        Format::Oms,
        m.model_name.clone(),
        m.subject,
        Some(files),
        Vouched::Checked,
        None,
        Some(OmsReport {
            ok: true,
            method: Some(verified.method),
            signer: Some(verified.signer.clone()),
            hash_type: Some(m.serialization.hash_type.clone()),
            serialization: Some(if m.serialization.shard_size.is_some() {
                "shards"
            } else {
                "files"
            }),
            resources: m.resources.len(),
            legacy: m.legacy,
            error: None,
        }),
        pins,
        store_entries,
    ))
}

/// The OpenSSF model signing bundle of a remote release: `explicit` (a local file or a URL,
/// which must exist), or `URL/model.sig` when the server has one.
pub fn remote_signature(
    remote: &crate::fetch::Remote,
    explicit: Option<&str>,
    limit: u64,
) -> Result<Option<String>, FetchReleaseError> {
    let req = FetchRequest {
        signature: explicit.map(str::to_string),
        bundle_limit: limit,
        ..FetchRequest::default()
    };
    let max = |l: u64, default: u64| if l == 0 { default } else { l.min(default) };
    Ok(release_signature(remote, &req, max)?.map(|(t, _)| t))
}

/// Checks an OMS bundle served with a weightseal release against its manifest: the signature
/// under `check` (when given), then the files it signs, which must be exactly the manifest's
/// files with the SHA-256 the manifest records (`hash --sha256`, as `sign --format both`
/// hashes). The manifest's files themselves are checked against their bytes elsewhere.
pub fn signature_against_manifest(text: &str, check: Option<&OmsCheck>, m: &Manifest) -> OmsReport {
    let mut r = OmsReport {
        ok: false,
        method: None,
        signer: None,
        hash_type: None,
        serialization: None,
        resources: 0,
        legacy: false,
        error: None,
    };
    let outcome = (|| -> Result<(), String> {
        let bundle = oms::Bundle::parse(text).map_err(|e| e.to_string())?;
        r.method = Some(bundle.method());
        let signed = match check {
            Some(c) => {
                let v = oms::verify_bundle(&bundle, c).map_err(|e| e.to_string())?;
                r.signer = Some(v.signer);
                v.manifest
            }
            None => bundle.unverified_statement().map_err(|e| e.to_string())?,
        };
        r.hash_type = Some(signed.serialization.hash_type.clone());
        r.resources = signed.resources.len();
        r.legacy = signed.legacy;
        r.serialization = Some(if signed.serialization.shard_size.is_some() {
            "shards"
        } else {
            "files"
        });
        if signed.serialization.shard_size.is_some() || signed.serialization.hash_type != "sha256" {
            return Err(format!(
                "it signs {} {} digests, which a manifest does not record; check it against the files with `verify DIR --signature`",
                signed.serialization.hash_type,
                if signed.serialization.shard_size.is_some() { "shard" } else { "file" }
            ));
        }
        let mut bad = Vec::new();
        for f in m.files() {
            let p = f.path.as_str();
            match (signed.resources.get(p), f.sha256) {
                (Some((_, d)), Some(s)) if *d == s.to_hex() => {}
                (Some(_), None) => {
                    return Err(format!(
                        "the manifest records no SHA-256 for {p}; hash with --sha256 to compare"
                    ))
                }
                _ => bad.push(p.to_string()),
            }
        }
        for p in signed.resources.keys() {
            if m.file(p).is_none() {
                bad.push(p.clone());
            }
        }
        if !bad.is_empty() {
            bad.sort();
            bad.dedup();
            return Err(format!(
                "it signs other files than the manifest lists: {}",
                bad.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => r.ok = true,
        Err(e) => r.error = Some(e),
    }
    r
}

/// Where the trust for a release comes from.
// One value per call: the policy variant's size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Default)]
pub enum Trust {
    /// Nobody vouches for the manifest: files are checked against it for integrity only.
    #[default]
    Nothing,
    /// Keys or a policy the caller gave.
    Policy(Policy),
    /// The entries of the trust store at this path that match the model's name (nothing when
    /// none match).
    Store(PathBuf),
}

/// The trust that applies to one model.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub policy: Option<Policy>,
    /// The trust store entries used, `name (role for pattern)`, when they were.
    pub store_entries: Vec<String>,
    pub store_path: Option<PathBuf>,
    /// Whether the caller configured any trust: keys, a policy, or a trust store with entries
    /// (whether or not they match this model).
    pub configured: bool,
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

    /// The policy for model `name` (matched against trust store patterns with the same case
    /// and Unicode folding as paths).
    pub fn resolve(&self, name: &str) -> Result<Resolved, ReleaseError> {
        match self {
            Trust::Nothing => Ok(Resolved::default()),
            Trust::Policy(p) => Ok(Resolved {
                policy: Some(p.clone()),
                configured: true,
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
                    configured: !store.entries.is_empty(),
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
    /// A local attestation bundle or a URL, or (`None`) beside a local manifest, else
    /// `URL/weightseal.intoto.jsonl` (absent: none).
    pub attestations: Option<String>,
    pub trust: Trust,
    /// Download even when nobody vouches for the manifest (integrity checking only).
    pub allow_unsigned: bool,
    pub pins: Pins,
    /// Largest manifest and bundle downloaded.
    pub manifest_limit: u64,
    pub bundle_limit: u64,
    /// The OpenSSF model signing bundle of the release: a local file or a URL (it must then
    /// verify), or (`None`) `URL/model.sig` when the server has one. It is delivered as
    /// `DEST/model.sig` once the files it lists are the files delivered.
    pub signature: Option<String>,
    /// How to check that bundle's signature (the publisher's keys, usually); `None`: its
    /// files are checked, its signature is not.
    pub oms_check: Option<OmsCheck>,
    /// Require `URL/weightseal.tlog-proof` to prove the release is in this log (checked
    /// before any weight byte is requested, and delivered with the release).
    pub log: Option<crate::log::LogPolicy>,
}

/// The outcome of [`fetch_release`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FetchVerdict {
    ok: bool,
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
    pub vouched: Vouched,
    /// The OpenSSF model signing bundle delivered with the release, as checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oms: Option<OmsReport>,
    /// The transparency log proof, when one was required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogCheck>,
    /// Why the fetch is not verified, most important first (empty when it is).
    pub reasons: Vec<String>,
}

impl FetchVerdict {
    /// Every file is in place and verified, whoever must vouch for the manifest did (trust
    /// met, or a digest pin, or integrity only as asked) and the pins hold.
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// Sets `ok` and `reasons` from the parts: the one place a fetch is judged.
    fn judge(mut self) -> FetchVerdict {
        let mut reasons: Vec<String> = self
            .pins
            .iter()
            .map(|p| format!("{}: {}", p.code, p.detail))
            .collect();
        if let Some(s) = self.signatures.as_ref().filter(|s| !s.ok) {
            let codes: Vec<&str> = s.problems.iter().map(|p| p.code).collect();
            reasons.push(format!(
                "the attestations do not meet the trust{}; nothing was downloaded",
                if codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", codes.join(", "))
                }
            ));
        }
        if let Some(e) = self.log.as_ref().and_then(|l| l.error.as_ref()) {
            reasons.push(format!("transparency log: {e}; nothing was downloaded"));
        }
        if let Some(e) = self.oms.as_ref().and_then(|o| o.error.as_ref()) {
            reasons.push(format!("{}: {e}", crate::path::OMS_SIGNATURE_FILE));
        }
        match &self.files {
            None if reasons.is_empty() => reasons.push("nothing was downloaded".into()),
            None => {}
            Some(r) => {
                let failed = r.files.iter().filter(|f| f.error.is_some()).count();
                let extra = r.extra.iter().filter(|x| !x.allowed).count();
                if failed > 0 {
                    reasons.push(format!("{failed} file(s) failed"));
                }
                if extra > 0 {
                    reasons.push(format!(
                        "the destination holds {extra} file(s) the manifest does not list"
                    ));
                }
                if !r.ok && failed == 0 && extra == 0 {
                    reasons.push("the download did not verify".into());
                }
            }
        }
        let vouch_ok = match self.vouched {
            Vouched::Checked => self.signatures.as_ref().is_some_and(|s| s.ok),
            Vouched::DigestPinned | Vouched::IntegrityOnly | Vouched::NotGiven => true,
            Vouched::NoTrustedKey => false,
        };
        self.ok = reasons.is_empty() && vouch_ok && self.files.as_ref().is_some_and(|f| f.ok);
        self.reasons = reasons;
        self
    }
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

/// Where the attestations of a remote release are: `explicit` (a local file or a URL), or
/// beside a local manifest (`manifest`, as `verify DIR` finds them: a mirror checked against
/// the publisher's manifest is judged by the publisher's attestations, not the mirror's), or
/// `URL/weightseal.intoto.jsonl`.
pub fn attestations_source(explicit: Option<&str>, manifest: Option<&str>) -> Option<String> {
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    match (explicit, manifest) {
        (Some(e), _) => Some(e.to_string()),
        (None, Some(m)) if !is_url(m) => Some(
            crate::path::attestations_for(Path::new(m))
                .display()
                .to_string(),
        ),
        _ => None,
    }
}

/// The attestations of a remote model (`explicit`: a local bundle or a URL, or `None` for
/// `URL/weightseal.intoto.jsonl`; absent meaning none), with the text to keep beside the
/// files.
pub fn remote_bundle(
    remote: &crate::fetch::Remote,
    explicit: Option<&str>,
    limit: u64,
) -> Result<(Vec<BundleLine>, Option<String>), FetchReleaseError> {
    use crate::attest::bundle;
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    if let Some(p) = explicit.filter(|p| !is_url(p)) {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            // Beside a local manifest, none is none.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
            Err(source) => {
                return Err(FetchReleaseError::Io {
                    path: p.into(),
                    source,
                })
            }
        };
        return Ok((bundle::parse(&text), Some(text)));
    }
    let url = explicit
        .map(str::to_string)
        .unwrap_or_else(|| remote.url_for(crate::path::ATTESTATION_FILE));
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
/// assert!(v.ok(), "not verified: {:?}", v.reasons);
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
    let ask = Ask {
        trust: req.trust.clone(),
        pins: req.pins.clone(),
        unsigned: if req.allow_unsigned {
            Unsigned::Allow
        } else {
            Unsigned::Refuse
        },
        now: Timestamp::now(),
        log: req.log.clone(),
    };
    let vouched = match resolved.policy {
        Some(_) => Vouched::Checked,
        None => unvouched(&resolved, &ask),
    };
    if vouched == Vouched::NoTrustedKey {
        return Err(FetchReleaseError::Unvouched {
            name: m.name().to_string(),
        });
    }
    let mut verdict = FetchVerdict {
        ok: false,
        vouched,
        oms: None,
        log: None,
        reasons: Vec::new(),
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
        return Ok(verdict.judge());
    }
    // The log proof, before any weight byte.
    let mut proof_bytes = None;
    if let Some(policy) = &req.log {
        let url = remote.url_for(crate::path::LOG_PROOF_FILE);
        proof_bytes = remote.get_document(&url, crate::log::proof::MAX_PROOF_LEN as u64)?;
        let c = check_log(policy, proof_bytes.as_deref(), &m);
        let ok = c.ok;
        verdict.log = Some(c);
        if !ok {
            return Ok(verdict.judge());
        }
    }
    let source = attestations_source(req.attestations.as_deref(), req.manifest.as_deref());
    let (lines, bundle_text) = remote_bundle(
        remote,
        source.as_deref(),
        limit(req.bundle_limit, crate::attest::bundle::MAX_BUNDLE_LEN),
    )?;
    if let Some(p) = &resolved.policy {
        let report = check_release(p, &m, &lines, ask.now).map_err(ReleaseError::State)?;
        let met = report.ok;
        verdict.signatures = Some(report);
        if !met {
            return Ok(verdict.judge());
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
        if let Some(p) = &proof_bytes {
            root.write_atomic(crate::path::LOG_PROOF_FILE, p, 0o644)
                .map_err(dest_err)?;
        }
        // The OpenSSF model signing bundle, delivered only once the files it lists are the
        // files just delivered (and its signature verified, when it can be checked).
        if let Some((text, explicit)) = release_signature(remote, req, limit)? {
            let checked = check_delivered_signature(dest, &text, req.oms_check.as_ref(), explicit);
            if checked.error.is_none() {
                root.write_atomic(crate::path::OMS_SIGNATURE_FILE, text.as_bytes(), 0o644)
                    .map_err(dest_err)?;
            }
            verdict.oms = Some(checked);
        }
    }
    verdict.files = Some(report);
    Ok(verdict.judge())
}

/// The OpenSSF model signing bundle of a release being fetched, and whether the caller named
/// it (then it must verify): `req.signature` (a file or URL), else `URL/model.sig` if the
/// server has one.
fn release_signature(
    remote: &crate::fetch::Remote,
    req: &FetchRequest,
    limit: impl Fn(u64, u64) -> u64,
) -> Result<Option<(String, bool)>, FetchReleaseError> {
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    let max = limit(req.bundle_limit, oms::MAX_BUNDLE_LEN);
    let bytes = match req.signature.as_deref() {
        Some(p) if !is_url(p) => {
            let (text, _) = oms::read_signature(Path::new(p)).map_err(|e| match e {
                OmsError::Io { path, source } => FetchReleaseError::Io { path, source },
                e => FetchReleaseError::Io {
                    path: p.into(),
                    source: std::io::Error::other(e.to_string()),
                },
            })?;
            return Ok(Some((text, true)));
        }
        Some(url) => remote.get_document(url, max)?,
        None => remote.get_document(&remote.url_for(crate::path::OMS_SIGNATURE_FILE), max)?,
    };
    let explicit = req.signature.is_some();
    match bytes {
        None if explicit => Err(FetchReleaseError::NoManifest {
            origin: crate::net::redact_url(req.signature.as_deref().unwrap_or_default()),
        }),
        None => Ok(None),
        Some(b) => Ok(Some((String::from_utf8_lossy(&b).into_owned(), explicit))),
    }
}

/// Checks an OMS bundle against the files delivered into `dest`: its statement's files must
/// be exactly those files; its signature is verified with `check` when given. A bundle the
/// caller did not name whose key hint matches none of the given keys is checked for its files
/// only, and says so; one whose signature fails under a key it names is refused.
fn check_delivered_signature(
    dest: &Path,
    text: &str,
    check: Option<&OmsCheck>,
    explicit: bool,
) -> OmsReport {
    let mut r = OmsReport {
        ok: false,
        method: None,
        signer: None,
        hash_type: None,
        serialization: None,
        resources: 0,
        legacy: false,
        error: None,
    };
    let bundle = match oms::Bundle::parse(text) {
        Ok(b) => b,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    r.method = Some(bundle.method());
    let signed = match check.map(|c| oms::verify_bundle(&bundle, c)) {
        Some(Ok(v)) => {
            r.signer = Some(v.signer);
            Ok(v.manifest)
        }
        Some(Err(OmsError::KeyMismatch { .. } | OmsError::UnsupportedMethod(..))) | None
            if !explicit =>
        {
            bundle.unverified_statement()
        }
        Some(Err(e)) => Err(e),
        None => Err(OmsError::Statement(
            "no key, certificate or identity to check it with".into(),
        )),
    };
    let m = match signed {
        Ok(m) => m,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    r.hash_type = Some(m.serialization.hash_type.clone());
    r.serialization = Some(if m.serialization.shard_size.is_some() {
        "shards"
    } else {
        "files"
    });
    r.resources = m.resources.len();
    r.legacy = m.legacy;
    let ignore = vec![crate::path::PARTIAL_DIR.to_string()];
    match oms::verify_dir(dest, &m, &ignore, None) {
        Ok(files) if files.ok => r.ok = true,
        Ok(files) => {
            let bad: Vec<String> = files
                .files
                .iter()
                .filter(|f| !f.status.passes())
                .map(|f| f.path.clone())
                .take(5)
                .collect();
            r.error = Some(format!(
                "it signs other files than those delivered: {}",
                bad.join(", ")
            ));
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r
}
