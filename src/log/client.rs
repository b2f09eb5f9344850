//! The client side of the log over HTTP: asking witnesses to cosign (tlog-witness
//! `add-checkpoint`), submitting a release (`POST /add`), and reading a remote log's
//! checkpoint and tiles (a monitor, a second reader of another operator's log).

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use signed_note::Note;
use tlog_tiles::Hash;

use super::entry::LogEntry;
use super::keys::VerifierKey;
use super::{LogError, TILE_WIDTH};

/// Largest body read from a request or a response.
pub const MAX_BODY: u64 = 2 << 20;
/// Largest entry bundle: 256 entries of at most 65535 bytes, each with its 2-byte length.
pub const MAX_BUNDLE: u64 = TILE_WIDTH * (super::entry::MAX_ENTRY_LEN as u64 + 2);

pub(crate) fn client(timeout: Duration) -> Result<reqwest::blocking::Client, LogError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("weightseal/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LogError::Http(e.to_string()))
}

pub(crate) fn read_body(
    r: reqwest::blocking::Response,
    url: &str,
) -> Result<(u16, String, Vec<u8>), LogError> {
    read_body_at_most(r, url, MAX_BODY)
}

/// The status, content type and body of a response, its body at most `max` bytes.
pub(crate) fn read_body_at_most(
    r: reqwest::blocking::Response,
    url: &str,
    max: u64,
) -> Result<(u16, String, Vec<u8>), LogError> {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Vec::new();
    r.take(max + 1)
        .read_to_end(&mut body)
        .map_err(|e| LogError::Http(format!("{}: {e}", crate::net::redact_url(url))))?;
    if body.len() as u64 > max {
        return Err(LogError::Http(format!(
            "{}: the response is larger than {max} bytes",
            crate::net::redact_url(url)
        )));
    }
    Ok((status, ct, body))
}

/// The first 200 characters of an error answer's body, trimmed.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// A witness a log asks for cosignatures: its URL (the submission prefix) and verifier key.
#[derive(Clone, Debug)]
pub struct WitnessClient {
    pub url: String,
    pub vkey: VerifierKey,
}

impl WitnessClient {
    /// Parses `URL=VKEY`.
    pub fn parse(s: &str) -> Result<WitnessClient, LogError> {
        let (url, vkey) = s.split_once('=').ok_or_else(|| {
            LogError::Usage(format!(
                "--witness {:?}: expected URL=VKEY",
                crate::net::redact(s)
            ))
        })?;
        let vkey = VerifierKey::parse(vkey)?;
        if !vkey.is_cosigner() {
            return Err(LogError::Usage(format!(
                "--witness {}: the key is not a cosignature/v1 (type 0x04) key",
                crate::net::redact_url(url)
            )));
        }
        Ok(WitnessClient {
            url: url.trim_end_matches('/').to_string(),
            vkey,
        })
    }

    /// Asks the witness to cosign `note` (of tree size `size`), proving consistency from the
    /// size it last cosigned (`last`, corrected once if the witness says otherwise) with
    /// `prove(from)`. Returns its cosignature, checked under its key.
    pub fn cosign(
        &self,
        note: &Note,
        last: u64,
        size: u64,
        prove: &dyn Fn(u64) -> Result<Vec<Hash>, String>,
    ) -> Result<signed_note::Signature, String> {
        let http = client(Duration::from_secs(10)).map_err(|e| e.to_string())?;
        let url = format!("{}/add-checkpoint", self.url);
        let mut old = last;
        for _attempt in 0..2 {
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                prove(old)?
            };
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut body = format!("old {old}\n");
            for h in &proof {
                body.push_str(&b64.encode(h.0));
                body.push('\n');
            }
            body.push('\n');
            let mut body = body.into_bytes();
            body.extend(note.to_bytes());
            let r = http
                .post(&url)
                .body(body)
                .send()
                .map_err(|e| crate::net::redact(&e.to_string()))?;
            let (status, ct, body) = read_body(r, &url).map_err(|e| e.to_string())?;
            match status {
                200 => {
                    let text = String::from_utf8(body).map_err(|_| "the answer is not UTF-8")?;
                    for line in text.lines() {
                        let Ok(sig) = signed_note::Signature::from_bytes(line.as_bytes()) else {
                            continue;
                        };
                        if sig.name() != self.vkey.name || sig.id() != self.vkey.id() {
                            continue;
                        }
                        let n = Note::new(note.text(), std::slice::from_ref(&sig))
                            .map_err(|e| e.to_string())?;
                        let known =
                            signed_note::VerifierList::new(vec![Box::new(self.vkey.clone())]);
                        n.verify(&known)
                            .map_err(|e| format!("its cosignature does not verify: {e}"))?;
                        return Ok(sig);
                    }
                    return Err(super::keys::describe_answer(&text, &self.vkey));
                }
                409 if ct.starts_with("text/x.tlog.size") => {
                    let s = String::from_utf8_lossy(&body);
                    old = s
                        .trim()
                        .parse()
                        .map_err(|_| format!("409 with an unreadable size {:?}", s.trim()))?;
                    if old > size {
                        return Err(format!(
                            "it has cosigned a larger tree ({old}) than this one ({size})"
                        ));
                    }
                }
                s => return Err(format!("HTTP {s}: {}", excerpt(&body))),
            }
        }
        Err("the witness's size changed twice".into())
    }
}

