//! The log entry of a release (spec/log.md, "Entry"): what a monitor needs to see who claims
//! which manifest for which model and version, and to check the signatures itself.
//!
//! ```text
//! weightseal.dev/log-entry/v1
//! model "org/model"
//! manifest 9f2c…(64 hex digits: the manifest's BLAKE3 digest)
//! version 3                      (or `none`)
//! attestation eyJwYXlsb2FkIj…    (zero or more: each DSSE envelope line, base64)
//! ```
//!
//! Every line ends in a newline. The model name is a JSON string (RFC 8259, as
//! `serde_json` writes it: `"` and `\` and control characters escaped, nothing else). A
//! reader re-encodes what it read and refuses the entry unless the bytes are identical, so an
//! entry has one encoding and one leaf hash.

use base64::Engine as _;

use super::LogError;
use crate::attest::bundle::BundleLine;
use crate::attest::dsse::{Envelope, MAX_PAYLOAD_LEN, PAYLOAD_TYPE};
use crate::attest::statement::{Checked, Statement};
use crate::digest::Digest;
use crate::manifest::Manifest;

/// The first line of every entry.
pub const HEADER: &str = "weightseal.dev/log-entry/v1";
/// Largest entry: an entry bundle's length prefix is 16 bits.
pub const MAX_ENTRY_LEN: usize = 65_535;

/// A release as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub model: String,
    pub manifest: Digest,
    /// The lowest version stated by the release's publisher attestations.
    pub version: Option<u64>,
    /// The release's attestations about this manifest, each a DSSE envelope line.
    pub attestations: Vec<String>,
}

impl LogEntry {
    /// The entry of a release (spec/log.md, "Entry"): its manifest, and, in bundle order,
    /// every line of `bundle` that is an attestation about this manifest and model name
    /// (`about`), recorded as the line appears; the version is the lowest its `publisher`
    /// ones state. Nothing here depends on keys, clocks or a policy: the signatures are not
    /// checked, so the log and a monitor compute the same entry for the same release.
    pub fn of_release(manifest: &Manifest, bundle: &[BundleLine]) -> Result<LogEntry, LogError> {
        LogEntry::of_bundle(manifest.name(), manifest.digest(), bundle)
    }

    /// [`LogEntry::of_release`] for the release with model name `model` and manifest digest
    /// `manifest`: all an entry depends on besides the bundle.
    pub fn of_bundle(
        model: &str,
        manifest: Digest,
        bundle: &[BundleLine],
    ) -> Result<LogEntry, LogError> {
        let mut attestations = Vec::new();
        let mut version: Option<u64> = None;
        for line in bundle {
            // A line the bundle reader refused (too many lines, not an envelope) is left out.
            let Ok(env) = &line.envelope else { continue };
            let Ok(st) = about(env, model, manifest) else {
                continue;
            };
            if st.statement.predicate.role == "publisher" {
                if let Some(v) = st.statement.predicate.version {
                    version = Some(version.map_or(v, |x| x.min(v)));
                }
            }
            attestations.push(line.text.clone());
        }
        let e = LogEntry {
            model: model.to_string(),
            manifest,
            version,
            attestations,
        };
        let len = e.encode().len();
        if len > MAX_ENTRY_LEN {
            return Err(LogError::Entry(format!(
                "{len} bytes, more than the {MAX_ENTRY_LEN} an entry may hold"
            )));
        }
        Ok(e)
    }

    /// The entry's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        s.push_str(HEADER);
        s.push('\n');
        s.push_str("model ");
        s.push_str(&serde_json::to_string(&self.model).expect("a string serializes"));
        s.push('\n');
        s.push_str(&format!("manifest {}\n", self.manifest.to_hex()));
        match self.version {
            Some(v) => s.push_str(&format!("version {v}\n")),
            None => s.push_str("version none\n"),
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for a in &self.attestations {
            s.push_str("attestation ");
            s.push_str(&b64.encode(a.as_bytes()));
            s.push('\n');
        }
        s.into_bytes()
    }

