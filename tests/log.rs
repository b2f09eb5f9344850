//! The transparency log end to end on loopback: `log init`, two `witness serve`s, `log serve`,
//! `log submit`, `verify --log-key --witness --quorum`, `log monitor`; a forked log refused by
//! a witness and then by `verify --quorum 1`; `log add` and its proofs offline.

mod common;

use std::fs;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::tlog::{self, key, release, s, text};
use common::{stderr, stdout, ws};

use common::tlog::Served as Server;

/// Starts `weightseal ARGS` (a server listening on 127.0.0.1:0).
fn start(args: &[&str], prints_key: bool) -> Server {
    Server::start(args, prints_key)
}

struct Setup {
    tmp: tempfile::TempDir,
    log_key: PathBuf,
    vkey: String,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let log_key = key(tmp.path(), "log.key");
    let vkey = tlog::init_log(&tmp.path().join("log"), "example.test/models", &log_key);
    Setup { tmp, log_key, vkey }
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
            "--witness",
            &vk1,
            "--witness",
            &vk2,
            "--quorum",
            "2",
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
    // A first run says so: there was no tree before it to extend.
    assert!(
        stderr(&o).contains("first run: no tree was read before")
            && !stderr(&o).contains("extends the one read before"),
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
    // The monitor is shown the fork (served as static files) and asks what verifiers ask: no
    // witness cosigned it, so it is not the tree verifiers see. Without the witness requirement
    // it would read it as the log (the finding: a monitor can be shown a tree no verifier sees).
    let fork_server = common::server::Server::start(forked.clone());
    let fork_monitor = |extra: &[&str]| {
        let fstate = t.join("fork-monitor.json");
        let _ = fs::remove_file(&fstate);
        let mut a = vec![
            "log",
            "monitor",
            &fork_server.base,
            "--log-key",
            &st.vkey,
            "--model",
            "org/*",
            "--state",
            s(&fstate),
            "--json",
        ];
        a.extend_from_slice(extra);
        let o = ws(&a);
        (o, fstate)
    };
    let (o, fstate) = fork_monitor(&["--witness", &vk1, "--quorum", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["problems"][0]["kind"], "checkpoint", "{j}");
    assert!(
        j["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("0 of the 1 required witness cosignature(s) verify"),
        "{j}"
    );
    assert!(!fstate.exists(), "nothing of the fork was recorded");
    let (o, _) = fork_monitor(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The same requirement from a policy's [log] table.
    let policy = t.join("monitor-policy.toml");
    fs::write(
        &policy,
        format!(
            "[keys.acme]\npublic_key = {:?}\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n[log]\nkey = {:?}\nwitnesses = [{:?}]\nquorum = 1\n",
            s(&acme_pub),
            st.vkey,
            vk1
        ),
    )
    .unwrap();
    let fstate = t.join("fork-monitor-policy.json");
    let o = ws(&[
        "log",
        "monitor",
        &fork_server.base,
        "--policy",
        s(&policy),
        "--model",
        "org/*",
        "--state",
        s(&fstate),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("0 of the 1 required witness cosignature(s) verify"),
        "{}",
        text(&o)
    );
    // The honest log, through the same policy: cosigned by w1, read.
    let o = ws(&[
        "log",
        "monitor",
        &log.url,
        "--policy",
        s(&policy),
        "--model",
        "org/*",
        "--state",
        s(&fstate),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("problem(s)")
            && stdout(&o).contains("not signed as publisher by the watched keys"),
        "the honest log holds the stolen key's release: {}",
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

/// The log entry of the release in `dir`, as `log submit` makes it.
fn entry_of(dir: &Path) -> weightseal::log::LogEntry {
    let ev = weightseal::evidence::gather(
        &weightseal::evidence::Source::Local(dir),
        &weightseal::evidence::Locators::default(),
    )
    .unwrap();
    let w = ev.weightseal().unwrap();
    weightseal::log::LogEntry::of_release(&w.manifest, &w.attestations).unwrap()
}

fn private_key(p: &Path) -> std::sync::Arc<weightseal::attest::PrivateKey> {
    std::sync::Arc::new(weightseal::attest::PrivateKey::read_with(p, &|| None).unwrap())
}

fn entries_file(dir: &Path, name: &str, es: &[&weightseal::log::LogEntry]) -> PathBuf {
    use base64::Engine as _;
    let p = dir.join(name);
    let b64 = base64::engine::general_purpose::STANDARD;
    let text: String = es.iter().map(|e| b64.encode(e.encode()) + "\n").collect();
    fs::write(&p, text).unwrap();
    p
}

fn post_add(url: &str, body: Vec<u8>) -> (u16, String) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}/add"))
        .body(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().unwrap())
}

/// Finding 1 and 7 of the log's attack review: an entry whose version line is not what its
/// publisher attestations state (manifest B, signed as version 3 when version 3 is logged as
/// manifest A, logged with `version 4`), or whose attestations are not envelopes about it, is
/// refused by `log add --entries` and `POST /add`; `log serve --require-signed-by` takes only
/// releases its keys signed; and a monitor recomputes the version from the attestations, so a
/// hostile log that appends the lying entry anyway is caught.
#[test]
fn the_version_is_recomputed_and_a_lying_entry_refused_or_caught() {
    let st = setup();
    let t = st.tmp.path();
    let logdir = t.join("log");
    let acme = key(t, "acme");
    let acme_pub = t.join("acme.pub");
    let evil = key(t, "evil");
    let a = t.join("a");
    release(&a, "org/m", b"weights A", &acme, 3);
    let o = ws(&["log", "add", s(&logdir), "--key", s(&st.log_key), s(&a)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // B: the same key (stolen), the same version, other weights; its entry says version 4.
    let b = t.join("b");
    release(&b, "org/m", b"weights B", &acme, 3);
    let honest_b = entry_of(&b);
    assert_eq!(honest_b.version, Some(3));
    let lying = weightseal::log::LogEntry {
        version: Some(4),
        ..honest_b.clone()
    };
    let not_envelope = weightseal::log::LogEntry {
        version: None,
        attestations: vec!["{\"not\":\"an envelope\"}".into()],
        ..honest_b.clone()
    };
    let other_model = weightseal::log::LogEntry {
        model: "org/other".into(),
        ..honest_b.clone()
    };
    let add_entries = |e: &weightseal::log::LogEntry, name: &str| {
        let f = entries_file(t, name, &[e]);
        ws(&[
            "log",
            "add",
            s(&logdir),
            "--key",
            s(&st.log_key),
            "--entries",
            s(&f),
        ])
    };
    for (e, name, why) in [
        (
            &lying,
            "lying.txt",
            "its version line says 4, its publisher attestations state 3",
        ),
        (
            &not_envelope,
            "not-envelope.txt",
            "attestation 1 is not a DSSE envelope",
        ),
        (
            &other_model,
            "other-model.txt",
            "attestation 1 is about \"org/m\"",
        ),
    ] {
        let o = add_entries(e, name);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(stderr(&o).contains(why), "{name}: {}", text(&o));
    }
    let (_, cp) = weightseal::log::store::LogDir::new(&logdir)
        .checkpoint(&weightseal::log::VerifierKey::parse(&st.vkey).unwrap())
        .unwrap();
    assert_eq!(cp.size(), 1, "nothing was added");

    // POST /add: the same refusals; and only releases signed by a required key.
    let server = start(
        &[
            "log",
            "serve",
            s(&logdir),
            "--key",
            s(&st.log_key),
            "--listen",
            "127.0.0.1:0",
            "--batch-ms",
            "20",
            "--require-signed-by",
            s(&acme_pub),
        ],
        false,
    );
    let (code, body) = post_add(&server.url, lying.encode());
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("its version line says 4"), "{body}");
    let (code, body) = post_add(&server.url, not_envelope.encode());
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("is not a DSSE envelope"), "{body}");
    let c = t.join("c");
    release(&c, "org/c", b"weights C", &evil, 1);
    let (code, body) = post_add(&server.url, entry_of(&c).encode());
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("is not signed as publisher by a key this log requires"),
        "{body}"
    );
    let (code, body) = post_add(&server.url, honest_b.encode());
    assert_eq!(code, 200, "{body}");
    assert!(body.starts_with("c2sp.org/tlog-proof@v1\n"), "{body}");
    drop(server);

    // A hostile log appends the lying entry anyway (as it stands, bypassing its own checks).
    weightseal::log::store::LogDir::new(&logdir)
        .add(private_key(&st.log_key), &[lying.encode()], &[])
        .unwrap();
    let served = common::server::Server::start(logdir.clone());
    let o = ws(&[
        "log",
        "monitor",
        &served.base,
        "--log-key",
        &st.vkey,
        "--model",
        "org/*",
        "--key",
        s(&acme_pub),
        "--state",
        s(&t.join("monitor.json")),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["size"], 3, "{j}");
    let problems: Vec<(String, u64, String)> = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_string(),
                p["index"].as_u64().unwrap(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Entry 1 (B, honest line) and entry 2 (B, lying line) both repeat version 3.
    assert!(
        problems
            .iter()
            .any(|(k, i, m)| k == "repeated-version" && *i == 1 && m.contains("version 3")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(k, i, m)| k == "repeated-version" && *i == 2 && m.contains("version 3")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|(k, i, m)| k == "malformed"
            && *i == 2
            && m.contains("has the version line 4, its publisher attestations state 3")),
        "{problems:?}"
    );
    assert_eq!(j["entries"][2]["versions"], serde_json::json!([3]), "{j}");
}

/// Finding 6: `log submit` checks the proof the log answers before writing it: a proof of
/// another release, or one whose inclusion does not hold, is refused and nothing is written;
/// with `--log-key` the proof must verify under the log's key.
#[test]
fn log_submit_refuses_a_proof_that_is_not_of_its_release() {
    let st = setup();
    let t = st.tmp.path();
    let logdir = t.join("log");
    let acme = key(t, "acme");
    let (a, b) = (t.join("a"), t.join("b"));
    release(&a, "org/a", b"weights A", &acme, 1);
    release(&b, "org/b", b"weights B", &acme, 1);
    let o = ws(&[
        "log",
        "add",
        s(&logdir),
        "--key",
        s(&st.log_key),
        s(&a),
        s(&b),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let proof_a = fs::read(a.join("weightseal.tlog-proof")).unwrap();
    let proof_b = fs::read(b.join("weightseal.tlog-proof")).unwrap();
    fs::remove_file(a.join("weightseal.tlog-proof")).unwrap();
    // The hostile log answers every POST /add with the file `add`.
    let root = t.join("hostile");
    fs::create_dir_all(&root).unwrap();
    let hostile = common::server::Server::start(root.clone());
    let submit = |extra: &[&str]| {
        let mut args = vec!["log", "submit", &hostile.base, s(&a)];
        args.extend_from_slice(extra);
        ws(&args)
    };
    fs::write(root.join("add"), &proof_b).unwrap();
    let o = submit(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("answered a proof of the entry of \"org/b\""),
        "{}",
        text(&o)
    );
    assert!(!a.join("weightseal.tlog-proof").exists());
    // A's own entry, with an inclusion proof that does not lead to the root.
    let mut p = weightseal::log::TlogProof::parse(&proof_a).unwrap();
    p.hashes[0].0[0] ^= 1;
    fs::write(root.join("add"), p.encode()).unwrap();
    let o = submit(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("answered a proof that does not hold"),
        "{}",
        text(&o)
    );
    assert!(!a.join("weightseal.tlog-proof").exists());
    // The genuine proof: written; with another log's key, refused.
    fs::write(root.join("add"), &proof_a).unwrap();
    let other = key(t, "other-log.key");
    let o = ws(&[
        "log",
        "init",
        s(&t.join("other-log")),
        "--origin",
        "example.test/models",
        "--key",
        s(&other),
    ]);
    let other_vkey = stdout(&o).lines().next().unwrap().to_string();
    let o = submit(&["--log-key", &other_vkey]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("not signed by the log key"),
        "{}",
        text(&o)
    );
    assert!(!a.join("weightseal.tlog-proof").exists());
    let o = submit(&["--log-key", &st.vkey]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(fs::read(a.join("weightseal.tlog-proof")).unwrap(), proof_a);
}

/// Finding 3: a hostile log signs a checkpoint of 2^32 entries and serves 2 MiB entry bundles
/// and hash tiles that lie. The monitor reads one bundle at a time and proves each chunk
/// before it records anything: it reports a fork after the first chunk, its peak memory stays
/// under 64 MiB, and its state is not written.
#[test]
fn a_monitor_shown_a_huge_hostile_log_stays_bounded() {
    use std::io::{Read as _, Write as _};
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let key = std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(&[5; 32]));
    let signer = weightseal::log::LogSigner::log("example.test/huge", key).unwrap();
    let vkey = signer.verifier().to_string();
    let note = weightseal::log::store::sign_checkpoint(&signer, 1 << 32, tlog_tiles::Hash([9; 32]))
        .unwrap()
        .to_bytes();
    // 256 entries of 8190 bytes: a 2 MiB bundle.
    let mut bundle = Vec::new();
    for i in 0..256u32 {
        bundle.extend_from_slice(&8190u16.to_be_bytes());
        let mut e = vec![b'x'; 8190];
        e[..4].copy_from_slice(&i.to_be_bytes());
        bundle.extend_from_slice(&e);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (note, bundle, count) = (note.clone(), bundle.clone(), count.clone());
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let body = if path == "/checkpoint" {
                    note
                } else if path.starts_with("/tile/entries/") {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    bundle
                } else if path.starts_with("/tile/") {
                    vec![7u8; 256 * 32]
                } else {
                    Vec::new()
                };
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = conn.write_all(&body);
            });
        }
    });
    let state = t.join("monitor.json");
    let (code, out, peak_mib) = common::run_measured(&[
        "log",
        "monitor",
        &url,
        "--log-key",
        &vkey,
        "--model",
        "org/*",
        "--state",
        s(&state),
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["problems"][0]["kind"], "fork", "{j}");
    assert_eq!(j["size"], 0, "{j}");
    assert_eq!(j["checkpoint_size"], 1u64 << 32, "{j}");
    let bundles = served.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        bundles,
        weightseal::log::monitor::CHUNK_TILES,
        "one chunk read, then the proof failed"
    );
    eprintln!("the monitor's peak RSS against the hostile log: {peak_mib:.1} MiB");
    assert!(peak_mib < 64.0, "peak RSS {peak_mib:.1} MiB");
    assert!(!state.exists(), "nothing unproved was recorded");
}

/// The monitor stops at its bound at a proved bundle boundary, records it, and the next run
/// reads only the bundles after it (a crash after a recorded chunk loses nothing read before).
#[test]
fn a_monitor_resumes_where_it_proved_and_reads_only_new_tiles() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("log");
    let dir = weightseal::log::store::LogDir::new(&root);
    let key = std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(&[6; 32]));
    let vkey = dir
        .init("example.test/resume", key.clone())
        .unwrap()
        .to_string();
    let entry = |i: u64| weightseal::log::LogEntry {
        model: format!("org/m{}", i % 7),
        manifest: weightseal::Digest(*blake3::hash(&i.to_le_bytes()).as_bytes()),
        version: None,
        attestations: vec![],
    };
    let es: Vec<Vec<u8>> = (0..600).map(|i| entry(i).encode()).collect();
    dir.add(key.clone(), &es[..300], &[]).unwrap();
    dir.add(key, &es[300..], &[]).unwrap();
    let served = common::server::Server::start(root.clone());
    let state = tmp.path().join("monitor.json");
    let monitor = |extra: &[&str]| {
        let mut a = vec![
            "log",
            "monitor",
            &served.base,
            "--log-key",
            &vkey,
            "--model",
            "org/m3",
            "--state",
            s(&state),
            "--json",
        ];
        a.extend_from_slice(extra);
        ws(&a)
    };
    let o = monitor(&["--max-entries", "300"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (j["size"].as_u64(), j["complete"].as_bool()),
        (Some(256), Some(false)),
        "{j}"
    );
    assert!(stderr(&o).contains("run again to go on"), "{}", text(&o));
    assert_eq!(served.requests("tile/entries/000"), 1);
    let o = monitor(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (j["old_size"].as_u64(), j["size"].as_u64()),
        (Some(256), Some(600)),
        "{j}"
    );
    // org/m3 is every 7th entry from 3: those at 256..600.
    let watched: Vec<u64> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        watched,
        (256..600).filter(|i| i % 7 == 3).collect::<Vec<_>>()
    );
    assert_eq!(served.requests("tile/entries/000"), 1, "not read again");
    assert_eq!(served.requests("tile/entries/001"), 1);
    assert_eq!(served.requests("tile/entries/002.p/88"), 1);
    // Nothing new: nothing read.
    let o = monitor(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(served.requests("tile/entries/001"), 1);
    // A cache still serves the checkpoint of 600 after the log grew to 800, which filled tile
    // 2 and so deleted its partial tiles (002.p/88 among them; tlog-tiles allows it once the
    // full one exists): a new monitor reads the first 88 entries of the full bundle.
    let old_checkpoint = fs::read(root.join("checkpoint")).unwrap();
    let more: Vec<Vec<u8>> = (600..800).map(|i| entry(i).encode()).collect();
    dir.add(
        std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(&[6; 32])),
        &more,
        &[],
    )
    .unwrap();
    for p in ["tile/entries/002.p", "tile/0/002.p"] {
        assert!(!root.join(p).exists(), "{p} kept");
    }
    for p in ["tile/entries/003.p/32", "tile/0/003.p/32", "tile/1/000.p/3"] {
        assert!(root.join(p).exists(), "{p} missing");
    }
    fs::write(root.join("checkpoint"), &old_checkpoint).unwrap();
    fs::remove_file(&state).unwrap();
    let o = monitor(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["size"], 600, "{j}");
    assert_eq!(served.requests("tile/entries/002"), 1);
}

/// A thief with the publisher's key logs the manifest without its version (an entry with no
/// attestation is a valid entry) and ships the release with a signed version-3 attestation:
/// a monitor watching versions would never see version 3. A verifier requires the version it
/// reads to be one the logged entry states.
#[test]
fn a_version_the_log_does_not_hold_is_not_verified() {
    let st = setup();
    let t = st.tmp.path();
    let logdir = t.join("log");
    let acme = key(t, "acme");
    let acme_pub = t.join("acme.pub");
    let m = t.join("m");
    release(&m, "org/m", b"weights", &acme, 3);
    let bare = weightseal::log::LogEntry {
        version: None,
        attestations: vec![],
        ..entry_of(&m)
    };
    let f = entries_file(t, "bare.txt", &[&bare]);
    let o = ws(&[
        "log",
        "add",
        s(&logdir),
        "--key",
        s(&st.log_key),
        "--entries",
        s(&f),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let proof = weightseal::log::store::LogDir::new(&logdir)
        .proof(0, &bare.encode())
        .unwrap();
    fs::write(m.join("weightseal.tlog-proof"), proof.encode()).unwrap();
    let verify = || {
        ws(&[
            "verify",
            s(&m),
            "--key",
            s(&acme_pub),
            "--log-key",
            &st.vkey,
        ])
    };
    let o = verify();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains(
            "the release states version 3, but its logged entry states none: the version was not logged"
        ),
        "{}",
        text(&o)
    );
    // Logged with its attestation (version 3): verified.
    let o = ws(&["log", "add", s(&logdir), "--key", s(&st.log_key), s(&m)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Witnesses are asked at once: three that accept the connection and never answer cost one
/// request timeout (10 s), not three, and the one that answers cosigns the checkpoint.
#[test]
fn silent_witnesses_do_not_add_up_and_do_not_block_the_others() {
    let st = setup();
    let t = st.tmp.path();
    let acme = key(t, "acme");
    let model = t.join("model");
    release(&model, "org/tiny", b"weights", &acme, 1);
    let real_key = key(t, "w.key");
    let real = start(
        &[
            "witness",
            "serve",
            "--key",
            s(&real_key),
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
    let real_vkey = real.first_line.clone().unwrap();
    // Listeners that accept (the kernel's backlog) and never answer.
    let silent: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut args = vec![
        "log".to_string(),
        "add".into(),
        s(&t.join("log")).into(),
        "--key".into(),
        s(&st.log_key).into(),
        s(&model).into(),
    ];
    for (i, l) in silent.iter().enumerate() {
        let vkey = weightseal::log::LogSigner::cosigner(
            &format!("silent{i}.test"),
            std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(
                &[40 + i as u8; 32],
            )),
            0,
        )
        .unwrap()
        .verifier()
        .to_string();
        args.push("--witness".into());
        args.push(format!("http://{}={vkey}", l.local_addr().unwrap()));
    }
    args.push("--witness".into());
    args.push(format!("{}={real_vkey}", real.url));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let o = ws(&args);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        took < std::time::Duration::from_secs(18),
        "took {took:?}: the silent witnesses were waited for one after another"
    );
    assert!(
        stderr(&o).contains("checkpoint cosigned by 1 of 4 witness(es)"),
        "{}",
        text(&o)
    );
    assert_eq!(
        stderr(&o)
            .lines()
            .filter(|l| l.starts_with("weightseal: warning: witness http://127.0.0.1:"))
            .count(),
        3,
        "{}",
        text(&o)
    );
    let o = ws(&[
        "verify",
        s(&model),
        "--key",
        s(&t.join("acme.pub")),
        "--log-key",
        &st.vkey,
        "--witness",
        &real_vkey,
        "--quorum",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// The trust store can hold the log requirement: `trust add KEY --model P --log-key VKEY`
/// makes `verify` and `fetch` of the models P matches ask for the log proof with no flag;
/// two entries requiring different logs for one model are refused, not picked from.
#[test]
fn a_trust_store_entry_requires_its_log() {
    let st = setup();
    let t = st.tmp.path();
    let acme = key(t, "acme.key");
    let store = t.join("trust.toml");
    let model = t.join("model");
    release(&model, "acme/tiny", b"weights", &acme, 1);
    let o = common::ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&t.join("acme.key.pub")),
            "--model",
            "acme/*",
            "--log-key",
            &st.vkey,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("as publisher for acme/*, in log example.test/models"),
        "{}",
        text(&o)
    );
    // Not logged yet: refused, by the store's requirement alone.
    let o = common::ws_trust(&store, &["verify", s(&model)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("transparency log: FAILED (no proof that the release is in the log"),
        "{}",
        text(&o)
    );
    let o = ws(&[
        "log",
        "add",
        s(&t.join("log")),
        "--key",
        s(&st.log_key),
        s(&model),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = common::ws_trust(&store, &["verify", s(&model)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("transparency log: OK (example.test/models, entry 0 of 1"),
        "{}",
        text(&o)
    );
    // fetch asks the same question of a served release, before any weight byte.
    let server = common::server::Server::start(model.clone());
    let dest = t.join("dest");
    let o = common::ws_trust(&store, &["fetch", &server.base, s(&dest)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("transparency log: OK"), "{}", text(&o));
    fs::remove_file(model.join("weightseal.tlog-proof")).unwrap();
    let dest2 = t.join("dest2");
    let o = common::ws_trust(&store, &["fetch", &server.base, s(&dest2)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("nothing downloaded"), "{}", text(&o));
    assert!(!dest2.join("w.bin").exists());
    // A second entry for the same names requiring another log: no single answer.
    let other = key(t, "other-log.key");
    let other_vkey = tlog::init_log(&t.join("other-log"), "example.test/other", &other);
    let o = common::ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&t.join("acme.key.pub")),
            "--model",
            "acme/tiny",
            "--role",
            "auditor",
            "--log-key",
            &other_vkey,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = common::ws_trust(&store, &["verify", s(&model)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("require different transparency logs"),
        "{}",
        text(&o)
    );
    // A bad log key is refused when the entry is added.
    let o = common::ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&t.join("acme.key.pub")),
            "--model",
            "x/*",
            "--log-key",
            "not-a-key",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("log key"), "{}", text(&o));
}

/// An OpenSSF bundle is not logged: a trust store entry that requires a log cannot be met by
/// a `model.sig` its key made (else whoever holds the publisher's key ships a `model.sig`
/// instead of weightseal evidence and steps around the log).
#[test]
fn an_openssf_bundle_does_not_meet_a_trust_store_log_requirement() {
    let st = setup();
    let t = st.tmp.path();
    let acme = key(t, "acme.key");
    let model = t.join("tiny");
    release(&model, "acme/tiny", b"weights", &acme, 1);
    let o = ws(&["sign", s(&model), "--key", s(&acme), "--format", "oms"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sig = model.join("model.sig");
    // The same entry without a log: the bundle verifies (the model_signing name is `tiny`).
    let plain = t.join("plain.toml");
    let o = common::ws_trust(
        &plain,
        &[
            "trust",
            "add",
            s(&t.join("acme.key.pub")),
            "--model",
            "tiny",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = common::ws_trust(&plain, &["verify", s(&model), "--signature", s(&sig)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // With the log required: refused, whatever the bundle's signature.
    let store = t.join("trust.toml");
    let o = common::ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&t.join("acme.key.pub")),
            "--model",
            "tiny",
            "--log-key",
            &st.vkey,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = common::ws_trust(&store, &["verify", s(&model), "--signature", s(&sig)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "require a transparency log proof, which an OpenSSF model signing bundle cannot carry"
        ),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("model verified"), "{}", text(&o));
}
