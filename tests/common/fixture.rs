//! A signed model served by the loopback test server, and a destination to fetch it into.

use std::fs;
use std::path::Path;

use super::server::Server;
use super::{stderr, ws};

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// A signed model: 16 KiB chunks; `big.bin` has 19 chunks.
pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub model: std::path::PathBuf,
    pub key_pub: std::path::PathBuf,
    pub other_pub: std::path::PathBuf,
    pub dest: std::path::PathBuf,
    pub server: Server,
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir_all(model.join("sub")).unwrap();
    fs::write(model.join("big.bin"), bytes(300_000, 1)).unwrap();
    fs::write(model.join("small.bin"), bytes(50_000, 2)).unwrap();
    fs::write(model.join("config.json"), br#"{"a": 1}"#).unwrap();
    fs::write(model.join("empty.txt"), b"").unwrap();
    fs::write(model.join("sub/with space.bin"), bytes(20_000, 3)).unwrap();
    let key = tmp.path().join("k");
    assert_eq!(ws(&["keygen", "--out", s(&key)]).status.code(), Some(0));
    let other = tmp.path().join("other");
    assert_eq!(ws(&["keygen", "--out", s(&other)]).status.code(), Some(0));
    assert_eq!(
        ws(&["hash", s(&model), "--chunk-size", "16K"])
            .status
            .code(),
        Some(0)
    );
    let o = ws(&["sign", s(&model), "--key", s(&key), "--signer", "pub"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let server = Server::start(model.clone());
    Fixture {
        dest: tmp.path().join("dest"),
        key_pub: tmp.path().join("k.pub"),
        other_pub: tmp.path().join("other.pub"),
        model,
        server,
        _tmp: tmp,
    }
}

pub fn fetch(f: &Fixture, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "fetch",
        &f.server.base,
        s(&f.dest),
        "--key",
        s(&f.key_pub),
        "--timeout",
        "2",
        "--retries",
        "3",
    ];
    args.extend_from_slice(extra);
    ws(&args)
}
