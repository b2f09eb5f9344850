//! The HTTP side of the log: asking witnesses to cosign (tlog-witness `add-checkpoint`),
//! serving a log directory's static files and accepting submissions (`POST /add`), serving a
//! witness, and reading a remote log (checkpoint and tiles) for a monitor.

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use signed_note::Note;
use tlog_tiles::Hash;

use super::entry::LogEntry;
use super::keys::VerifierKey;
use super::store::LogDir;
use super::witness::Witness;
use super::{LogError, TILE_WIDTH};
use crate::attest::PrivateKey;

/// Largest body read from a request or a response.
const MAX_BODY: u64 = 2 << 20;

fn client(timeout: Duration) -> Result<reqwest::blocking::Client, LogError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("weightseal/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LogError::Http(e.to_string()))
}

fn read_body(
    r: reqwest::blocking::Response,
    url: &str,
) -> Result<(u16, String, Vec<u8>), LogError> {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Vec::new();
    r.take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| LogError::Http(format!("{}: {e}", crate::net::redact_url(url))))?;
    if body.len() as u64 > MAX_BODY {
        return Err(LogError::Http(format!(
            "{}: the response is larger than {MAX_BODY} bytes",
            crate::net::redact_url(url)
        )));
    }
    Ok((status, ct, body))
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
                    return Err("no cosignature by its key in the answer".into());
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
                s => {
                    return Err(format!(
                        "HTTP {s}: {}",
                        String::from_utf8_lossy(&body)
                            .trim()
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ))
                }
            }
        }
        Err("the witness's size changed twice".into())
    }
}

/// Whether `path` (a request path without the leading `/`) is a file a log serves:
/// `checkpoint` or a tile path of C2SP tlog-tiles.
fn servable(path: &str) -> bool {
    if path == "checkpoint" {
        return true;
    }
    let Some(rest) = path.strip_prefix("tile/") else {
        return false;
    };
    !rest.is_empty()
        && rest.len() < 64
        && rest.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        })
}

fn respond(req: tiny_http::Request, status: u16, ct: &str, body: Vec<u8>) {
    let header =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], ct.as_bytes()).expect("a valid header");
    let _ = req.respond(
        tiny_http::Response::from_data(body)
            .with_status_code(status)
            .with_header(header),
    );
}

fn read_request(req: &mut tiny_http::Request) -> Result<Vec<u8>, String> {
    if req.body_length().is_some_and(|n| n as u64 > MAX_BODY) {
        return Err("request body too large".into());
    }
    let mut body = Vec::new();
    req.as_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    if body.len() as u64 > MAX_BODY {
        return Err("request body too large".into());
    }
    Ok(body)
}

/// How `log serve` batches submissions.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// A checkpoint at least this often while submissions wait.
    pub every: Duration,
    /// Or as soon as this many wait.
    pub max: usize,
}

type Pending = (Vec<u8>, mpsc::Sender<Result<Vec<u8>, String>>);

