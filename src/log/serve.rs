//! The HTTP side of a log operator: serving a log directory's checkpoint and tiles and
//! accepting submissions (`POST /add`), and serving a witness (`POST /add-checkpoint`).
//!
//! Both servers face strangers, so every limit is the server's own ([`Limits`]): the bytes and
//! the time a request's head may take (hyper's HTTP/1.1 parser answers 431 past the first, and
//! drops the connection past the second, an idle keep-alive connection included), the bytes
//! and the time its body may take (413 and 408, and the connection is closed), the time to its
//! answer, the bytes of request bodies held at once, and the connections served at once. Each
//! connection is its own task on a tokio runtime: nothing is read on the accept loop. What
//! blocks or may take long — checking a submission's publisher signatures, a witness recording
//! its state durably, reading a file — runs on tokio's blocking threads; appends run on one
//! writer thread that batches the submissions waiting, so one checkpoint (one round of fsyncs)
//! answers a whole batch.
//!
//! The library never prints: what a log server has to report (a witness that did not cosign,
//! a batch that could not be appended) goes to the caller's [`LogOptions::on_event`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::client::{WitnessClient, MAX_BODY};
use super::entry::{LogEntry, MAX_ENTRY_LEN};
use super::store::{LogDir, MAX_CHECKPOINT_LEN};
use super::witness::{Witness, MAX_REQUEST_LEN};
use super::{LogError, TILE_WIDTH};
use crate::attest::PrivateKey;

/// The largest file a log serves: a full entry bundle of 256 entries of 65535 bytes, each
/// with its 2-byte length.
const MAX_TILE_LEN: u64 = TILE_WIDTH * (2 + MAX_ENTRY_LEN as u64);

/// hyper's smallest read buffer, so the smallest bound on a request's head.
const MIN_HEADER_BYTES: usize = 8 << 10;

/// Threads for blocking work (signature checks, file reads, a witness's fsyncs).
const BLOCKING_THREADS: usize = 64;

/// What a server accepts from one client, and from all of them at once.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request head (request line and headers), in bytes (at least 8 KiB): a
    /// longer one is answered `431 Request Header Fields Too Large` and the connection closed.
    pub header_bytes: usize,
    /// Time allowed for a request's head, counted from the connection's opening or from the
    /// previous answer (so it is also how long an idle keep-alive connection stays open):
    /// past it, the connection is closed.
    pub header_timeout: Duration,
    /// Time allowed for a request's whole body, counted from its head: past it, `408 Request
    /// Timeout` and the connection is closed. (The largest body is the endpoint's: 2 MiB for
    /// `POST /add`, [`MAX_BODY`]; 1 MiB for `POST /add-checkpoint`, [`MAX_REQUEST_LEN`];
    /// larger is `413 Payload Too Large`.)
    pub body_timeout: Duration,
    /// Time allowed from a request's head to its answer (a submission waits for its batch and
    /// the witnesses): past it, `503 Service Unavailable` and the connection is closed.
    pub request_timeout: Duration,
    /// Time an answer's bytes may wait for the client to take them: a write that makes no
    /// progress for this long (a client that stops reading) closes the connection, which
    /// would otherwise hold its slot, and its answer, for as long as the client likes.
    pub write_timeout: Duration,
    /// Bytes of request bodies held at once, over all connections (at least the largest
    /// body): a body that would go past it waits for room, within its `body_timeout`.
    pub body_memory: usize,
    /// Bytes of files (tiles, the checkpoint) held at once in answers not yet written, over
    /// all connections: a `GET` that would go past it waits for room, within
    /// `request_timeout`, else `503` (a file larger than all of it takes all of it). Slow
    /// readers cannot make the server hold a tile each.
    pub answer_memory: usize,
    /// Connections served at once. Past it, no connection is accepted until one closes: new
    /// ones wait in the kernel's listen backlog, and when that is full the kernel drops their
    /// first packets and clients retry. Each connection is one file descriptor: the process
    /// must be allowed this many open files, and some more.
    pub connections: usize,
}

impl Default for Limits {
    /// 16 KiB heads in 10 s, bodies in 10 s, answers in 60 s, writes stalled at most 10 s,
    /// 64 MiB of bodies, 256 MiB of files in answers, 4096 connections.
    fn default() -> Limits {
        Limits {
            header_bytes: 16 << 10,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            body_memory: 64 << 20,
            answer_memory: 256 << 20,
            connections: 4096,
        }
    }
}

