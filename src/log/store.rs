//! A log directory (spec/log.md, "Log directory"): what a static web server serves —
//! `checkpoint`, `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]` (C2SP tlog-tiles) —
//! and, in `.weightseal-log/`, what only the log's operator keeps: the origin, every stored
//! hash (`hashes`, 32 bytes each, in stored-hash-index order), the lock serialising writers,
//! and the last size each witness cosigned.
//!
//! The checkpoint is the commit point. `add` truncates whatever a crash left past the
//! checkpoint's size, appends the new hashes, writes the new tiles (each file written whole
//! and renamed into place), asks the witnesses, and only then replaces the checkpoint: a crash
//! at any moment leaves the previous checkpoint and everything it commits to, and the next
//! `add` goes on from there. Writers hold an exclusive lock for the whole operation.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signed_note::Note;
use tlog_tiles::{Checkpoint, Hash, HashReader, HASH_SIZE};

use super::keys::{LogSigner, VerifierKey};
use super::{io, tile_path, LogError, TILE_WIDTH};
use crate::attest::PrivateKey;

/// The operator's private directory inside a log directory.
pub const PRIVATE_DIR: &str = ".weightseal-log";
/// Largest checkpoint read.
pub const MAX_CHECKPOINT_LEN: u64 = 1 << 20;

/// A log directory.
pub struct LogDir {
    root: PathBuf,
}

/// What an `add` did.
#[derive(Clone, Debug)]
pub struct Added {
    /// The index of the first entry added.
    pub first: u64,
    /// The new checkpoint (a signed note, with the cosignatures obtained).
    pub checkpoint: Vec<u8>,
    pub size: u64,
    /// Witnesses that did not cosign, and why: each its URL (credentials redacted) and the
    /// reason.
    pub witness_failures: Vec<String>,
}

/// The hashes file as a [`HashReader`], with hashes appended in memory on top.
struct Hashes<'a> {
    file: &'a File,
    on_disk: u64,
    overlay: Vec<Hash>,
}

impl HashReader for Hashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                if i >= self.on_disk {
                    return self
                        .overlay
                        .get((i - self.on_disk) as usize)
                        .copied()
                        .ok_or(tlog_tiles::Error::IndexesNotInTree);
                }
                let mut b = [0u8; HASH_SIZE];
                self.file
                    .read_exact_at(&mut b, i * HASH_SIZE as u64)
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
                Ok(Hash(b))
            })
            .collect()
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    write_atomic_noting(path, bytes, &mut BTreeSet::new())
}

/// [`write_atomic`], adding to `dirty` every directory whose entries it changed (the file's
/// own, and the parent of each directory it had to create): the file's bytes are synced
/// before its rename, the renames and the new directories only once [`sync_dirs`] has synced
/// those.
fn write_atomic_noting(
    path: &Path,
    bytes: &[u8],
    dirty: &mut BTreeSet<PathBuf>,
) -> Result<(), LogError> {
    if let Some(d) = path.parent() {
        let mut missing = d;
        while !missing.as_os_str().is_empty() && !missing.exists() {
            if let Some(up) = missing.parent() {
                dirty.insert(up.to_path_buf());
                missing = up;
            } else {
                break;
            }
        }
        std::fs::create_dir_all(d).map_err(io(d))?;
        dirty.insert(d.to_path_buf());
    }
    crate::fsutil::write_atomic(path, bytes, 0o644).map_err(io(path))
}

/// fsyncs each directory of `dirs` (their entries: renames, new files and directories).
fn sync_dirs(dirs: &BTreeSet<PathBuf>) -> Result<(), LogError> {
    for d in dirs {
        File::open(d).and_then(|f| f.sync_all()).map_err(io(d))?;
    }
    Ok(())
}

