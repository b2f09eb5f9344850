//! Verified downloads and remote verification over HTTP(S) (spec/manifest.md, "Checking a
//! chunk on its own").
//!
//! A download writes into `DEST/.weightseal-partial/PATH`, checks every chunk against the
//! manifest's chunk value the moment it arrives (a bad chunk is fetched again, with bounded
//! retries and backoff), and renames the file to `DEST/PATH` only when every chunk verified, so
//! no unverified byte ever sits at a final path. A rerun resumes: chunks already in the partial
//! file are checked and kept. Chunks are fetched with range requests, in parallel across files
//! and chunks; a server that ignores `Range` is read as one stream. A server never gets to send
//! more bytes than the manifest says.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::manifest::{FileEntry, Manifest};
use crate::path::PARTIAL_DIR;
use crate::progress::Progress;
use crate::safedir::{Access, Dir, Kind, SafeDirError};
use crate::tree::{self, ChunkSize, TreeHasher};
use crate::verify::{differing_ranges, ExtraFiles, FileReport, FileStatus, Report};
use crate::walk::{Entry, Symlinks};

/// How to talk to the server.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Concurrent connections.
    pub jobs: usize,
    /// Maps a manifest path to a URL: `{path}` is replaced by the percent-encoded path.
    pub url_template: Option<String>,
    /// Attempts per request beyond the first.
    pub retries: u32,
    /// A connection that sends nothing for this long is dropped (and retried).
    pub timeout: Duration,
    /// First retry delay; doubled each time.
    pub backoff: Duration,
    /// Whether a file reaches the disk before it is renamed into place.
    pub durability: Durability,
    /// Whether files in the destination that the manifest does not list fail the fetch.
    pub extra: ExtraFiles,
    /// Minimum average transfer rate of a response body, in bytes per second, enforced after
    /// `timeout` (0: none). A server that trickles is cut off and the request retried.
    pub min_rate: u64,
    /// Extra request headers (`Authorization: Bearer …`), sent with every request. Their
    /// values never appear in messages.
    pub headers: Vec<(String, String)>,
    /// Hosts a redirect may lead to besides the original one (`host`, or `.domain` for its
    /// subdomains).
    pub allow_redirect_hosts: Vec<String>,
    /// A Hugging Face token, sent as `Authorization: Bearer` to huggingface.co and hf.co hosts
    /// only.
    pub hf_token: Option<String>,
}

/// When a downloaded file is renamed into place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// After `fsync`: even after a power failure, a file at its final path holds verified bytes.
    #[default]
    Fsync,
    /// As soon as it verified in memory (faster on small models; after a power failure a
    /// renamed file may hold data that never reached the disk, which `verify` detects).
    PageCache,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            jobs: 8,
            url_template: None,
            retries: 4,
            timeout: Duration::from_secs(30),
            backoff: Duration::from_millis(250),
            durability: Durability::Fsync,
            extra: ExtraFiles::Reject,
            min_rate: 32 << 10,
            headers: Vec::new(),
            allow_redirect_hosts: Vec::new(),
            hf_token: None,
        }
    }
}

/// Why a download or request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: not an http or https URL")]
    BadUrl { url: String },
    #[error("cannot make an HTTP client: {0}")]
    Client(String),
    #[error("{url}: HTTP {status} (not found)")]
    NotFound { url: String, status: u16 },
    #[error("{url}: HTTP {status} (access denied)")]
    Denied { url: String, status: u16 },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: HTTP {status} redirect to {location:?} not followed (only http and https redirects are)")]
    Redirect {
        url: String,
        status: u16,
        location: String,
    },
    #[error("{url}: {detail}")]
    Network { url: String, detail: String },
    #[error("{url}: the body has {found} bytes where {expected} were expected")]
    WrongLength {
        url: String,
        expected: u64,
        found: u64,
    },
    #[error("{url}: the server sent more than the {limit} bytes expected")]
    TooLong { url: String, limit: u64 },
    #[error("{url}: Content-Range {found:?} does not answer the request for bytes {start}-{end}")]
    BadRange {
        url: String,
        start: u64,
        end: u64,
        found: String,
    },
    #[error("{path}: bytes {start}..{end} do not match the manifest")]
    Corrupt { path: String, start: u64, end: u64 },
    #[error("{path}: bytes {start}..{end} do not match the manifest (after {attempts} attempts)")]
    ChunkMismatch {
        path: String,
        start: u64,
        end: u64,
        attempts: u32,
    },
    #[error("{path}: {detail}")]
    Local { path: String, detail: String },
    /// The destination directory refused an operation (a planted link, a special file…).
    #[error("{0}")]
    Destination(String),
    /// The partial file no longer held the verified bytes when it was to be renamed into place.
    #[error("{path}: changed on disk after its chunks verified (another process writes to the destination); not moved into place")]
    ChangedOnDisk { path: String },
}

impl FetchError {
    /// Whether trying again may help (server errors, network trouble, corrupt data).
    fn retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FetchError::Network { .. }
            | FetchError::WrongLength { .. }
            | FetchError::TooLong { .. }
            | FetchError::BadRange { .. }
            | FetchError::Corrupt { .. } => true,
            _ => false,
        }
    }
}

