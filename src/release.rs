//! THE judge. Verifying a release as a whole — the files against what was signed, every kind of
//! signature (weightseal attestations, OpenSSF model signing bundles with a key, a certificate
//! chain or a Sigstore identity) against the trust the user gives (keys, a policy or the trust
//! store), the pins they asked for and the transparency log proof they require — in one typed
//! [`Verdict`]. The question is an [`Ask`] (made only by [`Ask::new`]); the evidence is what
//! [`crate::evidence::gather`] found. The CLI and the Python package render the verdict; they
//! never decide. [`Verdict::ok`] is the only source of a success, and [`Verdict::to_json`] its
//! one machine-readable shape.
//!
//! Three entry points, one verdict type:
//! - [`admit`]: the manifest alone (trust, pins, log), before any weight byte — the verified
//!   loader, which then checks each tensor as it reads it;
//! - [`verify`]: admission and the files (on disk, or streamed from a mirror);
//! - [`fetch`]: admission, then a download that verifies every chunk on arrival.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use weightseal::ask::{Ask, AskOptions};
//! use weightseal::attest::{attest, Claims, PrivateKey};
//! use weightseal::attest::time::Timestamp;
//! use weightseal::evidence::{gather, Locators, Source};
//! use weightseal::manifest::{build, BuildOptions};
//! use weightseal::progress::NoProgress;
//! use weightseal::release::{verify, CheckOptions};
//!
//! // Publish: hash a directory and sign its manifest.
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("weights.bin"), vec![7u8; 100_000])?;
//! let opts = BuildOptions { name: Some("org/model".into()), ..Default::default() };
//! let m = build(dir.path(), &opts, &NoProgress)?.manifest;
//! std::fs::write(dir.path().join("weightseal.manifest"), m.encode())?;
//! let key = PrivateKey::from_seed(&[1; 32]);
//! let claims = Claims {
//!     role: "publisher".into(), signer: "ACME".into(), issued_at: Timestamp::now(),
//!     expires_at: None, version: Some(1), derived_from: vec![], annotations: Default::default(),
//! };
//! let line = attest(&m, &key, &claims)?.to_line();
//! std::fs::write(dir.path().join("weightseal.intoto.jsonl"), format!("{line}\n"))?;
//!
//! // Verify: the files, the signature by the publisher's key, the pinned model name.
//! let mut asked = AskOptions {
//!     public_keys: vec![("acme".into(), key.public())],
//!     model: Some("org/model".into()),
//!     trust_store: false,
//!     ..AskOptions::default()
//! };
//! let ev = gather(&Source::Local(dir.path()), &Locators::default())?;
//! let v = verify(&ev, &Ask::new(&asked)?, &CheckOptions::default(), &NoProgress)?;
//! assert!(v.ok() && v.signatures.as_ref().unwrap().ok);
//!
//! // The same release, asked for under another name: refused, and the verdict says why.
//! asked.model = Some("org/other".into());
//! let v = verify(&ev, &Ask::new(&asked)?, &CheckOptions::default(), &NoProgress)?;
//! assert!(!v.ok() && v.reasons[0].starts_with("wrong-model"));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::ask::{Ask, AskOptions};
use crate::attest::policy::{check_pins, PolicyReport, Problem};
use crate::attest::{check_release, Policy};
use crate::digest::Digest;
use crate::evidence::{Evidence, OmsSignature, Place, Signed, Weightseal};
use crate::fetch::FetchReport;
use crate::manifest::Manifest;
use crate::oms::{self, OmsCheck, OmsError};
use crate::progress::Progress;
use crate::verify::{verify_dir, ExtraFiles, Mode, Report, VerifyError, VerifyOptions};
use crate::walk::Symlinks;

/// What the user asked for: the model's name and/or the exact manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub model: Option<String>,
    pub digest: Option<Digest>,
}

/// What to do when nobody the user trusts vouches for a release. One rule for every front
/// end: refused, unless the caller asked for integrity only (a digest pin vouches by itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unsigned {
    /// Refuse it: trust (keys, a policy, a trust store entry for the model) or a digest pin is
    /// required.
    #[default]
    Refuse,
    /// Accept it for integrity only (`--integrity-only`, `--allow-unsigned`,
    /// `allow_unsigned=True`): the verdict says so, and never that it was signed.
    Allow,
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
    /// The manifest is the one the `--digest` pin names (learned out of band).
    DigestPinned,
    /// The caller asked for integrity only.
    IntegrityOnly,
    /// Nobody the caller trusts vouches: no trust is configured, or none applies to this
    /// model's name.
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
    /// The rule of the OMS v1.0 specification the bundle breaks, when that is why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<oms::SpecRule>,
}

