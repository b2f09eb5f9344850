//! Signing keys in the formats users already hold (spec/attestation.md, "Keys"):
//!
//! - ed25519, ECDSA P-256 and ECDSA P-384;
//! - private keys as PKCS#8 PEM (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes), encrypted
//!   PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`, with a passphrase), SEC1 (`BEGIN EC PRIVATE KEY`,
//!   what `openssl ecparam -genkey` writes) and OpenSSH (`BEGIN OPENSSH PRIVATE KEY`, what
//!   `ssh-keygen` writes, encrypted or not);
//! - public keys as SPKI PEM (`BEGIN PUBLIC KEY`) and as OpenSSH lines (`ssh-ed25519 AAAA…`),
//!   one or several per file (GitHub's `https://github.com/USER.keys`; lines of key types
//!   weightseal does not support, such as RSA, are skipped when others are usable).
//!
//! A key id is the lowercase hex SHA-256 of the public key's SPKI DER encoding, whatever file
//! format it came in, so an OpenSSH key and the same key as PEM have one id. Signatures: ed25519
//! as in RFC 8032 (64 bytes, strict verification); ECDSA over SHA-256 (P-256) or SHA-384 (P-384)
//! as an ASN.1 DER `ECDSA-Sig-Value`. Private key material is never part of an error message or
//! a `Debug` rendering. The library never prompts: a passphrase comes from the caller.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use sha2::Digest as _;

/// Largest key file read (a GitHub keys file with several keys fits easily).
const MAX_KEY_FILE: u64 = 256 * 1024;

/// A signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    /// Verification only (OpenSSF model signing interop): weightseal does not sign with it.
    EcdsaP521,
}

impl Algorithm {
    /// `ed25519`, `ecdsa-p256`, `ecdsa-p384`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256 => "ecdsa-p256",
            Algorithm::EcdsaP384 => "ecdsa-p384",
            Algorithm::EcdsaP521 => "ecdsa-p521",
        }
    }

    pub fn from_name(s: &str) -> Option<Algorithm> {
        match s {
            "ed25519" => Some(Algorithm::Ed25519),
            "ecdsa-p256" | "p256" | "p-256" => Some(Algorithm::EcdsaP256),
            "ecdsa-p384" | "p384" | "p-384" => Some(Algorithm::EcdsaP384),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file holds a key, but not the kind needed here; `hint` says what to do.
    #[error("{}: this is {found}; {hint}", path.display())]
    WrongKind {
        path: PathBuf,
        found: String,
        hint: &'static str,
    },
    /// A key type weightseal does not sign or verify with.
    #[error("{}: {found}, which weightseal does not support; use an ed25519, ECDSA P-256 or ECDSA P-384 key", path.display())]
    Unsupported { path: PathBuf, found: String },
    #[error("{}: not a valid {kind} ({detail})", path.display())]
    Invalid {
        path: PathBuf,
        kind: &'static str,
        detail: String,
    },
    #[error("{}: the key is encrypted; give its passphrase (WEIGHTSEAL_PASSPHRASE, or run on a terminal to be asked)", path.display())]
    NeedsPassphrase { path: PathBuf },
    #[error("{}: wrong passphrase, or the encrypted key is damaged", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("{} already exists; refusing to overwrite a key", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The label of the first PEM block of `text` whose label is not `EC PARAMETERS` (which
/// `openssl ecparam -genkey` writes before the key).
fn pem_label(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        let start = rest.find("-----BEGIN ")? + "-----BEGIN ".len();
        let end = rest[start..].find("-----")?;
        let label = &rest[start..start + end];
        if label != "EC PARAMETERS" {
            return Some(label);
        }
        rest = &rest[start + end..];
    }
}

/// The PEM block with this label, from its BEGIN line to its END line.
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let a = text.find(&begin)?;
    let b = text[a..].find(&end)? + a + end.len();
    Some(&text[a..b])
}

