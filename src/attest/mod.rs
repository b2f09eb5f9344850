//! Signed attestations (spec/attestation.md): ed25519 [`keys`] in PKCS#8/SPKI PEM, [`dsse`]
//! envelopes around in-toto [`statement`]s about a manifest digest, the JSON Lines
//! [`bundle`] beside the manifest, and the trust [`policy`] that decides whether a release's
//! attestations are enough (roles, thresholds, expiry, rollback). Lineage (`derived_from`)
//! lives in the statement.

pub mod bundle;
pub mod dsse;
pub mod keys;
pub mod policy;
pub mod statement;
pub mod time;
pub mod trust;

pub use keys::{PrivateKey, PublicKey};
pub use policy::{Policy, PolicyReport};

use std::collections::BTreeMap;
use std::path::Path;

use crate::digest::Digest;
use crate::manifest::Manifest;
use bundle::BundleLine;
use dsse::Envelope;
use policy::{evaluate, next_state, State};
use statement::{DerivedFrom, Predicate, Statement};
use time::Timestamp;

/// What a signer states about a release.
#[derive(Clone, Debug)]
pub struct Claims {
    pub role: String,
    pub signer: String,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub version: Option<u64>,
    pub derived_from: Vec<DerivedFrom>,
    pub annotations: BTreeMap<String, String>,
}

/// Why an attestation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("role {0:?} is not a lowercase word of 1 to 32 letters, digits or '-'")]
    BadRole(String),
    #[error("expires_at {expires} is not after issued_at {issued}")]
    ExpiresBeforeIssued {
        issued: Timestamp,
        expires: Timestamp,
    },
}

/// Signs a statement about `manifest` (its name and digest) with `key`.
pub fn attest(
    manifest: &Manifest,
    key: &PrivateKey,
    claims: &Claims,
) -> Result<Envelope, SignError> {
    if !statement::valid_role(&claims.role) {
        return Err(SignError::BadRole(claims.role.clone()));
    }
    if let Some(e) = claims.expires_at {
        if e <= claims.issued_at {
            return Err(SignError::ExpiresBeforeIssued {
                issued: claims.issued_at,
                expires: e,
            });
        }
    }
    let st = Statement::new(
        manifest.name(),
        manifest.digest(),
        Predicate {
            role: claims.role.clone(),
            signer: claims.signer.clone(),
            issued_at: claims.issued_at.to_string(),
            expires_at: claims.expires_at.map(|t| t.to_string()),
            version: claims.version,
            derived_from: claims.derived_from.clone(),
            annotations: claims.annotations.clone(),
            derivation: None,
        },
    );
    Ok(Envelope::sign(&st.to_bytes(), key))
}

/// Signs a reproduction attestation (spec/derive.md): a statement about the derived manifest
/// `digest` of model `name`, of predicate type
/// [`statement::DERIVATION_PREDICATE_TYPE`], carrying `derivation`.
#[allow(clippy::too_many_arguments)]
pub fn attest_derivation(
    name: &str,
    digest: Digest,
    key: &PrivateKey,
    role: &str,
    signer: &str,
    issued_at: Timestamp,
    expires_at: Option<Timestamp>,
    derivation: statement::Derivation,
) -> Result<Envelope, SignError> {
    if !statement::valid_role(role) {
        return Err(SignError::BadRole(role.to_string()));
    }
    if let Some(e) = expires_at {
        if e <= issued_at {
            return Err(SignError::ExpiresBeforeIssued {
                issued: issued_at,
                expires: e,
            });
        }
    }
    let mut st = Statement::new(
        name,
        digest,
        Predicate {
            role: role.to_string(),
            signer: signer.to_string(),
            issued_at: issued_at.to_string(),
            expires_at: expires_at.map(|t| t.to_string()),
            version: None,
            derived_from: Vec::new(),
            annotations: BTreeMap::new(),
            derivation: Some(derivation),
        },
    );
    st.predicate_type = statement::DERIVATION_PREDICATE_TYPE.to_string();
    Ok(Envelope::sign(&st.to_bytes(), key))
}

