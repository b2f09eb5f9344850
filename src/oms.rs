//! OpenSSF Model Signing (OMS) signatures, as the `model_signing` tool writes and reads them:
//! a Sigstore bundle (`mediaType` `application/vnd.dev.sigstore.bundle.v0.3+json`) holding a
//! DSSE envelope whose in-toto statement has predicate type
//! `https://model_signing/signature/v1.0`, listing every file (or shard) of the model with its
//! digest (SHA-256, BLAKE2b or BLAKE3), the serialization that produced them (method, hash type,
//! ignored paths, symlink policy, shard size), and as subject the SHA-256 over all digests in
//! order. Bundles of model_signing 0.2 (predicate `https://model_signing/Digests/v0.1`, files
//! as subjects, and a PAE bug that its verifier tolerates) verify too.
//!
//! Key method (a public key given by the user: ECDSA P-256 and P-384, or ed25519), certificate
//! method (an X.509 chain to certificates the user trusts, checked with rustls-webpki) and
//! Sigstore keyless (Fulcio certificate, Rekor entry and identity, checked offline by the
//! Sigstore project's sigstore-verify crate against its embedded public-good trusted root or a
//! given one).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use sha2::Digest as _;

use crate::attest::dsse::{pae, PAYLOAD_TYPE};
use crate::attest::keys::{PrivateKey, PublicKey};
use crate::verify::{ByteRange, FileReport, FileStatus, Report};

/// The bundle media types model_signing releases have written.
pub const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];
/// The v1.0 predicate.
pub const PREDICATE_V1: &str = "https://model_signing/signature/v1.0";
/// The predicate of model_signing 0.2.
pub const PREDICATE_V01: &str = "https://model_signing/Digests/v0.1";
/// The in-toto statement type.
const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// Largest signature file read.
pub const MAX_BUNDLE_LEN: u64 = 64 << 20;
/// Paths model_signing leaves out by default (`--ignore-git-paths`).
pub const GIT_PATHS: &[&str] = &[".git", ".github", ".gitattributes", ".gitignore"];

/// Why an OMS signature did not verify or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an OpenSSF model signing bundle: {0}")]
    NotABundle(String),
    #[error("unsupported bundle media type {0:?}")]
    MediaType(String),
    #[error("the bundle was made with the {0} method: verify it with {1}")]
    UnsupportedMethod(&'static str, &'static str),
    #[error("the bundle's public key hint {hint} matches none of the given keys (model_signing records SHA-256 of the signer's public key PEM)")]
    KeyMismatch { hint: String },
    #[error("the signature does not verify under any of the given keys")]
    BadSignature,
    #[error("certificate chain: {0}")]
    Chain(String),
    #[error("Sigstore keyless verification failed: {0}")]
    Keyless(String),
    #[error("the signed statement is not valid: {0}")]
    Statement(String),
    #[error("the statement is inconsistent: its subject digest is {expected}, its resources hash to {found}")]
    SubjectDigest { expected: String, found: String },
    #[error("{0}")]
    Model(String),
    /// The bundle breaks a rule of the OMS v1.0 specification: which rule, the field, what the
    /// rule expects and what the bundle has.
    #[error("{field}: expected {expected}, found {found} ({rule})")]
    Spec {
        rule: SpecRule,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
}

/// A rule of the OMS v1.0 specification (`ossf/model-signing-spec`, `spec/v1.0.md`) that a
/// bundle can break, with the section that states it. The conformance vectors
/// (`test-vectors/v1.0/invalid*`) each break one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecRule {
    /// §8.1: the bundle is a Sigstore bundle, a JSON object; the file is empty.
    Empty,
    /// §4, §4.1: a bundle has `verificationMaterial`, the signing method's material.
    NoVerificationMaterial,
    /// §4.1: `verificationMaterial` holds `publicKey` (key), `x509CertificateChain`
    /// (certificate) or `certificate` (sigstore).
    NoSigningMethod,
    /// §4.1, §11.1: exactly one of them (Sigstore's `VerificationMaterial.content` is one of).
    SeveralSigningMethods,
    /// §4.1: the sigstore method's `tlogEntries` holds at least one Rekor entry.
    SigstoreWithoutTlogEntries,
    /// §4: a bundle has a `dsseEnvelope`.
    NoEnvelope,
    /// §8.3 step 1: the payload's `_type` is `https://in-toto.io/Statement/v1`.
    StatementType,
    /// §5.1, §8.3 step 2: `predicateType` is `https://model_signing/signature/v1.0` (or, §11.2,
    /// model_signing 0.2's `https://model_signing/Digests/v0.1`).
    PredicateType,
}

impl SpecRule {
    /// A stable name for the rule (tests, `--json`).
    pub fn code(self) -> &'static str {
        match self {
            SpecRule::Empty => "empty",
            SpecRule::NoVerificationMaterial => "no-verification-material",
            SpecRule::NoSigningMethod => "no-signing-method",
            SpecRule::SeveralSigningMethods => "several-signing-methods",
            SpecRule::SigstoreWithoutTlogEntries => "sigstore-without-tlog-entries",
            SpecRule::NoEnvelope => "no-envelope",
            SpecRule::StatementType => "statement-type",
            SpecRule::PredicateType => "predicate-type",
        }
    }

    /// The section of the OMS v1.0 specification that states the rule.
    pub fn section(self) -> &'static str {
        match self {
            SpecRule::Empty => "8.1",
            SpecRule::NoVerificationMaterial | SpecRule::NoEnvelope => "4",
            SpecRule::NoSigningMethod
            | SpecRule::SeveralSigningMethods
            | SpecRule::SigstoreWithoutTlogEntries => "4.1",
            SpecRule::StatementType => "8.3",
            SpecRule::PredicateType => "5.1",
        }
    }
}

impl std::fmt::Display for SpecRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OMS v1.0 section {}, {}", self.section(), self.code())
    }
}

/// The members of `verificationMaterial` that name a signing method (OMS v1.0 §4.1).
const METHOD_MEMBERS: [(&str, &str); 3] = [
    ("publicKey", "key"),
    ("x509CertificateChain", "certificate"),
    ("certificate", "sigstore"),
];

/// What a JSON value is, for an error's "found".
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The signing method `verificationMaterial` declares (OMS v1.0 §4.1): `publicKey` is the key
/// method; `x509CertificateChain` the certificate method, or Sigstore keyless when it comes
/// with transparency-log entries (Sigstore bundles before v0.3 carried Fulcio chains so);
/// `certificate` Sigstore keyless, which requires at least one `tlogEntries` entry. Exactly
/// one of the three members is present.
fn signing_method(vm: &serde_json::Value) -> Result<Method, OmsError> {
    let spec = |rule, field, expected, found: String| OmsError::Spec {
        rule,
        field,
        expected,
        found,
    };
    let obj = match vm {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Null => {
            return Err(spec(
                SpecRule::NoVerificationMaterial,
                "verificationMaterial",
                "the signing method's verification material (publicKey, x509CertificateChain, or certificate with tlogEntries)",
                "none".into(),
            ))
        }
        other => {
            return Err(spec(
                SpecRule::NoVerificationMaterial,
                "verificationMaterial",
                "an object",
                json_kind(other).into(),
            ))
        }
    };
    let present: Vec<(&str, &str)> = METHOD_MEMBERS
        .iter()
        .copied()
        .filter(|(m, _)| obj.get(*m).is_some_and(|v| !v.is_null()))
        .collect();
    let members = || {
        let names: Vec<String> = obj.keys().take(8).map(|k| format!("{k:?}")).collect();
        if names.is_empty() {
            "no member".to_string()
        } else {
            format!("the members {}", names.join(", "))
        }
    };
    let tlog = match obj.get("tlogEntries") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(a)) => Some(a.len()),
        Some(other) => {
            return Err(OmsError::NotABundle(format!(
                "verificationMaterial.tlogEntries is {}, not an array",
                json_kind(other)
            )))
        }
    };
    match present.as_slice() {
        [] => Err(spec(
            SpecRule::NoSigningMethod,
            "verificationMaterial",
            "publicKey (key method), x509CertificateChain (certificate method) or certificate (sigstore method)",
            members(),
        )),
        [("publicKey", _)] => Ok(Method::Key),
        [("x509CertificateChain", _)] if tlog.unwrap_or(0) > 0 => Ok(Method::Keyless),
        [("x509CertificateChain", _)] => Ok(Method::Certificate),
        [_] => match tlog {
            Some(n) if n > 0 => Ok(Method::Keyless),
            found => Err(spec(
                SpecRule::SigstoreWithoutTlogEntries,
                "verificationMaterial.tlogEntries",
                "at least one transparency log entry (a single `certificate` is the sigstore method's Fulcio certificate)",
                match found {
                    None => "none".into(),
                    Some(_) => "an empty list".into(),
                },
            )),
        },
        several => Err(spec(
            SpecRule::SeveralSigningMethods,
            "verificationMaterial",
            "exactly one of publicKey, x509CertificateChain and certificate",
            several
                .iter()
                .map(|(m, method)| format!("{m} ({method} method)"))
                .collect::<Vec<_>>()
                .join(" and "),
        )),
    }
}