fn read_text(path: &Path) -> Result<String, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A regular file only: a named pipe given as a key is refused, never waited on.
    let (f, _) = crate::fsutil::open_regular(path).map_err(io)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_KEY_FILE), &mut bytes)
        .map_err(io)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        // DER starts with a SEQUENCE (0x30) whose length fits the file.
        let der = bytes.first() == Some(&0x30) && bytes.len() > 2;
        KeyError::WrongKind {
            path: path.to_path_buf(),
            found: if der {
                format!("a binary file of {} bytes, which looks like a DER-encoded key", bytes.len())
            } else {
                format!("a binary file of {} bytes, not a key file", bytes.len())
            },
            hint: "give a PEM key (-----BEGIN ...-----), an OpenSSH key or a .pub line; convert a DER key with `openssl pkey -inform DER -in KEY -out KEY.pem` (add -pubin for a public key)",
        }
    })
}

/// The verifying half of a key.
#[derive(Clone, PartialEq, Eq)]
enum VKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(Box<p521::ecdsa::VerifyingKey>),
}

/// A public key and its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VKey,
    id: String,
}

/// Whether an ed25519 key is encoded as RFC 8032 (5.1.3) decodes points: the library also
/// takes `y >= p` (reduced) and a set sign bit on `x = 0`, which the RFC rejects. A point
/// re-encodes to its one canonical form, so comparing the two finds both.
fn canonical_ed25519(k: &ed25519_dalek::VerifyingKey) -> bool {
    k.to_edwards().compress().as_bytes() == k.as_bytes()
}

/// OIDs for messages about keys weightseal does not take.
fn describe_spki(der: &[u8]) -> String {
    let Ok(spki) = pkcs8::SubjectPublicKeyInfoRef::try_from(der) else {
        return "not a public key weightseal can parse".into();
    };
    let oid = spki.algorithm.oid.to_string();
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<pkcs8::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    match (oid.as_str(), curve.as_deref()) {
        ("1.2.840.113549.1.1.1", _) => "an RSA public key".into(),
        ("1.2.840.10045.2.1", Some(c)) => format!("an ECDSA public key on curve {c}"),
        ("1.3.101.113", _) => "an ed448 public key".into(),
        (o, _) => format!("a public key of algorithm {o}"),
    }
}

impl PublicKey {
    fn new(key: VKey) -> PublicKey {
        let der = match &key {
            VKey::Ed25519(k) => k.to_public_key_der(),
            VKey::P256(k) => k.to_public_key_der(),
            VKey::P384(k) => k.to_public_key_der(),
            VKey::P521(k) => k.to_public_key_der(),
        }
        .expect("a valid public key encodes as SPKI");
        let id = crate::digest::hex(&sha2::Sha256::digest(der.as_bytes()));
        PublicKey { key, id }
    }