/// Percent-encodes a manifest path for a URL (`/` kept).
pub fn encode_path(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// A model on an HTTP server.
pub struct Remote {
    client: reqwest::blocking::Client,
    base: String,
    opts: FetchOptions,
    /// The `--header`s, sent only where [`crate::net::headers_go_to`] says.
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// The URLs the user gave (the base URL, the URL template): headers go to their origins.
    given: Vec<reqwest::Url>,
    /// A single-file model (the URL named a `.gguf` or `.safetensors` file): its file name.
    /// `base` is then the URL of the directory that serves it, and its evidence is
    /// `FILE.weightseal.manifest` … beside it, as on disk.
    single: Option<String>,
}

/// The file a URL names when it names a single-file model: its last path segment, decoded,
/// when that ends in `.gguf` or `.safetensors` (the single-file model formats) and is a valid
/// model path of one segment. `None` for a directory URL (or one ending in `/`).
pub fn single_file_name(url: &str) -> Option<(String, String)> {
    let u = reqwest::Url::parse(url).ok()?;
    if u.query().is_some() || u.fragment().is_some() {
        return None;
    }
    let path = u.path();
    if path.ends_with('/') {
        return None;
    }
    let (parent, last) = path.rsplit_once('/')?;
    let name = percent_decode(last)?;
    // Its evidence names (`FILE.weightseal.intoto.jsonl`, the longest) must fit a file name
    // (255 bytes), or the file would land and its evidence could not.
    if !(name.ends_with(".gguf") || name.ends_with(".safetensors"))
        || name.len() + crate::path::SINGLE_FILE_ATTESTATION_SUFFIX.len() > 255
        || name.starts_with('.')
        || name.contains('/')
        || crate::path::ModelPath::new(&name).is_err()
    {
        return None;
    }
    let mut base = u.clone();
    base.set_path(parent);
    Some((base.as_str().trim_end_matches('/').to_string(), name))
}

/// Percent-decodes a URL path segment (`None` when it is not UTF-8 once decoded).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a range request got.
enum RangeBody {
    /// Exactly the bytes asked for.
    Exact(Vec<u8>),
    /// The server ignored `Range` and is sending the whole file (of this many bytes).
    Whole(crate::net::Deadline<reqwest::blocking::Response>),
}

/// An error and its causes, `outer: inner: …` (the HTTP library keeps the useful part, such
/// as "connection refused" or a refused redirect, in the causes), repeated text dropped.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// What went wrong with a request, in the words a user needs: "connection refused", "cannot
/// resolve the host name", "timed out"; otherwise the HTTP library's chain of causes.
fn describe_request_error(e: reqwest::Error) -> String {
    use std::io::ErrorKind;
    let e = e.without_url();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused => {
                    return "connection refused (nothing listens there: is the server running, and the port right?)".into()
                }
                ErrorKind::ConnectionReset => return "connection reset by the server".into(),
                ErrorKind::TimedOut => return "timed out connecting".into(),
                _ => {}
            }
        }
        cur = c.source();
    }
    let chain = error_chain(&e);
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        return format!("cannot resolve the host name ({chain})");
    }
    if e.is_timeout() {
        return format!("timed out ({chain})");
    }
    chain
}

/// A URL as messages show it: credentials redacted.
fn shown(url: &str) -> String {
    crate::net::redact_url(url)
}