/// The statement rules (OMS v1.0 §8.3 steps 1 and 2) checked on a payload, signed or not.
fn statement_rules(v: &serde_json::Value) -> Result<(), OmsError> {
    let found = |s: Option<&serde_json::Value>| match s {
        Some(serde_json::Value::String(s)) => {
            format!("{:?}", s.chars().take(100).collect::<String>())
        }
        Some(other) => json_kind(other).into(),
        None => "none".into(),
    };
    let t = v.get("_type");
    if t.and_then(|t| t.as_str()) != Some(STATEMENT_V1) {
        return Err(OmsError::Spec {
            rule: SpecRule::StatementType,
            field: "dsseEnvelope.payload _type",
            expected: "\"https://in-toto.io/Statement/v1\" (an in-toto v1 statement)",
            found: found(t),
        });
    }
    let p = v.get("predicateType");
    if !p
        .and_then(|p| p.as_str())
        .is_some_and(|p| p == PREDICATE_V1 || p == PREDICATE_V01)
    {
        return Err(OmsError::Spec {
            rule: SpecRule::PredicateType,
            field: "dsseEnvelope.payload predicateType",
            expected: "\"https://model_signing/signature/v1.0\" (or model_signing 0.2's \"https://model_signing/Digests/v0.1\")",
            found: format!("{}, which is not model_signing's", found(p)),
        });
    }
    Ok(())
}

/// How model_signing turned the model into digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serialization {
    /// `None`: one digest per file; `Some(n)`: one per shard of `n` bytes.
    pub shard_size: Option<u64>,
    /// `sha256`, `blake2b` or `blake3` (model_signing's `hash_type`; `blake2` means BLAKE2b).
    pub hash_type: String,
    pub allow_symlinks: bool,
    /// Paths relative to the model root whose files (and children) are left out.
    pub ignore_paths: Vec<String>,
}

/// A verified OMS statement: the model's name, serialization and every signed digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OmsManifest {
    pub model_name: String,
    pub serialization: Serialization,
    /// `path` (files) or `path:start:end` (shards) → (algorithm, lowercase hex digest).
    pub resources: BTreeMap<String, (String, String)>,
    /// Written by model_signing 0.2 (no serialization recorded, files by subject).
    pub legacy: bool,
    /// The statement's subject digest (SHA-256 over every resource digest in order): what a
    /// `--digest` pin names. `None` for model_signing 0.2, which has no single subject.
    pub subject: Option<crate::Digest>,
}

/// A bundle's top level, read strictly: one member each, nothing unknown.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawBundle {
    media_type: String,
    #[serde(default)]
    verification_material: serde_json::Value,
    #[serde(default)]
    dsse_envelope: Option<serde_json::Value>,
    #[serde(default)]
    message_signature: Option<serde_json::Value>,
}

/// An OMS bundle read once: its media type checked and its one content, a DSSE envelope.
/// Every method verifies this value, and the statement it returns is parsed from exactly the
/// payload whose signature it verified: a bundle never offers one content to the signature
/// check and another to the reader.
pub struct Bundle {
    media_type: String,
    vm: serde_json::Value,
    method: Method,
    envelope_json: serde_json::Value,
    envelope: RawEnvelope,
}

/// Which of model_signing's methods made a bundle (from its verification material).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Key,
    Certificate,
    Keyless,
}

impl Bundle {
    /// Parses a bundle: a Sigstore bundle of a known media type whose content is exactly one
    /// `dsseEnvelope`. A bundle with both a `dsseEnvelope` and a `messageSignature`, with
    /// neither, with a `messageSignature` (it signs a blob, not a model's statement) or with
    /// any other top-level member is refused, as is a member given twice.
    pub fn parse(text: &str) -> Result<Bundle, OmsError> {
        if text.trim().is_empty() {
            return Err(OmsError::Spec {
                rule: SpecRule::Empty,
                field: "the bundle",
                expected: "a Sigstore bundle (a JSON object)",
                found: if text.is_empty() {
                    "an empty file".into()
                } else {
                    "only white space".into()
                },
            });
        }
        let b: RawBundle =
            serde_json::from_str(text.trim()).map_err(|e| OmsError::NotABundle(e.to_string()))?;
        if !MEDIA_TYPES.contains(&b.media_type.as_str()) {
            return Err(OmsError::MediaType(
                b.media_type.chars().take(100).collect(),
            ));
        }
        let method = signing_method(&b.verification_material)?;
        let envelope_json = match (b.dsse_envelope, b.message_signature) {
            (Some(_), Some(_)) => return Err(OmsError::NotABundle(
                "the bundle holds both a dsseEnvelope and a messageSignature: which one is signed is ambiguous".into(),
            )),
            (None, Some(_)) => return Err(OmsError::NotABundle(
                "the bundle holds a messageSignature (a signature over a blob), not a DSSE envelope over a model's statement".into(),
            )),
            (None, None) => {
                return Err(OmsError::Spec {
                    rule: SpecRule::NoEnvelope,
                    field: "dsseEnvelope",
                    expected: "a DSSE envelope over the model's in-toto statement",
                    found: "none".into(),
                })
            }
            (Some(e), None) => e,
        };
        let envelope: RawEnvelope = serde_json::from_value(envelope_json.clone())
            .map_err(|e| OmsError::NotABundle(format!("dsseEnvelope: {e}")))?;
        Ok(Bundle {
            media_type: b.media_type,
            vm: b.verification_material,
            method,
            envelope_json,
            envelope,
        })
    }

    /// The method that made the bundle, as its verification material declares it (see
    /// [`Bundle::parse`]): a `publicKey` is the key method, an `x509CertificateChain` the
    /// certificate method (Sigstore keyless when it comes with transparency-log entries, as
    /// Sigstore bundles before v0.3 carried Fulcio chains), a `certificate` Sigstore keyless.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The rule of OMS v1.0 §8.3 (steps 1 and 2) the payload breaks, signed or not: a bundle
    /// whose statement is not a model_signing statement is refused for that, whatever key,
    /// certificate or identity it is checked with.
    fn statement_rule(&self) -> Option<OmsError> {
        let (payload, _) = envelope_parts(&self.envelope).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&payload).ok()?;
        statement_rules(&v).err()
    }

    /// The model name the (not yet verified) statement claims: only to look up whose keys to
    /// try; the signature then authenticates it. A model_signing 0.2 statement names no model
    /// (its subjects are files), so it claims none: a file's path is never looked up as a
    /// model name.
    pub fn claimed_name(&self) -> Option<String> {
        let m = self.unverified_statement().ok()?;
        (!m.legacy).then_some(m.model_name)
    }

    /// The statement, parsed without checking any signature: only to compare the files it
    /// lists with files at hand, never to decide who signed them.
    pub fn unverified_statement(&self) -> Result<OmsManifest, OmsError> {
        let (payload, _) = envelope_parts(&self.envelope)?;
        parse_statement(&payload)
    }

    /// The bundle as the Sigstore verifier reads it: exactly the members parsed here.
    fn sigstore_json(&self) -> String {
        serde_json::json!({
            "mediaType": self.media_type,
            "verificationMaterial": self.vm,
            "dsseEnvelope": self.envelope_json,
        })
        .to_string()
    }
}

/// How an OMS bundle is checked: with the signer's public keys (key method), certificates the
/// user trusts (certificate method) or a Sigstore identity (keyless).
#[derive(Clone, Debug)]
pub enum OmsCheck {
    Keys(Vec<PublicKey>),
    /// PEM certificates.
    Chain(Vec<u8>),
    Keyless {
        identity: String,
        issuer: String,
        /// A `trusted_root.json` of another Sigstore instance (default: public good).
        trusted_root: Option<String>,
    },
}

/// A bundle whose signature verified: the statement it signs and who signed it.
#[derive(Clone, Debug)]
pub struct Verified {
    pub manifest: OmsManifest,
    /// The key id, the certificate's subject, or the Sigstore identity and its provider.
    pub signer: String,
    pub method: Method,
}

/// Verifies `bundle` as `check` says.
pub fn verify_bundle(bundle: &Bundle, check: &OmsCheck) -> Result<Verified, OmsError> {
    verify_bundle_as_asked(bundle, check).map_err(|e| match e {
        OmsError::Io { .. } | OmsError::Spec { .. } => e,
        // A signature that does not verify (or was not checked) over a statement that is not
        // model_signing's: the statement's rule is what no other key could mend.
        e => bundle.statement_rule().unwrap_or(e),
    })
}

