//! The transparency log end to end on loopback: `log init`, two `witness serve`s, `log serve`,
//! `log submit`, `verify --log-key --witness --quorum`, `log monitor`; a forked log refused by
//! a witness and then by `verify --quorum 1`; `log add` and its proofs offline.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{stderr, stdout, ws};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    /// The first line it printed on stdout (a verifier key), if it prints one.
    first_line: Option<String>,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `weightseal ARGS` (a server listening on 127.0.0.1:0) and reads the address it says
/// it serves on, from stderr (`... on http://ADDR...`).
fn start(args: &[&str], prints_key: bool) -> Server {
    let mut child = Command::new(common::bin())
        .args(args)
        .env("WEIGHTSEAL_TRUST", "/nonexistent/trust.toml")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_line = prints_key.then(|| {
        let mut l = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut l)
            .unwrap();
        l.trim().to_string()
    });
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    let at = line
        .find("http://")
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let url: String = line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches("/add-checkpoint")
        .to_string();
    Server {
        child,
        first_line,
        url,
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    log_key: PathBuf,
    vkey: String,
}

fn key(dir: &Path, name: &str) -> PathBuf {
    let k = dir.join(name);
    let o = ws(&["keygen", "--out", s(&k)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    k
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let log_key = key(tmp.path(), "log.key");
    let o = ws(&[
        "log",
        "init",
        s(&tmp.path().join("log")),
        "--origin",
        "example.test/models",
        "--key",
        s(&log_key),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let vkey = stdout(&o).lines().next().unwrap().to_string();
    assert!(vkey.starts_with("example.test/models+"), "{vkey}");
    Setup { tmp, log_key, vkey }
}

/// A model `name` hashed and signed by `signer`, version `version`, in `dir`.
fn release(dir: &Path, name: &str, content: &[u8], signer: &Path, version: u64) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("w.bin"), content).unwrap();
    let o = ws(&["hash", s(dir), "--name", name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = version.to_string();
    let o = ws(&["sign", s(dir), "--key", s(signer), "--version", &v]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn submit_verify_monitor_and_a_fork_refused_on_loopback() {
    let st = setup();
    let t = st.tmp.path();
    let (w1k, w2k) = (key(t, "w1.key"), key(t, "w2.key"));
    let witness = |k: &Path, name: &str, state: &str| {
        start(
            &[
                "witness",
                "serve",
                "--key",
                s(k),
                "--name",
                name,
                "--log",
                &st.vkey,
                "--listen",
                "127.0.0.1:0",
                "--state",
                s(&t.join(state)),
            ],
            true,
        )
    };
    let w1 = witness(&w1k, "w1.test", "w1.json");
    let w2 = witness(&w2k, "w2.test", "w2.json");
    let (vk1, vk2) = (
        w1.first_line.clone().unwrap(),
        w2.first_line.clone().unwrap(),
    );
    let log = start(
        &[
            "log",
            "serve",
            s(&t.join("log")),
            "--key",
            s(&st.log_key),
            "--listen",
            "127.0.0.1:0",
            "--witness",
            &format!("{}={vk1}", w1.url),
            "--witness",
            &format!("{}={vk2}", w2.url),
            "--batch-ms",
            "50",
        ],
        false,
    );
    let acme = key(t, "acme");
    let model = t.join("tiny");
    release(&model, "org/tiny", b"weights v1", &acme, 1);
    let o = ws(&["log", "submit", &log.url, s(&model)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(model.join("weightseal.tlog-proof").exists());
    let acme_pub = t.join("acme.pub");
    let verify = |extra: &[&str]| {
        let mut a = vec![
            "verify",
            s(&model),
            "--key",
            s(&acme_pub),
            "--log-key",
            &st.vkey,
        ];
        a.extend_from_slice(extra);
        ws(&a)
    };
    let o = verify(&["--witness", &vk1, "--witness", &vk2, "--quorum", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains(
            "transparency log: OK (example.test/models, entry 0 of 1, cosigned by w1.test"
        ),
        "{}",
        text(&o)
    );
    // The release changed after it was logged: its manifest is not the logged one.
    let other = t.join("other");
    release(&other, "org/tiny", b"weights v1 changed", &acme, 1);
    fs::copy(
        model.join("weightseal.tlog-proof"),
        other.join("weightseal.tlog-proof"),
    )
    .unwrap();
    let o = ws(&[
        "verify",
        s(&other),
        "--key",
        s(&acme_pub),
        "--log-key",
        &st.vkey,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("NOT verified")
            && stdout(&o).contains("transparency log: FAILED (proof: it proves the entry of"),
        "{}",
        text(&o)
    );
    // No proof; another log's key.
    fs::remove_file(other.join("weightseal.tlog-proof")).unwrap();
    let o = ws(&[
        "verify",
        s(&other),
        "--key",
        s(&acme_pub),
        "--log-key",
        &st.vkey,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("no proof that the release is in the log"),
        "{}",
        text(&o)
    );
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws(&[
        "verify",
        s(&model),
        "--key",
        s(&acme_pub),
        "--log-key",
        &vk1,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // The monitor sees the release, signed by acme.
    let state = t.join("monitor.json");
    let monitor = |extra: &[&str]| {
        let mut a = vec![
            "log",
            "monitor",
            &log.url,
            "--log-key",
            &st.vkey,
            "--model",
            "org/*",
            "--key",
            s(&acme_pub),
            "--state",
            s(&state),
        ];
        a.extend_from_slice(extra);
        ws(&a)
    };
    let o = monitor(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("entry 0: \"org/tiny\" version 1"),
        "{}",
        text(&o)
    );
    // A stolen key? Another key signs another org/tiny version 1, and it is logged.
    let evil = key(t, "evil");
    let split = t.join("split");
    release(&split, "Org/Tiny", b"other weights", &evil, 1);
    let o = ws(&["log", "submit", &log.url, s(&split)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = monitor(&["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["size"], 2);
    let problems = j["problems"].to_string();
    assert!(
        problems.contains("not signed as publisher by the watched keys"),
        "{problems}"
    );
    assert!(
        problems.contains("version 1 is logged with manifest"),
        "{problems}"
    );
    // A forked log: the same origin and key, another history. The witnesses refuse it.
    let forked = t.join("forked");
    let o = ws(&[
        "log",
        "init",
        s(&forked),
        "--origin",
        "example.test/models",
        "--key",
        s(&st.log_key),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let fork_model = t.join("fork-model");
    release(&fork_model, "org/tiny", b"targeted weights", &acme, 1);
    let o = ws(&[
        "log",
        "add",
        s(&forked),
        "--key",
        s(&st.log_key),
        s(&fork_model),
        "--witness",
        &format!("{}={vk1}", w1.url),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stderr(&o).contains("warning: witness"), "{}", text(&o));
    let fv = |q: &str| {
        ws(&[
            "verify",
            s(&fork_model),
            "--key",
            s(&acme_pub),
            "--log-key",
            &st.vkey,
            "--witness",
            &vk1,
            "--quorum",
            q,
        ])
    };
    assert_eq!(fv("0").status.code(), Some(0));
    let o = fv("1");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("0 of the 1 required witness cosignature(s) verify"),
        "{}",
        text(&o)
    );
    drop(log);
}

#[test]
fn log_add_proves_offline_and_serialises_concurrent_adds() {
    let st = setup();
    let t = st.tmp.path();
    let acme = key(t, "acme");
    let dirs: Vec<PathBuf> = (0..4).map(|i| t.join(format!("m{i}"))).collect();
    for (i, d) in dirs.iter().enumerate() {
        release(
            d,
            &format!("org/m{i}"),
            format!("weights {i}").as_bytes(),
            &acme,
            1,
        );
    }
    // Four adds at once: each gets its own index, and every proof verifies.
    let handles: Vec<_> = dirs
        .iter()
        .map(|d| {
            let (logdir, key, d) = (t.join("log"), st.log_key.clone(), d.clone());
            std::thread::spawn(move || ws(&["log", "add", s(&logdir), "--key", s(&key), s(&d)]))
        })
        .collect();
    for h in handles {
        let o = h.join().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let mut indexes = Vec::new();
    for d in &dirs {
        let p = fs::read_to_string(d.join("weightseal.tlog-proof")).unwrap();
        let idx = p
            .lines()
            .find_map(|l| l.strip_prefix("index "))
            .unwrap()
            .to_string();
        indexes.push(idx);
        let o = ws(&[
            "verify",
            s(d),
            "--key",
            s(&t.join("acme.pub")),
            "--log-key",
            &st.vkey,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    indexes.sort();
    assert_eq!(indexes, vec!["0", "1", "2", "3"]);
    let cp = fs::read_to_string(t.join("log/checkpoint")).unwrap();
    assert!(cp.starts_with("example.test/models\n4\n"), "{cp}");
    // A release whose files do not verify is not logged.
    fs::write(dirs[0].join("w.bin"), b"changed").unwrap();
    let o = ws(&[
        "log",
        "add",
        s(&t.join("log")),
        "--key",
        s(&st.log_key),
        s(&dirs[0]),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not logged"), "{}", text(&o));
}

/// Proofs and checkpoints written by weightseal, checked by an independent implementation:
/// Go's `golang.org/x/mod/sumdb/note` and `sumdb/tlog` (Debian's golang-go and
/// golang-golang-x-mod-dev), with the witness's cosignature/v1 line checked by hand in Go.
#[test]
fn go_sumdb_tlog_and_note_verify_our_proofs() {
    if !common::tool("go", "go_sumdb_tlog_and_note_verify_our_proofs") {
        return;
    }
    let gopath = Path::new("/usr/share/gocode");
    if !gopath.join("src/golang.org/x/mod/sumdb/tlog").exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but golang-golang-x-mod-dev is missing");
        }
        eprintln!("SKIPPED go_sumdb_tlog_and_note_verify_our_proofs: no golang-golang-x-mod-dev");
        return;
    }
    let st = setup();
    let t = st.tmp.path();
    let wk = key(t, "w.key");
    let w = start(
        &[
            "witness",
            "serve",
            "--key",
            s(&wk),
            "--name",
            "w.test",
            "--log",
            &st.vkey,
            "--listen",
            "127.0.0.1:0",
            "--state",
            s(&t.join("w.json")),
        ],
        true,
    );
    let vkw = w.first_line.clone().unwrap();
    let acme = key(t, "acme");
    let mut models = Vec::new();
    for i in 0..5 {
        let d = t.join(format!("m{i}"));
        release(
            &d,
            &format!("org/m{i}"),
            format!("w{i}").as_bytes(),
            &acme,
            1,
        );
        models.push(d);
    }
    let logdir = t.join("log");
    let mut args = vec![
        "log",
        "add",
        s(&logdir),
        "--key",
        s(&st.log_key),
        "--witness",
    ];
    let wit = format!("{}={vkw}", w.url);
    args.push(&wit);
    args.extend(models.iter().map(|m| s(m)));
    let o = ws(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let bin = t.join("verify_proof");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/verify_proof.go");
    let o = Command::new("go")
        .args(["build", "-o", s(&bin), s(&src)])
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("GOCACHE", t.join("gocache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "go build: {}", text(&o));
    for (i, m) in models.iter().enumerate() {
        let proof = m.join("weightseal.tlog-proof");
        let o = Command::new(&bin)
            .args([&st.vkey, &vkw, s(&proof)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(stdout(&o).trim(), format!("ok example.test/models 5 {i}"));
    }
    // A flipped bit in a proof hash: Go refuses it too.
    let proof = models[2].join("weightseal.tlog-proof");
    let text_ = fs::read_to_string(&proof).unwrap();
    let line = text_.lines().nth(3).unwrap().to_string();
    let flipped = if line.starts_with('A') {
        line.replacen('A', "B", 1)
    } else {
        format!("A{}", &line[1..])
    };
    fs::write(&proof, text_.replacen(&line, &flipped, 1)).unwrap();
    let o = Command::new(&bin)
        .args([&st.vkey, &vkw, s(&proof)])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let o = ws(&[
        "verify",
        s(&models[2]),
        "--key",
        s(&t.join("acme.pub")),
        "--log-key",
        &st.vkey,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

/// `log add` killed in the middle of writing, at several moments: the log still opens at its
/// last checkpoint, appends again, and every proof verifies.
#[test]
fn a_killed_add_leaves_the_last_good_log() {
    use base64::Engine as _;
    let st = setup();
    let t = st.tmp.path();
    let b64 = base64::engine::general_purpose::STANDARD;
    let lines: String = (0..40_000u32)
        .map(|i| {
            let e = weightseal::log::LogEntry {
                model: format!("org/bulk-{i}"),
                manifest: weightseal::Digest(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                version: Some(u64::from(i)),
                attestations: vec![],
            };
            format!("{}\n", b64.encode(e.encode()))
        })
        .collect();
    let file = t.join("entries.txt");
    fs::write(&file, lines).unwrap();
    let logdir = t.join("log");
    let vkey = weightseal::log::VerifierKey::parse(&st.vkey).unwrap();
    let acme = key(t, "acme");
    for (round, delay_ms) in [30u64, 120, 400].into_iter().enumerate() {
        let mut child = Command::new(common::bin())
            .args([
                "log",
                "add",
                s(&logdir),
                "--key",
                s(&st.log_key),
                "--entries",
                s(&file),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The checkpoint is the last good one, whatever the moment of the kill.
        let log = weightseal::log::store::LogDir::new(&logdir);
        let (_, cp) = log.checkpoint(&vkey).unwrap();
        let extra = round as u64; // the releases appended in earlier rounds
        assert_eq!(
            (cp.size() - extra) % 40_000,
            0,
            "round {round}: size {}",
            cp.size()
        );
        // And the log goes on: a release appended now proves its inclusion.
        let m = t.join(format!("after-{round}"));
        release(
            &m,
            &format!("org/after-{round}"),
            format!("w{round}").as_bytes(),
            &acme,
            1,
        );
        let o = ws(&["log", "add", s(&logdir), "--key", s(&st.log_key), s(&m)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let o = ws(&[
            "verify",
            s(&m),
            "--key",
            s(&t.join("acme.pub")),
            "--log-key",
            &st.vkey,
        ]);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", text(&o));
        let (_, cp2) = log.checkpoint(&vkey).unwrap();
        assert_eq!(cp2.size(), cp.size() + 1);
    }
}

/// A witness URL with a user name and password (`http://user:pass@host/...`): when that
/// witness fails, `log add` warns naming its host, never its password.
#[test]
fn a_failing_witness_is_named_without_its_password() {
    let st = setup();
    let t = st.tmp.path();
    let acme = key(t, "acme");
    let model = t.join("model");
    release(&model, "org/tiny", b"weights", &acme, 1);
    let vkey = weightseal::log::LogSigner::cosigner(
        "w.test",
        std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(&[5; 32])),
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
    let o = ws(&[
        "log",
        "add",
        s(&t.join("log")),
        "--key",
        s(&st.log_key),
        s(&model),
        "--witness",
        &format!("http://user:s3cretpass@127.0.0.1:{port}={vkey}"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let warning = stderr(&o)
        .lines()
        .find(|l| l.starts_with("weightseal: warning: witness "))
        .unwrap_or_else(|| panic!("no witness warning in {}", text(&o)))
        .to_string();
    assert!(
        warning.contains(&format!("witness http://***:***@127.0.0.1:{port}/: ")),
        "{warning}"
    );
    assert!(!text(&o).contains("s3cretpass"), "{}", text(&o));
    assert!(
        stderr(&o).contains("checkpoint cosigned by 0 of 1 witness(es)"),
        "{}",
        text(&o)
    );
}