fn network(url: &str, e: impl std::fmt::Display) -> FetchError {
    FetchError::Network {
        url: shown(url),
        detail: crate::net::redact(&e.to_string()),
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
/// `expected` sizes the buffer up front (a range body is read without reallocation).
fn read_capped(
    url: &str,
    mut r: impl Read,
    limit: u64,
    expected: u64,
) -> Result<Vec<u8>, FetchError> {
    let mut buf = Vec::with_capacity(expected.min(limit) as usize + 1);
    let n = (&mut r)
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| network(url, e))?;
    if n as u64 > limit {
        return Err(FetchError::TooLong {
            url: shown(url),
            limit,
        });
    }
    Ok(buf)
}

impl Remote {
    /// `base` is the URL of the model directory (`https://host/org/model`).
    pub fn new(base: &str, opts: FetchOptions) -> Result<Remote, FetchError> {
        for u in std::iter::once(base).chain(opts.url_template.as_deref()) {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(FetchError::BadUrl { url: shown(u) });
            }
        }
        let mut headers = Vec::new();
        for (k, v) in &opts.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| FetchError::Client(format!("--header: {k:?} is not a header name")))?;
            let mut value = reqwest::header::HeaderValue::from_str(v).map_err(|_| {
                FetchError::Client(format!(
                    "--header {k}: the value is not a valid header value"
                ))
            })?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let given = std::iter::once(base.to_string())
            .chain(
                opts.url_template
                    .as_deref()
                    .map(|t| t.replace("{path}", "x")),
            )
            .filter_map(|u| reqwest::Url::parse(&u).ok())
            .collect();
        // Redirects are followed by hand (`send`), hop by hop, so that each hop is judged and
        // headers and tokens go only where they belong.
        let client = reqwest::blocking::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("weightseal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        let (base, single) = match single_file_name(base) {
            Some((dir, name)) => (dir, Some(name)),
            None => (base.trim_end_matches('/').to_string(), None),
        };
        Ok(Remote {
            client,
            base,
            opts,
            headers,
            given,
            single,
        })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// The single-file model this URL names (its file name), if it names one.
    pub fn single_file(&self) -> Option<&str> {
        self.single.as_deref()
    }

    /// The name of one of the release's evidence files ([`crate::path::EVIDENCE_FILES`]) on
    /// this server and in a destination: `FILE.weightseal.manifest` … for a single-file model
    /// (whose OpenSSF `model.sig` has no such name: `None`), the name itself otherwise.
    pub fn evidence_name(&self, name: &str) -> Option<String> {
        crate::path::evidence_name(self.single.as_deref(), name)
    }

    /// The name of one of the weightseal evidence files (manifest, attestations, log proof),
    /// which every release has a name for: `FILE.NAME` for a single-file model, else `name`.
    pub fn weightseal_evidence(&self, name: &str) -> String {
        self.evidence_name(name).unwrap_or_else(|| name.to_string())
    }

    /// A GET of `url` (with a `Range` when given), following redirects hop by hop: each one is
    /// judged by [`crate::net::redirect_decision`]; a redirect to a non-HTTP URL is returned
    /// as is (its status is then reported). The `--header`s go only where
    /// [`crate::net::headers_go_to`] says; the Hugging Face token only where
    /// [`crate::net::hf_token_goes_to`] says (never over plain HTTP).
    fn send(
        &self,
        url: &str,
        range: Option<String>,
    ) -> Result<(reqwest::blocking::Response, std::time::Instant), FetchError> {
        let start = std::time::Instant::now();
        let first = reqwest::Url::parse(url).map_err(|_| FetchError::BadUrl { url: shown(url) })?;
        let mut cur = first.clone();
        for _ in 0..=10 {
            let mut rb = self.client.get(cur.clone());
            if let Some(r) = &range {
                rb = rb.header(reqwest::header::RANGE, r);
            }
            if crate::net::headers_go_to(&cur, &self.given, &self.opts.allow_redirect_hosts) {
                for (k, v) in &self.headers {
                    rb = rb.header(k, v);
                }
            }
            if let Some(t) = &self.opts.hf_token {
                if crate::net::hf_token_goes_to(&cur) {
                    let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))
                        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
                    v.set_sensitive(true);
                    rb = rb.header(reqwest::header::AUTHORIZATION, v);
                }
            }
            let r = rb
                .send()
                .map_err(|e| network(url, describe_request_error(e)))?;
            if !matches!(r.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
                return Ok((r, start));
            }
            let Some(next) = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| cur.join(l).ok())
            else {
                return Ok((r, start));
            };
            if !matches!(next.scheme(), "http" | "https") {
                return Ok((r, start));
            }
            crate::net::redirect_decision(&first, &next, &self.opts.allow_redirect_hosts)
                .map_err(|msg| network(url, msg))?;
            cur = next;
        }
        Err(network(url, "too many redirects"))
    }

    fn body<R: Read>(&self, r: R, start: std::time::Instant) -> crate::net::Deadline<R> {
        crate::net::Deadline::new(r, start, self.opts.timeout, self.opts.min_rate)
    }

    /// The URL of a file of the model.
    pub fn url_for(&self, path: &str) -> String {
        match &self.opts.url_template {
            Some(t) => t.replace("{path}", &encode_path(path)),
            None => format!("{}/{}", self.base, encode_path(path)),
        }
    }

    fn check_status(&self, url: &str, r: &reqwest::blocking::Response) -> Result<(), FetchError> {
        let status = r.status().as_u16();
        match status {
            200..=299 => Ok(()),
            404 | 410 => Err(FetchError::NotFound {
                url: shown(url),
                status,
            }),
            401 | 403 => Err(FetchError::Denied {
                url: shown(url),
                status,
            }),
            300..=399 => Err(FetchError::Redirect {
                url: shown(url),
                status,
                location: r
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(crate::net::redact_url)
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            }),
            _ => Err(FetchError::Status {
                url: shown(url),
                status,
            }),
        }
    }

    /// Runs `f` with retries and exponential backoff while the error is retryable.
    fn with_retries<T>(
        &self,
        mut f: impl FnMut() -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        let mut delay = self.opts.backoff;
        let mut attempt = 0;
        loop {
            match f() {
                Err(e) if e.retryable() && attempt < self.opts.retries => {
                    attempt += 1;
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    /// GETs a small document (a manifest, a bundle) of at most `limit` bytes; `Ok(None)` when
    /// the server says it does not exist.
    pub fn get_document(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        self.with_retries(|| {
            let (r, start) = self.send(url, None)?;
            match self.check_status(url, &r) {
                Err(FetchError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            if r.content_length().is_some_and(|n| n > limit) {
                return Err(FetchError::TooLong {
                    url: shown(url),
                    limit,
                });
            }
            let expected = r.content_length().unwrap_or(64 * 1024);
            read_capped(url, self.body(r, start), limit, expected).map(Some)
        })
    }

    /// GETs a file that the manifest says is empty, refusing any byte.
    fn get_empty(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let (r, start) = self.send(url, None)?;
        self.check_status(url, &r)?;
        read_capped(url, self.body(r, start), 0, 0)
    }

    /// One request for bytes `start..end` (end exclusive, non-empty range) of a file of
    /// `size` bytes.
    fn get_range(
        &self,
        url: &str,
        start: u64,
        end: u64,
        size: u64,
    ) -> Result<RangeBody, FetchError> {
        let (r, t0) = self.send(url, Some(format!("bytes={}-{}", start, end - 1)))?;
        self.check_status(url, &r)?;
        if r.status().as_u16() == 200 {
            return Ok(RangeBody::Whole(self.body(r, t0)));
        }
        if r.status().as_u16() != 206 {
            return Err(FetchError::Status {
                url: shown(url),
                status: r.status().as_u16(),
            });
        }
        let cr = r
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !content_range_matches(&cr, start, end - 1, size) {
            return Err(FetchError::BadRange {
                url: shown(url),
                start,
                end: end - 1,
                found: cr.chars().take(200).collect(),
            });
        }
        let body = read_capped(url, self.body(r, t0), end - start, end - start)?;
        if body.len() as u64 != end - start {
            return Err(FetchError::WrongLength {
                url: shown(url),
                expected: end - start,
                found: body.len() as u64,
            });
        }
        Ok(RangeBody::Exact(body))
    }
}

/// Whether a `Content-Range` header value answers a request for bytes `first..=last` of a file
/// of `size` bytes: exactly `bytes FIRST-LAST/SIZE` (or `/*`), nothing else.
pub fn content_range_matches(value: &str, first: u64, last: u64, size: u64) -> bool {
    let want = format!("bytes {first}-{last}/");
    value
        .strip_prefix(&want)
        .is_some_and(|t| t == "*" || t == size.to_string())
}

/// Streams a whole-file response, calling `on_group(index, bytes)` for each complete chunk
/// group in order; refuses a body longer or shorter than `size`. Memory: one chunk group.
pub fn stream_groups(
    url: &str,
    mut r: impl Read,
    size: u64,
    cs: ChunkSize,
    mut on_group: impl FnMut(u64, &[u8]) -> Result<(), FetchError>,
) -> Result<(), FetchError> {
    let mut group = Vec::with_capacity(cs.get().min(size.max(1)) as usize);
    let mut index = 0u64;
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).map_err(|e| network(url, e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > size {
            return Err(FetchError::TooLong {
                url: shown(url),
                limit: size,
            });
        }
        let mut data = &buf[..n];
        while !data.is_empty() {
            let (gstart, gend) = cs.group_range(size, index);
            let group_len = (gend - gstart) as usize;
            let take = (group_len - group.len()).min(data.len());
            group.extend_from_slice(&data[..take]);
            data = &data[take..];
            if group.len() == group_len {
                on_group(index, &group)?;
                group.clear();
                index += 1;
            }
        }
    }
    if total != size {
        return Err(FetchError::WrongLength {
            url: shown(url),
            expected: size,
            found: total,
        });
    }
    if size == 0 {
        on_group(0, &[])?;
    }
    Ok(())
}

/// The outcome for one file of a fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FetchedFile {
    pub path: String,
    pub size: u64,
    /// `ok` (downloaded and verified), `present` (already there and verified) or `failed`.
    pub status: &'static str,
    /// Bytes received for this file in this run.
    pub downloaded: u64,
    /// Bytes of a previous partial download, or of an earlier copy at the final path, that
    /// verified and were kept.
    pub resumed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A path in the destination that the manifest does not list (judged as `verify` judges it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtraFile {
    pub path: String,
    /// Whether `--allow-extra` let it pass.
    pub allowed: bool,
    /// Why it could not even be listed as a file (a symlink, a special file…), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The outcome of a fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    /// Every file verified at its final path and nothing unlisted is in the destination
    /// (unless allowed): `verify DEST` with the same manifest would pass.
    pub ok: bool,
    pub files: Vec<FetchedFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<ExtraFile>,
    pub downloaded: u64,
    pub requests: u64,
}

/// Per-file state shared by the workers. No descriptor is held between tasks: the partial
/// file is opened beneath the scratch directory for each write, so open descriptors stay
/// bounded by the number of workers however many files a model has.
struct Job<'a> {
    id: usize,
    entry: &'a FileEntry,
    /// Chunk groups verified and written to the partial file.
    done: Vec<AtomicBool>,
    remaining: AtomicUsize,
    /// A worker is reading the whole file as one stream (the server ignored `Range`).
    streaming: AtomicBool,
    downloaded: AtomicU64,
    resumed: AtomicU64,
    written: AtomicU64,
    error: Mutex<Option<String>>,
    present: AtomicBool,
}

impl Job<'_> {
    fn failed(&self) -> bool {
        self.error.lock().expect("error lock").is_some()
    }
}

enum Task {
    /// Prepare the file (present? resume?), fetch its first chunk, queue the others.
    File(usize),
    /// One chunk group of a file.
    Chunk(usize, u64),
}

/// A work queue that workers block on until all work is done.
struct Queue {
    state: Mutex<(VecDeque<Task>, usize)>, // (tasks, tasks in progress)
    cv: Condvar,
}

impl Queue {
    /// Queues chunk tasks ahead of files not yet started, so that files finish one after
    /// another instead of all starting first.
    fn push_front(&self, tasks: impl DoubleEndedIterator<Item = Task>) {
        let mut g = self.state.lock().expect("queue lock");
        for t in tasks.rev() {
            g.0.push_front(t);
        }
        drop(g);
        self.cv.notify_all();
    }

    /// The next task, or `None` when the queue is empty and nobody can add to it.
    fn pop(&self) -> Option<Task> {
        let mut g = self.state.lock().expect("queue lock");
        loop {
            if let Some(t) = g.0.pop_front() {
                g.1 += 1;
                return Some(t);
            }
            if g.1 == 0 {
                self.cv.notify_all();
                return None;
            }
            g = self.cv.wait(g).expect("queue lock");
        }
    }

    fn done(&self) {
        let mut g = self.state.lock().expect("queue lock");
        g.1 -= 1;
        if g.1 == 0 {
            self.cv.notify_all();
        }
    }
}

fn local(path: &Path, e: impl std::fmt::Display) -> FetchError {
    FetchError::Local {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn dest_err(e: SafeDirError) -> FetchError {
    FetchError::Destination(e.to_string())
}

/// What a fetch shares between its workers.
struct Ctx<'a> {
    remote: &'a Remote,
    cs: ChunkSize,
    /// The destination, and its scratch directory (mode 0700) beneath it.
    root: Dir,
    scratch: Dir,
    queue: Queue,
    requests: AtomicU64,
    progress: &'a dyn Progress,
}

/// Downloads every file of `manifest` from `remote` into `dest`, verifying each chunk as it
/// arrives. Files already present and verified are kept; partial downloads are resumed, and
/// the chunks of an earlier copy at a final path that still verify are kept too.
///
/// The destination is not trusted: every path beneath it is resolved from a directory handle
/// without following symbolic links ([`crate::safedir`]); a link or special file where the
/// manifest puts a file or a directory fails that file. A file is renamed into place only
/// after the bytes of the very descriptor that is renamed were hashed again and matched.
/// Files the manifest does not list fail the fetch unless `opts.extra` allows them, so that
/// a fetch that succeeds leaves a directory that `verify` accepts.
pub fn fetch(
    remote: &Remote,
    manifest: &Manifest,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<FetchReport, FetchError> {
    let cs = manifest.chunk_size();
    let root = Dir::open(dest, true).map_err(dest_err)?;
    let scratch = root.child(PARTIAL_DIR, Some(0o700)).map_err(dest_err)?;
    scratch.make_private().map_err(dest_err)?;
    let jobs: Vec<Job> = manifest
        .files()
        .iter()
        .enumerate()
        .map(|(id, e)| Job {
            id,
            entry: e,
            done: (0..cs.group_count(e.tree.size))
                .map(|_| AtomicBool::new(false))
                .collect(),
            remaining: AtomicUsize::new(0),
            streaming: AtomicBool::new(false),
            downloaded: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            written: AtomicU64::new(0),
            error: Mutex::new(None),
            present: AtomicBool::new(false),
        })
        .collect();
    progress.set_total(manifest.total_size());
    let ctx = Ctx {
        remote,
        cs,
        root,
        scratch,
        queue: Queue {
            state: Mutex::new(((0..jobs.len()).map(Task::File).collect(), 0)),
            cv: Condvar::new(),
        },
        requests: AtomicU64::new(0),
        progress,
    };
    let workers = remote.opts.jobs.clamp(1, 64);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(task) = ctx.queue.pop() {
                    let (i, result) = match task {
                        Task::File(i) => (i, start_file(&ctx, &jobs[i])),
                        Task::Chunk(i, c) => (i, fetch_chunk(&ctx, &jobs[i], c)),
                    };
                    let job = &jobs[i];
                    let result = result.and_then(|finished| {
                        if finished {
                            finish_file(&ctx, job)?;
                            progress.file_finished(i);
                        }
                        Ok(())
                    });
                    if let Err(e) = result {
                        let mut err = job.error.lock().expect("error lock");
                        if err.is_none() {
                            *err = Some(e.to_string());
                            progress.file_finished(i);
                        }
                    }
                    ctx.queue.done();
                }
            });
        }
    });
    let files: Vec<FetchedFile> = jobs
        .iter()
        .map(|j| {
            let error = j.error.lock().expect("error lock").clone();
            FetchedFile {
                path: j.entry.path.to_string(),
                size: j.entry.tree.size,
                status: if error.is_some() {
                    "failed"
                } else if j.present.load(Ordering::Relaxed) {
                    "present"
                } else {
                    "ok"
                },
                downloaded: j.downloaded.load(Ordering::Relaxed),
                resumed: j.resumed.load(Ordering::Relaxed),
                error,
            }
        })
        .collect();
    // Only when empty: partial files of failed downloads stay for a rerun.
    let _ = ctx.root.remove_empty_dir(PARTIAL_DIR);
    // A single-file model is its one file: the rest of the destination is not the release's
    // (`verify DEST/FILE` lists nothing else), so nothing there is extra.
    let extra = match remote.single {
        Some(_) => Vec::new(),
        None => extra_files(dest, manifest, remote.opts.extra),
    };
    Ok(FetchReport {
        ok: files.iter().all(|f| f.error.is_none()) && extra.iter().all(|x| x.allowed),
        downloaded: files.iter().map(|f| f.downloaded).sum(),
        requests: ctx.requests.load(Ordering::Relaxed),
        files,
        extra,
    })
}

/// What `verify` would call extra in `dest`: the same directory walk, the same exclusions.
fn extra_files(dest: &Path, manifest: &Manifest, extra: ExtraFiles) -> Vec<ExtraFile> {
    let allowed = extra == ExtraFiles::Allow;
    let entries = match crate::walk::walk(dest, Symlinks::Refuse, &[]) {
        Ok(e) => e,
        Err(e) => {
            return vec![ExtraFile {
                path: String::new(),
                allowed: false,
                reason: Some(e.to_string()),
            }]
        }
    };
    let listed: std::collections::HashSet<&str> =
        manifest.files().iter().map(|f| f.path.as_str()).collect();
    entries
        .iter()
        .filter(|e| !listed.contains(e.name()))
        .map(|e| ExtraFile {
            path: e.name().to_string(),
            // A nested `.git` is never an extra file one may allow.
            allowed: allowed && !matches!(e, Entry::Refused { reason, .. } if reason.is_reserved()),
            reason: match e {
                Entry::File { .. } => None,
                Entry::Refused { reason, .. } => Some(reason.to_string()),
            },
        })
        .collect()
}

/// The copy already at the final path, when there is a regular file there. A symbolic link,
/// a directory or a special file at the final path (or a link among its parents) fails the
/// file: weightseal neither follows it nor replaces it.
fn existing_final(ctx: &Ctx, job: &Job) -> Result<Option<File>, FetchError> {
    let path = job.entry.path.as_str();
    let (dir, name) = match ctx.root.parent_of(path, None) {
        Ok(x) => x,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(dest_err(e)),
    };
    match dir.kind(name).map_err(dest_err)? {
        None => Ok(None),
        Some(Kind::File) => match dir.open_file(name, Access::Read) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(dest_err(e)),
        },
        Some(Kind::Symlink) => Err(dest_err(SafeDirError::Symlink(dir.path().join(name)))),
        Some(k) => Err(dest_err(SafeDirError::WrongType {
            path: dir.path().join(name),
            expected: "regular file",
            found: k.describe(),
        })),
    }
}

