//! Co-signers, mirrors and stale releases against the trust policy: a key trusted for one
//! thing must not gain another, and a valid signature must not pin or freeze a model.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::fixture::{bytes, fetch, fixture, s};
use crate::common::{stdout, ws};
use crate::text;

struct Release {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    model: PathBuf,
}

impl Release {
    /// A model directory named `org-model`, hashed with model name `name`.
    fn new(name: &str) -> Release {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let model = dir.join("model");
        fs::create_dir_all(&model).unwrap();
        fs::write(model.join("w.bin"), bytes(40_000, 9)).unwrap();
        let o = ws(&["hash", s(&model), "--name", name]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        Release {
            _tmp: tmp,
            dir,
            model,
        }
    }

    fn key(&self, name: &str) -> PathBuf {
        let k = self.dir.join(name);
        if !k.exists() {
            assert_eq!(ws(&["keygen", "--out", s(&k)]).status.code(), Some(0));
        }
        k
    }

    fn sign(&self, key: &str, extra: &[&str]) {
        let k = self.key(key);
        let mut args = vec!["sign", s(&self.model), "--key", s(&k), "--signer", key];
        args.extend_from_slice(extra);
        let o = ws(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }

    /// Writes a policy (TOML body after the key tables) and returns its path.
    fn policy(&self, body: &str) -> PathBuf {
        let p = self.dir.join("policy.toml");
        fs::write(&p, body).unwrap();
        p
    }

    fn verify(&self, policy: &Path) -> std::process::Output {
        ws(&["verify", s(&self.model), "--policy", s(policy)])
    }

    fn change_weights(&self, seed: u32) {
        fs::write(self.model.join("w.bin"), bytes(40_000, seed)).unwrap();
        let _ = fs::remove_file(self.model.join("weightseal.intoto.jsonl"));
        let name = ws(&["show", s(&self.model), "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&name.stdout).unwrap();
        let o = ws(&[
            "hash",
            s(&self.model),
            "--name",
            j["name"].as_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }

    fn key_id(&self, name: &str) -> String {
        let o = ws(&["key", "id", s(&self.key(name))]);
        stdout(&o).trim().to_string()
    }
}

#[test]
fn mirror_countersignature_cannot_raise_the_version_and_freeze_updates() {
    let r = Release::new("org/m");
    r.key("pub");
    r.key("mirror");
    r.sign("pub", &["--version", "1"]);
    r.sign("mirror", &["--role", "mirror", "--version", "1000"]);
    let p = r.policy(
        "state_file = \"state.json\"\n[keys.pub]\npublic_key = \"pub.pub\"\nroles = [\"publisher\"]\n[keys.mirror]\npublic_key = \"mirror.pub\"\nroles = [\"mirror\"]\n[roles.publisher]\nthreshold = 1\n[roles.mirror]\nthreshold = 1\n",
    );
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let state = fs::read_to_string(r.dir.join("state.json")).unwrap();
    assert!(state.contains("\"org/m\": 1"), "{state}");
    // The publisher's next release still verifies.
    r.change_weights(10);
    r.sign("pub", &["--version", "2"]);
    r.sign("mirror", &["--role", "mirror"]);
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(fs::read_to_string(r.dir.join("state.json"))
        .unwrap()
        .contains("\"org/m\": 2"));
}

#[test]
fn release_without_a_version_fails_under_a_state_file() {
    let r = Release::new("org/m");
    r.sign("pub", &[]);
    let p = r.policy(
        "state_file = \"state.json\"\n[keys.pub]\npublic_key = \"pub.pub\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n",
    );
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("policy: FAILED (no-version: rollback protection is on"),
        "{}",
        text(&o)
    );
    assert!(
        !r.dir.join("state.json").exists(),
        "no state written on failure"
    );
}

#[test]
fn one_key_under_two_names_meets_only_one_role() {
    let r = Release::new("org/m");
    r.sign("pub", &["--role", "publisher"]);
    r.sign("pub", &["--role", "auditor"]);
    let p = r.policy(
        "[keys.acme]\npublic_key = \"pub.pub\"\nroles = [\"publisher\"]\n[keys.acme-audit]\npublic_key = \"pub.pub\"\nroles = [\"auditor\"]\n[roles.publisher]\nthreshold = 1\n[roles.auditor]\nthreshold = 1\n",
    );
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("role auditor: 0 of 1 required key(s): NOT MET")
            || out.contains("role publisher: 0 of 1 required key(s): NOT MET"),
        "{out}"
    );
    // With separation turned off in the policy, the same bundle passes and names each role's key.
    let p = r.policy(&format!(
        "separation_of_duties = false\n{}",
        fs::read_to_string(&p).unwrap()
    ));
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("role auditor: 1 of 1 required key(s) (acme-audit)"),
        "{out}"
    );
    assert!(
        out.contains("role publisher: 1 of 1 required key(s) (acme)"),
        "{out}"
    );
}

#[test]
fn revoked_key_does_not_count() {
    let r = Release::new("org/m");
    r.sign("pub", &[]);
    let id = r.key_id("pub");
    let p = r.policy(&format!(
        "revoked = [\"{id}\"]\n[keys.pub]\npublic_key = \"pub.pub\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n"
    ));
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("attestation 1: FAILED (revoked-key: signed only by revoked key(s)"),
        "{}",
        text(&o)
    );
}

#[test]
fn rotated_out_key_stops_counting_and_the_new_key_of_the_same_signer_counts() {
    let r = Release::new("org/m");
    r.key("old");
    r.key("new");
    r.sign("old", &[]);
    let p = r.policy(
        "[keys.acme]\npublic_key = [\"old.pub\", \"new.pub\"]\nroles = [\"publisher\"]\nnot_after = \"2020-01-01T00:00:00Z\"\n[roles.publisher]\nthreshold = 1\n",
    );
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).contains("key-not-in-window"), "{}", text(&o));
    // Keys with their own windows: the old one ended, the new one is current.
    let p = r.policy(
        "[keys.acme]\npublic_key = \"old.pub\"\nroles = [\"publisher\"]\nnot_after = \"2020-01-01T00:00:00Z\"\n[keys.acme-2026]\npublic_key = \"new.pub\"\nroles = [\"publisher\"]\nnot_before = \"2020-01-01T00:00:00Z\"\n[roles.publisher]\nthreshold = 1\n",
    );
    r.sign("new", &[]);
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("role publisher: 1 of 1 required key(s) (acme-2026)"),
        "{}",
        text(&o)
    );
}

