//! Downloads and mirror validation against a real HTTP server on 127.0.0.1 (tests/common/
//! server.rs) with fault injection: every fault either ends in a verified download (after
//! retries) or in a failure that names the file and byte range, and the destination never
//! holds an unverified file at a final path.

mod common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::fixture::{fetch, fixture, s, Fixture};
use common::server::Fault;
use common::{stderr, stdout, ws};
use serde_json::Value;

/// The entry for `path` in the `files` of a fetch's JSON report.
fn file_of<'a>(j: &'a Value, path: &str) -> &'a Value {
    j["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {j}"))
}

/// Every final file in DEST equals the original; no stray partial file remains at a final path.
fn assert_verified_copy(f: &Fixture) {
    for p in [
        "big.bin",
        "small.bin",
        "config.json",
        "empty.txt",
        "sub/with space.bin",
    ] {
        assert_eq!(
            fs::read(f.dest.join(p)).unwrap(),
            fs::read(f.model.join(p)).unwrap(),
            "{p}"
        );
    }
    let o = ws(&["verify", s(&f.dest), "--key", s(&f.key_pub)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(!f.dest.join(".weightseal-partial").exists());
}

#[test]
fn clean_fetch_with_ranges_then_offline_verify() {
    let f = fixture();
    let o = fetch(&f, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], true);
    assert_verified_copy(&f);
    // 19 range requests for big.bin, exactly its bytes.
    assert_eq!(f.server.requests("big.bin"), 19);
    assert_eq!(f.server.sent("big.bin"), 300_000);
    // A second run downloads nothing.
    f.server.reset_counts();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("big.bin: OK (already present)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(f.server.sent("big.bin"), 0);
}

#[test]
fn flipped_byte_is_retried_then_accepted() {
    let f = fixture();
    f.server.fault("big.bin", Fault::FlipByte(100_000), 2);
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_verified_copy(&f);
    assert_eq!(f.server.requests("big.bin"), 21);
}

#[test]
fn persistent_corruption_fails_naming_file_and_range_and_leaves_no_final_file() {
    let f = fixture();
    f.server.fault("big.bin", Fault::FlipByte(100_000), 100);
    let o = fetch(&f, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let big = file_of(&j, "big.bin");
    assert_eq!(big["status"], "failed");
    assert_eq!(
        big["error"],
        "big.bin: bytes 98304..114688 do not match the manifest (after 4 attempts)"
    );
    assert!(
        !f.dest.join("big.bin").exists(),
        "an unverified file at its final path"
    );
    assert!(f.dest.join("small.bin").exists());
    assert!(!f.dest.join("weightseal.manifest").exists());
    // The text line names the file once, then the reason.
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines().any(|l| {
            l
            == "big.bin: FAILED (bytes 98304..114688 do not match the manifest (after 4 attempts))"
        }),
        "{out}"
    );
}

#[test]
fn truncated_reset_500_and_stall_are_retried() {
    let f = fixture();
    f.server.fault("big.bin", Fault::Truncate, 1);
    f.server.fault("small.bin", Fault::Reset, 1);
    f.server.fault("config.json", Fault::Status(500), 2);
    f.server.fault(
        "sub/with space.bin",
        Fault::Stall(Duration::from_secs(4)),
        1,
    );
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_verified_copy(&f);
}

#[test]
fn server_ignoring_range_is_streamed() {
    let f = fixture();
    f.server.ignore_range(true);
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_verified_copy(&f);
    assert_eq!(f.server.requests("big.bin"), 1);
}

#[test]
fn a_repair_from_a_server_ignoring_range_reports_the_bytes_received() {
    let f = fixture();
    // One chunk of big.bin stays corrupt for the first run's four attempts.
    f.server.fault("big.bin", Fault::FlipByte(100_000), 4);
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // The rerun needs 16 KiB, but the server ignores Range and sends the whole file.
    f.server.ignore_range(true);
    f.server.reset_counts();
    let o = fetch(&f, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let big = file_of(&j, "big.bin");
    assert_eq!(big["resumed"].as_u64().unwrap(), 300_000 - 16384);
    assert_eq!(f.server.sent("big.bin"), 300_000);
    assert_eq!(big["downloaded"].as_u64().unwrap(), 300_000);
    assert_verified_copy(&f);
}

#[test]
fn endless_data_is_refused() {
    let f = fixture();
    f.server.ignore_range(true);
    f.server.fault("small.bin", Fault::ExtraBytes, 100);
    let o = fetch(&f, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let small = file_of(&j, "small.bin");
    let err = small["error"].as_str().unwrap();
    assert!(
        err.ends_with("small.bin: the server sent more than the 50000 bytes expected"),
        "{err}"
    );
    assert!(!f.dest.join("small.bin").exists());
}

#[test]
fn missing_file_and_untrusted_manifest() {
    let f = fixture();
    fs::rename(f.model.join("config.json"), f.model.join("config.moved")).unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("config.json: FAILED (")
            && stdout(&o).contains("/config.json: HTTP 404 (not found))"),
        "{}",
        stdout(&o)
    );
    fs::rename(f.model.join("config.moved"), f.model.join("config.json")).unwrap();
    // Wrong key: the attestations are refused before any weight byte is requested.
    f.server.reset_counts();
    let dest2 = f.dest.with_file_name("dest2");
    let o = ws(&["fetch", &f.server.base, s(&dest2), "--key", s(&f.other_pub)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing downloaded"), "{}", stderr(&o));
    assert_eq!(
        f.server.total_sent()
            - f.server.sent("weightseal.manifest")
            - f.server.sent("weightseal.intoto.jsonl"),
        0
    );
    // Neither key nor policy: refused (a verdict, exit 1) unless --allow-unsigned, before any
    // weight byte.
    let o = ws(&["fetch", &f.server.base, s(&dest2)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no trust is configured") && stderr(&o).contains("--allow-unsigned"),
        "{}",
        stderr(&o)
    );
    assert!(!dest2.join("big.bin").exists());
    let o = ws(&["fetch", &f.server.base, s(&dest2), "--allow-unsigned"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn url_template_maps_paths() {
    let f = fixture();
    let template = format!("{}/{{path}}", f.server.base);
    let o = ws(&[
        "fetch",
        "http://127.0.0.1:9/unused",
        s(&f.dest),
        "--key",
        s(&f.key_pub),
        "--url-template",
        &template,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_verified_copy(&f);
}

#[test]
fn resume_after_kill_requests_only_missing_bytes() {
    let f = fixture();
    // Slow responses so that the first run can be killed midway.
    f.server.delay(Duration::from_millis(150));
    let mut child = Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args([
            "fetch",
            &f.server.base,
            s(&f.dest),
            "--key",
            s(&f.key_pub),
            "--jobs",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while f.server.sent("big.bin") < 6 * 16384 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first = f.server.sent("big.bin");
    assert!(
        (6 * 16384..300_000).contains(&first),
        "first run sent {first}"
    );
    assert!(!f.dest.join("big.bin").exists());
    f.server.delay(Duration::ZERO);
    f.server.reset_counts();
    let o = fetch(&f, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let big = file_of(&j, "big.bin");
    let resumed = big["resumed"].as_u64().unwrap();
    assert!(resumed >= 5 * 16384, "resumed only {resumed}");
    // Only the missing bytes were requested.
    assert_eq!(f.server.sent("big.bin"), 300_000 - resumed);
    assert_eq!(big["downloaded"].as_u64().unwrap(), 300_000 - resumed);
    assert_verified_copy(&f);
}

#[test]
fn a_sample_against_a_server_that_ignores_range_reads_each_file_once_and_says_so() {
    let f = fixture();
    f.server.ignore_range(true);
    let o = ws(&[
        "verify",
        "--url",
        &f.server.base,
        "--sample",
        "0.05",
        "--integrity-only",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // One whole download of each file, every chunk checked: not a second full download after
    // the first range request came back whole.
    assert_eq!(f.server.requests("big.bin"), 1);
    assert_eq!(f.server.sent("big.bin"), 300_000);
    assert!(
        stdout(&o).contains(
            "big.bin: OK (the server ignores Range: the whole file was read, all 19 chunks checked)"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("not a sample: the server ignores Range requests")
            && !stderr(&o).contains("checked a random"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verify_url_full_and_sampled() {
    let f = fixture();
    let o = ws(&["verify", "--url", &f.server.base, "--key", s(&f.key_pub)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("big.bin: OK\n"));
    assert_eq!(f.server.sent("big.bin"), 300_000);
    // A mirror that serves a corrupted byte is caught, with its range.
    f.server.fault("big.bin", Fault::FlipByte(200_000), 100);
    let o = ws(&["verify", "--url", &f.server.base, "--integrity-only"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "big.bin: FAILED (modified: somewhere in bytes 196608..212992, one 16.00 KiB chunk)"
        ),
        "{}",
        stdout(&o)
    );
    // Sampling every chunk finds it too, by range requests, and says it sampled.
    f.server.reset_counts();
    let o = ws(&[
        "verify",
        "--url",
        &f.server.base,
        "--sample",
        "1",
        "--integrity-only",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "big.bin: FAILED (modified: somewhere in bytes 196608..212992, one 16.00 KiB chunk; sampled 19 of 19 chunks)"
        ),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("SAMPLE"), "{}", stderr(&o));
    assert_eq!(f.server.requests("big.bin"), 19);
    // Every file line of a sampled check says how much of the file it read.
    for line in stdout(&o).lines().filter(|l| l.contains(": OK")) {
        assert!(line.contains("(sampled "), "{line}");
    }
    f.server.reset_counts();
    let o = ws(&[
        "verify",
        "--url",
        &f.server.base,
        "--sample",
        "0.2",
        "--json",
        "--integrity-only",
    ]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["sample"], 0.2);
    assert_eq!(f.server.requests("big.bin"), 4);
    let big = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "big.bin")
        .unwrap();
    assert_eq!(
        big["sampled"],
        serde_json::json!({"checked": 4, "chunks": 19})
    );
    assert!(j["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["sampled"]["chunks"].as_u64().is_some()));
}

#[test]
fn mirror_countersigns_a_verified_fetch() {
    let f = fixture();
    assert_eq!(fetch(&f, &[]).status.code(), Some(0));
    let mk = f.dest.with_file_name("mirror");
    assert_eq!(ws(&["keygen", "--out", s(&mk)]).status.code(), Some(0));
    let o = ws(&[
        "sign",
        s(&f.dest),
        "--key",
        s(&mk),
        "--role",
        "mirror",
        "--signer",
        "mirror.example",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 attestation(s)"), "{}", stdout(&o));
    let bundle = fs::read_to_string(f.dest.join("weightseal.intoto.jsonl")).unwrap();
    assert_eq!(bundle.lines().count(), 2);
}

#[test]
fn redirects_to_other_schemes_and_403_are_refused() {
    let f = fixture();
    f.server.fault(
        "small.bin",
        Fault::Redirect("file:///etc/passwd".into()),
        100,
    );
    f.server.fault("config.json", Fault::Status(403), 100);
    let base = f.server.base.clone();
    f.server.fault(
        "sub/with space.bin",
        Fault::Redirect(format!("{base}/big.bin")),
        100,
    );
    let o = fetch(&f, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = |p: &str| {
        j["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == p)
            .unwrap()
            .clone()
    };
    let small = file("small.bin");
    assert!(
        small["error"].as_str().unwrap().ends_with("/small.bin: HTTP 302 redirect to \"file:///etc/passwd\" not followed (only http and https redirects are)"),
        "{small}"
    );
    let config = file("config.json");
    assert!(
        config["error"]
            .as_str()
            .unwrap()
            .ends_with("/config.json: HTTP 403 (access denied)"),
        "{config}"
    );
    // An HTTP redirect is followed, but to the wrong bytes: they do not verify.
    let spaced = file("sub/with space.bin");
    assert_eq!(spaced["status"], "failed");
    for p in ["small.bin", "config.json", "sub/with space.bin"] {
        assert!(!f.dest.join(p).exists(), "{p} at its final path");
    }
    assert!(f.dest.join("big.bin").exists());
}

#[test]
fn fetch_uses_the_trust_store_when_no_key_is_given() {
    let f = fixture();
    let store = f.dest.with_file_name("trust.toml");
    let args = |dest: &str| vec!["fetch".to_string(), f.server.base.clone(), dest.to_string()];
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        common::ws_trust(&store, &a)
    };
    // Nothing trusted: refused before any weight byte.
    let o = run(args(s(&f.dest)));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nobody vouches for its manifest"),
        "{}",
        stderr(&o)
    );
    assert_eq!(f.server.requests("big.bin"), 0);
    // The fixture's model is named "model".
    let o = common::ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&f.key_pub),
            "--model",
            "mod*",
            "--name",
            "pub",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(args(s(&f.dest)));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("pub (publisher for mod*)"),
        "{}",
        stderr(&o)
    );
    assert_verified_copy(&f);
}

/// A mirror checked against the publisher's own manifest: the attestations are read beside
/// that local manifest (or from --attestations), not from the mirror, and signatures and pins
/// are judged before any weight byte is requested. `fetch --attestations` too.
#[test]
fn mirror_checked_against_a_local_manifest_and_its_attestations() {
    let f = fixture();
    // The publisher's release, kept locally; the mirror serves the weights without them.
    let local = f.dest.with_file_name("publisher");
    fs::create_dir_all(&local).unwrap();
    for name in ["weightseal.manifest", "weightseal.intoto.jsonl"] {
        fs::rename(f.model.join(name), local.join(name)).unwrap();
    }
    let manifest = local.join("weightseal.manifest");
    let o = ws(&[
        "verify",
        "--url",
        &f.server.base,
        "--manifest",
        s(&manifest),
        "--key",
        s(&f.key_pub),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("attestation 1: OK"), "{}", stdout(&o));
    // A pin that does not hold, or a key that did not sign: refused before streaming.
    for extra in [["--model", "org/other"], ["--key", s(&f.other_pub)]] {
        f.server.reset_counts();
        let mut args = vec![
            "verify",
            "--url",
            &f.server.base,
            "--manifest",
            s(&manifest),
        ];
        if extra[0] == "--model" {
            args.extend(["--key", s(&f.key_pub)]);
        }
        args.extend(extra);
        let o = ws(&args);
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains("NOT verified"), "{}", stderr(&o));
        assert_eq!(f.server.total_sent(), 0, "weight bytes were requested");
    }
    // --attestations names them explicitly, for verify --url and for fetch.
    let moved = f.dest.with_file_name("elsewhere.jsonl");
    fs::copy(local.join("weightseal.intoto.jsonl"), &moved).unwrap();
    let o = ws(&[
        "fetch",
        &f.server.base,
        s(&f.dest),
        "--manifest",
        s(&manifest),
        "--attestations",
        s(&moved),
        "--key",
        s(&f.key_pub),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = ws(&["verify", s(&f.dest), "--key", s(&f.key_pub)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

/// `model.sig` kept beside the weights (as Hugging Face repositories keep it) is a file of the
/// release: `sign --format both` writes it into the model, `verify` and `sign` leave it out of
/// the manifest, `fetch` delivers it once the files it signs are the files delivered (and its
/// signature verifies under the publisher's key), and a mismatched one is refused.
#[test]
fn model_sig_is_delivered_and_checked_with_the_release() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-chat");
    fs::create_dir_all(&model).unwrap();
    fs::write(model.join("w.bin"), common::fixture::bytes(70_000, 4)).unwrap();
    fs::write(model.join("config.json"), b"{}\n").unwrap();
    let key = tmp.path().join("ec");
    assert_eq!(
        ws(&["keygen", "--out", s(&key), "--type", "ecdsa-p256"])
            .status
            .code(),
        Some(0)
    );
    let pubkey = tmp.path().join("ec.pub");
    let sig = model.join("model.sig");
    let o = ws(&[
        "sign",
        s(&model),
        "--key",
        s(&key),
        "--format",
        "both",
        "--signature",
        s(&sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // Both verifications of the model directory pass, and signing again is not refused.
    for extra in [vec![], vec!["--signature", s(&sig)]] {
        let mut args = vec!["verify", s(&model), "--key", s(&pubkey)];
        args.extend(extra);
        let o = ws(&args);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    }
    let o = ws(&["sign", s(&model), "--key", s(&key), "--role", "auditor"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let server = common::server::Server::start(model.clone());
    let dest = tmp.path().join("dest");
    let o = ws(&["fetch", &server.base, s(&dest), "--key", s(&pubkey)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("model.sig: OK (OpenSSF model signing, key "),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        fs::read(dest.join("model.sig")).unwrap(),
        fs::read(&sig).unwrap()
    );
    let o = ws(&[
        "verify",
        s(&dest),
        "--signature",
        s(&dest.join("model.sig")),
        "--key",
        s(&pubkey),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // A mirror check reads it too: its signature, and its files against the manifest's.
    let o = ws(&["verify", "--url", &server.base, "--key", s(&pubkey)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("model.sig: OK (OpenSSF model signing, key "),
        "{}",
        stdout(&o)
    );
    // A server pairing the weights with another release's model.sig: refused, not delivered.
    let other = tmp.path().join("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("w.bin"), b"other weights").unwrap();
    let o = ws(&[
        "sign",
        s(&other),
        "--key",
        s(&key),
        "--format",
        "oms",
        "--signature",
        s(&sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let dest2 = tmp.path().join("dest2");
    let o = ws(&["fetch", &server.base, s(&dest2), "--key", s(&pubkey)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("model.sig: FAILED"), "{}", stdout(&o));
    assert!(stderr(&o).contains("NOT verified"), "{}", stderr(&o));
    assert!(!dest2.join("model.sig").exists());
    let o = ws(&["verify", "--url", &server.base, "--key", s(&pubkey)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("model.sig: FAILED (it signs other files than the manifest lists"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn verify_url_names_the_chunk_and_the_tensors_in_it() {
    // A safetensors file written by the official writer: 4 tensors of 64 KiB, 16 KiB chunks.
    use safetensors::tensor::{serialize_to_file, Dtype, TensorView};
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir(&model).unwrap();
    let data: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 64 * 1024]).collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                format!("layer.{i}.weight"),
                TensorView::new(Dtype::F32, vec![128, 128], d).unwrap(),
            )
        })
        .collect();
    serialize_to_file(views, None, &model.join("model.safetensors")).unwrap();
    assert_eq!(
        ws(&["hash", s(&model), "--chunk-size", "16K"])
            .status
            .code(),
        Some(0)
    );
    let server = common::server::Server::start(model.clone());
    // One byte inside layer.1.weight (the data starts after the header).
    let header = 8 + u64::from_le_bytes(
        fs::read(model.join("model.safetensors")).unwrap()[..8]
            .try_into()
            .unwrap(),
    );
    let at = header + 64 * 1024 + 100;
    server.fault("model.safetensors", Fault::FlipByte(at), 100);
    let o = ws(&["verify", "--url", &server.base, "--integrity-only"]);
    assert_eq!(o.status.code(), Some(1));
    let (start, end) = (at / 16384 * 16384, at / 16384 * 16384 + 16384);
    let want = format!(
        "model.safetensors: FAILED (modified: somewhere in bytes {start}..{end}, one 16.00 KiB chunk; "
    );
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("model.safetensors:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with(&want), "{line}");
    // The chunk holds the end of layer.0 or the start of layer.1, never layers 2 and 3.
    assert!(line.contains("layer.1.weight"), "{line}");
    assert!(
        !line.contains("layer.2.weight") && !line.contains("layer.3.weight"),
        "{line}"
    );
    let o = ws(&[
        "verify",
        "--url",
        &server.base,
        "--json",
        "--integrity-only",
    ]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &j["files"][0];
    assert_eq!(f["chunk_size"], 16384);
    assert!(f["overlapping"]
        .as_array()
        .unwrap()
        .contains(&Value::from("layer.1.weight")));
}

/// A refused fetch leaves none of the release's evidence in DEST: with a file DEST already
/// held (an extra file), the weights verify but the fetch is refused, and no manifest or
/// attestation lands beside them, so `verify DEST` cannot accept what the fetch refused.
#[test]
fn a_refused_fetch_writes_no_evidence_into_dest() {
    let f = fixture();
    fs::create_dir_all(&f.dest).unwrap();
    fs::write(f.dest.join("junk"), b"planted").unwrap();
    let o = ws(&["fetch", &f.server.base, s(&f.dest), "--key", s(&f.key_pub)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the release's evidence was not written into DEST"),
        "{}",
        stderr(&o)
    );
    assert!(!f.dest.join("weightseal.manifest").exists());
    assert!(!f.dest.join("weightseal.intoto.jsonl").exists());
    let o = ws(&[
        "verify",
        s(&f.dest),
        "--key",
        s(&f.key_pub),
        "--allow-extra",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
