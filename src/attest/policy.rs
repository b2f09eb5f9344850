//! Trust policy and its evaluation (spec/attestation.md, "Trust policy" and "Verifying
//! attestations").
//!
//! A policy (TOML) names trusted keys and the roles each may attest, and a threshold per
//! required role: k distinct trusted keys (the same key twice counts once). Expired
//! attestations do not count (unless expiry enforcement is turned off). With a state file,
//! a release version lower than the highest one accepted before for the same model fails
//! (rollback protection). Evaluation is pure: the caller gives the time and the state, and
//! writes the new state only after success.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bundle::BundleLine;
use super::keys::{KeyError, PublicKey};
use super::statement::{valid_role, Checked, Statement};
use super::time::Timestamp;
use crate::digest::Digest;

/// Largest policy file read.
const MAX_POLICY_LEN: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    model: Option<String>,
    enforce_expiry: Option<bool>,
    state_file: Option<String>,
    #[serde(default)]
    keys: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    roles: BTreeMap<String, RoleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    public_key: Option<String>,
    public_key_pem: Option<String>,
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    threshold: u32,
}

/// A trusted key.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    pub name: String,
    pub key: PublicKey,
    pub roles: BTreeSet<String>,
}

/// A loaded, checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// When set, the manifest's model name must be this.
    pub model: Option<String>,
    pub enforce_expiry: bool,
    pub state_file: Option<PathBuf>,
    pub keys: Vec<TrustedKey>,
    /// Required roles and how many distinct trusted keys each needs.
    pub thresholds: BTreeMap<String, u32>,
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {}: {detail}", path.display())]
    Syntax { path: PathBuf, detail: String },
    #[error("policy {}: key {name:?}: {detail}", path.display())]
    Key {
        path: PathBuf,
        name: String,
        detail: String,
    },
    #[error("policy {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
    #[error("policy {}: role {role:?}: {detail}", path.display())]
    Role {
        path: PathBuf,
        role: String,
        detail: String,
    },
}

impl Policy {
    /// Reads a policy file; relative key paths and the state file are relative to it.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let io = |source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_POLICY_LEN), &mut text)
            .map_err(io)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Policy::parse(&text, path, base)
    }

    /// Parses policy TOML; `origin` names it in errors, `base` resolves relative paths.
    pub fn parse(text: &str, origin: &Path, base: &Path) -> Result<Policy, PolicyError> {
        let path = origin.to_path_buf();
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            path: path.clone(),
            detail: e.to_string().trim().to_string(),
        })?;
        let mut keys = Vec::new();
        for (name, k) in file.keys {
            let key = match (&k.public_key, &k.public_key_pem) {
                (Some(p), None) => {
                    PublicKey::read(&base.join(p)).map_err(|source| PolicyError::KeyFile {
                        path: path.clone(),
                        source,
                    })?
                }
                (None, Some(pem)) => {
                    PublicKey::from_pem(pem, &path).map_err(|source| PolicyError::KeyFile {
                        path: path.clone(),
                        source,
                    })?
                }
                _ => return Err(PolicyError::Key {
                    path,
                    name,
                    detail:
                        "give exactly one of public_key (a PEM file) or public_key_pem (inline PEM)"
                            .into(),
                }),
            };
            if k.roles.is_empty() {
                return Err(PolicyError::Key {
                    path,
                    name,
                    detail: "roles must list at least one role".into(),
                });
            }
            if let Some(r) = k.roles.iter().find(|r| !valid_role(r)) {
                return Err(PolicyError::Key {
                    path,
                    name,
                    detail: format!(
                        "{r:?} is not a role (a lowercase word of letters, digits or '-')"
                    ),
                });
            }
            keys.push(TrustedKey {
                name,
                key,
                roles: k.roles.into_iter().collect(),
            });
        }
        let mut thresholds = BTreeMap::new();
        for (role, r) in file.roles {
            if !valid_role(&role) {
                return Err(PolicyError::Role {
                    path,
                    role,
                    detail: "not a role name (a lowercase word of letters, digits or '-')".into(),
                });
            }
            let eligible: BTreeSet<&str> = keys
                .iter()
                .filter(|k| k.roles.contains(&role))
                .map(|k| k.key.id())
                .collect();
            if r.threshold == 0 || r.threshold as usize > eligible.len() {
                return Err(PolicyError::Role {
                    path,
                    role,
                    detail: format!(
                        "threshold {} cannot be met: it must be at least 1 and at most the {} distinct key(s) allowed this role",
                        r.threshold,
                        eligible.len()
                    ),
                });
            }
            thresholds.insert(role, r.threshold);
        }
        if thresholds.is_empty() {
            return Err(PolicyError::Syntax {
                path,
                detail: "no [roles.NAME] table with a threshold: the policy would accept anything"
                    .into(),
            });
        }
        Ok(Policy {
            model: file.model,
            enforce_expiry: file.enforce_expiry.unwrap_or(true),
            state_file: file.state_file.map(|s| base.join(s)),
            keys,
            thresholds,
        })
    }

    /// The policy of `--key PUB...`: at least one valid publisher attestation by one of these
    /// keys (each given with the name to show for it).
    pub fn publisher_keys(keys: Vec<(String, PublicKey)>) -> Policy {
        Policy {
            model: None,
            enforce_expiry: true,
            state_file: None,
            keys: keys
                .into_iter()
                .map(|(name, key)| TrustedKey {
                    name,
                    key,
                    roles: ["publisher".to_string()].into(),
                })
                .collect(),
            thresholds: [("publisher".to_string(), 1)].into(),
        }
    }
}

