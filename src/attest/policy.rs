//! Trust policy and its evaluation (spec/attestation.md, "Trust policy" and "Verifying
//! attestations").
//!
//! A policy (TOML) names trusted signers, each with one or more keys, the roles each may
//! attest and an optional validity window per key, and a threshold per required role: k
//! distinct signers. By default a key counts toward one role per release (separation of
//! duties), which is decided as a lexicographically maximal flow (roles in the byte order of
//! their names) so that a bundle passes exactly when some assignment of distinct keys to role
//! slots meets every threshold, and the roles reported unmet are a function of the inputs.
//! Expired, too old (`max_age`), revoked or out-of-window attestations do not count. The
//! release version is the lowest stated by any valid vote of a role listed in `version_roles`
//! (default: `publisher`), independent of the flow; with a state file a release must state one, and a version lower than the highest
//! one accepted before for the same model fails (rollback protection). Evaluation is pure: the
//! caller gives the time and the state, and writes the new state only after success.

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
    digest: Option<String>,
    enforce_expiry: Option<bool>,
    state_file: Option<String>,
    max_age: Option<String>,
    version_roles: Option<Vec<String>>,
    separation_of_duties: Option<bool>,
    #[serde(default)]
    revoked: Vec<String>,
    #[serde(default)]
    keys: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    roles: BTreeMap<String, RoleEntry>,
    log: Option<LogEntryToml>,
}

/// `[log]`: require a transparency log proof (spec/log.md, "Requiring proofs").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntryToml {
    /// The log's verifier key.
    key: String,
    #[serde(default)]
    witnesses: Vec<String>,
    /// Default: every witness listed.
    quorum: Option<usize>,
}

/// One value or a list of them (`public_key = "a.pub"` or `public_key = ["a.pub", "b.pub"]`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    public_key: Option<OneOrMany>,
    public_key_pem: Option<OneOrMany>,
    /// `[[keys.NAME.key]]`: the signer's keys, each with a window of its own (a rotation).
    key: Option<Vec<KeyItem>>,
    roles: Vec<String>,
    not_before: Option<String>,
    not_after: Option<String>,
}

/// A validity window: not before, not after (inclusive; `None` is open).
type Window = (Option<Timestamp>, Option<Timestamp>);

/// One `[[keys.NAME.key]]` table: keys (one of the two forms) and their window.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyItem {
    public_key: Option<OneOrMany>,
    public_key_pem: Option<OneOrMany>,
    not_before: Option<String>,
    not_after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    threshold: u32,
}

/// A trusted key of a signer (a signer may hold several; one key may be listed under
/// several signers).
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// The signer's name in the policy.
    pub name: String,
    pub key: PublicKey,
    pub roles: BTreeSet<String>,
    /// The key counts only for attestations issued within this window (inclusive).
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
}

impl TrustedKey {
    fn in_window(&self, t: Timestamp) -> bool {
        self.not_before.is_none_or(|b| t >= b) && self.not_after.is_none_or(|a| t <= a)
    }
}

/// A loaded, checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// When set, the manifest's model name must be this.
    pub model: Option<String>,
    /// When set, the manifest's digest must be this.
    pub digest: Option<Digest>,
    pub enforce_expiry: bool,
    pub state_file: Option<PathBuf>,
    /// An attestation issued longer ago than this many seconds does not count.
    pub max_age: Option<i64>,
    /// Roles whose counted attestations state the release version.
    pub version_roles: BTreeSet<String>,
    /// A key counts toward at most one role per release.
    pub separation_of_duties: bool,
    /// Key ids (hex SHA-256 of the SPKI) whose attestations never count.
    pub revoked: BTreeSet<String>,
    pub keys: Vec<TrustedKey>,
    /// Required roles and how many distinct trusted signers each needs.
    pub thresholds: BTreeMap<String, u32>,
    /// A transparency log the release must be proved in (`[log]`).
    pub log: Option<crate::log::LogPolicy>,
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

