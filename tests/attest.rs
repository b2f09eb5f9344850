//! Attestations end to end: real PEM keys (ours and the `openssl` binary's), the CLI, and an
//! independent DSSE implementation (Python securesystemslib) verifying our envelopes and
//! signing envelopes we verify.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{python, stderr, stdout, ws};
use serde_json::Value;
use weightseal::attest::dsse::{pae, Envelope, PAYLOAD_TYPE};
use weightseal::attest::{PrivateKey, PublicKey};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn model(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("weights.bin"), vec![5u8; 70_000]).unwrap();
    fs::write(dir.join("config.json"), b"{}").unwrap();
}

fn keygen(path: &Path) {
    let o = ws(&["keygen", "--out", s(path)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but the openssl binary is missing");
        }
        eprintln!("SKIPPED: no openssl binary");
    }
    ok
}

#[test]
fn keygen_writes_private_0600_and_refuses_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("k");
    let o = ws(&["keygen", "--out", s(&k)]);
    assert_eq!(o.status.code(), Some(0));
    let id = PublicKey::read(&d.path().join("k.pub"))
        .unwrap()
        .id()
        .to_string();
    assert!(
        stdout(&o).ends_with(&format!("key id {id}\n")),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        fs::metadata(&k).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let private_pem = fs::read_to_string(&k).unwrap();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        !stdout(&o).contains(private_pem.lines().nth(1).unwrap()),
        "private key printed"
    );
    let o = ws(&["keygen", "--out", s(&k)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already exists; refusing to overwrite a key"),
        "{}",
        stderr(&o)
    );
    let o = ws(&["key", "id", s(&d.path().join("k.pub"))]);
    assert_eq!(stdout(&o), format!("{id}\n"));
    let o = ws(&["key", "id", s(&k)]);
    assert_eq!(stdout(&o), format!("{id}\n"));
}