#[test]
fn stale_release_fails_max_age() {
    let r = Release::new("org/m");
    r.sign("pub", &[]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let p = r.policy(
        "max_age = \"1s\"\n[keys.pub]\npublic_key = \"pub.pub\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n",
    );
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("attestation 1: FAILED (too-old: issued_at"),
        "{}",
        text(&o)
    );
}

#[test]
fn fetch_pinned_to_a_model_refuses_another_model_by_the_same_key() {
    let f = fixture();
    // The fixture's model is named "model"; the user asked for "org/wanted".
    let o = fetch(&f, &["--model", "org/wanted"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains(
            "pin: FAILED (wrong-model: asked for model \"org/wanted\", the manifest is \"model\")"
        ),
        "{}",
        text(&o)
    );
    assert!(!f.dest.join("big.bin").exists(), "nothing downloaded");
    assert_eq!(f.server.requests("big.bin"), 0);
}

#[test]
fn verify_pinned_to_a_digest_refuses_a_regenerated_manifest() {
    let r = Release::new("org/m");
    let o = ws(&["show", s(&r.model), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let good = blake3::hash(&fs::read(r.model.join("weightseal.manifest")).unwrap()).to_hex();
    let o = ws(&["verify", s(&r.model), "--digest", &good]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Whoever changes the weights regenerates the manifest: the pin catches it.
    r.change_weights(77);
    let o = ws(&["verify", s(&r.model), "--digest", &good]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("pin: FAILED (wrong-digest: asked for manifest"),
        "{}",
        text(&o)
    );
}

/// One rule for every front end: with no trust at all, a release is refused (an attacker's
/// re-signed copy is just such a release); integrity only is given only when asked, and its
/// words never say "verified".
#[test]
fn verify_without_trust_refuses_and_integrity_only_never_says_verified() {
    let r = Release::new("org/m");
    r.sign("pub", &[]);
    let o = ws(&["verify", s(&r.model)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = crate::common::stderr(&o);
    assert!(
        err.starts_with("weightseal: org/m NOT verified: nobody vouches for its manifest: no trust is configured"),
        "{}",
        text(&o)
    );
    assert!(!err.contains("org/m verified"), "{}", text(&o));
    let o = ws(&["verify", s(&r.model), "--integrity-only", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = crate::common::stderr(&o);
    assert!(
        err.starts_with("weightseal: org/m integrity only:")
            && err.contains("signatures NOT checked"),
        "{}",
        text(&o)
    );
    assert!(!err.contains("verified"), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["vouched"], "integrity-only");
    assert_eq!(j["signatures"], serde_json::Value::Null);
    assert_eq!(j["ok"], true);
}

#[test]
fn unknown_key_is_skipped_not_failed_when_the_release_verifies() {
    let r = Release::new("org/m");
    r.sign("stranger", &[]);
    r.sign("pub", &[]);
    let o = ws(&["verify", s(&r.model), "--key", s(&r.dir.join("pub.pub"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("attestation 1: SKIPPED (unknown key "),
        "{out}"
    );
    assert!(!out.contains("FAILED"), "{out}");
    // When the release fails, the same line is a failure.
    let o = ws(&[
        "verify",
        s(&r.model),
        "--key",
        s(&r.dir.join("pub.pub")),
        "--model",
        "org/other",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn two_models_by_one_publisher_keep_separate_rollback_state() {
    let a = Release::new("org/a");
    a.sign("pub", &["--version", "5"]);
    // Model b lives in a's directory tree so that both policies share one key and one state.
    let b_dir = a.dir.join("b");
    fs::create_dir_all(&b_dir).unwrap();
    fs::write(b_dir.join("w.bin"), bytes(1000, 3)).unwrap();
    assert_eq!(
        ws(&["hash", s(&b_dir), "--name", "org/b"]).status.code(),
        Some(0)
    );
    let o = ws(&[
        "sign",
        s(&b_dir),
        "--key",
        s(&a.key("pub")),
        "--version",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let p = a.policy(
        "state_file = \"state.json\"\n[keys.pub]\npublic_key = \"pub.pub\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\n",
    );
    assert_eq!(a.verify(&p).status.code(), Some(0));
    let o = ws(&["verify", s(&b_dir), "--policy", s(&p)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "version 1 of org/b is not a rollback of org/a's 5: {}",
        text(&o)
    );
    let state = fs::read_to_string(a.dir.join("state.json")).unwrap();
    assert!(
        state.contains("\"org/a\": 5") && state.contains("\"org/b\": 1"),
        "{state}"
    );
}

/// Signing again replaces this key's own earlier attestation of the release. A co-signer's
/// line, or a line that only claims this key's id (with a bad signature), must never be what
/// gets replaced or dropped.
#[test]
fn signing_again_replaces_only_a_line_this_key_really_signed() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("model");
    fs::create_dir(&m).unwrap();
    fs::write(m.join("w.bin"), bytes(50_000, 1)).unwrap();
    let (ours, theirs) = (d.path().join("ours"), d.path().join("theirs"));
    for k in [&ours, &theirs] {
        assert_eq!(ws(&["keygen", "--out", s(k)]).status.code(), Some(0));
    }
    assert_eq!(
        ws(&["sign", s(&m), "--key", s(&theirs)]).status.code(),
        Some(0)
    );
    assert_eq!(
        ws(&["sign", s(&m), "--key", s(&ours)]).status.code(),
        Some(0)
    );
    let bundle = m.join("weightseal.intoto.jsonl");
    let lines: Vec<String> = fs::read_to_string(&bundle)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2);
    // A forged line: our envelope with its signature replaced by theirs (our key id, their bytes).
    let mut forged: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let theirs_env: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    forged["signatures"][0]["sig"] = theirs_env["signatures"][0]["sig"].clone();
    let forged = forged.to_string();
    fs::write(&bundle, format!("{}\n{}\n{}\n", lines[0], forged, lines[1])).unwrap();
    let o = ws(&["sign", s(&m), "--key", s(&ours)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("replacing this key's earlier attestation"),
        "{}",
        stdout(&o)
    );
    let after: Vec<String> = fs::read_to_string(&bundle)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(after.len(), 3);
    assert_eq!(after[0], lines[0], "the co-signer's line is kept as it was");
    assert_eq!(
        after[1], forged,
        "the forged line is kept, not taken for ours"
    );
    // Ours was replaced in place, not appended (three lines, not four), and still verifies.
    let ours_after: serde_json::Value = serde_json::from_str(&after[2]).unwrap();
    assert_eq!(ours_after["signatures"][0]["keyid"], keyid_of(&lines[1]));
    let o = ws(&["verify", s(&m), "--key", &format!("{}.pub", s(&ours))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn keyid_of(line: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["signatures"][0]["keyid"].clone()
}

#[test]
fn a_retired_key_of_a_rotation_cannot_sign_a_new_release() {
    // The signer rotated keys on 2020-01-01 ([[keys.NAME.key]] tables, a window each). Whoever
    // still holds the old key signs a release today: it does not count, the new key's does.
    let r = Release::new("org/m");
    r.key("old");
    r.key("new");
    let p = r.policy(
        "[keys.acme]\nroles = [\"publisher\"]\n[[keys.acme.key]]\npublic_key = \"old.pub\"\nnot_after = \"2020-01-01T00:00:00Z\"\n[[keys.acme.key]]\npublic_key = \"new.pub\"\nnot_before = \"2020-01-01T00:00:00Z\"\n[roles.publisher]\nthreshold = 1\n",
    );
    r.sign("old", &[]);
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("FAILED (key-not-in-window"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("org/m NOT verified"), "{}", text(&o));
    r.sign("new", &[]);
    let o = r.verify(&p);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_statement_with_a_repeated_annotation_is_refused_not_read_two_ways() {
    // A trusted key signs a statement whose "license" annotation is given twice: readers that
    // keep the first value and readers that keep the last would show different licenses.
    use weightseal::attest::dsse::Envelope;
    use weightseal::attest::PrivateKey;
    let r = Release::new("org/m");
    let key = PrivateKey::read(&r.key("pub")).unwrap();
    let m = weightseal::Manifest::read_file(&r.model.join("weightseal.manifest")).unwrap();
    let payload = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"org/m","digest":{{"blake3":"{}"}}}}],"predicateType":"https://weightseal.dev/attestation/v1","predicate":{{"role":"publisher","signer":"pub","issued_at":"2026-01-01T00:00:00Z","derived_from":[],"annotations":{{"license":"apache-2.0","license":"proprietary"}}}}}}"#,
        m.digest()
    );
    let line = Envelope::sign(payload.as_bytes(), &key).to_line();
    fs::write(r.model.join("weightseal.intoto.jsonl"), format!("{line}\n")).unwrap();
    let o = ws(&["verify", s(&r.model), "--key", s(&r.dir.join("pub.pub"))]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).contains("FAILED (bad-statement"), "{}", text(&o));
    assert!(
        stdout(&o).contains("annotation \"license\" is given twice"),
        "{}",
        text(&o)
    );
}
