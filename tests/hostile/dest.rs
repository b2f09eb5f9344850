//! A destination directory someone else can write to (a shared model cache, a git clone that
//! carries symlinks): nothing outside it is written, no link is followed or left at a final
//! path, no special file is opened, and what is renamed into place is what was verified.

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::fixture::{fetch, fixture, s, Fixture};
use crate::common::ws;
use crate::{assert_no_secret_in, text, Sentinel};

fn verify_dest(f: &Fixture) -> i32 {
    ws(&["verify", s(&f.dest), "--key", s(&f.key_pub)])
        .status
        .code()
        .unwrap()
}

#[test]
fn symlinked_partial_dir_is_refused() {
    let (f, sentinel) = (fixture(), Sentinel::new());
    fs::create_dir_all(&f.dest).unwrap();
    symlink(&sentinel.dir, f.dest.join(".weightseal-partial")).unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(".weightseal-partial: is a symbolic link"),
        "{}",
        text(&o)
    );
    sentinel.assert_untouched();
    assert!(!f.dest.join("big.bin").exists());
}

#[test]
fn symlinked_parent_directory_is_refused() {
    let (f, sentinel) = (fixture(), Sentinel::new());
    fs::create_dir_all(&f.dest).unwrap();
    symlink(sentinel.path("sub"), f.dest.join("sub")).unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("sub/with space.bin: FAILED (") && out.contains("/sub: is a symbolic link"),
        "{out}"
    );
    sentinel.assert_untouched();
    // The link is still there, untouched; the other files verified and landed.
    assert!(fs::symlink_metadata(f.dest.join("sub"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read(f.dest.join("big.bin")).unwrap(),
        fs::read(f.model.join("big.bin")).unwrap()
    );
    assert_no_secret_in(&f.dest.join(".weightseal-partial"));
}

#[test]
fn symlink_in_the_partial_dir_is_not_written_through() {
    let (f, sentinel) = (fixture(), Sentinel::new());
    fs::create_dir_all(f.dest.join(".weightseal-partial")).unwrap();
    symlink(
        sentinel.path("victim"),
        f.dest.join(".weightseal-partial/big.bin"),
    )
    .unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(".weightseal-partial/big.bin: is a symbolic link"),
        "{}",
        text(&o)
    );
    sentinel.assert_untouched();
    assert!(!f.dest.join("big.bin").exists());
}

#[test]
fn symlink_at_a_final_path_is_refused_and_not_replaced() {
    let (f, sentinel) = (fixture(), Sentinel::new());
    fs::create_dir_all(&f.dest).unwrap();
    symlink(sentinel.path("big.bin"), f.dest.join("big.bin")).unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("big.bin: FAILED (") && text(&o).contains("is a symbolic link"),
        "{}",
        text(&o)
    );
    sentinel.assert_untouched();
    assert!(fs::symlink_metadata(f.dest.join("big.bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_ne!(verify_dest(&f), 0);
}

#[test]
fn symlinked_manifest_name_in_dest_is_not_followed() {
    let (f, sentinel) = (fixture(), Sentinel::new());
    fs::create_dir_all(&f.dest).unwrap();
    symlink(sentinel.path("victim"), f.dest.join("weightseal.manifest")).unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("weightseal.manifest: is a symbolic link"),
        "{}",
        text(&o)
    );
    sentinel.assert_untouched();
}

#[test]
fn fifo_at_a_final_path_fails_fast_instead_of_hanging() {
    let f = fixture();
    fs::create_dir_all(&f.dest).unwrap();
    let st = Command::new("mkfifo")
        .arg(f.dest.join("small.bin"))
        .status()
        .unwrap();
    assert!(st.success());
    let t = Instant::now();
    let o = fetch(&f, &[]);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("small.bin: FAILED (") && text(&o).contains("is a named pipe"),
        "{}",
        text(&o)
    );
}