/// Submits a release's log entry to the log at `url` (`POST URL/add`) and returns its proof,
/// once checked: the proof must carry exactly the entry submitted and its inclusion proof must
/// lead to the root of the checkpoint it carries; with `log` (the log's key, witnesses and
/// quorum) the proof must also verify fully, as a verifier will check it. A log that answers
/// with a proof of another release, or one that does not hold, is an error: nothing to write.
pub fn submit(
    url: &str,
    entry: &LogEntry,
    log: Option<&super::LogPolicy>,
) -> Result<super::TlogProof, LogError> {
    let http = client(Duration::from_secs(60))?;
    let u = format!("{}/add", url.trim_end_matches('/'));
    let bytes = entry.encode();
    let r = http
        .post(&u)
        .body(bytes.clone())
        .send()
        .map_err(|e| LogError::Http(crate::net::redact(&e.to_string())))?;
    let (status, _, body) = read_body(r, &u)?;
    let shown = crate::net::redact_url(&u);
    if status != 200 {
        return Err(LogError::Http(format!(
            "{shown}: HTTP {status}: {}",
            excerpt(&body)
        )));
    }
    let proof = super::TlogProof::parse(&body).map_err(|e| {
        LogError::Proof(format!("{shown} answered a proof that does not parse: {e}"))
    })?;
    match &proof.extra {
        Some(e) if *e == bytes => {}
        Some(e) => {
            let what = LogEntry::decode(e).map_or_else(
                |_| "an entry that does not decode".to_string(),
                |e| format!("the entry of {:?} (manifest {})", e.model, e.manifest),
            );
            return Err(LogError::Proof(format!(
                "{shown} answered a proof of {what}, not of the entry submitted ({:?}, manifest {})",
                entry.model, entry.manifest
            )));
        }
        None => {
            return Err(LogError::Proof(format!(
                "{shown} answered a proof that carries no entry (no extra line)"
            )))
        }
    }
    match log {
        // As a verifier will check it (the inclusion among the rest).
        Some(policy) => {
            proof
                .verify(policy, &entry.model, entry.manifest)
                .map_err(|e| LogError::Proof(format!("{shown}: {e}")))?;
        }
        // Without the log's key: at least the inclusion under the checkpoint it carries.
        None => {
            let cp = proof.unverified_checkpoint()?;
            proof.check_inclusion(&cp, &bytes).map_err(|e| {
                LogError::Proof(format!("{shown} answered a proof that does not hold: {e}"))
            })?;
        }
    }
    Ok(proof)
}

/// A remote log read over HTTP: its checkpoint and entry bundles.
pub struct RemoteLog {
    base: String,
    http: reqwest::blocking::Client,
    /// Hash tiles already proved against a checkpoint's root (a few, for the next proof).
    proved: std::cell::RefCell<std::collections::BTreeMap<(u8, u64, u32), Vec<u8>>>,
}

impl RemoteLog {
    pub fn new(base: &str) -> Result<RemoteLog, LogError> {
        Ok(RemoteLog {
            base: base.trim_end_matches('/').to_string(),
            http: client(Duration::from_secs(30))?,
            proved: Default::default(),
        })
    }

    fn get(&self, path: &str) -> Result<Vec<u8>, LogError> {
        self.get_at_most(path, MAX_BODY)
    }

    fn get_at_most(&self, path: &str, max: u64) -> Result<Vec<u8>, LogError> {
        let url = format!("{}/{path}", self.base);
        let r = self
            .http
            .get(&url)
            .send()
            .map_err(|e| LogError::Http(crate::net::redact(&e.to_string())))?;
        let (status, _, body) = read_body_at_most(r, &url, max)?;
        if status != 200 {
            return Err(LogError::Http(format!(
                "{}: HTTP {status}",
                crate::net::redact_url(&url)
            )));
        }
        Ok(body)
    }