fn verify_bundle_as_asked(bundle: &Bundle, check: &OmsCheck) -> Result<Verified, OmsError> {
    let (manifest, signer, method) = match check {
        OmsCheck::Keys(keys) => {
            let (m, id) = verify_with_keys(bundle, keys)?;
            (m, format!("key {id}"), Method::Key)
        }
        OmsCheck::Chain(pem) => {
            let (m, s) = verify_with_chain(bundle, pem)?;
            (m, format!("certificate {s}"), Method::Certificate)
        }
        OmsCheck::Keyless {
            identity,
            issuer,
            trusted_root,
        } => {
            let (m, who) = verify_keyless(bundle, identity, issuer, trusted_root.as_deref())?;
            (m, format!("Sigstore identity {who}"), Method::Keyless)
        }
    };
    Ok(Verified {
        manifest,
        signer,
        method,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    sig: String,
    #[serde(default)]
    #[allow(dead_code)]
    keyid: Option<String>,
}

/// Whether `text` looks like a Sigstore bundle (by its media type), not a weightseal bundle.
pub fn is_oms_bundle(text: &str) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
    }
    serde_json::from_str::<Probe>(text.trim())
        .ok()
        .and_then(|p| p.media_type)
        .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle"))
}

/// The identity of a signature file: its device and inode (of the file itself, never of a
/// link's target), its name, and the identity of the directory holding it. Only the entry of
/// that name in that directory, being that file, is the signature: a hard link to it under
/// another name, or a link planted at its name, is part of the model like anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub name: std::ffi::OsString,
    pub dir: (u64, u64),
}

/// Reads a signature file (at most [`MAX_BUNDLE_LEN`]) with the identity of the file read, so
/// that exactly that file, and nothing a link at its name points to, is left out of the model.
pub fn read_signature(path: &Path) -> Result<(String, FileId), OmsError> {
    use std::os::unix::fs::MetadataExt;
    let io = |source| OmsError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A regular file only: a named pipe is refused, never waited on.
    let (f, _) = crate::fsutil::open_regular(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p,
        None => Path::new("."),
    };
    let dir = std::fs::metadata(parent).map_err(io)?;
    let mut s = String::new();
    f.take(MAX_BUNDLE_LEN).read_to_string(&mut s).map_err(io)?;
    Ok((
        s,
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            name: path.file_name().unwrap_or_default().to_os_string(),
            dir: (dir.dev(), dir.ino()),
        },
    ))
}

/// The paths to leave out of a model directory, as model_signing takes them: its `.git`
/// paths when `ignore_git`, and each of `given` relative to the current directory (as
/// model_signing resolves them), or else relative to `dir`. A path is resolved without following a link at its
/// last component, so a link planted at an ignored name never hides what it points to.
pub fn ignored_paths(dir: &Path, given: &[PathBuf], ignore_git: bool) -> Vec<String> {
    let mut out: Vec<String> = if ignore_git {
        GIT_PATHS.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let Ok(root) = dir.canonicalize() else {
        return out;
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    for p in given {
        // As model_signing takes them: relative to the current directory; a path that does
        // not lead into the model that way is tried relative to the model directory.
        for c in [cwd.join(p), dir.join(p)] {
            // The parent resolved, the last component as written.
            let (Some(parent), Some(name)) = (c.parent(), c.file_name()) else {
                continue;
            };
            let Ok(parent) = parent.canonicalize() else {
                continue;
            };
            if let Ok(rel) = parent.join(name).strip_prefix(&root) {
                let rel = rel.to_string_lossy().into_owned();
                if !rel.is_empty() {
                    out.push(rel);
                    break;
                }
            }
        }
    }
    out
}

/// Reads a signature file (at most [`MAX_BUNDLE_LEN`]).
pub fn read_bundle(path: &Path) -> Result<String, OmsError> {
    let io = |source| OmsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (f, _) = crate::fsutil::open_regular(path).map_err(io)?;
    let mut s = String::new();
    f.take(MAX_BUNDLE_LEN).read_to_string(&mut s).map_err(io)?;
    Ok(s)
}

/// The public key hint model_signing records: SHA-256 of the key's SPKI PEM text.
pub fn key_hint(key: &PublicKey) -> String {
    crate::digest::hex(&sha2::Sha256::digest(key.to_pem().as_bytes()))
}

/// `PAE` as model_signing 0.2 computed it: `DSSEV1 LEN TYPE LEN ` followed by Python's
/// `repr()` of the payload bytes (`b'…'`), a bug its verifier still accepts.
fn pae_compat(payload: &[u8]) -> Vec<u8> {
    let quote = if payload.contains(&b'\'') && !payload.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut r = String::from("b");
    r.push(quote);
    for &b in payload {
        match b {
            b'\\' => r.push_str("\\\\"),
            b'\t' => r.push_str("\\t"),
            b'\n' => r.push_str("\\n"),
            b'\r' => r.push_str("\\r"),
            b if b == quote as u8 => {
                r.push('\\');
                r.push(quote);
            }
            0x20..=0x7e => r.push(b as char),
            b => r.push_str(&format!("\\x{b:02x}")),
        }
    }
    r.push(quote);
    format!(
        "DSSEV1 {} {} {} {}",
        PAYLOAD_TYPE.len(),
        PAYLOAD_TYPE,
        payload.len(),
        r
    )
    .into_bytes()
}

/// Verifies an OMS bundle with the key method: the signature under one of `keys` (the one the
/// bundle's hint names, when it has a hint), then the statement's consistency. Returns the
/// signed manifest and the id of the key that verified.
pub fn verify_with_keys(b: &Bundle, keys: &[PublicKey]) -> Result<(OmsManifest, String), OmsError> {
    let vm = &b.vm;
    match b.method() {
        Method::Keyless => return Err(OmsError::UnsupportedMethod(
            "Sigstore keyless",
            "--identity ID --identity-provider URL (and --trusted-root for another Sigstore instance)",
        )),
        Method::Certificate => {
            return Err(OmsError::UnsupportedMethod(
                "certificate",
                "--certificate-chain ROOT.pem",
            ))
        }
        Method::Key => {}
    }
    let (payload, sig) = envelope_parts(&b.envelope)?;
    let hint = vm
        .get("publicKey")
        .and_then(|p| p.get("hint"))
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty());
    let candidates: Vec<&PublicKey> = match hint {
        Some(h) => {
            let c: Vec<&PublicKey> = keys.iter().filter(|k| key_hint(k) == h).collect();
            if c.is_empty() {
                return Err(OmsError::KeyMismatch {
                    hint: h.chars().take(80).collect(),
                });
            }
            c
        }
        None => keys.iter().collect(),
    };
    let message = pae(PAYLOAD_TYPE, &payload);
    let compat = pae_compat(&payload);
    let key = candidates
        .iter()
        .find(|k| k.verify_strict(&message, &sig) || k.verify_strict(&compat, &sig))
        .ok_or(OmsError::BadSignature)?;
    Ok((parse_statement(&payload)?, key.id().to_string()))
}

/// DER of the codeSigning extended key usage (1.3.6.1.5.5.7.3.3), without tag and length.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Verifies an OMS bundle made with the certificate method, as `model_signing verify
/// certificate` does: the bundle's certificate chain (leaf first) must lead to one of
/// `trusted` (PEM certificates; each is trusted, as model_signing adds every given
/// certificate to its store), validated at the leaf's notBefore (so a signature stays valid
/// after the leaf expires); the leaf must allow signing (key usage digitalSignature, or
/// extended key usage codeSigning; an extended key usage without codeSigning is refused);
/// then the DSSE signature under the leaf's key. Returns the manifest and the leaf's subject.
pub fn verify_with_chain(
    b: &Bundle,
    trusted_pem: &[u8],
) -> Result<(OmsManifest, String), OmsError> {
    use rustls_pki_types::CertificateDer;
    use x509_cert::der::{Decode as _, Encode as _};
    use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
    let vm = &b.vm;
    if b.method() == Method::Keyless {
        return Err(OmsError::UnsupportedMethod(
            "Sigstore keyless",
            "--identity ID --identity-provider URL (and --trusted-root for another Sigstore instance)",
        ));
    }
    let certs: Vec<Vec<u8>> = vm
        .get("x509CertificateChain")
        .and_then(|c| c.get("certificates"))
        .and_then(|c| c.as_array())
        .ok_or_else(|| OmsError::Chain("the bundle holds no certificate chain (it was not made with the certificate method)".into()))?
        .iter()
        .map(|c| {
            c.get("rawBytes")
                .and_then(|r| r.as_str())
                .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
                .ok_or_else(|| OmsError::Chain("a certificate is not base64 DER".into()))
        })
        .collect::<Result<_, _>>()?;
    if certs.is_empty() || certs.len() > 16 {
        return Err(OmsError::Chain(format!(
            "{} certificates in the chain",
            certs.len()
        )));
    }
    let leaf = x509_cert::Certificate::from_der(&certs[0])
        .map_err(|e| OmsError::Chain(format!("the signing certificate does not parse: {e}")))?;
    let roots = x509_cert::Certificate::load_pem_chain(trusted_pem)
        .map_err(|e| OmsError::Chain(format!("the trusted certificates do not parse: {e}")))?;
    if roots.is_empty() {
        return Err(OmsError::Chain("no trusted certificate given".into()));
    }
    // As OpenSSL's store does for model_signing: the given self-signed certificates are the
    // roots; other given certificates may serve as intermediates, never as roots.
    let mut root_der: Vec<CertificateDer> = Vec::new();
    let mut given_intermediates: Vec<CertificateDer> = Vec::new();
    for c in &roots {
        let der = CertificateDer::from(c.to_der().map_err(|e| OmsError::Chain(e.to_string()))?);
        if ca_leaf::self_signed(c) {
            root_der.push(der);
        } else {
            given_intermediates.push(der);
        }
    }
    if root_der.is_empty() {
        return Err(OmsError::Chain(
            "none of the trusted certificates is a (self-signed) root".into(),
        ));
    }
    let anchors: Vec<_> = root_der
        .iter()
        .map(|c| webpki::anchor_from_trusted_cert(c).map(|a| a.to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            OmsError::Chain(format!(
                "a trusted certificate cannot be a trust anchor: {e:?}"
            ))
        })?;
    let intermediates: Vec<CertificateDer> = certs[1..]
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .chain(given_intermediates)
        .collect();
    let leaf_der = CertificateDer::from(certs[0].clone());
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| OmsError::Chain(format!("the signing certificate: {e:?}")))?;
    let not_before = leaf
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration();
    let at = rustls_pki_types::UnixTime::since_unix_epoch(not_before);
    match ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        at,
        webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING),
        None,
        None,
    ) {
        Ok(_) => {}
        // A signing certificate that is also a CA (model_signing's own test PKI makes them so):
        // the web PKI refuses it as an end entity; model_signing (OpenSSL's store, no purpose)
        // accepts it. Its path is checked as OpenSSL checks it.
        Err(webpki::Error::CaUsedAsEndEntity) => {
            let chain: Vec<x509_cert::Certificate> = certs[1..]
                .iter()
                .map(|c| x509_cert::Certificate::from_der(c))
                .collect::<Result<_, _>>()
                .map_err(|e| OmsError::Chain(format!("a chain certificate does not parse: {e}")))?;
            ca_leaf::verify(&leaf, &chain, &roots, not_before)?;
        }
        Err(e) => {
            return Err(OmsError::Chain(format!(
                "the certificate chain does not lead to a trusted certificate: {e:?}"
            )))
        }
    }
    let tbs = leaf.tbs_certificate();
    let ku = tbs
        .get_extension::<KeyUsage>()
        .ok()
        .flatten()
        .is_some_and(|(_, k)| k.digital_signature());
    let eku = tbs
        .get_extension::<ExtendedKeyUsage>()
        .ok()
        .flatten()
        .is_some_and(|(_, e)| e.0.iter().any(|o| o.as_bytes() == EKU_CODE_SIGNING));
    if !ku && !eku {
        return Err(OmsError::Chain(
            "the signing certificate may not sign (neither key usage digitalSignature nor extended key usage codeSigning)".into(),
        ));
    }
    let spki = tbs
        .subject_public_key_info()
        .to_der()
        .map_err(|e| OmsError::Chain(e.to_string()))?;
    let key = PublicKey::from_spki_der(&spki, Path::new("the signing certificate"))
        .map_err(|e| OmsError::Chain(e.to_string()))?;
    let (payload, sig) = envelope_parts(&b.envelope)?;
    let message = pae(PAYLOAD_TYPE, &payload);
    // model_signing 0.2's PAE, signed with ECDSA over SHA-256 whatever the curve, as
    // `model_signing verify certificate` still accepts it: over a model_signing 0.2 statement
    // only (no later version signs so), so that a P-384 or P-521 signer's signature over a
    // v1.0 statement is never checked over SHA-256.
    let compat = pae_compat(&payload);
    let legacy = serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()
        .is_some_and(|v| v.get("predicateType").and_then(|p| p.as_str()) == Some(PREDICATE_V01));
    if !(key.verify_strict(&message, &sig)
        || key.verify_strict(&compat, &sig)
        || (legacy && key.verify_ecdsa_sha256(&compat, &sig)))
    {
        return Err(OmsError::BadSignature);
    }
    Ok((parse_statement(&payload)?, tbs.subject().to_string()))
}

