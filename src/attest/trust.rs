//! The personal trust store: which keys the user trusts, for which models, in which role (like
//! ssh's `known_hosts` and `allowed_signers`). Kept as TOML in the user's configuration
//! directory (`$WEIGHTSEAL_TRUST`, else `$XDG_CONFIG_HOME/weightseal/trust.toml`, else
//! `~/.config/weightseal/trust.toml`; on macOS `~/Library/Application Support/weightseal/`).
//! Each entry holds the public key itself (SPKI PEM), so moving or deleting the file it was
//! added from changes nothing.
//!
//! When `verify` or `fetch` get no `--key` and no `--policy`, the entries whose model pattern
//! matches the manifest's name become the policy: each role named by a matching entry needs
//! one valid attestation by a matching key of that role.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::keys::{KeyError, PublicKey};
use super::policy::{Policy, TrustedKey};
use super::statement::valid_role;

/// Largest trust store read.
const MAX_STORE_LEN: u64 = 4 << 20;

/// One trusted key for the models a pattern matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Who the key belongs to (shown in reports).
    pub name: String,
    /// Model names this key is trusted for: `*` matches any run of characters, `?` one.
    pub model: String,
    /// The role the key is trusted to attest (default `publisher`).
    pub role: String,
    /// The key id (SHA-256 of the SPKI DER), for listing and removing.
    pub key_id: String,
    /// The public key, SPKI PEM.
    pub key: String,
    /// The transparency log the models this entry matches must be in (`trust add --log-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<StoreLog>,
}

/// A log requirement kept in the trust store: what `--log-key`, `--witness` and `--quorum`
/// say, for the models an entry matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreLog {
    /// The log's verifier key (`NAME+ID+KEY`).
    pub key: String,
    /// Witnesses' cosignature/v1 verifier keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<String>,
    /// How many of them must cosign (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<usize>,
}

impl StoreLog {
    /// The requirement these keys make (an error names the key that does not parse).
    pub fn policy(&self) -> Result<crate::log::LogPolicy, String> {
        let log = crate::log::VerifierKey::parse(&self.key).map_err(|e| format!("log key: {e}"))?;
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| crate::log::VerifierKey::parse(w).map_err(|e| format!("witness key: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let quorum = self.quorum.unwrap_or(witnesses.len());
        crate::log::LogPolicy::new(log, witnesses, quorum).map_err(|e| e.to_string())
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "entry")]
    entries: Vec<Entry>,
}

/// Why the trust store could not be read, changed or written.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read trust store {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("trust store {}: {detail}", path.display())]
    Syntax { path: PathBuf, detail: String },
    #[error("cannot write trust store {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The store, or its directory, could be changed by someone other than its owner.
    #[error("refusing the trust store {}: {detail} (as ssh refuses such an authorized_keys); fix it with `chmod go-w` or `chown`", path.display())]
    Unsafe { path: PathBuf, detail: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Usage(String),
}

/// The trust store's location: `$WEIGHTSEAL_TRUST`, or the platform's configuration directory.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WEIGHTSEAL_TRUST").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return home.map(|h| h.join("Library/Application Support/weightseal/trust.toml"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".config")))?;
    Some(config.join("weightseal/trust.toml"))
}

/// Refuses a trust store that another user could change: the file or its directory owned by
/// someone other than the current user or root, the file writable by its group or by others,
/// or the directory writable by its group or by others (unless sticky, as /tmp is: then
/// nobody else can replace the file). A store that does not exist is checked as empty.
fn check_ownership(path: &Path) -> Result<(), TrustError> {
    use std::os::unix::fs::MetadataExt;
    let euid = rustix::process::geteuid().as_raw();
    let check = |p: &Path, what: &str, dir: bool| -> Result<(), TrustError> {
        let m = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(TrustError::Read {
                    path: p.to_path_buf(),
                    source,
                })
            }
        };
        let refuse = |detail: String| TrustError::Unsafe {
            path: path.to_path_buf(),
            detail,
        };
        if m.uid() != euid && m.uid() != 0 {
            return Err(refuse(format!(
                "{what} {} is owned by user id {}, not by you or root",
                p.display(),
                m.uid()
            )));
        }
        let sticky = dir && m.mode() & 0o1000 != 0;
        if m.mode() & 0o022 != 0 && !sticky {
            return Err(refuse(format!(
                "{what} {} is writable by {} (mode {:o})",
                p.display(),
                if m.mode() & 0o002 != 0 {
                    "every user"
                } else {
                    "its group"
                },
                m.mode() & 0o7777
            )));
        }
        Ok(())
    };
    check(path, "the file", false)?;
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => check(d, "its directory", true),
        None => check(Path::new("."), "its directory", true),
    }
}

