//! DSSE envelopes (spec/attestation.md, "Envelope"; the DSSE protocol v1.0).
//!
//! An envelope is `{"payload": BASE64, "payloadType": TYPE, "signatures": [{"keyid", "sig"}]}`.
//! Each signature is ed25519 over `PAE(payloadType, payload)` where
//! `PAE(t, b) = "DSSEv1" SP len(t) SP t SP len(b) SP b` (lengths as ASCII decimal). Signatures
//! are checked over the exact payload bytes before the payload is parsed.

use std::collections::HashSet;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::keys::{PrivateKey, PublicKey};

/// The only payload type weightseal signs and accepts.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest envelope line accepted, in bytes.
pub const MAX_ENVELOPE_LEN: usize = 1 << 20;
/// Longest signature accepted, in bytes (a DER ECDSA P-384 signature is at most 104).
pub const MAX_SIGNATURE_LEN: usize = 512;
/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 16;
/// Largest payload (decoded) accepted, in bytes: a statement is a few KiB.
pub const MAX_PAYLOAD_LEN: usize = 256 << 10;
/// Signature verifications spent on signatures with an empty key id (tried under every
/// trusted key) across one bundle; a signature with a key id is tried only under that key.
pub const MAX_BLIND_TRIALS: usize = 256;

/// A DSSE envelope as stored (one JSON line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    #[serde(default)]
    pub keyid: String,
    pub sig: String,
}

/// Why an envelope was rejected. Each variant has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    #[error("not a DSSE envelope: {0}")]
    Json(String),
    #[error("envelope is {0} bytes, more than the 1 MiB allowed")]
    TooLarge(usize),
    #[error("unknown payloadType {found:?} (expected {PAYLOAD_TYPE:?})")]
    UnknownPayloadType { found: String },
    #[error("{field} is not valid base64")]
    BadBase64 { field: String },
    #[error("signature {index} is {found} bytes, which is not the length of {expected}")]
    SignatureLength {
        index: usize,
        found: usize,
        expected: &'static str,
    },
    #[error("signature {index} repeats an earlier signature or key id")]
    DuplicateSignature { index: usize },
    #[error("the envelope has no signature")]
    NoSignatures,
    #[error("this line and those after it are refused: a bundle holds at most {max} envelopes")]
    TooManyLines { max: usize },
    #[error("{found} signatures in one envelope, more than the {MAX_SIGNATURES} allowed")]
    TooManySignatures { found: usize },
    #[error("payload of about {found} bytes, more than the {MAX_PAYLOAD_LEN} allowed")]
    PayloadTooLarge { found: usize },
    #[error("signature {index} has no key id and the bundle has used up the {MAX_BLIND_TRIALS} verifications allowed for such signatures")]
    TrialBudget { index: usize },
    #[error("signature {index} by key {keyid} does not verify")]
    BadSignature { index: usize, keyid: String },
    #[error("no signature is by a trusted key (key ids: {keyids})")]
    Untrusted { keyids: String },
}

impl DsseError {
    pub fn code(&self) -> &'static str {
        use DsseError::*;
        match self {
            Json(_) => "malformed-envelope",
            TooLarge(_) => "malformed-envelope",
            UnknownPayloadType { .. } => "unknown-payload-type",
            BadBase64 { .. } => "bad-base64",
            SignatureLength { .. } => "signature-length",
            DuplicateSignature { .. } => "duplicate-signature",
            NoSignatures => "no-signatures",
            TooManyLines { .. } => "too-many-lines",
            TooManySignatures { .. } => "too-many-signatures",
            PayloadTooLarge { .. } => "payload-too-large",
            TrialBudget { .. } => "too-many-trials",
            BadSignature { .. } => "bad-signature",
            Untrusted { .. } => "untrusted",
        }
    }
}

/// `PAE(type, body)`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// The number of bytes a padded base64 text decodes to, from its length alone:
/// `3 * floor(len / 4)` less the `=` at its end (at most 2). Exact for valid base64.
pub fn decoded_len(text: &str) -> usize {
    let pad = text
        .bytes()
        .rev()
        .take(2)
        .take_while(|&b| b == b'=')
        .count();
    (text.len() / 4 * 3).saturating_sub(pad)
}

fn b64(s: &str, field: &str) -> Result<Vec<u8>, DsseError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
        .map_err(|_| DsseError::BadBase64 {
            field: field.to_string(),
        })
}