#[test]
fn partial_file_changed_during_the_run_never_lands() {
    let f = fixture();
    // A previous run left every chunk of big.bin but the last one.
    let partial = f.dest.join(".weightseal-partial/big.bin");
    fs::create_dir_all(partial.parent().unwrap()).unwrap();
    let good = fs::read(f.model.join("big.bin")).unwrap();
    fs::write(&partial, &good[..16384 * 18]).unwrap();
    // Slow responses: the resumed chunks are accepted, then changed on disk while the last
    // chunk downloads.
    f.server.delay(Duration::from_millis(1500));
    let child = Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args([
            "fetch",
            &f.server.base,
            s(&f.dest),
            "--key",
            s(&f.key_pub),
            "--jobs",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while f.server.requests("big.bin") == 0 {
        assert!(t.elapsed() < Duration::from_secs(60), "no request came");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The resume check is done (the first missing chunk was requested): flip a kept byte.
    let mut bytes = fs::read(&partial).unwrap();
    bytes[5] ^= 0xff;
    fs::write(&partial, &bytes).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("big.bin: changed on disk after its chunks verified"),
        "{}",
        text(&o)
    );
    assert!(!f.dest.join("big.bin").exists(), "unverified bytes landed");
}

#[test]
fn extra_files_fail_the_fetch_as_verify_would() {
    let f = fixture();
    fs::create_dir_all(&f.dest).unwrap();
    fs::write(f.dest.join("stray.py"), b"import os; os.system('...')").unwrap();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("stray.py: FAILED (extra: not in the manifest)"),
        "{}",
        text(&o)
    );
    // The refused fetch wrote no manifest beside the files: verify cannot accept DEST.
    assert_eq!(verify_dest(&f), 2, "verify refuses DEST too");
    assert!(!f.dest.join("weightseal.manifest").exists());
    let o = fetch(&f, &["--allow-extra"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws(&[
        "verify",
        s(&f.dest),
        "--allow-extra",
        "--key",
        s(&f.key_pub),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn refetch_over_a_damaged_copy_downloads_only_bad_chunks() {
    let f = fixture();
    assert_eq!(fetch(&f, &[]).status.code(), Some(0));
    // Damage one chunk of big.bin in place.
    let mut b = fs::read(f.dest.join("big.bin")).unwrap();
    b[16384 * 7 + 3] ^= 1;
    fs::write(f.dest.join("big.bin"), &b).unwrap();
    f.server.reset_counts();
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(f.server.sent("big.bin"), 16384, "only the damaged chunk");
    let weights: u64 = [
        "small.bin",
        "config.json",
        "empty.txt",
        "sub/with space.bin",
    ]
    .iter()
    .map(|p| f.server.sent(p))
    .sum();
    assert_eq!(weights, 0, "nothing else downloaded");
    assert_eq!(verify_dest(&f), 0);
}

#[test]
fn descriptors_stay_bounded_by_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    fs::create_dir_all(&model).unwrap();
    for i in 0..300 {
        fs::write(
            model.join(format!("f{i:03}.bin")),
            crate::common::fixture::bytes(20_000, i),
        )
        .unwrap();
    }
    assert_eq!(
        ws(&["hash", s(&model), "--chunk-size", "16K"])
            .status
            .code(),
        Some(0)
    );
    let server = crate::common::server::Server::start(model.clone());
    let dest = tmp.path().join("dest");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec '{}' fetch '{}' '{}' --allow-unsigned --jobs 8",
            env!("CARGO_BIN_EXE_weightseal"),
            server.base,
            dest.display()
        ))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        fs::read_dir(&dest).unwrap().count(),
        301,
        "300 files + manifest"
    );
}

#[test]
fn partial_dir_owned_by_another_user_is_refused() {
    let f = fixture();
    let scratch = f.dest.join(".weightseal-partial");
    fs::create_dir_all(&scratch).unwrap();
    if std::os::unix::fs::chown(&scratch, Some(12345), None).is_err() {
        // Only root can give a directory away; as another user the attack needs a second
        // account, which a test cannot make.
        eprintln!("SKIPPED partial_dir_owned_by_another_user_is_refused: chown needs root");
        assert_ne!(rustix_euid(), 0, "root must be able to chown");
        return;
    }
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(".weightseal-partial: owned by uid 12345, not by this user"),
        "{}",
        text(&o)
    );
    assert!(!f.dest.join("big.bin").exists());
}

#[test]
fn world_writable_partial_dir_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let scratch = f.dest.join(".weightseal-partial");
    fs::create_dir_all(&scratch).unwrap();
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o777)).unwrap();
    // A failing file keeps the scratch directory, so its mode can be read afterwards.
    f.server
        .fault("big.bin", crate::common::server::Fault::Status(404), 1000);
    let o = fetch(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let mode = fs::metadata(&scratch).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // Files land with ordinary permissions (not the scratch directory's).
    let m = fs::metadata(f.dest.join("small.bin"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(m, 0o644 & !umask(), "0644 less the umask");
}

fn rustix_euid() -> u32 {
    let o = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

fn umask() -> u32 {
    let o = Command::new("sh").arg("-c").arg("umask").output().unwrap();
    u32::from_str_radix(String::from_utf8_lossy(&o.stdout).trim(), 8).unwrap()
}

/// Single-file models: the manifest and bundle written beside a model file are published
/// paths too. A link planted at `FILE.weightseal.manifest` is refused, not written through.
#[test]
fn a_link_planted_at_a_single_file_manifest_is_not_written_through() {
    let sentinel = Sentinel::new();
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("model.gguf");
    fs::write(&model, vec![3u8; 70_000]).unwrap();
    symlink(
        sentinel.dir.join("victim"),
        d.path().join("model.gguf.weightseal.manifest"),
    )
    .unwrap();
    let o = ws(&["hash", s(&model)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("symbolic link"), "{}", text(&o));
    // The bundle too: signing writes the manifest, then refuses the planted bundle link.
    fs::remove_file(d.path().join("model.gguf.weightseal.manifest")).unwrap();
    symlink(
        sentinel.dir.join("victim"),
        d.path().join("model.gguf.weightseal.intoto.jsonl"),
    )
    .unwrap();
    let key = d.path().join("k");
    assert_eq!(ws(&["keygen", "--out", s(&key)]).status.code(), Some(0));
    let o = ws(&["sign", s(&model), "--key", s(&key)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("symbolic link"), "{}", text(&o));
    sentinel.assert_untouched();
}

/// A single-file model given as a link is refused like a link in a directory: nothing outside
/// is hashed or verified under the model's name.
#[test]
fn a_single_file_model_that_is_a_link_is_refused() {
    let sentinel = Sentinel::new();
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("model.safetensors");
    symlink(sentinel.dir.join("big.bin"), &model).unwrap();
    let o = ws(&["hash", s(&model)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("model.safetensors: is a symbolic link"),
        "{}",
        text(&o)
    );
    assert!(!d
        .path()
        .join("model.safetensors.weightseal.manifest")
        .exists());
    // Hashed as a real file, then swapped for a link: verify refuses to follow it.
    fs::remove_file(&model).unwrap();
    fs::write(&model, vec![1u8; 5000]).unwrap();
    assert_eq!(ws(&["hash", s(&model)]).status.code(), Some(0));
    fs::remove_file(&model).unwrap();
    symlink(sentinel.dir.join("big.bin"), &model).unwrap();
    let o = ws(&["verify", s(&model)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("model.safetensors: FAILED (unreadable"),
        "{}",
        text(&o)
    );
    sentinel.assert_untouched();
}

/// A single-file model fetched into a directory someone else can write to: a link planted at
/// `FILE.weightseal.manifest` (the name `verify DEST/FILE` reads) is refused, not followed, and
/// nothing outside DEST changes; a served manifest for `FILE` that lists another file too is
/// refused before any weight byte is requested.
#[test]
fn a_single_file_fetch_follows_no_link_at_its_evidence_names_and_lands_only_its_file() {
    let sentinel = Sentinel::new();
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    fs::create_dir_all(&served).unwrap();
    let gguf = served.join("model.gguf");
    fs::copy(crate::common::fixtures().join("gguf/model-q.gguf"), &gguf).unwrap();
    let key = tmp.path().join("k");
    assert_eq!(ws(&["keygen", "--out", s(&key)]).status.code(), Some(0));
    let o = ws(&["sign", s(&gguf), "--key", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let server = crate::common::server::Server::start(served.clone());
    let url = format!("{}/model.gguf", server.base);
    let public = tmp.path().join("k.pub");
    let dest = tmp.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    symlink(
        sentinel.path("victim"),
        dest.join("model.gguf.weightseal.manifest"),
    )
    .unwrap();
    let o = ws(&["fetch", &url, s(&dest), "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("model.gguf.weightseal.manifest: is a symbolic link"),
        "{}",
        text(&o)
    );
    sentinel.assert_untouched();
    // A manifest for model.gguf that also lists a file the attacker wants in DEST.
    let other = tmp.path().join("other");
    fs::create_dir_all(&other).unwrap();
    fs::copy(&gguf, other.join("model.gguf")).unwrap();
    fs::write(other.join("run.sh"), b"#!/bin/sh\n").unwrap();
    fs::write(served.join("run.sh"), b"#!/bin/sh\n").unwrap();
    let o = ws(&["sign", s(&other), "--key", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (from, to) in [
        ("weightseal.manifest", "model.gguf.weightseal.manifest"),
        (
            "weightseal.intoto.jsonl",
            "model.gguf.weightseal.intoto.jsonl",
        ),
    ] {
        fs::copy(other.join(from), served.join(to)).unwrap();
    }
    server.reset_counts();
    let dest2 = tmp.path().join("dest2");
    let o = ws(&["fetch", &url, s(&dest2), "--key", s(&public)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(
            "whose manifest must list exactly that file; it lists 2 file(s): model.gguf, run.sh"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(
        server.requests("/model.gguf") + server.requests("/run.sh"),
        0
    );
    assert!(!dest2.join("run.sh").exists());
    sentinel.assert_untouched();
}