/// How far a release got before it was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checked {
    /// The manifest alone (the loader checks each tensor as it reads it), or a release refused
    /// before any weight byte was read.
    Manifest,
    /// The files, on disk or streamed from a mirror (`files`).
    Files,
    /// A download (`download`).
    Download,
}

/// The verdict on a release: the one answer every front end renders. Exit code 0, `"ok":
/// true` and every success word come from [`Verdict::ok`], which no front end can set.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// What was checked: the manifest alone, the files, or a download.
    pub checked: Checked,
    /// The files against the manifest (`verify`); `None` when they were not checked.
    pub files: Option<Report>,
    /// The download (`fetch`).
    pub download: Option<FetchReport>,
    pub vouched: Vouched,
    /// The weightseal attestations against the trust, when judged.
    pub signatures: Option<PolicyReport>,
    /// The OpenSSF model signing signature, when there is one.
    pub oms: Option<OmsReport>,
    /// Pins that do not hold.
    pub pins: Vec<Problem>,
    /// The trust store entries that supplied the trust, when they did.
    pub trust_store: Vec<String>,
    /// The transparency log proof, when one was required.
    pub log: Option<LogCheck>,
    /// A mirror checked against the manifest it serves itself.
    pub self_served: bool,
    /// `verify --url --sample F`: the fraction of each file's chunks checked.
    pub sample: Option<f64>,
    /// Whether any trust was configured (keys, a policy, trust store entries).
    #[serde(skip)]
    trust_configured: bool,
    /// Why the release is not verified, most important first (empty when it is).
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Every file verified, whoever must vouch for the manifest did, every pin holds and the
    /// log proof (when required) holds.
    pub fn ok(&self) -> bool {
        self.ok
    }

    fn new(format: Format, name: String, manifest_digest: Option<Digest>) -> Verdict {
        Verdict {
            ok: false,
            format,
            name,
            manifest_digest,
            size: None,
            checked: Checked::Manifest,
            files: None,
            download: None,
            vouched: Vouched::Checked,
            signatures: None,
            oms: None,
            pins: Vec::new(),
            trust_store: Vec::new(),
            log: None,
            self_served: false,
            sample: None,
            trust_configured: true,
            reasons: Vec::new(),
        }
    }

    /// Sets `ok` and `reasons` from the parts: the one place a release is judged.
    fn judge(mut self) -> Verdict {
        let mut reasons: Vec<String> = self
            .pins
            .iter()
            .map(|p| format!("{}: {}", p.code, p.detail))
            .collect();
        if self.vouched == Vouched::NoTrustedKey {
            reasons.push(if self.trust_configured {
                format!(
                    "nobody vouches for its manifest: no key you trust is assigned to the model {:?}",
                    self.name
                )
            } else {
                "nobody vouches for its manifest: no trust is configured (no key, no policy, no trust store entry) and no digest is pinned".to_string()
            });
        }
        if let Some(s) = self.signatures.as_ref().filter(|s| !s.ok) {
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
        if let Some(e) = self.log.as_ref().and_then(|l| l.error.as_ref()) {
            reasons.push(format!("transparency log: {e}"));
        }
        if let Some(e) = self.oms.as_ref().and_then(|o| o.error.as_ref()) {
            reasons.push(match self.format {
                Format::Oms => format!("the signature does not verify: {e}"),
                Format::Weightseal => format!("{}: {e}", crate::path::OMS_SIGNATURE_FILE),
            });
        }
        let files_ok = match self.checked {
            Checked::Manifest => true,
            Checked::Files => match &self.files {
                Some(f) if !f.ok => {
                    reasons.push(files_reason(f));
                    false
                }
                Some(_) => true,
                None => false,
            },
            Checked::Download => match &self.download {
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
                    r.ok
                }
                None => false,
            },
        };
        let vouch_ok = match self.vouched {
            Vouched::Checked => {
                self.signatures.as_ref().is_some_and(|s| s.ok)
                    || self.oms.as_ref().is_some_and(|o| o.ok)
            }
            Vouched::DigestPinned | Vouched::IntegrityOnly => true,
            Vouched::NoTrustedKey => false,
        };
        let ok = reasons.is_empty()
            && vouch_ok
            && files_ok
            && self.signatures.as_ref().is_none_or(|s| s.ok)
            && self.oms.as_ref().is_none_or(|o| o.ok)
            && self.log.as_ref().is_none_or(|l| l.ok);
        if !ok && reasons.is_empty() {
            reasons.push("the signatures were not shown to vouch for it".into());
        }
        self.ok = ok;
        self.reasons = reasons;
        self
    }

    /// The verdict as JSON: the one machine-readable shape, used by `verify --json`, `fetch
    /// --json` and the Python package. The files report's fields (`verify`: each file's
    /// status; `fetch`: each file's download) are at the top level; then `name`,
    /// `manifest_digest`, `format`, `checked`, `vouched`, `signatures` (the weightseal
    /// attestations as judged, or null), `oms` (the OpenSSF signature as judged, or null),
    /// `pins`, `trust_store`, `log` (or null), `sample` (or null), `self_served`, `reasons` and
    /// `ok`. `spec/verification.md` lists every field.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let mut j = match (&self.files, &self.download) {
            (Some(r), _) => {
                let mut j = serde_json::to_value(r).expect("a report serializes");
                // Each file entry of a sampled check says how much of it was read.
                if let Some(files) = j["files"].as_array_mut() {
                    for f in files {
                        let path = f["path"].as_str().unwrap_or_default().to_string();
                        if let Some(x) = r.sampled(&path) {
                            f["sampled"] = json!({"checked": x.checked, "chunks": x.chunks});
                        }
                    }
                }
                j
            }
            (None, Some(d)) => serde_json::to_value(d).expect("a fetch report serializes"),
            (None, None) => json!({"files": []}),
        };
        j["name"] = json!(self.name);
        j["manifest_digest"] = json!(self.manifest_digest.map(|d| d.to_hex()));
        j["format"] = json!(self.format);
        j["size"] = json!(self.size);
        j["checked"] = json!(self.checked);
        j["vouched"] = json!(self.vouched);
        j["signatures"] = serde_json::to_value(&self.signatures).expect("a report serializes");
        j["oms"] = serde_json::to_value(&self.oms).expect("a report serializes");
        j["pins"] = serde_json::to_value(&self.pins).expect("problems serialize");
        j["trust_store"] = json!(self.trust_store);
        j["log"] = serde_json::to_value(&self.log).expect("a log check serializes");
        j["sample"] = json!(self.sample);
        j["self_served"] = json!(self.self_served);
        j["reasons"] = json!(self.reasons);
        j["ok"] = json!(self.ok);
        j
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
    #[error("nothing to check the OpenSSF model signing bundle with: no public key, no trusted certificate, no Sigstore identity, and no trust store entry for the model it names")]
    NoOmsCheck,
    /// A trust policy judges weightseal attestations; an OMS bundle has none.
    #[error("a trust policy judges weightseal attestations, and an OpenSSF model signing bundle carries none: it is checked with a key, a certificate chain or a Sigstore identity")]
    PolicyForOms,
    /// A transparency log proof is of a weightseal release.
    #[error("a transparency log proof is of a weightseal release (its manifest); an OpenSSF model signing bundle is not logged")]
    LogForOms,
    /// The call does not apply to this kind of evidence.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    #[error("{}: {source}", dest.display())]
    Destination {
        dest: PathBuf,
        #[source]
        source: crate::safedir::SafeDirError,
    },
}

