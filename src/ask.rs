//! The question: what the user asked of a release, turned once into what the judge checks.
//!
//! Every front end (the CLI's `verify` and `fetch`, `log add --publisher-key`, the demo, and
//! every Python function that judges a release) fills one plain [`AskOptions`] — keys, a
//! policy, the trust store, the certificate or keyless identity of an OpenSSF model signing
//! bundle, the two pins, the transparency log requirement, and whether integrity alone is
//! enough — and calls [`Ask::new`]. That constructor holds every cross-option rule:
//! - keys or a policy, not both; every key file is read and type-checked here, before any
//!   evidence is read;
//! - one method for an OpenSSF bundle (keys, a certificate chain, or an identity with its
//!   provider);
//! - the log requirement is the flags (`log_key`, `witnesses`, `quorum`) or the policy's
//!   `[log]` table; when both are given they must be the same requirement (a flag never
//!   weakens a policy quietly); [`crate::log::LogPolicy::new`] refuses a repeated witness key
//!   and the log's own key as a witness;
//! - with no trust at all, a release is refused unless integrity only is asked or a digest is
//!   pinned (one rule for every front end; see [`Unsigned`]).
//!
//! [`Ask`]'s fields are private: nothing else builds one, so no front end can drop a part of
//! the question. Errors name the option and what was wrong; the front ends add advice in their
//! own terms (a flag for the CLI, a keyword for Python).

use std::path::PathBuf;

use crate::attest::time::Timestamp;
use crate::attest::{Policy, PublicKey};
use crate::digest::Digest;
use crate::log::{LogPolicy, VerifierKey};
use crate::oms::OmsCheck;
use crate::release::{Pins, Trust, Unsigned};

/// What the user asked, as the CLI flags and the Python keywords say it (same names).
#[derive(Clone, Debug)]
pub struct AskOptions {
    /// Public key files (PEM, OpenSSH, GitHub `.keys`): a valid publisher attestation by any
    /// one of them (and, for an OpenSSF bundle, its signer).
    pub keys: Vec<PathBuf>,
    /// Public keys already in memory, with the name to show for each (the library's callers).
    pub public_keys: Vec<(String, PublicKey)>,
    /// A trust policy file (TOML).
    pub policy: Option<PathBuf>,
    /// A policy already in memory.
    pub policy_value: Option<Policy>,
    /// Use the trust store (`WEIGHTSEAL_TRUST` or the XDG config file) when no key or policy is
    /// given.
    pub trust_store: bool,
    /// OpenSSF bundles made with the certificate method: the trusted certificates (PEM).
    pub certificate_chain: Vec<PathBuf>,
    /// OpenSSF bundles made by Sigstore keyless signing: the signer's identity ...
    pub identity: Option<String>,
    /// ... and the OIDC provider that vouched for it.
    pub identity_provider: Option<String>,
    /// Another Sigstore instance's `trusted_root.json`.
    pub trusted_root: Option<PathBuf>,
    /// The model name the release must have.
    pub model: Option<String>,
    /// The manifest digest the release must have (learned out of band: it vouches alone).
    pub digest: Option<Digest>,
    /// A transparency log's verifier key (`NAME+ID+KEY`): the release must be in that log.
    pub log_key: Option<String>,
    /// Witnesses' cosignature/v1 verifier keys.
    pub witnesses: Vec<String>,
    /// How many of the witnesses must have cosigned (default: all of them).
    pub quorum: Option<usize>,
    /// Accept a release nobody vouches for, checking its files against its manifest only
    /// (`--integrity-only`, `--allow-unsigned`, `allow_unsigned=True`).
    pub allow_unsigned: bool,
}

impl Default for AskOptions {
    fn default() -> AskOptions {
        AskOptions {
            keys: Vec::new(),
            public_keys: Vec::new(),
            policy: None,
            policy_value: None,
            trust_store: true,
            certificate_chain: Vec::new(),
            identity: None,
            identity_provider: None,
            trusted_root: None,
            model: None,
            digest: None,
            log_key: None,
            witnesses: Vec::new(),
            quorum: None,
            allow_unsigned: false,
        }
    }
}

/// Why the options do not make a question.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("keys and a policy were both given: give one (a policy names its own keys)")]
    KeysAndPolicy,
    #[error(transparent)]
    Key(#[from] crate::attest::keys::KeyError),
    #[error(transparent)]
    Policy(#[from] crate::attest::policy::PolicyError),
    #[error("more than one way to check an OpenSSF model signing bundle was given (keys, a certificate chain, an identity): give one")]
    OmsMethods,
    #[error("a signer identity needs the identity provider that vouched for it, and the provider needs the identity")]
    IdentityHalf,
    #[error("a trusted root is for checking a Sigstore identity, and no identity was given")]
    TrustedRootAlone,
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "witnesses and a quorum qualify a transparency log requirement, and no log key was given"
    )]
    WitnessesWithoutLog,
    #[error("log key: {0}")]
    LogKey(crate::log::LogError),
    #[error("witness key: {0}")]
    WitnessKey(crate::log::LogError),
    #[error("transparency log requirement: {0}")]
    Log(crate::log::LogError),
    #[error("the policy's [log] table and the log options ask for different transparency log requirements: give one")]
    TwoLogRequirements,
}