    pub fn from_verifying_key(key: ed25519_dalek::VerifyingKey) -> PublicKey {
        PublicKey::new(VKey::Ed25519(key))
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            VKey::Ed25519(_) => Algorithm::Ed25519,
            VKey::P256(_) => Algorithm::EcdsaP256,
            VKey::P384(_) => Algorithm::EcdsaP384,
            VKey::P521(_) => Algorithm::EcdsaP521,
        }
    }

    /// Parses SPKI DER of any supported algorithm.
    pub fn from_spki_der(der: &[u8], origin: &Path) -> Result<PublicKey, KeyError> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            if !canonical_ed25519(&k) {
                return Err(KeyError::Invalid {
                    path: origin.to_path_buf(),
                    kind: "public key (SPKI PEM)",
                    detail: "the ed25519 key is not the canonical encoding of a curve point (RFC 8032, 5.1.3)".into(),
                });
            }
            return Ok(PublicKey::new(VKey::Ed25519(k)));
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::new(VKey::P256(k)));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::new(VKey::P384(k)));
        }
        if let Ok(k) = p521::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::new(VKey::P521(Box::new(k))));
        }
        Err(KeyError::Unsupported {
            path: origin.to_path_buf(),
            found: describe_spki(der),
        })
    }

    /// Parses one SPKI PEM public key; `origin` names it in errors. Other kinds of key files
    /// are refused with what they are and what to do.
    pub fn from_pem(text: &str, origin: &Path) -> Result<PublicKey, KeyError> {
        let mut keys = PublicKey::parse_all(text, origin)?;
        if keys.len() != 1 {
            return Err(KeyError::WrongKind {
                path: origin.to_path_buf(),
                found: format!("a file of {} public keys", keys.len()),
                hint: "give a file with one key here (a list of keys can be given with --key or as public_key in a policy)",
            });
        }
        Ok(keys.remove(0))
    }

    /// Every public key in `text`: one SPKI PEM block, or OpenSSH public key lines (one or
    /// several, as in `~/.ssh/id_ed25519.pub` or `https://github.com/USER.keys`). Lines of
    /// unsupported types are skipped when at least one line is usable.
    pub fn parse_all(text: &str, origin: &Path) -> Result<Vec<PublicKey>, KeyError> {
        let wrong = |found: &str, hint: &'static str| KeyError::WrongKind {
            path: origin.to_path_buf(),
            found: found.to_string(),
            hint,
        };
        match pem_label(text) {
            Some("PUBLIC KEY") => {
                // White space around each line (a key indented in a TOML string) and blank
                // lines after the END line are not text (spec/attestation.md, "Keys"): SP, HT
                // and CR only, not every Unicode white space `str::trim` removes.
                let lines: Vec<&str> = text
                    .lines()
                    .map(|l| l.trim_matches([' ', '\t', '\r']))
                    .collect();
                let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
                let text = format!("{}\n", lines[..end].join("\n"));
                let (_, doc) = pkcs8::Document::from_pem(&text).map_err(|e| KeyError::Invalid {
                    path: origin.to_path_buf(),
                    kind: "public key (SPKI PEM)",
                    detail: e.to_string(),
                })?;
                return Ok(vec![PublicKey::from_spki_der(doc.as_bytes(), origin)?]);
            }
            Some("PRIVATE KEY" | "EC PRIVATE KEY" | "OPENSSH PRIVATE KEY" | "ENCRYPTED PRIVATE KEY") => {
                return Err(wrong(
                    "a private key",
                    "give the public key here (the .pub file, or `weightseal key public KEY`); keep the private key to yourself",
                ))
            }
            Some("CERTIFICATE") => {
                return Err(wrong(
                    "an X.509 certificate",
                    "give the signer's public key (`openssl x509 -pubkey -noout -in CERT`)",
                ))
            }
            Some(other) => {
                return Err(KeyError::Invalid {
                    path: origin.to_path_buf(),
                    kind: "public key",
                    detail: format!("a PEM block labelled {other:?}"),
                })
            }
            None => {}
        }
        // OpenSSH public key lines.
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match ssh_key::PublicKey::from_openssh(line) {
                Ok(k) => match from_ssh_public(k.key_data()) {
                    Some(pk) => keys.push(pk),
                    None => skipped.push(k.algorithm().as_str().to_string()),
                },
                Err(_) => {
                    return Err(KeyError::Invalid {
                        path: origin.to_path_buf(),
                        kind: "public key",
                        detail: "neither a PEM public key nor OpenSSH public key lines".into(),
                    })
                }
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Unsupported {
                path: origin.to_path_buf(),
                found: if skipped.is_empty() {
                    "an empty key file".into()
                } else {
                    format!("only OpenSSH keys of type {}", skipped.join(", "))
                },
            });
        }
        Ok(keys)
    }

    /// The ed25519 key with these raw 32 bytes, if they are the canonical encoding of a point
    /// (RFC 8032, 5.1.3: `y < p`, and no sign bit on `x = 0`).
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<PublicKey> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .ok()
            .filter(canonical_ed25519)
            .map(PublicKey::from_verifying_key)
    }

    /// The ECDSA key with this SEC1-encoded point.
    pub fn from_sec1(alg: Algorithm, point: &[u8]) -> Option<PublicKey> {
        match alg {
            Algorithm::Ed25519 => None,
            Algorithm::EcdsaP256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .ok()
                .map(|k| PublicKey::new(VKey::P256(k))),
            Algorithm::EcdsaP384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .ok()
                .map(|k| PublicKey::new(VKey::P384(k))),
            Algorithm::EcdsaP521 => p521::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .ok()
                .map(|k| PublicKey::new(VKey::P521(Box::new(k)))),
        }
    }

    /// Reads a file holding exactly one public key (PEM or an OpenSSH line).
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        PublicKey::from_pem(&read_text(path)?, path)
    }

    /// Reads every public key of a file ([`PublicKey::parse_all`]).
    pub fn read_all(path: &Path) -> Result<Vec<PublicKey>, KeyError> {
        PublicKey::parse_all(&read_text(path)?, path)
    }

    /// The key id: lowercase hex SHA-256 of the SPKI DER encoding.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// SPKI PEM.
    pub fn to_pem(&self) -> String {
        match &self.key {
            VKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
            VKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            VKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            VKey::P521(k) => k.to_public_key_pem(LineEnding::LF),
        }
        .expect("a valid public key encodes as SPKI PEM")
    }

    /// The raw key: 32 bytes for ed25519, the uncompressed SEC1 point for ECDSA.
    pub fn as_bytes(&self) -> Vec<u8> {
        match &self.key {
            VKey::Ed25519(k) => k.as_bytes().to_vec(),
            VKey::P256(k) => k.to_sec1_bytes().to_vec(),
            VKey::P384(k) => k.to_sec1_bytes().to_vec(),
            VKey::P521(k) => k.to_sec1_bytes().to_vec(),
        }
    }

    /// Checks `sig` over `message`: ed25519 with `verify_strict` (no malleable or small-order
    /// signatures), ECDSA as DER over SHA-256 / SHA-384 / SHA-512 (P-521).
    pub fn verify_strict(&self, message: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        match &self.key {
            VKey::Ed25519(k) => match <[u8; 64]>::try_from(sig) {
                Ok(b) => k
                    .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&b))
                    .is_ok(),
                Err(_) => false,
            },
            VKey::P256(k) => {
                p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            VKey::P384(k) => {
                p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            VKey::P521(k) => {
                p521::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
        }
    }

    /// Checks an ECDSA `sig` (DER) over the SHA-256 digest of `message`, whatever the curve:
    /// what model_signing 0.2 signed with every ECDSA key (its certificate method verifies
    /// those signatures so to this day). Ed25519 keys never verify here.
    pub fn verify_ecdsa_sha256(&self, message: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let digest = sha2::Sha256::digest(message);
        match &self.key {
            VKey::Ed25519(_) => false,
            VKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            VKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            VKey::P521(k) => p521::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        }
    }

    /// Whether a signature of this length can be this key's (64 for ed25519; a DER sequence
    /// of at most 72 bytes for P-256 and 104 for P-384).
    pub fn signature_length_ok(&self, len: usize) -> bool {
        match self.key {
            VKey::Ed25519(_) => len == 64,
            VKey::P256(_) => (8..=72).contains(&len),
            VKey::P384(_) => (8..=104).contains(&len),
            VKey::P521(_) => (8..=139).contains(&len),
        }
    }
}