impl Envelope {
    /// Signs `payload` with `key` (key id filled in).
    pub fn sign(payload: &[u8], key: &PrivateKey) -> Envelope {
        let sig = key.sign(&pae(PAYLOAD_TYPE, payload));
        let e = base64::engine::general_purpose::STANDARD;
        Envelope {
            payload: e.encode(payload),
            payload_type: PAYLOAD_TYPE.to_string(),
            signatures: vec![Signature {
                keyid: key.public().id().to_string(),
                sig: e.encode(sig),
            }],
        }
    }

    /// Parses one envelope (a JSON line).
    pub fn parse(text: &str) -> Result<Envelope, DsseError> {
        if text.len() > MAX_ENVELOPE_LEN {
            return Err(DsseError::TooLarge(text.len()));
        }
        let e: Envelope = serde_json::from_str(text).map_err(|e| DsseError::Json(e.to_string()))?;
        if e.signatures.len() > MAX_SIGNATURES {
            return Err(DsseError::TooManySignatures {
                found: e.signatures.len(),
            });
        }
        Ok(e)
    }

    /// The envelope as one line of compact JSON (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an envelope serializes")
    }

    /// Checks every signature against `trusted` keys and returns the payload bytes and the ids
    /// of the trusted keys whose signatures verify (at least one). The payload is not parsed.
    ///
    /// A signature whose key id is a trusted key must verify under it (else
    /// [`DsseError::BadSignature`]); a signature whose key id names no trusted key is not
    /// tried at all (it counts for nobody). A signature with an empty key id is tried under
    /// each trusted key, spending `blind_budget`. Any malformed signature fails the envelope.
    pub fn verify_budgeted(
        &self,
        trusted: &[PublicKey],
        blind_budget: &mut usize,
    ) -> Result<(Vec<u8>, Vec<String>), DsseError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(DsseError::UnknownPayloadType {
                found: self.payload_type.chars().take(100).collect(),
            });
        }
        let decoded_len = decoded_len(&self.payload);
        if decoded_len > MAX_PAYLOAD_LEN {
            return Err(DsseError::PayloadTooLarge { found: decoded_len });
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(DsseError::TooManySignatures {
                found: self.signatures.len(),
            });
        }
        let payload = b64(&self.payload, "payload")?;
        if self.signatures.is_empty() {
            return Err(DsseError::NoSignatures);
        }
        let message = pae(&self.payload_type, &payload);
        let mut seen_sigs = HashSet::new();
        let mut seen_ids = HashSet::new();
        let mut verified = Vec::new();
        for (index, s) in self.signatures.iter().enumerate() {
            let raw = b64(&s.sig, &format!("signatures[{index}].sig"))?;
            if raw.len() > MAX_SIGNATURE_LEN {
                return Err(DsseError::SignatureLength {
                    index,
                    found: raw.len(),
                    expected: "any supported signature (at most 512 bytes)",
                });
            }
            if !seen_sigs.insert(raw.clone())
                || (!s.keyid.is_empty() && !seen_ids.insert(s.keyid.clone()))
            {
                return Err(DsseError::DuplicateSignature { index });
            }
            let sig = raw.as_slice();
            if !s.keyid.is_empty() {
                if let Some(k) = trusted.iter().find(|k| k.id() == s.keyid) {
                    if !k.signature_length_ok(sig.len()) {
                        return Err(DsseError::SignatureLength {
                            index,
                            found: sig.len(),
                            expected: match k.algorithm() {
                                super::keys::Algorithm::Ed25519 => "an ed25519 signature (64)",
                                super::keys::Algorithm::EcdsaP256 => {
                                    "a DER ECDSA P-256 signature (8 to 72)"
                                }
                                super::keys::Algorithm::EcdsaP384 => {
                                    "a DER ECDSA P-384 signature (8 to 104)"
                                }
                                super::keys::Algorithm::EcdsaP521 => {
                                    "a DER ECDSA P-521 signature (8 to 139)"
                                }
                            },
                        });
                    }
                    if !k.verify_strict(&message, sig) {
                        return Err(DsseError::BadSignature {
                            index,
                            keyid: s.keyid.clone(),
                        });
                    }
                    verified.push(k.id().to_string());
                }
                continue;
            }
            for k in trusted {
                if *blind_budget == 0 {
                    return Err(DsseError::TrialBudget { index });
                }
                *blind_budget -= 1;
                if k.verify_strict(&message, sig) {
                    verified.push(k.id().to_string());
                    break;
                }
            }
        }
        verified.sort();
        verified.dedup();
        if verified.is_empty() {
            let ids: Vec<String> = self
                .signatures
                .iter()
                .map(|s| s.keyid.chars().take(80).collect())
                .collect();
            return Err(DsseError::Untrusted {
                keyids: ids.join(", "),
            });
        }
        Ok((payload, verified))
    }

    /// [`Envelope::verify_budgeted`] with a budget of its own.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<(Vec<u8>, Vec<String>), DsseError> {
        let mut budget = MAX_BLIND_TRIALS;
        self.verify_budgeted(trusted, &mut budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_verify_and_each_rejection() {
        let k = PrivateKey::from_seed(&[1; 32]);
        let other = PrivateKey::from_seed(&[2; 32]);
        let env = Envelope::sign(b"{\"x\":1}", &k);
        let back = Envelope::parse(&env.to_line()).unwrap();
        assert_eq!(
            back.verify(&[k.public()]).unwrap(),
            (b"{\"x\":1}".to_vec(), vec![k.public().id().to_string()])
        );
        let code = |e: &Envelope, keys: &[PublicKey]| e.verify(keys).unwrap_err().code();
        assert_eq!(code(&env, &[other.public()]), "untrusted");
        let mut e = env.clone();
        e.payload_type = "text/plain".into();
        assert_eq!(code(&e, &[k.public()]), "unknown-payload-type");
        let mut e = env.clone();
        e.payload = "!!!".into();
        assert_eq!(code(&e, &[k.public()]), "bad-base64");
        let mut e = env.clone();
        e.signatures[0].sig = base64::engine::general_purpose::STANDARD.encode([0u8; 63]);
        assert_eq!(code(&e, &[k.public()]), "signature-length");
        let mut e = env.clone();
        e.signatures.push(e.signatures[0].clone());
        assert_eq!(code(&e, &[k.public()]), "duplicate-signature");
        // A signature is tried only under the key its key id names.
        let mut e = env.clone();
        e.signatures[0].keyid = other.public().id().to_string();
        assert_eq!(code(&e, &[k.public()]), "untrusted");
        let mut e = env.clone();
        e.signatures = (0..17).map(|_| env.signatures[0].clone()).collect();
        assert_eq!(code(&e, &[k.public()]), "too-many-signatures");
        assert_eq!(
            Envelope::parse(&e.to_line()).unwrap_err().code(),
            "too-many-signatures"
        );
        let mut e = env.clone();
        e.payload = base64::engine::general_purpose::STANDARD.encode(vec![b' '; 300 << 10]);
        assert_eq!(code(&e, &[k.public()]), "payload-too-large");
        // The bound is exact: 262144 bytes pass (the payload is then signed but no statement),
        // 262145 do not, whatever the padding; and it is judged before the base64 is decoded.
        for (len, want) in [
            (MAX_PAYLOAD_LEN, "bad-signature"),
            (MAX_PAYLOAD_LEN + 1, "payload-too-large"),
            (MAX_PAYLOAD_LEN + 2, "payload-too-large"),
        ] {
            let mut e = env.clone();
            e.payload = base64::engine::general_purpose::STANDARD.encode(vec![b' '; len]);
            assert_eq!(decoded_len(&e.payload), len);
            assert_eq!(code(&e, &[k.public()]), want, "{len}");
        }
        let mut e = env.clone();
        e.payload = "*".repeat((MAX_PAYLOAD_LEN + 1) / 3 * 4 + 4);
        assert_eq!(code(&e, &[k.public()]), "payload-too-large");
        e.payload = "*".repeat(8);
        assert_eq!(code(&e, &[k.public()]), "bad-base64");
        // Signatures without a key id draw on one budget.
        let mut e = env.clone();
        e.signatures[0].keyid.clear();
        let mut budget = 1;
        assert_eq!(
            e.verify_budgeted(&[other.public(), k.public()], &mut budget)
                .unwrap_err()
                .code(),
            "too-many-trials"
        );
        let mut e = env.clone();
        e.payload = base64::engine::general_purpose::STANDARD.encode(b"{\"x\":2}");
        assert_eq!(code(&e, &[k.public()]), "bad-signature");
        let mut e = env.clone();
        e.signatures.clear();
        assert_eq!(code(&e, &[k.public()]), "no-signatures");
        assert_eq!(
            Envelope::parse("{\"payload\": 1}").unwrap_err().code(),
            "malformed-envelope"
        );
        // An empty key id is matched by trying the trusted keys.
        let mut e = env.clone();
        e.signatures[0].keyid.clear();
        assert!(e.verify(&[other.public(), k.public()]).is_ok());
    }
}