/// Which transparency log requirement applies.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LogRequirement {
    /// None was asked.
    Off,
    /// The flags' or the given policy's.
    Given(LogPolicy),
    /// The `[log]` table of whichever trust store policy applies to the model (resolved by
    /// the judge once the model's name is known).
    FromStore,
}

/// The judge's question: trust, the OpenSSF check, pins, what to do when nobody vouches, the
/// log requirement, and the time attestations are judged at. Made only by [`Ask::new`].
#[derive(Clone, Debug)]
pub struct Ask {
    trust: Trust,
    /// How an OpenSSF bundle is checked when the caller said how (keys, chain, identity).
    oms: Option<OmsCheck>,
    /// Whether the trust came from a policy file (an OpenSSF bundle cannot meet a policy).
    policy_given: bool,
    pins: Pins,
    unsigned: Unsigned,
    now: Timestamp,
    log: LogRequirement,
}

impl Ask {
    /// Turns the options into the question, checking every rule (see the module docs).
    pub fn new(o: &AskOptions) -> Result<Ask, AskError> {
        let has_keys = !o.keys.is_empty() || !o.public_keys.is_empty();
        let has_policy = o.policy.is_some() || o.policy_value.is_some();
        if has_keys && has_policy {
            return Err(AskError::KeysAndPolicy);
        }
        let mut keys: Vec<(String, PublicKey)> = o.public_keys.clone();
        for k in &o.keys {
            let name = k.display().to_string();
            keys.extend(
                PublicKey::read_all(k)?
                    .into_iter()
                    .map(|key| (name.clone(), key)),
            );
        }
        let policy = match (&o.policy, &o.policy_value) {
            (Some(p), _) => Some(Policy::load(p)?),
            (None, Some(p)) => Some(p.clone()),
            (None, None) if has_keys => Some(Policy::publisher_keys(keys.clone())),
            (None, None) => None,
        };
        // An OpenSSF bundle: one method.
        let methods = usize::from(has_keys)
            + usize::from(!o.certificate_chain.is_empty())
            + usize::from(o.identity.is_some() || o.identity_provider.is_some());
        if methods > 1 {
            return Err(AskError::OmsMethods);
        }
        let oms = match (&o.identity, &o.identity_provider) {
            (Some(identity), Some(issuer)) => Some(OmsCheck::Keyless {
                identity: identity.clone(),
                issuer: issuer.clone(),
                trusted_root: o
                    .trusted_root
                    .as_ref()
                    .map(|r| {
                        crate::fsutil::read_regular(r, crate::oms::MAX_BUNDLE_LEN)
                            .and_then(|b| {
                                b.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
                            })
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .map_err(|source| AskError::Read {
                                path: r.clone(),
                                source,
                            })
                    })
                    .transpose()?,
            }),
            (None, None) if o.trusted_root.is_some() => return Err(AskError::TrustedRootAlone),
            (None, None) if !o.certificate_chain.is_empty() => {
                let mut pem = Vec::new();
                for c in &o.certificate_chain {
                    let b = crate::fsutil::read_regular(c, crate::oms::MAX_BUNDLE_LEN)
                        .and_then(|b| {
                            b.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
                        })
                        .map_err(|source| AskError::Read {
                            path: c.clone(),
                            source,
                        })?;
                    pem.extend(b);
                    pem.push(b'\n');
                }
                Some(OmsCheck::Chain(pem))
            }
            (None, None) if has_keys => Some(OmsCheck::Keys(
                keys.iter().map(|(_, k)| k.clone()).collect(),
            )),
            (None, None) => None,
            _ => return Err(AskError::IdentityHalf),
        };
        // The log requirement: the flags, the policy's [log], or both when they agree.
        let flags = match &o.log_key {
            None if !o.witnesses.is_empty() || o.quorum.is_some() => {
                return Err(AskError::WitnessesWithoutLog)
            }
            None => None,
            Some(k) => {
                let log = VerifierKey::parse(k).map_err(AskError::LogKey)?;
                let witnesses = o
                    .witnesses
                    .iter()
                    .map(|w| VerifierKey::parse(w))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(AskError::WitnessKey)?;
                let quorum = o.quorum.unwrap_or(witnesses.len());
                Some(LogPolicy::new(log, witnesses, quorum).map_err(AskError::Log)?)
            }
        };
        let from_policy = policy.as_ref().and_then(|p| p.log.clone());
        // The trust store supplies trust unless the caller gave it (keys, a policy) or gave a
        // certificate chain or an identity for an OpenSSF bundle (that is then the trust).
        let trust = Trust::given_or_store(policy, o.trust_store && oms.is_none());
        let log = match (flags, from_policy) {
            (Some(a), Some(b)) if a != b => return Err(AskError::TwoLogRequirements),
            (Some(a), _) | (None, Some(a)) => LogRequirement::Given(a),
            (None, None) if matches!(trust, Trust::Store(_)) => LogRequirement::FromStore,
            (None, None) => LogRequirement::Off,
        };
        Ok(Ask {
            trust,
            oms,
            policy_given: has_policy,
            pins: Pins {
                model: o.model.clone(),
                digest: o.digest,
            },
            unsigned: if o.allow_unsigned {
                Unsigned::Allow
            } else {
                Unsigned::Refuse
            },
            now: Timestamp::now(),
            log,
        })
    }