/// A checkpoint note for `origin` at `size` with root `hash`, signed by `signer`.
pub fn sign_checkpoint(signer: &LogSigner, size: u64, hash: Hash) -> Result<Note, LogError> {
    let cp = Checkpoint::new(signed_note::Signer::name(signer), size, hash, "")
        .map_err(|e| LogError::Checkpoint(e.to_string()))?;
    let mut note =
        Note::new(&cp.to_bytes(), &[]).map_err(|e| LogError::Checkpoint(e.to_string()))?;
    note.add_sigs(&[signer])
        .map_err(|e| LogError::Checkpoint(e.to_string()))?;
    Ok(note)
}

/// Checks every signature line of the note `bytes` whose name and key id are `key`'s: each
/// MUST verify over the note's text (spec/log.md, "Verifying a release's proof", steps 2-3).
/// A line that does not fails the note even when another line by the same key verifies (the
/// `signed_note` crate, like Go's `note`, checks only the first line per key).
pub(crate) fn every_line_verifies(bytes: &[u8], key: &VerifierKey) -> Result<(), LogError> {
    use signed_note::Verifier as _;
    let bad = || LogError::Checkpoint("not a signed note".into());
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let (body, sigs) = text.rsplit_once("\n\n").ok_or_else(bad)?;
    let body = format!("{body}\n");
    for line in sigs.strip_suffix('\n').ok_or_else(bad)?.split('\n') {
        let sig = signed_note::Signature::from_bytes(line.as_bytes()).map_err(|_| bad())?;
        if sig.name() == key.name
            && sig.id() == key.id()
            && !key.verify(body.as_bytes(), sig.signature())
        {
            return Err(LogError::Checkpoint(format!(
                "a signature line by {key} does not verify"
            )));
        }
    }
    Ok(())
}

/// Reads a checkpoint note (bounded) and checks its log signature under `log`: the note, the
/// checkpoint it holds, and its cosignature lines (unverified here). Every line by the log key
/// must verify (`every_line_verifies`), and the checkpoint must carry no extension line
/// (weightseal logs write none; spec/log.md, "Log directory").
pub fn open_checkpoint(bytes: &[u8], log: &VerifierKey) -> Result<(Note, Checkpoint), LogError> {
    if bytes.len() as u64 > MAX_CHECKPOINT_LEN {
        return Err(LogError::Checkpoint("longer than 1 MiB".into()));
    }
    let note = Note::from_bytes(bytes).map_err(|e| LogError::Checkpoint(e.to_string()))?;
    let known = signed_note::VerifierList::new(vec![Box::new(log.clone())]);
    note.verify(&known).map_err(|e| match e {
        signed_note::NoteError::UnverifiedNote => {
            LogError::Checkpoint(format!("not signed by the log key {}", log))
        }
        e => LogError::Checkpoint(e.to_string()),
    })?;
    let cp =
        Checkpoint::from_bytes(note.text()).map_err(|e| LogError::Checkpoint(e.to_string()))?;
    every_line_verifies(bytes, log)?;
    if !cp.extension().is_empty() {
        return Err(LogError::Checkpoint(
            "it carries extension lines, which a weightseal log never writes".into(),
        ));
    }
    if cp.origin() != log.name {
        return Err(LogError::Checkpoint(format!(
            "its origin is {:?}, the log key is {:?}'s",
            cp.origin(),
            log.name
        )));
    }
    Ok((note, cp))
}