impl PolicyError {
    /// A stable code for the rule broken (spec/attestation.md, "Error codes"):
    /// `policy-io`, `policy-syntax` (TOML, unknown members, a bad setting), `policy-key` (a
    /// signer's keys, roles or window), `policy-key-file` (a key file or inline key that does not
    /// read) or `policy-role` (a bad role table or a threshold that cannot be met).
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Io { .. } => "policy-io",
            PolicyError::Syntax { .. } => "policy-syntax",
            PolicyError::Key { .. } => "policy-key",
            PolicyError::KeyFile { .. } => "policy-key-file",
            PolicyError::Role { .. } => "policy-role",
        }
    }
}

impl Policy {
    /// Reads a policy file; relative key paths and the state file are relative to it.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let io = |source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        };
        // A regular file only: a named pipe given as a policy is refused, never waited on.
        let (f, _) = crate::fsutil::open_regular(path).map_err(io)?;
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
            let key_err = |detail: String| PolicyError::Key {
                path: path.clone(),
                name: name.clone(),
                detail,
            };
            // A file may hold several keys (OpenSSH lines, a GitHub keys file).
            let key_file = |source| PolicyError::KeyFile {
                path: path.clone(),
                source,
            };
            let read = |files: Option<OneOrMany>,
                        pems: Option<OneOrMany>,
                        form_error: &str|
             -> Result<Vec<PublicKey>, PolicyError> {
                let mut found: Vec<PublicKey> = Vec::new();
                match (files, pems) {
                    (Some(files), None) => {
                        for f in files.into_vec() {
                            found.extend(PublicKey::read_all(&base.join(f)).map_err(key_file)?);
                        }
                    }
                    (None, Some(pems)) => {
                        for pem in pems.into_vec() {
                            found.extend(PublicKey::parse_all(&pem, &path).map_err(key_file)?);
                        }
                    }
                    _ => return Err(key_err(form_error.into())),
                }
                if found.is_empty() {
                    return Err(key_err("the list of keys is empty".into()));
                }
                Ok(found)
            };
            let time = |field: &str, v: Option<String>| -> Result<Option<Timestamp>, PolicyError> {
                v.map(|t| Timestamp::parse(&t).map_err(|e| key_err(format!("{field}: {e}"))))
                    .transpose()
            };
            let window =
                |before: Option<String>,
                 after: Option<String>|
                 -> Result<(Option<Timestamp>, Option<Timestamp>), PolicyError> {
                    let (b, a) = (time("not_before", before)?, time("not_after", after)?);
                    if let (Some(b), Some(a)) = (b, a) {
                        if a < b {
                            return Err(key_err(format!("not_after {a} is before not_before {b}")));
                        }
                    }
                    Ok((b, a))
                };
            // (keys, window) groups, in the order written.
            let mut groups: Vec<(Vec<PublicKey>, Window)> = Vec::new();
            match k.key {
                None => groups.push((
                    read(
                        k.public_key,
                        k.public_key_pem,
                        "give exactly one of public_key (key files), public_key_pem (inline keys) or [[keys.NAME.key]] tables",
                    )?,
                    (None, None),
                )),
                Some(items) => {
                    if k.public_key.is_some() || k.public_key_pem.is_some() {
                        return Err(key_err(
                            "give exactly one of public_key (key files), public_key_pem (inline keys) or [[keys.NAME.key]] tables".into(),
                        ));
                    }
                    if k.not_before.is_some() || k.not_after.is_some() {
                        return Err(key_err(
                            "with [[keys.NAME.key]] tables, give not_before and not_after in each table".into(),
                        ));
                    }
                    if items.is_empty() {
                        return Err(key_err("the list of keys is empty".into()));
                    }
                    for item in items {
                        let found = read(
                            item.public_key,
                            item.public_key_pem,
                            "each [[keys.NAME.key]] table gives exactly one of public_key or public_key_pem",
                        )?;
                        groups.push((found, (None, None)));
                        let last = groups.len() - 1;
                        groups[last].1 = window(item.not_before, item.not_after)?;
                    }
                }
            }
            if k.roles.is_empty() {
                return Err(key_err("roles must list at least one role".into()));
            }
            if let Some(r) = k.roles.iter().find(|r| !valid_role(r)) {
                return Err(key_err(format!(
                    "{r:?} is not a role (a lowercase word of letters, digits or '-')"
                )));
            }
            let signer_window = window(k.not_before, k.not_after)?;
            let roles: BTreeSet<String> = k.roles.into_iter().collect();
            for (found, own) in groups {
                let (not_before, not_after) = if own == (None, None) {
                    signer_window
                } else {
                    own
                };
                for key in found {
                    keys.push(TrustedKey {
                        name: name.clone(),
                        key,
                        roles: roles.clone(),
                        not_before,
                        not_after,
                    });
                }
            }
        }
        let mut revoked = BTreeSet::new();
        for id in file.revoked {
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(PolicyError::Syntax {
                    path,
                    detail: format!(
                        "revoked: {:?} is not a key id (64 hex digits, as `weightseal key id` prints)",
                        id.chars().take(80).collect::<String>()
                    ),
                });
            }
            revoked.insert(id.to_ascii_lowercase());
        }
        let version_roles: BTreeSet<String> = file
            .version_roles
            .unwrap_or_else(|| vec!["publisher".to_string()])
            .into_iter()
            .collect();
        if let Some(r) = version_roles.iter().find(|r| !valid_role(r)) {
            return Err(PolicyError::Syntax {
                path,
                detail: format!("version_roles: {r:?} is not a role name"),
            });
        }
        let max_age = file
            .max_age
            .map(|a| {
                Timestamp::parse_duration(&a).map_err(|e| PolicyError::Syntax {
                    path: path.clone(),
                    detail: format!("max_age: {e}"),
                })
            })
            .transpose()?;
        let digest = file
            .digest
            .map(|d| {
                Digest::from_hex(&d).ok_or_else(|| PolicyError::Syntax {
                    path: path.clone(),
                    detail: format!(
                        "digest: {:?} is not a manifest digest (64 hex digits)",
                        d.chars().take(80).collect::<String>()
                    ),
                })
            })
            .transpose()?;
        let mut thresholds = BTreeMap::new();
        for (role, r) in file.roles {
            if !valid_role(&role) {
                return Err(PolicyError::Role {
                    path,
                    role,
                    detail: "not a role name (a lowercase word of letters, digits or '-')".into(),
                });
            }
            // Distinct signers with distinct keys: a key under two names counts once, and a
            // signer with two keys counts once.
            let pairs: Vec<(&str, &str)> = keys
                .iter()
                .filter(|k| k.roles.contains(&role))
                .map(|k| (k.name.as_str(), k.key.id()))
                .collect();
            let eligible = Assignment::solve(
                &[(role.as_str(), u32::MAX)],
                &pairs_for(&role, &pairs),
                true,
            )
            .total();
            if r.threshold == 0 || r.threshold as usize > eligible {
                return Err(PolicyError::Role {
                    path,
                    role,
                    detail: format!(
                        "threshold {} cannot be met: it must be at least 1 and at most the {} distinct key(s) allowed this role",
                        r.threshold,
                        eligible
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
            digest,
            enforce_expiry: file.enforce_expiry.unwrap_or(true),
            state_file: file.state_file.map(|s| base.join(s)),
            max_age,
            version_roles,
            separation_of_duties: file.separation_of_duties.unwrap_or(true),
            revoked,
            keys,
            thresholds,
            log: match file.log {
                None => None,
                Some(l) => {
                    let bad = |detail: String| PolicyError::Syntax {
                        path: path.clone(),
                        detail: format!("[log]: {detail}"),
                    };
                    let log =
                        crate::log::VerifierKey::parse(&l.key).map_err(|e| bad(e.to_string()))?;
                    let witnesses = l
                        .witnesses
                        .iter()
                        .map(|w| crate::log::VerifierKey::parse(w).map_err(|e| bad(e.to_string())))
                        .collect::<Result<Vec<_>, _>>()?;
                    let quorum = l.quorum.unwrap_or(witnesses.len());
                    Some(
                        crate::log::LogPolicy::new(log, witnesses, quorum)
                            .map_err(|e| bad(e.to_string()))?,
                    )
                }
            },
        })
    }

    /// The policy of `--key PUB...`: at least one valid publisher attestation by one of these
    /// keys (each given with the name to show for it).
    /// The keys the policy assigns `role` (not revoked).
    pub fn keys_for_role(&self, role: &str) -> Vec<PublicKey> {
        self.keys
            .iter()
            .filter(|k| k.roles.contains(role) && !self.revoked.contains(k.key.id()))
            .map(|k| k.key.clone())
            .collect()
    }

    pub fn publisher_keys(keys: Vec<(String, PublicKey)>) -> Policy {
        Policy {
            model: None,
            digest: None,
            enforce_expiry: true,
            state_file: None,
            max_age: None,
            version_roles: ["publisher".to_string()].into(),
            separation_of_duties: true,
            revoked: BTreeSet::new(),
            keys: keys
                .into_iter()
                .map(|(name, key)| TrustedKey {
                    name,
                    key,
                    roles: ["publisher".to_string()].into(),
                    not_before: None,
                    not_after: None,
                })
                .collect(),
            thresholds: [("publisher".to_string(), 1)].into(),
            log: None,
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
    /// Issued longer ago than the policy's `max_age`.
    TooOld,
    /// Every trusted key that signed it is revoked by the policy.
    Revoked,
    /// Issued outside the validity window of every trusted key that signed it.
    KeyNotInWindow,
    /// A reproduction attestation whose base is not a release that a valid attestation of a
    /// version role (the publisher's) names in `derived_from`.
    BaseNotDeclared,
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
    /// Valid, and counted toward its role's threshold (a valid attestation may not count:
    /// its key already counted toward another role, or the threshold was met by others).
    pub counted: bool,
}

/// One required role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleReport {
    pub role: String,
    pub threshold: u32,
    /// The signers (policy names) that earned this role, each with a distinct key.
    pub keys: Vec<String>,
    pub met: bool,
}

/// The outcome of a policy over a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyReport {
    pub ok: bool,
    pub attestations: Vec<AttestationReport>,
    pub roles: Vec<RoleReport>,
    /// The release version: the lowest version stated by any valid vote of a role of
    /// `version_roles` (so no single key can raise it), if any states one.
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

/// The manifest's name and digest against the pins the user gave (`--model`, `--digest`, or
/// the policy's `model` and `digest`): one problem per pin that does not hold.
pub fn check_pins(
    model: Option<&str>,
    digest: Option<Digest>,
    name: &str,
    found: Digest,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(m) = model {
        if m != name {
            problems.push(Problem {
                code: "wrong-model",
                detail: format!("asked for model {m:?}, the manifest is {name:?}"),
            });
        }
    }
    if let Some(d) = digest {
        if d != found {
            problems.push(Problem {
                code: "wrong-digest",
                detail: format!("asked for manifest {d}, got {found}"),
            });
        }
    }
    problems
}

/// A candidate vote: a valid attestation of `role`, signed by key `keyid`, which the policy
/// lists under signer `name` with that role.
#[derive(Clone, Debug)]
struct Vote {
    report: usize,
    role: String,
    name: String,
    keyid: String,
}

fn pairs_for<'a>(role: &'a str, pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str, &'a str)> {
    pairs.iter().map(|&(n, k)| (role, n, k)).collect()
}

/// Which signer earns which role with which key: a maximum flow from the roles (capacity: the
/// threshold) through (role, signer) slots (capacity 1: a signer counts once per role) to keys
/// (capacity 1 with separation of duties: a key counts toward one role; otherwise once per
/// role). Small graphs: at most a few hundred edges for real policies.
struct Assignment {
    /// (role, signer, key) triples that carry flow.
    chosen: Vec<(String, String, String)>,
}

impl Assignment {
    fn solve(roles: &[(&str, u32)], votes: &[(&str, &str, &str)], separate: bool) -> Assignment {
        // Nodes: 0 source, 1 sink, then roles, slots, keys.
        let mut index: BTreeMap<(u8, String), usize> = BTreeMap::new();
        let node = |kind: u8, label: String, index: &mut BTreeMap<(u8, String), usize>| {
            let next = index.len() + 2;
            *index.entry((kind, label)).or_insert(next)
        };
        // Edges: (to, capacity, reverse edge index) in adjacency lists.
        let mut edges: Vec<(usize, usize, u64)> = Vec::new(); // (from, to, cap)
        for &(role, threshold) in roles {
            let r = node(0, role.to_string(), &mut index);
            edges.push((0, r, threshold as u64));
        }
        let mut triple_edges = Vec::new();
        for &(role, name, key) in votes {
            let Some(&r) = index.get(&(0, role.to_string())) else {
                continue;
            };
            let slot_label = format!("{role}\u{0}{name}");
            let is_new_slot = !index.contains_key(&(1, slot_label.clone()));
            let slot = node(1, slot_label, &mut index);
            if is_new_slot {
                edges.push((r, slot, 1));
            }
            let key_label = if separate {
                key.to_string()
            } else {
                format!("{role}\u{0}{key}")
            };
            let is_new_key = !index.contains_key(&(2, key_label.clone()));
            let k = node(2, key_label, &mut index);
            if is_new_key {
                edges.push((k, 1, 1));
            }
            triple_edges.push((edges.len(), (role, name, key)));
            edges.push((slot, k, 1));
        }
        let n = index.len() + 2;
        // Residual graph.
        let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut to = Vec::new();
        let mut cap = Vec::new();
        for &(a, b, c) in &edges {
            adj[a].push(to.len());
            to.push(b);
            cap.push(c);
            adj[b].push(to.len());
            to.push(a);
            cap.push(0);
        }
        // The lexicographically maximal flow: roles in the byte order of their names (the
        // order of `roles`), each augmented as far as it goes before the next, along shortest
        // paths. An augmenting path leaves the source by one role's edge and never re-enters
        // it, so later roles never take flow from earlier ones: which roles are met is a
        // function of the inputs, whatever paths are found (spec/attestation.md, step 9).
        for role_edge in 0..roles.len() {
            loop {
                let first = 2 * role_edge; // the source → role edge, in insertion order
                if cap[first] == 0 {
                    break;
                }
                let start = to[first];
                let mut prev: Vec<Option<usize>> = vec![None; n];
                let mut seen = vec![false; n];
                seen[0] = true;
                seen[start] = true;
                prev[start] = Some(first);
                let mut queue = std::collections::VecDeque::from([start]);
                while let Some(u) = queue.pop_front() {
                    for &e in &adj[u] {
                        let v = to[e];
                        if cap[e] > 0 && !seen[v] {
                            seen[v] = true;
                            prev[v] = Some(e);
                            queue.push_back(v);
                        }
                    }
                }
                if !seen[1] {
                    break;
                }
                let mut v = 1;
                while let Some(e) = prev[v] {
                    cap[e] -= 1;
                    cap[e ^ 1] += 1;
                    v = to[e ^ 1];
                }
            }
        }
        let chosen = triple_edges
            .into_iter()
            .filter(|&(i, _)| cap[2 * i] == 0)
            .map(|(_, (r, n, k))| (r.to_string(), n.to_string(), k.to_string()))
            .collect();
        Assignment { chosen }
    }

    fn total(&self) -> usize {
        self.chosen.len()
    }
}

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
    let mut trusted: Vec<PublicKey> = Vec::new();
    for k in &policy.keys {
        if !trusted.iter().any(|t| t.id() == k.key.id()) {
            trusted.push(k.key.clone());
        }
    }
    let names_of = |id: &str| -> Vec<String> {
        let mut v: Vec<String> = policy
            .keys
            .iter()
            .filter(|k| k.key.id() == id)
            .map(|k| k.name.clone())
            .collect();
        v.dedup();
        v
    };
    let mut reports = Vec::new();
    let mut votes: Vec<Vote> = Vec::new();
    // Valid attestations: (report, role, the base a reproduction names, derived_from digests).
    let mut valid: Vec<(usize, String, Option<Digest>, Vec<Digest>)> = Vec::new();
    let mut blind_budget = super::dsse::MAX_BLIND_TRIALS;
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
            counted: false,
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
        let (payload, ids) = match env.verify_budgeted(&trusted, &mut blind_budget) {
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
        r.keys = ids.iter().flat_map(|id| names_of(id)).collect();
        r.keys.dedup();
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
        let fail = |r: &mut AttestationReport, status, code: &str, detail: String| {
            r.status = status;
            r.code = code.into();
            r.detail = detail;
        };
        // 3. About this manifest.
        let subject = &statement.subject[0];
        if subject_digest != digest || subject.name != name {
            let detail = format!(
                "about {} (manifest {}), not {name} (manifest {digest})",
                subject.name.chars().take(200).collect::<String>(),
                subject.digest.blake3
            );
            fail(&mut r, Status::WrongSubject, "wrong-subject", detail);
            reports.push(r);
            continue;
        }
        // 4. In force.
        if issued_at.0 > now.0.saturating_add(SKEW) {
            let detail = format!("issued_at {issued_at} is in the future (now {now})");
            fail(&mut r, Status::NotYetValid, "not-yet-valid", detail);
            reports.push(r);
            continue;
        }
        if let Some(e) = expires_at {
            if policy.enforce_expiry && e <= now {
                fail(
                    &mut r,
                    Status::Expired,
                    "expired",
                    format!("expired at {e} (now {now})"),
                );
                reports.push(r);
                continue;
            }
        }
        if let Some(age) = policy.max_age {
            if issued_at.0 < now.0.saturating_sub(age) {
                let detail = format!(
                    "issued_at {issued_at} is older than the policy's max_age of {age} s (now {now})"
                );
                fail(&mut r, Status::TooOld, "too-old", detail);
                reports.push(r);
                continue;
            }
        }
        // 5. Keys that may vouch: not revoked, in their window, allowed the role.
        let live: Vec<&String> = ids
            .iter()
            .filter(|id| !policy.revoked.contains(id.as_str()))
            .collect();
        if live.is_empty() {
            let detail = format!("signed only by revoked key(s) {}", ids.join(", "));
            fail(&mut r, Status::Revoked, "revoked-key", detail);
            reports.push(r);
            continue;
        }
        let in_window: Vec<&TrustedKey> = policy
            .keys
            .iter()
            .filter(|k| live.iter().any(|id| k.key.id() == id.as_str()) && k.in_window(issued_at))
            .collect();
        if in_window.is_empty() {
            let detail = format!(
                "issued_at {issued_at} is outside the validity window of key(s) {}",
                r.keys.join(", ")
            );
            fail(&mut r, Status::KeyNotInWindow, "key-not-in-window", detail);
            reports.push(r);
            continue;
        }
        let allowed: Vec<&&TrustedKey> = in_window
            .iter()
            .filter(|k| k.roles.contains(&p.role))
            .collect();
        if allowed.is_empty() {
            let detail = format!("{} may not attest role {:?}", r.keys.join(", "), p.role);
            fail(&mut r, Status::RoleNotAllowed, "role-not-allowed", detail);
            reports.push(r);
            continue;
        }
        r.status = Status::Valid;
        r.code = "valid".into();
        valid.push((
            reports.len(),
            p.role.clone(),
            p.derivation
                .as_ref()
                .and_then(|d| Digest::from_hex(&d.base.digest.blake3)),
            p.derived_from
                .iter()
                .filter_map(|d| Digest::from_hex(&d.digest.blake3))
                .collect(),
        ));
        for k in allowed {
            votes.push(Vote {
                report: reports.len(),
                role: p.role.clone(),
                name: k.name.clone(),
                keyid: k.key.id().to_string(),
            });
        }
        reports.push(r);
    }
    // A reproduction counts only for a base the release's own statement names (spec/derive.md,
    // "Verifying a reproduction attestation"): the derived_from of a valid attestation of a
    // version role.
    let declared: BTreeSet<Digest> = valid
        .iter()
        .filter(|(_, role, base, _)| base.is_none() && policy.version_roles.contains(role))
        .flat_map(|(_, _, _, d)| d.iter().copied())
        .collect();
    for (i, _, base, _) in &valid {
        if let Some(b) = base {
            if !declared.contains(b) {
                let r = &mut reports[*i];
                r.status = Status::BaseNotDeclared;
                r.code = "base-not-declared".into();
                r.detail = format!(
                    "reproduced from {b}, which no valid attestation of role {} names in derived_from",
                    policy.version_roles.iter().cloned().collect::<Vec<_>>().join(" or ")
                );
                votes.retain(|v| v.report != *i);
            }
        }
    }
    let roles_in: Vec<(&str, u32)> = policy
        .thresholds
        .iter()
        .map(|(r, &t)| (r.as_str(), t))
        .collect();
    let triples: Vec<(&str, &str, &str)> = votes
        .iter()
        .map(|v| (v.role.as_str(), v.name.as_str(), v.keyid.as_str()))
        .collect();
    let assignment = Assignment::solve(&roles_in, &triples, policy.separation_of_duties);
    let roles: Vec<RoleReport> = policy
        .thresholds
        .iter()
        .map(|(role, &threshold)| {
            let keys: Vec<String> = assignment
                .chosen
                .iter()
                .filter(|(r, _, _)| r == role)
                .map(|(_, n, _)| n.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            RoleReport {
                role: role.clone(),
                threshold,
                met: keys.len() >= threshold as usize,
                keys,
            }
        })
        .collect();
    let met = |role: &str| roles.iter().any(|r| r.role == role && r.met);
    // Attestations that count (step 9): valid, with a vote for a role that is met. A function
    // of the inputs, not of the flow's paths; identical votes from two envelopes are one edge
    // of the network and both envelopes count.
    for v in &votes {
        if met(&v.role) {
            reports[v.report].counted = true;
        }
    }
    // The release version (step 11): the lowest version stated by any vote of a version role —
    // a valid, in-window, non-revoked attestation of that role by a key the policy assigns it —
    // whatever the flow and whether or not the role is met. No single key can raise it.
    let version = votes
        .iter()
        .filter(|v| policy.version_roles.contains(&v.role))
        .filter_map(|v| reports[v.report].version)
        .min();
    let mut problems = check_pins(policy.model.as_deref(), policy.digest, name, digest);
    if let Some(state) = state {
        match version {
            None => problems.push(Problem {
                code: "no-version",
                detail: format!(
                    "rollback protection is on (state file) but no counted attestation of role {} states a release version",
                    policy.version_roles.iter().cloned().collect::<Vec<_>>().join(" or ")
                ),
            }),
            Some(v) => {
                if let Some(&seen) = state.versions.get(name) {
                    if v < seen {
                        problems.push(Problem {
                            code: "rollback",
                            detail: format!("release version {v} of {name} is lower than version {seen}, accepted before"),
                        });
                    }
                }
            }
        }
    }
    for r in roles.iter().filter(|r| !r.met) {
        problems.push(Problem {
            code: "threshold-not-met",
            detail: format!(
                "role {} needs {} distinct trusted signer(s), has {}",
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

    /// The state file as spec/attestation.md ("Trust policy") states it: other top-level
    /// members ignored, a model given twice counts with its last value, versions are integers
    /// from 0 to 2^64-1 written without sign, fraction or exponent.
    #[test]
    fn state_file_strictness() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            State::read(&path)
        };
        let one = |m: &str, v: u64| State {
            versions: [(m.to_string(), v)].into(),
        };
        assert_eq!(read(r#"{"versions":{"m":3},"note":"x"}"#), Ok(one("m", 3)));
        assert_eq!(read(r#"{"versions":{"m":3,"m":2}}"#), Ok(one("m", 2)));
        assert_eq!(
            read(r#"{"versions":{"m":18446744073709551615}}"#),
            Ok(one("m", u64::MAX))
        );
        for bad in [
            "",
            "{}",
            r#"{"versions":[]}"#,
            r#"{"versions":{},"versions":{}}"#,
            r#"{"versions":{"m":-1}}"#,
            r#"{"versions":{"m":-0}}"#,
            r#"{"versions":{"m":3.0}}"#,
            r#"{"versions":{"m":3e0}}"#,
            r#"{"versions":{"m":18446744073709551616}}"#,
            r#"{"versions":{"m":null}}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert_eq!(
            State::read(&dir.path().join("missing")),
            Ok(State::default())
        );
    }

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
            (format!("{one}[roles.publisher]\nthreshold = 1\n[keys.x]\npublic_key_pem = \"junk\"\nroles = [\"publisher\"]\n"), "neither a PEM public key nor OpenSSH public key lines"),
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