/// How to check the files (the parts of `verify` that are not about trust).
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Files, or re-shard tolerant tensors.
    pub mode: Mode,
    /// Files the manifest does not list.
    pub extra: ExtraFiles,
    /// Read symlinks to files as those files (a Hugging Face snapshot always is read so,
    /// its links having been checked).
    pub follow_symlinks: bool,
    /// A mirror: check only this fraction of each file's chunks.
    pub sample: Option<f64>,
    /// An OpenSSF bundle: paths left out, as model_signing takes them.
    pub ignore_paths: Vec<PathBuf>,
    /// An OpenSSF bundle: leave out `.git`, `.github`, `.gitattributes`, `.gitignore`.
    pub ignore_git: bool,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            mode: Mode::Files,
            extra: ExtraFiles::Reject,
            follow_symlinks: false,
            sample: None,
            ignore_paths: Vec::new(),
            ignore_git: true,
        }
    }
}

/// Who vouches when no trust applies to the model.
fn unvouched(ask: &Ask) -> Vouched {
    if ask.pins().digest.is_some() {
        Vouched::DigestPinned
    } else if ask.unsigned() == Unsigned::Allow {
        Vouched::IntegrityOnly
    } else {
        Vouched::NoTrustedKey
    }
}

/// The manifest of a weightseal release against the trust, the pins and the log: the verdict
/// before any weight byte (not yet judged), and how an OpenSSF bundle served with the release
/// is checked: the caller's method, else the publisher keys of the trust that applies to the
/// model (resolved once, here).
fn admit_weightseal(
    w: &Weightseal,
    ask: &Ask,
) -> Result<(Verdict, Option<OmsCheck>), ReleaseError> {
    let m = &w.manifest;
    let resolved = ask.trust().resolve(m.name())?;
    let mut v = Verdict::new(Format::Weightseal, m.name().to_string(), Some(m.digest()));
    v.size = Some(m.total_size());
    v.pins = check_pins(
        ask.pins().model.as_deref(),
        ask.pins().digest,
        m.name(),
        m.digest(),
    );
    v.trust_configured = resolved.configured;
    if let Some(log) = ask.log_for(resolved.policy.as_ref()) {
        v.log = Some(check_log(&log, w.log_proof.as_deref(), m));
    }
    match &resolved.policy {
        Some(p) => {
            v.vouched = Vouched::Checked;
            v.signatures =
                Some(check_release(p, m, &w.attestations, ask.now()).map_err(ReleaseError::State)?);
        }
        None => v.vouched = unvouched(ask),
    }
    // The version a verifier reads must be one the log holds for this release: else a thief
    // with the key logs the manifest unversioned and ships a version-3 attestation beside it,
    // and a monitor watching versions never sees version 3 (spec/log.md, step 6).
    if let (Some(log), Some(sig), Some(p)) = (v.log.as_mut(), &v.signatures, &resolved.policy) {
        if let (true, Some(version), Some(entry)) = (
            log.ok,
            sig.version,
            log.proof.as_ref().and_then(|r| r.entry.as_ref()),
        ) {
            let roles: Vec<&str> = p.version_roles.iter().map(String::as_str).collect();
            let (logged, _) = entry.versions_stated_by(&roles);
            if !logged.contains(&version) {
                log.ok = false;
                log.error = Some(format!(
                    "the release states version {version}, but its logged entry states {}: the version was not logged",
                    if logged.is_empty() {
                        "none".to_string()
                    } else {
                        logged.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                    }
                ));
            }
        }
    }
    v.trust_store = resolved.store_entries;
    let oms_check = match ask.oms_check() {
        Some(c) => Some(c.clone()),
        None => resolved
            .policy
            .map(|p| OmsCheck::Keys(p.keys_for_role("publisher"))),
    };
    Ok((v, oms_check))
}

