//! OpenSSF model signing interop, both ways, against the real `model_signing` 1.1.1 in the
//! test virtual environment: its key-method bundles (files and shards, SHA-256 and BLAKE2)
//! verify in weightseal and fail after each kind of tampering; weightseal's `--format oms`
//! bundles verify in `model_signing verify key` and fail there after tampering.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{python, stderr, stdout, ws};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn model_signing(py: &Path) -> PathBuf {
    py.with_file_name("model_signing")
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    model: PathBuf,
    key: PathBuf,
    public: PathBuf,
    sig: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let model = dir.join("model");
    fs::create_dir_all(model.join("sub")).unwrap();
    fs::write(
        model.join("weights.bin"),
        (0..200_000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    fs::write(model.join("config.json"), b"{\"hidden\": 64}").unwrap();
    fs::write(model.join("sub/tokenizer.txt"), b"a b c").unwrap();
    let key = dir.join("key.pem");
    let public = dir.join("pub.pem");
    let ok = |o: std::process::Output| assert!(o.status.success(), "{}", text(&o));
    ok(Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            s(&key),
        ])
        .output()
        .unwrap());
    ok(Command::new("openssl")
        .args(["pkey", "-in", s(&key), "-pubout", "-out", s(&public)])
        .output()
        .unwrap());
    Setup {
        sig: dir.join("model.sig"),
        _tmp: tmp,
        dir,
        model,
        key,
        public,
    }
}

fn verify(st: &Setup, extra: &[&str]) -> Output {
    let mut a = vec![
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--key",
        s(&st.public),
    ];
    a.extend_from_slice(extra);
    ws(&a)
}

#[test]
fn model_signing_key_bundle_verifies_and_each_tampering_fails() {
    let Some(py) = python("model_signing_key_bundle_verifies_and_each_tampering_fails") else {
        return;
    };
    let st = setup();
    let o = Command::new(model_signing(&py))
        .args([
            "sign",
            "key",
            s(&st.model),
            "--private_key",
            s(&st.key),
            "--signature",
            s(&st.sig),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("weights.bin: OK"), "{}", text(&o));
    assert!(
        stdout(&o).contains("OK (OpenSSF model signing, key "),
        "{}",
        text(&o)
    );
    // JSON has the report's shape.
    let o = verify(&st, &["--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["files"].as_array().unwrap().len(), 3);
    // One byte of one file.
    let w = st.model.join("weights.bin");
    let orig = fs::read(&w).unwrap();
    let mut b = orig.clone();
    b[1234] ^= 1;
    fs::write(&w, &b).unwrap();
    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("weights.bin: FAILED (modified: sha256 "),
        "{}",
        text(&o)
    );
    fs::write(&w, &orig).unwrap();
    // A file added.
    fs::write(st.model.join("sub/extra.py"), b"print(1)").unwrap();
    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("sub/extra.py: FAILED (extra"),
        "{}",
        text(&o)
    );
    // ... unless ignored as model_signing takes it.
    let o = verify(&st, &["--ignore-paths", "sub/extra.py"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    fs::remove_file(st.model.join("sub/extra.py")).unwrap();
    // A file removed.
    fs::rename(st.model.join("config.json"), st.dir.join("config.json")).unwrap();
    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("config.json: FAILED (missing)"),
        "{}",
        text(&o)
    );
    fs::rename(st.dir.join("config.json"), st.model.join("config.json")).unwrap();
    // The bundle edited: one resource digest changed inside the signed payload.
    let bundle = fs::read_to_string(&st.sig).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let mut p = String::from_utf8(payload).unwrap();
    let i = p.find("\"digest\": \"").unwrap() + 11;
    let c = if &p[i..i + 1] == "0" { "1" } else { "0" };
    p.replace_range(i..i + 1, c);
    v["dsseEnvelope"]["payload"] = serde_json::json!(b64.encode(p.as_bytes()));
    fs::write(&st.sig, serde_json::to_string(&v).unwrap()).unwrap();
    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("FAILED (the signature does not verify"),
        "{}",
        text(&o)
    );
    fs::write(&st.sig, &bundle).unwrap();
    // The wrong key.
    let other = st.dir.join("other.pem");
    let o2 = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            s(&other),
        ])
        .output()
        .unwrap();
    assert!(o2.status.success());
    let other_pub = st.dir.join("other.pub");
    Command::new("openssl")
        .args(["pkey", "-in", s(&other), "-pubout", "-out", s(&other_pub)])
        .output()
        .unwrap();
    let o = ws(&[
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--key",
        s(&other_pub),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("matches none of the given keys"),
        "{}",
        text(&o)
    );
}

const SIGN_SHARDS: &str = r#"
import sys
import model_signing
model, key, sig, hash_type = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
hashing = model_signing.hashing.Config().use_shard_serialization(
    hashing_algorithm=hash_type, shard_size=65536)
model_signing.signing.Config().use_elliptic_key_signer(private_key=key).set_hashing_config(
    hashing).sign(model, sig)
"#;