    pub fn checkpoint(&self) -> Result<Vec<u8>, LogError> {
        self.get("checkpoint")
    }

    /// The entry bundle `n` of width `w` (`tile/entries/<N>[.p/<W>]`, or the full bundle when a
    /// partial one is gone), read into `buf` (its allocation reused from bundle to bundle): the
    /// byte ranges of its first `w` entries.
    pub fn bundle_into(
        &self,
        n: u64,
        w: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Vec<std::ops::Range<usize>>, LogError> {
        let mut width = w;
        let mut url = format!("{}/{}", self.base, super::tile_path(None, n, w));
        let mut r = self.send_get(&url)?;
        if r.status().as_u16() == 404 && w < TILE_WIDTH {
            // C2SP tlog-tiles lets a log delete a partial tile once the full one exists: its
            // first `w` entries are the same.
            width = TILE_WIDTH;
            url = format!("{}/{}", self.base, super::tile_path(None, n, TILE_WIDTH));
            r = self.send_get(&url)?;
        }
        let shown = crate::net::redact_url(&url);
        if r.status().as_u16() != 200 {
            return Err(LogError::Http(format!(
                "{shown}: HTTP {}",
                r.status().as_u16()
            )));
        }
        buf.clear();
        (&mut r)
            .take(MAX_BUNDLE + 1)
            .read_to_end(buf)
            .map_err(|e| LogError::Http(format!("{shown}: {e}")))?;
        if buf.len() as u64 > MAX_BUNDLE {
            return Err(LogError::Http(format!(
                "{shown}: the response is larger than {MAX_BUNDLE} bytes"
            )));
        }
        let mut all = super::store::bundle_ranges(buf)?;
        if all.len() as u64 != width {
            return Err(LogError::Entry(format!(
                "entry bundle {n} holds {} entries, the checkpoint needs {width}",
                all.len()
            )));
        }
        all.truncate(w as usize);
        Ok(all)
    }

    fn send_get(&self, url: &str) -> Result<reqwest::blocking::Response, LogError> {
        self.http
            .get(url)
            .send()
            .map_err(|e| LogError::Http(crate::net::redact(&e.to_string())))
    }
}

/// Reads a remote log's hash tiles for [`tlog_tiles::TileHashReader`], which checks them against
/// the checkpoint's root (see [`RemoteLog::inclusion_proof`]). A partial tile the log no longer
/// serves is read from the full tile (C2SP tlog-tiles lets a log delete partial tiles once the
/// full one exists).
pub(crate) struct RemoteTiles<'a> {
    log: &'a RemoteLog,
    /// The first error met, returned instead of `tlog_tiles`' own.
    error: std::cell::RefCell<Option<LogError>>,
}

impl<'a> RemoteTiles<'a> {
    pub(crate) fn new(log: &'a RemoteLog) -> RemoteTiles<'a> {
        RemoteTiles {
            log,
            error: std::cell::RefCell::new(None),
        }
    }

    /// The first error met reading a tile, if one was.
    pub(crate) fn take_error(&self) -> Option<LogError> {
        self.error.borrow_mut().take()
    }
}

impl RemoteTiles<'_> {
    fn read(&self, t: &tlog_tiles::Tile) -> Result<Vec<u8>, LogError> {
        let (level, n, w) = (t.level(), t.level_index(), u64::from(t.width()));
        let mut path = super::tile_path(Some(level), n, w);
        let (mut status, mut body) = self.log.get_status(&path)?;
        let mut size = w;
        if status == 404 && w < TILE_WIDTH {
            path = super::tile_path(Some(level), n, TILE_WIDTH);
            (status, body) = self.log.get_status(&path)?;
            size = TILE_WIDTH;
        }
        if status != 200 {
            return Err(LogError::Http(format!(
                "{}/{path}: HTTP {status}",
                crate::net::redact_url(&self.log.base)
            )));
        }
        let hs = tlog_tiles::HASH_SIZE;
        if body.len() != size as usize * hs {
            return Err(LogError::Tree(format!(
                "{path}: {} bytes, a tile of {size} hashes is {}",
                body.len(),
                size as usize * hs
            )));
        }
        body.truncate(w as usize * hs);
        Ok(body)
    }
}