/// Judges a release's manifest alone — trust, pins, the log proof — before any weight byte is
/// read: the verified loader reads each tensor afterwards and checks it against this manifest.
pub fn admit(ev: &Evidence, ask: &Ask) -> Result<Verdict, ReleaseError> {
    match &ev.signed {
        Signed::Weightseal(w) => Ok(admit_weightseal(w, ask)?.0.judge()),
        Signed::Oms(_) => Err(ReleaseError::Unsupported(
            "an OpenSSF model signing bundle is judged with the files it signs, not alone",
        )),
    }
}

/// Judges a release: admission (trust, pins, log), then its files — on disk, or streamed from
/// a mirror once admitted (nothing is requested of a refused release) — and any OpenSSF
/// signature served with it, into one [`Verdict`].
pub fn verify(
    ev: &Evidence,
    ask: &Ask,
    how: &CheckOptions,
    progress: &dyn Progress,
) -> Result<Verdict, ReleaseError> {
    match (&ev.signed, &ev.place) {
        (Signed::Oms(sig), Place::Local { dir, .. }) => {
            if ask.policy_given() {
                return Err(ReleaseError::PolicyForOms);
            }
            if ask.log_asked() {
                return Err(ReleaseError::LogForOms);
            }
            oms_verdict(dir, sig, ask, &how.ignore_paths, how.ignore_git).map(Verdict::judge)
        }
        (Signed::Oms(_), Place::Remote(_)) => Err(ReleaseError::Unsupported(
            "an OpenSSF model signing bundle is verified against a model directory on disk",
        )),
        (
            Signed::Weightseal(w),
            Place::Local {
                dir,
                only,
                manifest_path,
                snapshot,
            },
        ) => {
            let (mut v, _) = admit_weightseal(w, ask)?;
            let opts = VerifyOptions {
                mode: how.mode,
                extra: how.extra,
                symlinks: if how.follow_symlinks || *snapshot {
                    Symlinks::Follow
                } else {
                    Symlinks::Refuse
                },
                exclude: manifest_path.iter().cloned().collect(),
                only: only.clone(),
            };
            v.files = Some(verify_dir(dir, &w.manifest, &opts, progress)?);
            v.checked = Checked::Files;
            Ok(v.judge())
        }
        (Signed::Weightseal(w), Place::Remote(remote)) => {
            let (mut v, check) = admit_weightseal(w, ask)?;
            v.self_served = ev.self_served();
            v.sample = how.sample;
            let admitted = v.judge();
            if !admitted.ok() {
                return Ok(admitted);
            }
            let mut v = admitted;
            // An OpenSSF signature names files by SHA-256: computed from the bytes streamed
            // here, never taken from the manifest (spec/manifest.md, "Security").
            let (files, sha256) = crate::fetch::verify_remote(
                remote,
                &w.manifest,
                how.sample,
                w.oms_signature.is_some() && how.sample.is_none(),
                progress,
            );
            v.files = Some(files);
            v.checked = Checked::Files;
            // A sample reads part of each file, so a served model.sig the caller did not name
            // is not judged by it (its SHA-256 values need every byte); one they named is, and
            // fails as not checked.
            let judged = w
                .oms_signature
                .as_ref()
                .filter(|(_, explicit)| *explicit || how.sample.is_none());
            if let Some((text, explicit)) = judged {
                // A single-file model's bundle signs its one file (`.`), as `fetch` judges it.
                let evidence = match remote.single_file() {
                    Some(_) => Vec::new(),
                    None => w.evidence(),
                };
                v.oms = Some(signature_against_manifest(
                    text,
                    check.as_ref(),
                    *explicit,
                    &w.manifest,
                    remote.single_file(),
                    &evidence,
                    &sha256,
                ));
            }
            Ok(v.judge())
        }
    }
}

