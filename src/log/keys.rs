//! Keys of the log and its witnesses, as C2SP signed-note signers and verifier keys.
//!
//! A verifier key is written `<name>+<key id, 8 hex digits>+<base64(type || public key)>`:
//! type 0x01 is an Ed25519 note signature (the log's checkpoints), type 0x04 an Ed25519
//! `cosignature/v1` (a witness's). The key id is the first four bytes of
//! SHA-256(name || "\n" || type || public key). Private keys are weightseal's (PKCS#8 PEM
//! ed25519, from `weightseal keygen`).

use std::sync::Arc;

use base64::Engine as _;
use signed_note::{Signer, Verifier};

use super::LogError;
use crate::attest::{PrivateKey, PublicKey};

/// Note signature type of Ed25519 (signed-note).
pub const ALG_ED25519: u8 = 0x01;
/// Note signature type of an Ed25519 `cosignature/v1` (tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The key id of a key of `alg` named `name`.
pub fn key_id(name: &str, alg: u8, key: &[u8; 32]) -> u32 {
    let mut k = vec![alg];
    k.extend_from_slice(key);
    signed_note::key_id(name, &k)
}

fn raw_ed25519(key: &PublicKey) -> Result<[u8; 32], LogError> {
    <[u8; 32]>::try_from(key.as_bytes().as_slice()).map_err(|_| {
        LogError::Key(format!(
            "a log or witness key must be ed25519, not {}",
            key.algorithm()
        ))
    })
}

/// A verifier key: a name, a signature type and an Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub alg: u8,
    pub key: [u8; 32],
}

impl VerifierKey {
    /// Parses `<name>+<hex id>+<base64>`, checking the id against the key.
    pub fn parse(s: &str) -> Result<VerifierKey, LogError> {
        let bad = |w: &str| {
            LogError::Key(format!(
                "verifier key {:?}: {w}",
                s.chars().take(120).collect::<String>()
            ))
        };
        let s = s.trim();
        // As signed-note splits it: the name up to the first '+', then the id up to the
        // next, then the key (whose base64 may hold '+').
        let Some((name, rest)) = s.split_once('+') else {
            return Err(bad("expected NAME+KEYID+BASE64"));
        };
        let Some((id, b64)) = rest.split_once('+') else {
            return Err(bad("expected NAME+KEYID+BASE64"));
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(bad("the name is empty or holds a space or a plus"));
        }
        if id.len() != 8
            || !id
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(bad("the key id is not 8 lowercase hex digits"));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad("the key is not base64"))?;
        if raw.len() != 33 {
            return Err(bad(
                "the key is not a type byte and 32 bytes of Ed25519 key",
            ));
        }
        let alg = raw[0];
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(bad(
                "the type is neither 0x01 (Ed25519) nor 0x04 (cosignature/v1)",
            ));
        }
        let key: [u8; 32] = raw[1..].try_into().expect("32 bytes");
        if PublicKey::from_bytes(&key).is_none() {
            return Err(bad("not an Ed25519 public key"));
        }
        let want = key_id(name, alg, &key);
        if format!("{want:08x}") != id {
            return Err(bad(&format!(
                "the key id does not match the key ({want:08x})"
            )));
        }
        Ok(VerifierKey {
            name: name.to_string(),
            alg,
            key,
        })
    }

    /// The key of `alg` named `name` for `public`.
    pub fn new(name: &str, alg: u8, public: &PublicKey) -> Result<VerifierKey, LogError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(LogError::Key(format!(
                "{name:?} cannot name a key (empty, or a space or a plus in it)"
            )));
        }
        Ok(VerifierKey {
            name: name.to_string(),
            alg,
            key: raw_ed25519(public)?,
        })
    }

    pub fn id(&self) -> u32 {
        key_id(&self.name, self.alg, &self.key)
    }

    /// Whether this is a witness's (cosignature/v1) key.
    pub fn is_cosigner(&self) -> bool {
        self.alg == ALG_COSIGNATURE_V1
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(&self.key);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id(),
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The message a `cosignature/v1` signs: two lines, then the checkpoint's note text.
pub fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

impl Verifier for VerifierKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id()
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some(key) = PublicKey::from_bytes(&self.key) else {
            return false;
        };
        match self.alg {
            ALG_ED25519 => sig.len() == 64 && key.verify_strict(msg, sig),
            ALG_COSIGNATURE_V1 => {
                if sig.len() != 72 {
                    return false;
                }
                let ts = u64::from_be_bytes(sig[..8].try_into().expect("8 bytes"));
                ts <= i64::MAX as u64 && key.verify_strict(&cosigned_message(ts, msg), &sig[8..])
            }
            _ => false,
        }
    }
}

/// Signs notes with an Ed25519 [`PrivateKey`]: a log's checkpoints (type 0x01), or a
/// witness's cosignatures (type 0x04, timestamped at `timestamp`).
pub struct LogSigner {
    vkey: VerifierKey,
    key: Arc<PrivateKey>,
    timestamp: u64,
}

impl LogSigner {
    /// A log's signer: `name` is the log's origin.
    pub fn log(name: &str, key: Arc<PrivateKey>) -> Result<LogSigner, LogError> {
        Ok(LogSigner {
            vkey: VerifierKey::new(name, ALG_ED25519, &key.public())?,
            key,
            timestamp: 0,
        })
    }

    /// A witness's cosigner, signing as of `timestamp` (POSIX seconds).
    pub fn cosigner(
        name: &str,
        key: Arc<PrivateKey>,
        timestamp: u64,
    ) -> Result<LogSigner, LogError> {
        Ok(LogSigner {
            vkey: VerifierKey::new(name, ALG_COSIGNATURE_V1, &key.public())?,
            key,
            timestamp,
        })
    }

    /// The verifier key of this signer.
    pub fn verifier(&self) -> &VerifierKey {
        &self.vkey
    }
}

impl Signer for LogSigner {
    fn name(&self) -> &str {
        &self.vkey.name
    }

    fn key_id(&self) -> u32 {
        self.vkey.id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(match self.vkey.alg {
            ALG_COSIGNATURE_V1 => {
                let mut out = self.timestamp.to_be_bytes().to_vec();
                out.extend(self.key.sign(&cosigned_message(self.timestamp, msg)));
                out
            }
            _ => self.key.sign(msg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_keys_round_trip_and_check_their_id() {
        let k = PrivateKey::from_seed(&[3; 32]);
        let v = VerifierKey::new("example.com/log", ALG_ED25519, &k.public()).unwrap();
        let s = v.to_string();
        assert_eq!(VerifierKey::parse(&s).unwrap(), v);
        let (head, tail) = s.split_at(s.find('+').unwrap() + 1);
        let wrong = format!(
            "{head}{}{}",
            if tail.starts_with('0') { "1" } else { "0" },
            &tail[1..]
        );
        assert!(VerifierKey::parse(&wrong).is_err());
        assert!(VerifierKey::parse("no-plus-signs").is_err());
    }
}