/// The path of a signing certificate that is itself a CA (`CA:TRUE` with `digitalSignature`
/// and code signing), checked as `model_signing verify certificate` checks it through OpenSSL's
/// store with no purpose set, where the web PKI (rustls-webpki) refuses a CA as an end entity:
/// - each certificate is valid at the leaf's `notBefore` (the time model_signing checks at);
/// - paths are built as OpenSSL builds them: an issuer is looked for among the given roots,
///   the bundle's chain and the other given certificates, and a candidate is one whose
///   subject is the certificate's issuer name and whose subject key identifier does not
///   contradict the certificate's authority key identifier (nor its serial and issuer
///   there); candidates whose key identifier matches positively are tried first, and every
///   candidate whose key verifies the certificate's signature (rustls-webpki's algorithms:
///   ECDSA, Ed25519, RSA PKCS#1 v1.5 and PSS) is tried in turn until one leads to a root;
/// - no certificate is its own issuer unless it is a given self-signed root: a signer whose
///   issuer name is its own subject (model_signing's test PKI makes `CN=intermediate-ca`
///   issued by `CN=intermediate-ca`) is issued by another certificate of that name;
/// - each issuer is a CA (`basicConstraints` `cA`), may sign certificates (`keyCertSign`, when
///   it has a key usage) and its `pathLenConstraint` allows the CAs below it (the leaf not
///   counted);
/// - no certificate carries a critical extension this check does not know;
/// - no certificate carries a constraint on the path below it that this check does not
///   enforce (nameConstraints, policyConstraints, inhibitAnyPolicy, policyMappings), critical
///   or not: the web PKI path enforces or refuses them, so this path refuses them rather than
///   accept what a constrained CA was not allowed to issue;
/// - the path ends at a given self-signed certificate, within 16 certificates, after at
///   most 64 signature checks.
///
/// The leaf's own use (digitalSignature or code signing; an extended key usage without code
/// signing is refused) is checked by the caller, as for every chain.
mod ca_leaf {
    use super::OmsError;
    use x509_cert::der::Encode as _;
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
    use x509_cert::Certificate;

    const KNOWN: &[&str] = &[
        "2.5.29.14", // subjectKeyIdentifier
        "2.5.29.15", // keyUsage
        "2.5.29.17", // subjectAltName
        "2.5.29.19", // basicConstraints
        "2.5.29.35", // authorityKeyIdentifier
        "2.5.29.37", // extKeyUsage
    ];

    /// Extensions that constrain the certificates below the one that carries them, which
    /// this check does not enforce: refused whether critical or not.
    const UNENFORCED: &[(&str, &str)] = &[
        ("2.5.29.30", "nameConstraints"),
        ("2.5.29.33", "policyMappings"),
        ("2.5.29.36", "policyConstraints"),
        ("2.5.29.54", "inhibitAnyPolicy"),
    ];

    fn bad(s: String) -> OmsError {
        OmsError::Chain(s)
    }

    fn subject(c: &Certificate) -> String {
        c.tbs_certificate().subject().to_string()
    }

