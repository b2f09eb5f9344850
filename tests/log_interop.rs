//! The log against logs and witnesses that are not ours.
//!
//! - siglog (crate `siglog` 0.1.0, prefix-dev, BSD-3): a Tessera-compatible C2SP tiles log server
//!   and a witness. Our tile reader checks its checkpoint (a signed note under its key) and its
//!   tree (the entries of its bundles make the checkpoint's root), and refuses what siglog
//!   writes off the C2SP format: hash tiles longer than their width (the tile's inner levels
//!   follow its bottom row) and a full entry bundle holding only the batch that filled it. Cut
//!   to C2SP's width, its hash tiles give inclusion proofs that check against its checkpoint and
//!   are byte for byte our log's tiles for the same entries. Its witness answers
//!   `add-checkpoint` with a plain Ed25519 note signature (type 0x01), which weightseal does not
//!   accept as a witness's cosignature: `log add --witness` says so, naming what it sent.
//!   Found in `$SIGLOG_BIN` (the `bin` folder of `cargo install siglog --root DIR`, holding
//!   `siglog` and `witness`) or beside `siglog` on `PATH`; `.ci/run` installs it. Missing: skipped
//!   with a printed reason under a bare `cargo test`, a failure under `CI=true`.
//! - aics-witness (PyPI, Apache-2.0): a C2SP tlog-witness answering with `cosignature/v1`. Our
//!   log gets its cosignatures, `verify --witness` accepts them, and it refuses to cosign a fork
//!   of our log. Its sibling `aics-tlog` (a C2SP tiles client) verifies our checkpoint, our
//!   witness's cosignature and an inclusion proof it computes from our tiles. Found in
//!   `$WEIGHTSEAL_AICS_WITNESS` (the `aics-witness` executable, `aics-tlog` beside it) or
//!   `.venv-witness/bin` (made by `scripts/test.sh`); missing: skipped, or a failure under
//!   `CI=true`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::tlog::{self, s, text, Proc};
use common::{stderr, stdout, ws};
use weightseal::attest::PrivateKey;
use weightseal::log::keys::{ALG_COSIGNATURE_V1, ALG_ED25519};
use weightseal::log::{LogError, VerifierKey};

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// A tool the test needs, or `None` after printing why it is skipped (a failure under CI=true).
fn required(test: &str, what: &str, found: Option<PathBuf>, how: &str) -> Option<PathBuf> {
    if found.is_none() {
        if ci() {
            panic!("{test}: CI=true but {what} is missing ({how})");
        }
        eprintln!("SKIPPED {test}: no {what} ({how})");
    }
    found
}

/// The folder holding siglog's `siglog` and `witness` binaries.
fn siglog_bin(test: &str) -> Option<PathBuf> {
    let has = |d: &Path| d.join("siglog").is_file() && d.join("witness").is_file();
    let found = std::env::var_os("SIGLOG_BIN")
        .map(PathBuf::from)
        .filter(|d| has(d))
        .or_else(|| {
            std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| has(d)))
        });
    required(
        test,
        "siglog",
        found,
        "cargo install siglog --locked --root DIR, then SIGLOG_BIN=DIR/bin",
    )
}

/// The `aics-witness` executable (with `aics-tlog` beside it).
fn aics_witness(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("WEIGHTSEAL_AICS_WITNESS")
        .map(PathBuf::from)
        .or_else(|| {
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-witness/bin/aics-witness"))
        })
        .filter(|p| p.is_file());
    required(
        test,
        "aics-witness",
        found,
        "scripts/test.sh installs it into .venv-witness",
    )
}

