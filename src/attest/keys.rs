//! ed25519 keys in the ecosystem's own formats (spec/attestation.md, "Keys"): private keys as
//! PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, what `openssl genpkey -algorithm ed25519`
//! writes), public keys as SPKI PEM (`-----BEGIN PUBLIC KEY-----`). A key id is the lowercase
//! hex SHA-256 of the public key's SPKI DER encoding. Private key material is never part of
//! an error message or a `Debug` rendering.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::Digest as _;

/// Largest key file read.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Why a key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: expected {expected}, found {found}", path.display())]
    WrongKind {
        path: PathBuf,
        expected: &'static str,
        found: String,
    },
    #[error("{}: not a valid ed25519 {kind} ({detail})", path.display())]
    Invalid {
        path: PathBuf,
        kind: &'static str,
        detail: String,
    },
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

/// What kind of PEM block a text holds, by its label.
fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

fn read_text(path: &Path) -> Result<String, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = fs::File::open(path).map_err(io)?;
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_KEY_FILE), &mut s).map_err(io)?;
    Ok(s)
}

/// An ed25519 public key and its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: String,
}

impl PublicKey {
    pub fn from_verifying_key(key: VerifyingKey) -> PublicKey {
        let der = key
            .to_public_key_der()
            .expect("an ed25519 key encodes as SPKI");
        let id = crate::digest::hex(&sha2::Sha256::digest(der.as_bytes()));
        PublicKey { key, id }
    }

    /// Parses SPKI PEM text; `origin` names it in errors.
    pub fn from_pem(text: &str, origin: &Path) -> Result<PublicKey, KeyError> {
        match pem_label(text) {
            Some("PUBLIC KEY") => {}
            Some(other) => {
                return Err(KeyError::WrongKind {
                    path: origin.to_path_buf(),
                    expected: "a public key (SPKI PEM, BEGIN PUBLIC KEY)",
                    found: format!("a PEM block labelled {other:?}"),
                })
            }
            None => {
                return Err(KeyError::WrongKind {
                    path: origin.to_path_buf(),
                    expected: "a public key (SPKI PEM, BEGIN PUBLIC KEY)",
                    found: "no PEM block".into(),
                })
            }
        }
        let key = VerifyingKey::from_public_key_pem(text).map_err(|e| KeyError::Invalid {
            path: origin.to_path_buf(),
            kind: "public key",
            detail: e.to_string(),
        })?;
        Ok(PublicKey::from_verifying_key(key))
    }

    /// The key with these raw 32 bytes, if they are a valid ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<PublicKey> {
        VerifyingKey::from_bytes(bytes)
            .ok()
            .map(PublicKey::from_verifying_key)
    }

    /// Reads an SPKI PEM file.
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        PublicKey::from_pem(&read_text(path)?, path)
    }

    /// The key id: lowercase hex SHA-256 of the SPKI DER encoding.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .expect("an ed25519 key encodes as SPKI PEM")
    }

    /// The raw 32-byte key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// `verify_strict`: rejects non-canonical and small-order (malleable) signatures.
    pub fn verify_strict(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(sig))
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

/// An ed25519 private key. Its `Debug` shows only the key id.
pub struct PrivateKey {
    key: SigningKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public().id())
    }
}

impl PrivateKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(PrivateKey::from_seed(&seed))
    }

    /// The key with this 32-byte seed (RFC 8032 private key). Used for fixed test vectors.
    pub fn from_seed(seed: &[u8; 32]) -> PrivateKey {
        PrivateKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Parses PKCS#8 PEM text; `origin` names it in errors (never the key's content).
    pub fn from_pem(text: &str, origin: &Path) -> Result<PrivateKey, KeyError> {
        match pem_label(text) {
            Some("PRIVATE KEY") => {}
            found => {
                return Err(KeyError::WrongKind {
                    path: origin.to_path_buf(),
                    expected: "a private key (PKCS#8 PEM, BEGIN PRIVATE KEY)",
                    found: match found {
                        Some("PUBLIC KEY") => "a public key".into(),
                        Some(other) => format!("a PEM block labelled {other:?}"),
                        None => "no PEM block".into(),
                    },
                })
            }
        }
        let key = SigningKey::from_pkcs8_pem(text).map_err(|_| KeyError::Invalid {
            path: origin.to_path_buf(),
            kind: "private key",
            detail: "PKCS#8 decoding failed".into(),
        })?;
        Ok(PrivateKey { key })
    }

    /// Reads a PKCS#8 PEM file.
    pub fn read(path: &Path) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pem(&read_text(path)?, path)
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::from_verifying_key(self.key.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
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
        // PKCS#8 v1 (the seed only), as `openssl genpkey` writes it: OpenSSL and Python's
        // cryptography reject the v2 form that also embeds the public key.
        let v1 = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        };
        let pem = v1
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an ed25519 key encodes as PKCS#8");
        write_new(path, pem.as_bytes(), 0o600)?;
        write_new(&pub_path, self.public().to_pem().as_bytes(), 0o644)?;
        Ok(pub_path)
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

/// Reads either kind of key file and returns its public key (for `key id`).
pub fn read_any_public(path: &Path) -> Result<PublicKey, KeyError> {
    let text = read_text(path)?;
    match pem_label(&text) {
        Some("PRIVATE KEY") => Ok(PrivateKey::from_pem(&text, path)?.public()),
        _ => PublicKey::from_pem(&text, path),
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
        assert_eq!(format!("{k:?}"), format!("PrivateKey({})", k.public().id()));
    }

    #[test]
    fn wrong_kinds_are_named() {
        let d = tempfile::tempdir().unwrap();
        let k = PrivateKey::from_seed(&[1; 32]);
        let pubp = k.write_pair(&d.path().join("k")).unwrap();
        match PrivateKey::read(&pubp) {
            Err(KeyError::WrongKind { found, .. }) => assert_eq!(found, "a public key"),
            other => panic!("{other:?}"),
        }
        match PublicKey::read(&d.path().join("k")) {
            Err(KeyError::WrongKind { found, .. }) => {
                assert_eq!(found, "a PEM block labelled \"PRIVATE KEY\"")
            }
            other => panic!("{other:?}"),
        }
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

    #[test]
    fn strict_verification() {
        let k = PrivateKey::from_seed(&[3; 32]);
        let sig = k.sign(b"msg");
        assert!(k.public().verify_strict(b"msg", &sig));
        assert!(!k.public().verify_strict(b"msh", &sig));
    }
}