#[test]
fn model_signing_shards_and_blake2_bundles_verify() {
    let Some(py) = python("model_signing_shards_and_blake2_bundles_verify") else {
        return;
    };
    for hash in ["sha256", "blake2"] {
        let st = setup();
        let o = Command::new(&py)
            .args([
                "-c",
                SIGN_SHARDS,
                s(&st.model),
                s(&st.key),
                s(&st.sig),
                hash,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let o = verify(&st, &[]);
        assert_eq!(o.status.code(), Some(0), "{hash}: {}", text(&o));
        assert!(
            stdout(&o).contains(if hash == "blake2" {
                "blake2b shards"
            } else {
                "sha256 shards"
            }),
            "{}",
            text(&o)
        );
        // One byte in the second shard of weights.bin.
        let w = st.model.join("weights.bin");
        let mut b = fs::read(&w).unwrap();
        b[70_000] ^= 1;
        fs::write(&w, &b).unwrap();
        let o = verify(&st, &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            stdout(&o).contains("weights.bin: FAILED (modified: the")
                && stdout(&o).contains("of bytes 65536..131072 differs"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn weightseal_oms_bundle_verifies_in_model_signing() {
    let Some(py) = python("weightseal_oms_bundle_verifies_in_model_signing") else {
        return;
    };
    let st = setup();
    fs::write(st.model.join(".gitattributes"), b"*.bin filter=lfs").unwrap();
    let o = ws(&[
        "sign",
        s(&st.model),
        "--key",
        s(&st.key),
        "--format",
        "both",
        "--signature",
        s(&st.sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ms = |extra: &[&str]| {
        let mut c = Command::new(model_signing(&py));
        c.args([
            "verify",
            "key",
            s(&st.model),
            "--signature",
            s(&st.sig),
            "--public_key",
            s(&st.public),
        ]);
        c.args(extra);
        c.output().unwrap()
    };
    let o = ms(&[]);
    assert!(
        o.status.success(),
        "model_signing refused our bundle: {}",
        text(&o)
    );
    assert!(text(&o).contains("Verification succeeded"), "{}", text(&o));
    // The weightseal attestation from the same pass verifies too.
    let o = ws(&["verify", s(&st.model), "--key", s(&st.public)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // And weightseal verifies its own OMS bundle.
    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Tampering: model_signing rejects.
    let w = st.model.join("sub/tokenizer.txt");
    fs::write(&w, b"a b d").unwrap();
    let o = ms(&[]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Signature mismatch"), "{}", text(&o));
}

const EXT: &str = "[inter]\nbasicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n[leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n[tls]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, keyEncipherment\nextendedKeyUsage = serverAuth\n";

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "openssl {args:?}: {}", text(&o));
}

/// A root CA, an intermediate and a leaf (`leaf_ext`: `leaf` for code signing, `tls` for a
/// TLS server certificate), all P-256, made with openssl in `dir`.
fn pki(dir: &Path, root: &str, leaf_ext: &str) {
    fs::write(dir.join("ext.cnf"), EXT).unwrap();
    let k = |n: &str| {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{n}.key"),
            ],
        )
    };
    k(root);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &format!("{root}.key"),
            "-subj",
            &format!("/CN={root}"),
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            &format!("{root}.pem"),
        ],
    );
    k("inter");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "inter.key",
            "-subj",
            "/CN=Intermediate",
            "-out",
            "inter.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "inter.csr",
            "-CA",
            &format!("{root}.pem"),
            "-CAkey",
            &format!("{root}.key"),
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "inter",
            "-out",
            "inter.pem",
        ],
    );
    k("leaf");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/CN=ACME model signer",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "inter.pem",
            "-CAkey",
            "inter.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            leaf_ext,
            "-out",
            "leaf.pem",
        ],
    );
}

/// `model_signing sign certificate` with the leaf of [`pki`] and its intermediate.
fn sign_certificate(py: &Path, st: &Setup) {
    let o = Command::new(model_signing(py))
        .current_dir(&st.dir)
        .args([
            "sign",
            "certificate",
            s(&st.model),
            "--private_key",
            "leaf.key",
            "--signing_certificate",
            "leaf.pem",
            "--certificate_chain",
            "inter.pem",
            "--signature",
            s(&st.sig),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn model_signing_certificate_bundle_verifies_against_its_root() {
    let Some(py) = python("model_signing_certificate_bundle_verifies_against_its_root") else {
        return;
    };
    let st = setup();
    pki(&st.dir, "root", "leaf");
    sign_certificate(&py, &st);
    let chain = |ca: &str| {
        ws(&[
            "verify",
            s(&st.model),
            "--signature",
            s(&st.sig),
            "--certificate-chain",
            s(&st.dir.join(ca)),
        ])
    };
    let o = chain("root.pem");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("OK (OpenSSF model signing, certificate CN=ACME model signer"),
        "{}",
        text(&o)
    );
    // The intermediate alone is not a root (as in model_signing's OpenSSL store).
    let o = chain("inter.pem");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("none of the trusted certificates is a (self-signed) root"),
        "{}",
        text(&o)
    );
    // Another root.
    let other = st.dir.join("other");
    fs::create_dir_all(&other).unwrap();
    pki(&other, "otherroot", "leaf");
    let o = chain("other/otherroot.pem");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("does not lead to a trusted certificate"),
        "{}",
        text(&o)
    );
    // A changed byte.
    let w = st.model.join("config.json");
    fs::write(&w, b"{\"hidden\": 65}").unwrap();
    let o = chain("root.pem");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("config.json: FAILED (modified: sha256"),
        "{}",
        text(&o)
    );
}

#[test]
fn certificate_that_may_not_sign_is_refused() {
    let Some(py) = python("certificate_that_may_not_sign_is_refused") else {
        return;
    };
    let st = setup();
    pki(&st.dir, "root", "tls");
    sign_certificate(&py, &st);
    let o = ws(&[
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--certificate-chain",
        s(&st.dir.join("root.pem")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("signature ") && stdout(&o).contains("FAILED (certificate chain:"),
        "{}",
        text(&o)
    );
}

#[test]
fn model_signing_0_2_bundle_verifies() {
    let fx = common::fixtures().join("oms-v0.2");
    let tmp = tempfile::tempdir().unwrap();
    // A copy, so that the fixture stays as signed.
    let model = tmp.path().join("model");
    fs::create_dir_all(model.join("sub")).unwrap();
    for f in ["weights.bin", "config.json", "sub/vocab.txt"] {
        fs::copy(fx.join("model").join(f), model.join(f)).unwrap();
    }
    let args = |m: &Path| {
        ws(&[
            "verify",
            s(m),
            "--signature",
            s(&fx.join("model.sig")),
            "--key",
            s(&fx.join("public.pem")),
        ])
    };
    let o = args(&model);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("model_signing 0.2 format"),
        "{}",
        text(&o)
    );
    // A trust store entry whose pattern matches a file's path (the 0.2 statement's first
    // subject) never vouches: that statement names no model.
    let store = tmp.path().join("trust.toml");
    let o = common::ws_trust(
        &store,
        &[
            "trust",
            "add",
            s(&fx.join("public.pem")),
            "--model",
            "config.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = common::ws_trust(
        &store,
        &["verify", s(&model), "--signature", s(&fx.join("model.sig"))],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no key you trust is assigned to the model \"\""),
        "{}",
        text(&o)
    );
    fs::write(model.join("sub/vocab.txt"), b"tokenz\n").unwrap();
    let o = args(&model);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("sub/vocab.txt: FAILED (modified: sha256"),
        "{}",
        text(&o)
    );
}

const CONDA_ID: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn keyless(bundle: &Path, id: &str, issuer: &str) -> Output {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a"), b"x").unwrap();
    ws(&[
        "verify",
        s(d.path()),
        "--signature",
        s(bundle),
        "--identity",
        id,
        "--identity-provider",
        issuer,
    ])
}

#[test]
fn keyless_public_good_bundle_verifies_its_sigstore_layer_offline() {
    let b = common::fixtures().join("sigstore/conda-attestation.sigstore.json");
    // Chain, SCT, Rekor entry, identity and issuer verify against the embedded public-good
    // root; then the statement is refused: it is a conda attestation, not a model signature.
    let o = keyless(&b, CONDA_ID, GITHUB);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not model_signing's"), "{}", text(&o));
    // The command line reports the statement's rule whatever else fails, so the Sigstore
    // layer's verdict is read from the library: the bundle passes it (its statement is the
    // error), the same bundle with its log entry's time changed does not.
    use weightseal::oms::{verify_keyless, Bundle, OmsError, SpecRule};
    let mut v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&b).unwrap()).unwrap();
    let layer = |v: &serde_json::Value| {
        let bundle = Bundle::parse(&v.to_string()).unwrap();
        verify_keyless(&bundle, CONDA_ID, GITHUB, None).map(|_| ())
    };
    match layer(&v) {
        Err(OmsError::Spec {
            rule: SpecRule::PredicateType,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let t = v["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    v["verificationMaterial"]["tlogEntries"][0]["integratedTime"] =
        serde_json::json!((t + 1).to_string());
    match layer(&v) {
        Err(OmsError::Keyless(_)) => {}
        other => panic!("{other:?}"),
    }
    // Its Fulcio certificate given as a certificate-method chain without the log entries
    // (a certificate-method bundle to the parser, in a v0.2 bundle that may carry a chain):
    // checked as keyless, the Sigstore layer refuses it for the missing transparency log.
    let vm = &mut v["verificationMaterial"];
    let cert = vm["certificate"].clone();
    *vm = serde_json::json!({"x509CertificateChain": {"certificates": [cert]}});
    v["mediaType"] = serde_json::json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    assert_eq!(
        Bundle::parse(&v.to_string()).unwrap().method(),
        weightseal::oms::Method::Certificate
    );
    match layer(&v) {
        Err(OmsError::Keyless(e)) => assert!(
            e.contains("inclusion proof") || e.contains("signing time"),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
}

/// The OMS v1.0 conformance suite's keyless bundle: a model_signing statement signed with
/// Sigstore keyless (identity `stefanb@us.ibm.com`, issuer IBM's), verifiable offline.
fn oms_keyless_bundle() -> PathBuf {
    common::fixtures().join("oms-spec-v1.0/valid/sigstore.bundle.json")
}
const IBM_ID: &str = "stefanb@us.ibm.com";
const IBM: &str = "https://sigstore.verify.ibm.com/oauth2";

#[test]
fn keyless_wrong_identity_or_issuer_fails() {
    let b = oms_keyless_bundle();
    let o = keyless(&b, "attacker@example.com", IBM);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("FAILED (Sigstore keyless verification failed: identity mismatch"),
        "{}",
        text(&o)
    );
    let o = keyless(&b, IBM_ID, "https://accounts.google.com");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).contains("issuer mismatch"), "{}", text(&o));
    // A statement that is not model_signing's is refused for that, whatever else is wrong.
    let o = keyless(
        &common::fixtures().join("sigstore/conda-attestation.sigstore.json"),
        "https://github.com/attacker/repo/.github/workflows/x.yaml@refs/heads/main",
        GITHUB,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("which is not model_signing's (OMS v1.0 section 5.1, predicate-type)"),
        "{}",
        text(&o)
    );
}

#[test]
fn keyless_tampered_log_entry_fails() {
    let src = oms_keyless_bundle();
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&src).unwrap()).unwrap();
    let t = v["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    v["verificationMaterial"]["tlogEntries"][0]["integratedTime"] =
        serde_json::json!((t + 1).to_string());
    let d = tempfile::tempdir().unwrap();
    let b = d.path().join("tampered.sigstore.json");
    fs::write(&b, v.to_string()).unwrap();
    let o = keyless(&b, IBM_ID, IBM);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("FAILED (Sigstore keyless verification failed:"),
        "{}",
        text(&o)
    );
}