/// A signed-note private key as siglog reads it, `PRIVATE+KEY+NAME+ID+base64(0x01 || seed)`,
/// and the same key as a verifier key of type `alg`.
fn note_key(name: &str, seed: [u8; 32], alg: u8) -> (String, VerifierKey) {
    let public = PrivateKey::from_seed(&seed).public();
    let note = VerifierKey::new(name, ALG_ED25519, &public).unwrap();
    let mut raw = vec![ALG_ED25519];
    raw.extend_from_slice(&seed);
    let private = format!(
        "PRIVATE+KEY+{name}+{:08x}+{}",
        note.id(),
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    (private, VerifierKey::new(name, alg, &public).unwrap())
}

/// Waits until `GET url` answers 200.
fn wait_healthy(p: &mut Proc, url: &str) {
    let http = reqwest::blocking::Client::new();
    p.wait_for(60, |_| {
        http.get(url)
            .send()
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    });
}

/// siglog's log server with its tiles in `dir/tiles`, on a free port: the process and its URL.
fn siglog_log(bin: &Path, dir: &Path, origin: &str, private: &str) -> (Proc, String) {
    let port = tlog::free_port();
    let mut cmd = Command::new(bin.join("siglog"));
    cmd.args([
        "--database-url",
        &format!("sqlite:{}?mode=rwc", s(&dir.join("siglog.db"))),
        "--storage-backend",
        "fs",
        "--fs-root",
        s(&dir.join("tiles")),
        "--origin",
        origin,
        "--private-key",
        private,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--checkpoint-interval",
        "1",
        "--batch-max-age-ms",
        "5",
    ])
    .env_remove("DATABASE_URL")
    .env("RUST_LOG", "warn");
    let mut p = Proc::spawn("siglog", cmd);
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&mut p, &format!("{url}/health"));
    (p, url)
}