/// Reads group `i` of `f` and returns it when it verifies against the manifest.
fn verified_group(f: &File, have: u64, cs: ChunkSize, e: &FileEntry, i: u64) -> Option<Vec<u8>> {
    let (a, b) = cs.group_range(e.tree.size, i);
    if b > have {
        return None;
    }
    let mut buf = vec![0u8; (b - a) as usize];
    (f.read_exact_at(&mut buf, a).is_ok() && tree::verify_chunk(cs, &e.tree, i, &buf).is_ok())
        .then_some(buf)
}

/// Returns `Ok(true)` when the file is complete after this step.
fn start_file(ctx: &Ctx, job: &Job) -> Result<bool, FetchError> {
    let (e, cs) = (job.entry, ctx.cs);
    let existing = existing_final(ctx, job)?;
    let existing_len = match &existing {
        Some(f) => f
            .metadata()
            .map_err(|err| local(ctx.root.path(), err))?
            .len(),
        None => 0,
    };
    if let Some(f) = &existing {
        if existing_len == e.tree.size
            && tree::hash_file(f, existing_len, cs, &crate::progress::NoProgress)
                .is_ok_and(|t| t.root == e.tree.root)
        {
            job.present.store(true, Ordering::Relaxed);
            ctx.progress.advance(e.tree.size);
            return Ok(false);
        }
    }
    let path = e.path.as_str();
    let f = ctx
        .scratch
        .open_path(path, Access::Create { mode: 0o644 })
        .map_err(dest_err)?;
    let partial_path = || e.path.under(ctx.scratch.path());
    let mut have = f
        .metadata()
        .map_err(|err| local(&partial_path(), err))?
        .len();
    if have > e.tree.size {
        f.set_len(0).map_err(|err| local(&partial_path(), err))?;
        have = 0;
    }
    ctx.progress.file_started(job.id, path, e.tree.size);
    // Resume: keep every chunk of the partial file that verifies; take the others from an
    // earlier copy at the final path where they verify there.
    let mut needed = Vec::new();
    for i in 0..cs.group_count(e.tree.size) {
        let (a, b) = cs.group_range(e.tree.size, i);
        let kept = if verified_group(&f, have, cs, e, i).is_some() {
            true
        } else if let Some(buf) = existing
            .as_ref()
            .and_then(|x| verified_group(x, existing_len, cs, e, i))
        {
            f.write_all_at(&buf, a)
                .map_err(|err| local(&partial_path(), err))?;
            true
        } else {
            false
        };
        if kept {
            job.done[i as usize].store(true, Ordering::Relaxed);
            job.resumed.fetch_add(b - a, Ordering::Relaxed);
            ctx.progress.advance(b - a);
            ctx.progress.file_advanced(job.id, b - a);
        } else {
            needed.push(i);
        }
    }
    f.set_len(e.tree.size)
        .map_err(|err| local(&partial_path(), err))?;
    drop(f);
    drop(existing);
    if needed.is_empty() {
        return Ok(true);
    }
    job.remaining.store(needed.len(), Ordering::SeqCst);
    // The first chunk probes range support; the rest go ahead of the files not yet started.
    let finished = fetch_chunk(ctx, job, needed[0])?;
    if !finished && !job.done.iter().all(|d| d.load(Ordering::SeqCst)) {
        ctx.queue.push_front(
            needed[1..]
                .iter()
                .filter(|&&c| !job.done[c as usize].load(Ordering::SeqCst))
                .map(|&c| Task::Chunk(job.id, c)),
        );
    }
    Ok(finished)
}

