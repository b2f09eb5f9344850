//! A release directory is its files plus a set of evidence files (spec/manifest.md, "Release
//! directory"): `weightseal.manifest`, `weightseal.intoto.jsonl`, `weightseal.tlog-proof`,
//! `model.sig`. Each signature format leaves the others' evidence out, so evidence added in any
//! order never breaks what was signed before — checked with `model_signing` 1.1.1 itself.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use common::{python, ws};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Release {
    _tmp: tempfile::TempDir,
    model: PathBuf,
    key: PathBuf,
    public: PathBuf,
}

fn release() -> Release {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir_all(&model).unwrap();
    fs::write(
        model.join("weights.bin"),
        (0..100_000u32).map(|i| (i * 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    fs::write(model.join("config.json"), b"{\"hidden\": 64}").unwrap();
    let key = tmp.path().join("key.pem");
    let public = tmp.path().join("pub.pem");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            s(&key),
        ],
        vec!["pkey", "-in", s(&key), "-pubout", "-out", s(&public)],
    ] {
        let o = Command::new("openssl").args(&args).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    Release {
        _tmp: tmp,
        model,
        key,
        public,
    }
}

/// `model_signing sign key DIR --signature SIG --private_key KEY`.
fn model_signing_sign(py: &Path, dir: &Path, sig: &Path, key: &Path) -> Output {
    Command::new(py.with_file_name("model_signing"))
        .args([
            "sign",
            "key",
            s(dir),
            "--signature",
            s(sig),
            "--private_key",
            s(key),
        ])
        .output()
        .unwrap()
}

fn model_signing_verify(py: &Path, r: &Release) -> Output {
    Command::new(py.with_file_name("model_signing"))
        .args([
            "verify",
            "key",
            s(&r.model),
            "--signature",
            s(&r.model.join("model.sig")),
            "--public_key",
            s(&r.public),
        ])
        .output()
        .unwrap()
}

#[test]
fn evidence_added_after_an_oms_signature_does_not_break_it_for_model_signing_or_weightseal() {
    let Some(py) = python("evidence composition") else {
        return;
    };
    let r = release();
    // Both formats from one pass, the OMS bundle inside the model (as Hugging Face keeps it).
    let sig = r.model.join("model.sig");
    let o = ws(&[
        "sign",
        s(&r.model),
        "--key",
        s(&r.key),
        "--format",
        "both",
        "--signature",
        s(&sig),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = model_signing_verify(&py, &r);
    assert!(o.status.success(), "before the proof: {}", text(&o));
    // A transparency log proof is added afterwards (its bytes do not matter to either check
    // of the files; they are judged only when a log is required).
    fs::write(
        r.model.join("weightseal.tlog-proof"),
        b"a log proof added later\n",
    )
    .unwrap();
    let o = model_signing_verify(&py, &r);
    assert!(
        o.status.success(),
        "model_signing after the proof was added: {}",
        text(&o)
    );
    let o = ws(&[
        "verify",
        s(&r.model),
        "--signature",
        s(&sig),
        "--key",
        s(&r.public),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws(&["verify", s(&r.model), "--key", s(&r.public)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A file that is not evidence still breaks both, as it must.
    fs::write(r.model.join("extra.bin"), b"not evidence").unwrap();
    let o = model_signing_verify(&py, &r);
    assert!(!o.status.success(), "{}", text(&o));
    let o = ws(&[
        "verify",
        s(&r.model),
        "--signature",
        s(&sig),
        "--key",
        s(&r.public),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn a_model_signing_bundle_made_before_weightseal_evidence_still_verifies_in_weightseal() {
    let Some(py) = python("evidence composition, model_signing first") else {
        return;
    };
    let r = release();
    let sig = r.model.join("model.sig");
    // model_signing signs the bare model (leaving its own signature out).
    let o = model_signing_sign(&py, &r.model, &sig, &r.key);
    assert!(o.status.success(), "{}", text(&o));
    // Then weightseal's evidence is added: a manifest, an attestation, a log proof.
    let wkey = r.model.parent().unwrap().join("w.key");
    assert!(ws(&["keygen", "--out", s(&wkey)]).status.success());
    let o = ws(&["sign", s(&r.model), "--key", s(&wkey)]);
    assert!(o.status.success(), "{}", text(&o));
    fs::write(
        r.model.join("weightseal.tlog-proof"),
        b"a log proof added later\n",
    )
    .unwrap();
    // weightseal leaves evidence the OMS signature does not cover out of its files.
    let o = ws(&[
        "verify",
        s(&r.model),
        "--signature",
        s(&sig),
        "--key",
        s(&r.public),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // But a weights file changed is still caught.
    fs::write(r.model.join("config.json"), b"{\"hidden\": 65}").unwrap();
    let o = ws(&[
        "verify",
        s(&r.model),
        "--signature",
        s(&sig),
        "--key",
        s(&r.public),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn an_evidence_file_an_oms_signature_covers_is_checked_like_any_file() {
    let Some(py) = python("evidence composition, covered evidence") else {
        return;
    };
    let r = release();
    let wkey = r.model.parent().unwrap().join("w.key");
    assert!(ws(&["keygen", "--out", s(&wkey)]).status.success());
    assert!(ws(&["sign", s(&r.model), "--key", s(&wkey)])
        .status
        .success());
    // model_signing signs the directory with weightseal's manifest in it: it covers it.
    let sig = r.model.join("model.sig");
    let o = model_signing_sign(&py, &r.model, &sig, &r.key);
    assert!(o.status.success(), "{}", text(&o));
    let verify = || {
        ws(&[
            "verify",
            s(&r.model),
            "--signature",
            s(&sig),
            "--key",
            s(&r.public),
        ])
    };
    assert_eq!(verify().status.code(), Some(0), "{}", text(&verify()));
    // The covered manifest changes: the OMS signature no longer verifies.
    let mut b = fs::read(r.model.join("weightseal.intoto.jsonl")).unwrap();
    b.extend_from_slice(b"\n");
    fs::write(r.model.join("weightseal.intoto.jsonl"), b).unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn fetch_delivers_every_evidence_file_the_release_has() {
    let f = common::fixture::fixture();
    let proof = b"a transparency log proof, as served\n";
    fs::write(f.model.join("weightseal.tlog-proof"), proof).unwrap();
    // No log is required: the proof is still the release's evidence, and travels with it, so
    // that a later offline `verify --log-key DEST` can judge it.
    let o = common::fixture::fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        fs::read(f.dest.join("weightseal.tlog-proof")).unwrap(),
        proof
    );
    for e in ["weightseal.manifest", "weightseal.intoto.jsonl"] {
        assert_eq!(
            fs::read(f.dest.join(e)).unwrap(),
            fs::read(f.model.join(e)).unwrap(),
            "{e}"
        );
    }
}

#[test]
fn fetch_against_a_local_manifest_still_delivers_the_served_log_proof() {
    let f = common::fixture::fixture();
    let proof = b"a transparency log proof, as served\n";
    fs::write(f.model.join("weightseal.tlog-proof"), proof).unwrap();
    // The publisher's manifest and attestations, kept locally, without the proof.
    let kept = f.model.parent().unwrap().join("kept");
    fs::create_dir_all(&kept).unwrap();
    for e in ["weightseal.manifest", "weightseal.intoto.jsonl"] {
        fs::copy(f.model.join(e), kept.join(e)).unwrap();
    }
    let o = common::fixture::fetch(
        &f,
        &[
            "--manifest",
            s(&kept.join("weightseal.manifest")),
            "--attestations",
            s(&kept.join("weightseal.intoto.jsonl")),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        fs::read(f.dest.join("weightseal.tlog-proof")).unwrap(),
        proof
    );
}

#[test]
fn sign_says_where_the_oms_bundle_went() {
    let r = release();
    let cwd = r.model.parent().unwrap();
    let o = Command::new(common::bin())
        .current_dir(cwd)
        .env("WEIGHTSEAL_TRUST", cwd.join("no-trust-store"))
        .args(["sign", "model", "--key", s(&r.key), "--format", "oms"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Into the model directory, as its evidence (not the current directory).
    let full = std::path::absolute(cwd.join("model").join("model.sig")).unwrap();
    assert!(full.exists());
    assert!(!cwd.join("model.sig").exists());
    assert!(
        text(&o).contains(&format!(
            "wrote OpenSSF model signing bundle {}",
            full.display()
        )),
        "{}",
        text(&o)
    );
}

/// `fetch` and `verify --url` give one answer for a served `model.sig` whose key was not given:
/// its files are checked, its signature is not, and `fetch` does not deliver it (README: it is
/// delivered only once it verifies); given its key, it is delivered.
#[test]
fn an_unchecked_model_sig_is_reported_alike_and_not_delivered() {
    let f = common::fixture::fixture();
    let ec = f.model.parent().unwrap().join("ec.pem");
    let ec_pub = f.model.parent().unwrap().join("ec.pub");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            s(&ec),
        ],
        vec!["pkey", "-in", s(&ec), "-pubout", "-out", s(&ec_pub)],
    ] {
        assert!(Command::new("openssl")
            .args(&args)
            .output()
            .unwrap()
            .status
            .success());
    }
    // The publisher's manifest, with SHA-256, and an OMS bundle by another (EC) key.
    assert!(
        ws(&["hash", s(&f.model), "--chunk-size", "16K", "--sha256"])
            .status
            .success()
    );
    assert!(ws(&[
        "sign",
        s(&f.model),
        "--key",
        s(&f.model.parent().unwrap().join("k"))
    ])
    .status
    .success());
    let o = ws(&[
        "sign",
        s(&f.model),
        "--key",
        s(&ec),
        "--format",
        "oms",
        "--signature",
        s(&f.model.join("model.sig")),
        "--manifest-only",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ws(&["verify", "--url", &f.server.base, "--key", s(&f.key_pub)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("signature not checked"), "{}", text(&o));
    let o = common::fixture::fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("model.sig: NOT delivered"),
        "{}",
        text(&o)
    );
    assert!(!f.dest.join("model.sig").exists());
    assert!(f.dest.join("weightseal.manifest").exists());
    // With the EC key given too, the signature is checked, and the bundle delivered.
    let dest2 = f.model.parent().unwrap().join("dest2");
    let o = ws(&[
        "fetch",
        &f.server.base,
        s(&dest2),
        "--key",
        s(&f.key_pub),
        "--key",
        s(&ec_pub),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        fs::read(dest2.join("model.sig")).unwrap(),
        fs::read(f.model.join("model.sig")).unwrap()
    );
}

/// `sign --format both` names the signing key once, not on both of its lines.
#[test]
fn sign_in_both_formats_names_the_key_once() {
    let r = release();
    let o = ws(&[
        "sign",
        s(&r.model),
        "--key",
        s(&r.key),
        "--format",
        "both",
        "--signature",
        s(&r.model.join("model.sig")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let id = String::from_utf8(ws(&["key", "id", s(&r.public)]).stdout).unwrap();
    let id = id.split_whitespace().next().unwrap().to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(text(&o).matches(&id).count(), 1, "{}", text(&o));
}

/// A single-file model's release on a server: the file, and its evidence beside it.
fn single_file_release() -> (tempfile::TempDir, PathBuf, PathBuf, common::server::Server) {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    fs::create_dir_all(&served).unwrap();
    let gguf = served.join("model.gguf");
    fs::copy(common::fixtures().join("gguf/model-q.gguf"), &gguf).unwrap();
    // Other files in the same directory are not the release's.
    fs::write(served.join("other.bin"), b"not part of the release").unwrap();
    let key = tmp.path().join("k");
    assert!(ws(&["keygen", "--out", s(&key)]).status.success());
    let o = ws(&["hash", s(&gguf), "--chunk-size", "16K"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ws(&["sign", s(&gguf), "--key", s(&key)]);
    assert!(o.status.success(), "{}", text(&o));
    fs::write(
        served.join("model.gguf.weightseal.tlog-proof"),
        b"a log proof, as served\n",
    )
    .unwrap();
    let server = common::server::Server::start(served.clone());
    (tmp, served, key.with_extension("pub"), server)
}

#[test]
fn fetch_of_a_single_file_url_finds_its_evidence_and_lands_it_for_verify_file() {
    let (tmp, served, public, server) = single_file_release();
    let dest = tmp.path().join("models");
    fs::create_dir_all(&dest).unwrap();
    // The destination holds other things: a single-file fetch judges only its file.
    fs::write(dest.join("notes.txt"), b"mine").unwrap();
    let url = format!("{}/model.gguf", server.base);
    let o = ws(&["fetch", &url, s(&dest), "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("into {}", dest.join("model.gguf").display())),
        "{}",
        text(&o)
    );
    for name in [
        "model.gguf",
        "model.gguf.weightseal.manifest",
        "model.gguf.weightseal.intoto.jsonl",
        "model.gguf.weightseal.tlog-proof",
    ] {
        assert_eq!(
            fs::read(dest.join(name)).unwrap(),
            fs::read(served.join(name)).unwrap(),
            "{name}"
        );
    }
    for absent in ["weightseal.manifest", "other.bin", "model.sig"] {
        assert!(!dest.join(absent).exists(), "{absent}");
    }
    assert_eq!(fs::read(dest.join("notes.txt")).unwrap(), b"mine");
    // `verify FILE` finds the evidence the fetch landed.
    let o = ws(&["verify", s(&dest.join("model.gguf")), "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // `verify DEST` points at the single-file model instead of "hash the model first".
    let o = ws(&["verify", s(&dest), "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "holds single-file models, each with its own manifest: verify {}",
            dest.join("model.gguf").display()
        )),
        "{}",
        text(&o)
    );
    // `verify --url` of the same URL checks the served file the same way.
    let o = ws(&["verify", "--url", &url, "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_single_file_url_whose_manifest_lists_other_files_is_refused_before_any_download() {
    let (tmp, served, public, server) = single_file_release();
    // A directory manifest (model.gguf and other.bin), served as model.gguf's, signed by the
    // same key: it would land a file `verify DEST/model.gguf` never looks at.
    let dir = tmp.path().join("dir");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(served.join("model.gguf"), dir.join("model.gguf")).unwrap();
    fs::copy(served.join("other.bin"), dir.join("other.bin")).unwrap();
    let o = ws(&["sign", s(&dir), "--key", s(&public.with_extension(""))]);
    assert!(o.status.success(), "{}", text(&o));
    for (from, to) in [
        ("weightseal.manifest", "model.gguf.weightseal.manifest"),
        (
            "weightseal.intoto.jsonl",
            "model.gguf.weightseal.intoto.jsonl",
        ),
    ] {
        fs::copy(dir.join(from), served.join(to)).unwrap();
    }
    server.reset_counts();
    let dest = tmp.path().join("dest");
    let url = format!("{}/model.gguf", server.base);
    let o = ws(&["fetch", &url, s(&dest), "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the URL names the single-file model model.gguf, whose manifest must list exactly that file; it lists 2 file(s): model.gguf, other.bin"),
        "{}",
        text(&o)
    );
    assert_eq!(server.requests("/model.gguf"), 0);
    assert_eq!(server.requests("/other.bin"), 0);
    assert!(!dest.join("other.bin").exists());
}

/// An OpenSSF bundle made by `model_signing` after the log proof was added covers the proof, the
/// manifest and the attestations: `fetch --log-key` judges those from the bytes it is about to
/// deliver (they are not in DEST yet), delivers all of it, and `verify` agrees afterwards. A
/// later fetch of a release without a proof or a model.sig leaves none of the old ones behind.
#[test]
fn fetch_log_key_delivers_a_model_sig_that_signs_the_log_proof() {
    let Some(py) = python("model.sig over the log proof") else {
        return;
    };
    let r = release();
    let t = r.model.parent().unwrap().to_path_buf();
    let (wkey, logkey) = (t.join("w.key"), t.join("log.key"));
    for k in [&wkey, &logkey] {
        assert!(ws(&["keygen", "--out", s(k)]).status.success());
    }
    // SHA-256 values recorded: a mirror check compares model.sig with them.
    let o = ws(&["hash", s(&r.model), "--sha256"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ws(&["sign", s(&r.model), "--key", s(&wkey)]);
    assert!(o.status.success(), "{}", text(&o));
    let logdir = t.join("log");
    let o = ws(&[
        "log",
        "init",
        s(&logdir),
        "--origin",
        "example.test/models",
        "--key",
        s(&logkey),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let vkey = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let o = ws(&["log", "add", s(&logdir), "--key", s(&logkey), s(&r.model)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(r.model.join("weightseal.tlog-proof").exists());
    // model_signing signs the whole directory, evidence included.
    let o = model_signing_sign(&py, &r.model, &r.model.join("model.sig"), &r.key);
    assert!(o.status.success(), "{}", text(&o));
    let sig = fs::read_to_string(r.model.join("model.sig")).unwrap();
    assert!(
        sig.contains("weightseal.tlog-proof") || {
            // The payload is base64: decode it to see the resources.
            let v: serde_json::Value = serde_json::from_str(&sig).unwrap();
            let p = v["dsseEnvelope"]["payload"].as_str().unwrap();
            let d = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
            String::from_utf8_lossy(&d).contains("weightseal.tlog-proof")
        }
    );
    let server = common::server::Server::start(r.model.clone());
    let dest = t.join("dest");
    let wpub = t.join("w.key.pub");
    let o = ws(&[
        "fetch",
        &server.base,
        s(&dest),
        "--key",
        s(&wpub),
        "--key",
        s(&r.public),
        "--log-key",
        &vkey,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("model.sig: OK (OpenSSF model signing"),
        "{}",
        text(&o)
    );
    for e in [
        "weightseal.manifest",
        "weightseal.intoto.jsonl",
        "weightseal.tlog-proof",
        "model.sig",
    ] {
        assert_eq!(
            fs::read(dest.join(e)).unwrap(),
            fs::read(r.model.join(e)).unwrap(),
            "{e}"
        );
    }
    let o = ws(&[
        "verify",
        s(&dest),
        "--signature",
        s(&dest.join("model.sig")),
        "--key",
        s(&r.public),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws(&["verify", s(&dest), "--key", s(&wpub), "--log-key", &vkey]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A mirror check of the same server agrees.
    let o = ws(&[
        "verify",
        "--url",
        &server.base,
        "--key",
        s(&wpub),
        "--key",
        s(&r.public),
        "--log-key",
        &vkey,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The publisher drops the proof but keeps the model.sig that signs it: the proof is not
    // delivered, so the model.sig does not sign what is delivered, into a fresh DEST or into
    // one where an earlier fetch left that very proof (which this fetch would remove).
    let proof = r.model.join("weightseal.tlog-proof");
    let kept = t.join("kept.tlog-proof");
    fs::rename(&proof, &kept).unwrap();
    for d in [t.join("fresh"), dest.clone()] {
        let o = ws(&[
            "fetch",
            &server.base,
            s(&d),
            "--key",
            s(&wpub),
            "--key",
            s(&r.public),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", d.display(), text(&o));
        assert!(
            text(&o).contains(
                "model.sig: FAILED (it signs other files than those delivered: weightseal.tlog-proof"
            ),
            "{}: {}",
            d.display(),
            text(&o)
        );
    }
    fs::rename(&kept, &proof).unwrap();
    // The publisher drops the proof and model.sig; a fetch into the same DEST removes the old
    // ones rather than leave another release's evidence beside this one.
    fs::remove_file(r.model.join("weightseal.tlog-proof")).unwrap();
    fs::remove_file(r.model.join("model.sig")).unwrap();
    let o = ws(&["fetch", &server.base, s(&dest), "--key", s(&wpub)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dest.join("weightseal.tlog-proof").exists());
    assert!(!dest.join("model.sig").exists());
}