    /// The contents of a DER TLV (what follows its tag and length), as rustls-pki-types
    /// writes an `AlgorithmIdentifier`.
    fn der_contents(tlv: &[u8]) -> Option<&[u8]> {
        let (&len, rest) = tlv.get(1..)?.split_first()?;
        let (len, rest) = if len < 0x80 {
            (usize::from(len), rest)
        } else {
            let n = usize::from(len & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let l = rest[..n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (l, &rest[n..])
        };
        (rest.len() == len).then_some(rest)
    }

    /// Whether `issuer`'s key made `cert`'s signature: the signature algorithm of `cert` and
    /// the key algorithm of `issuer` are matched against rustls-webpki's verification
    /// algorithms (ECDSA P-256/P-384/P-521, Ed25519, RSA PKCS#1 v1.5 and PSS), as webpki
    /// matches them for the chains it builds itself, and one of them must verify.
    pub(super) fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
        let spki = issuer.tbs_certificate().subject_public_key_info();
        let (Ok(key_alg), Some(key), Ok(sig_alg), Ok(tbs), Some(sig)) = (
            spki.algorithm.to_der(),
            spki.subject_public_key.as_bytes(),
            cert.signature_algorithm().to_der(),
            cert.tbs_certificate().to_der(),
            cert.signature().as_bytes(),
        ) else {
            return false;
        };
        let (Some(key_alg), Some(sig_alg)) = (der_contents(&key_alg), der_contents(&sig_alg))
        else {
            return false;
        };
        webpki::ALL_VERIFICATION_ALGS.iter().any(|a| {
            *a.public_key_alg_id() == *key_alg
                && *a.signature_alg_id() == *sig_alg
                && a.verify_signature(key, &tbs, sig).is_ok()
        })
    }

    /// Whether `c` is self-signed: its issuer is its subject and its own key verifies it.
    pub(super) fn self_signed(c: &Certificate) -> bool {
        c.tbs_certificate().subject() == c.tbs_certificate().issuer() && signed_by(c, c)
    }

    /// Whether `issuer` may have issued `cert` by names and key identifiers, as OpenSSL's
    /// `X509_check_issued` decides before any signature is checked: `issuer`'s subject is
    /// `cert`'s issuer, and `cert`'s authority key identifier, where it has one, does not
    /// contradict `issuer` (its keyIdentifier equals `issuer`'s subject key identifier when
    /// `issuer` has one, its authorityCertSerialNumber is `issuer`'s serial number, its
    /// authorityCertIssuer directory name is `issuer`'s issuer). Returns `None` when it may
    /// not, else whether the key identifiers matched positively (such a candidate is tried
    /// first).
    fn may_have_issued(cert: &Certificate, issuer: &Certificate) -> Option<bool> {
        use x509_cert::ext::pkix::name::GeneralName;
        use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
        if issuer.tbs_certificate().subject() != cert.tbs_certificate().issuer() {
            return None;
        }
        let aki = match cert
            .tbs_certificate()
            .get_extension::<AuthorityKeyIdentifier>()
        {
            Ok(a) => a.map(|(_, a)| a),
            Err(_) => return None,
        };
        let Some(aki) = aki else {
            return Some(false);
        };
        let ski = match issuer
            .tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
        {
            Ok(s) => s.map(|(_, s)| s),
            Err(_) => return None,
        };
        let mut positive = false;
        if let (Some(k), Some(s)) = (&aki.key_identifier, &ski) {
            if k.as_bytes() != s.0.as_bytes() {
                return None;
            }
            positive = true;
        }
        if let Some(n) = &aki.authority_cert_serial_number {
            if n != issuer.tbs_certificate().serial_number() {
                return None;
            }
        }
        if let Some(names) = &aki.authority_cert_issuer {
            let dirs: Vec<_> = names
                .iter()
                .filter_map(|g| match g {
                    GeneralName::DirectoryName(n) => Some(n),
                    _ => None,
                })
                .collect();
            if !dirs.is_empty() && !dirs.contains(&issuer.tbs_certificate().issuer()) {
                return None;
            }
        }
        Some(positive)
    }

    fn check_one(c: &Certificate, at: std::time::Duration) -> Result<(), OmsError> {
        let v = c.tbs_certificate().validity();
        if at < v.not_before.to_unix_duration() || at > v.not_after.to_unix_duration() {
            return Err(bad(format!(
                "{} is not valid at the signing certificate's notBefore",
                subject(c)
            )));
        }
        for e in c.tbs_certificate().extensions().into_iter().flatten() {
            let oid = e.extn_id.to_string();
            if let Some((_, name)) = UNENFORCED.iter().find(|(o, _)| *o == oid) {
                return Err(bad(format!(
                    "{} carries {name}, which this check for a CA signing certificate does not enforce; refused",
                    subject(c)
                )));
            }
            if e.critical && !KNOWN.contains(&oid.as_str()) {
                return Err(bad(format!(
                    "{} has a critical extension {oid} this check does not support",
                    subject(c)
                )));
            }
        }
        Ok(())
    }

    /// An issuer `below` CAs above the leaf.
    fn check_issuer(c: &Certificate, below: usize) -> Result<(), OmsError> {
        let tbs = c.tbs_certificate();
        let bc = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| bad(format!("{}: basicConstraints: {e}", subject(c))))?
            .map(|(_, b)| b);
        let Some(bc) = bc.filter(|b| b.ca) else {
            return Err(bad(format!(
                "{} issued a certificate of the chain but is not a CA",
                subject(c)
            )));
        };
        if let Some(n) = bc.path_len_constraint {
            if below > usize::from(n) {
                return Err(bad(format!(
                    "{} allows {n} CA(s) below it, the chain has {below}",
                    subject(c)
                )));
            }
        }
        let ku = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| bad(format!("{}: keyUsage: {e}", subject(c))))?;
        if ku.is_some_and(|(_, k)| !k.key_cert_sign()) {
            return Err(bad(format!(
                "{} may not sign certificates (no keyCertSign)",
                subject(c)
            )));
        }
        Ok(())
    }

    /// At most this many issuer signatures are checked while paths are searched.
    const MAX_SIGNATURE_CHECKS: usize = 64;
    /// At most this many certificates in a path, the leaf and the root included.
    const MAX_DEPTH: usize = 16;

    pub(super) fn verify(
        leaf: &Certificate,
        chain: &[Certificate],
        given: &[Certificate],
        at: std::time::Duration,
    ) -> Result<(), OmsError> {
        let roots: Vec<&Certificate> = given.iter().filter(|c| self_signed(c)).collect();
        // Every certificate once: the trusted roots, then the bundle's chain, then the other
        // given certificates.
        let mut pool: Vec<&Certificate> = Vec::new();
        for c in roots
            .iter()
            .copied()
            .chain(chain.iter())
            .chain(given.iter())
        {
            if !pool.contains(&c) {
                pool.push(c);
            }
        }
        let eku = leaf
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .ok()
            .flatten();
        if eku.is_some_and(|(_, e)| !e.0.iter().any(|o| o.as_bytes() == super::EKU_CODE_SIGNING)) {
            return Err(bad(
                "the signing certificate's extended key usage does not allow code signing".into(),
            ));
        }
        let mut search = Search {
            roots: &roots,
            pool: &pool,
            at,
            checks: 0,
            exhausted: false,
            path: vec![leaf],
        };
        search.from(leaf)
    }

    /// A depth-first search for a path from the leaf to a trusted root.
    struct Search<'a> {
        roots: &'a [&'a Certificate],
        pool: &'a [&'a Certificate],
        at: std::time::Duration,
        checks: usize,
        /// The signature-check budget ran out: the search ends with that error.
        exhausted: bool,
        /// The path so far, the leaf first; its last certificate is the one being extended.
        path: Vec<&'a Certificate>,
    }

    impl<'a> Search<'a> {
        /// Checks `cur` (the last of the path) and extends the path from it to a trusted
        /// root, trying every candidate issuer in turn (those whose key identifiers match
        /// first); the first error met is returned when none leads to a root.
        fn from(&mut self, cur: &'a Certificate) -> Result<(), OmsError> {
            let depth = self.path.len() - 1;
            check_one(cur, self.at)?;
            if depth > 0 {
                check_issuer(cur, depth - 1)?;
            }
            // A trusted root ends the path, and only a trusted root is its own issuer: a
            // certificate whose issuer name is its own subject but whose own key did not sign
            // it (model_signing's test PKI makes such a signer) is issued by another.
            if self.roots.contains(&cur) {
                return Ok(());
            }
            if self.path.len() >= MAX_DEPTH {
                return Err(bad(format!(
                    "the certificate chain is longer than {MAX_DEPTH}"
                )));
            }
            let mut candidates: Vec<(bool, &'a Certificate)> = self
                .pool
                .iter()
                .copied()
                .filter(|c| !self.path.contains(c))
                .filter_map(|c| may_have_issued(cur, c).map(|positive| (positive, c)))
                .collect();
            // Stable: a positive key identifier match first, else the pool's order.
            candidates.sort_by_key(|(positive, _)| !positive);
            let mut first_error = None;
            for (_, c) in candidates {
                if self.checks >= MAX_SIGNATURE_CHECKS {
                    self.exhausted = true;
                }
                if self.exhausted {
                    // The search was cut short: that is the error, not a candidate's tried
                    // before it.
                    return Err(bad(format!(
                        "more than {MAX_SIGNATURE_CHECKS} candidate issuers were tried; refused"
                    )));
                }
                self.checks += 1;
                if !signed_by(cur, c) {
                    continue;
                }
                self.path.push(c);
                match self.from(c) {
                    Ok(()) => return Ok(()),
                    Err(e) if self.exhausted => return Err(e),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
                self.path.pop();
            }
            Err(first_error.unwrap_or_else(|| {
                bad(format!(
                    "the certificate chain does not lead to a trusted certificate: no given certificate issued {}",
                    subject(cur)
                ))
            }))
        }
    }
}

/// Verifies an OMS bundle made with Sigstore keyless signing, offline: the signing certificate
/// chains to a Fulcio CA of `trusted_root` (the Sigstore public-good root embedded in
/// sigstore-verify when `None`, or a `trusted_root.json` of another instance), its embedded
/// SCT and the Rekor transparency-log entry (inclusion proof with checkpoint, or signed entry
/// timestamp) verify, the entry matches the bundle, the certificate names `identity` (its
/// subject alternative name) and `issuer` (the OIDC provider), and the DSSE signature verifies
/// under it. The Sigstore project's `sigstore-verify` crate does all of that; this function
/// then checks model_signing's statement. Returns the manifest and the verified identity.
pub fn verify_keyless(
    b: &Bundle,
    identity: &str,
    issuer: &str,
    trusted_root: Option<&str>,
) -> Result<(OmsManifest, String), OmsError> {
    use sigstore_verify::trust_root::{TrustedRoot, SIGSTORE_PRODUCTION_TRUSTED_ROOT};
    use sigstore_verify::types::{bundle::SignatureContent, Sha256Hash};
    let (payload, _) = envelope_parts(&b.envelope)?;
    // The artifact the statement binds: its subject's SHA-256 (authenticated below, with the
    // whole payload, by the signature).
    let v: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|e| OmsError::Statement(e.to_string()))?;
    let subject = v
        .get("subject")
        .and_then(|s| s.get(0))
        .and_then(|s| s.get("digest"))
        .and_then(|d| d.get("sha256"))
        .and_then(|d| d.as_str())
        .ok_or_else(|| OmsError::Statement("no sha256 subject".into()))?;
    let digest = Sha256Hash::from_hex(subject)
        .map_err(|e| OmsError::Statement(format!("subject digest: {e}")))?;
    let root = TrustedRoot::from_json(trusted_root.unwrap_or(SIGSTORE_PRODUCTION_TRUSTED_ROOT))
        .map_err(|e| OmsError::Keyless(format!("the trusted root: {e}")))?;
    // The verifier reads exactly the members parsed here (one content, a DSSE envelope), and
    // the statement used below is the payload it verified, compared byte for byte.
    let bundle = sigstore_verify::types::Bundle::from_json(&b.sigstore_json())
        .map_err(|e| OmsError::NotABundle(e.to_string()))?;
    let policy = sigstore_verify::VerificationPolicy::new(identity, issuer);
    let result = sigstore_verify::verify(digest, &bundle, &policy, &root)
        .map_err(|e| OmsError::Keyless(e.to_string()))?;
    let SignatureContent::DsseEnvelope(verified) = &bundle.content else {
        return Err(OmsError::NotABundle(
            "the verified content is not a DSSE envelope".into(),
        ));
    };
    if verified.payload.as_bytes() != payload.as_slice() || verified.payload_type != PAYLOAD_TYPE {
        return Err(OmsError::Keyless(
            "the verified envelope is not the one read".into(),
        ));
    }
    let who = result
        .identity()
        .map(|i| i.as_str().to_string())
        .unwrap_or_else(|| identity.to_string());
    Ok((parse_statement(&payload)?, format!("{who} via {issuer}")))
}