fn from_ssh_public(k: &ssh_key::public::KeyData) -> Option<PublicKey> {
    match k {
        ssh_key::public::KeyData::Ed25519(e) => ed25519_dalek::VerifyingKey::try_from(e)
            .ok()
            .filter(canonical_ed25519)
            .map(PublicKey::from_verifying_key),
        ssh_key::public::KeyData::Ecdsa(e) => match e {
            ssh_key::public::EcdsaPublicKey::NistP256(_) => p256::ecdsa::VerifyingKey::try_from(e)
                .ok()
                .map(|k| PublicKey::new(VKey::P256(k))),
            ssh_key::public::EcdsaPublicKey::NistP384(_) => p384::ecdsa::VerifyingKey::try_from(e)
                .ok()
                .map(|k| PublicKey::new(VKey::P384(k))),
            _ => None,
        },
        _ => None,
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.algorithm(), self.id)
    }
}

/// The signing half of a key.
enum SKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// A private key. Its `Debug` shows only the algorithm and key id.
pub struct PrivateKey {
    key: SKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.public();
        write!(f, "PrivateKey({} {})", p.algorithm(), p.id())
    }
}

/// Supplies a passphrase for an encrypted key, when one is needed (`None`: none available).
pub type Passphrase<'a> = &'a dyn Fn() -> Option<String>;