/// Serves the log directory `dir` on `server` until the process ends: its checkpoint and
/// tiles (`GET`), and submissions (`POST /add`, the body a log entry; the answer the entry's
/// `weightseal.tlog-proof` once a checkpoint includes it). Submissions are batched into one
/// checkpoint every `batching.every` or `batching.max` entries, cosigned by `witnesses`.
pub fn serve_log(
    server: tiny_http::Server,
    dir: &Path,
    key: std::sync::Arc<PrivateKey>,
    witnesses: Vec<WitnessClient>,
    batching: Batching,
) -> Result<(), LogError> {
    let (tx, rx) = mpsc::channel::<Pending>();
    let root = dir.to_path_buf();
    std::thread::spawn(move || {
        let log = LogDir::new(&root);
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let deadline = std::time::Instant::now() + batching.every;
            while batch.len() < batching.max.max(1) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(left) {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let entries: Vec<Vec<u8>> = batch.iter().map(|(e, _)| e.clone()).collect();
            match log.add(key.clone(), &entries, &witnesses) {
                Ok(added) => {
                    for (i, (entry, reply)) in batch.into_iter().enumerate() {
                        let proof = log
                            .proof(added.first + i as u64, &entry)
                            .map(|p| p.encode())
                            .map_err(|e| e.to_string());
                        let _ = reply.send(proof);
                    }
                }
                Err(e) => {
                    for (_, reply) in batch {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    });
    for mut req in server.incoming_requests() {
        let path = req
            .url()
            .split('?')
            .next()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        match (req.method(), path.as_str()) {
            (tiny_http::Method::Post, "add") => {
                let body = match read_request(&mut req) {
                    Ok(b) => b,
                    Err(e) => {
                        respond(req, 400, "text/plain", format!("{e}\n").into_bytes());
                        continue;
                    }
                };
                if let Err(e) = LogEntry::decode(&body) {
                    respond(req, 400, "text/plain", format!("{e}\n").into_bytes());
                    continue;
                }
                let (rtx, rrx) = mpsc::channel();
                if tx.send((body, rtx)).is_err() {
                    respond(
                        req,
                        503,
                        "text/plain",
                        b"the log is not accepting entries\n".to_vec(),
                    );
                    continue;
                }
                std::thread::spawn(move || match rrx.recv() {
                    Ok(Ok(proof)) => respond(req, 200, "text/x.tlog-proof", proof),
                    Ok(Err(e)) => respond(req, 500, "text/plain", format!("{e}\n").into_bytes()),
                    Err(_) => respond(req, 500, "text/plain", b"no answer\n".to_vec()),
                });
            }
            (tiny_http::Method::Get, p) if servable(p) => match std::fs::read(dir.join(p)) {
                Ok(b) => {
                    let ct = if p == "checkpoint" {
                        "text/plain; charset=utf-8"
                    } else {
                        "application/octet-stream"
                    };
                    respond(req, 200, ct, b)
                }
                Err(_) => respond(req, 404, "text/plain", b"not found\n".to_vec()),
            },
            _ => respond(req, 404, "text/plain", b"not found\n".to_vec()),
        }
    }
    Ok(())
}

/// Serves `witness` on `server` (`POST /add-checkpoint`) until the process ends.
pub fn serve_witness(server: tiny_http::Server, witness: &Witness) -> Result<(), LogError> {
    for mut req in server.incoming_requests() {
        let path = req.url().split('?').next().unwrap_or("").to_string();
        if *req.method() != tiny_http::Method::Post || path != "/add-checkpoint" {
            respond(req, 404, "text/plain", b"not found\n".to_vec());
            continue;
        }
        let body = match read_request(&mut req) {
            Ok(b) => b,
            Err(e) => {
                respond(req, 400, "text/plain", format!("{e}\n").into_bytes());
                continue;
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let a = witness.add_checkpoint(&body, now);
        respond(req, a.status, a.content_type, a.body);
    }
    Ok(())
}

/// Binds an HTTP server to `addr`.
pub fn bind(addr: &str) -> Result<tiny_http::Server, LogError> {
    tiny_http::Server::http(addr)
        .map_err(|e| LogError::Http(format!("cannot listen on {addr}: {e}")))
}

/// Submits a release's log entry to the log at `url` (`POST URL/add`) and returns its proof.
pub fn submit(url: &str, entry: &LogEntry) -> Result<super::TlogProof, LogError> {
    let http = client(Duration::from_secs(60))?;
    let u = format!("{}/add", url.trim_end_matches('/'));
    let r = http
        .post(&u)
        .body(entry.encode())
        .send()
        .map_err(|e| LogError::Http(crate::net::redact(&e.to_string())))?;
    let (status, _, body) = read_body(r, &u)?;
    if status != 200 {
        return Err(LogError::Http(format!(
            "{}: HTTP {status}: {}",
            crate::net::redact_url(&u),
            String::from_utf8_lossy(&body)
                .trim()
                .chars()
                .take(200)
                .collect::<String>()
        )));
    }
    super::TlogProof::parse(&body)
}

/// A remote log read over HTTP: its checkpoint and entry bundles.
pub struct RemoteLog {
    base: String,
    http: reqwest::blocking::Client,
}

impl RemoteLog {
    pub fn new(base: &str) -> Result<RemoteLog, LogError> {
        Ok(RemoteLog {
            base: base.trim_end_matches('/').to_string(),
            http: client(Duration::from_secs(30))?,
        })
    }

    fn get(&self, path: &str) -> Result<Vec<u8>, LogError> {
        let url = format!("{}/{path}", self.base);
        let r = self
            .http
            .get(&url)
            .send()
            .map_err(|e| LogError::Http(crate::net::redact(&e.to_string())))?;
        let (status, _, body) = read_body(r, &url)?;
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

    /// The entries `from..to` (at most a tree's size as the checkpoint says).
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, LogError> {
        let mut out = Vec::new();
        let mut n = from / TILE_WIDTH;
        while n * TILE_WIDTH < to {
            let start = n * TILE_WIDTH;
            let w = (to - start).min(TILE_WIDTH);
            let b = self.get(&super::tile_path(None, n, w))?;
            let all = super::store::split_bundle(&b)?;
            if all.len() as u64 != w {
                return Err(LogError::Entry(format!(
                    "entry bundle {n} holds {} entries, the checkpoint needs {w}",
                    all.len()
                )));
            }
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
