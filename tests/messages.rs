//! What a user reads when something goes wrong, and single-file models: one test per common
//! mistake, asserting the one clear line (cause said once, what to do next) and the exit code.

mod common;

use std::path::Path;
use std::process::Output;

use common::{stderr, stdout, ws};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A real safetensors file, written by the official writer.
fn safetensors_file(path: &Path, fill: u8) {
    use safetensors::tensor::{serialize_to_file, Dtype, TensorView};
    let data = vec![fill; 64 * 1024];
    let t = TensorView::new(Dtype::F32, vec![128, 128], &data).unwrap();
    serialize_to_file([("w", t)], None, path).unwrap();
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn keygen(dir: &Path) -> (String, String) {
    let k = dir.join("k");
    assert_eq!(code(&ws(&["keygen", "--out", s(&k)])), Some(0));
    (s(&k).to_string(), format!("{}.pub", s(&k)))
}

#[test]
fn a_directory_without_a_manifest_says_to_hash_it_or_pass_manifest() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("w.bin"), b"x").unwrap();
    let o = ws(&["verify", s(d.path())]);
    assert_eq!(code(&o), Some(2));
    let e = stderr(&o);
    assert!(e.contains("no manifest at"), "{e}");
    assert!(
        e.contains(&format!("`weightseal hash {}`", s(d.path()))),
        "{e}"
    );
    assert!(e.contains("--manifest FILE"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(!e.contains("os error"), "{e}");
}

#[test]
fn a_missing_path_is_said_once() {
    let d = tempfile::tempdir().unwrap();
    let gone = d.path().join("down/minilmm");
    let o = ws(&["verify", s(&gone)]);
    assert_eq!(code(&o), Some(2));
    let e = stderr(&o);
    assert!(e.contains("no such model directory or file"), "{e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let o = ws(&["diff", s(&gone), s(d.path())]);
    assert!(
        stderr(&o).contains("no such file or directory (a model directory, a model file or a manifest was expected)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_that_is_not_a_manifest_says_what_it_is() {
    let d = tempfile::tempdir().unwrap();
    let (k, _) = keygen(d.path());
    let o = ws(&["show", &k]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("is not a weightseal manifest (a manifest is a CBOR map; this file starts with \"-----BEGIN PRIVA\")"),
        "{}",
        stderr(&o)
    );
    // A weights file where a manifest is expected: its own manifest is named.
    let w = d.path().join("model.safetensors");
    safetensors_file(&w, 1);
    let o = ws(&["show", s(&w)]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "no manifest at {}.weightseal.manifest: hash the model first (`weightseal hash {}`)",
            s(&w),
            s(&w)
        )),
        "{}",
        stderr(&o)
    );
    // The manifest given where the model is expected.
    assert_eq!(code(&ws(&["hash", s(&w)])), Some(0));
    let o = ws(&["verify", &format!("{}.weightseal.manifest", s(&w))]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("is a manifest, not a model"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unreachable_server_is_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/org/model");
    let o = ws(&[
        "fetch",
        &url,
        s(&d.path().join("m")),
        "--allow-unsigned",
        "--retries",
        "0",
    ]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("connection refused (nothing listens there: is the server running, and the port right?)"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains("error sending request"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn json_errors_are_json_on_stdout() {
    let d = tempfile::tempdir().unwrap();
    let o = ws(&["verify", s(d.path()), "--json"]);
    assert_eq!(code(&o), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "manifest");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("no manifest at"));
    let o = ws(&["fetch", "ftp://x/y", s(&d.path().join("m")), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["error"]["kind"], "network");
    let o = ws(&[
        "verify",
        s(d.path()),
        "--key",
        s(&d.path().join("nope.pub")),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["error"]["kind"], "key");
}

#[test]
fn sign_checks_the_key_and_options_first_and_leaves_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("model");
    std::fs::create_dir(&m).unwrap();
    safetensors_file(&m.join("model.safetensors"), 2);
    let (k, _) = keygen(d.path());
    let o = ws(&["sign", s(&m), "--key", s(&d.path().join("nope.key"))]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("cannot read key"), "{}", stderr(&o));
    let o = ws(&["sign", s(&m), "--key", &k, "--expires", "next tuesday"]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("\"next tuesday\" is not a duration (90d, 12h, 2w, 1y) or a date"),
        "{}",
        stderr(&o)
    );
    let o = ws(&["sign", s(&m), "--key", &k, "--role", "Bad Role"]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("--role \"Bad Role\""), "{}", stderr(&o));
    let names: Vec<String> = std::fs::read_dir(&m)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["model.safetensors"]);
}

#[test]
fn signing_twice_with_the_same_key_replaces_the_attestation() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("model");
    std::fs::create_dir(&m).unwrap();
    safetensors_file(&m.join("model.safetensors"), 3);
    let (k, _) = keygen(d.path());
    assert_eq!(code(&ws(&["sign", s(&m), "--key", &k])), Some(0));
    let o = ws(&["sign", s(&m), "--key", &k]);
    assert_eq!(code(&o), Some(0));
    assert!(
        stdout(&o)
            .contains("(replacing this key's earlier attestation for this role)\n1 attestation(s)"),
        "{}",
        stdout(&o)
    );
    let bundle = std::fs::read_to_string(m.join("weightseal.intoto.jsonl")).unwrap();
    assert_eq!(bundle.lines().count(), 1);
    // Another role by the same key is another attestation.
    let o = ws(&["sign", s(&m), "--key", &k, "--role", "auditor"]);
    assert!(stdout(&o).contains("2 attestation(s)"), "{}", stdout(&o));
}

#[test]
fn a_single_file_model_is_hashed_signed_and_verified_beside_its_neighbours() {
    let d = tempfile::tempdir().unwrap();
    let w = d.path().join("tiny.safetensors");
    safetensors_file(&w, 4);
    // Other files in the same directory are no part of the model.
    std::fs::write(d.path().join("notes.txt"), b"not part of it").unwrap();
    let (k, p) = keygen(d.path());
    let o = ws(&["hash", s(&w)]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let manifest = format!("{}.weightseal.manifest", s(&w));
    assert!(
        stdout(&o).ends_with(&format!("  {manifest}\n")),
        "{}",
        stdout(&o)
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&ws(&["show", s(&w), "--json"]).stdout).unwrap();
    assert_eq!(shown["name"], "tiny.safetensors");
    assert_eq!(shown["files"].as_array().unwrap().len(), 1);
    assert_eq!(shown["files"][0]["path"], "tiny.safetensors");
    assert_eq!(shown["files"][0]["type"], "safetensors");
    let o = ws(&["sign", s(&w), "--key", &k]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{}.weightseal.intoto.jsonl", s(&w))),
        "{}",
        stdout(&o)
    );
    let o = ws(&["verify", s(&w), "--key", &p]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().next(), Some("tiny.safetensors: OK"));
    // One changed byte of the tensor: named, with its tensor.
    let mut b = std::fs::read(&w).unwrap();
    let n = b.len();
    b[n - 10] ^= 1;
    std::fs::write(&w, &b).unwrap();
    let o = ws(&["verify", s(&w), "--key", &p]);
    assert_eq!(code(&o), Some(1));
    assert!(
        stdout(&o).contains("tiny.safetensors: FAILED (modified"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("; 1 tensor changed: w)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn completions_and_man_pages_come_from_the_clap_definitions() {
    for (shell, marker) in [
        ("bash", "complete -F _weightseal"),
        ("zsh", "#compdef weightseal"),
        ("fish", "complete -c weightseal"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = ws(&["completions", shell]);
        assert_eq!(code(&o), Some(0), "{shell}");
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell}: {marker}");
        // Every subcommand and a subcommand's own option are offered.
        for word in ["verify", "fetch", "sign", "hash", "allow-unsigned"] {
            assert!(text.contains(word), "{shell} completes {word}");
        }
    }
    let o = ws(&["man"]);
    assert_eq!(code(&o), Some(0));
    let page = stdout(&o);
    assert!(page.contains(".TH weightseal 1"), "{page}");
    assert!(page.contains("weightseal\\-verify(1)"), "{page}");
    let d = tempfile::tempdir().unwrap();
    let o = ws(&["man", "--dir", s(d.path())]);
    assert_eq!(code(&o), Some(0));
    let verify = std::fs::read_to_string(d.path().join("weightseal-verify.1")).unwrap();
    assert!(verify.contains(".TH weightseal-verify 1"), "{verify}");
    assert!(verify.contains("\\-\\-tensors"), "{verify}");
}

#[test]
fn each_command_help_lists_its_own_options() {
    let verify = stdout(&ws(&["verify", "--help"]));
    let fetch = stdout(&ws(&["fetch", "--help"]));
    assert!(!verify.contains("--no-fsync"), "{verify}");
    assert!(!verify.contains("--allow-unsigned"), "{verify}");
    assert!(fetch.contains("--no-fsync"), "{fetch}");
    assert!(!fetch.contains("--certificate-chain"), "{fetch}");
    assert!(fetch.contains("--signature"), "{fetch}");
    // Grouped: the OpenSSF and network options under their own headings, after verify's own.
    let own = verify.find("--tensors").unwrap();
    let oms = verify.find("OpenSSF model signing (--signature):").unwrap();
    let net = verify.find("Network (fetch, verify --url):").unwrap();
    assert!(own < oms && oms < net, "{verify}");
}

#[test]
fn progress_never_draws_an_empty_frame() {
    if !common::tool("script", "progress_never_draws_an_empty_frame") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("model");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("w.bin"), vec![5u8; 3 << 20]).unwrap();
    assert_eq!(code(&ws(&["hash", s(&m)])), Some(0));
    // On a terminal (a pseudo-terminal made by script), where bars are drawn.
    let cmd = format!(
        "{} verify {} ; {} verify {}",
        env!("CARGO_BIN_EXE_weightseal"),
        s(&m),
        env!("CARGO_BIN_EXE_weightseal"),
        s(&d.path().join("missing"))
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("WEIGHTSEAL_TRUST", "/nonexistent/trust.toml")
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&o.stdout);
    assert!(all.contains("w.bin: OK"), "{all}");
    assert!(!all.contains("0 B/0 B"), "{all}");
    // A job of well under a second never shows a guess of the time left: no ETA until the
    // rate is known.
    assert!(
        !all.match_indices("eta ").any(|(i, _)| all[i + 4..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())),
        "{all}"
    );
}

#[test]
fn diff_names_the_exact_bytes_and_shows_text_changes_as_a_unified_diff() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let w: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(a.join("w.bin"), &w).unwrap();
    let mut w2 = w.clone();
    w2[1_000_000] ^= 0xFF;
    w2[10] ^= 1;
    w2[11] ^= 1;
    std::fs::write(b.join("w.bin"), &w2).unwrap();
    std::fs::write(
        a.join("config.json"),
        "{\n \"hidden\": 64,\n \"layers\": 2\n}\n",
    )
    .unwrap();
    std::fs::write(
        b.join("config.json"),
        "{\n \"hidden\": 64,\n \"layers\": 3\n}\n",
    )
    .unwrap();
    let o = ws(&["diff", s(&a), s(&b)]);
    assert_eq!(code(&o), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(
            "w.bin: 1 byte range(s) differ: 0..3000000; exactly bytes 10..12, 1000000 differ"
        ),
        "{out}"
    );
    assert!(out.contains("config.json: 1 byte range(s) differ: 0..32; exactly byte 28 differs\n    --- a/config.json\n    +++ b/config.json\n    @@ -1,4 +1,4 @@\n     {\n      \"hidden\": 64,\n    - \"layers\": 2\n    + \"layers\": 3\n     }\n"), "{out}");
    let j: serde_json::Value =
        serde_json::from_slice(&ws(&["diff", s(&a), s(&b), "--json"]).stdout).unwrap();
    let w = j["files_changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "w.bin")
        .unwrap();
    assert_eq!(
        w["bytes"],
        serde_json::json!([{"start": 10, "end": 12}, {"start": 1000000, "end": 1000001}])
    );
    assert_eq!(w["byte_runs"], 2);
    assert!(w.get("text_diff").is_none());
    // Two single-file models compare as one file, whatever their names.
    let (fa, fb) = (
        d.path().join("m-a.safetensors"),
        d.path().join("m-b.safetensors"),
    );
    safetensors_file(&fa, 1);
    let mut bytes = std::fs::read(&fa).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&fb, &bytes).unwrap();
    let o = ws(&["diff", s(&fa), s(&fb)]);
    assert_eq!(code(&o), Some(1));
    let out = stdout(&o);
    assert!(out.contains(&format!("changed  m-a.safetensors: 1 byte range(s) differ: 0..{n}; 1 tensor changed: w; exactly byte {} differs", n - 1)), "{out}");
}

#[test]
fn verify_against_the_original_names_the_exact_bytes() {
    let d = tempfile::tempdir().unwrap();
    let (orig, copy) = (d.path().join("orig"), d.path().join("copy"));
    std::fs::create_dir(&orig).unwrap();
    let w: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(orig.join("w.bin"), &w).unwrap();
    assert_eq!(code(&ws(&["hash", s(&orig)])), Some(0));
    std::fs::create_dir(&copy).unwrap();
    let mut w2 = w.clone();
    w2[4_500_001] ^= 0x40;
    std::fs::write(copy.join("w.bin"), &w2).unwrap();
    let manifest = orig.join("weightseal.manifest");
    let o = ws(&[
        "verify",
        s(&copy),
        "--manifest",
        s(&manifest),
        "--original",
        s(&orig),
    ]);
    assert_eq!(code(&o), Some(1));
    assert!(
        stdout(&o).contains(
            "w.bin: FAILED (modified: somewhere in bytes 4194304..5000000, one 786.81 KiB chunk; exactly byte 4500001 differs)"
        ),
        "{}",
        stdout(&o)
    );
    let o = ws(&[
        "verify",
        s(&copy),
        "--manifest",
        s(&manifest),
        "--original",
        s(&orig),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exact"][0]["path"], "w.bin");
    assert_eq!(
        v["exact"][0]["runs"],
        serde_json::json!([{"start": 4500001, "end": 4500002}])
    );
}

#[test]
fn a_binary_key_file_says_what_it_is_and_how_to_convert_it() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("m");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("a.txt"), b"hi\n").unwrap();
    assert_eq!(code(&ws(&["hash", s(&model)])), Some(0));
    // A DER key as `openssl genpkey -outform DER` writes it, and random bytes.
    let der = d.path().join("key.der");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "ed25519",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&der)
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let junk = d.path().join("junk.key");
    std::fs::write(&junk, [0xffu8, 0xfe, 0x00, 0x81, 0x92]).unwrap();
    for (key, what) in [
        (
            &der,
            "a binary file of 48 bytes, which looks like a DER-encoded key",
        ),
        (&junk, "a binary file of 5 bytes, not a key file"),
    ] {
        for cmd in ["verify", "sign"] {
            let o = ws(&[cmd, s(&model), "--key", s(key)]);
            assert_eq!(code(&o), Some(2), "{cmd}");
            let e = stderr(&o);
            assert!(e.contains(&format!("{}: this is {what}", s(key))), "{e}");
            assert!(
                e.contains("openssl pkey -inform DER -in KEY -out KEY.pem"),
                "{e}"
            );
            assert!(!e.contains("UTF-8"), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}

#[test]
fn an_oms_bundle_signed_with_ed25519_says_how_to_make_a_p256_key() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("m");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("a.txt"), b"hi\n").unwrap();
    let (key, _) = keygen(d.path());
    let sig = d.path().join("model.sig");
    let o = ws(&[
        "sign",
        s(&model),
        "--key",
        &key,
        "--format",
        "oms",
        "--signature",
        s(&sig),
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    let line = e
        .lines()
        .find(|l| l.contains("model_signing"))
        .unwrap_or_else(|| panic!("{e}"));
    assert!(
        line.contains("will not verify this ed25519 signature"),
        "{line}"
    );
    assert!(
        line.contains("`weightseal keygen --type ecdsa-p256 --out KEY`"),
        "{line}"
    );
}

#[test]
fn sample_on_a_local_directory_is_refused_not_ignored() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.txt"), b"hi\n").unwrap();
    assert_eq!(code(&ws(&["hash", s(d.path())])), Some(0));
    let o = ws(&["verify", s(d.path()), "--sample", "0.5"]);
    assert_eq!(code(&o), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--sample checks a random fraction of a mirror's chunks and needs --url"),
        "{e}"
    );
    assert!(!e.contains("SAMPLE"), "{e}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn help_and_the_man_page_name_the_trust_store_environment_exit_status_and_examples() {
    let help = stdout(&ws(&["--help"]));
    let d = tempfile::tempdir().unwrap();
    assert_eq!(code(&ws(&["man", "--dir", s(d.path())])), Some(0));
    let main = std::fs::read_to_string(d.path().join("weightseal.1")).unwrap();
    assert_eq!(main, stdout(&ws(&["man"])));
    for (section, man_section) in [
        ("FILES:", ".SH FILES"),
        ("ENVIRONMENT:", ".SH ENVIRONMENT"),
        ("EXIT STATUS:", ".SH EXIT STATUS"),
        ("EXAMPLES:", ".SH EXAMPLES"),
    ] {
        assert!(help.contains(section), "{section}: {help}");
        assert!(main.contains(man_section), "{man_section}: {main}");
    }
    for var in [
        "WEIGHTSEAL_TRUST",
        "WEIGHTSEAL_PASSPHRASE",
        "WEIGHTSEAL_NO_MMAP",
        "HF_HUB_CACHE",
        "HF_TOKEN",
    ] {
        assert!(help.contains(var), "{var}");
        assert!(main.contains(&var.replace('-', "\\-")), "{var}");
    }
    assert!(help.contains("weightseal/trust.toml"), "{help}");
    assert!(main.contains("weightseal/trust.toml"), "{main}");
    assert!(!main.contains(".SH EXTRA"), "{main}");
    // Every page a page names exists, and every page written is named by another.
    let pages: std::collections::BTreeSet<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut named = std::collections::BTreeSet::new();
    for p in &pages {
        let text = std::fs::read_to_string(d.path().join(p)).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("weightseal\\-") {
            let tail = &rest[i..];
            let end = tail.find("(1)").filter(|&e| {
                tail[..e]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '\\' || c == '-')
            });
            if let Some(e) = end {
                let page = format!("{}.1", tail[..e].replace("\\-", "-"));
                assert!(
                    pages.contains(&page),
                    "{p} names {page}, which is not written"
                );
                named.insert(page);
            }
            rest = &tail[1..];
        }
    }
    for p in &pages {
        assert!(
            p == "weightseal.1" || named.contains(p),
            "{p} is written but no page names it"
        );
    }
    assert!(!pages.contains("weightseal-help.1"));
}

#[test]
fn many_differing_runs_are_counted_with_their_bytes_and_the_first_few_shown() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let w: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w2 = w.clone();
    // 10000 one-byte runs, and one run of 3 bytes that spans two of the 1 MiB reads.
    for i in (0..1_000_000).step_by(100) {
        w2[i] ^= 1;
    }
    for x in &mut w2[1_048_575..1_048_578] {
        *x ^= 1;
    }
    std::fs::write(a.join("w.bin"), &w).unwrap();
    std::fs::write(b.join("w.bin"), &w2).unwrap();
    for dir in [&a, &b] {
        assert_eq!(code(&ws(&["hash", s(dir)])), Some(0));
    }
    let o = ws(&["diff", s(&a), s(&b)]);
    assert_eq!(code(&o), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(
            "exactly 10003 bytes (9.77 KiB) differ in 10001 runs, the first 0, 100, 200, 300"
        ),
        "{out}"
    );
    assert!(!out.contains("more run(s)"), "{out}");
    let o = ws(&["diff", s(&a), s(&b), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &j["files_changed"][0];
    assert_eq!(c["byte_runs"], 10001);
    assert_eq!(c["bytes_differing"], 10003);
    // The run across the read boundary is one run.
    assert!(c["bytes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["start"] != 1_048_576));
}

#[test]
fn verify_against_the_original_shows_a_small_text_file_as_a_unified_diff() {
    let d = tempfile::tempdir().unwrap();
    let (orig, copy) = (d.path().join("orig"), d.path().join("copy"));
    std::fs::create_dir(&orig).unwrap();
    std::fs::create_dir(&copy).unwrap();
    std::fs::write(orig.join("config.json"), "{\n \"a\": 1,\n \"b\": 2\n}\n").unwrap();
    std::fs::write(copy.join("config.json"), "{\n \"a\": 1,\n \"b\": 3\n}\n").unwrap();
    assert_eq!(code(&ws(&["hash", s(&orig)])), Some(0));
    let manifest = orig.join("weightseal.manifest");
    let o = ws(&[
        "verify",
        s(&copy),
        "--manifest",
        s(&manifest),
        "--original",
        s(&orig),
    ]);
    assert_eq!(code(&o), Some(1));
    assert_eq!(
        stdout(&o),
        "config.json: FAILED (modified: somewhere in bytes 0..21, one 21 B chunk; exactly byte 17 differs)\n    --- a/config.json\n    +++ b/config.json\n    @@ -1,4 +1,4 @@\n     {\n      \"a\": 1,\n    - \"b\": 2\n    + \"b\": 3\n     }\n"
    );
    let o = ws(&[
        "verify",
        s(&copy),
        "--manifest",
        s(&manifest),
        "--original",
        s(&orig),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["exact"][0]["text_diff"]
        .as_str()
        .unwrap()
        .contains("+ \"b\": 3"));
}