/// Submits `entries` to siglog at `url` one at a time (siglog's SQLite store now and then
/// answers a submission with "database is locked", 500, storing nothing, while its workers write:
/// that one is sent again) and checks the index each gets.
fn submit_to_siglog(url: &str, first: u64, entries: &[Vec<u8>]) {
    let http = reqwest::blocking::Client::new();
    for (i, e) in entries.iter().enumerate() {
        let mut tries = 0;
        loop {
            let r = http
                .post(format!("{url}/add"))
                .body(e.clone())
                .send()
                .unwrap();
            let status = r.status();
            let body = r.text().unwrap();
            if status == 500 && body.contains("database is locked") && tries < 20 {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            assert_eq!(status, 200, "POST /add: {body}");
            assert_eq!(body.trim(), (first + i as u64).to_string());
            break;
        }
    }
}

/// siglog's checkpoint, verified under `vkey`, once it reaches `size`.
fn siglog_checkpoint(
    remote: &weightseal::log::client::RemoteLog,
    vkey: &VerifierKey,
    size: u64,
) -> (Vec<u8>, tlog_tiles::Checkpoint) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let b = remote.checkpoint().unwrap();
        // siglog 0.1.0 now and then serves a checkpoint that does not parse (seen in CI as
        // "malformed note", presumably one being rewritten); a later read gets a whole note.
        let found = match weightseal::log::store::open_checkpoint(&b, vkey) {
            Ok((_, cp)) if cp.size() == size => return (b, cp),
            Ok((_, cp)) => format!("stays at {}", cp.size()),
            Err(e) => format!("does not open: {e} ({:?})", String::from_utf8_lossy(&b)),
        };
        assert!(Instant::now() < end, "siglog's checkpoint {found}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A copy of siglog's tiles cut to C2SP's width: siglog 0.1.0 stores each hash tile with the
/// tile's inner levels after its bottom row (256 + 128 + … hashes, in its `apply_to`); the
/// first `W` hashes are the tile of C2SP tlog-tiles.
fn cut_to_c2sp(from: &Path, to: &Path) {
    for e in walk(from) {
        let rel = e.strip_prefix(from).unwrap().to_str().unwrap().to_string();
        let mut b = fs::read(&e).unwrap();
        let hash_tile = rel.starts_with("tile/") && !rel.starts_with("tile/entries/");
        if hash_tile {
            let w: usize = match rel.split_once(".p/") {
                Some((_, w)) => w.parse().unwrap(),
                None => 256,
            };
            assert!(b.len() >= w * 32, "{rel}: {} bytes", b.len());
            b.truncate(w * 32);
        }
        let dest = to.join(&rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(dest, b).unwrap();
    }
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn our_tile_reader_checks_a_siglog_log() {
    const TEST: &str = "our_tile_reader_checks_a_siglog_log";
    let Some(bin) = siglog_bin(TEST) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = "siglog.test/log";
    let (private, vkey) = note_key(origin, [11; 32], ALG_ED25519);
    let (_siglog, url) = siglog_log(&bin, t, origin, &private);
    let remote = weightseal::log::client::RemoteLog::new(&url).unwrap();
    // Entries that are not weightseal's: siglog's own example shape.
    let entries: Vec<Vec<u8>> = (0..300u64)
        .map(|i| {
            format!(
                "{{\"name\":\"pkg-{i}\",\"version\":\"1.0.{i}\",\"sha256\":\"{:064x}\"}}",
                i * 7919
            )
            .into_bytes()
        })
        .collect();
    let n = 200u64;
    submit_to_siglog(&url, 0, &entries[..n as usize]);

    // Its checkpoint: a signed note under its key, with its origin; not under another key.
    let (note_bytes, cp) = siglog_checkpoint(&remote, &vkey, n);
    let (_, other) = note_key(origin, [12; 32], ALG_ED25519);
    match weightseal::log::store::open_checkpoint(&note_bytes, &other) {
        Err(LogError::Checkpoint(m)) => assert!(m.contains("not signed by the log key"), "{m}"),
        r => panic!("another key accepted siglog's checkpoint: {r:?}"),
    }
    // Its tree: the entry bundle holds the entries submitted, and their leaf hashes make the
    // checkpoint's root.
    // The monitor (our tile reader) reads its bundles, proves their leaf hashes make the
    // checkpoint's root, and counts its entries as foreign (not weightseal entries).
    let policy = weightseal::log::LogPolicy::new(vkey.clone(), vec![], 0).unwrap();
    let watch = weightseal::log::monitor::Watch {
        log: &policy,
        pattern: "org/*",
        publishers: None,
        max_entries: weightseal::log::monitor::DEFAULT_MAX_ENTRIES,
    };
    let state = t.join("monitor.json");
    let r = weightseal::log::monitor::monitor(&url, &watch, &state).unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!((r.size, r.foreign, r.entries.len()), (n, n, 0), "{r:?}");
    let mut frontier = Vec::new();
    for e in &entries[..n as usize] {
        weightseal::log::monitor::push(&mut frontier, tlog_tiles::record_hash(e));
    }
    assert_eq!(weightseal::log::monitor::root(&frontier), *cp.hash());
    // Its hash tiles are longer than C2SP's (the tile's inner levels follow its bottom row):
    // our reader refuses them, naming the tile.
    match remote.inclusion_proof(&cp, 5) {
        Err(LogError::Tree(m)) => assert!(
            m.starts_with("tile/0/000.p/200: ")
                && m.ends_with(" bytes, a tile of 200 hashes is 6400"),
            "{m}"
        ),
        r => panic!("siglog's tile/0/000.p/200 was read: {r:?}"),
    }
    // Cut to C2SP's width (a mirror serving them as the specification says), its tiles give
    // inclusion proofs that check against its signed checkpoint, and they are byte for byte
    // the tiles our log writes for the same entries.
    let mirror = t.join("mirror");
    cut_to_c2sp(&t.join("tiles"), &mirror);
    let server = common::server::Server::start(mirror.clone());
    let cut = weightseal::log::client::RemoteLog::new(&server.base).unwrap();
    for i in [0u64, 1, 127, 128, 199] {
        let proof = cut.inclusion_proof(&cp, i).unwrap();
        weightseal::log::proof::check_inclusion(&cp, i, &entries[i as usize], &proof).unwrap();
        match weightseal::log::proof::check_inclusion(&cp, i, b"not the entry", &proof) {
            Err(LogError::Proof(m)) => {
                assert!(m.contains(&format!("from entry {i} to")), "{m}")
            }
            r => panic!("a wrong entry at {i}: {r:?}"),
        }
    }
    let ours = t.join("ours");
    let log = weightseal::log::store::LogDir::new(&ours);
    let key = Arc::new(PrivateKey::from_seed(&[11; 32]));
    log.init(origin, key.clone()).unwrap();
    log.add(key, &entries[..n as usize], &[]).unwrap();
    let (_, our_cp) = log.checkpoint(&vkey).unwrap();
    assert_eq!(our_cp.hash(), cp.hash());
    for p in ["tile/0/000.p/200", "tile/entries/000.p/200"] {
        assert_eq!(
            fs::read(mirror.join(p)).unwrap(),
            fs::read(ours.join(p)).unwrap(),
            "{p}"
        );
    }

    // Past the first tile, the full entry bundle siglog writes holds only the entries of the
    // batch that filled it (its write_entry_bundles starts a full bundle empty): our reader
    // refuses it against the checkpoint.
    submit_to_siglog(&url, n, &entries[n as usize..]);
    let (_, cp) = siglog_checkpoint(&remote, &vkey, 300);
    let _ = fs::remove_file(&state);
    let r = weightseal::log::monitor::monitor(&url, &watch, &state).unwrap();
    assert!(!r.ok(), "siglog's full entry bundle was read: {r:?}");
    assert_eq!(
        r.problems[0].kind,
        weightseal::log::monitor::ProblemKind::Fork
    );
    let m = &r.problems[0].message;
    assert!(
        m.contains("entry bundle 0 holds ") && m.ends_with(" entries, the checkpoint needs 256"),
        "{m}"
    );
    assert_eq!(r.size, 0, "nothing unproved recorded: {r:?}");
    let full = fs::read(t.join("tiles/tile/entries/000")).unwrap();
    assert_ne!(
        weightseal::log::store::split_bundle(&full).unwrap().len(),
        256
    );
    // Its hash tiles still make its root: cut to C2SP's width, a proof past the first tile
    // checks.
    let mirror2 = t.join("mirror2");
    cut_to_c2sp(&t.join("tiles"), &mirror2);
    let server2 = common::server::Server::start(mirror2);
    let cut2 = weightseal::log::client::RemoteLog::new(&server2.base).unwrap();
    for i in [3u64, 255, 256, 299] {
        let proof = cut2.inclusion_proof(&cp, i).unwrap();
        weightseal::log::proof::check_inclusion(&cp, i, &entries[i as usize], &proof).unwrap();
    }
}

#[test]
fn a_siglog_witness_answer_is_named_and_not_taken_for_a_cosignature() {
    const TEST: &str = "a_siglog_witness_answer_is_named_and_not_taken_for_a_cosignature";
    let Some(bin) = siglog_bin(TEST) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let log_key = tlog::key(t, "log.key");
    let logdir = t.join("log");
    let log_vkey = tlog::init_log(&logdir, "example.test/models", &log_key);
    let wname = "w-siglog.test";
    let (private, as_note) = note_key(wname, [21; 32], ALG_ED25519);
    let (_, as_cosigner) = note_key(wname, [21; 32], ALG_COSIGNATURE_V1);
    let port = tlog::free_port();
    let mut cmd = Command::new(bin.join("witness"));
    cmd.args([
        "--database-url",
        &format!("sqlite:{}?mode=rwc", s(&t.join("witness.db"))),
        "--private-key",
        &private,
        "--log",
        &format!("example.test/models={log_vkey}"),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ])
    .env_remove("DATABASE_URL")
    .env("RUST_LOG", "warn");
    let mut w = Proc::spawn("siglog witness", cmd);
    let wurl = format!("http://127.0.0.1:{port}");
    wait_healthy(&mut w, &format!("{wurl}/health"));

    let acme = tlog::key(t, "acme");
    let model = t.join("m");
    tlog::release(&model, "org/m", b"weights", &acme, 1);
    // Its key as siglog publishes it (type 0x01) is not a witness key to weightseal.
    let o = ws(&[
        "log",
        "add",
        s(&logdir),
        "--key",
        s(&log_key),
        s(&model),
        "--witness",
        &format!("{wurl}={as_note}"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("the key is not a cosignature/v1 (type 0x04) key"),
        "{}",
        text(&o)
    );
    // Its Ed25519 key as a cosignature/v1 key: it answers with a type 0x01 note signature,
    // which is named, and the checkpoint is published without it.
    let o = ws(&[
        "log",
        "add",
        s(&logdir),
        "--key",
        s(&log_key),
        s(&model),
        "--witness",
        &format!("{wurl}={as_cosigner}"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let expected = format!(
        "weightseal: warning: witness {wurl}: the witness answered with an Ed25519 note \
         signature (type 0x01) by \"{wname}\" (key id {:08x}), its own key as a type 0x01 key, \
         not a cosignature/v1 (type 0x04) line by \"{wname}\" (key id {:08x}); weightseal \
         accepts only cosignature/v1 (tlog-cosignature) from witnesses: a type 0x01 note \
         signature by a witness cannot be told apart from a log's signature",
        as_note.id(),
        as_cosigner.id()
    );
    assert!(
        stderr(&o).lines().any(|l| l == expected),
        "expected\n{expected}\nin\n{}",
        text(&o)
    );
    assert!(
        stderr(&o).contains("checkpoint cosigned by 0 of 1 witness(es)"),
        "{}",
        text(&o)
    );
    let cp = fs::read_to_string(logdir.join("checkpoint")).unwrap();
    assert_eq!(cp.matches("\n— ").count(), 1, "{cp}");
    // What it sent is an Ed25519 note signature of our checkpoint, of the kind a log makes:
    // it verifies as one under the type 0x01 key, never as a cosignature.
    let mut body = b"old 1\n\n".to_vec();
    body.extend_from_slice(cp.as_bytes());
    let r = reqwest::blocking::Client::new()
        .post(format!("{wurl}/add-checkpoint"))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer = r.text().unwrap();
    let sig = signed_note::Signature::from_bytes(answer.trim().as_bytes()).unwrap();
    assert_eq!(
        (sig.name(), sig.id(), sig.signature().len()),
        (wname, as_note.id(), 64)
    );
    let note = signed_note::Note::from_bytes(cp.as_bytes()).unwrap();
    let with = signed_note::Note::new(note.text(), std::slice::from_ref(&sig)).unwrap();
    let verifies = |k: &VerifierKey| {
        with.verify(&signed_note::VerifierList::new(vec![Box::new(k.clone())]))
            .is_ok()
    };
    assert!(verifies(&as_note));
    assert!(!verifies(&as_cosigner));
    assert_eq!(
        weightseal::log::keys::describe_answer(&answer, &as_cosigner),
        expected
            .split_once(": the witness")
            .map(|(_, m)| format!("the witness{m}"))
            .unwrap()
    );
    // And the release's proof has no cosignature: a quorum of that witness is not met.
    let o = ws(&[
        "verify",
        s(&model),
        "--key",
        s(&t.join("acme.pub")),
        "--log-key",
        &log_vkey,
        "--witness",
        &as_cosigner.to_string(),
        "--quorum",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("0 of the 1 required witness cosignature(s) verify"),
        "{}",
        text(&o)
    );
}

/// `aics-witness ARGS --config DIR/witness.json`.
fn aics(exe: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    let o = Command::new(exe)
        .args(args)
        .arg("--config")
        .arg(dir.join("witness.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "aics-witness {args:?}: {}", text(&o));
    o
}

#[test]
fn an_independent_cosignature_v1_witness_cosigns_our_log_and_refuses_its_fork() {
    const TEST: &str = "an_independent_cosignature_v1_witness_cosigns_our_log_and_refuses_its_fork";
    let Some(exe) = aics_witness(TEST) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = "example.test/models";
    let log_key = tlog::key(t, "log.key");
    let logdir = t.join("log");
    let log_vkey = tlog::init_log(&logdir, origin, &log_key);
    let wdir = t.join("aics");
    fs::create_dir_all(&wdir).unwrap();
    let o = aics(&exe, &wdir, &["init", "--name", "aics.test/w1"]);
    let aics_vkey = stdout(&o).trim().lines().last().unwrap().to_string();
    let vk = VerifierKey::parse(&aics_vkey).unwrap();
    assert!(vk.is_cosigner(), "{aics_vkey}");
    aics(
        &exe,
        &wdir,
        &["add-log", "--origin", origin, "--vkey", &log_vkey],
    );
    let mut cmd = Command::new(&exe);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(wdir.join("witness.json"));
    let mut w = Proc::spawn("aics-witness", cmd);
    let aics_url = w.wait_for_url(60);
    // Our own witness beside it.
    let (_ours, ours_url, ours_vkey) = tlog::weightseal_witness(t, "w.test", &log_vkey);
    let witnesses = [
        format!("{aics_url}={aics_vkey}"),
        format!("{ours_url}={ours_vkey}"),
    ];

    let acme = tlog::key(t, "acme");
    let acme_pub = t.join("acme.pub");
    let add = |logdir: &Path, models: &[&Path]| {
        let mut a = vec!["log", "add", s(logdir), "--key", s(&log_key)];
        for w in &witnesses {
            a.extend(["--witness", w.as_str()]);
        }
        a.extend(models.iter().map(|m| s(m)));
        ws(&a)
    };
    let verify = |model: &Path, quorum: &str| {
        ws(&[
            "verify",
            s(model),
            "--key",
            s(&acme_pub),
            "--log-key",
            &log_vkey,
            "--witness",
            &aics_vkey,
            "--witness",
            &ours_vkey,
            "--quorum",
            quorum,
        ])
    };
    // Two appends: the first from nothing, the second with a consistency proof it checks.
    let m1 = t.join("m1");
    tlog::release(&m1, "org/m1", b"weights 1", &acme, 1);
    let o = add(&logdir, &[&m1]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stderr(&o).contains("checkpoint cosigned by 2 of 2 witness(es)")
            && !stderr(&o).contains("warning"),
        "{}",
        text(&o)
    );
    let m2 = t.join("m2");
    let m3 = t.join("m3");
    tlog::release(&m2, "org/m2", b"weights 2", &acme, 1);
    tlog::release(&m3, "org/m3", b"weights 3", &acme, 1);
    let o = add(&logdir, &[&m2, &m3]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stderr(&o).contains("checkpoint cosigned by 2 of 2 witness(es)"),
        "{}",
        text(&o)
    );
    for m in [&m1, &m2] {
        let o = verify(m, "2");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = verify(&m2, "2");
    assert!(
        stdout(&o).contains(
            "transparency log: OK (example.test/models, entry 1 of 3, cosigned by aics.test/w1"
        ),
        "{}",
        text(&o)
    );
    let cp = fs::read_to_string(logdir.join("checkpoint")).unwrap();
    assert!(cp.contains("\n— aics.test/w1 "), "{cp}");

    // Its client side: aics-tlog verifies our checkpoint, both cosignatures (its witness's and
    // ours) and the inclusion of entry 2, reading our tiles from log serve.
    let (_log, log_url) = tlog::weightseal_server(
        "log serve",
        &[
            "log",
            "serve",
            s(&logdir),
            "--key",
            s(&log_key),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let aics_tlog = exe.with_file_name("aics-tlog");
    let o = Command::new(&aics_tlog)
        .args([
            "verify-inclusion",
            "--tiles",
            &log_url,
            "--log-key",
            &log_vkey,
            "--origin",
            origin,
            "--witness-key",
            &aics_vkey,
            "--witness-key",
            &ours_vkey,
            "--quorum",
            "2",
            "--max-age",
            "600",
            "--index",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "aics-tlog: {}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    let entry =
        weightseal::log::TlogProof::parse(&fs::read(m3.join("weightseal.tlog-proof")).unwrap())
            .unwrap()
            .extra
            .unwrap();
    assert_eq!(
        report["leaf_hash"],
        hex(&tlog_tiles::record_hash(&entry).0),
        "{report}"
    );

    // A fork: the same origin and key, another history, longer than what it cosigned. It
    // refuses the consistency proof, and a proof from the fork lacks its cosignature.
    let forked = t.join("forked");
    let o = ws(&[
        "log",
        "init",
        s(&forked),
        "--origin",
        origin,
        "--key",
        s(&log_key),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let f: Vec<PathBuf> = (0..4).map(|i| t.join(format!("fork{i}"))).collect();
    for (i, d) in f.iter().enumerate() {
        tlog::release(
            d,
            &format!("org/m{}", i + 1),
            format!("targeted {i}").as_bytes(),
            &acme,
            1,
        );
    }
    let o = add(&forked, &f.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let warning = stderr(&o)
        .lines()
        .find(|l| l.starts_with(&format!("weightseal: warning: witness {aics_url}")))
        .unwrap_or_else(|| panic!("no warning naming aics-witness: {}", text(&o)))
        .to_string();
    assert!(warning.contains("HTTP 422"), "{warning}");
    assert!(
        stderr(&o).contains("checkpoint cosigned by 0 of 2 witness(es)"),
        "{}",
        text(&o)
    );
    let o = ws(&[
        "verify",
        s(&f[0]),
        "--key",
        s(&acme_pub),
        "--log-key",
        &log_vkey,
        "--witness",
        &aics_vkey,
        "--quorum",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("0 of the 1 required witness cosignature(s) verify"),
        "{}",
        text(&o)
    );
    // It kept the fork's checkpoint as evidence of the log's equivocation.
    let o = aics(&exe, &wdir, &["evidence", "--origin", origin]);
    let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        ev.to_string().contains("example.test/models\\n4\\n"),
        "{ev}"
    );
    drop(w);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