#[test]
fn sign_then_verify_with_key_and_two_role_policy() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    model(&m);
    keygen(&d.path().join("pub.key"));
    keygen(&d.path().join("aud.key"));
    // No manifest yet: sign hashes first.
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("pub.key")),
        "--signer",
        "ACME",
        "--version",
        "3",
        "--expires",
        "30d",
        "--annotate",
        "license=apache-2.0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(m.join("weightseal.manifest").exists());
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("aud.key")),
        "--role",
        "auditor",
        "--signer",
        "Audit Co",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 attestation(s) in "),
        "{}",
        stdout(&o)
    );
    let o = ws(&["verify", s(&m), "--key", s(&d.path().join("pub.key.pub"))]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("attestation 1: OK (publisher \"ACME\""),
        "{}",
        stdout(&o)
    );
    // The auditor key alone is not a publisher.
    let o = ws(&["verify", s(&m), "--key", s(&d.path().join("aud.key.pub"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("attestation 2: FAILED (role-not-allowed:"),
        "{}",
        stdout(&o)
    );
    fs::write(
        d.path().join("policy.toml"),
        "[keys.acme]\npublic_key = \"pub.key.pub\"\nroles = [\"publisher\"]\n[keys.audit]\npublic_key = \"aud.key.pub\"\nroles = [\"auditor\"]\n[roles.publisher]\nthreshold = 1\n[roles.auditor]\nthreshold = 1\n",
    )
    .unwrap();
    let o = ws(&[
        "verify",
        s(&m),
        "--policy",
        s(&d.path().join("policy.toml")),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(
        j["signatures"]["roles"][0]["keys"],
        serde_json::json!(["audit"])
    );
    assert_eq!(j["signatures"]["attestations"][0]["version"], 3);
    // Threshold of 2 auditors with one auditor key is refused as unsatisfiable.
    fs::write(d.path().join("bad.toml"), "[keys.audit]\npublic_key = \"aud.key.pub\"\nroles = [\"auditor\"]\n[roles.auditor]\nthreshold = 2\n").unwrap();
    let o = ws(&["verify", s(&m), "--policy", s(&d.path().join("bad.toml"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("threshold 2 cannot be met"),
        "{}",
        stderr(&o)
    );
    // Tampering with the files fails integrity even though signatures are fine.
    fs::write(m.join("config.json"), b"{\"x\":1}").unwrap();
    let o = ws(&[
        "verify",
        s(&m),
        "--policy",
        s(&d.path().join("policy.toml")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // And sign refuses a manifest that does not match the directory.
    let o = ws(&["sign", s(&m), "--key", s(&d.path().join("pub.key"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("does not match the directory"),
        "{}",
        stderr(&o)
    );
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("pub.key")),
        "--manifest-only",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn expired_and_rollback_fail_with_their_reason() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    model(&m);
    keygen(&d.path().join("k"));
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("k")),
        "--version",
        "5",
        "--expires",
        "2s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::write(
        d.path().join("p.toml"),
        "state_file = \"state.json\"\n[keys.k]\npublic_key = \"k.pub\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n",
    )
    .unwrap();
    let o = ws(&["verify", s(&m), "--policy", s(&d.path().join("p.toml"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let state: Value =
        serde_json::from_slice(&fs::read(d.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["versions"]["m"], 5);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let o = ws(&["verify", s(&m), "--policy", s(&d.path().join("p.toml"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("attestation 1: FAILED (expired: expired at "),
        "{}",
        stdout(&o)
    );
    // A new release with a lower version: rollback.
    fs::remove_file(m.join("weightseal.intoto.jsonl")).unwrap();
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("k")),
        "--version",
        "4",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = ws(&["verify", s(&m), "--policy", s(&d.path().join("p.toml"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("policy: FAILED (rollback: release version 4 of m is lower than version 5, accepted before)"), "{}", stdout(&o));
}

#[test]
fn lineage_follows_derived_from() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    let tuned = d.path().join("tuned");
    model(&base);
    model(&tuned);
    fs::write(tuned.join("weights.bin"), vec![6u8; 70_000]).unwrap();
    keygen(&d.path().join("k"));
    let o = ws(&[
        "sign",
        s(&base),
        "--key",
        s(&d.path().join("k")),
        "--signer",
        "Base Org",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ws(&[
        "sign",
        s(&tuned),
        "--key",
        s(&d.path().join("k")),
        "--signer",
        "Tuner",
        "--derived-from",
        &format!("{}:finetune", s(&base)),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ws(&[
        "lineage",
        s(&tuned),
        "--with",
        s(&base),
        "--key",
        s(&d.path().join("k.pub")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("attested by publisher \"Tuner\""), "{out}");
    assert!(
        out.contains("derived from (finetune) per attestation 1, declared:"),
        "{out}"
    );
    assert!(out.contains("    base  manifest "), "{out}");
    assert!(out.contains("attested by publisher \"Base Org\""), "{out}");
    // Without keys the claims are shown as unverified.
    let o = ws(&["lineage", s(&tuned), "--with", s(&base)]);
    assert!(
        stdout(&o).contains(", UNVERIFIED, declared:"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn openssl_keys_sign_and_openssl_checks_our_signature() {
    if !openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("ossl.key");
    let st = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out", s(&k)])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("openssl")
        .args([
            "pkey",
            "-in",
            s(&k),
            "-pubout",
            "-out",
            s(&d.path().join("ossl.pub")),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let m = d.path().join("m");
    model(&m);
    let o = ws(&["sign", s(&m), "--key", s(&k)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ws(&["verify", s(&m), "--key", s(&d.path().join("ossl.pub"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // openssl verifies our signature over the DSSE PAE.
    let line = fs::read_to_string(m.join("weightseal.intoto.jsonl")).unwrap();
    let env = Envelope::parse(line.trim()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(&env.payload).unwrap();
    fs::write(d.path().join("pae"), pae(PAYLOAD_TYPE, &payload)).unwrap();
    fs::write(
        d.path().join("sig"),
        b64.decode(&env.signatures[0].sig).unwrap(),
    )
    .unwrap();
    let o = Command::new("openssl")
        .args([
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            s(&d.path().join("ossl.pub")),
            "-rawin",
            "-in",
            s(&d.path().join("pae")),
            "-sigfile",
            s(&d.path().join("sig")),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // openssl reads the private keys weightseal writes.
    keygen(&d.path().join("ours.key"));
    let o = Command::new("openssl")
        .args(["pkey", "-in", s(&d.path().join("ours.key")), "-pubout"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        fs::read_to_string(d.path().join("ours.key.pub")).unwrap()
    );
    // The key id is the same whichever tool wrote the key.
    let ours = PrivateKey::read(&k).unwrap().public();
    assert_eq!(ours, PublicKey::read(&d.path().join("ossl.pub")).unwrap());
}

const SSLIB_VERIFY: &str = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
pem, keyid, line = open(sys.argv[1], "rb").read(), sys.argv[2], open(sys.argv[3]).read().strip()
raw = load_pem_public_key(pem).public_bytes_raw().hex()
key = SSlibKey(keyid, "ed25519", "ed25519", {"public": raw})
env = Envelope.from_dict(json.loads(line))
accepted = env.verify([key], 1)
print(sorted(accepted))
"#;

const SSLIB_SIGN: &str = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
priv = load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
keyid, payload = sys.argv[2], open(sys.argv[3], "rb").read()
raw = priv.public_key().public_bytes_raw().hex()
signer = CryptoSigner(priv, SSlibKey(keyid, "ed25519", "ed25519", {"public": raw}))
env = Envelope(payload=payload, payload_type="application/vnd.in-toto+json", signatures={})
env.sign(signer)
print(json.dumps(env.to_dict()))
"#;

#[test]
fn securesystemslib_verifies_ours_and_we_verify_theirs() {
    let Some(py) = python("securesystemslib_verifies_ours_and_we_verify_theirs") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    model(&m);
    keygen(&d.path().join("k"));
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("k")),
        "--signer",
        "ours",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let key = PublicKey::read(&d.path().join("k.pub")).unwrap();
    // (a) securesystemslib verifies our envelope with our public key.
    let o = Command::new(&py)
        .args([
            "-c",
            SSLIB_VERIFY,
            s(&d.path().join("k.pub")),
            key.id(),
            s(&m.join("weightseal.intoto.jsonl")),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).trim(), format!("['{}']", key.id()));
    // A tampered envelope is rejected by it too.
    let line = fs::read_to_string(m.join("weightseal.intoto.jsonl")).unwrap();
    let mut env = Envelope::parse(line.trim()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload = b64.decode(&env.payload).unwrap();
    let at = payload.len() - 5;
    payload[at] ^= 1;
    env.payload = b64.encode(&payload);
    fs::write(d.path().join("tampered.jsonl"), env.to_line()).unwrap();
    let o = Command::new(&py)
        .args([
            "-c",
            SSLIB_VERIFY,
            s(&d.path().join("k.pub")),
            key.id(),
            s(&d.path().join("tampered.jsonl")),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("VerificationError"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // (b) securesystemslib signs our statement; we verify it as an attestation of the model.
    let ours = Envelope::parse(line.trim()).unwrap();
    fs::write(d.path().join("payload"), b64.decode(&ours.payload).unwrap()).unwrap();
    let o = Command::new(&py)
        .args([
            "-c",
            SSLIB_SIGN,
            s(&d.path().join("k")),
            key.id(),
            s(&d.path().join("payload")),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs = Envelope::parse(stdout(&o).trim()).unwrap();
    let (verified_payload, ids) = theirs.verify(std::slice::from_ref(&key)).unwrap();
    assert_eq!(verified_payload, b64.decode(&ours.payload).unwrap());
    assert_eq!(ids, vec![key.id().to_string()]);
    fs::write(
        m.join("weightseal.intoto.jsonl"),
        format!("{}\n", theirs.to_line()),
    )
    .unwrap();
    let o = ws(&["verify", s(&m), "--key", s(&d.path().join("k.pub"))]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

/// `sign --name` names the model as `hash --name` does (so `org/*` trust entries and log
/// monitors match it), and refuses to sign a manifest that records another name.
#[test]
fn sign_names_the_model_and_refuses_a_manifest_of_another_name() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("tiny");
    model(&m);
    keygen(&d.path().join("k"));
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("k")),
        "--name",
        "org/tiny",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown: Value = serde_json::from_str(&stdout(&ws(&[
        "show",
        s(&m.join("weightseal.manifest")),
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["name"], "org/tiny");
    let o = ws(&[
        "verify",
        s(&m),
        "--key",
        s(&d.path().join("k.pub")),
        "--model",
        "org/tiny",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ws(&[
        "sign",
        s(&m),
        "--key",
        s(&d.path().join("k")),
        "--name",
        "org/other",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("names the model \"org/tiny\", not \"org/other\""),
        "{}",
        stderr(&o)
    );
}
