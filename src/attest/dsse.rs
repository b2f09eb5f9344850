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
    #[error("signature {index} is {found} bytes, an ed25519 signature is 64")]
    SignatureLength { index: usize, found: usize },
    #[error("signature {index} repeats an earlier signature or key id")]
    DuplicateSignature { index: usize },
    #[error("the envelope has no signature")]
    NoSignatures,
    #[error("signature {index} names key id {keyid}, but it was made by trusted key {actual}")]
    KeyIdMismatch {
        index: usize,
        keyid: String,
        actual: String,
    },
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
            KeyIdMismatch { .. } => "keyid-mismatch",
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
        serde_json::from_str(text).map_err(|e| DsseError::Json(e.to_string()))
    }

    /// The envelope as one line of compact JSON (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an envelope serializes")
    }

    /// Checks every signature against `trusted` keys and returns the payload bytes and the ids
    /// of the trusted keys whose signatures verify (at least one). The payload is not parsed.
    ///
    /// A signature whose key id is a trusted key must verify under it (else
    /// [`DsseError::BadSignature`]); one whose key id is unknown but that verifies under a
    /// trusted key is [`DsseError::KeyIdMismatch`]; one by no trusted key is skipped. Any
    /// malformed signature fails the whole envelope.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<(Vec<u8>, Vec<String>), DsseError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(DsseError::UnknownPayloadType {
                found: self.payload_type.chars().take(100).collect(),
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
            let sig: [u8; 64] =
                raw.as_slice()
                    .try_into()
                    .map_err(|_| DsseError::SignatureLength {
                        index,
                        found: raw.len(),
                    })?;
            if !seen_sigs.insert(sig) || (!s.keyid.is_empty() && !seen_ids.insert(s.keyid.clone()))
            {
                return Err(DsseError::DuplicateSignature { index });
            }
            match trusted
                .iter()
                .find(|k| !s.keyid.is_empty() && k.id() == s.keyid)
            {
                Some(k) => {
                    if !k.verify_strict(&message, &sig) {
                        return Err(DsseError::BadSignature {
                            index,
                            keyid: s.keyid.clone(),
                        });
                    }
                    verified.push(k.id().to_string());
                }
                None => {
                    if let Some(k) = trusted.iter().find(|k| k.verify_strict(&message, &sig)) {
                        if !s.keyid.is_empty() {
                            return Err(DsseError::KeyIdMismatch {
                                index,
                                keyid: s.keyid.chars().take(80).collect(),
                                actual: k.id().to_string(),
                            });
                        }
                        verified.push(k.id().to_string());
                    }
                }
            }
        }
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
        let mut e = env.clone();
        e.signatures[0].keyid = other.public().id().to_string();
        assert_eq!(code(&e, &[k.public()]), "keyid-mismatch");
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