/// Rollback state: the highest release version accepted per model name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub versions: BTreeMap<String, u64>,
}

impl State {
    /// Reads a state file; a missing file is the empty state.
    pub fn read(path: &Path) -> Result<State, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("state file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("cannot read state file {}: {e}", path.display())),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("state serializes");
        v.push(b'\n');
        v
    }
}

/// The verdict on one attestation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Signed by a trusted key allowed this role, about this manifest, in force.
    Valid,
    /// No signature by a trusted key.
    Untrusted,
    /// A signature or the envelope is bad (see the code).
    Invalid,
    /// About another manifest (or model name).
    WrongSubject,
    /// The signing key may not attest this role.
    RoleNotAllowed,
    /// Past its expires_at.
    Expired,
    /// Issued in the future (beyond 5 minutes of clock skew).
    NotYetValid,
}

/// One attestation as evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttestationReport {
    /// 1-based line in the bundle.
    pub line: usize,
    pub status: Status,
    /// A stable code for the reason (`bad-signature`, `expired`, …); `valid` when valid.
    pub code: String,
    pub detail: String,
    /// Trusted keys whose signatures verified (names from the policy).
    pub keys: Vec<String>,
    pub keyids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// One required role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleReport {
    pub role: String,
    pub threshold: u32,
    /// Distinct trusted keys with a valid attestation of this role.
    pub keys: Vec<String>,
    pub met: bool,
}

/// The outcome of a policy over a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyReport {
    pub ok: bool,
    pub attestations: Vec<AttestationReport>,
    pub roles: Vec<RoleReport>,
    /// The release version the valid attestations state (the highest), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Failures that are not about one attestation (rollback, model name, state file).
    pub problems: Vec<Problem>,
}

/// A failure of the policy as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub detail: String,
}

/// Clock skew tolerated for issued_at.
const SKEW: i64 = 300;