/// A chunk that still did not verify after every attempt.
fn exhausted(err: FetchError, attempts: u32) -> FetchError {
    match err {
        FetchError::Corrupt { path, start, end } => FetchError::ChunkMismatch {
            path,
            start,
            end,
            attempts,
        },
        other => other,
    }
}

/// Fetches chunk group `index`; when the server answers with the whole file, takes every
/// chunk of it from that one stream (and the queued requests for the file's other chunks
/// find them done). Returns whether the file is complete.
fn fetch_chunk(ctx: &Ctx, job: &Job, index: u64) -> Result<bool, FetchError> {
    if job.failed() || job.done[index as usize].load(Ordering::SeqCst) {
        return Ok(false);
    }
    let (e, cs, remote) = (job.entry, ctx.cs, ctx.remote);
    let url = remote.url_for(e.path.as_str());
    let (a, b) = cs.group_range(e.tree.size, index);
    let mut attempts = 0u32;
    remote
        .with_retries(|| {
            attempts += 1;
            ctx.requests.fetch_add(1, Ordering::Relaxed);
            if a == b {
                // An empty file: no range to ask for.
                let body = remote.get_empty(&url)?;
                return write_group(ctx, job, 0, &body);
            }
            match remote.get_range(&url, a, b, e.tree.size)? {
                RangeBody::Exact(body) => write_group(ctx, job, index, &body),
                RangeBody::Whole(r) => {
                    if job.streaming.swap(true, Ordering::SeqCst) {
                        // Another worker is already streaming this file.
                        return Ok(false);
                    }
                    let mut finished = false;
                    let res = stream_groups(&url, r, e.tree.size, cs, |i, g| {
                        if !job.done[i as usize].load(Ordering::SeqCst) {
                            finished |= write_group(ctx, job, i, g)?;
                        } else {
                            // Received all the same: the report counts bytes received.
                            job.downloaded.fetch_add(g.len() as u64, Ordering::Relaxed);
                        }
                        Ok(())
                    });
                    job.streaming.store(false, Ordering::SeqCst);
                    res.map(|()| finished)
                }
            }
        })
        .map_err(|err| exhausted(err, attempts))
}

