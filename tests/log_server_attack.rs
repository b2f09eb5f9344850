//! `log serve` attacked by strangers on loopback: each test an attack that once worked.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use weightseal::log::serve::Limits;

/// The status of the answer to `GET path` on a new connection, read within `within`.
fn get_status(addr: SocketAddr, path: &str, within: Duration) -> std::io::Result<u16> {
    let mut c = TcpStream::connect_timeout(&addr, within)?;
    c.set_read_timeout(Some(within))?;
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut head = [0u8; 12];
    c.read_exact(&mut head)?;
    Ok(std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap())
}

/// A client that asks for a large tile and never reads the answer: the server's writes block.
/// It must not hold its connection (and the answer's memory) for ever: with one connection
/// allowed, everyone else would wait for ever.
#[test]
fn a_client_that_never_reads_its_answer_is_dropped() {
    let (tmp, addr, _) = common::tlog::library_log(Limits {
        connections: 1,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let tile = tmp.path().join("log/tile/entries");
    std::fs::create_dir_all(&tile).unwrap();
    std::fs::write(tile.join("000"), vec![7u8; 16 << 20]).unwrap();
    let mut hog = TcpStream::connect(addr).unwrap();
    let req = "GET /tile/entries/000 HTTP/1.1\r\nHost: t\r\n\r\n".repeat(4);
    hog.write_all(req.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let status = get_status(addr, "/checkpoint", Duration::from_secs(6));
    assert_eq!(
        status.ok(),
        Some(200),
        "a GET waited {:?} behind a client that does not read",
        t.elapsed()
    );
    drop(hog);
}

/// Slow readers each asking for a 15 MiB entry bundle: the files held in answers not yet
/// written stay within `answer_memory` (a further GET of the bundle waits, then 503), and a
/// small file still fits beside them.
#[test]
fn answers_held_by_slow_readers_stay_within_their_memory() {
    let (tmp, addr, _) = common::tlog::library_log(Limits {
        answer_memory: 16 << 20,
        request_timeout: Duration::from_millis(800),
        write_timeout: Duration::from_secs(30),
        ..Limits::default()
    });
    let tile = tmp.path().join("log/tile/entries");
    std::fs::create_dir_all(&tile).unwrap();
    std::fs::write(tile.join("000"), vec![7u8; 15 << 20]).unwrap();
    // One client takes the bundle's room and never reads.
    let mut hog = TcpStream::connect(addr).unwrap();
    hog.write_all(b"GET /tile/entries/000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A second one for the same bundle finds no room: 503 once the request deadline passes.
    let t = Instant::now();
    assert_eq!(
        get_status(addr, "/tile/entries/000", Duration::from_secs(5)).ok(),
        Some(503)
    );
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    // The checkpoint fits in what is left.
    assert_eq!(
        get_status(addr, "/checkpoint", Duration::from_secs(5)).ok(),
        Some(200)
    );
    drop(hog);
    // The hog gone, its room is given back.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        get_status(addr, "/tile/entries/000", Duration::from_secs(5)).ok(),
        Some(200)
    );
}
