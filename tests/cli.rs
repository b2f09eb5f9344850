//! The `weightseal` binary end to end: real files in a temporary directory, real process,
//! exit codes and output lines asserted exactly.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn ws(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args(args)
        .output()
        .expect("run weightseal")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A model of three files; `big.bin` spans 5 groups of 16 KiB.
fn model(dir: &Path) {
    fs::create_dir_all(dir.join("sub")).unwrap();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    fs::write(dir.join("big.bin"), big).unwrap();
    fs::write(dir.join("config.json"), br#"{"a": 1}"#).unwrap();
    fs::write(dir.join("sub/tok.json"), b"{}").unwrap();
}

fn hash(dir: &Path) -> String {
    let o = ws(&[
        "hash",
        dir.to_str().unwrap(),
        "--chunk-size",
        "16K",
        "--name",
        "t",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = stdout(&o);
    let digest = line.split_whitespace().next().unwrap().to_string();
    assert_eq!(digest.len(), 64);
    digest
}

/// `verify DIR --integrity-only`: these tests are about the files against the manifest (no
/// key is given, and with no trust a release is refused; tests/hostile/policy.rs covers that).
fn verify(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", dir.to_str().unwrap(), "--integrity-only"];
    args.extend_from_slice(extra);
    ws(&args)
}

#[test]
fn hash_then_verify_ok() {
    let d = tempfile::tempdir().unwrap();
    model(d.path());
    let digest = hash(d.path());
    let manifest = fs::read(d.path().join("weightseal.manifest")).unwrap();
    assert_eq!(blake3::hash(&manifest).to_hex().as_str(), digest);
    // Deterministic: hashing again gives the same bytes.
    assert_eq!(hash(d.path()), digest);
    assert_eq!(
        fs::read(d.path().join("weightseal.manifest")).unwrap(),
        manifest
    );
    let o = verify(d.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "big.bin: OK\nconfig.json: OK\nsub/tok.json: OK\n"
    );
    assert!(
        stderr(&o).contains("integrity only: 3 file(s)"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains(&digest));
}

#[test]
fn flipped_byte_names_file_and_range() {
    let d = tempfile::tempdir().unwrap();
    model(d.path());
    hash(d.path());
    let p = d.path().join("big.bin");
    let mut b = fs::read(&p).unwrap();
    b[40_000] ^= 0x80;
    fs::write(&p, b).unwrap();
    let o = verify(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "big.bin: FAILED (modified: somewhere in bytes 32768..49152, one 16.00 KiB chunk)\nconfig.json: OK\nsub/tok.json: OK\n"
    );
    let o = verify(d.path(), &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["files"][0]["status"], "modified");
    assert_eq!(
        j["files"][0]["ranges"],
        serde_json::json!([{"start": 32768, "end": 49152}])
    );
    assert_eq!(j["files"][1]["status"], "ok");
}

#[test]
fn missing_and_extra_files() {
    let d = tempfile::tempdir().unwrap();
    model(d.path());
    hash(d.path());
    fs::remove_file(d.path().join("config.json")).unwrap();
    let o = verify(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "big.bin: OK\nconfig.json: FAILED (missing)\nsub/tok.json: OK\n"
    );
    fs::write(d.path().join("config.json"), br#"{"a": 1}"#).unwrap();
    fs::write(d.path().join("sub/new.bin"), b"x").unwrap();
    let o = verify(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "big.bin: OK\nconfig.json: OK\nsub/new.bin: FAILED (extra: not in the manifest)\nsub/tok.json: OK\n"
    );
    let o = verify(d.path(), &["--allow-extra"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("sub/new.bin: EXTRA (allowed)\n"));
    let o = verify(d.path(), &["--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        j["files"][2],
        serde_json::json!({"path": "sub/new.bin", "status": "extra", "size": 1, "allowed": false})
    );
}

#[test]
fn bad_manifest_exits_2_naming_the_problem() {
    let d = tempfile::tempdir().unwrap();
    model(d.path());
    hash(d.path());
    let mp = d.path().join("weightseal.manifest");
    let mut m = fs::read(&mp).unwrap();
    m.push(0);
    fs::write(&mp, &m).unwrap();
    let o = verify(d.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("invalid manifest") && e.contains("1 trailing byte(s)"),
        "{e}"
    );
    let o = verify(
        d.path(),
        &["--manifest", "/nonexistent/weightseal.manifest"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read manifest /nonexistent/weightseal.manifest"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_json_lists_every_field() {
    let d = tempfile::tempdir().unwrap();
    model(d.path());
    let o = ws(&[
        "hash",
        d.path().to_str().unwrap(),
        "--chunk-size",
        "16384",
        "--sha256",
        "--name",
        "org/m",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let digest = stdout(&o).split_whitespace().next().unwrap().to_string();
    let o = ws(&[
        "show",
        d.path().join("weightseal.manifest").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["name"], "org/m");
    assert_eq!(j["format"], 1);
    assert_eq!(j["chunk_size"], 16384);
    assert_eq!(j["digest"], digest.as_str());
    let big = &j["files"][0];
    let data = fs::read(d.path().join("big.bin")).unwrap();
    assert_eq!(big["path"], "big.bin");
    assert_eq!(big["size"], 70_000);
    assert_eq!(big["blake3"], blake3::hash(&data).to_hex().as_str());
    assert_eq!(big["chunks"].as_array().unwrap().len(), 5);
    use sha2::Digest as _;
    assert_eq!(
        big["sha256"],
        weightseal::digest::hex(&sha2::Sha256::digest(&data))
    );
    let o = ws(&["show", d.path().to_str().unwrap()]);
    assert!(
        stdout(&o).contains(&format!("digest:      {digest}")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn symlinks_refused_unless_followed() {
    let d = tempfile::tempdir().unwrap();
    let blobs = tempfile::tempdir().unwrap();
    fs::write(blobs.path().join("blob"), b"weights").unwrap();
    std::os::unix::fs::symlink(blobs.path().join("blob"), d.path().join("model.bin")).unwrap();
    let o = ws(&["hash", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("model.bin: is a symbolic link"),
        "{}",
        stderr(&o)
    );
    let o = ws(&["hash", d.path().to_str().unwrap(), "--follow-symlinks"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = verify(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("model.bin: FAILED (unreadable: is a symbolic link"),
        "{}",
        stdout(&o)
    );
    let o = verify(d.path(), &["--follow-symlinks"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let o = ws(&["hash", d.path().to_str().unwrap(), "--chunk-size", "3000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("chunk size 3000 is outside the allowed range"),
        "{}",
        stderr(&o)
    );
    let o = ws(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = ws(&["hash", "/nonexistent/model"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/model: no such model directory or file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn manifest_written_elsewhere_is_not_hashed() {
    let d = tempfile::tempdir().unwrap();
    model(d.path());
    let out = d.path().join("release.manifest");
    let o = ws(&[
        "hash",
        d.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = verify(d.path(), &["--manifest", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("release.manifest"));
}

#[test]
fn demo_detects_the_tampering() {
    let o = ws(&["demo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("model-00002-of-00003.safetensors: FAILED (modified: somewhere in bytes 4194304..4918400, one 707.12 KiB chunk; 1 tensor changed: "),
        "{s}"
    );
    assert!(
        s.contains("Detected: model-00002-of-00003.safetensors"),
        "{s}"
    );
    // The transparency log: the release logged and required, a rogue one caught.
    assert!(
        s.contains(
            "transparency log: OK (demo.weightseal.dev/log, entry 0 of 1, cosigned by no witness)"
        ),
        "{s}"
    );
    assert!(
        s.contains("entry 1: \"demo-model\" version 2 manifest ")
            && s.contains("NOT signed by a watched key"),
        "{s}"
    );
    assert!(
        s.contains(
            "Detected: entry 1 claims \"demo-model\" but is not signed by the publisher's key"
        ),
        "{s}"
    );
}

/// Every `cargo install` the README shows builds the dependency set the tests ran
/// (`--locked`), not whatever newer versions the registry has that day.
#[test]
fn the_readme_installs_with_the_tested_lock_file() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let installs: Vec<&str> = readme
        .lines()
        .filter(|l| l.contains("cargo install"))
        .collect();
    assert!(!installs.is_empty());
    for l in installs {
        assert!(l.contains("--locked"), "without --locked: {l}");
    }
}

#[test]
fn a_single_gguf_is_named_after_its_general_name_only_when_that_is_a_valid_name() {
    let tmp = tempfile::tempdir().unwrap();
    let original = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/model-q.gguf"),
    )
    .unwrap();
    let at = original
        .windows(18)
        .position(|w| w == b"weightseal-fixture")
        .expect("the fixture's general.name");
    let key = tmp.path().join("k");
    assert!(ws(&["keygen", "--out", key.to_str().unwrap()])
        .status
        .success());
    let sign = |file: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "sign",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ws(&args)
    };
    // A valid general.name is the default, and the user is told.
    let good = tmp.path().join("good.Q8_0.gguf");
    std::fs::write(&good, &original).unwrap();
    let o = sign(&good, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("signed weightseal-fixture (manifest "),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("named the model \"weightseal-fixture\" after the GGUF's general.name (give --name to choose another)"),
        "{}",
        stderr(&o)
    );
    // --name wins, and nothing is said.
    std::fs::remove_file(tmp.path().join("good.Q8_0.gguf.weightseal.manifest")).unwrap();
    std::fs::remove_file(tmp.path().join("good.Q8_0.gguf.weightseal.intoto.jsonl")).unwrap();
    let o = sign(&good, &["--name", "acme/model"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("signed acme/model (manifest "));
    assert!(!stderr(&o).contains("general.name"), "{}", stderr(&o));
    // An invalid one (a control character; white space at an end): the file name.
    for (i, bad) in [&b"weightseal-fixtur\x07"[..], b" eightseal-fixture"]
        .into_iter()
        .enumerate()
    {
        let mut b = original.clone();
        b[at..at + 18].copy_from_slice(bad);
        let file = tmp.path().join(format!("bad{i}.gguf"));
        std::fs::write(&file, &b).unwrap();
        let o = ws(&["hash", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(!stderr(&o).contains("general.name"), "{}", stderr(&o));
        let o = sign(&file, &[]);
        assert!(
            stdout(&o).starts_with(&format!("signed bad{i}.gguf (manifest ")),
            "{}",
            stdout(&o)
        );
    }
}