    /// Reads an entry, strictly: exactly the lines above, in that order, and the bytes must be
    /// the ones [`LogEntry::encode`] writes for what was read.
    pub fn decode(bytes: &[u8]) -> Result<LogEntry, LogError> {
        let bad = |s: &str| LogError::Entry(s.to_string());
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(bad("longer than 65535 bytes"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("does not end in a newline"))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not weightseal.dev/log-entry/v1"));
        }
        let model_json = lines
            .next()
            .and_then(|l| l.strip_prefix("model "))
            .ok_or_else(|| bad("no model line"))?;
        let model: String =
            serde_json::from_str(model_json).map_err(|_| bad("the model is not a JSON string"))?;
        let manifest = lines
            .next()
            .and_then(|l| l.strip_prefix("manifest "))
            .ok_or_else(|| bad("no manifest line"))?;
        let manifest = Digest::from_hex(manifest)
            .ok_or_else(|| bad("the manifest digest is not 64 lowercase hex digits"))?;
        let version = match lines.next().and_then(|l| l.strip_prefix("version ")) {
            Some("none") => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| bad("the version is not a decimal or none"))?,
            ),
            None => return Err(bad("no version line")),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut attestations = Vec::new();
        for l in lines {
            let a = l
                .strip_prefix("attestation ")
                .ok_or_else(|| bad("a line after the version is not an attestation"))?;
            let raw = b64
                .decode(a)
                .map_err(|_| bad("an attestation is not base64"))?;
            attestations
                .push(String::from_utf8(raw).map_err(|_| bad("an attestation is not UTF-8"))?);
        }
        let e = LogEntry {
            model,
            manifest,
            version,
            attestations,
        };
        if e.encode() != bytes {
            return Err(bad("not in its one encoding"));
        }
        Ok(e)
    }

    /// The versions the entry's `publisher` attestations state, lowest first, without repeats.
    /// Every attestation must be a DSSE envelope whose statement (spec/attestation.md,
    /// "Statement") is about this entry's model name and manifest; the first that is not is
    /// the error. The signatures are not checked here.
    pub fn stated_versions(&self) -> Result<Vec<u64>, LogError> {
        let (versions, bad) = self.versions_stated_by(&["publisher"]);
        match bad {
            Some(e) => Err(e),
            None => Ok(versions),
        }
    }

    /// The versions stated by the entry's attestations of the roles `roles` that are DSSE
    /// envelopes about this entry's model name and manifest, lowest first, without repeats,
    /// and the first attestation that is not such an envelope (as [`LogEntry::stated_versions`]
    /// names it), if one is not: what a monitor recomputes, whatever else the entry holds. The
    /// signatures are not checked here.
    pub fn versions_stated_by(&self, roles: &[&str]) -> (Vec<u64>, Option<LogError>) {
        let mut versions = Vec::new();
        let mut bad = None;
        for (i, a) in self.attestations.iter().enumerate() {
            let n = i + 1;
            match self.statement_of(n, a) {
                Ok(st) => {
                    let p = &st.statement.predicate;
                    if roles.contains(&p.role.as_str()) {
                        versions.extend(p.version);
                    }
                }
                Err(e) => {
                    bad.get_or_insert(e);
                }
            }
        }
        versions.sort_unstable();
        versions.dedup();
        (versions, bad)
    }

    /// The statement of attestation `n` (`a`), when it is one DSSE envelope line about this
    /// entry's model name and manifest (`about`).
    fn statement_of(&self, n: usize, a: &str) -> Result<Checked, LogError> {
        let mut lines = crate::attest::bundle::parse(a);
        if a.contains('\n') || lines.len() != 1 {
            return Err(LogError::Entry(format!(
                "attestation {n} is not one envelope line"
            )));
        }
        let env = lines
            .remove(0)
            .envelope
            .map_err(|e| LogError::Entry(format!("attestation {n} is not a DSSE envelope: {e}")))?;
        about(&env, &self.model, self.manifest).map_err(|e| match e {
            About::Subject(subject, digest) => LogError::Entry(format!(
                "attestation {n} is about {subject:?} (manifest {digest}), not this entry's {:?} (manifest {})",
                self.model, self.manifest
            )),
            e => LogError::Entry(format!("attestation {n}: {e}")),
        })
    }

    /// Checks an entry as a log accepts it (spec/log.md, "Submission API"): every attestation
    /// is an envelope about this model and manifest ([`LogEntry::stated_versions`]), and the
    /// `version` line is the lowest version its publisher attestations state (`none` when
    /// none states one), so a monitor indexing releases by that line sees what verifiers see.
    pub fn check_consistent(&self) -> Result<(), LogError> {
        let computed = self.stated_versions()?.first().copied();
        if computed != self.version {
            let show = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
            return Err(LogError::Entry(format!(
                "its version line says {}, its publisher attestations state {}",
                show(self.version),
                show(computed)
            )));
        }
        Ok(())
    }

    /// Reads a submitted entry as a log admits it (`POST /add`, `log add --entries`): its one
    /// encoding ([`LogEntry::decode`]), its attestations and version line consistent
    /// ([`LogEntry::check_consistent`]), and, when the operator requires it, the publisher
    /// signature of a key of `required` (spec/attestation.md, steps 1-9, at `now`).
    pub fn admit(
        bytes: &[u8],
        required: Option<&crate::attest::Policy>,
        now: crate::attest::time::Timestamp,
    ) -> Result<LogEntry, LogError> {
        let e = LogEntry::decode(bytes)?;
        e.check_consistent()?;
        if let Some(p) = required {
            let r =
                crate::attest::policy::evaluate(p, &e.model, e.manifest, &e.bundle(), now, None);
            if !r.ok {
                return Err(LogError::Entry(format!(
                    "{:?} (manifest {}) is not signed as publisher by a key this log requires",
                    e.model, e.manifest
                )));
            }
        }
        Ok(e)
    }

    /// The attestations as bundle lines (for checking their signatures).
    pub fn bundle(&self) -> Vec<BundleLine> {
        crate::attest::bundle::parse(&self.attestations.join("\n"))
    }

    /// The RFC 6962 leaf hash: SHA-256(0x00 || entry).
    pub fn leaf_hash(&self) -> tlog_tiles::Hash {
        tlog_tiles::record_hash(&self.encode())
    }
}