impl LogDir {
    pub fn new(root: &Path) -> LogDir {
        LogDir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn private(&self, name: &str) -> PathBuf {
        self.root.join(PRIVATE_DIR).join(name)
    }

    /// The log's origin (its name in checkpoints).
    pub fn origin(&self) -> Result<String, LogError> {
        let p = self.private("origin");
        let s = std::fs::read_to_string(&p).map_err(io(&p))?;
        Ok(s.trim_end_matches('\n').to_string())
    }

    /// Creates an empty log named `origin`, signed by `key`; returns its verifier key.
    pub fn init(&self, origin: &str, key: Arc<PrivateKey>) -> Result<VerifierKey, LogError> {
        if self.root.join("checkpoint").exists() {
            return Err(LogError::Usage(format!(
                "{} already holds a log (its checkpoint exists)",
                self.root.display()
            )));
        }
        let signer = LogSigner::log(origin, key)?;
        let dir = self.root.join(PRIVATE_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        write_atomic(&self.private("origin"), format!("{origin}\n").as_bytes())?;
        File::create(self.private("hashes")).map_err(io(&self.private("hashes")))?;
        let note = sign_checkpoint(&signer, 0, tlog_tiles::EMPTY_HASH)?;
        write_atomic(&self.root.join("checkpoint"), &note.to_bytes())?;
        Ok(signer.verifier().clone())
    }

    /// The current checkpoint's bytes.
    pub fn checkpoint_bytes(&self) -> Result<Vec<u8>, LogError> {
        let p = self.root.join("checkpoint");
        let f = File::open(&p).map_err(io(&p))?;
        let mut b = Vec::new();
        f.take(MAX_CHECKPOINT_LEN + 1)
            .read_to_end(&mut b)
            .map_err(io(&p))?;
        Ok(b)
    }

    /// The current checkpoint, checked under the log's own key.
    pub fn checkpoint(&self, log: &VerifierKey) -> Result<(Note, Checkpoint), LogError> {
        open_checkpoint(&self.checkpoint_bytes()?, log)
    }

    fn lock(&self) -> Result<File, LogError> {
        let p = self.private("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io(&p)(e.into()))?;
        Ok(f)
    }

    /// Appends `entries` (each at most 65535 bytes), writes their tiles and a new checkpoint
    /// signed by `key`, cosigned by whichever of `witnesses` agree. Serialised with every other
    /// writer of this directory.
    pub fn add(
        &self,
        key: Arc<PrivateKey>,
        entries: &[Vec<u8>],
        witnesses: &[super::client::WitnessClient],
    ) -> Result<Added, LogError> {
        let _lock = self.lock()?;
        let origin = self.origin()?;
        let signer = LogSigner::log(&origin, key)?;
        let (_, cp) = self.checkpoint(signer.verifier())?;
        let old = cp.size();
        let hp = self.private("hashes");
        let hashes_file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&hp)
            .map_err(io(&hp))?;
        // Whatever a crash left past the checkpoint is not part of the log.
        let committed = tlog_tiles::stored_hash_count(old);
        hashes_file
            .set_len(committed * HASH_SIZE as u64)
            .map_err(io(&hp))?;
        let mut reader = Hashes {
            file: &hashes_file,
            on_disk: committed,
            overlay: Vec::new(),
        };
        for (i, e) in entries.iter().enumerate() {
            if e.len() > super::entry::MAX_ENTRY_LEN {
                return Err(LogError::Entry(format!(
                    "entry {} is {} bytes, more than 65535",
                    i + 1,
                    e.len()
                )));
            }
            let new = tlog_tiles::stored_hashes(old + i as u64, e, &reader)
                .map_err(|e| LogError::Tree(format!("hashing entry {}: {e}", old + i as u64)))?;
            reader.overlay.extend(new);
        }
        let size = old + entries.len() as u64;
        let root = tlog_tiles::tree_hash(size, &reader)
            .map_err(|e| LogError::Tree(format!("the root of {size}: {e}")))?;
        // Tiles first (hash tiles from the stored hashes, entry bundles from the entries),
        // durable (their bytes, and the directory entries that name them) before the
        // checkpoint that commits to them.
        let mut dirty = BTreeSet::new();
        let filled = self.write_tiles(&reader, old, size, entries, &mut dirty)?;
        sync_dirs(&dirty)?;
        let mut out = Vec::with_capacity(reader.overlay.len() * HASH_SIZE);
        for h in &reader.overlay {
            out.extend_from_slice(&h.0);
        }
        hashes_file
            .write_all_at(&out, committed * HASH_SIZE as u64)
            .map_err(io(&hp))?;
        hashes_file.sync_data().map_err(io(&hp))?;
        let mut note = sign_checkpoint(&signer, size, root)?;
        let mut witness_failures = Vec::new();
        if !witnesses.is_empty() {
            let state_path = self.private("witnesses.json");
            let mut state: std::collections::BTreeMap<String, u64> = std::fs::read(&state_path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            // Every witness at once: a slow or silent one costs one request's timeout, not one
            // per witness, and never delays the others' cosignatures.
            let answers: Vec<Result<signed_note::Signature, String>> = std::thread::scope(|s| {
                let asks: Vec<_> = witnesses
                    .iter()
                    .map(|w| {
                        let last = state.get(&w.vkey.to_string()).copied().unwrap_or(0);
                        let (note, reader) = (&note, &reader);
                        s.spawn(move || {
                            w.cosign(note, last, size, &|from| {
                                tlog_tiles::prove_tree(size, from, reader)
                                    .map_err(|e| e.to_string())
                            })
                        })
                    })
                    .collect();
                asks.into_iter()
                    .map(|a| {
                        a.join()
                            .unwrap_or_else(|_| Err("asking it failed unexpectedly".to_string()))
                    })
                    .collect()
            });
            for (w, answer) in witnesses.iter().zip(answers) {
                match answer {
                    Ok(sig) => {
                        let mut sigs = parsed_sigs(&note)?;
                        sigs.push(sig);
                        note = Note::new(note.text(), &sigs)
                            .map_err(|e| LogError::Checkpoint(e.to_string()))?;
                        state.insert(w.vkey.to_string(), size);
                    }
                    // The URL may carry a user name and password (`--witness
                    // http://user:pass@host/...`): never in a message.
                    Err(e) => witness_failures.push(format!(
                        "{}: {}",
                        crate::net::redact_url(&w.url),
                        crate::net::redact(&e)
                    )),
                }
            }
            write_atomic(
                &state_path,
                &serde_json::to_vec(&state).expect("a map serializes"),
            )?;
        }
        let bytes = note.to_bytes();
        // The commit point.
        let cpath = self.root.join("checkpoint");
        let tmp = self.private("checkpoint.tmp");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &cpath).map_err(io(&cpath))?;
        // The rename is the commit: durable before anyone is told the entries are logged.
        File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.root))?;
        // The partial tiles of the tiles this append filled are no longer needed: the full tile
        // holds the same first hashes and entries (C2SP tlog-tiles lets a log delete them, and
        // readers fall back to the full tile). Without this every batch's partial tiles stay
        // forever (about 7 KB per entry when submissions come one by one). A failure here
        // leaves files that only cost space.
        for d in filled {
            let _ = std::fs::remove_dir_all(&d);
        }
        Ok(Added {
            first: old,
            checkpoint: bytes,
            size,
            witness_failures,
        })
    }