/// Checks a chunk against the manifest and writes it into the partial file. A mismatch
/// ([`FetchError::Corrupt`]) is retried; it becomes [`FetchError::ChunkMismatch`] when the
/// attempts run out. Returns whether this write completed the file.
fn write_group(ctx: &Ctx, job: &Job, index: u64, data: &[u8]) -> Result<bool, FetchError> {
    let (e, cs) = (job.entry, ctx.cs);
    job.downloaded
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    let (start, end) = cs.group_range(e.tree.size, index);
    if tree::verify_chunk(cs, &e.tree, index, data).is_err() {
        return Err(FetchError::Corrupt {
            path: e.path.to_string(),
            start,
            end,
        });
    }
    let f = ctx
        .scratch
        .open_path(e.path.as_str(), Access::Write)
        .map_err(dest_err)?;
    let partial_path = || e.path.under(ctx.scratch.path());
    f.write_all_at(data, start)
        .map_err(|err| local(&partial_path(), err))?;
    // With fsync-before-rename, push the written data to the disk as the download goes
    // (every 64 MiB of a file), so writeback overlaps the network instead of all waiting for
    // the final fsync. Either way the disk's write bandwidth bounds a durable download
    // (bench/fetch.sh compares with --no-fsync).
    if ctx.remote.opts.durability == Durability::Fsync {
        let before = job.written.fetch_add(data.len() as u64, Ordering::Relaxed);
        let after = before + data.len() as u64;
        if before / EARLY_SYNC != after / EARLY_SYNC {
            f.sync_data().map_err(|err| local(&partial_path(), err))?;
        }
    }
    drop(f);
    if job.done[index as usize].swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    ctx.progress.advance(data.len() as u64);
    ctx.progress.file_advanced(job.id, data.len() as u64);
    Ok(job.remaining.fetch_sub(1, Ordering::SeqCst) == 1)
}

/// Bytes of a file written between two early syncs.
const EARLY_SYNC: u64 = 64 << 20;