impl PrivateKey {
    /// A new ed25519 key from the operating system's random source.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        PrivateKey::generate_with(Algorithm::Ed25519)
    }

    /// A new key of `alg` from the operating system's random source.
    pub fn generate_with(alg: Algorithm) -> Result<PrivateKey, KeyError> {
        let random = |n: usize| -> Result<Vec<u8>, KeyError> {
            let mut b = vec![0u8; n];
            getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
            Ok(b)
        };
        loop {
            let k = match alg {
                Algorithm::Ed25519 => {
                    let seed: [u8; 32] = random(32)?.try_into().expect("32 bytes");
                    return Ok(PrivateKey::from_seed(&seed));
                }
                Algorithm::EcdsaP256 | Algorithm::EcdsaP384 => {
                    PrivateKey::from_ecdsa_scalar(alg, &random(alg_scalar_len(alg))?)
                }
                Algorithm::EcdsaP521 => {
                    return Err(KeyError::Unsupported {
                        path: PathBuf::from("keygen"),
                        found: "ECDSA P-521 signing".into(),
                    })
                }
            };
            // A random scalar is out of range with negligible probability: draw again.
            if let Some(k) = k {
                return Ok(k);
            }
        }
    }

    /// The ed25519 key with this 32-byte seed (RFC 8032 private key). Used for test vectors.
    pub fn from_seed(seed: &[u8; 32]) -> PrivateKey {
        PrivateKey {
            key: SKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
        }
    }

    /// The ECDSA key with this big-endian scalar (32 bytes for P-256, 48 for P-384), if valid.
    /// Used for test vectors (ECDSA signing is deterministic, RFC 6979).
    pub fn from_ecdsa_scalar(alg: Algorithm, scalar: &[u8]) -> Option<PrivateKey> {
        let key = match alg {
            Algorithm::Ed25519 | Algorithm::EcdsaP521 => return None,
            Algorithm::EcdsaP256 => SKey::P256(p256::ecdsa::SigningKey::from_slice(scalar).ok()?),
            Algorithm::EcdsaP384 => SKey::P384(p384::ecdsa::SigningKey::from_slice(scalar).ok()?),
        };
        Some(PrivateKey { key })
    }

    /// PKCS#8 DER of any supported algorithm.
    fn from_pkcs8_der(der: &[u8], origin: &Path) -> Result<PrivateKey, KeyError> {
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey {
                key: SKey::Ed25519(k),
            });
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey { key: SKey::P256(k) });
        }
        if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey { key: SKey::P384(k) });
        }
        let found = match pkcs8::PrivateKeyInfoRef::try_from(der) {
            Ok(info) => match info.algorithm.oid.to_string().as_str() {
                "1.2.840.113549.1.1.1" => "an RSA private key".to_string(),
                "1.2.840.10045.2.1" => {
                    "an ECDSA private key on a curve other than P-256 and P-384".into()
                }
                o => format!("a private key of algorithm {o}"),
            },
            Err(_) => {
                return Err(KeyError::Invalid {
                    path: origin.to_path_buf(),
                    kind: "private key",
                    detail: "PKCS#8 decoding failed".into(),
                })
            }
        };
        Err(KeyError::Unsupported {
            path: origin.to_path_buf(),
            found,
        })
    }

    /// Parses an unencrypted private key ([`PrivateKey::from_text`] without a passphrase).
    pub fn from_pem(text: &str, origin: &Path) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_text(text, origin, &|| None)
    }

    /// Parses a private key file's text: PKCS#8, encrypted PKCS#8, SEC1 or OpenSSH. An
    /// encrypted key asks `passphrase`. `origin` names the file in errors (never its content).
    pub fn from_text(
        text: &str,
        origin: &Path,
        passphrase: Passphrase,
    ) -> Result<PrivateKey, KeyError> {
        let path = || origin.to_path_buf();
        let invalid = |kind: &'static str| KeyError::Invalid {
            path: path(),
            kind,
            detail: "decoding failed".into(),
        };
        match pem_label(text) {
            Some("PRIVATE KEY") => {
                let (_, doc) = pkcs8::SecretDocument::from_pem(text)
                    .map_err(|_| invalid("PKCS#8 private key"))?;
                PrivateKey::from_pkcs8_der(doc.as_bytes(), origin)
            }
            Some("ENCRYPTED PRIVATE KEY") => {
                let (_, doc) = pkcs8::Document::from_pem(text)
                    .map_err(|_| invalid("encrypted PKCS#8 private key"))?;
                let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(doc.as_bytes())
                    .map_err(|_| invalid("encrypted PKCS#8 private key"))?;
                let pass =
                    passphrase().ok_or_else(|| KeyError::NeedsPassphrase { path: path() })?;
                let plain = info
                    .decrypt(pass.as_bytes())
                    .map_err(|_| KeyError::WrongPassphrase { path: path() })?;
                PrivateKey::from_pkcs8_der(plain.as_bytes(), origin)
            }
            Some("EC PRIVATE KEY") => {
                let block =
                    pem_block(text, "EC PRIVATE KEY").ok_or_else(|| invalid("SEC1 private key"))?;
                if let Ok(k) = p256::SecretKey::from_sec1_pem(block) {
                    return Ok(PrivateKey {
                        key: SKey::P256(k.into()),
                    });
                }
                if let Ok(k) = p384::SecretKey::from_sec1_pem(block) {
                    return Ok(PrivateKey {
                        key: SKey::P384(k.into()),
                    });
                }
                Err(KeyError::Unsupported {
                    path: path(),
                    found:
                        "an EC private key on a curve other than P-256 and P-384 (or a damaged one)"
                            .into(),
                })
            }
            Some("OPENSSH PRIVATE KEY") => {
                let mut k = ssh_key::PrivateKey::from_openssh(text)
                    .map_err(|_| invalid("OpenSSH private key"))?;
                if k.is_encrypted() {
                    let pass =
                        passphrase().ok_or_else(|| KeyError::NeedsPassphrase { path: path() })?;
                    k = k
                        .decrypt(pass.as_bytes())
                        .map_err(|_| KeyError::WrongPassphrase { path: path() })?;
                }
                let key = match k.key_data() {
                    ssh_key::private::KeypairData::Ed25519(e) => {
                        SKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&e.private.to_bytes()))
                    }
                    ssh_key::private::KeypairData::Ecdsa(
                        ssh_key::private::EcdsaKeypair::NistP256 { private, .. },
                    ) => SKey::P256(
                        p256::ecdsa::SigningKey::from_slice(private.as_slice())
                            .map_err(|_| invalid("OpenSSH ECDSA private key"))?,
                    ),
                    ssh_key::private::KeypairData::Ecdsa(
                        ssh_key::private::EcdsaKeypair::NistP384 { private, .. },
                    ) => SKey::P384(
                        p384::ecdsa::SigningKey::from_slice(private.as_slice())
                            .map_err(|_| invalid("OpenSSH ECDSA private key"))?,
                    ),
                    other => {
                        return Err(KeyError::Unsupported {
                            path: path(),
                            found: format!(
                                "an OpenSSH {} private key",
                                other
                                    .algorithm()
                                    .map(|a| a.as_str().to_string())
                                    .unwrap_or_else(|_| "unknown".into())
                            ),
                        })
                    }
                };
                Ok(PrivateKey { key })
            }
            Some("PUBLIC KEY") => Err(KeyError::WrongKind {
                path: path(),
                found: "a public key (SPKI PEM)".into(),
                hint: "signing needs the private key; a public key is what others pass to --key",
            }),
            Some("CERTIFICATE") => Err(KeyError::WrongKind {
                path: path(),
                found: "an X.509 certificate".into(),
                hint: "signing needs the private key that belongs to it",
            }),
            Some(other) => Err(KeyError::Invalid {
                path: path(),
                kind: "private key",
                detail: format!("a PEM block labelled {other:?}"),
            }),
            None => {
                let first = text.lines().map(str::trim).find(|l| !l.is_empty());
                let is_ssh_pub = first.is_some_and(|l| ssh_key::PublicKey::from_openssh(l).is_ok());
                Err(if is_ssh_pub {
                    KeyError::WrongKind {
                        path: path(),
                        found: "an OpenSSH public key line".into(),
                        hint: "signing needs the private key (the same file name without .pub); a public key line is what others pass to --key, where it is supported",
                    }
                } else {
                    KeyError::Invalid {
                        path: path(),
                        kind: "private key",
                        detail: "no PEM block and not an OpenSSH key".into(),
                    }
                })
            }
        }
    }

    /// Reads an unencrypted private key file.
    pub fn read(path: &Path) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_text(&read_text(path)?, path, &|| None)
    }

    /// Reads a private key file, asking `passphrase` if it is encrypted.
    pub fn read_with(path: &Path, passphrase: Passphrase) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_text(&read_text(path)?, path, passphrase)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            SKey::Ed25519(_) => Algorithm::Ed25519,
            SKey::P256(_) => Algorithm::EcdsaP256,
            SKey::P384(_) => Algorithm::EcdsaP384,
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::new(match &self.key {
            SKey::Ed25519(k) => VKey::Ed25519(k.verifying_key()),
            SKey::P256(k) => VKey::P256(*k.verifying_key()),
            SKey::P384(k) => VKey::P384(*k.verifying_key()),
        })
    }

    /// Signs `message`: 64 bytes for ed25519, a DER `ECDSA-Sig-Value` for ECDSA (RFC 6979
    /// deterministic nonces, so the same key and message give the same signature).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer;
        match &self.key {
            SKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            SKey::P256(k) => {
                let s: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(k, message);
                s.to_der().as_bytes().to_vec()
            }
            SKey::P384(k) => {
                let s: p384::ecdsa::Signature = p384::ecdsa::signature::Signer::sign(k, message);
                s.to_der().as_bytes().to_vec()
            }
        }
    }

    /// PKCS#8 PEM (v1 for ed25519: the seed only, as `openssl genpkey` writes it).
    fn to_pkcs8_pem(&self) -> String {
        match &self.key {
            SKey::Ed25519(k) => {
                // PKCS#8 v1: OpenSSL and Python's cryptography reject the v2 form that also
                // embeds the public key.
                let v1 = ed25519_dalek::pkcs8::KeypairBytes {
                    secret_key: k.to_bytes(),
                    public_key: None,
                };
                v1.to_pkcs8_pem(LineEnding::LF).map(|z| z.to_string())
            }
            SKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF).map(|z| z.to_string()),
            SKey::P384(k) => k.to_pkcs8_pem(LineEnding::LF).map(|z| z.to_string()),
        }
        .expect("a valid private key encodes as PKCS#8")
    }

    /// Writes `path` (PKCS#8 PEM, mode 0600) and `path.pub` (SPKI PEM), refusing to replace
    /// either file.
    pub fn write_pair(&self, path: &Path) -> Result<PathBuf, KeyError> {
        let mut pub_path = path.as_os_str().to_owned();
        pub_path.push(".pub");
        let pub_path = PathBuf::from(pub_path);
        for p in [path, pub_path.as_path()] {
            if p.symlink_metadata().is_ok() {
                return Err(KeyError::Exists {
                    path: p.to_path_buf(),
                });
            }
        }
        write_new(path, self.to_pkcs8_pem().as_bytes(), 0o600)?;
        write_new(&pub_path, self.public().to_pem().as_bytes(), 0o644)?;
        Ok(pub_path)
    }
}

