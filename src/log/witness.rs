//! A witness (C2SP tlog-witness, tlog-cosignature): it cosigns a log's checkpoint only after
//! checking that it is consistent with the last checkpoint it cosigned for that log, so a log
//! that shows different trees to different people cannot get both cosigned by one witness.
//!
//! Its state — per log origin, the size and root hash it last cosigned — is a JSON file,
//! replaced atomically (written, synced, renamed) before any cosignature leaves; checking the
//! old size and recording the new one happen under one lock, so two requests can never roll
//! the recorded size back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use signed_note::{Note, Signer as _};
use tlog_tiles::{Checkpoint, Hash};

use super::keys::{LogSigner, VerifierKey};
use super::{io, LogError};
use crate::attest::PrivateKey;

/// Largest add-checkpoint request body.
pub const MAX_REQUEST_LEN: usize = 1 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    size: u64,
    /// Base64 root hash.
    hash: String,
}

/// An HTTP answer: status, content type, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Answer {
    fn text(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{}\n", body.into()).into_bytes(),
        }
    }
}

/// A witness: its key and name, the logs it follows, and its state file.
pub struct Witness {
    name: String,
    key: Arc<PrivateKey>,
    logs: Vec<VerifierKey>,
    state_path: PathBuf,
    state: Mutex<BTreeMap<String, Seen>>,
}

impl Witness {
    /// Opens a witness named `name` (its cosignatures' key name) with `key`, following `logs`,
    /// its state in `state_path` (created when missing).
    pub fn open(
        name: &str,
        key: Arc<PrivateKey>,
        logs: Vec<VerifierKey>,
        state_path: &Path,
    ) -> Result<Witness, LogError> {
        LogSigner::cosigner(name, key.clone(), 0)?;
        let state = match std::fs::read(state_path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| LogError::Witness(format!("state {}: {e}", state_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(state_path)(e)),
        };
        Ok(Witness {
            name: name.to_string(),
            key,
            logs,
            state_path: state_path.to_path_buf(),
            state: Mutex::new(state),
        })
    }

    /// The witness's verifier key (type 0x04, cosignature/v1).
    pub fn verifier(&self) -> VerifierKey {
        LogSigner::cosigner(&self.name, self.key.clone(), 0)
            .expect("checked when opened")
            .verifier()
            .clone()
    }

    /// Handles `POST /add-checkpoint` with `body` at time `now` (POSIX seconds).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        if body.len() > MAX_REQUEST_LEN {
            return Answer::text(400, "request body too large");
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return Answer::text(400, "request body is not UTF-8");
        };
        let Some((head, checkpoint)) = text.split_once("\n\n") else {
            return Answer::text(400, "no empty line before the checkpoint");
        };
        let mut lines = head.split('\n');
        let old = match lines.next().and_then(|l| l.strip_prefix("old ")) {
            Some(o)
                if !o.is_empty()
                    && o.bytes().all(|c| c.is_ascii_digit())
                    && (o == "0" || !o.starts_with('0')) =>
            {
                match o.parse::<u64>() {
                    Ok(o) => o,
                    Err(_) => return Answer::text(400, "old size too large"),
                }
            }
            _ => return Answer::text(400, "the first line is not `old SIZE`"),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == 63 {
                return Answer::text(400, "more than 63 consistency proof lines");
            }
            match b64
                .decode(l)
                .ok()
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
            {
                Some(h) => proof.push(Hash(h)),
                None => return Answer::text(400, "a consistency proof line is not a base64 hash"),
            }
        }
        let Ok(note) = Note::from_bytes(checkpoint.as_bytes()) else {
            return Answer::text(400, "malformed checkpoint note");
        };
        let Ok(cp) = Checkpoint::from_bytes(note.text()) else {
            return Answer::text(400, "malformed checkpoint");
        };
        let keys: Vec<&VerifierKey> = self.logs.iter().filter(|k| k.name == cp.origin()).collect();
        if keys.is_empty() {
            return Answer::text(404, format!("unknown log {:?}", cp.origin()));
        }
        let known = signed_note::VerifierList::new(
            keys.iter()
                .map(|k| Box::new((*k).clone()) as Box<dyn signed_note::Verifier>)
                .collect(),
        );
        if note.verify(&known).is_err() {
            return Answer::text(403, "no signature by the log's key verifies");
        }
        if old > cp.size() {
            return Answer::text(400, "the old size is larger than the checkpoint's");
        }
        if old == 0 && !proof.is_empty() {
            return Answer::text(400, "a consistency proof from size 0 must be empty");
        }
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let seen = state.get(cp.origin()).cloned().unwrap_or_default();
        if old != seen.size {
            return Answer {
                status: 409,
                content_type: "text/x.tlog.size",
                body: format!("{}\n", seen.size).into_bytes(),
            };
        }
        let new_hash = b64.encode(cp.hash().0);
        if old == cp.size() {
            if old > 0 && seen.hash != new_hash {
                return Answer::text(409, "same size, another root hash: the log forked");
            }
        } else if old > 0 {
            let Some(old_hash) = b64
                .decode(&seen.hash)
                .ok()
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
            else {
                return Answer::text(500, "the witness's state is damaged");
            };
            let (size, root) = (cp.size(), *cp.hash());
            let ok = std::panic::catch_unwind(move || {
                tlog_tiles::check_tree(&proof, size, root, old, Hash(old_hash)).is_ok()
            })
            .unwrap_or(false);
            if !ok {
                return Answer::text(
                    422,
                    "the consistency proof does not verify: this tree does not extend the one cosigned before",
                );
            }
        }
        // Record, durably, before the cosignature leaves.
        let mut next = state.clone();
        next.insert(
            cp.origin().to_string(),
            Seen {
                size: cp.size(),
                hash: new_hash,
            },
        );
        let bytes = serde_json::to_vec_pretty(&next).expect("state serializes");
        if let Err(e) = crate::fsutil::write_atomic(&self.state_path, &bytes, 0o600) {
            return Answer::text(500, format!("cannot record the checkpoint: {e}"));
        }
        *state = next;
        let signer = match LogSigner::cosigner(&self.name, self.key.clone(), now) {
            Ok(s) => s,
            Err(e) => return Answer::text(500, e.to_string()),
        };
        let sig = match signer.sign(note.text()) {
            Ok(s) => s,
            Err(e) => return Answer::text(500, e.to_string()),
        };
        let mut raw = signer.key_id().to_be_bytes().to_vec();
        raw.extend(sig);
        Answer {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: format!("\u{2014} {} {}\n", self.name, b64.encode(raw)).into_bytes(),
        }
    }
}