/// Every chunk verified: hash the partial file again through the descriptor that is about to
/// be renamed (chunks resumed from disk or written earlier may have changed since), sync it,
/// move it into place, and check that what landed at the final path is that file.
fn finish_file(ctx: &Ctx, job: &Job) -> Result<(), FetchError> {
    if job.failed() {
        return Ok(());
    }
    let e = job.entry;
    let path = e.path.as_str();
    let (pdir, name) = ctx.scratch.parent_of(path, None).map_err(dest_err)?;
    let f = pdir.open_file(name, Access::Read).map_err(dest_err)?;
    let partial_path = e.path.under(ctx.scratch.path());
    if ctx.remote.opts.durability == Durability::Fsync {
        f.sync_all().map_err(|err| local(&partial_path, err))?;
    }
    let size = f.metadata().map_err(|err| local(&partial_path, err))?.len();
    let again = tree::hash_file(&f, size, ctx.cs, &crate::progress::NoProgress)
        .map_err(|err| local(&partial_path, err))?;
    if size != e.tree.size || again.root != e.tree.root {
        return Err(FetchError::ChangedOnDisk {
            path: partial_path.display().to_string(),
        });
    }
    let (fdir, fname) = ctx.root.parent_of(path, Some(0o755)).map_err(dest_err)?;
    pdir.rename_file(name, &fdir, fname).map_err(dest_err)?;
    let id = Dir::file_identity(&f).map_err(|err| local(&partial_path, err))?;
    if fdir.identity(fname).map_err(dest_err)? != id {
        // Someone swapped the partial file between the check and the rename: what landed is
        // not what was verified, so it does not stay at the final path.
        let _ = fdir.remove_file(fname);
        return Err(FetchError::ChangedOnDisk {
            path: partial_path.display().to_string(),
        });
    }
    if ctx.remote.opts.durability == Durability::Fsync {
        fdir.sync().map_err(dest_err)?;
    }
    // Remove emptied scratch directories of this file, deepest first.
    let parents: Vec<&str> = e.path.parents().collect();
    for p in parents.iter().rev() {
        let Ok((d, n)) = ctx.scratch.parent_of(p, None) else {
            break;
        };
        if d.remove_empty_dir(n).is_err() {
            break;
        }
    }
    Ok(())
}

/// Mirror validation: streams every file from `remote` (or, with `sample`, a fraction of each
/// file's chunks by range requests) and checks it against `manifest`. Stores nothing.
pub fn verify_remote(
    remote: &Remote,
    manifest: &Manifest,
    sample: Option<f64>,
    sha256: bool,
    progress: &dyn Progress,
) -> (Report, BTreeMap<String, crate::Digest>) {
    let cs = manifest.chunk_size();
    progress.set_total(manifest.total_size());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<FileReport>> = Mutex::new(Vec::new());
    let sampled: Mutex<Vec<crate::verify::SampledFile>> = Mutex::new(Vec::new());
    let digests: Mutex<BTreeMap<String, crate::Digest>> = Mutex::new(BTreeMap::new());
    let workers = remote.opts.jobs.clamp(1, 64);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = manifest.files().get(i) else {
                    break;
                };
                let status = match sample {
                    Some(f) => {
                        let (status, read) = sample_file(remote, e, cs, f, progress);
                        let (checked, whole) = match read {
                            Sampled::Chunks(n) => (n, false),
                            Sampled::Whole(n) => (n, true),
                        };
                        sampled
                            .lock()
                            .expect("sampled lock")
                            .push(crate::verify::SampledFile {
                                path: e.path.to_string(),
                                checked,
                                chunks: cs.group_count(e.tree.size),
                                range_ignored: whole,
                            });
                        status
                    }
                    None => {
                        let (status, d) = stream_file(remote, e, cs, sha256, progress);
                        if let Some(d) = d {
                            digests
                                .lock()
                                .expect("digests lock")
                                .insert(e.path.to_string(), d);
                        }
                        status
                    }
                };
                results.lock().expect("results lock").push(FileReport {
                    path: e.path.to_string(),
                    status,
                });
            });
        }
    });
    let files = results.into_inner().expect("results lock");
    let mut report = Report::new(files, Vec::new(), None);
    report.sampled = sampled.into_inner().expect("sampled lock");
    report
        .sampled
        .sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    (report, digests.into_inner().expect("digests lock"))
}

fn error_status(e: FetchError) -> FileStatus {
    match e {
        FetchError::NotFound { .. } => FileStatus::Missing,
        other => FileStatus::Unreadable {
            reason: other.to_string(),
        },
    }
}

/// Streams one file and checks it; with `sha256`, also the SHA-256 of the bytes streamed,
/// when they are the file the manifest describes (for an OpenSSF signature, which names files
/// by SHA-256: no verdict uses a digest not computed from bytes in the same run).
fn stream_file(
    remote: &Remote,
    e: &FileEntry,
    cs: ChunkSize,
    sha256: bool,
    progress: &dyn Progress,
) -> (FileStatus, Option<crate::Digest>) {
    let url = remote.url_for(e.path.as_str());
    let mut digest = None;
    let res = remote.with_retries(|| {
        let (r, start) = remote.send(&url, None)?;
        remote.check_status(&url, &r)?;
        let (tree, d) = hash_body(&url, remote.body(r, start), e, cs, sha256, progress)?;
        digest = d;
        Ok(tree)
    });
    let status = body_status(res, e, cs);
    let digest = digest.filter(|_| matches!(status, FileStatus::Ok));
    (status, digest)
}

/// The file tree of a whole-file response body, read at most one byte past the expected size
/// (to see that the file is too long), and its SHA-256 when `sha256`.
fn hash_body(
    url: &str,
    r: impl Read,
    e: &FileEntry,
    cs: ChunkSize,
    sha256: bool,
    progress: &dyn Progress,
) -> Result<(crate::tree::FileTree, Option<crate::Digest>), FetchError> {
    use sha2::Digest as _;
    let mut h = TreeHasher::new(cs);
    let mut sha = sha256.then(sha2::Sha256::new);
    let mut r = r.take(e.tree.size + 1);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).map_err(|err| network(url, err))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(s) = &mut sha {
            s.update(&buf[..n]);
        }
        progress.advance(n as u64);
    }
    Ok((
        h.finalize(),
        sha.map(|s| crate::Digest(s.finalize().into())),
    ))
}