/// Evaluates `policy` over the bundle for the manifest `digest` of model `name` at time `now`,
/// with the rollback `state` (when the policy has a state file).
pub fn evaluate(
    policy: &Policy,
    name: &str,
    digest: Digest,
    bundle: &[BundleLine],
    now: Timestamp,
    state: Option<&State>,
) -> PolicyReport {
    let trusted: Vec<PublicKey> = policy.keys.iter().map(|k| k.key.clone()).collect();
    let key_name = |id: &str| {
        policy
            .keys
            .iter()
            .find(|k| k.key.id() == id)
            .map(|k| k.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let mut reports = Vec::new();
    let mut per_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut versions = Vec::new();
    for line in bundle {
        let mut r = AttestationReport {
            line: line.line,
            status: Status::Invalid,
            code: String::new(),
            detail: String::new(),
            keys: Vec::new(),
            keyids: Vec::new(),
            role: None,
            signer: None,
            version: None,
            issued_at: None,
            expires_at: None,
        };
        let env = match &line.envelope {
            Ok(e) => e,
            Err(e) => {
                r.code = e.code().to_string();
                r.detail = e.to_string();
                reports.push(r);
                continue;
            }
        };
        r.keyids = env
            .signatures
            .iter()
            .map(|s| s.keyid.chars().take(80).collect())
            .collect();
        // 1. Signatures over the exact payload bytes, before anything reads the payload.
        let (payload, ids) = match env.verify(&trusted) {
            Ok(x) => x,
            Err(e) => {
                r.status = if matches!(e, super::dsse::DsseError::Untrusted { .. }) {
                    Status::Untrusted
                } else {
                    Status::Invalid
                };
                r.code = e.code().to_string();
                r.detail = e.to_string();
                reports.push(r);
                continue;
            }
        };
        r.keys = ids.iter().map(|id| key_name(id)).collect();
        // 2. The statement.
        let Checked {
            statement,
            subject_digest,
            issued_at,
            expires_at,
        } = match Statement::parse(&payload) {
            Ok(c) => c,
            Err(e) => {
                r.code = "bad-statement".into();
                r.detail = e.to_string();
                reports.push(r);
                continue;
            }
        };
        let p = &statement.predicate;
        r.role = Some(p.role.clone());
        r.signer = Some(p.signer.clone());
        r.version = p.version;
        r.issued_at = Some(p.issued_at.clone());
        r.expires_at = p.expires_at.clone();
        // 3. About this manifest.
        let subject = &statement.subject[0];
        if subject_digest != digest || subject.name != name {
            r.status = Status::WrongSubject;
            r.code = "wrong-subject".into();
            r.detail = format!(
                "about {} (manifest {}), not {name} (manifest {digest})",
                subject.name.chars().take(200).collect::<String>(),
                subject.digest.blake3
            );
            reports.push(r);
            continue;
        }
        // 4. In force.
        if issued_at.0 > now.0 + SKEW {
            r.status = Status::NotYetValid;
            r.code = "not-yet-valid".into();
            r.detail = format!("issued_at {issued_at} is in the future (now {now})");
            reports.push(r);
            continue;
        }
        if let Some(e) = expires_at {
            if policy.enforce_expiry && e <= now {
                r.status = Status::Expired;
                r.code = "expired".into();
                r.detail = format!("expired at {e} (now {now})");
                reports.push(r);
                continue;
            }
        }
        // 5. Each verified key must be allowed the role.
        let allowed: Vec<&String> = ids
            .iter()
            .filter(|id| {
                policy
                    .keys
                    .iter()
                    .any(|k| k.key.id() == id.as_str() && k.roles.contains(&p.role))
            })
            .collect();
        if allowed.is_empty() {
            r.status = Status::RoleNotAllowed;
            r.code = "role-not-allowed".into();
            r.detail = format!("{} may not attest role {:?}", r.keys.join(", "), p.role);
            reports.push(r);
            continue;
        }
        r.status = Status::Valid;
        r.code = "valid".into();
        for id in allowed {
            per_role
                .entry(p.role.clone())
                .or_default()
                .insert(key_name(id));
        }
        if let Some(v) = p.version {
            versions.push(v);
        }
        reports.push(r);
    }
    let roles: Vec<RoleReport> = policy
        .thresholds
        .iter()
        .map(|(role, &threshold)| {
            let keys: Vec<String> = per_role
                .get(role)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            RoleReport {
                role: role.clone(),
                threshold,
                met: keys.len() >= threshold as usize,
                keys,
            }
        })
        .collect();
    let mut problems = Vec::new();
    if let Some(m) = &policy.model {
        if m != name {
            problems.push(Problem {
                code: "wrong-model",
                detail: format!("the policy is for model {m:?}, the manifest is {name:?}"),
            });
        }
    }
    let version = versions.iter().copied().max();
    if let (Some(state), Some(v)) = (state, version) {
        if let Some(&seen) = state.versions.get(name) {
            if v < seen {
                problems.push(Problem {
                    code: "rollback",
                    detail: format!("release version {v} of {name} is lower than version {seen}, accepted before"),
                });
            }
        }
    }
    for r in roles.iter().filter(|r| !r.met) {
        problems.push(Problem {
            code: "threshold-not-met",
            detail: format!(
                "role {} needs {} distinct trusted key(s), has {}",
                r.role,
                r.threshold,
                r.keys.len()
            ),
        });
    }
    PolicyReport {
        ok: problems.is_empty(),
        attestations: reports,
        roles,
        version,
        problems,
    }
}

/// The state after accepting `report` for model `name`: the highest version seen.
pub fn next_state(state: &State, name: &str, report: &PolicyReport) -> State {
    let mut s = state.clone();
    if let (true, Some(v)) = (report.ok, report.version) {
        let e = s.versions.entry(name.to_string()).or_insert(v);
        *e = (*e).max(v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::PrivateKey;

    fn pem(seed: u8) -> String {
        PrivateKey::from_seed(&[seed; 32]).public().to_pem()
    }

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("p.toml"), Path::new("."))
    }

    fn key(name: &str, seed: u8, roles: &str) -> String {
        format!(
            "[keys.{name}]\npublic_key_pem = \"\"\"{}\"\"\"\nroles = [{roles}]\n",
            pem(seed)
        )
    }

    #[test]
    fn parses_a_two_role_policy() {
        let text = format!(
            "model = \"org/m\"\nstate_file = \"s.json\"\nenforce_expiry = false\n{}{}[roles.publisher]\nthreshold = 1\n[roles.auditor]\nthreshold = 1\n",
            key("a", 1, "\"publisher\""),
            key("b", 2, "\"auditor\"")
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.model.as_deref(), Some("org/m"));
        assert!(!p.enforce_expiry);
        assert_eq!(p.state_file, Some(PathBuf::from("./s.json")));
        assert_eq!(p.keys.len(), 2);
        assert_eq!(
            p.thresholds,
            [("auditor".to_string(), 1), ("publisher".to_string(), 1)].into()
        );
    }

    #[test]
    fn each_bad_policy_is_refused_with_its_reason() {
        let one = key("a", 1, "\"publisher\"");
        let cases: Vec<(String, &str)> = vec![
            (one.clone(), "no [roles.NAME] table"),
            (format!("{one}[roles.publisher]\nthreshold = 2\n"), "threshold 2 cannot be met"),
            (format!("{one}[roles.publisher]\nthreshold = 0\n"), "threshold 0 cannot be met"),
            (format!("{one}[roles.Bad]\nthreshold = 1\n"), "not a role name"),
            (format!("{}[roles.publisher]\nthreshold = 1\n", key("a", 1, "")), "roles must list at least one role"),
            (format!("{}[roles.publisher]\nthreshold = 1\n", key("a", 1, "\"Pub Lisher\"")), "is not a role"),
            (format!("{one}[roles.publisher]\nthreshold = 1\nsurprise = true\n"), "unknown field"),
            ("[keys.a]\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n".to_string(), "exactly one of public_key"),
            (format!("{one}[roles.publisher]\nthreshold = 1\n[keys.x]\npublic_key_pem = \"junk\"\nroles = [\"publisher\"]\n"), "no PEM block"),
            ("not toml [".to_string(), "policy p.toml"),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
    }

    #[test]
    fn the_same_key_twice_counts_once() {
        // Two names for one key: the threshold of 2 cannot be met by it.
        let text = format!(
            "{}{}[roles.publisher]\nthreshold = 2\n",
            key("a", 1, "\"publisher\""),
            key("b", 1, "\"publisher\"")
        );
        assert!(parse(&text)
            .unwrap_err()
            .to_string()
            .contains("threshold 2 cannot be met"));
    }
}
