//! The offline proof that a release is in the log (C2SP tlog-proof@v1), kept beside the
//! release as `weightseal.tlog-proof`:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the release's log entry>
//! index <decimal>
//! <base64 hash>            (the RFC 6962 inclusion proof, leaf's sibling first)
//!
//! <the checkpoint, verbatim, with the log's signature and the witnesses' cosignatures>
//! ```
//!
//! The entry rides in `extra` (unauthenticated until its hash is proved included), so that a
//! release whose attestations changed since it was logged (an auditor countersigned later)
//! still proves that its manifest was logged under its name.

use base64::Engine as _;
use serde::Serialize;
use signed_note::Note;
use tlog_tiles::{Checkpoint, Hash};

use super::entry::LogEntry;
use super::keys::VerifierKey;
use super::store::open_checkpoint;
use super::LogError;
use crate::digest::Digest;

/// The first line of a proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest proof read (a checkpoint of 1 MiB, 64 hashes, an entry).
pub const MAX_PROOF_LEN: usize = (1 << 20) + (1 << 17);
/// The proof file beside a release.
pub const PROOF_FILE: &str = "weightseal.tlog-proof";

/// A parsed proof.
#[derive(Clone, Debug, PartialEq)]
pub struct TlogProof {
    /// The logged entry (the `extra` line).
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub hashes: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

/// What a verifier demands of a proof: the log's key, and cosignatures by at least `quorum`
/// of `witnesses`. Made only by [`LogPolicy::new`], which holds every rule of the requirement,
/// so no caller can skip one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPolicy {
    log: VerifierKey,
    witnesses: Vec<VerifierKey>,
    quorum: usize,
}

impl LogPolicy {
    /// A requirement: the log's key (type 0x01), witnesses' keys (type 0x04), and a quorum of
    /// at most the witnesses given. A witness key may be listed once: the same public key under
    /// a second name (a cosignature/v1 signature does not cover the name, so it could be shown
    /// under both) or the log's own key as a witness is refused, so `quorum` always counts
    /// distinct keys.
    pub fn new(
        log: VerifierKey,
        witnesses: Vec<VerifierKey>,
        quorum: usize,
    ) -> Result<LogPolicy, LogError> {
        if log.is_cosigner() {
            return Err(LogError::Key(format!(
                "{log} is a witness's key (type 0x04), not a log's (type 0x01)"
            )));
        }
        if let Some(w) = witnesses.iter().find(|w| !w.is_cosigner()) {
            return Err(LogError::Key(format!(
                "{w} is not a witness's cosignature/v1 key (type 0x04)"
            )));
        }
        if let Some(w) = witnesses.iter().find(|w| w.key == log.key) {
            return Err(LogError::Key(format!(
                "the witness {w} has the log's own public key: a log cannot witness itself"
            )));
        }
        for (i, w) in witnesses.iter().enumerate() {
            if let Some(first) = witnesses[..i].iter().find(|x| x.key == w.key) {
                return Err(LogError::Key(format!(
                    "the witnesses {first} and {w} have the same public key: each witness counts once, list it once"
                )));
            }
        }
        if quorum > witnesses.len() {
            return Err(LogError::Key(format!(
                "a quorum of {quorum} with {} witness(es)",
                witnesses.len()
            )));
        }
        Ok(LogPolicy {
            log,
            witnesses,
            quorum,
        })
    }

    /// The log's verifier key.
    pub fn log(&self) -> &VerifierKey {
        &self.log
    }

    /// The witnesses whose cosignatures count.
    pub fn witnesses(&self) -> &[VerifierKey] {
        &self.witnesses
    }

    /// How many distinct witnesses must have cosigned.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Opens a checkpoint as this requirement demands (spec/log.md, "Verifying a release's
    /// proof", steps 2-3): signed by the log key, its origin the log key's name, and cosigned by
    /// at least `quorum` distinct witnesses (a configured witness's line that does not verify
    /// fails it). Returns the checkpoint and the witnesses (`name+id`) whose cosignatures count.
    pub fn open(&self, checkpoint: &[u8]) -> Result<(Checkpoint, Vec<String>), LogError> {
        let bad = |s: String| LogError::Proof(s);
        let (note, cp) = open_checkpoint(checkpoint, &self.log)?;
        let mut witnesses: Vec<String> = Vec::new();
        for w in &self.witnesses {
            super::store::every_line_verifies(checkpoint, w)
                .map_err(|e| bad(format!("a witness cosignature does not verify: {e}")))?;
        }
        if !self.witnesses.is_empty() {
            let known = signed_note::VerifierList::new(
                self.witnesses
                    .iter()
                    .map(|w| Box::new(w.clone()) as Box<dyn signed_note::Verifier>)
                    .collect(),
            );
            match note.verify(&known) {
                Ok((verified, _)) => {
                    // Counted by distinct public key (the policy lists each key once).
                    let mut keys: Vec<[u8; 32]> = Vec::new();
                    for s in verified {
                        let Some(w) = self
                            .witnesses
                            .iter()
                            .find(|w| w.name == s.name() && w.id() == s.id())
                        else {
                            continue;
                        };
                        if !keys.contains(&w.key) {
                            keys.push(w.key);
                            witnesses.push(format!("{}+{:08x}", s.name(), s.id()));
                        }
                    }
                }
                Err(signed_note::NoteError::UnverifiedNote) => {}
                Err(e) => return Err(bad(format!("a witness cosignature does not verify: {e}"))),
            }
        }
        if witnesses.len() < self.quorum {
            return Err(bad(format!(
                "{} of the {} required witness cosignature(s) verify",
                witnesses.len(),
                self.quorum
            )));
        }
        Ok((cp, witnesses))
    }
}

