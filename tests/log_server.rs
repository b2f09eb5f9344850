//! `log serve` and `witness serve` facing strangers, on loopback: a stalled body, a thousand
//! idle or slow connections, a megabyte of headers, a body slower than its deadline, more
//! connections than the bound, and a witness that fails — each server keeps answering everyone
//! else, within its limits, and says what it has to say.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};

use weightseal::attest::PrivateKey;
use weightseal::log::serve::{self, Limits};
use weightseal::log::witness::Witness;
use weightseal::log::{LogEntry, LogPolicy, TlogProof, VerifierKey};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A release entry for model `org/m{i}` (no attestations, so no version: it is admitted by a
/// log that requires no signature).
fn entry(i: u64) -> LogEntry {
    LogEntry {
        model: format!("org/m{i}"),
        manifest: weightseal::Digest(*blake3::hash(&i.to_le_bytes()).as_bytes()),
        version: None,
        attestations: vec![],
    }
}

/// An HTTP answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Reads one HTTP/1.1 answer (status line, headers, `Content-Length` bytes of body) from `c`.
fn read_answer(c: &mut TcpStream) -> std::io::Result<Answer> {
    let mut r = BufReader::new(c);
    let mut head = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the connection closed after {head:?}"),
            ));
        }
        if l == "\r\n" {
            break;
        }
        head.push_str(&l);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let mut a = Answer {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = a
        .header("content-length")
        .map(|l| l.parse().unwrap())
        .unwrap_or(0);
    a.body = vec![0; len];
    r.read_exact(&mut a.body)?;
    Ok(a)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// One request on a new connection, its answer read within `within`.
fn request(addr: SocketAddr, req: &[u8], within: Duration) -> std::io::Result<Answer> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(within))?;
    c.write_all(req)?;
    read_answer(&mut c)
}

fn get(addr: SocketAddr, path: &str, within: Duration) -> std::io::Result<Answer> {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        within,
    )
}

fn post(addr: SocketAddr, path: &str, body: &[u8], within: Duration) -> std::io::Result<Answer> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    request(addr, &req, within)
}

/// Whether `c` was closed by the server (end of stream or reset) within its read timeout.
fn closed(c: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match c.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// Lets this process (and the servers it starts) open `n` files.
fn allow_open_files(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let r = getrlimit(Resource::Nofile);
    if r.current.is_some_and(|c| c < n) {
        let want = r.maximum.map_or(n, |m| m.min(n));
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: r.maximum,
            },
        )
        .unwrap();
        assert!(want >= n, "RLIMIT_NOFILE's hard limit {want} is below {n}");
    }
}

use common::tlog::Served as Server;

/// A log directory (`log init` by the binary), its key, and its verifier key.
struct Log {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    vkey: String,
}

