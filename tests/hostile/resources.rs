//! Hostile inputs that aim at memory and CPU before anything is authenticated. Each runs the
//! real binary under a 512 MiB address-space limit (`ulimit -v`) and must end with exit 1 or
//! 2 and the specific refusal, never a signal.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::fixture::{bytes, s};
use crate::common::server::Server;
use crate::common::ws;
use crate::text;

/// 512 MiB of address space, in KiB.
const LIMIT_KIB: u64 = 512 * 1024;

/// Runs weightseal with `args` under the address-space limit.
fn limited(args: &[&str]) -> Output {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {LIMIT_KIB} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_weightseal"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some(),
        "killed by a signal: {:?}\n{}",
        o.status,
        text(&o)
    );
    o
}

fn cbor_text(s: &str) -> Vec<u8> {
    let mut v = vec![0x60 + s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

/// A 64 MB manifest whose `files` array declares 64 million entries, each the integer 0.
fn manifest_bomb(dir: &Path) {
    let n: u32 = 64_000_000 - 40;
    let mut b = vec![0xa4];
    b.extend(cbor_text("name"));
    b.extend(cbor_text("m"));
    b.extend(cbor_text("files"));
    b.push(0x9a);
    b.extend_from_slice(&n.to_be_bytes());
    b.resize(b.len() + n as usize, 0);
    b.extend(cbor_text("format"));
    b.push(1);
    b.extend(cbor_text("chunk_size"));
    b.push(0x1a);
    b.extend_from_slice(&(1u32 << 22).to_be_bytes());
    fs::write(dir.join("weightseal.manifest"), b).unwrap();
}

fn key(dir: &Path) -> std::path::PathBuf {
    let k = dir.join("k");
    assert_eq!(ws(&["keygen", "--out", s(&k)]).status.code(), Some(0));
    dir.join("k.pub")
}

#[test]
fn manifest_bomb_from_a_server_fails_in_fetch_before_any_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    fs::create_dir_all(&served).unwrap();
    manifest_bomb(&served);
    let server = Server::start(served);
    let k = key(tmp.path());
    let dest = tmp.path().join("dest");
    let o = limited(&["fetch", &server.base, s(&dest), "--key", s(&k)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("field files[0]: expected a map, found an integer"),
        "{}",
        text(&o)
    );
    assert!(!dest.join("weightseal.manifest").exists());
}

#[test]
fn manifest_bomb_from_a_server_fails_in_verify_url() {
    let tmp = tempfile::tempdir().unwrap();
    manifest_bomb(tmp.path());
    let server = Server::start(tmp.path().to_path_buf());
    let k = key(tmp.path());
    let o = limited(&["verify", "--url", &server.base, "--key", s(&k)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("field files[0]: expected a map, found an integer"),
        "{}",
        text(&o)
    );
}

#[test]
fn manifest_larger_than_the_download_cap_is_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    manifest_bomb(tmp.path());
    let server = Server::start(tmp.path().to_path_buf());
    let k = key(tmp.path());
    let o = limited(&[
        "fetch",
        &server.base,
        s(&tmp.path().join("dest")),
        "--key",
        s(&k),
        "--max-manifest-size",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o)
            .contains("weightseal.manifest: the server sent more than the 1048576 bytes expected"),
        "{}",
        text(&o)
    );
    // At most the cap was sent (plus what was in flight when the connection closed).
    assert!(server.sent("weightseal.manifest") < 64_000_000);
}

/// A minimal safetensors file: one F32 tensor "w" of `n` elements, and `pad` bytes of
/// metadata in the header.
fn safetensors(n: usize, pad: usize) -> Vec<u8> {
    let meta = if pad > 0 {
        format!("\"__metadata__\":{{\"pad\":\"{}\"}},", "a".repeat(pad))
    } else {
        String::new()
    };
    let header = format!(
        "{{{meta}\"w\":{{\"dtype\":\"F32\",\"shape\":[{n}],\"data_offsets\":[0,{}]}}}}",
        4 * n
    );
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend(bytes(4 * n, 5));
    v
}

#[test]
fn huge_header_in_a_modified_safetensors_file_is_not_reparsed() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir_all(&model).unwrap();
    fs::write(model.join("m.safetensors"), safetensors(1000, 0)).unwrap();
    assert_eq!(ws(&["hash", s(&model)]).status.code(), Some(0));
    // The file is swapped for one with a 94 MB header.
    fs::write(model.join("m.safetensors"), safetensors(1000, 94_000_000)).unwrap();
    let o = limited(&["verify", s(&model)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("m.safetensors: FAILED (")
            && text(&o).contains("exceeds the limit of 16777216 bytes"),
        "{}",
        text(&o)
    );
}

#[test]
fn gguf_tensor_count_beyond_the_cap_is_refused_not_allocated() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir_all(&model).unwrap();
    // GGUF v3, 600 000 tensors declared, no metadata; a sparse 16 MiB file so the count is
    // not impossible by size alone.
    let mut head = b"GGUF".to_vec();
    head.extend_from_slice(&3u32.to_le_bytes());
    head.extend_from_slice(&600_000u64.to_le_bytes());
    head.extend_from_slice(&0u64.to_le_bytes());
    let p = model.join("m.gguf");
    fs::write(&p, &head).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let o = limited(&["hash", s(&model)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("the header declares 600000 tensors, more than the 262144"),
        "{}",
        text(&o)
    );
}

#[test]
fn stuffed_bundle_is_bounded_in_lines_signatures_and_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir_all(&model).unwrap();
    fs::write(model.join("w.bin"), bytes(1000, 1)).unwrap();
    assert_eq!(ws(&["hash", s(&model)]).status.code(), Some(0));
    let k = key(tmp.path());
    // 2000 envelopes of 16 signatures each, all without a key id: each would be tried under
    // every trusted key.
    let sig = format!("{{\"keyid\":\"\",\"sig\":\"{}\"}}", "A".repeat(86) + "==");
    let sigs: Vec<String> = (0..16)
        .map(|i| sig.replacen('A', &((b'A' + i as u8) as char).to_string(), 1))
        .collect();
    let line = format!(
        "{{\"payload\":\"e30=\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{}]}}\n",
        sigs.join(",")
    );
    fs::write(model.join("weightseal.intoto.jsonl"), line.repeat(2000)).unwrap();
    let t = Instant::now();
    let o = limited(&["verify", s(&model), "--key", s(&k)]);
    assert!(t.elapsed() < Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("attestation 1: FAILED (untrusted"), "{out}");
    assert!(out.contains("(too-many-trials: "), "{out}");
    assert!(
        out.contains("attestation 1025: FAILED (too-many-lines: "),
        "{out}"
    );
    assert!(!out.contains("attestation 1026:"), "{out}");
}

/// Big files are hashed from memory maps. A file truncated after it was opened (by whoever
/// else can write to it) must end in an error naming the change, not in SIGBUS: each window is
/// mapped only after checking that the file still covers it.
#[test]
fn a_big_file_truncated_after_opening_is_an_error_not_a_crash() {
    use std::io::Write as _;
    use weightseal::progress::NoProgress;
    use weightseal::tree::{hash_file, ChunkSize};
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("w.bin");
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(&bytes(40 << 20, 3)).unwrap();
    let reader = fs::File::open(&p).unwrap();
    let size = reader.metadata().unwrap().len();
    // Truncated between the open (and its size) and the hash.
    f.set_len(5 << 20).unwrap();
    let err = hash_file(&reader, size, ChunkSize::default(), &NoProgress).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    assert!(
        err.to_string().contains("it changed during the read"),
        "{err}"
    );
}

/// Finding 7: truncating a big file while its windows are hashed from maps killed the process
/// with SIGBUS (and, from Python, the interpreter). Another thread truncates it the moment the
/// first window is done, while the others are being hashed: every run ends in an error naming
/// the truncation, and the process lives on.
#[test]
fn truncating_a_file_while_it_is_hashed_from_maps_is_an_error_not_sigbus() {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use weightseal::tree::{hash_file, ChunkSize};
    struct TruncateOnce<'a> {
        file: &'a fs::File,
        done: AtomicBool,
    }
    impl weightseal::progress::Progress for TruncateOnce<'_> {
        fn advance(&self, _bytes: u64) {
            if !self.done.swap(true, Ordering::SeqCst) {
                self.file.set_len(4096).unwrap();
            }
        }
    }
    let d = tempfile::tempdir().unwrap();
    let data = bytes(96 << 20, 7);
    for round in 0..4 {
        let p = d.path().join(format!("w{round}.bin"));
        let mut f = fs::File::create(&p).unwrap();
        f.write_all(&data).unwrap();
        let reader = fs::File::open(&p).unwrap();
        let progress = TruncateOnce {
            file: &f,
            done: AtomicBool::new(false),
        };
        let err = hash_file(&reader, data.len() as u64, ChunkSize::default(), &progress)
            .expect_err("a truncated file never hashes");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    }
}