/// Why an envelope is not an attestation about a release.
#[derive(Debug)]
enum About {
    PayloadType,
    PayloadTooLarge,
    Base64,
    NoSignatures,
    Statement(String),
    Subject(String, Digest),
}

impl std::fmt::Display for About {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            About::PayloadType => write!(f, "its payloadType is not {PAYLOAD_TYPE}"),
            About::PayloadTooLarge => write!(f, "its payload is larger than 262144 bytes"),
            About::Base64 => write!(f, "its payload is not base64"),
            About::NoSignatures => write!(f, "it has no signature"),
            About::Statement(e) => write!(f, "not a weightseal statement: {e}"),
            About::Subject(s, d) => write!(f, "it is about {s:?} (manifest {d})"),
        }
    }
}

/// Whether the envelope `env` (a bundle line the bundle reader accepted: spec/attestation.md,
/// "Verifying attestations", step 1) is an attestation *about* the release `model` /
/// `manifest` (spec/log.md, "Entry"), and its statement if so: it passes steps 2, 3, 5 and 6
/// of that list, every check that needs no key, clock or policy. Its signatures (step 4) are
/// not looked at.
fn about(env: &Envelope, model: &str, manifest: Digest) -> Result<Checked, About> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(About::PayloadType);
    }
    if crate::attest::dsse::decoded_len(&env.payload) > MAX_PAYLOAD_LEN {
        return Err(About::PayloadTooLarge);
    }
    // The standard alphabet, else the URL-safe one (spec/attestation.md, "Envelope").
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&env.payload))
        .map_err(|_| About::Base64)?;
    if env.signatures.is_empty() {
        return Err(About::NoSignatures);
    }
    let st = Statement::parse(&payload).map_err(|e| About::Statement(e.to_string()))?;
    let subject = st.statement.subject.first().map(|s| s.name.as_str());
    if st.subject_digest != manifest || subject != Some(model) {
        return Err(About::Subject(
            subject.unwrap_or("").to_string(),
            st.subject_digest,
        ));
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_encodings() {
        let e = LogEntry {
            model: "org/m\u{e9}\"x".into(),
            manifest: Digest([7; 32]),
            version: Some(3),
            attestations: vec!["{\"a\":1}".into()],
        };
        let b = e.encode();
        assert_eq!(LogEntry::decode(&b).unwrap(), e);
        let text = String::from_utf8(b.clone()).unwrap();
        assert!(text.starts_with("weightseal.dev/log-entry/v1\nmodel \"org/m\u{e9}\\\"x\"\n"));
        // Another escaping of the same name, a trailing byte, a missing newline: refused.
        for other in [
            text.replace("m\u{e9}", "m\\u00e9"),
            format!("{text} "),
            text.trim_end().to_string(),
            text.replace("version 3", "version 03"),
        ] {
            assert!(LogEntry::decode(other.as_bytes()).is_err(), "{other:?}");
        }
    }
}