    /// The same question judged at another time (tests, replays).
    #[must_use]
    pub fn at(mut self, now: Timestamp) -> Ask {
        self.now = now;
        self
    }

    /// Where the trust comes from.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// How the caller said to check an OpenSSF bundle, if they did.
    pub fn oms_check(&self) -> Option<&OmsCheck> {
        self.oms.as_ref()
    }

    /// Whether the trust is a policy file (which an OpenSSF bundle cannot meet).
    pub fn policy_given(&self) -> bool {
        self.policy_given
    }

    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    pub fn unsigned(&self) -> Unsigned {
        self.unsigned
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Whether the caller asked for a transparency log proof (by flags or a given policy).
    pub fn log_asked(&self) -> bool {
        matches!(self.log, LogRequirement::Given(_))
    }

    /// The log requirement for the model `name`, given the policy that applies to it (a trust
    /// store's entry may carry a `[log]` table).
    pub fn log_for(&self, applied: Option<&Policy>) -> Option<LogPolicy> {
        match &self.log {
            LogRequirement::Off => None,
            LogRequirement::Given(l) => Some(l.clone()),
            LogRequirement::FromStore => applied.and_then(|p| p.log.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vkey(name: &str, seed: u8, cosigner: bool) -> VerifierKey {
        let k = crate::attest::PrivateKey::from_seed(&[seed; 32]).public();
        VerifierKey::new(
            name,
            if cosigner {
                crate::log::keys::ALG_COSIGNATURE_V1
            } else {
                crate::log::keys::ALG_ED25519
            },
            &k,
        )
        .unwrap()
    }

    #[test]
    fn a_witness_key_counts_once_and_the_log_is_not_its_own_witness() {
        let log = vkey("log.test", 1, false);
        let w = vkey("w1.test", 2, true);
        let same_key = vkey("w2.test", 2, true);
        let opts = |witnesses: Vec<String>, quorum| AskOptions {
            log_key: Some(log.to_string()),
            witnesses,
            quorum,
            trust_store: false,
            ..Default::default()
        };
        let e = Ask::new(&opts(vec![w.to_string(), same_key.to_string()], Some(2))).unwrap_err();
        assert!(
            matches!(&e, AskError::Log(_)) && e.to_string().contains("the same public key"),
            "{e}"
        );
        let as_witness = vkey("log.test", 1, true);
        let e = Ask::new(&opts(vec![as_witness.to_string()], Some(1))).unwrap_err();
        assert!(e.to_string().contains("log's own public key"), "{e}");
        assert!(Ask::new(&opts(vec![w.to_string()], Some(1)))
            .unwrap()
            .log_asked());
    }

    #[test]
    fn keys_and_policy_and_methods_are_one_each() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("k.pub");
        std::fs::write(
            &k,
            crate::attest::PrivateKey::from_seed(&[3; 32])
                .public()
                .to_pem(),
        )
        .unwrap();
        let e = Ask::new(&AskOptions {
            keys: vec![k.clone()],
            policy: Some(d.path().join("p.toml")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, AskError::KeysAndPolicy));
        let e = Ask::new(&AskOptions {
            keys: vec![k.clone()],
            identity: Some("a@b".into()),
            identity_provider: Some("https://p".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, AskError::OmsMethods));
        let e = Ask::new(&AskOptions {
            witnesses: vec!["w".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, AskError::WitnessesWithoutLog));
        // Keys: the trust and the OpenSSF check are the same keys; no trust store.
        let a = Ask::new(&AskOptions {
            keys: vec![k],
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(a.trust(), Trust::Policy(_)));
        assert!(matches!(a.oms_check(), Some(OmsCheck::Keys(v)) if v.len() == 1));
        assert_eq!(a.unsigned(), Unsigned::Refuse);
    }
}