fn alg_scalar_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::Ed25519 | Algorithm::EcdsaP256 => 32,
        Algorithm::EcdsaP384 => 48,
        Algorithm::EcdsaP521 => 66,
    }
}

/// Creates `path` (never replacing a file) with `mode`, writes `bytes`, syncs.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let w = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                w(e)
            }
        })?;
    f.write_all(bytes).map_err(w)?;
    f.sync_all().map_err(w)
}

/// Reads either kind of key file and returns its public keys (for `key id`): a private key's
/// public key, or every public key of a public key file.
pub fn read_any_public(path: &Path, passphrase: Passphrase) -> Result<Vec<PublicKey>, KeyError> {
    let text = read_text(path)?;
    match pem_label(&text) {
        Some(
            "PRIVATE KEY" | "EC PRIVATE KEY" | "OPENSSH PRIVATE KEY" | "ENCRYPTED PRIVATE KEY",
        ) => Ok(vec![
            PrivateKey::from_text(&text, path, passphrase)?.public()
        ]),
        _ => PublicKey::parse_all(&text, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pair_round_trips_with_mode_and_no_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let k = PrivateKey::from_seed(&[7; 32]);
        let path = d.path().join("k");
        let pubp = k.write_pair(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // PKCS#8 v1, 48 bytes of DER: what openssl genpkey writes.
        let pem = fs::read_to_string(&path).unwrap();
        assert!(pem.lines().nth(1).unwrap().starts_with("MC4CAQAw"), "{pem}");
        let back = PrivateKey::read(&path).unwrap();
        assert_eq!(back.public(), k.public());
        assert_eq!(PublicKey::read(&pubp).unwrap(), k.public());
        assert!(matches!(k.write_pair(&path), Err(KeyError::Exists { .. })));
        assert_eq!(k.public().id().len(), 64);
        assert_eq!(
            format!("{k:?}"),
            format!("PrivateKey(ed25519 {})", k.public().id())
        );
    }

    #[test]
    fn ecdsa_keys_round_trip_sign_and_verify() {
        let d = tempfile::tempdir().unwrap();
        for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384] {
            let k = PrivateKey::generate_with(alg).unwrap();
            let path = d.path().join(alg.as_str());
            let pubp = k.write_pair(&path).unwrap();
            let back = PrivateKey::read(&path).unwrap();
            assert_eq!(back.public(), k.public());
            let p = PublicKey::read(&pubp).unwrap();
            assert_eq!(p.algorithm(), alg);
            let sig = k.sign(b"msg");
            assert_eq!(sig, k.sign(b"msg"), "RFC 6979: deterministic");
            assert!(p.verify_strict(b"msg", &sig));
            assert!(!p.verify_strict(b"msh", &sig));
            assert!(!p.verify_strict(b"msg", &sig[..sig.len() - 1]));
        }
    }

    #[test]
    fn wrong_kinds_are_named_with_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        let k = PrivateKey::from_seed(&[1; 32]);
        let pubp = k.write_pair(&d.path().join("k")).unwrap();
        let e = PrivateKey::read(&pubp).unwrap_err().to_string();
        assert!(
            e.contains("this is a public key (SPKI PEM); signing needs the private key"),
            "{e}"
        );
        let e = PublicKey::read(&d.path().join("k"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("this is a private key; give the public key here"),
            "{e}"
        );
        fs::write(
            d.path().join("junk"),
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        assert!(matches!(
            PublicKey::read(&d.path().join("junk")),
            Err(KeyError::Invalid { .. })
        ));
        // The private key's bytes never appear in an error.
        let text = fs::read_to_string(d.path().join("k")).unwrap();
        let body = text.lines().nth(1).unwrap();
        let broken = text.replace(body, &format!("XX{}", &body[2..]));
        let e = PrivateKey::from_pem(&broken, Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains(&text.lines().nth(1).unwrap()[8..]), "{e}");
    }

    /// White space around a PEM line is SP, HT and CR (spec/attestation.md, "Keys"): a line
    /// with other Unicode white space around it (a no-break space, a form feed, an ideographic
    /// space, a line tabulation) is text, so the key is not a public key, as it is not in an
    /// implementation that follows the spec.
    #[test]
    fn pem_lines_lose_only_sp_ht_and_cr() {
        let pem = PrivateKey::from_seed(&[1; 32]).public().to_pem();
        let indented: String = pem.lines().map(|l| format!(" \t{l} \r\n")).collect();
        assert!(PublicKey::from_pem(&format!("{indented} \n\t\n"), Path::new("k")).is_ok());
        for ws in ["\u{a0}", "\u{c}", "\u{b}", "\u{3000}", "\u{85}", "\u{2028}"] {
            let around: String = pem.lines().map(|l| format!("{ws}{l}{ws}\n")).collect();
            assert!(
                PublicKey::from_pem(&around, Path::new("k")).is_err(),
                "{ws:?} around each line"
            );
            assert!(
                PublicKey::from_pem(&format!("{pem}{ws}\n"), Path::new("k")).is_err(),
                "{ws:?} on a line after the END line"
            );
        }
    }

    #[test]
    fn ed25519_keys_decode_as_rfc_8032_says() {
        // y >= p (here p + 2 ... p + 18, reduced by the library) and x = 0 with the sign bit
        // set are not encodings of a point (RFC 8032, 5.1.3).
        let mut noncanonical = 0;
        for j in 0u8..=18 {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + j;
            b[31] = 0x7f;
            if ed25519_dalek::VerifyingKey::from_bytes(&b).is_ok() {
                noncanonical += 1;
                assert!(PublicKey::from_bytes(&b).is_none(), "y = p + {j}");
            }
        }
        assert!(noncanonical > 0);
        let mut identity_negative = [0u8; 32];
        identity_negative[0] = 1;
        identity_negative[31] = 0x80;
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&identity_negative).is_ok());
        assert!(PublicKey::from_bytes(&identity_negative).is_none());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_bytes(&identity).is_some());
    }

    #[test]
    fn strict_verification() {
        let k = PrivateKey::from_seed(&[3; 32]);
        let sig = k.sign(b"msg");
        assert!(k.public().verify_strict(b"msg", &sig));
        assert!(!k.public().verify_strict(b"msh", &sig));
        assert!(!k.public().verify_strict(b"msg", &sig[..63]));
    }
}