/// A proof that verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProofReport {
    pub origin: String,
    pub size: u64,
    pub index: u64,
    /// The witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    #[serde(skip)]
    pub entry: Option<LogEntry>,
}

impl TlogProof {
    pub fn encode(&self) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut s = format!("{HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", b64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&b64.encode(h.0));
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses a proof, strictly (bounded; base64 and decimals in their one form).
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, LogError> {
        let bad = |s: &str| LogError::Proof(s.to_string());
        if bytes.len() > MAX_PROOF_LEN {
            return Err(bad("longer than the 1.1 MiB a proof may be"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut next = lines.next();
        let mut extra = None;
        if let Some(e) = next.and_then(|l| l.strip_prefix("extra ")) {
            extra = Some(b64.decode(e).map_err(|_| bad("extra is not base64"))?);
            next = lines.next();
        }
        let index = next
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| bad("no index line"))?;
        if index.is_empty()
            || !index.bytes().all(|c| c.is_ascii_digit())
            || (index.len() > 1 && index.starts_with('0'))
        {
            return Err(bad("the index is not a decimal without leading zeroes"));
        }
        let index: u64 = index.parse().map_err(|_| bad("the index is too large"))?;
        let mut hashes = Vec::new();
        for l in lines {
            if hashes.len() == 64 {
                return Err(bad("more than 64 proof hashes"));
            }
            let h = b64
                .decode(l)
                .map_err(|_| bad("a proof hash is not base64"))?;
            let h: [u8; 32] = h
                .try_into()
                .map_err(|_| bad("a proof hash is not 32 bytes"))?;
            hashes.push(Hash(h));
        }
        let p = TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.as_bytes().to_vec(),
        };
        if p.encode() != bytes {
            return Err(bad("not in its one encoding"));
        }
        Ok(p)
    }

    /// The checkpoint the proof carries, read without checking any signature (a submitter
    /// checking what a log answered before it knows the log's key).
    pub fn unverified_checkpoint(&self) -> Result<Checkpoint, LogError> {
        if self.checkpoint.len() as u64 > super::store::MAX_CHECKPOINT_LEN {
            return Err(LogError::Checkpoint("longer than 1 MiB".into()));
        }
        let note =
            Note::from_bytes(&self.checkpoint).map_err(|e| LogError::Checkpoint(e.to_string()))?;
        Checkpoint::from_bytes(note.text()).map_err(|e| LogError::Checkpoint(e.to_string()))
    }

    /// Checks that `entry` (its bytes) is included at the proof's index in the tree of `cp`
    /// (spec/log.md, "Verifying a release's proof", step 5).
    pub fn check_inclusion(&self, cp: &Checkpoint, entry: &[u8]) -> Result<(), LogError> {
        check_inclusion(cp, self.index, entry, &self.hashes)
    }

    /// Verifies the proof offline, for the release `(name, digest)`: the checkpoint is signed
    /// by the policy's log key; at least `quorum` of its witnesses cosigned it; the entry in
    /// `extra` is this release's; and its leaf hash is included at `index` in the checkpoint's
    /// tree.
    pub fn verify(
        &self,
        policy: &LogPolicy,
        name: &str,
        digest: Digest,
    ) -> Result<ProofReport, LogError> {
        let bad = |s: String| LogError::Proof(s);
        let (cp, witnesses) = policy.open(&self.checkpoint)?;
        let entry_bytes = self
            .extra
            .as_deref()
            .ok_or_else(|| bad("it carries no log entry (no extra line)".into()))?;
        let entry = LogEntry::decode(entry_bytes)?;
        if entry.model != name || entry.manifest != digest {
            return Err(bad(format!(
                "it proves the entry of {:?} (manifest {}), not of this release {:?} (manifest {})",
                entry.model, entry.manifest, name, digest
            )));
        }
        self.check_inclusion(&cp, entry_bytes)?;
        Ok(ProofReport {
            origin: cp.origin().to_string(),
            size: cp.size(),
            index: self.index,
            witnesses,
            entry: Some(entry),
        })
    }
}

/// Checks that `proof` leads from the leaf hash of `entry` (RFC 6962: SHA-256(0x00 || entry))
/// at `index` to the root of the checkpoint `cp` (spec/log.md, "Verifying a release's proof",
/// step 5). Nothing a hostile proof holds makes it panic.
pub fn check_inclusion(
    cp: &Checkpoint,
    index: u64,
    entry: &[u8],
    proof: &[Hash],
) -> Result<(), LogError> {
    if index >= cp.size() {
        return Err(LogError::Proof(format!(
            "index {index} is not below the checkpoint's size {}",
            cp.size()
        )));
    }
    let leaf = tlog_tiles::record_hash(entry);
    let (hashes, size, root) = (proof.to_vec(), cp.size(), *cp.hash());
    let checked = std::panic::catch_unwind(move || {
        tlog_tiles::check_record(&hashes, size, root, index, leaf)
    });
    match checked {
        Ok(Ok(())) => Ok(()),
        _ => Err(LogError::Proof(format!(
            "the inclusion proof does not lead from entry {index} to the checkpoint's root"
        ))),
    }
}