/// The payload and the one signature of an OMS envelope.
fn envelope_parts(env: &RawEnvelope) -> Result<(Vec<u8>, Vec<u8>), OmsError> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(OmsError::Statement(format!(
            "payloadType {:?}, expected {PAYLOAD_TYPE:?}",
            env.payload_type.chars().take(100).collect::<String>()
        )));
    }
    if env.signatures.len() != 1 {
        return Err(OmsError::NotABundle(format!(
            "{} signatures in the envelope, expected one",
            env.signatures.len()
        )));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(&env.payload)
        .map_err(|_| OmsError::NotABundle("payload is not base64".into()))?;
    let sig = b64
        .decode(&env.signatures[0].sig)
        .map_err(|_| OmsError::NotABundle("signature is not base64".into()))?;
    Ok((payload, sig))
}

/// Parses an (authenticated) statement into the signed manifest.
pub fn parse_statement(payload: &[u8]) -> Result<OmsManifest, OmsError> {
    let bad = |s: &str| OmsError::Statement(s.to_string());
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| OmsError::Statement(e.to_string()))?;
    statement_rules(&v)?;
    let subjects = v
        .get("subject")
        .and_then(|s| s.as_array())
        .ok_or_else(|| bad("no subject"))?;
    let ptype = v
        .get("predicateType")
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let hex_ok = |s: &str| s.len().is_multiple_of(2) && s.bytes().all(|c| c.is_ascii_hexdigit());
    if ptype == PREDICATE_V01 {
        // model_signing 0.2: every file is a subject with its SHA-256.
        let mut resources = BTreeMap::new();
        for s in subjects {
            let name = s
                .get("name")
                .and_then(|n| n.as_str())
                .ok_or_else(|| bad("subject without name"))?;
            let d = s
                .get("digest")
                .and_then(|d| d.get("sha256"))
                .and_then(|d| d.as_str())
                .filter(|d| hex_ok(d))
                .ok_or_else(|| bad("subject without a sha256 digest"))?;
            resources.insert(
                name.to_string(),
                ("sha256".to_string(), d.to_ascii_lowercase()),
            );
        }
        return Ok(OmsManifest {
            model_name: String::new(),
            serialization: Serialization {
                shard_size: None,
                hash_type: "sha256".into(),
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            resources,
            legacy: true,
            subject: None,
        });
    }
    if subjects.len() != 1 {
        return Err(bad("expected exactly one subject"));
    }
    let model_name = subjects[0]
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .to_string();
    let expected = subjects[0]
        .get("digest")
        .and_then(|d| d.get("sha256"))
        .and_then(|d| d.as_str())
        .ok_or_else(|| bad("subject without a sha256 digest"))?
        .to_ascii_lowercase();
    let pred = v.get("predicate").ok_or_else(|| bad("no predicate"))?;
    let ser = pred
        .get("serialization")
        .ok_or_else(|| bad("no serialization"))?;
    let method = ser.get("method").and_then(|m| m.as_str()).unwrap_or("");
    let shard_size = match method {
        "files" => None,
        "shards" => Some(
            // Written through protobuf's JSON, the size may come as a float (65536.0).
            ser.get("shard_size")
                .and_then(|s| {
                    s.as_u64().or_else(|| {
                        s.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f > 0.0 && *f < 9.0e15)
                            .map(|f| f as u64)
                    })
                })
                .filter(|&s| s > 0)
                .ok_or_else(|| bad("shards without a positive shard_size"))?,
        ),
        other => {
            return Err(OmsError::Statement(format!(
                "serialization method {:?} is not files or shards",
                other.chars().take(50).collect::<String>()
            )))
        }
    };
    let hash_type = match ser.get("hash_type").and_then(|h| h.as_str()) {
        Some("sha256") => "sha256",
        Some("blake2" | "blake2b") => "blake2b",
        Some("blake3") => "blake3",
        other => {
            return Err(OmsError::Statement(format!(
                "hash_type {:?} is not sha256, blake2 or blake3",
                other.unwrap_or("")
            )))
        }
    }
    .to_string();
    let allow_symlinks = match ser.get("allow_symlinks") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let ignore_paths = ser
        .get("ignore_paths")
        .and_then(|i| i.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut hasher = sha2::Sha256::new();
    let mut resources = BTreeMap::new();
    for r in pred
        .get("resources")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("no resources"))?
    {
        let name = r
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| bad("resource without name"))?;
        let alg = r.get("algorithm").and_then(|a| a.as_str()).unwrap_or("");
        let d = r
            .get("digest")
            .and_then(|d| d.as_str())
            .filter(|d| hex_ok(d))
            .ok_or_else(|| bad("resource without a hex digest"))?;
        let raw = hex_decode(d);
        hasher.update(&raw);
        if resources
            .insert(name.to_string(), (alg.to_string(), d.to_ascii_lowercase()))
            .is_some()
        {
            return Err(OmsError::Statement(format!(
                "resource {name:?} listed twice"
            )));
        }
    }
    let subject: [u8; 32] = hasher.finalize().into();
    let found = crate::digest::hex(&subject);
    if found != expected {
        return Err(OmsError::SubjectDigest { expected, found });
    }
    Ok(OmsManifest {
        model_name,
        serialization: Serialization {
            shard_size,
            hash_type,
            allow_symlinks,
            ignore_paths,
        },
        resources,
        legacy: false,
        subject: Some(crate::Digest(subject)),
    })
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

/// A digest of `bytes start..end` of `file` with model_signing's hash type.
/// What a signed resource is read from: a file, or bytes not yet written (evidence a fetch
/// delivers only once its signature verified).
trait Source {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize>;
    fn size(&self) -> std::io::Result<u64>;
}