    /// Writes every tile that the entries `old..size` create or extend; returns the partial
    /// tile directories (`<N>.p/`) of the tiles this filled.
    fn write_tiles(
        &self,
        r: &Hashes<'_>,
        old: u64,
        size: u64,
        entries: &[Vec<u8>],
        dirty: &mut BTreeSet<PathBuf>,
    ) -> Result<Vec<PathBuf>, LogError> {
        let mut filled = Vec::new();
        let mut fill = |full: String, was_partial: bool| {
            if was_partial {
                filled.push(self.root.join(format!("{full}.p")));
            }
        };
        if size == old {
            return Ok(filled);
        }
        // Entry bundles: the tiles N covering old..size, each with all its entries so far.
        let mut n = old / TILE_WIDTH;
        while n * TILE_WIDTH < size {
            let start = n * TILE_WIDTH;
            let end = (start + TILE_WIDTH).min(size);
            let mut bundle = Vec::new();
            if start < old {
                // The earlier entries of this tile, from the partial bundle already published.
                let prev = self.root.join(tile_path(None, n, old - start));
                let b = std::fs::read(&prev).map_err(io(&prev))?;
                bundle.extend_from_slice(&b);
            }
            for i in start.max(old)..end {
                let e = &entries[(i - old) as usize];
                bundle.extend_from_slice(&(e.len() as u16).to_be_bytes());
                bundle.extend_from_slice(e);
            }
            write_atomic_noting(
                &self.root.join(tile_path(None, n, end - start)),
                &bundle,
                dirty,
            )?;
            if end - start == TILE_WIDTH {
                fill(tile_path(None, n, TILE_WIDTH), start < old);
            }
            n += 1;
        }
        // Hash tiles, level by level: level L holds the tree's hashes at height 8L.
        let mut level: u8 = 0;
        loop {
            let height = level * super::TILE_HEIGHT;
            let count = size >> height;
            let old_count = old >> height;
            if count == 0 || count == old_count && level > 0 {
                break;
            }
            let mut n = old_count / TILE_WIDTH;
            while n * TILE_WIDTH < count {
                let start = n * TILE_WIDTH;
                let end = (start + TILE_WIDTH).min(count);
                let idx: Vec<u64> = (start..end)
                    .map(|i| tlog_tiles::stored_hash_index(height, i))
                    .collect();
                let hs = r
                    .read_hashes(&idx)
                    .map_err(|e| LogError::Tree(format!("tile {level}/{n}: {e}")))?;
                let mut data = Vec::with_capacity(hs.len() * HASH_SIZE);
                for h in hs {
                    data.extend_from_slice(&h.0);
                }
                write_atomic_noting(
                    &self.root.join(tile_path(Some(level), n, end - start)),
                    &data,
                    dirty,
                )?;
                if end - start == TILE_WIDTH {
                    fill(tile_path(Some(level), n, TILE_WIDTH), start < old_count);
                }
                n += 1;
            }
            level += 1;
            if level > 7 {
                break;
            }
        }
        Ok(filled)
    }