impl tlog_tiles::TileReader for RemoteTiles<'_> {
    fn height(&self) -> u8 {
        super::TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let key = (t.level(), t.level_index(), t.width());
                if let Some(b) = self.log.proved.borrow().get(&key) {
                    return Ok(b.clone());
                }
                self.read(t).map_err(|e| {
                    self.error.borrow_mut().get_or_insert(e);
                    tlog_tiles::Error::InvalidInput("a tile could not be read".into())
                })
            })
            .collect()
    }

    /// Keeps the tiles `tlog_tiles` proved against a root, for the next proof of this reader's
    /// log (a monitor proves a chunk every few bundles; most tiles above level 0 repeat).
    fn save_tiles(&self, tiles: &[tlog_tiles::Tile], data: &[Vec<u8>]) {
        let mut proved = self.log.proved.borrow_mut();
        if proved.len() > 256 {
            proved.clear();
        }
        for (t, d) in tiles.iter().zip(data) {
            proved.insert((t.level(), t.level_index(), t.width()), d.clone());
        }
    }
}

impl RemoteLog {
    /// `GET` of `path` under the log's URL: the status and the body (bounded).
    fn get_status(&self, path: &str) -> Result<(u16, Vec<u8>), LogError> {
        let url = format!("{}/{path}", self.base);
        let r = self
            .http
            .get(&url)
            .send()
            .map_err(|e| LogError::Http(crate::net::redact(&e.to_string())))?;
        let (status, _, body) = read_body(r, &url)?;
        Ok((status, body))
    }

    /// The RFC 6962 inclusion proof of entry `index` in the tree of `cp` (a checkpoint already
    /// verified under the log's key, [`super::store::open_checkpoint`]), computed from the log's
    /// hash tiles (`tile/<L>/<N>[.p/<W>]`) by `tlog_tiles`' `TileHashReader`. The tiles the
    /// root is computed from are checked against the checkpoint's root, which is an error when
    /// they do not match; a full tile below them is not always rechecked (`tlog_tiles`, like
    /// Go's `sumdb/tlog` it ports, skips that when the root's subtrees share a tile). The
    /// proof is evidence only once [`super::proof::check_inclusion`] has checked it against the entry.
    pub fn inclusion_proof(
        &self,
        cp: &tlog_tiles::Checkpoint,
        index: u64,
    ) -> Result<Vec<Hash>, LogError> {
        if index >= cp.size() {
            return Err(LogError::Proof(format!(
                "entry {index} is not in a tree of {} entries",
                cp.size()
            )));
        }
        let tiles = RemoteTiles::new(self);
        // tlog_tiles may panic on a hostile tree size: a panic is a proof that cannot be made.
        let proved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let reader = tlog_tiles::TileHashReader::new(cp.size(), *cp.hash(), &tiles);
            tlog_tiles::prove_record(cp.size(), index, &reader)
        }))
        .unwrap_or(Err(tlog_tiles::Error::BadMath));
        proved.map_err(|e| {
            if let Some(e) = tiles.take_error() {
                return e;
            }
            match e {
                tlog_tiles::Error::InconsistentTile => LogError::Tree(format!(
                    "the log's tiles do not hash to the root of its checkpoint of {} entries",
                    cp.size()
                )),
                e => LogError::Tree(format!("the inclusion proof of entry {index}: {e}")),
            }
        })
    }

    /// Whether the tree of `size` entries with root `root` is a prefix of the tree of `cp` (a
    /// checkpoint already verified): `root` is the checkpoint's at its size; below it, a
    /// consistency proof (RFC 6962, Section 2.1.2) computed from the log's hash tiles leads
    /// from `root` to the checkpoint's root. The tiles need not be trusted: the proof is
    /// checked against both roots, so a tile that lies only fails it.
    pub fn proves_prefix(&self, cp: &tlog_tiles::Checkpoint, size: u64, root: Hash) -> bool {
        if size == cp.size() {
            return root == *cp.hash();
        }
        if size > cp.size() {
            return false;
        }
        let (n, h) = (cp.size(), *cp.hash());
        let tiles = RemoteTiles::new(self);
        // tlog_tiles may panic on a hostile tile set: a panic is a proof that failed.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let reader = tlog_tiles::TileHashReader::new(n, h, &tiles);
            match tlog_tiles::prove_tree(n, size, &reader) {
                Ok(p) => tlog_tiles::check_tree(&p, n, h, size, root).is_ok(),
                Err(_) => false,
            }
        }))
        .unwrap_or(false)
    }
}