/// Makes a named pipe at `p`.
fn fifo(p: &Path) {
    let _ = fs::remove_file(p);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        p,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}

/// Runs weightseal under `timeout 20` (with `env`), asserting it did not wait.
fn within_seconds(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let start = Instant::now();
    let mut c = Command::new("timeout");
    c.args(["20", env!("CARGO_BIN_EXE_weightseal")]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{args:?}: it waited"
    );
    o
}

/// A small hashed model directory named org/m.
fn hashed_model() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("w.bin"), bytes(1000, 3)).unwrap();
    let o = ws(&["hash", s(d.path()), "--name", "org/m"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    d
}

/// A named pipe planted at an evidence name (the manifest, the attestations, the log proof)
/// is refused at once, never waited on: before, `verify` blocked forever on the open.
#[test]
fn a_named_pipe_at_an_evidence_name_is_refused_without_blocking() {
    for name in [
        "weightseal.manifest",
        "weightseal.intoto.jsonl",
        "weightseal.tlog-proof",
    ] {
        let d = hashed_model();
        fifo(&d.path().join(name));
        let o = within_seconds(
            &[
                "verify",
                s(d.path()),
                "--integrity-only",
                "--log-key",
                LOG_VKEY,
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("not a regular file (a named pipe, socket or device)")
                && text(&o).contains(name),
            "{name}: {}",
            text(&o)
        );
    }
}

/// The same for the files the user names: a key, a policy, the trust store.
#[test]
fn a_named_pipe_given_as_a_key_policy_or_trust_store_is_refused_without_blocking() {
    let d = hashed_model();
    let pipe = d.path().join("pipe");
    fifo(&pipe);
    for (args, env) in [
        (vec!["verify", s(d.path()), "--key", s(&pipe)], vec![]),
        (vec!["verify", s(d.path()), "--policy", s(&pipe)], vec![]),
        (
            vec!["verify", s(d.path())],
            vec![("WEIGHTSEAL_TRUST", pipe.as_path())],
        ),
    ] {
        let o = within_seconds(&args, &env);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("not a regular file (a named pipe, socket or device)"),
            "{args:?}: {}",
            text(&o)
        );
    }
}

/// A log verifier key (any will do: the proof is never reached).
const LOG_VKEY: &str = "example.test/log+b9e8857c+AegYX1YphEN9eQJlv1lkFaKltz0e3zf4zDj83wXChm+l";
