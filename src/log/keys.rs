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

/// Why a witness's `add-checkpoint` answer holds no `cosignature/v1` line by `expected`, naming
/// what it holds instead: each signature line's name, key id and kind — an Ed25519 note
/// signature (type 0x01, 64 bytes; "its own key" when the id is `expected`'s name and public key
/// as type 0x01), a `cosignature/v1` line (72 bytes) by another key, or a line of another type —
/// or that it holds no signature line at all.
///
/// A type 0x01 answer is the form some witnesses (siglog's, older Go sumdb-style ones) send. It is
/// not accepted: a note signature by a witness cannot be told apart from a log's checkpoint
/// signature (spec/log.md, "Witnesses"), while `cosignature/v1` signs a message no log signs.
pub fn describe_answer(text: &str, expected: &VerifierKey) -> String {
    const SHOWN: usize = 4;
    let own_note_id = key_id(&expected.name, ALG_ED25519, &expected.key);
    let mut items = Vec::new();
    let mut note_sigs = 0usize;
    let mut other_lines = 0usize;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(sig) = signed_note::Signature::from_bytes(line.as_bytes()) else {
            other_lines += 1;
            continue;
        };
        // The name comes from a stranger: quoted, escaped and cut.
        let name: String = sig.name().chars().take(64).collect();
        let who = format!("{name:?} (key id {:08x})", sig.id());
        let item = match sig.signature().len() {
            64 if sig.name() == expected.name && sig.id() == own_note_id => {
                note_sigs += 1;
                format!("an Ed25519 note signature (type 0x01) by {who}, its own key as a type 0x01 key")
            }
            64 => {
                note_sigs += 1;
                format!("an Ed25519 note signature (type 0x01) by {who}")
            }
            72 => format!("a cosignature/v1 line by another key, {who}"),
            n => format!("a signature line of another type ({n} bytes) by {who}"),
        };
        items.push(item);
    }
    let wanted = format!(
        "a cosignature/v1 (type 0x04) line by {:?} (key id {:08x})",
        expected.name,
        expected.id()
    );
    if items.is_empty() {
        return if other_lines == 0 {
            format!("the witness answered with nothing, not {wanted}")
        } else {
            format!(
                "the witness answered with no signature line ({other_lines} other line(s)), not {wanted}"
            )
        };
    }
    let more = items.len().saturating_sub(SHOWN);
    items.truncate(SHOWN);
    let mut m = format!("the witness answered with {}", items.join(", "));
    if more > 0 {
        m.push_str(&format!(" and {more} more signature line(s)"));
    }
    m.push_str(&format!(", not {wanted}"));
    if note_sigs > 0 {
        m.push_str(
            "; weightseal accepts only cosignature/v1 (tlog-cosignature) from witnesses: a type \
             0x01 note signature by a witness cannot be told apart from a log's signature",
        );
    }
    m
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

    /// A signature line `— NAME base64(id || sig)` as a witness would send it.
    fn line(name: &str, id: u32, sig: &[u8]) -> String {
        let mut raw = id.to_be_bytes().to_vec();
        raw.extend_from_slice(sig);
        format!(
            "— {name} {}\n",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn a_witness_answer_without_our_cosignature_is_described() {
        let k = PrivateKey::from_seed(&[7; 32]);
        let expected = VerifierKey::new("w.example", ALG_COSIGNATURE_V1, &k.public()).unwrap();
        let note_id = key_id("w.example", ALG_ED25519, &expected.key);
        // siglog's witness: a plain Ed25519 note signature by the same key, as type 0x01.
        let m = describe_answer(&line("w.example", note_id, &[1; 64]), &expected);
        assert_eq!(
            m,
            format!(
                "the witness answered with an Ed25519 note signature (type 0x01) by \"w.example\" \
                 (key id {note_id:08x}), its own key as a type 0x01 key, not a cosignature/v1 \
                 (type 0x04) line by \"w.example\" (key id {:08x}); weightseal accepts only \
                 cosignature/v1 (tlog-cosignature) from witnesses: a type 0x01 note signature by \
                 a witness cannot be told apart from a log's signature",
                expected.id()
            )
        );
        // A type 0x01 signature by some other key: named, not called its own.
        let m = describe_answer(&line("other.example", 0xdeadbeef, &[1; 64]), &expected);
        assert!(
            m.starts_with(
                "the witness answered with an Ed25519 note signature (type 0x01) by \
                 \"other.example\" (key id deadbeef), not a cosignature/v1"
            ),
            "{m}"
        );
        assert!(m.contains("accepts only cosignature/v1"), "{m}");
        // A cosignature/v1 by another witness key.
        let m = describe_answer(&line("w2.example", 0x01020304, &[2; 72]), &expected);
        assert!(
            m.starts_with(
                "the witness answered with a cosignature/v1 line by another key, \
                 \"w2.example\" (key id 01020304), not"
            ),
            "{m}"
        );
        assert!(!m.contains("accepts only"), "{m}");
        // Another signature type, and no signature at all.
        let m = describe_answer(&line("w.example", 1, &[3; 40]), &expected);
        assert!(
            m.contains("a signature line of another type (40 bytes) by \"w.example\""),
            "{m}"
        );
        assert_eq!(
            describe_answer("ok\n", &expected),
            format!(
                "the witness answered with no signature line (1 other line(s)), not a \
                 cosignature/v1 (type 0x04) line by \"w.example\" (key id {:08x})",
                expected.id()
            )
        );
        assert!(describe_answer("", &expected).starts_with("the witness answered with nothing"));
        // A stranger's name is escaped and cut; at most four lines are listed.
        let m = describe_answer(&line("evil\u{1b}[31m", 9, &[1; 64]), &expected);
        assert!(m.contains("\"evil\\u{1b}[31m\""), "{m}");
        let many: String = (0..6).map(|i| line("x", i, &[0; 72])).collect();
        assert!(
            describe_answer(&many, &expected).contains("and 2 more signature line(s)"),
            "many lines"
        );
    }
}
