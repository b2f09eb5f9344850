//! Keys users already hold: ECDSA keys made by `openssl` (PKCS#8, SEC1, encrypted PKCS#8),
//! OpenSSH keys made by `ssh-keygen` (plain and encrypted, `.pub` lines and a GitHub-style
//! keys file), each signing and verifying weightseal attestations; securesystemslib verifies
//! an ECDSA-signed envelope; every wrong key type is named with what to do.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{python, stderr, stdout, tool, ws};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn run(cmd: &mut Command) {
    let o = cmd.output().expect("run tool");
    assert!(o.status.success(), "{cmd:?}: {}", text(&o));
}

fn openssl(args: &[&str]) {
    run(Command::new("openssl").args(args));
}

fn model(dir: &Path) -> PathBuf {
    let m = dir.join("m");
    fs::create_dir_all(&m).unwrap();
    fs::write(m.join("weights.bin"), vec![5u8; 70_000]).unwrap();
    let o = ws(&["hash", s(&m), "--name", "org/m"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    m
}

fn sign_env(m: &Path, key: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args(["sign", s(m), "--key", s(key)])
        .envs(env.iter().copied())
        .env_remove("WEIGHTSEAL_PASSPHRASE")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn verify(m: &Path, pubkey: &Path) -> Output {
    ws(&["verify", s(m), "--key", s(pubkey)])
}

#[test]
fn openssl_ecdsa_p256_pkcs8_signs_and_verifies() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let k = d.path().join("p256.pem");
    let p = d.path().join("p256.pub.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&k),
    ]);
    openssl(&["pkey", "-in", s(&k), "-pubout", "-out", s(&p)]);
    let o = sign_env(&m, &k, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify(&m, &p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("attestation 1: OK (publisher"),
        "{}",
        text(&o)
    );
    // The signature is DER ECDSA over SHA-256 of the PAE: openssl agrees.
    let line = fs::read_to_string(m.join("weightseal.intoto.jsonl")).unwrap();
    let env: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
    let sig = b64
        .decode(env["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let pae = weightseal::attest::dsse::pae(weightseal::attest::dsse::PAYLOAD_TYPE, &payload);
    fs::write(d.path().join("pae"), pae).unwrap();
    fs::write(d.path().join("sig"), sig).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        s(&p),
        "-signature",
        s(&d.path().join("sig")),
        s(&d.path().join("pae")),
    ]);
}

#[test]
fn openssl_ecparam_sec1_p384_key_signs() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let k = d.path().join("p384.pem");
    let p = d.path().join("p384.pub.pem");
    // `ecparam -genkey` writes an EC PARAMETERS block, then the SEC1 EC PRIVATE KEY.
    openssl(&["ecparam", "-name", "secp384r1", "-genkey", "-out", s(&k)]);
    assert!(fs::read_to_string(&k)
        .unwrap()
        .contains("BEGIN EC PARAMETERS"));
    openssl(&["ec", "-in", s(&k), "-pubout", "-out", s(&p)]);
    let o = sign_env(&m, &k, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify(&m, &p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Its key id is the same whichever file names it.
    let a = ws(&["key", "id", s(&k)]);
    let b = ws(&["key", "id", s(&p)]);
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn encrypted_pkcs8_key_needs_its_passphrase() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let k = d.path().join("enc.pem");
    let p = d.path().join("enc.pub.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes-256-cbc",
        "-pass",
        "pass:correct horse",
        "-out",
        s(&k),
    ]);
    openssl(&[
        "pkey",
        "-in",
        s(&k),
        "-passin",
        "pass:correct horse",
        "-pubout",
        "-out",
        s(&p),
    ]);
    assert!(fs::read_to_string(&k)
        .unwrap()
        .contains("BEGIN ENCRYPTED PRIVATE KEY"));
    // No passphrase and no terminal: a clear error, nothing signed.
    let o = sign_env(&m, &k, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the key is encrypted; give its passphrase"),
        "{}",
        text(&o)
    );
    let o = sign_env(&m, &k, &[("WEIGHTSEAL_PASSPHRASE", "wrong")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("wrong passphrase"), "{}", text(&o));
    assert!(!m.join("weightseal.intoto.jsonl").exists());
    let o = sign_env(&m, &k, &[("WEIGHTSEAL_PASSPHRASE", "correct horse")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify(&m, &p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // An encrypted ed25519 key too.
    let k2 = d.path().join("ed.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-aes-256-cbc",
        "-pass",
        "pass:x",
        "-out",
        s(&k2),
    ]);
    let o = sign_env(&m, &k2, &[("WEIGHTSEAL_PASSPHRASE", "x")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn ssh_keygen(path: &Path, kind: &str, pass: &str) {
    let mut c = Command::new("ssh-keygen");
    c.args([
        "-q",
        "-t",
        kind,
        "-N",
        pass,
        "-C",
        "alice@example",
        "-f",
        s(path),
    ]);
    if kind == "ecdsa" {
        c.args(["-b", "256"]);
    }
    run(&mut c);
}

#[test]
fn openssh_keys_sign_and_a_github_keys_file_verifies() {
    if !tool(
        "ssh-keygen",
        "openssh_keys_sign_and_a_github_keys_file_verifies",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let ed = d.path().join("id_ed25519");
    let ec = d.path().join("id_ecdsa");
    let rsa = d.path().join("id_rsa");
    ssh_keygen(&ed, "ed25519", "");
    ssh_keygen(&ec, "ecdsa", "");
    ssh_keygen(&rsa, "rsa", "");
    let o = sign_env(&m, &ed, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The .pub line as --key.
    let o = verify(&m, &d.path().join("id_ed25519.pub"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A GitHub keys file: an RSA line (skipped), the ECDSA and the ed25519 key.
    let keys = d.path().join("alice.keys");
    let mut all = String::new();
    for p in ["id_rsa.pub", "id_ecdsa.pub", "id_ed25519.pub"] {
        let line = fs::read_to_string(d.path().join(p)).unwrap();
        // GitHub serves the lines without comments.
        let mut parts = line.split_whitespace();
        all.push_str(&format!(
            "{} {}\n",
            parts.next().unwrap(),
            parts.next().unwrap()
        ));
    }
    fs::write(&keys, all).unwrap();
    let o = verify(&m, &keys);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ids = stdout(&ws(&["key", "id", s(&keys)]));
    assert_eq!(ids.lines().count(), 2, "{ids}");
    assert!(
        ids.contains("ecdsa-p256") && ids.contains("ed25519"),
        "{ids}"
    );
    // The same keys file in a policy, for a signer holding both keys.
    fs::write(
        d.path().join("policy.toml"),
        "[keys.alice]\npublic_key = \"alice.keys\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n",
    )
    .unwrap();
    let o = ws(&[
        "verify",
        s(&m),
        "--policy",
        s(&d.path().join("policy.toml")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("(alice)"), "{}", text(&o));
    // An ECDSA OpenSSH key signs too; the keys file verifies it.
    fs::remove_file(m.join("weightseal.intoto.jsonl")).unwrap();
    let o = sign_env(&m, &ec, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify(&m, &keys);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn encrypted_openssh_key_uses_the_passphrase() {
    if !tool("ssh-keygen", "encrypted_openssh_key_uses_the_passphrase") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let ed = d.path().join("id_ed25519");
    ssh_keygen(&ed, "ed25519", "s3cret");
    let o = sign_env(&m, &ed, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the key is encrypted"), "{}", text(&o));
    let o = sign_env(&m, &ed, &[("WEIGHTSEAL_PASSPHRASE", "s3cret")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify(&m, &d.path().join("id_ed25519.pub"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn wrong_key_types_say_what_was_found_and_what_to_do() {
    if !tool(
        "ssh-keygen",
        "wrong_key_types_say_what_was_found_and_what_to_do",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let ed = d.path().join("id_ed25519");
    ssh_keygen(&ed, "ed25519", "");
    let rsa = d.path().join("id_rsa");
    ssh_keygen(&rsa, "rsa", "");
    // Signing with a public key line.
    let o = sign_env(&m, &d.path().join("id_ed25519.pub"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("this is an OpenSSH public key line; signing needs the private key"),
        "{}",
        text(&o)
    );
    // Trusting a private key.
    let o = verify(&m, &ed);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("this is a private key; give the public key here"),
        "{}",
        text(&o)
    );
    // An RSA key, as OpenSSH and as PEM.
    let o = verify(&m, &d.path().join("id_rsa.pub"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("only OpenSSH keys of type ssh-rsa, which weightseal does not support"),
        "{}",
        text(&o)
    );
    let rsa_pem = d.path().join("rsa.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        s(&rsa_pem),
    ]);
    let o = sign_env(&m, &rsa_pem, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("an RSA private key, which weightseal does not support"),
        "{}",
        text(&o)
    );
}

const SSLIB_VERIFY_ECDSA: &str = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
pem, keyid, line = open(sys.argv[1]).read(), sys.argv[2], open(sys.argv[3]).read().strip()
key = SSlibKey(keyid, "ecdsa", "ecdsa-sha2-nistp256", {"public": pem})
env = Envelope.from_dict(json.loads(line))
print(sorted(env.verify([key], 1)))
"#;

#[test]
fn securesystemslib_verifies_an_ecdsa_signed_attestation() {
    let Some(py) = python("securesystemslib_verifies_an_ecdsa_signed_attestation") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let k = d.path().join("k");
    let o = ws(&["keygen", "--out", s(&k), "--type", "ecdsa-p256"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = sign_env(&m, &k, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let id = stdout(&ws(&["key", "id", s(&k)])).trim().to_string();
    let o = Command::new(py)
        .args(["-c", SSLIB_VERIFY_ECDSA])
        .arg(d.path().join("k.pub"))
        .arg(&id)
        .arg(m.join("weightseal.intoto.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o).trim(), format!("['{id}']"));
}

#[test]
fn trust_store_add_list_verify_remove() {
    use common::ws_trust;
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("config/weightseal/trust.toml");
    let m = model(d.path());
    let k = d.path().join("acme");
    assert_eq!(ws(&["keygen", "--out", s(&k)]).status.code(), Some(0));
    let o = sign_env(&m, &k, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // No entry yet: refused, and it says why; integrity only when asked, and it says so.
    let o = ws_trust(&store, &["verify", s(&m)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no trust is configured"), "{}", text(&o));
    let o = ws_trust(&store, &["verify", s(&m), "--integrity-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("integrity only") && text(&o).contains("signatures NOT checked"),
        "{}",
        text(&o)
    );
    // Trust acme for org/*.
    let o = ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&d.path().join("acme.pub")),
            "--model",
            "org/*",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).starts_with("trusted acme ("), "{}", text(&o));
    let o = ws_trust(&store, &["trust", "list"]);
    assert!(
        stdout(&o).starts_with("acme  org/*  publisher  "),
        "{}",
        text(&o)
    );
    // Adding the same again is refused.
    let o = ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&d.path().join("acme.pub")),
            "--model",
            "org/*",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // verify with no flags now checks the signature, and says which entry it used.
    let o = ws_trust(&store, &["verify", s(&m)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("using the trust store")
            && text(&o).contains("acme (publisher for org/*)"),
        "{}",
        text(&o)
    );
    assert!(stdout(&o).contains("attestation 1: OK"), "{}", text(&o));
    // A matching entry whose key signed nothing: the verification fails.
    let other = d.path().join("other");
    assert_eq!(ws(&["keygen", "--out", s(&other)]).status.code(), Some(0));
    let m2 = d.path().join("m2");
    fs::create_dir_all(&m2).unwrap();
    fs::write(m2.join("w.bin"), b"w").unwrap();
    assert_eq!(
        ws(&["hash", s(&m2), "--name", "org/two"]).status.code(),
        Some(0)
    );
    let o = sign_env(&m2, &other, &[]);
    assert_eq!(o.status.code(), Some(0));
    let o = ws_trust(&store, &["verify", s(&m2)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("trust policy NOT met"), "{}", text(&o));
    // Remove it: integrity only again.
    let o = ws_trust(&store, &["trust", "remove", "acme"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws_trust(&store, &["trust", "list"]);
    assert_eq!(stdout(&o), "");
    let o = ws_trust(&store, &["verify", s(&m2)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no trust is configured"), "{}", text(&o));
    let o = ws_trust(&store, &["verify", s(&m2), "--integrity-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("signatures NOT checked"), "{}", text(&o));
}

#[test]
fn passphrase_is_asked_on_the_terminal_without_echo() {
    if !tool("script", "passphrase_is_asked_on_the_terminal_without_echo") {
        return;
    }
    // `script` runs weightseal on a pseudo-terminal and types the passphrase into it.
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let k = d.path().join("enc.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-aes-256-cbc",
        "-pass",
        "pass:hunter2pass",
        "-out",
        s(&k),
    ]);
    let cmd = format!(
        "WEIGHTSEAL_TRUST=/nonexistent '{}' sign '{}' --key '{}'",
        env!("CARGO_BIN_EXE_weightseal"),
        s(&m),
        s(&k)
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("WEIGHTSEAL_PASSPHRASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs the command on a pseudo-terminal");
    // Type only once the prompt is up (echo is off by then).
    use std::io::{Read as _, Write as _};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let mut stdout_pipe = child.stdout.take().unwrap();
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let t = std::time::Instant::now();
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("Passphrase for ") {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "no prompt came"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"hunter2pass\n")
        .unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let out = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(status.success(), "{out}");
    assert!(out.contains("Passphrase for "), "{out}");
    assert!(
        !out.contains("hunter2pass"),
        "the passphrase was echoed: {out}"
    );
    assert!(m.join("weightseal.intoto.jsonl").exists());
}