/// Parses a lineage reference: `DIGEST[:RELATION[:NAME]]`, or `PATH[:RELATION[:NAME]]` where
/// PATH is a manifest file or a model directory holding one (its digest and name are taken).
/// The error names the argument and what was expected.
pub fn parse_derived(arg: &str) -> Result<DerivedFrom, String> {
    use statement::{DigestSet, Relation};
    let mut parts = arg.splitn(3, ':');
    let first = parts.next().unwrap_or("");
    let relation = match parts.next() {
        None | Some("") => Relation::Other,
        Some(r) => Relation::parse(r).ok_or_else(|| {
            format!("{arg:?}: relation {r:?} is not one of finetune, quantized, merge, adapter, distilled, other")
        })?,
    };
    let name = parts.next().map(str::to_string);
    if let Some(d) = crate::Digest::from_hex(first) {
        return Ok(DerivedFrom {
            name: name.unwrap_or_default(),
            digest: DigestSet { blake3: d.to_hex() },
            relation,
        });
    }
    let p = Path::new(first);
    let mp = if p.is_dir() {
        p.join(crate::path::MANIFEST_FILE)
    } else {
        p.to_path_buf()
    };
    if !mp.exists() {
        return Err(format!("{arg:?}: {first:?} is neither a 64-hex-digit manifest digest nor a manifest or model directory"));
    }
    let m = Manifest::read_file(&mp)
        .map_err(|e| format!("{arg:?}: invalid manifest {}: {e}", mp.display()))?;
    Ok(DerivedFrom {
        name: name.unwrap_or_else(|| m.name().to_string()),
        digest: DigestSet {
            blake3: m.digest().to_hex(),
        },
        relation,
    })
}

/// Evaluates `policy` over a release's attestations at `now`. When the policy names a state
/// file, reads it for rollback protection and, if the policy is met, records the release's
/// version in it (atomically).
pub fn check_release(
    policy: &Policy,
    manifest: &Manifest,
    bundle: &[BundleLine],
    now: Timestamp,
) -> Result<PolicyReport, String> {
    let state = match &policy.state_file {
        Some(p) => Some(State::read(p)?),
        None => None,
    };
    let report = evaluate(
        policy,
        manifest.name(),
        manifest.digest(),
        bundle,
        now,
        state.as_ref(),
    );
    if let (Some(path), Some(state), true) = (&policy.state_file, &state, report.ok) {
        let next = next_state(state, manifest.name(), &report);
        if &next != state {
            write_state(path, &next)
                .map_err(|e| format!("cannot write state file {}: {e}", path.display()))?;
        }
    }
    Ok(report)
}

fn write_state(path: &Path, state: &State) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, &state.to_bytes(), 0o600)
}

/// One model in a provenance chain.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LineageNode {
    pub name: String,
    pub digest: Digest,
    /// Where its manifest was found (`None` when only named by a child's attestation).
    pub found_in: Option<String>,
    /// Its attestations as evaluated (with no trusted keys: all untrusted).
    pub attestations: Vec<policy::AttestationReport>,
    pub parents: Vec<LineageEdge>,
}

/// A `derived_from` claim and the parent it names.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LineageEdge {
    pub relation: statement::Relation,
    /// Line of the attestation that claims it, and who signed it.
    pub claimed_by_line: usize,
    pub claimed_by: Vec<String>,
    /// Whether the claiming attestation is valid under the keys given.
    pub trusted: bool,
    /// Reproduction attestations (spec/derive.md) about this edge: someone recomputed the
    /// child from this parent. An edge with none is only declared.
    pub reproduced_by: Vec<Reproduction>,
    pub parent: Box<LineageNode>,
}

/// A reproduction attestation of a lineage edge.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reproduction {
    /// Its line in the bundle, and who signed it (policy key names, else the signer field).
    pub line: usize,
    pub by: Vec<String>,
    /// Valid under the keys given (and its base declared by the publisher).
    pub trusted: bool,
}