impl Source for std::fs::File {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, pos)
    }
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl Source for &[u8] {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
        let rest = self.get(pos as usize..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.len() as u64)
    }
}

fn digest_range(f: &dyn Source, start: u64, end: u64, hash_type: &str) -> std::io::Result<String> {
    enum H {
        Sha(sha2::Sha256),
        B2(blake2::Blake2b512),
        B3(Box<blake3::Hasher>),
    }
    let mut h = match hash_type {
        "blake2b" => H::B2(blake2::Blake2b512::new()),
        "blake3" => H::B3(Box::new(blake3::Hasher::new())),
        _ => H::Sha(sha2::Sha256::new()),
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = start;
    while pos < end {
        let want = ((end - pos) as usize).min(buf.len());
        let n = f.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read",
            ));
        }
        match &mut h {
            H::Sha(x) => x.update(&buf[..n]),
            H::B2(x) => x.update(&buf[..n]),
            H::B3(x) => {
                x.update(&buf[..n]);
            }
        }
        pos += n as u64;
    }
    Ok(match h {
        H::Sha(x) => crate::digest::hex(&x.finalize()),
        H::B2(x) => crate::digest::hex(&x.finalize()),
        H::B3(x) => x.finalize().to_hex().to_string(),
    })
}

/// Whether `rel` (a `/`-separated path relative to the model root) is at or under an ignored
/// path.
fn ignored(rel: &str, ignore: &[String]) -> bool {
    ignore.iter().any(|p| {
        let p = p.trim_start_matches("./").trim_end_matches('/');
        !p.is_empty() && (rel == p || rel.starts_with(&format!("{p}/")))
    })
}