    /// The proof that entry `index` is in the tree of the current checkpoint.
    pub fn proof(&self, index: u64, entry: &[u8]) -> Result<super::TlogProof, LogError> {
        let mut one = self.proofs(index, std::slice::from_ref(&entry.to_vec()))?;
        Ok(one.remove(0))
    }

    /// The proofs of `entries`, appended at `first, first + 1, …`, each in the tree of the
    /// current checkpoint (read once for them all).
    pub fn proofs(
        &self,
        first: u64,
        entries: &[Vec<u8>],
    ) -> Result<Vec<super::TlogProof>, LogError> {
        let checkpoint = self.checkpoint_bytes()?;
        let note =
            Note::from_bytes(&checkpoint).map_err(|e| LogError::Checkpoint(e.to_string()))?;
        let cp =
            Checkpoint::from_bytes(note.text()).map_err(|e| LogError::Checkpoint(e.to_string()))?;
        let hp = self.private("hashes");
        let f = File::open(&hp).map_err(io(&hp))?;
        let r = Hashes {
            file: &f,
            on_disk: tlog_tiles::stored_hash_count(cp.size()),
            overlay: Vec::new(),
        };
        entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let index = first + i as u64;
                let hashes = tlog_tiles::prove_record(cp.size(), index, &r).map_err(|e| {
                    LogError::Tree(format!("the proof of entry {index} in {}: {e}", cp.size()))
                })?;
                Ok(super::TlogProof {
                    extra: Some(entry.to_vec()),
                    index,
                    hashes,
                    checkpoint: checkpoint.clone(),
                })
            })
            .collect()
    }

    /// The entries `from..to` of the log, read from its entry bundles.
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, LogError> {
        let mut out = Vec::new();
        let mut n = from / TILE_WIDTH;
        while n * TILE_WIDTH < to {
            let start = n * TILE_WIDTH;
            let p = self.root.join(tile_path(None, n, TILE_WIDTH));
            let p = if p.exists() {
                p
            } else {
                self.root.join(tile_path(None, n, to - start))
            };
            let b = std::fs::read(&p).map_err(io(&p))?;
            let all = split_bundle(&b)?;
            for (i, e) in all.into_iter().enumerate() {
                let idx = start + i as u64;
                if idx >= from && idx < to {
                    out.push(e);
                }
            }
            n += 1;
        }
        Ok(out)
    }
}