/// A release known locally: its manifest, bundle and where it lives.
pub struct Release {
    pub manifest: Manifest,
    pub bundle: Vec<BundleLine>,
    pub location: String,
}

/// Builds the provenance chain of `root`: each attestation's `derived_from` entries, followed
/// into `known` releases by manifest digest (cycles stop). Only claims in attestations whose
/// signatures verify under `policy` are followed as trusted; with `policy` `None`, claims are
/// shown but marked untrusted (the payloads are parsed without a signature check).
pub fn lineage(
    root: &Release,
    known: &[Release],
    policy: Option<&Policy>,
    now: Timestamp,
) -> LineageNode {
    fn node(
        r: &Release,
        known: &[Release],
        policy: Option<&Policy>,
        now: Timestamp,
        seen: &mut Vec<Digest>,
    ) -> LineageNode {
        let digest = r.manifest.digest();
        seen.push(digest);
        let empty = Policy::publisher_keys(Vec::new());
        let p = policy.unwrap_or(&empty);
        let report = evaluate(p, r.manifest.name(), digest, &r.bundle, now, None);
        let mut parents = Vec::new();
        let mut reproductions: Vec<(Digest, Reproduction)> = Vec::new();
        for (line, att) in r.bundle.iter().zip(&report.attestations) {
            let Ok(env) = &line.envelope else { continue };
            let trusted = att.status == policy::Status::Valid;
            // Untrusted claims are read only for display, and marked as such.
            let payload =
                match env.verify(&p.keys.iter().map(|k| k.key.clone()).collect::<Vec<_>>()) {
                    Ok((payload, _)) => payload,
                    Err(_) => match base64::Engine::decode(
                        &base64::engine::general_purpose::STANDARD,
                        &env.payload,
                    ) {
                        Ok(p) => p,
                        Err(_) => continue,
                    },
                };
            let Ok(checked) = Statement::parse(&payload) else {
                continue;
            };
            if checked.subject_digest != digest {
                continue;
            }
            let claimed_by: Vec<String> = if att.keys.is_empty() {
                att.signer.iter().cloned().collect()
            } else {
                att.keys.clone()
            };
            if let Some(d) = &checked.statement.predicate.derivation {
                if let Some(base) = Digest::from_hex(&d.base.digest.blake3) {
                    reproductions.push((
                        base,
                        Reproduction {
                            line: line.line,
                            by: claimed_by.clone(),
                            trusted,
                        },
                    ));
                }
            }
            for d in &checked.statement.predicate.derived_from {
                let Some(pd) = Digest::from_hex(&d.digest.blake3) else {
                    continue;
                };
                let parent = match known.iter().find(|k| k.manifest.digest() == pd) {
                    Some(k) if !seen.contains(&pd) => node(k, known, policy, now, seen),
                    _ => LineageNode {
                        name: d.name.clone(),
                        digest: pd,
                        found_in: None,
                        attestations: Vec::new(),
                        parents: Vec::new(),
                    },
                };
                parents.push(LineageEdge {
                    relation: d.relation,
                    claimed_by_line: line.line,
                    claimed_by: att
                        .signer
                        .iter()
                        .cloned()
                        .chain(att.keys.iter().cloned())
                        .collect(),
                    trusted,
                    reproduced_by: Vec::new(),
                    parent: Box::new(parent),
                });
            }
        }
        for e in &mut parents {
            e.reproduced_by = reproductions
                .iter()
                .filter(|(b, _)| *b == e.parent.digest)
                .map(|(_, r)| r.clone())
                .collect();
        }
        seen.pop();
        LineageNode {
            name: r.manifest.name().to_string(),
            digest,
            found_in: Some(r.location.clone()),
            attestations: report.attestations,
            parents,
        }
    }
    node(root, known, policy, now, &mut Vec::new())
}