/// A streamed file's status against its manifest entry.
fn body_status(
    res: Result<crate::tree::FileTree, FetchError>,
    e: &FileEntry,
    cs: ChunkSize,
) -> FileStatus {
    match res {
        Ok(found) if found.size == e.tree.size && found.root == e.tree.root => FileStatus::Ok,
        Ok(found) => {
            let ranges = differing_ranges(cs, &e.tree, &found);
            crate::verify::modified_status(cs, e, found.size, found.root, ranges, None)
        }
        Err(err) => error_status(err),
    }
}

fn sample_file(
    remote: &Remote,
    e: &FileEntry,
    cs: ChunkSize,
    fraction: f64,
    progress: &dyn Progress,
) -> (FileStatus, Sampled) {
    let url = remote.url_for(e.path.as_str());
    let groups = cs.group_count(e.tree.size);
    let want = ((groups as f64 * fraction).ceil() as u64).clamp(1, groups);
    // A random sample: the server cannot know which chunks will be checked.
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let mut x = u64::from_le_bytes(seed) | 1;
    let mut picked: Vec<u64> = (0..groups).collect();
    for i in 0..want as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = i + (x % (groups - i as u64)) as usize;
        picked.swap(i, j);
    }
    picked.truncate(want as usize);
    picked.sort_unstable();
    let mut bad = Vec::new();
    for i in picked {
        let (a, b) = cs.group_range(e.tree.size, i);
        let got = remote.with_retries(|| {
            if a == b {
                return remote.get_empty(&url).map(Ok);
            }
            match remote.get_range(&url, a, b, e.tree.size)? {
                RangeBody::Exact(v) => Ok(Ok(v)),
                // The server ignores Range and is sending the whole file: check every chunk
                // of this one body, once (not another request, not a sample any more).
                RangeBody::Whole(body) => Ok(Err(
                    hash_body(&url, body, e, cs, false, progress).map(|(t, _)| t)
                )),
            }
        });
        match got {
            Ok(Ok(data)) => {
                progress.advance(data.len() as u64);
                if tree::verify_chunk(cs, &e.tree, i, &data).is_err() {
                    bad.push(crate::verify::ByteRange { start: a, end: b });
                }
            }
            Ok(Err(whole)) => return (body_status(whole, e, cs), Sampled::Whole(groups)),
            Err(err) => return (error_status(err), Sampled::Chunks(0)),
        }
    }
    let status = if bad.is_empty() {
        FileStatus::Ok
    } else {
        crate::verify::modified_status(
            cs,
            e,
            e.tree.size,
            crate::digest::Digest::default(),
            bad,
            None,
        )
    };
    (status, Sampled::Chunks(want))
}

/// What a sampled check of one file read: the chunks asked for, or (a server that ignores
/// `Range`) the whole file, every one of its chunks checked.
enum Sampled {
    Chunks(u64),
    Whole(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("a b/c#d?.bin"), "a%20b/c%23d%3F.bin");
        assert_eq!(encode_path("\u{e9}"), "%C3%A9");
    }

    #[test]
    fn streaming_splits_groups_and_bounds_the_body() {
        let cs = ChunkSize::new(16384).unwrap();
        let data: Vec<u8> = (0..40000u32).map(|i| i as u8).collect();
        let mut seen = Vec::new();
        stream_groups("u", &data[..], 40000, cs, |i, g| {
            seen.push((i, g.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(0, 16384), (1, 16384), (2, 7232)]);
        let e = stream_groups("u", &data[..], 39999, cs, |_, _| Ok(())).unwrap_err();
        assert!(matches!(e, FetchError::TooLong { limit: 39999, .. }), "{e}");
        let e = stream_groups("u", &data[..100], 40000, cs, |_, _| Ok(())).unwrap_err();
        assert!(
            matches!(
                e,
                FetchError::WrongLength {
                    expected: 40000,
                    found: 100,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_url_naming_a_gguf_or_safetensors_file_is_a_single_file_model() {
        let one = |u: &str| single_file_name(u);
        assert_eq!(
            one("https://h/org/m/model.Q4_0.gguf"),
            Some(("https://h/org/m".into(), "model.Q4_0.gguf".into()))
        );
        assert_eq!(
            one("http://127.0.0.1:1/my%20model.safetensors"),
            Some(("http://127.0.0.1:1".into(), "my model.safetensors".into()))
        );
        // A directory, a trailing slash, a query, another extension, an encoded slash, a
        // hidden name, a bad escape: not a single-file model.
        for u in [
            "https://h/org/m",
            "https://h/org/m.gguf/",
            "https://h/org/m.gguf?download=1",
            "https://h/org/m/model.bin",
            "https://h/org/m/a%2Fb.gguf",
            "https://h/org/m/.gguf",
            "https://h/org/m/x%zz.gguf",
            "https://h/org/m/x%C3.gguf",
            &format!("https://h/org/m/{}.gguf", "x".repeat(227)),
        ] {
            assert_eq!(one(u), None, "{u}");
        }
        let r = Remote::new("http://127.0.0.1:1/m/model.gguf", FetchOptions::default()).unwrap();
        assert_eq!(r.single_file(), Some("model.gguf"));
        assert_eq!(r.url_for("model.gguf"), "http://127.0.0.1:1/m/model.gguf");
        assert_eq!(
            r.evidence_name(crate::path::MANIFEST_FILE).as_deref(),
            Some("model.gguf.weightseal.manifest")
        );
        assert_eq!(r.evidence_name(crate::path::OMS_SIGNATURE_FILE), None);
        let longest = format!("https://h/{}.gguf", "x".repeat(226));
        assert!(one(&longest).is_some());
    }

    #[test]
    fn urls() {
        let r = Remote::new("http://127.0.0.1:1/m/", FetchOptions::default()).unwrap();
        assert_eq!(r.url_for("a/b c"), "http://127.0.0.1:1/m/a/b%20c");
        let t = FetchOptions {
            url_template: Some("https://h/org/m/resolve/main/{path}".into()),
            ..Default::default()
        };
        assert_eq!(
            Remote::new("https://h", t).unwrap().url_for("x.bin"),
            "https://h/org/m/resolve/main/x.bin"
        );
        assert!(matches!(
            Remote::new("file:///etc", FetchOptions::default()),
            Err(FetchError::BadUrl { .. })
        ));
    }
}
