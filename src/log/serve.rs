//! The HTTP side of a log operator: serving a log directory's static files and accepting
//! submissions (`POST /add`), and serving a witness (`POST /add-checkpoint`).

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::client::{WitnessClient, MAX_BODY};
use super::entry::LogEntry;
use super::store::LogDir;
use super::witness::Witness;
use super::LogError;
use crate::attest::PrivateKey;

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
    required: Option<crate::attest::Policy>,
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
                let now = crate::attest::time::Timestamp::now();
                if let Err(e) = LogEntry::admit(&body, required.as_ref(), now) {
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