#[test]
fn model_signing_p521_key_bundle_verifies() {
    let Some(py) = python("model_signing_p521_key_bundle_verifies") else {
        return;
    };
    let st = setup();
    let (k, p) = (st.dir.join("p521.pem"), st.dir.join("p521.pub"));
    openssl(
        &st.dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-out",
            s(&k),
        ],
    );
    openssl(&st.dir, &["pkey", "-in", s(&k), "-pubout", "-out", s(&p)]);
    let o = Command::new(model_signing(&py))
        .args([
            "sign",
            "key",
            s(&st.model),
            "--private_key",
            s(&k),
            "--signature",
            s(&st.sig),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = ws(&[
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--key",
        s(&p),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// `model_signing sign key path/to/model.gguf` signs one file (its one resource is named `.`);
/// weightseal verifies such a bundle, and `weightseal sign FILE --format oms` writes one that
/// `model_signing verify key FILE` accepts. Both fail after tampering.
#[test]
fn single_file_bundles_both_ways() {
    let Some(py) = python("single_file_bundles_both_ways") else {
        return;
    };
    let st = setup();
    let file = st.dir.join("model.Q4_K_M.gguf");
    fs::write(
        &file,
        (0..300_000u32).map(|i| (i * 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let o = Command::new(model_signing(&py))
        .args([
            "sign",
            "key",
            s(&file),
            "--signature",
            s(&st.sig),
            "--private_key",
            s(&st.key),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let ours = |sig: &Path| {
        ws(&[
            "verify",
            s(&file),
            "--signature",
            s(sig),
            "--key",
            s(&st.public),
        ])
    };
    let o = ours(&st.sig);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("model.Q4_K_M.gguf: OK"), "{}", text(&o));
    // weightseal's own bundle of the same file, checked by model_signing.
    let ours_sig = st.dir.join("ours.sig");
    let o = ws(&[
        "sign",
        s(&file),
        "--key",
        s(&st.key),
        "--format",
        "oms",
        "--signature",
        s(&ours_sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let theirs = |sig: &Path| {
        Command::new(model_signing(&py))
            .args([
                "verify",
                "key",
                s(&file),
                "--signature",
                s(sig),
                "--public_key",
                s(&st.public),
            ])
            .output()
            .unwrap()
    };
    let o = theirs(&ours_sig);
    assert!(
        o.status.success(),
        "model_signing refused our single-file bundle: {}",
        text(&o)
    );
    let o = ours(&ours_sig);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // One changed byte: both refuse.
    let mut b = fs::read(&file).unwrap();
    b[1234] ^= 1;
    fs::write(&file, b).unwrap();
    assert!(!theirs(&ours_sig).status.success());
    let o = ours(&st.sig);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("model.Q4_K_M.gguf: FAILED"),
        "{}",
        text(&o)
    );
}

/// As a Hugging Face repository keeps it: `model.sig` inside the model directory, signed by
/// model_signing from the parent directory with a relative `--ignore-paths ./tiny-chat/...`;
/// verified from there with the same relative paths, by model_signing and by weightseal.
#[test]
fn signature_inside_the_model_and_relative_ignore_paths_mean_what_they_mean_to_model_signing() {
    let Some(py) = python("signature_inside_the_model") else {
        return;
    };
    let st = setup();
    let model = st.dir.join("tiny-chat");
    fs::rename(&st.model, &model).unwrap();
    fs::create_dir_all(model.join("ignore-me")).unwrap();
    fs::write(model.join("ignore-me/notes.txt"), b"scratch").unwrap();
    let run = |args: &[&str]| {
        Command::new(model_signing(&py))
            .args(args)
            .current_dir(&st.dir)
            .output()
            .unwrap()
    };
    let o = run(&[
        "sign",
        "key",
        "tiny-chat",
        "--signature",
        "tiny-chat/model.sig",
        "--private_key",
        s(&st.key),
        "--ignore-paths",
        "./tiny-chat/ignore-me",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Files added later under another directory, ignored when verifying.
    fs::create_dir_all(model.join("later")).unwrap();
    fs::write(model.join("later/cache.bin"), b"added after signing").unwrap();
    let verify_args = [
        "verify",
        "tiny-chat",
        "--signature",
        "tiny-chat/model.sig",
        "--ignore-paths",
        "./tiny-chat/later",
    ];
    let mut theirs: Vec<&str> = vec!["verify", "key"];
    theirs.extend(&verify_args[1..]);
    theirs.extend(["--public_key", s(&st.public)]);
    let o = run(&theirs);
    assert!(o.status.success(), "model_signing: {}", text(&o));
    let mut ours: Vec<&str> = verify_args.to_vec();
    ours.extend(["--key", s(&st.public)]);
    let o = Command::new(common::bin())
        .args(&ours)
        .current_dir(&st.dir)
        .env("WEIGHTSEAL_TRUST", "/nonexistent/trust.toml")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !stdout(&o).lines().any(|l| l.starts_with("model.sig")),
        "the signature is not a file of the model: {}",
        text(&o)
    );
    // Without the ignore path the later file is reported, by both.
    let o = Command::new(common::bin())
        .args(&ours[..4])
        .args(["--key", s(&st.public)])
        .current_dir(&st.dir)
        .env("WEIGHTSEAL_TRUST", "/nonexistent/trust.toml")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("later/cache.bin: FAILED (extra"),
        "{}",
        text(&o)
    );
}

/// Runs GnuTLS `certtool` in `dir`, with a template when given.
fn certtool(dir: &Path, args: &[&str], template: Option<&str>) {
    let mut c = Command::new("certtool");
    c.current_dir(dir).args(args);
    if let Some(t) = template {
        let p = dir.join(format!("t{}.tmpl", args.len() + t.len()));
        fs::write(&p, t).unwrap();
        c.arg("--template").arg(&p);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "certtool {args:?}: {}", text(&o));
}

/// A CA → intermediate → signer chain made with `certtool` from templates in the style of
/// model_signing's own test PKI: the signer carries `CA:TRUE` together with digitalSignature
/// and code signing. `issuer_template` is the intermediate's.
fn certtool_pki(dir: &Path, issuer_template: &str) {
    // The keys from openssl: certtool may write an EC scalar with a leading zero byte dropped,
    // which the cryptography package (model_signing) refuses to read.
    for k in ["ca", "int", "leaf", "other"] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{k}.key"),
            ],
        );
    }
    let ca = "cn = \"test root\"\nca\ncert_signing_key\nexpiration_days = 3650\n";
    certtool(
        dir,
        &[
            "--generate-self-signed",
            "--load-privkey",
            "ca.key",
            "--outfile",
            "ca.pem",
        ],
        Some(ca),
    );
    certtool(
        dir,
        &[
            "--generate-self-signed",
            "--load-privkey",
            "other.key",
            "--outfile",
            "other.pem",
        ],
        Some("cn = \"another root\"\nca\ncert_signing_key\nexpiration_days = 3650\n"),
    );
    certtool(
        dir,
        &[
            "--generate-certificate",
            "--load-privkey",
            "int.key",
            "--load-ca-certificate",
            "ca.pem",
            "--load-ca-privkey",
            "ca.key",
            "--outfile",
            "int.pem",
        ],
        Some(issuer_template),
    );
    certtool(
        dir,
        &[
            "--generate-certificate",
            "--load-privkey",
            "leaf.key",
            "--load-ca-certificate",
            "int.pem",
            "--load-ca-privkey",
            "int.key",
            "--outfile",
            "leaf.pem",
        ],
        Some("cn = \"model signer\"\nca\nsigning_key\ncode_signing_key\nexpiration_days = 3650\n"),
    );
}

/// A signing certificate that is also a CA, as model_signing's project makes them with
/// `certtool`: accepted as `model_signing verify certificate` accepts it, and what that refuses
/// (an untrusted root, an issuer that may not sign certificates) is refused too.
#[test]
fn certtool_chain_with_a_ca_signer_is_judged_as_model_signing_judges_it() {
    let Some(py) = python("certtool_chain_with_a_ca_signer") else {
        return;
    };
    if !common::tool("certtool", "certtool_chain_with_a_ca_signer") {
        return;
    }
    for (issuer, accepted) in [
        (
            "cn = \"intermediate\"\nca\ncert_signing_key\nexpiration_days = 3650\n",
            true,
        ),
        // An issuer that may not sign certificates (keyUsage without keyCertSign).
        (
            "cn = \"intermediate\"\nca\nsigning_key\nexpiration_days = 3650\n",
            false,
        ),
    ] {
        let st = setup();
        certtool_pki(&st.dir, issuer);
        let o = Command::new(model_signing(&py))
            .current_dir(&st.dir)
            .args([
                "sign",
                "certificate",
                s(&st.model),
                "--signature",
                s(&st.sig),
                "--private_key",
                "leaf.key",
                "--signing_certificate",
                "leaf.pem",
                "--certificate_chain",
                "int.pem",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        for (root, root_ok) in [("ca.pem", true), ("other.pem", false)] {
            let theirs = Command::new(model_signing(&py))
                .current_dir(&st.dir)
                .args([
                    "verify",
                    "certificate",
                    s(&st.model),
                    "--signature",
                    s(&st.sig),
                    "--certificate_chain",
                    root,
                ])
                .output()
                .unwrap();
            let ours = ws(&[
                "verify",
                s(&st.model),
                "--signature",
                s(&st.sig),
                "--certificate-chain",
                s(&st.dir.join(root)),
            ]);
            let expect = accepted && root_ok;
            assert_eq!(
                theirs.status.success(),
                expect,
                "model_signing with {root}: {}",
                text(&theirs)
            );
            assert_eq!(
                ours.status.code(),
                Some(if expect { 0 } else { 1 }),
                "weightseal with {root}: {}",
                text(&ours)
            );
            if expect {
                assert!(
                    stdout(&ours).contains("certificate CN=model signer"),
                    "{}",
                    text(&ours)
                );
            }
        }
    }
}

/// A chain made with openssl whose signing certificate is itself a CA (`CA:TRUE` with
/// digitalSignature and code signing, as model_signing's own test PKI makes them): a root, an
/// intermediate with `inter_ext` added and the signer with `leaf_ext` added. weightseal signs
/// the model with the signer's key (`--format oms`), and the bundle's verification material
/// becomes the certificate method's chain (signer, then intermediate), as model_signing writes
/// it. Returns `weightseal verify` against the root.
fn verify_ca_leaf_chain(st: &Setup, inter_ext: &str, leaf_ext: &str) -> Output {
    use base64::Engine as _;
    let dir = &st.dir;
    fs::write(
        dir.join("ca-leaf.cnf"),
        format!(
            "[inter]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n{inter_ext}\n[leaf]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\n{leaf_ext}\n"
        ),
    )
    .unwrap();
    for k in ["root", "inter", "leaf"] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{k}.key"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.pem",
        ],
    );
    for (name, cn, ca) in [
        ("inter", "/CN=Intermediate", "root"),
        ("leaf", "/CN=model signer", "inter"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                cn,
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "ca-leaf.cnf",
                "-extensions",
                name,
                "-out",
                &format!("{name}.pem"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-in",
                &format!("{name}.pem"),
                "-outform",
                "DER",
                "-out",
                &format!("{name}.der"),
            ],
        );
    }
    let o = ws(&[
        "sign",
        s(&st.model),
        "--key",
        s(&dir.join("leaf.key")),
        "--format",
        "oms",
        "--signature",
        s(&st.sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&fs::read(&st.sig).unwrap()).unwrap();
    let raw = |n: &str| {
        serde_json::json!({"rawBytes": base64::engine::general_purpose::STANDARD
            .encode(fs::read(dir.join(format!("{n}.der"))).unwrap())})
    };
    bundle["verificationMaterial"] = serde_json::json!({
        "x509CertificateChain": {"certificates": [raw("leaf"), raw("inter")]},
        "tlogEntries": [],
    });
    fs::write(&st.sig, serde_json::to_vec(&bundle).unwrap()).unwrap();
    ws(&[
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--certificate-chain",
        s(&dir.join("root.pem")),
    ])
}

/// On the path of a signing certificate that is itself a CA, a constraint on the certificates
/// below one of the chain (nameConstraints, policyConstraints, inhibitAnyPolicy,
/// policyMappings) is not enforced, so a chain carrying one is refused, critical or not, and
/// the error names the certificate and the extension; the web PKI path refuses or enforces
/// them for an ordinary signing certificate. The same chain without them verifies.
#[test]
fn ca_signing_certificate_chain_with_unenforced_constraints_is_refused() {
    let st = setup();
    let o = verify_ca_leaf_chain(&st, "", "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("OK (OpenSSF model signing, certificate CN=model signer"),
        "{}",
        text(&o)
    );
    for (inter_ext, leaf_ext, who, what) in [
        (
            "nameConstraints = permitted;email:.example.com",
            "",
            "CN=Intermediate",
            "nameConstraints",
        ),
        (
            "nameConstraints = critical, permitted;DNS:example.com",
            "",
            "CN=Intermediate",
            "nameConstraints",
        ),
        (
            "policyConstraints = requireExplicitPolicy:0",
            "",
            "CN=Intermediate",
            "policyConstraints",
        ),
        (
            "inhibitAnyPolicy = 0",
            "",
            "CN=Intermediate",
            "inhibitAnyPolicy",
        ),
        (
            "policyMappings = 1.2.3.4:1.2.3.5",
            "",
            "CN=Intermediate",
            "policyMappings",
        ),
        (
            "",
            "nameConstraints = permitted;DNS:example.com",
            "CN=model signer",
            "nameConstraints",
        ),
    ] {
        let st = setup();
        let o = verify_ca_leaf_chain(&st, inter_ext, leaf_ext);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{inter_ext}{leaf_ext}: {}",
            text(&o)
        );
        let want = format!(
            "FAILED (certificate chain: {who} carries {what}, which this check for a CA signing certificate does not enforce; refused"
        );
        assert!(
            stdout(&o).contains(&want),
            "{inter_ext}{leaf_ext}: want {want:?} in {}",
            text(&o)
        );
    }
}

/// The five certificate-method bundles of model_signing's own test data (v0.2.0 to v1.1.0,
/// `tests/fixtures/model-transparency`): their signer is `CN=intermediate-ca`, `CA:TRUE`,
/// issued under the name `CN=intermediate-ca` by a real intermediate of that name (the
/// signer's authority key identifier is its subject key identifier). weightseal verifies each
/// against model_signing's root, as `model_signing verify certificate` does in the same run,
/// and both refuse each when only the intermediate (not a root) is trusted.
#[test]
fn model_signing_own_certificate_bundles_verify_as_model_signing_verifies_them() {
    use weightseal::oms::{verify_bundle, Bundle, Method, OmsCheck, OmsError};
    let fx = common::fixtures().join("model-transparency");
    let py = python("model_signing_own_certificate_bundles");
    let root = fx.join("keys/ca-cert.pem");
    let inter = fx.join("keys/int-ca-cert.pem");
    let mut seen = 0;
    for v in ["v0.2.0", "v0.3.1", "v1.0.0", "v1.0.1", "v1.1.0"] {
        let name = format!("{v}-certificate");
        let dir = fx.join(&name);
        let sig = dir.join("model.sig");
        let ignore = dir.join("ignore-me");
        // The library: the method, the signer, and the refusal's variant.
        let b = Bundle::parse(&fs::read_to_string(&sig).unwrap()).unwrap();
        assert_eq!(b.method(), Method::Certificate, "{v}");
        let ok = verify_bundle(&b, &OmsCheck::Chain(fs::read(&root).unwrap()))
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(ok.signer, "certificate CN=intermediate-ca", "{v}");
        assert_eq!(ok.manifest.legacy, v == "v0.2.0", "{v}");
        match verify_bundle(&b, &OmsCheck::Chain(fs::read(&inter).unwrap())) {
            Err(OmsError::Chain(m)) => assert!(
                m.contains("none of the trusted certificates is a (self-signed) root"),
                "{v}: {m}"
            ),
            other => panic!("{v}: {:?}", other.map(|v| v.signer)),
        }
        // The command line, with model_signing's own arguments.
        let mut args = vec![
            "verify",
            s(&dir),
            "--signature",
            s(&sig),
            "--certificate-chain",
            s(&root),
        ];
        if ignore.exists() {
            args.extend(["--ignore-paths", s(&ignore)]);
        }
        let o = ws(&args);
        assert_eq!(o.status.code(), Some(0), "{v}: {}", text(&o));
        assert!(
            stdout(&o).contains("signme-1: OK")
                && stdout(&o).contains("signme-2: OK")
                && stdout(&o).contains("certificate CN=intermediate-ca"),
            "{v}: {}",
            text(&o)
        );
        args[5] = s(&inter);
        let o = ws(&args);
        assert_eq!(o.status.code(), Some(1), "{v}: {}", text(&o));
        let Some(py) = &py else { continue };
        for (trusted, accepted) in [(&root, true), (&inter, false)] {
            let mut a = vec![
                "verify".to_string(),
                "certificate".into(),
                "--signature".into(),
                format!("{name}/model.sig"),
                "--certificate_chain".into(),
                s(trusted).into(),
            ];
            if ignore.exists() {
                a.extend(["--ignore-paths".into(), format!("{name}/ignore-me")]);
            }
            a.push(name.clone());
            let o = Command::new(model_signing(py))
                .current_dir(&fx)
                .args(&a)
                .output()
                .unwrap();
            assert_eq!(
                o.status.success(),
                accepted,
                "model_signing {v} with {}: {}",
                trusted.display(),
                text(&o)
            );
        }
        seen += 1;
    }
    assert!(py.is_none() || seen == 5);
}

/// Builds with openssl, in `dir`: a root `CN=root`, an intermediate and a decoy both named
/// `CN=Intermediate` (issued by the root, each with its own RSA key) and a P-384 signer that is a CA
/// with digitalSignature and code signing, issued by the intermediate under `leaf_cn`. Key
/// identifiers (subject and authority) are written when `key_ids`. weightseal signs the model
/// with the signer's key and the bundle then carries `chain` (names of certificates made
/// here) as its certificate method's chain. Returns `weightseal verify` against `root.pem`.
fn same_name_chain(st: &Setup, leaf_cn: &str, key_ids: bool, chain: &[&str]) -> Output {
    use base64::Engine as _;
    let dir = &st.dir;
    let ids = if key_ids {
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
    } else {
        "subjectKeyIdentifier = none\nauthorityKeyIdentifier = none\n"
    };
    fs::write(
        dir.join("same-name.cnf"),
        format!(
            "[inter]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n{ids}[leaf]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\n{ids}"
        ),
    )
    .unwrap();
    // RSA CAs and a P-384 signer, as model_signing's `certtool` PKI has them.
    for (k, alg, opt) in [
        ("root", "RSA", "rsa_keygen_bits:2048"),
        ("inter", "RSA", "rsa_keygen_bits:2048"),
        ("decoy", "RSA", "rsa_keygen_bits:2048"),
        ("leaf", "EC", "ec_paramgen_curve:P-384"),
    ] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                alg,
                "-pkeyopt",
                opt,
                "-out",
                &format!("{k}.key"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.pem",
        ],
    );
    for (name, cn, ca, ext) in [
        ("inter", "/CN=Intermediate", "root", "inter"),
        ("decoy", "/CN=Intermediate", "root", "inter"),
        ("leaf", leaf_cn, "inter", "leaf"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                cn,
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "same-name.cnf",
                "-extensions",
                ext,
                "-out",
                &format!("{name}.pem"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-in",
                &format!("{name}.pem"),
                "-outform",
                "DER",
                "-out",
                &format!("{name}.der"),
            ],
        );
    }
    let o = ws(&[
        "sign",
        s(&st.model),
        "--key",
        s(&dir.join("leaf.key")),
        "--format",
        "oms",
        "--signature",
        s(&st.sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&fs::read(&st.sig).unwrap()).unwrap();
    let certs: Vec<serde_json::Value> = chain
        .iter()
        .map(|n| {
            serde_json::json!({"rawBytes": base64::engine::general_purpose::STANDARD
                .encode(fs::read(dir.join(format!("{n}.der"))).unwrap())})
        })
        .collect();
    bundle["verificationMaterial"] = serde_json::json!({
        "x509CertificateChain": {"certificates": certs},
        "tlogEntries": [],
    });
    fs::write(&st.sig, serde_json::to_vec(&bundle).unwrap()).unwrap();
    ws(&[
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--certificate-chain",
        s(&dir.join("root.pem")),
    ])
}

/// A signer named as its issuer (`CN=Intermediate` issued by `CN=Intermediate`, as in
/// model_signing's own test PKI) is issued by the intermediate of that name, found by name and
/// key identifiers, never by itself; a decoy of the same name whose key identifier does not
/// match, or (without key identifiers) whose key does not verify the signer, is passed over
/// for the next candidate; and what was refused stays refused: a bundle with the decoy alone,
/// or with the signer alone, does not lead to the root.
#[test]
fn same_name_signer_chain_is_built_as_openssl_builds_it() {
    let ok = "OK (OpenSSF model signing, certificate CN=Intermediate";
    let none = "no given certificate issued CN=Intermediate";
    for (key_ids, chain, want) in [
        (true, &["leaf", "inter"][..], ok),
        (true, &["leaf", "decoy", "inter"][..], ok),
        (false, &["leaf", "inter"][..], ok),
        (false, &["leaf", "decoy", "inter"][..], ok),
        (true, &["leaf", "decoy"][..], none),
        (false, &["leaf", "decoy"][..], none),
        (true, &["leaf"][..], none),
        (false, &["leaf"][..], none),
    ] {
        let st = setup();
        let o = same_name_chain(&st, "/CN=Intermediate", key_ids, chain);
        let code = if want == ok { 0 } else { 1 };
        assert_eq!(
            o.status.code(),
            Some(code),
            "{key_ids} {chain:?}: {}",
            text(&o)
        );
        assert!(
            stdout(&o).contains(want),
            "{key_ids} {chain:?}: want {want:?} in {}",
            text(&o)
        );
    }
}

/// The OMS v1.0 conformance vectors (`tests/fixtures/oms-spec-v1.0`, from
/// ossf/model-signing-spec): the harness lists `valid/`, `invalid/` and `invalid-payload/`
/// and checks every file against `expect.txt`. Each valid bundle is recognised as its method
/// and verifies (key, certificate chain to model_signing's test root, Sigstore keyless offline)
/// over the model it signs; each invalid one is refused, in the library and by `weightseal
/// verify --json`, for the rule it breaks (`SpecRule`), not for a missing key or manifest.
#[test]
fn oms_v1_0_conformance_vectors() {
    use weightseal::oms::{verify_bundle, Bundle, Method, OmsCheck, OmsError};
    let fx = common::fixtures().join("oms-spec-v1.0");
    let key = fx.join("signing-key-pub.pem");
    let root = common::fixtures().join("model-transparency/keys/ca-cert.pem");
    let (id, issuer) = (
        "stefanb@us.ibm.com",
        "https://sigstore.verify.ibm.com/oauth2",
    );
    let expect: std::collections::BTreeMap<String, String> =
        fs::read_to_string(fx.join("expect.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (p, e) = l.split_once(' ').unwrap();
                (p.to_string(), e.to_string())
            })
            .collect();
    let mut found = Vec::new();
    for d in ["valid", "invalid", "invalid-payload"] {
        for e in fs::read_dir(fx.join(d)).unwrap() {
            found.push(format!("{d}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    found.sort();
    assert_eq!(
        found,
        expect.keys().cloned().collect::<Vec<_>>(),
        "a vector without its line in expect.txt, or a line without its vector"
    );
    // The models the valid bundles sign.
    let tmp = tempfile::tempdir().unwrap();
    let model = |name: &str, one: &[u8]| {
        let m = tmp.path().join(name);
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join("signme-1"), one).unwrap();
        fs::write(m.join("signme-2"), b"signme-2").unwrap();
        m
    };
    let (m_key, m_keyless) = (
        model("model", b"signme-1\n"),
        model("sigstore", b"signme-1"),
    );
    let keys = || OmsCheck::Keys(vec![weightseal::attest::PublicKey::read(&key).unwrap()]);
    for (vector, want) in &expect {
        let path = fx.join(vector);
        let parsed = Bundle::parse(&fs::read_to_string(&path).unwrap());
        if let Some(code) = want.strip_prefix("rule:") {
            // The library: the rule, by its variant.
            let err = match parsed {
                Err(e) => e,
                Ok(b) => match verify_bundle(&b, &keys()) {
                    Err(e) => e,
                    Ok(v) => panic!("{vector}: verified ({})", v.signer),
                },
            };
            match &err {
                OmsError::Spec { rule, .. } => assert_eq!(rule.code(), code, "{vector}: {err}"),
                other => panic!("{vector}: not refused for a rule: {other}"),
            }
            // The command line: refused (exit 1) for that rule, the signature file named.
            let o = ws(&[
                "verify",
                s(&m_key),
                "--signature",
                s(&path),
                "--key",
                s(&key),
                "--json",
            ]);
            assert_eq!(o.status.code(), Some(1), "{vector}: {}", text(&o));
            let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            assert_eq!(j["ok"], false, "{vector}");
            assert_eq!(j["oms"]["rule"], code, "{vector}: {j}");
            let o = ws(&[
                "verify",
                s(&m_key),
                "--signature",
                s(&path),
                "--key",
                s(&key),
            ]);
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(
                stdout(&o).contains(&format!("signature {}: FAILED (", path.display()))
                    || stdout(&o).contains(&format!("{name}: FAILED (")),
                "{vector}: {}",
                text(&o)
            );
            assert!(
                stdout(&o).contains(&format!(", {code})")),
                "{vector}: {}",
                text(&o)
            );
            continue;
        }
        let b = parsed.unwrap_or_else(|e| panic!("{vector}: {e}"));
        let (method, dir, args) = match want.as_str() {
            "key" => (Method::Key, &m_key, vec!["--key", s(&key)]),
            "certificate" => (
                Method::Certificate,
                &m_key,
                vec!["--certificate-chain", s(&root)],
            ),
            "keyless" => (
                Method::Keyless,
                &m_keyless,
                vec!["--identity", id, "--identity-provider", issuer],
            ),
            other => panic!("{vector}: unknown expectation {other}"),
        };
        assert_eq!(b.method(), method, "{vector}");
        let check = match method {
            Method::Key => keys(),
            Method::Certificate => OmsCheck::Chain(fs::read(&root).unwrap()),
            Method::Keyless => OmsCheck::Keyless {
                identity: id.into(),
                issuer: issuer.into(),
                trusted_root: None,
            },
        };
        let v = verify_bundle(&b, &check).unwrap_or_else(|e| panic!("{vector}: {e}"));
        assert_eq!(v.method, method, "{vector}");
        let mut a = vec!["verify", s(dir), "--signature", s(&path)];
        a.extend(args);
        let o = ws(&a);
        assert_eq!(o.status.code(), Some(0), "{vector}: {}", text(&o));
        assert!(
            stdout(&o).contains("signme-1: OK") && stdout(&o).contains("signme-2: OK"),
            "{vector}: {}",
            text(&o)
        );
    }
}

/// A search for a CA signer's path that runs out of its signature-check budget says so: the
/// budget is not hidden behind the error of a candidate tried earlier. The signer is issued
/// under `CN=N` by key K; two certificates `CN=N` hold K: the first carries an unknown critical
/// extension (refused at once), the second is issued under `CN=M` by key K2, and thirteen
/// certificates `CN=M` hold K2 and issue one another, more paths than 64 signature checks
/// explore. The search is refused for its budget, not for the first candidate's extension.
#[test]
fn ca_signer_path_search_that_exhausts_its_budget_says_so() {
    let st = setup();
    let dir = &st.dir;
    fs::write(
        dir.join("x.cnf"),
        "[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign\n[bad]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign\n1.2.3.4 = critical, ASN1:NULL\n[leaf]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\n",
    )
    .unwrap();
    for k in ["root", "k", "k2", "leaf"] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{k}.key"),
            ],
        );
    }
    let selfsigned = |key: &str, cn: &str, out: &str, serial: &str| {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                key,
                "-subj",
                cn,
                "-days",
                "30",
                "-set_serial",
                serial,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
                "-out",
                out,
            ],
        )
    };
    let issue = |key: &str, cn: &str, ca: &str, ca_key: &str, ext: &str, out: &str| {
        openssl(
            dir,
            &["req", "-new", "-key", key, "-subj", cn, "-out", "x.csr"],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "x.csr",
                "-CA",
                ca,
                "-CAkey",
                ca_key,
                "-set_serial",
                "7",
                "-days",
                "30",
                "-extfile",
                "x.cnf",
                "-extensions",
                ext,
                "-out",
                out,
            ],
        );
    };
    selfsigned("root.key", "/CN=root", "root.pem", "1");
    selfsigned("k.key", "/CN=Z", "z.pem", "2");
    let ms: Vec<String> = (0..13).map(|i| format!("m{i}.pem")).collect();
    for (i, m) in ms.iter().enumerate() {
        selfsigned("k2.key", "/CN=M", m, &(100 + i).to_string());
    }
    issue("k.key", "/CN=N", "z.pem", "k.key", "bad", "a.pem");
    issue("k.key", "/CN=N", "m0.pem", "k2.key", "ca", "b.pem");
    issue(
        "leaf.key",
        "/CN=model signer",
        "a.pem",
        "k.key",
        "leaf",
        "leaf.pem",
    );
    let o = ws(&[
        "sign",
        s(&st.model),
        "--key",
        s(&dir.join("leaf.key")),
        "--format",
        "oms",
        "--signature",
        s(&st.sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&fs::read(&st.sig).unwrap()).unwrap();
    let raw = |n: &str| {
        let pem = fs::read_to_string(dir.join(n)).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        serde_json::json!({ "rawBytes": b64 })
    };
    let chain: Vec<serde_json::Value> = ["leaf.pem", "a.pem", "b.pem"]
        .iter()
        .map(|n| n.to_string())
        .chain(ms)
        .map(|n| raw(&n))
        .collect();
    assert_eq!(chain.len(), 16);
    bundle["verificationMaterial"] = serde_json::json!({
        "x509CertificateChain": {"certificates": chain},
    });
    fs::write(&st.sig, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let o = ws(&[
        "verify",
        s(&st.model),
        "--signature",
        s(&st.sig),
        "--certificate-chain",
        s(&dir.join("root.pem")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("more than 64 candidate issuers were tried"),
        "{}",
        text(&o)
    );
}

/// model_signing 0.2's signature (ECDSA over SHA-256 of its Python-`repr` PAE, whatever the
/// curve) is accepted for a model_signing 0.2 statement only: over a v1.0 statement a P-384
/// signer's signature is ECDSA with SHA-384 over the DSSE PAE, and the 0.2 form of it is
/// refused (no model_signing since 0.2 signs so). The bundle as weightseal signed it verifies.
#[test]
fn legacy_sha256_signature_is_refused_over_a_v1_0_statement() {
    use base64::Engine as _;
    let st = setup();
    let dir = &st.dir;
    fs::write(dir.join("ext.cnf"), EXT).unwrap();
    for (k, curve) in [("root", "P-256"), ("leaf", "P-384")] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-out",
                &format!("{k}.key"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-out",
            "root.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/CN=signer",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
            "-outform",
            "DER",
            "-out",
            "leaf.der",
        ],
    );
    let o = ws(&[
        "sign",
        s(&st.model),
        "--key",
        s(&dir.join("leaf.key")),
        "--format",
        "oms",
        "--signature",
        s(&st.sig),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&fs::read(&st.sig).unwrap()).unwrap();
    bundle["verificationMaterial"] = serde_json::json!({
        "x509CertificateChain": {"certificates": [
            {"rawBytes": b64.encode(fs::read(dir.join("leaf.der")).unwrap())}
        ]},
    });
    let verify = |bundle: &serde_json::Value| {
        fs::write(&st.sig, serde_json::to_vec(bundle).unwrap()).unwrap();
        ws(&[
            "verify",
            s(&st.model),
            "--signature",
            s(&st.sig),
            "--certificate-chain",
            s(&dir.join("root.pem")),
        ])
    };
    let o = verify(&bundle);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The same payload signed as model_signing 0.2 signed: SHA-256 over `DSSEV1 … b'…'`.
    let payload = b64
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        statement["predicateType"],
        "https://model_signing/signature/v1.0"
    );
    let mut repr = String::from("b'");
    for &c in &payload {
        match c {
            b'\\' => repr.push_str("\\\\"),
            b'\'' => repr.push_str("\\'"),
            b'\n' => repr.push_str("\\n"),
            b'\t' => repr.push_str("\\t"),
            b'\r' => repr.push_str("\\r"),
            0x20..=0x7e => repr.push(c as char),
            c => repr.push_str(&format!("\\x{c:02x}")),
        }
    }
    repr.push('\'');
    let t = "application/vnd.in-toto+json";
    let compat = format!("DSSEV1 {} {t} {} {repr}", t.len(), payload.len());
    fs::write(dir.join("compat.bin"), compat).unwrap();
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "leaf.key",
            "-out",
            "compat.sig",
            "compat.bin",
        ],
    );
    bundle["dsseEnvelope"]["signatures"][0]["sig"] =
        serde_json::json!(b64.encode(fs::read(dir.join("compat.sig")).unwrap()));
    let o = verify(&bundle);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("FAILED (the signature does not verify"),
        "{}",
        text(&o)
    );
}