/// Whether `name` matches `pattern` (`*`: any run of characters, `?`: one character).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative glob matching with backtracking to the last star.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The user's trusted keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustStore {
    pub entries: Vec<Entry>,
}

impl TrustStore {
    /// Reads the store at `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<TrustStore, TrustError> {
        check_ownership(path)?;
        // A regular file only: a named pipe at the store's path is refused, never waited on.
        let text = match crate::fsutil::open_regular(path).map(|(f, _)| f) {
            Ok(f) => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_STORE_LEN), &mut s)
                    .map_err(|source| TrustError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TrustStore::default()),
            Err(source) => {
                return Err(TrustError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let syntax = |detail: String| TrustError::Syntax {
            path: path.to_path_buf(),
            detail,
        };
        let file: File = toml::from_str(&text).map_err(|e| syntax(e.to_string().trim().into()))?;
        for (i, e) in file.entries.iter().enumerate() {
            let key = PublicKey::from_pem(&e.key, path)?;
            if key.id() != e.key_id {
                return Err(syntax(format!(
                    "entry {} ({}): key_id {} does not match its key ({})",
                    i + 1,
                    e.name,
                    e.key_id,
                    key.id()
                )));
            }
            if !valid_role(&e.role) {
                return Err(syntax(format!(
                    "entry {} ({}): {:?} is not a role",
                    i + 1,
                    e.name,
                    e.role
                )));
            }
            if let Some(Err(detail)) = e.log.as_ref().map(StoreLog::policy) {
                return Err(syntax(format!(
                    "entry {} ({}): log: {detail}",
                    i + 1,
                    e.name
                )));
            }
        }
        Ok(TrustStore {
            entries: file.entries,
        })
    }

    /// Writes the store to `path` (atomically, mode 0600, creating its directory).
    pub fn save(&self, path: &Path) -> Result<(), TrustError> {
        let w = |source| TrustError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(w)?;
        }
        let file = File {
            entries: self.entries.clone(),
        };
        let mut text = String::from(
            "# weightseal trust store: keys trusted for models (weightseal trust add/list/remove)\n",
        );
        text.push_str(&toml::to_string(&file).map_err(|e| w(std::io::Error::other(e)))?);
        crate::fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(w)
    }

    /// Adds `keys` (all from one file) for models matching `model`, in `role`, under `name`.
    /// A key already trusted for the same pattern and role is refused.
    pub fn add(
        &mut self,
        keys: &[PublicKey],
        model: &str,
        role: &str,
        name: &str,
        log: Option<StoreLog>,
    ) -> Result<Vec<Entry>, TrustError> {
        if let Some(Err(e)) = log.as_ref().map(StoreLog::policy) {
            return Err(TrustError::Usage(e));
        }
        if !valid_role(role) {
            return Err(TrustError::Usage(format!(
                "{role:?} is not a role (a lowercase word of letters, digits or '-')"
            )));
        }
        if model.is_empty() || name.is_empty() {
            return Err(TrustError::Usage(
                "the model pattern and the name must not be empty".into(),
            ));
        }
        let mut added = Vec::new();
        for k in keys {
            if let Some(e) = self
                .entries
                .iter()
                .find(|e| e.key_id == k.id() && e.model == model && e.role == role)
            {
                return Err(TrustError::Usage(format!(
                    "key {} is already trusted for {} as {} (entry {:?}); remove it first to change it",
                    k.id(),
                    e.model,
                    e.role,
                    e.name
                )));
            }
            let e = Entry {
                name: name.to_string(),
                model: model.to_string(),
                role: role.to_string(),
                key_id: k.id().to_string(),
                key: k.to_pem(),
                log: log.clone(),
            };
            self.entries.push(e.clone());
            added.push(e);
        }
        Ok(added)
    }

    /// Removes the entries whose name or key id is `what` (and whose pattern is `model`, when
    /// given); returns them. Removing nothing is an error.
    pub fn remove(&mut self, what: &str, model: Option<&str>) -> Result<Vec<Entry>, TrustError> {
        let hit = |e: &Entry| {
            (e.name == what || e.key_id == what || (what.len() >= 8 && e.key_id.starts_with(what)))
                && model.is_none_or(|m| e.model == m)
        };
        let removed: Vec<Entry> = self.entries.iter().filter(|e| hit(e)).cloned().collect();
        if removed.is_empty() {
            return Err(TrustError::Usage(format!(
                "no trust store entry is named {what:?} or has that key id{}",
                model.map(|m| format!(" for {m:?}")).unwrap_or_default()
            )));
        }
        self.entries.retain(|e| !hit(e));
        Ok(removed)
    }

    /// The entries whose pattern matches model `name`.
    pub fn matching(&self, name: &str) -> Vec<&Entry> {
        // Folded as paths are (NFC, then lowercase): `Org/tiny` and `org/tiny` are one name to
        // a reader and to the trust store, so a renamed copy cannot step around its entry.
        let name = crate::path::fold(name);
        self.entries
            .iter()
            .filter(|e| pattern_matches(&crate::path::fold(&e.model), &name))
            .collect()
    }

    /// The policy for model `name`: every matching key in its role, and each role named by a
    /// matching entry needing one valid attestation. `None` when no entry matches.
    pub fn policy_for(&self, name: &str, origin: &Path) -> Result<Option<Policy>, TrustError> {
        let matching = self.matching(name);
        if matching.is_empty() {
            return Ok(None);
        }
        let mut p = Policy::publisher_keys(Vec::new());
        // A publisher always: an auditor or a mirror countersigns a release, it does not make
        // one, so entries of other roles alone never vouch for a model.
        let mut roles: BTreeMap<String, u32> = [("publisher".to_string(), 1)].into();
        let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
        for e in &matching {
            if !seen.insert((e.name.clone(), e.key_id.clone(), e.role.clone())) {
                continue;
            }
            p.keys.push(TrustedKey {
                name: e.name.clone(),
                key: PublicKey::from_pem(&e.key, origin)?,
                roles: [e.role.clone()].into(),
                not_before: None,
                not_after: None,
            });
            roles.insert(e.role.clone(), 1);
        }
        p.thresholds = roles;
        // The log a matching entry names is required; two entries naming different logs for
        // one model leave no single answer, and are refused.
        let mut logs = matching
            .iter()
            .filter_map(|e| e.log.as_ref().map(|l| (e, l)));
        if let Some((first, l)) = logs.next() {
            let want = l.policy().map_err(|detail| TrustError::Syntax {
                path: origin.to_path_buf(),
                detail,
            })?;
            for (e, other) in logs {
                if other.policy().ok().as_ref() != Some(&want) {
                    return Err(TrustError::Syntax {
                        path: origin.to_path_buf(),
                        detail: format!(
                            "the entries {:?} ({}) and {:?} ({}) both match {name:?} and require different transparency logs",
                            first.name, first.model, e.name, e.model
                        ),
                    });
                }
            }
            p.log = Some(want);
        }
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::PrivateKey;

    #[test]
    fn patterns() {
        assert!(pattern_matches("org/*", "org/model"));
        assert!(pattern_matches("org/*", "org/"));
        assert!(!pattern_matches("org/*", "other/model"));
        assert!(pattern_matches("*", "anything/at/all"));
        assert!(pattern_matches("org/llama-?b", "org/llama-7b"));
        assert!(!pattern_matches("org/llama-?b", "org/llama-70b"));
        assert!(pattern_matches(
            "*/llama-*-instruct",
            "meta/llama-3-8b-instruct"
        ));
        assert!(pattern_matches("exact/name", "exact/name"));
        assert!(!pattern_matches("exact/name", "exact/name2"));
    }

    #[test]
    fn add_save_load_remove_and_policy() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/trust.toml");
        let k = PrivateKey::from_seed(&[1; 32]).public();
        let k2 = PrivateKey::from_seed(&[2; 32]).public();
        let mut t = TrustStore::load(&path).unwrap();
        assert!(t.entries.is_empty());
        t.add(std::slice::from_ref(&k), "org/*", "publisher", "acme", None)
            .unwrap();
        t.add(
            std::slice::from_ref(&k2),
            "org/model",
            "auditor",
            "audit",
            None,
        )
        .unwrap();
        let e = t
            .add(
                std::slice::from_ref(&k),
                "org/*",
                "publisher",
                "again",
                None,
            )
            .unwrap_err();
        assert!(e.to_string().contains("already trusted"), "{e}");
        t.save(&path).unwrap();
        let back = TrustStore::load(&path).unwrap();
        assert_eq!(back, t);
        let p = back.policy_for("org/model", &path).unwrap().unwrap();
        assert_eq!(p.thresholds.len(), 2);
        let p = back.policy_for("org/other", &path).unwrap().unwrap();
        assert_eq!(p.thresholds, [("publisher".to_string(), 1)].into());
        assert!(back.policy_for("else/model", &path).unwrap().is_none());
        let mut t = back;
        assert_eq!(t.remove("acme", None).unwrap().len(), 1);
        assert!(t.remove("acme", None).is_err());
        assert_eq!(t.remove(&k2.id()[..12], None).unwrap().len(), 1);
    }
}