/// The signature lines of a note, as parsed signatures.
pub fn parsed_sigs(note: &Note) -> Result<Vec<signed_note::Signature>, LogError> {
    let bytes = note.to_bytes();
    let text_len = note.text().len() + 1;
    let sigs = &bytes[text_len..];
    std::str::from_utf8(sigs)
        .map_err(|_| LogError::Checkpoint("signature lines are not UTF-8".into()))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            signed_note::Signature::from_bytes(l.as_bytes())
                .map_err(|e| LogError::Checkpoint(e.to_string()))
        })
        .collect()
}

/// The entries of an entry bundle: each a big-endian 16-bit length and that many bytes.
pub fn split_bundle(b: &[u8]) -> Result<Vec<Vec<u8>>, LogError> {
    Ok(bundle_ranges(b)?
        .into_iter()
        .map(|r| b[r].to_vec())
        .collect())
}

/// The byte ranges of the entries of an entry bundle (each after its 2-byte big-endian
/// length), at most 256.
pub fn bundle_ranges(b: &[u8]) -> Result<Vec<std::ops::Range<usize>>, LogError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        let Some(len) = b.get(at..at + 2) else {
            return Err(LogError::Entry(
                "an entry bundle ends inside a length".into(),
            ));
        };
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        if b.len() - (at + 2) < len {
            return Err(LogError::Entry(
                "an entry bundle ends inside an entry".into(),
            ));
        }
        out.push(at + 2..at + 2 + len);
        at += 2 + len;
        if out.len() > TILE_WIDTH as usize {
            return Err(LogError::Entry(
                "an entry bundle holds more than 256 entries".into(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogEntry, LogPolicy};

    fn entry(i: u64) -> LogEntry {
        LogEntry {
            model: format!("org/m{}", i % 7),
            manifest: crate::Digest([(i % 251) as u8; 32]),
            version: Some(i),
            attestations: vec![],
        }
    }

    #[test]
    fn adds_in_batches_proves_every_entry_and_survives_a_torn_add() {
        let d = tempfile::tempdir().unwrap();
        let log = LogDir::new(d.path());
        let key = Arc::new(PrivateKey::from_seed(&[5; 32]));
        let vkey = log.init("example.org/log", key.clone()).unwrap();
        let mut all = Vec::new();
        for batch in [1usize, 255, 300, 1] {
            let es: Vec<Vec<u8>> = (all.len()..all.len() + batch)
                .map(|i| entry(i as u64).encode())
                .collect();
            let added = log.add(key.clone(), &es, &[]).unwrap();
            assert_eq!(added.first, all.len() as u64);
            all.extend(es);
        }
        let (_, cp) = log.checkpoint(&vkey).unwrap();
        assert_eq!(cp.size(), 557);
        let policy = LogPolicy::new(vkey.clone(), vec![], 0).unwrap();
        for i in [0u64, 1, 255, 256, 300, 556] {
            let p = log.proof(i, &all[i as usize]).unwrap();
            let back = crate::log::TlogProof::parse(&p.encode()).unwrap();
            let e = entry(i);
            back.verify(&policy, &e.model, e.manifest).unwrap();
            // Another release's name or digest: refused.
            assert!(back.verify(&policy, "org/other", e.manifest).is_err());
        }
        assert_eq!(log.entries(250, 260).unwrap(), all[250..260].to_vec());
        assert!(d.path().join("tile/0/000").exists() && d.path().join("tile/0/002.p/45").exists());
        assert!(d.path().join("tile/1/000.p/2").exists());
        assert!(d.path().join("tile/entries/001").exists());
        // A torn add: hashes appended past the checkpoint, no checkpoint written.
        let hp = d.path().join(PRIVATE_DIR).join("hashes");
        let mut f = OpenOptions::new().append(true).open(&hp).unwrap();
        f.write_all(&[9u8; 32 * 5]).unwrap();
        drop(f);
        let es = vec![entry(557).encode()];
        log.add(key.clone(), &es, &[]).unwrap();
        all.extend(es);
        let p = log.proof(557, &all[557]).unwrap();
        p.verify(&policy, &entry(557).model, entry(557).manifest)
            .unwrap();
        let p = log.proof(3, &all[3]).unwrap();
        p.verify(&policy, &entry(3).model, entry(3).manifest)
            .unwrap();
    }
}