fn init_log() -> Log {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("log.key");
    let o = common::ws(&["keygen", "--out", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let dir = tmp.path().join("log");
    let o = common::ws(&[
        "log",
        "init",
        s(&dir),
        "--origin",
        "example.test/served",
        "--key",
        s(&key),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let vkey = common::stdout(&o).lines().next().unwrap().to_string();
    Log {
        tmp,
        dir,
        key,
        vkey,
    }
}

fn log_serve(log: &Log, extra: &[&str]) -> Server {
    let mut args = vec![
        "log",
        "serve",
        s(&log.dir),
        "--key",
        s(&log.key),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start(&args, false)
}

fn witness_serve(log: &Log) -> Server {
    let key = log.tmp.path().join("w.key");
    let o = common::ws(&["keygen", "--out", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    Server::start(
        &[
            "witness",
            "serve",
            "--key",
            s(&key),
            "--name",
            "w.test",
            "--log",
            &log.vkey,
            "--listen",
            "127.0.0.1:0",
            "--state",
            s(&log.tmp.path().join("w.json")),
        ],
        true,
    )
}

/// The answer to `POST /add` of `e` is its proof, and it verifies under the log's key.
fn assert_logged(a: &Answer, e: &LogEntry, vkey: &str) {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("text/x.tlog-proof")
    );
    let policy = LogPolicy::new(VerifierKey::parse(vkey).unwrap(), vec![], 0).unwrap();
    TlogProof::parse(&a.body)
        .unwrap()
        .verify(&policy, &e.model, e.manifest)
        .unwrap();
}

/// A client that sends `POST /add` headers promising 100000 bytes and never sends them:
/// `log serve` still answers `GET /checkpoint` and logs another submission; `witness serve`
/// still cosigns another `POST /add-checkpoint`.
#[test]
fn a_stalled_body_does_not_stop_the_log_or_the_witness() {
    let log = init_log();
    let server = log_serve(&log, &["--batch-ms", "10"]);
    let mut stalled = connect(server.addr);
    stalled
        .write_all(b"POST /add HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let a = get(server.addr, "/checkpoint", Duration::from_secs(2))
        .expect("GET /checkpoint answered while a body stalls");
    assert_eq!(a.status, 200);
    assert!(
        a.body.starts_with(b"example.test/served\n0\n"),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    let e = entry(1);
    let a = post(server.addr, "/add", &e.encode(), Duration::from_secs(5))
        .expect("POST /add answered while a body stalls");
    assert_logged(&a, &e, &log.vkey);

    let w = witness_serve(&log);
    let mut stalled = connect(w.addr);
    stalled
        .write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let mut body = b"old 0\n\n".to_vec();
    body.extend(std::fs::read(log.dir.join("checkpoint")).unwrap());
    let a = post(w.addr, "/add-checkpoint", &body, Duration::from_secs(2))
        .expect("POST /add-checkpoint answered while another body stalls");
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert!(
        String::from_utf8_lossy(&a.body).starts_with("\u{2014} w.test "),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
}

/// A thousand connections held open — idle, a request head half sent, a `POST /add` body
/// half sent — and `GET /checkpoint` on a new one is still answered within a second.
#[test]
fn a_thousand_idle_or_slow_connections_leave_room_for_a_get() {
    allow_open_files(4096);
    let log = init_log();
    let server = log_serve(&log, &[]);
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut c = connect(server.addr);
        match i % 3 {
            0 => {}
            1 => c
                .write_all(b"GET /checkpoint HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .unwrap(),
            _ => c
                .write_all(b"POST /add HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nslow")
                .unwrap(),
        }
        held.push(c);
    }
    for _ in 0..3 {
        let t = Instant::now();
        let a = get(server.addr, "/checkpoint", Duration::from_secs(1))
            .expect("GET /checkpoint answered within 1 s beside 1000 idle or slow connections");
        assert_eq!(a.status, 200);
        assert!(a.body.starts_with(b"example.test/served\n"));
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    // They are all still open (none was refused to make room): the server has not answered
    // or closed any of the first ones yet.
    held[0]
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut b = [0u8; 1];
    let r = held[0].read(&mut b);
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "{r:?}"
    );
}

/// A request head of 1 MiB is refused (431, or the connection closed) without the server
/// growing: its peak resident memory stays under 64 MiB, and it goes on answering.
#[test]
fn a_megabyte_of_headers_is_refused_and_memory_stays_small() {
    let log = init_log();
    let server = log_serve(&log, &[]);
    let before = server.peak_rss_kib();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let _ = c.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: t\r\nX-Big: ");
                let chunk = vec![b'a'; 64 << 10];
                for _ in 0..16 {
                    if c.write_all(&chunk).is_err() {
                        break; // the server closed the connection
                    }
                }
                let _ = c.write_all(b"\r\n\r\n");
                read_answer(&mut c).map(|a| a.status)
            })
        })
        .collect();
    for c in clients {
        match c.join().unwrap() {
            Ok(status) => assert_eq!(status, 431, "a 1 MiB head was answered {status}"),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ),
                "{e}"
            ),
        }
    }
    let peak = server.peak_rss_kib();
    assert!(
        peak < 64 << 10,
        "peak RSS {peak} KiB (before: {before} KiB)"
    );
    let a = get(server.addr, "/checkpoint", Duration::from_secs(2)).unwrap();
    assert_eq!(a.status, 200);
}

/// A body that trickles in slower than the body deadline: answered 408 and cut off at the
/// deadline, by the log and by the witness; a body in time is logged.
#[test]
fn a_body_slower_than_its_deadline_is_cut_off() {
    let limits = Limits {
        body_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let (tmp, log_addr, vkey) = common::tlog::library_log(limits);
    let witness = {
        let listener = serve::bind("127.0.0.1:0").unwrap();
        let addr = listener.server_addr();
        let w = Witness::open(
            "w.test",
            Arc::new(PrivateKey::from_seed(&[4; 32])),
            vec![vkey.clone()],
            &tmp.path().join("w.json"),
        )
        .unwrap();
        std::thread::spawn(move || serve::serve_witness(listener, w, limits));
        addr
    };
    for (addr, path) in [(log_addr, "/add"), (witness, "/add-checkpoint")] {
        let mut c = connect(addr);
        c.write_all(
            format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let t = Instant::now();
        // One byte every 50 ms: 1000 bytes would take 50 s.
        let mut drip = c.try_clone().unwrap();
        let dripping = std::thread::spawn(move || {
            while drip.write_all(b"x").is_ok() && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let a = read_answer(&mut c).expect("an answer to a slow body");
        let took = t.elapsed();
        assert_eq!(
            a.status,
            408,
            "{path}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.header("connection").as_deref(), Some("close"), "{path}");
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(3),
            "{path}: answered after {took:?}"
        );
        assert!(closed(&mut c), "{path}: the connection stays open");
        dripping.join().unwrap();
    }
    // A body in time is logged.
    let e = entry(7);
    let a = post(log_addr, "/add", &e.encode(), Duration::from_secs(5)).unwrap();
    assert_logged(&a, &e, &vkey.to_string());
}

/// More connections than the bound: the one past it waits (not accepted, not answered) until
/// the idle ones are dropped by the header timeout, then it is answered.
#[test]
fn connections_past_the_bound_wait_for_an_idle_one_to_be_dropped() {
    let (_tmp, addr, _) = common::tlog::library_log(Limits {
        connections: 2,
        header_timeout: Duration::from_millis(600),
        ..Limits::default()
    });
    let mut idle = [connect(addr), connect(addr)];
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let mut c = connect(addr);
    c.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let early = read_answer(&mut c);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "answered past the bound of 2 connections: {early:?}"
    );
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let a = read_answer(&mut c).expect("answered once the idle connections are dropped");
    assert_eq!(a.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t.elapsed()
    );
    for i in &mut idle {
        assert!(closed(i), "an idle connection outlived the header timeout");
    }
}

/// What a log serves, with how long a cache may keep it; an oversized or malformed
/// submission is refused with its reason.
#[test]
fn files_carry_their_cache_lifetimes_and_bad_submissions_are_refused() {
    let (_tmp, addr, vkey) = common::tlog::library_log(Limits::default());
    // 257 entries: one full tile (tile/0/000, tile/entries/000) and partial ones after it.
    let es: Vec<LogEntry> = (0..257).map(entry).collect();
    let threads: Vec<_> = es
        .chunks(64)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let vkey = vkey.to_string();
            std::thread::spawn(move || {
                for e in chunk {
                    let a = post(addr, "/add", &e.encode(), Duration::from_secs(10)).unwrap();
                    assert_logged(&a, &e, &vkey);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let a = get(addr, "/checkpoint", Duration::from_secs(2)).unwrap();
    assert_eq!(
        (a.status, a.header("cache-control").as_deref()),
        (200, Some("public, max-age=5"))
    );
    assert!(a.body.starts_with(b"example.test/library\n257\n"));
    for (path, len, cache) in [
        (
            "/tile/0/000",
            256 * 32,
            "public, max-age=31536000, immutable",
        ),
        ("/tile/0/001.p/1", 32, "public, max-age=5"),
    ] {
        let a = get(addr, path, Duration::from_secs(2)).unwrap();
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.body.len(), len, "{path}");
        assert_eq!(a.header("cache-control").as_deref(), Some(cache), "{path}");
    }
    let a = get(addr, "/tile/entries/000", Duration::from_secs(2)).unwrap();
    assert_eq!(
        a.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    for path in [
        "/.weightseal-log/hashes",
        "/tile/../checkpoint",
        "/tile/0/001.p",
    ] {
        let a = get(addr, path, Duration::from_secs(2)).unwrap();
        assert_eq!(a.status, 404, "{path}");
    }
    // A body larger than 2 MiB, announced: 413 before it is read.
    let a = request(
        addr,
        b"POST /add HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n",
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(a.status, 413, "{}", String::from_utf8_lossy(&a.body));
    // Not an entry: 400, with the reason.
    let a = post(addr, "/add", b"not an entry", Duration::from_secs(2)).unwrap();
    assert_eq!(a.status, 400);
    assert!(
        String::from_utf8_lossy(&a.body).starts_with("log entry: "),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
}

/// `log serve` with a witness that cannot be reached (its URL carrying a password): the
/// submission is logged all the same, and stderr names the witness, never its password
/// (spec/log.md: a witness that refuses is reported), once a minute for the same failure.
#[test]
fn log_serve_names_a_failing_witness_without_its_password() {
    let log = init_log();
    let vkey = weightseal::log::LogSigner::cosigner(
        "w.test",
        Arc::new(PrivateKey::from_seed(&[5; 32])),
        0,
    )
    .unwrap()
    .verifier()
    .to_string();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let witness = format!("http://user:s3cretpass@127.0.0.1:{port}={vkey}");
    let server = log_serve(&log, &["--batch-ms", "10", "--witness", &witness]);
    let e = entry(2);
    let a = post(server.addr, "/add", &e.encode(), Duration::from_secs(20)).unwrap();
    assert_logged(&a, &e, &log.vkey);
    let deadline = Instant::now() + Duration::from_secs(5);
    let warning = loop {
        let err = server.stderr.lock().unwrap().clone();
        if let Some(l) = err
            .lines()
            .find(|l| l.starts_with("weightseal: warning: witness "))
        {
            break (l.to_string(), err);
        }
        assert!(Instant::now() < deadline, "no witness warning in {err:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        warning.0.starts_with(&format!(
            "weightseal: warning: witness http://***:***@127.0.0.1:{port}/: "
        )),
        "{}",
        warning.0
    );
    assert!(!warning.1.contains("s3cretpass"), "{}", warning.1);
    // The same failure for the next batch, within the minute: not repeated.
    let e = entry(3);
    let a = post(server.addr, "/add", &e.encode(), Duration::from_secs(20)).unwrap();
    assert_logged(&a, &e, &log.vkey);
    std::thread::sleep(Duration::from_millis(200));
    let err = server.stderr.lock().unwrap().clone();
    assert_eq!(
        err.matches("weightseal: warning: witness ").count(),
        1,
        "{err}"
    );
    assert!(server.first_line.is_none());
}

/// A release entry for `org/signed-{i}` version 1, with one publisher attestation by `key`.
fn signed_entry(i: u64, key: &PrivateKey) -> LogEntry {
    use weightseal::attest::dsse::Envelope;
    use weightseal::attest::statement::{Predicate, Statement};
    let name = format!("org/signed-{i}");
    let digest = weightseal::Digest(*blake3::hash(&i.to_be_bytes()).as_bytes());
    let st = Statement::new(
        &name,
        digest,
        Predicate {
            role: "publisher".into(),
            signer: "acme".into(),
            issued_at: "2026-11-30T00:00:00Z".into(),
            expires_at: None,
            version: Some(1),
            derived_from: vec![],
            annotations: Default::default(),
            derivation: None,
        },
    );
    LogEntry {
        model: name,
        manifest: digest,
        version: Some(1),
        attestations: vec![Envelope::sign(&st.to_bytes(), key).to_line()],
    }
}

/// `log serve --require-signed-by`: an entry the key signed is logged; one it did not sign,
/// unsigned or signed by another key, is refused with 400 and the reason.
#[test]
fn log_serve_requires_the_publisher_signature_it_was_given() {
    let log = init_log();
    let acme = PrivateKey::from_seed(&[0x42; 32]);
    let pub_key = log.tmp.path().join("acme.pub");
    std::fs::write(&pub_key, acme.public().to_pem()).unwrap();
    let server = log_serve(
        &log,
        &["--batch-ms", "5", "--require-signed-by", s(&pub_key)],
    );
    let e = signed_entry(1, &acme);
    let a = post(server.addr, "/add", &e.encode(), Duration::from_secs(10)).unwrap();
    assert_logged(&a, &e, &log.vkey);
    let other = PrivateKey::from_seed(&[0x43; 32]);
    for e in [entry(4), signed_entry(2, &other)] {
        let a = post(server.addr, "/add", &e.encode(), Duration::from_secs(10)).unwrap();
        assert_eq!(a.status, 400, "{}", String::from_utf8_lossy(&a.body));
        assert_eq!(
            String::from_utf8_lossy(&a.body),
            format!(
                "log entry: {:?} (manifest {}) is not signed as publisher by a key this log requires\n",
                e.model, e.manifest
            )
        );
    }
}