/// The files of `dir` as model_signing serializes them: every regular file (and, when allowed,
/// symlink to one) not under an ignored path, by its `/`-separated relative path; an entry that
/// cannot be part of the model (a link when links are not allowed, a special file) comes with
/// the reason, to be reported as a failure.
#[allow(clippy::type_complexity)]
fn list_files(
    dir: &Path,
    allow_symlinks: bool,
    ignore: &[String],
    signature: Option<&FileId>,
) -> Result<Vec<(String, Result<PathBuf, String>)>, OmsError> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|source| OmsError::Io {
            path: d.clone(),
            source,
        })?;
        // Whether the signature file's directory is this one.
        let sig_here = signature
            .filter(|id| std::fs::metadata(&d).is_ok_and(|m| (m.dev(), m.ino()) == id.dir));
        for e in rd {
            let e = e.map_err(|source| OmsError::Io {
                path: d.clone(),
                source,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if ignored(&rel, ignore) {
                continue;
            }
            let p = e.path();
            let lm = std::fs::symlink_metadata(&p).map_err(|source| OmsError::Io {
                path: p.clone(),
                source,
            })?;
            // The signature file itself (a regular file, by identity) is not part of the model.
            if lm.is_file()
                && sig_here.is_some_and(|id| {
                    id.dev == lm.dev() && id.ino == lm.ino() && id.name == e.file_name()
                })
            {
                continue;
            }
            let m =
                if lm.file_type().is_symlink() {
                    if !allow_symlinks {
                        out.push((
                        rel,
                        Err("a symbolic link, and the signature was made without allow_symlinks"
                            .into()),
                    ));
                        continue;
                    }
                    match std::fs::metadata(&p) {
                        Ok(m) => m,
                        Err(e) => {
                            out.push((rel, Err(format!("a broken symbolic link: {e}"))));
                            continue;
                        }
                    }
                } else {
                    lm
                };
            if m.is_dir() {
                stack.push((p, format!("{rel}/")));
            } else if m.is_file() {
                out.push((rel, Ok(p)));
            } else {
                out.push((rel, Err("not a regular file".into())));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Hashes `dir` as `ser` says (files or shards, the hash type, ignored paths plus `extra`) and
/// compares with the signed manifest: one report line per file, as `verify` reports. The
/// `signature` file, when it is in `dir`, is left out by its identity.
pub fn verify_dir(
    dir: &Path,
    signed: &OmsManifest,
    extra_ignore: &[String],
    signature: Option<&FileId>,
) -> Result<Report, OmsError> {
    verify_dir_pending(dir, signed, extra_ignore, signature, &[])
}

/// [`verify_dir`], with `pending` files (name at the root, bytes) that are about to be written
/// into `dir` (a fetch's evidence, delivered only once this signature verified): each is
/// judged from those bytes, whatever `dir` holds at its name now.
pub fn verify_dir_pending(
    dir: &Path,
    signed: &OmsManifest,
    extra_ignore: &[String],
    signature: Option<&FileId>,
    pending: &[(&str, &[u8])],
) -> Result<Report, OmsError> {
    let ser = &signed.serialization;
    let mut ignore: Vec<String> = ser.ignore_paths.clone();
    ignore.extend(extra_ignore.iter().cloned());
    ignore.extend(pending.iter().map(|(n, _)| n.to_string()));
    // The evidence files of other formats at the root (a weightseal manifest, bundle or log
    // proof added after this signature) are not files of the model, unless this signature
    // covers them (spec/manifest.md, "Release directory").
    for e in crate::path::EVIDENCE_FILES {
        let signed_it = signed
            .resources
            .keys()
            .any(|k| k == e || k.starts_with(&format!("{e}:")));
        if !signed_it {
            ignore.push(e.to_string());
        }
    }
    // A single file, as model_signing signs `model_signing sign key path/to/model.gguf`: its one
    // resource is named `.` (the file relative to itself), shown under the file's name.
    let lm = std::fs::symlink_metadata(dir).map_err(|source| OmsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let single = if lm.file_type().is_symlink() {
        std::fs::metadata(dir).is_ok_and(|m| m.is_file())
    } else {
        lm.is_file()
    };
    let files = if single {
        let entry = if lm.file_type().is_symlink() && !ser.allow_symlinks {
            Err("a symbolic link, and the signature was made without allow_symlinks".to_string())
        } else {
            Ok(dir.to_path_buf())
        };
        vec![(".".to_string(), entry)]
    } else {
        list_files(dir, ser.allow_symlinks, &ignore, signature)?
    };
    let shown = |p: &str| -> String {
        match (single, dir.file_name()) {
            (true, Some(n)) if p == "." => n.to_string_lossy().into_owned(),
            _ => p.to_string(),
        }
    };
    // Expected digests grouped by file: (start, end) → digest; (0, u64::MAX) for whole files.
    let mut expected: BTreeMap<String, Vec<(u64, u64, String)>> = BTreeMap::new();
    for (name, (_, d)) in &signed.resources {
        match ser.shard_size {
            None => expected
                .entry(name.clone())
                .or_default()
                .push((0, u64::MAX, d.clone())),
            Some(_) => {
                let mut parts = name.rsplitn(3, ':');
                let (end, start, path) = (parts.next(), parts.next(), parts.next());
                match (
                    path,
                    start.and_then(|s| s.parse().ok()),
                    end.and_then(|e| e.parse().ok()),
                ) {
                    (Some(p), Some(s), Some(e)) => expected
                        .entry(p.to_string())
                        .or_default()
                        .push((s, e, d.clone())),
                    _ => {
                        return Err(OmsError::Statement(format!(
                            "shard resource {name:?} is not PATH:START:END"
                        )))
                    }
                }
            }
        }
    }
    let mut reports = Vec::new();
    let found_names: BTreeSet<&str> = files.iter().map(|f| f.0.as_str()).collect();
    for (path, fs_path) in &files {
        let fs_path = match fs_path {
            Ok(p) => p,
            Err(reason) => {
                reports.push(FileReport {
                    path: shown(path),
                    status: FileStatus::Unreadable {
                        reason: reason.clone(),
                    },
                });
                continue;
            }
        };
        let Some(exp) = expected.get(path) else {
            reports.push(FileReport {
                path: shown(path),
                status: FileStatus::Extra {
                    size: std::fs::metadata(fs_path).ok().map(|m| m.len()),
                    allowed: false,
                },
            });
            continue;
        };
        let status = match std::fs::File::open(fs_path).and_then(|f| hash_and_compare(&f, exp, ser))
        {
            Ok(s) => s,
            Err(e) => FileStatus::Unreadable {
                reason: e.to_string(),
            },
        };
        reports.push(FileReport {
            path: shown(path),
            status,
        });
    }
    for (name, bytes) in pending {
        // A pending file this signature does not cover is evidence left out as any other.
        let Some(exp) = expected.get(*name) else {
            continue;
        };
        let status = match hash_and_compare(bytes, exp, ser) {
            Ok(s) => s,
            Err(e) => FileStatus::Unreadable {
                reason: e.to_string(),
            },
        };
        reports.push(FileReport {
            path: shown(name),
            status,
        });
    }
    for path in expected
        .keys()
        .filter(|p| !found_names.contains(p.as_str()) && !pending.iter().any(|(n, _)| n == p))
    {
        reports.push(FileReport {
            path: shown(path),
            status: FileStatus::Missing,
        });
    }
    Ok(Report::new(reports, Vec::new(), None))
}

fn hash_and_compare(
    f: &dyn Source,
    exp: &[(u64, u64, String)],
    ser: &Serialization,
) -> std::io::Result<FileStatus> {
    let size = f.size()?;
    let mut bad = Vec::new();
    let (mut found_whole, mut expected_whole) = (String::new(), String::new());
    match ser.shard_size {
        None => {
            let d = digest_range(f, 0, size, &ser.hash_type)?;
            if d != exp[0].2 {
                bad.push(ByteRange {
                    start: 0,
                    end: size,
                });
                found_whole = d;
                expected_whole = exp[0].2.clone();
            }
        }
        Some(n) => {
            // The shards the file has now, against the signed ones.
            let mut want: BTreeMap<(u64, u64), &str> =
                exp.iter().map(|(s, e, d)| ((*s, *e), d.as_str())).collect();
            let mut start = 0u64;
            loop {
                let end = start.saturating_add(n).min(size);
                let d = digest_range(f, start, end, &ser.hash_type)?;
                if want.remove(&(start, end)) != Some(d.as_str()) {
                    bad.push(ByteRange { start, end });
                }
                if end >= size {
                    break;
                }
                start = end;
            }
            for ((s, e), _) in want {
                bad.push(ByteRange { start: s, end: e });
            }
            bad.sort_by_key(|r| (r.start, r.end));
        }
    }
    Ok(if bad.is_empty() {
        FileStatus::Ok
    } else {
        FileStatus::DigestMismatch {
            algorithm: ser.hash_type.clone(),
            expected: expected_whole,
            found: found_whole,
            ranges: bad,
        }
    })
}

/// One file for an OMS signature: its path relative to the model and its SHA-256.
pub struct SignedFile<'a> {
    pub path: &'a str,
    pub sha256: crate::Digest,
}

/// Writes an OMS bundle (v0.3, key method, files serialization, SHA-256) over `files`, as
/// `model_signing sign key` would for the same model with `ignore_paths` left out. The
/// payload is signed with `key` (model_signing's key method verifies ECDSA keys).
pub fn sign(
    model_name: &str,
    files: &[SignedFile],
    ignore_paths: &[String],
    key: &PrivateKey,
) -> String {
    let mut sorted: Vec<&SignedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(b.path));
    let mut root = sha2::Sha256::new();
    let resources: Vec<serde_json::Value> = sorted
        .iter()
        .map(|f| {
            root.update(f.sha256.0);
            serde_json::json!({"name": f.path, "algorithm": "sha256", "digest": f.sha256.to_hex()})
        })
        .collect();
    let statement = serde_json::json!({
        "_type": STATEMENT_V1,
        "subject": [{"name": model_name, "digest": {"sha256": crate::digest::hex(&root.finalize())}}],
        "predicateType": PREDICATE_V1,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": false,
                "ignore_paths": ignore_paths,
            },
            "resources": resources,
        }
    });
    let payload = serde_json::to_vec_pretty(&statement).expect("a statement serializes");
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = serde_json::json!({
        "mediaType": MEDIA_TYPES[0],
        "verificationMaterial": {
            "publicKey": {"hint": key_hint(&key.public())},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": b64.encode(&payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": b64.encode(sig), "keyid": ""}],
        }
    });
    let mut s = serde_json::to_string_pretty(&bundle).expect("a bundle serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_compat_is_python_bytes_repr() {
        assert_eq!(
            pae_compat(b"{\"a\": 'x'}\n\x01"),
            b"DSSEV1 28 application/vnd.in-toto+json 12 b'{\"a\": \\'x\\'}\\n\\x01'".to_vec()
        );
        assert_eq!(
            pae_compat(b"it's"),
            b"DSSEV1 28 application/vnd.in-toto+json 4 b\"it's\"".to_vec()
        );
    }

    /// OMS v1.0 §4.1: the method is the one member of `verificationMaterial` that names one;
    /// none, several, or a sigstore `certificate` without log entries is refused by its rule.
    #[test]
    fn verification_material_names_one_method() {
        let vm = |v: serde_json::Value| signing_method(&v);
        let rule = |r: Result<Method, OmsError>| match r {
            Err(OmsError::Spec { rule, .. }) => Some(rule),
            _ => None,
        };
        let cert = serde_json::json!({"rawBytes": "AA=="});
        assert_eq!(
            vm(serde_json::json!({"publicKey": {"hint": "x"}})).unwrap(),
            Method::Key
        );
        assert_eq!(
            vm(serde_json::json!({"x509CertificateChain": {"certificates": [cert]}, "tlogEntries": []}))
                .unwrap(),
            Method::Certificate
        );
        assert_eq!(
            vm(serde_json::json!({"x509CertificateChain": {"certificates": [cert]}, "tlogEntries": [{}]}))
                .unwrap(),
            Method::Keyless
        );
        assert_eq!(
            vm(serde_json::json!({"certificate": cert, "tlogEntries": [{}]})).unwrap(),
            Method::Keyless
        );
        for (v, want) in [
            (serde_json::Value::Null, SpecRule::NoVerificationMaterial),
            (serde_json::json!([]), SpecRule::NoVerificationMaterial),
            (serde_json::json!({}), SpecRule::NoSigningMethod),
            (
                serde_json::json!({"tlogEntries": []}),
                SpecRule::NoSigningMethod,
            ),
            (
                serde_json::json!({"publicKey": {"hint": "x"}, "certificate": cert}),
                SpecRule::SeveralSigningMethods,
            ),
            (
                serde_json::json!({"certificate": cert}),
                SpecRule::SigstoreWithoutTlogEntries,
            ),
            (
                serde_json::json!({"certificate": cert, "tlogEntries": []}),
                SpecRule::SigstoreWithoutTlogEntries,
            ),
        ] {
            assert_eq!(rule(vm(v.clone())), Some(want), "{v}");
        }
        assert!(matches!(
            Bundle::parse(" \n"),
            Err(OmsError::Spec {
                rule: SpecRule::Empty,
                ..
            })
        ));
    }

    #[test]
    fn ignore_paths_are_prefixes_by_component() {
        let ig = vec![".git".to_string(), "sub/dir".into(), "model.sig".into()];
        assert!(ignored(".git", &ig) && ignored(".git/config", &ig));
        assert!(!ignored(".gitattributes", &ig));
        assert!(ignored("sub/dir/x", &ig) && !ignored("sub/dirx", &ig));
        assert!(ignored("model.sig", &ig));
    }

    #[test]
    fn sign_then_verify_round_trips_and_names_failures() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.bin"), b"hello").unwrap();
        std::fs::create_dir(d.path().join("s")).unwrap();
        std::fs::write(d.path().join("s/b.txt"), b"world").unwrap();
        let k = PrivateKey::from_ecdsa_scalar(crate::attest::keys::Algorithm::EcdsaP256, &[9; 32])
            .unwrap();
        let sha = |b: &[u8]| crate::Digest(sha2::Sha256::digest(b).into());
        let files = [
            SignedFile {
                path: "s/b.txt",
                sha256: sha(b"world"),
            },
            SignedFile {
                path: "a.bin",
                sha256: sha(b"hello"),
            },
        ];
        let text = sign("m", &files, &[".git".into()], &k);
        assert!(is_oms_bundle(&text));
        let b = Bundle::parse(&text).unwrap();
        let (m, id) = verify_with_keys(&b, &[k.public()]).unwrap();
        assert_eq!(id, k.public().id());
        assert_eq!(m.model_name, "m");
        let r = verify_dir(d.path(), &m, &[], None).unwrap();
        assert!(r.ok, "{r:?}");
        std::fs::write(d.path().join("a.bin"), b"hellO").unwrap();
        std::fs::write(d.path().join("new"), b"").unwrap();
        let r = verify_dir(d.path(), &m, &[], None).unwrap();
        assert!(!r.ok);
        let st: Vec<(&str, &FileStatus)> = r
            .files
            .iter()
            .map(|f| (f.path.as_str(), &f.status))
            .collect();
        assert!(
            matches!(st[0], ("a.bin", FileStatus::DigestMismatch { .. })),
            "{st:?}"
        );
        assert!(matches!(st[1], ("new", FileStatus::Extra { .. })), "{st:?}");
        let other =
            PrivateKey::from_ecdsa_scalar(crate::attest::keys::Algorithm::EcdsaP256, &[8; 32])
                .unwrap();
        assert!(matches!(
            verify_with_keys(&b, &[other.public()]),
            Err(OmsError::KeyMismatch { .. })
        ));
    }
}