/// Downloads the release into `dest`, verifying as it goes: the manifest's trust, pins and log
/// proof are judged before any weight byte is requested; each chunk is checked on arrival and
/// each file lands at its final path only once all of it verified. When every file verified,
/// the release's evidence (manifest, attestations, log proof, and an OpenSSF bundle whose files
/// are the files delivered) is written beside them, so that verifying `dest` later judges it
/// as this fetch did.
pub fn fetch(
    ev: &Evidence,
    ask: &Ask,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<Verdict, ReleaseError> {
    let (Signed::Weightseal(w), Place::Remote(remote)) = (&ev.signed, &ev.place) else {
        return Err(ReleaseError::Unsupported(
            "a fetch downloads a weightseal release from a URL",
        ));
    };
    let (mut v, check) = admit_weightseal(w, ask)?;
    v.self_served = ev.self_served();
    let admitted = v.judge();
    if !admitted.ok() {
        return Ok(admitted);
    }
    let mut v = admitted;
    let report = crate::fetch::fetch(remote, &w.manifest, dest, progress)?;
    let delivered = report.files.iter().all(|f| f.error.is_none());
    // The OpenSSF model signing bundle: its files must be the files just delivered (and its
    // signature verify, when it can be checked).
    if let (true, Some((text, explicit))) = (delivered, &w.oms_signature) {
        // The evidence this fetch is about to deliver is judged from its bytes: a signature
        // made after a log proof was added covers the proof, which is not in DEST yet. A
        // single-file model's bundle signs its one file (model_signing's `.`), not DEST.
        // Evidence this release lacks is not delivered (an earlier release's copy in DEST is
        // removed below): a bundle that signs it does not sign what is delivered.
        let (target, pending, lacking) = match remote.single_file() {
            Some(file) => (dest.join(file), Vec::new(), Vec::new()),
            None => (
                dest.to_path_buf(),
                w.evidence(),
                [
                    (crate::path::ATTESTATION_FILE, w.bundle_text.is_none()),
                    (crate::path::LOG_PROOF_FILE, w.log_proof.is_none()),
                ]
                .into_iter()
                .filter(|(_, lacks)| *lacks)
                .map(|(n, _)| n.to_string())
                .collect(),
            ),
        };
        v.oms = Some(check_delivered_signature(
            &target,
            text,
            check.as_ref(),
            *explicit,
            &pending,
            lacking,
        ));
    }
    v.download = Some(report);
    v.checked = Checked::Download;
    let v = v.judge();
    // The release's evidence goes beside the files only when the fetch is verified, so that
    // `verify DEST` never accepts a release this fetch refused.
    if v.ok() {
        // Through the destination's handle: a link planted at these names is refused, not
        // followed or replaced.
        let dest_err = |source| ReleaseError::Destination {
            dest: dest.to_path_buf(),
            source,
        };
        let root = crate::safedir::Dir::open(dest, false).map_err(dest_err)?;
        // A single-file model's evidence lands as `FILE.weightseal.manifest` … beside it, so
        // that `verify DEST/FILE` finds it.
        let name = |n: &str| remote.weightseal_evidence(n);
        // Evidence a previous fetch left at these names that this release does not have is
        // another release's: removed, so that DEST holds this release's evidence only.
        let stale = |n: &str| match root.remove_file(&name(n)) {
            Err(e) if !e.is_not_found() => Err(dest_err(e)),
            _ => Ok(()),
        };
        root.write_atomic(&name(crate::path::MANIFEST_FILE), &w.manifest_bytes, 0o644)
            .map_err(dest_err)?;
        match &w.bundle_text {
            Some(text) => root
                .write_atomic(&name(crate::path::ATTESTATION_FILE), text, 0o644)
                .map_err(dest_err)?,
            None => stale(crate::path::ATTESTATION_FILE)?,
        }
        match &w.log_proof {
            Some(p) => root
                .write_atomic(&name(crate::path::LOG_PROOF_FILE), p, 0o644)
                .map_err(dest_err)?,
            None => stale(crate::path::LOG_PROOF_FILE)?,
        }
        // model.sig is delivered only once its signature verified (a signer is named), not
        // when it was read for its files alone: `verify DEST --signature model.sig` must not
        // meet a signature nobody checked (README, "Mirrors").
        let checked = v
            .oms
            .as_ref()
            .is_some_and(|o| o.error.is_none() && o.signer.is_some());
        // A single-file model has no name for it: DEST/model.sig is not the model's, and is
        // left alone.
        match (&w.oms_signature, checked, remote.single_file()) {
            (_, _, Some(_)) => {}
            (Some((text, _)), true, None) => root
                .write_atomic(crate::path::OMS_SIGNATURE_FILE, text.as_bytes(), 0o644)
                .map_err(dest_err)?,
            _ => stale(crate::path::OMS_SIGNATURE_FILE)?,
        }
    }
    Ok(v)
}

/// Checks `proof` (the bytes of `weightseal.tlog-proof`, if any) for the release `m` against
/// the log requirement `policy`.
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

/// An OpenSSF report with nothing verified yet.
fn oms_report(method: Option<oms::Method>, error: Option<String>) -> OmsReport {
    oms_report_rule(method, error, None)
}

/// An OpenSSF report with nothing verified yet, refused for `rule` when given.
fn oms_report_rule(
    method: Option<oms::Method>,
    error: Option<String>,
    rule: Option<oms::SpecRule>,
) -> OmsReport {
    OmsReport {
        ok: false,
        method,
        signer: None,
        hash_type: None,
        serialization: None,
        resources: 0,
        legacy: false,
        error,
        rule,
    }
}

/// The verdict on a directory signed with an OpenSSF bundle (not yet judged).
fn oms_verdict(
    dir: &Path,
    sig: &OmsSignature,
    ask: &Ask,
    ignore_paths: &[PathBuf],
    ignore_git: bool,
) -> Result<Verdict, ReleaseError> {
    let refused = |method, e: OmsError, store: Vec<String>| {
        let mut v = Verdict::new(Format::Oms, String::new(), None);
        let rule = match &e {
            OmsError::Spec { rule, .. } => Some(*rule),
            _ => None,
        };
        v.oms = Some(oms_report_rule(method, Some(e.to_string()), rule));
        v.trust_store = store;
        v
    };
    let bundle = match oms::Bundle::parse(&sig.text) {
        Ok(b) => b,
        Err(e) => return Ok(refused(None, e, Vec::new())),
    };
    let method = bundle.method();
    // The check: the caller's, or the trust store's publisher keys for the name the statement
    // claims (the signature then authenticates that name).
    let (check, store_entries) = match ask.oms_check() {
        Some(c) => (c.clone(), Vec::new()),
        None => {
            let claimed = bundle.claimed_name().unwrap_or_default();
            let resolved = ask.trust().resolve(&claimed)?;
            match resolved.policy {
                // An OpenSSF bundle carries one signature: it cannot meet a trust that also
                // requires other roles (an auditor) or more than one publisher.
                Some(p)
                    if p.thresholds
                        .iter()
                        .any(|(role, k)| role != "publisher" || *k > 1) =>
                {
                    let mut v = Verdict::new(Format::Oms, claimed, None);
                    v.oms = Some(oms_report(
                        Some(method),
                        Some("the trust store's entries for this model require more than one publisher signature or other roles (an auditor), which an OpenSSF model signing bundle cannot carry".into()),
                    ));
                    v.trust_store = resolved.store_entries;
                    return Ok(v);
                }
                // An entry that requires a transparency log: an OpenSSF bundle is not logged,
                // so it cannot meet the requirement (else a stolen publisher key steps around
                // the log by shipping a model.sig instead of weightseal evidence).
                Some(p) if ask.log_for(Some(&p)).is_some() => {
                    let mut v = Verdict::new(Format::Oms, claimed, None);
                    v.oms = Some(oms_report(
                        Some(method),
                        Some("the trust store's entries for this model require a transparency log proof, which an OpenSSF model signing bundle cannot carry".into()),
                    ));
                    v.trust_store = resolved.store_entries;
                    return Ok(v);
                }
                Some(p) => (
                    OmsCheck::Keys(p.keys_for_role("publisher")),
                    resolved.store_entries,
                ),
                None if resolved.configured => {
                    let mut v = Verdict::new(Format::Oms, claimed, None);
                    v.vouched = Vouched::NoTrustedKey;
                    return Ok(v);
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
        Some(d) => check_pins(
            ask.pins().model.as_deref(),
            ask.pins().digest,
            &m.model_name,
            d,
        ),
        None => {
            let mut p = check_pins(
                ask.pins().model.as_deref(),
                None,
                &m.model_name,
                Digest([0; 32]),
            );
            if let Some(d) = ask.pins().digest {
                p.push(Problem {
                    code: "wrong-digest",
                    detail: format!("asked for {d}, but a model_signing 0.2 signature has no single digest to compare"),
                });
            }
            p
        }
    };
    let ignore = oms::ignored_paths(dir, ignore_paths, ignore_git);
    let files = oms::verify_dir(dir, m, &ignore, Some(&sig.identity)).map_err(ReleaseError::Oms)?;
    let mut v = Verdict::new(Format::Oms, m.model_name.clone(), m.subject);
    v.files = Some(files);
    v.checked = Checked::Files;
    v.oms = Some(OmsReport {
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
        rule: None,
    });
    v.pins = pins;
    v.trust_store = store_entries;
    Ok(v)
}

/// The statement an OpenSSF bundle served with a release signs, with `r`'s method, signer and
/// shape filled in: verified with `check` when given. A bundle the caller did not name
/// (`explicit` false) whose key names none of the given keys, or whose method they cannot
/// check, is read for its files only (no signer, and the report says so); one the caller named
/// must verify; one that names a given key must verify under it.
fn served_statement(
    text: &str,
    check: Option<&OmsCheck>,
    explicit: bool,
    r: &mut OmsReport,
) -> Result<oms::OmsManifest, String> {
    let bundle = oms::Bundle::parse(text).map_err(|e| e.to_string())?;
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
    }
    .map_err(|e| e.to_string())?;
    r.hash_type = Some(signed.serialization.hash_type.clone());
    r.resources = signed.resources.len();
    r.legacy = signed.legacy;
    r.serialization = Some(if signed.serialization.shard_size.is_some() {
        "shards"
    } else {
        "files"
    });
    Ok(signed)
}

/// Checks an OMS bundle served with a weightseal release against the files streamed: its
/// statement (verified with `check`; a bundle the caller did not name whose key names none of
/// the given keys is read for its files only, and the report has no signer), then the files it
/// signs, which must be exactly the manifest's files with the SHA-256 `computed` from their
/// bytes in this run (a file not streamed whole, as in a sample, cannot be compared). The
/// SHA-256 values a manifest records are never used: a manifest whose BLAKE3 roots name one
/// file and whose SHA-256 names another must not lend the other file's signature to this one;
/// one that records a SHA-256 the bytes do not have is reported. For the single-file model
/// `single`, the bundle names its one file `.` (as model_signing signs one file).
#[allow(clippy::too_many_arguments)]
pub fn signature_against_manifest(
    text: &str,
    check: Option<&OmsCheck>,
    explicit: bool,
    m: &Manifest,
    single: Option<&str>,
    evidence: &[(&str, &[u8])],
    computed: &BTreeMap<String, Digest>,
) -> OmsReport {
    let mut r = oms_report(None, None);
    let outcome = (|| -> Result<(), String> {
        let signed = served_statement(text, check, explicit, &mut r)?;
        if signed.serialization.shard_size.is_some() || signed.serialization.hash_type != "sha256" {
            return Err(format!(
                "it signs {} {} digests, which a manifest does not record; check it against the files on disk instead",
                signed.serialization.hash_type,
                if signed.serialization.shard_size.is_some() { "shard" } else { "file" }
            ));
        }
        let mut bad = Vec::new();
        let mut resources: BTreeMap<&str, &str> = BTreeMap::new();
        for (p, (_, d)) in &signed.resources {
            let p = match single {
                Some(file) if p == "." => file,
                _ => p.as_str(),
            };
            if resources.insert(p, d).is_some() {
                bad.push(p.to_string());
            }
        }
        for f in m.files() {
            let p = f.path.as_str();
            let Some(found) = computed.get(p) else {
                return Err(format!(
                    "not checked: {p} was not read whole in this run (a sample, or it failed), and the signature names it by the SHA-256 of all its bytes"
                ));
            };
            if f.sha256.is_some_and(|s| s != *found) {
                return Err(format!(
                    "the manifest records a SHA-256 for {p} that its bytes do not have ({}); the manifest contradicts itself",
                    found.to_hex()
                ));
            }
            match resources.get(p) {
                Some(d) if *d == found.to_hex() => {}
                _ => bad.push(p.to_string()),
            }
        }
        for (p, d) in resources {
            if m.file(p).is_some() {
                continue;
            }
            // An evidence file the signature covers (made after it was added): the bytes
            // served with the release, read once already.
            match evidence.iter().find(|(n, _)| *n == p) {
                Some((_, b))
                    if d == crate::digest::hex(&<sha2::Sha256 as sha2::Digest>::digest(b)) => {}
                _ => bad.push(p.to_string()),
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

/// Checks an OMS bundle against the files delivered into `dest` (a directory, or the one file
/// of a single-file model): its statement (see [`served_statement`]) must list exactly those
/// files; `pending` are judged from their bytes, and the `lacking` evidence names as absent,
/// whatever `dest` holds at those names now.
fn check_delivered_signature(
    dest: &Path,
    text: &str,
    check: Option<&OmsCheck>,
    explicit: bool,
    pending: &[(&str, &[u8])],
    lacking: Vec<String>,
) -> OmsReport {
    let mut r = oms_report(None, None);
    let m = match served_statement(text, check, explicit, &mut r) {
        Ok(m) => m,
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    let mut ignore = lacking;
    ignore.push(crate::path::PARTIAL_DIR.to_string());
    match oms::verify_dir_pending(dest, &m, &ignore, None, pending) {
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