/// A listening socket, bound and not yet served: its address is known (port 0 picks one)
/// before [`serve_log`] or [`serve_witness`] starts answering on it.
#[derive(Debug)]
pub struct Listener {
    socket: std::net::TcpListener,
    addr: SocketAddr,
}

impl Listener {
    /// The address bound.
    pub fn server_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Connections the kernel completes and queues while the server has not yet accepted them
/// (capped by the kernel's `net.core.somaxconn`). std's 128 overflows when a burst of clients
/// connects faster than a busy machine accepts; each one refused then waits a second for its
/// SYN to be sent again.
const LISTEN_BACKLOG: i32 = 1024;

/// Binds a listening socket to `addr` (`HOST:PORT`).
pub fn bind(addr: &str) -> Result<Listener, LogError> {
    let err = |e: std::io::Error| LogError::Http(format!("cannot listen on {addr}: {e}"));
    let socket = std::net::TcpListener::bind(addr).map_err(err)?;
    // Listening again on a listening socket sets its backlog.
    rustix::net::listen(&socket, LISTEN_BACKLOG).map_err(|e| err(e.into()))?;
    let bound = socket.local_addr().map_err(err)?;
    Ok(Listener {
        socket,
        addr: bound,
    })
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

type Answer = Response<Full<Bytes>>;

/// A file's bytes in an answer, holding their share of [`Limits::answer_memory`] for as long as
/// they exist: until hyper has written them out or the connection is gone (hyper keeps the
/// bytes, not the body, in its write queue).
struct HeldFile {
    bytes: Vec<u8>,
    _room: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for HeldFile {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

fn answer(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: u16, message: impl std::fmt::Display) -> Answer {
    answer(
        status,
        "text/plain; charset=utf-8",
        format!("{message}\n").into_bytes(),
    )
}

/// `a`, with the connection closed after it (its body was not read to the end).
fn closing(mut a: Answer) -> Answer {
    a.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    a
}

/// The room [`Limits::answer_memory`] gives files in answers, in bytes (semaphore permits).
fn answer_room(limits: &Limits) -> usize {
    limits.answer_memory.clamp(1, u32::MAX as usize)
}

/// Why a request body was not read.
enum BodyError {
    TooLarge(usize),
    Timeout(Duration),
    Read(hyper::Error),
}

impl BodyError {
    fn answer(self) -> Answer {
        closing(match self {
            BodyError::TooLarge(max) => text(413, format!("request body larger than {max} bytes")),
            BodyError::Timeout(d) => text(
                408,
                format!("request body not received within {} ms", d.as_millis()),
            ),
            BodyError::Read(e) => text(400, format!("request body: {e}")),
        })
    }
}

/// Reads a request body of at most `max` bytes within `limits.body_timeout`, taking room for
/// it from `memory` (the bytes of bodies all connections may hold); the room is given back
/// when the permit returned is dropped.
async fn read_body(
    body: Incoming,
    max: usize,
    limits: &Limits,
    memory: &Arc<Semaphore>,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), BodyError> {
    if body.size_hint().lower() > max as u64 {
        return Err(BodyError::TooLarge(max));
    }
    let read = async {
        let mut body = body;
        let mut buf = Vec::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(BodyError::Read)?.into_data() else {
                continue; // trailers
            };
            if buf.len() + data.len() > max {
                return Err(BodyError::TooLarge(max));
            }
            if !data.is_empty() {
                let room = memory
                    .clone()
                    .acquire_many_owned(data.len() as u32)
                    .await
                    .expect("the body memory semaphore is never closed");
                match &mut held {
                    Some(h) => h.merge(room),
                    None => held = Some(room),
                }
            }
            buf.extend_from_slice(&data);
        }
        Ok((buf, held))
    };
    tokio::time::timeout(limits.body_timeout, read)
        .await
        .unwrap_or(Err(BodyError::Timeout(limits.body_timeout)))
}

/// A semaphore of `limits.body_memory` bytes (at least `max`, so one largest body always fits).
fn body_memory(limits: &Limits, max: usize) -> Arc<Semaphore> {
    let n = limits
        .body_memory
        .max(max)
        .min(Semaphore::MAX_PERMITS)
        .min(u32::MAX as usize);
    Arc::new(Semaphore::new(n))
}

/// Serves every connection accepted on `listener` with `handler`, within `limits`, until the
/// process ends.
fn run<H, F>(listener: Listener, limits: Limits, handler: H) -> Result<(), LogError>
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let addr = listener.addr;
    let err = move |what: &str, e: std::io::Error| LogError::Http(format!("{addr}: {what}: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weightseal-serve")
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(|e| err("cannot start the server's threads", e))?;
    listener
        .socket
        .set_nonblocking(true)
        .map_err(|e| err("cannot serve the socket", e))?;
    // The accept loop is a task on the workers (which poll the sockets themselves), not the
    // future `block_on` runs on this thread, woken from another one at each connection.
    let accepting = rt.spawn(async move {
        let socket = tokio::net::TcpListener::from_std(listener.socket)
            .map_err(|e| err("cannot serve the socket", e))?;
        let handler = Arc::new(handler);
        let slots = Arc::new(Semaphore::new(limits.connections.max(1)));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(limits.header_bytes.max(MIN_HEADER_BYTES))
            .keep_alive(true);
        loop {
            let slot = slots
                .clone()
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed");
            let stream = match socket.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors or memory, or a connection gone before it was
                    // accepted: wait a little rather than spin, then accept again.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                    ) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let service = hyper::service::service_fn(move |req| {
                let answered = tokio::time::timeout(limits.request_timeout, handler(req));
                async move {
                    Ok::<_, Infallible>(answered.await.unwrap_or_else(|_| {
                        closing(text(
                            503,
                            format!(
                                "no answer within {} s",
                                limits.request_timeout.as_secs_f64()
                            ),
                        ))
                    }))
                }
            });
            let stream = Stalling {
                io: stream,
                timeout: limits.write_timeout,
                stalled: None,
            };
            let conn = http.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(slot);
            });
        }
    });
    rt.block_on(accepting)
        .map_err(|e| LogError::Http(format!("{addr}: the accept loop stopped: {e}")))?
}

/// A connection whose writes fail once one has waited `timeout` for the client to take bytes
/// (hyper has no write timeout of its own).
struct Stalling {
    io: tokio::net::TcpStream,
    timeout: Duration,
    /// When the write now waiting gives up.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stalling {
    /// After a write that returned `r`: when it is waiting, whether it has waited too long.
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took no bytes of its answer in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for Stalling {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Stalling {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let s = self.get_mut();
        let r = Pin::new(&mut s.io).poll_write(cx, buf);
        s.check(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let s = self.get_mut();
        let r = Pin::new(&mut s.io).poll_write_vectored(cx, bufs);
        s.check(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let s = self.get_mut();
        let r = Pin::new(&mut s.io).poll_flush(cx);
        s.check(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let s = self.get_mut();
        let r = Pin::new(&mut s.io).poll_shutdown(cx);
        s.check(cx, r)
    }
}

/// How `log serve` batches submissions.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// The longest a submission waits for others to join its batch: a checkpoint at least
    /// this often while submissions wait. Submissions that arrive while a batch is being
    /// written make the next batch without waiting.
    pub every: Duration,
    /// Or as soon as this many wait.
    pub max: usize,
}

impl Batching {
    /// `log serve`'s defaults: 1 ms, 256 entries (one full tile). Batches form mostly while
    /// the previous one is being written; a longer wait adds latency and, with clients that
    /// each wait for their answer, lowers throughput (bench/log-serve.sh).
    pub const DEFAULT: Batching = Batching {
        every: Duration::from_millis(1),
        max: 256,
    };
}

impl Default for Batching {
    fn default() -> Batching {
        Batching::DEFAULT
    }
}

/// What a log server reports while it runs (it never prints; [`LogOptions::on_event`] does
/// what the caller wants with it).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A witness did not cosign the checkpoint of `size` entries, which was published without
    /// its cosignature: `failure` is `URL: reason`, the URL's credentials redacted.
    WitnessFailed { size: u64, failure: &'a str },
    /// A batch of `entries` submissions could not be appended; each was answered 500.
    AddFailed { entries: usize, error: &'a LogError },
}

/// How [`serve_log`] runs.
pub struct LogOptions {
    pub batching: Batching,
    /// Accept only entries signed as publisher under this policy (`log serve
    /// --require-signed-by`); `None`, any well-formed release entry.
    pub required: Option<crate::attest::Policy>,
    pub limits: Limits,
    /// Called (on the writer thread) with each [`Event`].
    pub on_event: Arc<dyn Fn(Event<'_>) + Send + Sync>,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            batching: Batching::DEFAULT,
            required: None,
            limits: Limits::default(),
            on_event: Arc::new(|_| {}),
        }
    }
}

/// A submission waiting for its batch: the entry, when it arrived, where its answer goes.
struct Pending {
    entry: Vec<u8>,
    since: Instant,
    reply: oneshot::Sender<Result<Vec<u8>, String>>,
}

/// What every request of a log server shares.
struct LogState {
    root: PathBuf,
    required: Arc<Option<crate::attest::Policy>>,
    limits: Limits,
    memory: Arc<Semaphore>,
    /// Room for files in answers not yet written ([`Limits::answer_memory`]).
    answers: Arc<Semaphore>,
    writer: mpsc::Sender<Pending>,
}

/// Serves the log directory `dir` on `listener` until the process ends: its checkpoint and
/// tiles (`GET`), and submissions (`POST /add`, the body a log entry; the answer the entry's
/// `weightseal.tlog-proof` once a checkpoint that includes it is durably written). Submissions
/// are batched into one checkpoint (see [`Batching`]), cosigned by `witnesses`; each is
/// checked with [`LogEntry::admit`] first (400 when it is refused).
pub fn serve_log(
    listener: Listener,
    dir: &Path,
    key: Arc<PrivateKey>,
    witnesses: Vec<WitnessClient>,
    options: LogOptions,
) -> Result<(), LogError> {
    let LogOptions {
        batching,
        required,
        limits,
        on_event,
    } = options;
    let (tx, rx) = mpsc::channel::<Pending>();
    let log = LogDir::new(dir);
    std::thread::Builder::new()
        .name("weightseal-log-writer".into())
        .spawn(move || write_batches(rx, log, key, witnesses, batching, &*on_event))
        .map_err(|e| LogError::Http(format!("cannot start the log's writer thread: {e}")))?;
    let state = Arc::new(LogState {
        root: dir.to_path_buf(),
        required: Arc::new(required),
        limits,
        memory: body_memory(&limits, MAX_BODY as usize),
        answers: Arc::new(Semaphore::new(answer_room(&limits))),
        writer: tx,
    });
    run(listener, limits, move |req| log_request(state.clone(), req))
}

/// The writer thread: takes the submissions waiting (up to `batching.max`, waiting up to
/// `batching.every` after the first one's arrival for more), appends them in one
/// [`LogDir::add`], and answers each with its proof.
fn write_batches(
    rx: mpsc::Receiver<Pending>,
    log: LogDir,
    key: Arc<PrivateKey>,
    witnesses: Vec<WitnessClient>,
    batching: Batching,
    on_event: &(dyn Fn(Event<'_>) + Send + Sync),
) {
    let max = batching.max.max(1);
    while let Ok(first) = rx.recv() {
        let deadline = first.since + batching.every;
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match rx.recv_timeout(left) {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
            }
        }
        // A submitter that is gone (its request timed out, its connection closed) was not told
        // its entry is logged: it is not appended.
        batch.retain(|p| !p.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let (entries, replies): (Vec<Vec<u8>>, Vec<_>) =
            batch.into_iter().map(|p| (p.entry, p.reply)).unzip();
        match log.add(key.clone(), &entries, &witnesses) {
            Ok(added) => {
                for failure in &added.witness_failures {
                    on_event(Event::WitnessFailed {
                        size: added.size,
                        failure,
                    });
                }
                match log.proofs(added.first, &entries) {
                    Ok(proofs) => {
                        for (proof, reply) in proofs.into_iter().zip(replies) {
                            let _ = reply.send(Ok(proof.encode()));
                        }
                    }
                    Err(e) => {
                        for reply in replies {
                            let _ = reply.send(Err(format!("logged, but no proof: {e}")));
                        }
                    }
                }
            }
            Err(e) => {
                on_event(Event::AddFailed {
                    entries: entries.len(),
                    error: &e,
                });
                for reply in replies {
                    let _ = reply.send(Err(format!("not logged: {e}")));
                }
            }
        }
    }
}

async fn log_request(s: Arc<LogState>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().trim_start_matches('/').to_string();
    match (req.method(), path.as_str()) {
        (&Method::POST, "add") => submit(&s, req.into_body()).await,
        (&Method::GET | &Method::HEAD, p) if servable(p) => serve_file(&s, p).await,
        _ => text(404, "not found"),
    }
}

/// `POST /add`: read, admit, hand to the writer, answer with the proof.
async fn submit(s: &LogState, body: Incoming) -> Answer {
    let (body, _room) = match read_body(body, MAX_BODY as usize, &s.limits, &s.memory).await {
        Ok(b) => b,
        Err(e) => return e.answer(),
    };
    // Without a required publisher, admitting is decoding and comparing: done here. With one,
    // it checks signatures (as many as the entry carries envelopes naming a required key):
    // on the blocking threads, so that no entry holds up the connections the workers serve.
    let now = crate::attest::time::Timestamp::now();
    let body = if s.required.is_none() {
        if let Err(e) = LogEntry::admit(&body, None, now) {
            return text(400, e);
        }
        body
    } else {
        let required = s.required.clone();
        let admitted = tokio::task::spawn_blocking(move || {
            let r = LogEntry::admit(&body, required.as_ref().as_ref(), now);
            (body, r)
        })
        .await;
        match admitted {
            Ok((body, Ok(_))) => body,
            Ok((_, Err(e))) => return text(400, e),
            Err(e) => return text(500, format!("the entry could not be checked: {e}")),
        }
    };
    let (reply, answered) = oneshot::channel();
    let pending = Pending {
        entry: body,
        since: Instant::now(),
        reply,
    };
    if s.writer.send(pending).is_err() {
        return text(503, "the log is not accepting entries");
    }
    match answered.await {
        Ok(Ok(proof)) => answer(200, "text/x.tlog-proof", proof),
        Ok(Err(e)) => text(500, e),
        Err(_) => text(500, "the log's writer stopped before answering"),
    }
}

/// `GET` of `checkpoint` or a tile, with how long caches may keep it: the checkpoint changes
/// (revalidate every time), a partial tile is soon superseded (a minute), a full tile never
/// changes (a year, immutable).
async fn serve_file(s: &LogState, p: &str) -> Answer {
    let path = s.root.join(p);
    let checkpoint = p == "checkpoint";
    let max = if checkpoint {
        MAX_CHECKPOINT_LEN
    } else {
        MAX_TILE_LEN
    };
    // Room for the file until its answer is written: its size now (a tile or checkpoint is
    // replaced whole, never grown in place), at most the largest read.
    // (One stat: it does not wait on the file's contents.)
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len().min(max),
        Err(_) => return text(404, "not found"),
    };
    let room = match tokio::time::timeout(
        s.limits.request_timeout,
        // A file larger than all the room takes all of it.
        s.answers
            .clone()
            .acquire_many_owned(size.clamp(1, answer_room(&s.limits) as u64) as u32),
    )
    .await
    {
        Ok(Ok(r)) => r,
        _ => return closing(text(503, "too many answers in flight; try again")),
    };
    let read = tokio::task::spawn_blocking(move || crate::fsutil::read_regular(&path, max)).await;
    let bytes = match read {
        Ok(Ok(Some(b))) => b,
        Ok(Ok(None)) => return text(404, "not found"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return text(404, "not found")
        }
        Ok(Err(e)) => return text(500, format!("cannot read /{p}: {e}")),
        Err(e) => return text(500, format!("cannot read /{p}: {e}")),
    };
    // The same headers as deploy/nginx.conf: what changes with an append (the checkpoint,
    // and which partial tiles exist) a few seconds at most; a full tile forever.
    let (ct, cache) = if checkpoint {
        ("text/plain; charset=utf-8", "public, max-age=5")
    } else if p.contains(".p/") {
        ("application/octet-stream", "public, max-age=5")
    } else {
        (
            "application/octet-stream",
            "public, max-age=31536000, immutable",
        )
    };
    let mut a = answer(200, ct, Bytes::from_owner(HeldFile { bytes, _room: room }));
    a.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    a
}

/// Serves `witness` on `listener` (`POST /add-checkpoint`, within `limits`) until the
/// process ends.
pub fn serve_witness(listener: Listener, witness: Witness, limits: Limits) -> Result<(), LogError> {
    let witness = Arc::new(witness);
    let memory = body_memory(&limits, MAX_REQUEST_LEN);
    run(listener, limits, move |req| {
        witness_request(witness.clone(), memory.clone(), limits, req)
    })
}

async fn witness_request(
    witness: Arc<Witness>,
    memory: Arc<Semaphore>,
    limits: Limits,
    req: Request<Incoming>,
) -> Answer {
    if req.method() != Method::POST || req.uri().path() != "/add-checkpoint" {
        return text(404, "not found");
    }
    let (body, _room) = match read_body(req.into_body(), MAX_REQUEST_LEN, &limits, &memory).await {
        Ok(b) => b,
        Err(e) => return e.answer(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now)).await {
        Ok(a) => answer(a.status, a.content_type, a.body),
        Err(e) => text(500, format!("the checkpoint could not be checked: {e}")),
    }
}
