//! `weightseal hash DIR --update` and `sign` with a stat record (issue 25, item 3): which files
//! are re-hashed after each kind of change, on real files.

mod common;

use std::fs::{File, FileTimes};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use weightseal::attest::{time::Timestamp, Claims, PrivateKey};
use weightseal::manifest::update::{build_update, record_path, FullReason, Stat, Updated};
use weightseal::manifest::{build, BuildOptions, Sha256};
use weightseal::progress::NoProgress;
use weightseal::publish::{publish, PublishError, PublishOptions};

const MANIFEST: &str = "weightseal.manifest";

/// A model directory (inside a parent that also holds the cache, so renames stay on one
/// file system) whose files are old enough to be past the racy window.
struct Model {
    _root: tempfile::TempDir,
    dir: PathBuf,
    cache: PathBuf,
}

fn model() -> Model {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("model-00001.bin"),
        common::fixture::bytes(300_000, 1),
    )
    .unwrap();
    std::fs::write(
        dir.join("model-00002.bin"),
        common::fixture::bytes(200_000, 2),
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), br#"{"layers": 2}"#).unwrap();
    let cache = root.path().join("cache");
    past_racy_window();
    Model {
        _root: root,
        dir,
        cache,
    }
}

/// Waits until everything written so far is older than the whole second before now.
fn past_racy_window() {
    std::thread::sleep(Duration::from_millis(2100));
}

fn opts(m: &Model) -> BuildOptions {
    BuildOptions {
        exclude: vec![m.dir.join(MANIFEST)],
        ..BuildOptions::default()
    }
}

/// `hash --update` through the library: builds, writes the manifest, returns what happened.
fn update_with(m: &Model, o: &BuildOptions) -> Updated {
    let out = m.dir.join(MANIFEST);
    let u = build_update(&m.dir, o, &out, &m.cache, &NoProgress).unwrap();
    assert_eq!(u.record_error, None);
    std::fs::write(&out, u.built.manifest.encode()).unwrap();
    u
}

fn update(m: &Model) -> Updated {
    update_with(m, &opts(m))
}

/// The manifest a full `hash` gives now.
fn full(m: &Model) -> Vec<u8> {
    build(&m.dir, &opts(m), &NoProgress)
        .unwrap()
        .manifest
        .encode()
}

fn all() -> Vec<String> {
    vec![
        "config.json".to_string(),
        "model-00001.bin".to_string(),
        "model-00002.bin".to_string(),
    ]
}

/// A first update hashes everything and keeps a record; the files are then past the racy
/// window, so the next update can trust them.
fn recorded() -> Model {
    let m = model();
    let u = update(&m);
    assert_eq!(u.full, Some(FullReason::NoRecord));
    assert_eq!(u.hashed, all());
    assert!(u.reused.is_empty());
    m
}

#[test]
fn an_unchanged_release_is_not_reread_and_gives_the_full_hash_bytes() {
    let m = recorded();
    let u = update(&m);
    assert_eq!(u.full, None);
    assert!(u.hashed.is_empty(), "re-hashed: {:?}", u.hashed);
    assert_eq!(u.reused, all());
    let on_disk = std::fs::read(m.dir.join(MANIFEST)).unwrap();
    assert_eq!(on_disk, full(&m), "byte-identical to a full hash");
}

#[test]
fn changed_bytes_with_the_mtime_put_back_are_found_by_ctime() {
    let m = recorded();
    let p = m.dir.join("model-00002.bin");
    let before = std::fs::metadata(&p).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&p, &bytes).unwrap();
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_times(FileTimes::new().set_modified(before.modified().unwrap()))
        .unwrap();
    let after = std::fs::metadata(&p).unwrap();
    // Everything but ctime is as recorded.
    assert_eq!(
        (
            after.dev(),
            after.ino(),
            after.size(),
            after.mtime(),
            after.mtime_nsec()
        ),
        (
            before.dev(),
            before.ino(),
            before.size(),
            before.mtime(),
            before.mtime_nsec()
        )
    );
    assert_ne!(
        (after.ctime(), after.ctime_nsec()),
        (before.ctime(), before.ctime_nsec())
    );
    let u = update(&m);
    assert_eq!(u.hashed, vec!["model-00002.bin".to_string()]);
    assert_eq!(u.reused.len(), 2);
    assert_eq!(std::fs::read(m.dir.join(MANIFEST)).unwrap(), full(&m));
}

#[test]
fn a_file_replaced_by_rename_with_the_same_size_and_mtime_is_found_by_inode() {
    let m = recorded();
    let p = m.dir.join("model-00001.bin");
    let before = std::fs::metadata(&p).unwrap();
    let other = m.dir.parent().unwrap().join("replacement");
    std::fs::write(&other, common::fixture::bytes(300_000, 99)).unwrap();
    File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_times(FileTimes::new().set_modified(before.modified().unwrap()))
        .unwrap();
    std::fs::rename(&other, &p).unwrap();
    let after = std::fs::metadata(&p).unwrap();
    assert_eq!(
        (after.size(), after.mtime(), after.mtime_nsec()),
        (before.size(), before.mtime(), before.mtime_nsec())
    );
    assert_ne!(after.ino(), before.ino());
    let u = update(&m);
    assert_eq!(u.hashed, vec!["model-00001.bin".to_string()]);
    assert_eq!(std::fs::read(m.dir.join(MANIFEST)).unwrap(), full(&m));
}

#[test]
fn files_written_in_the_same_second_as_the_record_are_hashed_again() {
    // Files written just before the record: their stat matches on the next update, but they
    // are racy (they could have changed again in the same tick) and are re-read.
    let root = tempfile::tempdir().unwrap();
    let m = Model {
        dir: root.path().join("model"),
        cache: root.path().join("cache"),
        _root: root,
    };
    std::fs::create_dir(&m.dir).unwrap();
    std::fs::write(m.dir.join("config.json"), b"{}").unwrap();
    update(&m);
    let u = update(&m);
    assert_eq!(u.full, None);
    assert_eq!(u.hashed, vec!["config.json".to_string()]);
    // Once they are past the window, they are trusted.
    past_racy_window();
    let u = update(&m);
    assert_eq!(
        u.hashed,
        vec!["config.json".to_string()],
        "still racy for the record just written"
    );
    past_racy_window();
    let u = update(&m);
    assert!(u.hashed.is_empty(), "{:?}", u.hashed);

    // An edit right after the record (same second), same size, mtime put back: re-hashed.
    let p = m.dir.join("config.json");
    let t = std::fs::metadata(&p).unwrap().modified().unwrap();
    std::fs::write(&p, b"[]").unwrap();
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_times(FileTimes::new().set_modified(t))
        .unwrap();
    let u = update(&m);
    assert_eq!(u.hashed, vec!["config.json".to_string()]);
    assert_eq!(std::fs::read(m.dir.join(MANIFEST)).unwrap(), full(&m));

    // The rule itself, on a file system with whole-second timestamps: a stat equal to the
    // record's but stamped in the record's second (or the one before) is not trusted.
    let s = |sec| Stat {
        dev: 1,
        ino: 2,
        size: 3,
        mtime: (sec, 0),
        ctime: (sec, 0),
    };
    assert!(!s(100).unchanged_since(&s(100), (100, 0)));
    assert!(!s(100).unchanged_since(&s(100), (100, 999_999_999)));
    assert!(!s(99).unchanged_since(&s(99), (100, 500_000_000)));
    assert!(s(98).unchanged_since(&s(98), (100, 0)));
    let mut moved = s(98);
    moved.ino = 7;
    assert!(!moved.unchanged_since(&s(98), (100, 0)));
}

#[test]
fn a_stale_manifest_or_a_record_from_another_directory_or_other_options_means_a_full_hash() {
    let m = recorded();
    // The manifest on disk is not the one the record describes.
    let other = BuildOptions {
        name: Some("renamed".into()),
        ..opts(&m)
    };
    let stale = build(&m.dir, &other, &NoProgress).unwrap().manifest;
    std::fs::write(m.dir.join(MANIFEST), stale.encode()).unwrap();
    let u = update(&m);
    assert_eq!(u.full, Some(FullReason::StaleManifest));
    assert_eq!(u.hashed, all());
    assert_eq!(std::fs::read(m.dir.join(MANIFEST)).unwrap(), full(&m));

    // Other build options.
    let u = update_with(
        &m,
        &BuildOptions {
            sha256: Sha256::Record,
            ..opts(&m)
        },
    );
    assert_eq!(u.full, Some(FullReason::OtherOptions));
    assert_eq!(u.hashed, all());

    // A record (and manifest) copied from another directory with the same files.
    let copy = Model {
        dir: m.dir.parent().unwrap().join("copy"),
        cache: m.cache.clone(),
        _root: tempfile::tempdir().unwrap(),
    };
    std::fs::create_dir(&copy.dir).unwrap();
    for f in all().iter().chain([&MANIFEST.to_string()]) {
        std::fs::copy(m.dir.join(f), copy.dir.join(f)).unwrap();
    }
    std::fs::copy(
        record_path(&m.dir, &m.cache).unwrap(),
        record_path(&copy.dir, &copy.cache).unwrap(),
    )
    .unwrap();
    let u = update_with(
        &copy,
        &BuildOptions {
            sha256: Sha256::Record,
            ..opts(&copy)
        },
    );
    assert_eq!(u.full, Some(FullReason::OtherDirectory));
    assert_eq!(u.hashed, all());
}

/// Runs the binary with the cache directory given only by `XDG_CACHE_HOME`.
fn ws_cached(xdg: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .args(args)
        .env_remove("WEIGHTSEAL_CACHE")
        .env("XDG_CACHE_HOME", xdg)
        .env(
            "WEIGHTSEAL_TRUST",
            "/nonexistent/weightseal-tests/trust.toml",
        )
        .output()
        .unwrap()
}

#[test]
fn the_cli_keeps_the_record_in_the_user_cache_never_in_the_model_and_says_what_it_reread() {
    let m = model();
    let xdg = m.cache.join("xdg");
    let d = m.dir.to_str().unwrap();
    let o = ws_cached(&xdg, &["hash", d, "--update"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("3 file(s) re-hashed, 0 unchanged"),
        "{}",
        common::stderr(&o)
    );
    let o = ws_cached(&xdg, &["hash", d, "--update"]);
    assert!(
        common::stderr(&o).contains("0 file(s) re-hashed, 3 unchanged"),
        "{}",
        common::stderr(&o)
    );
    // The record is in $XDG_CACHE_HOME/weightseal, and the model holds only its files and the
    // manifest.
    let records: Vec<_> = std::fs::read_dir(xdg.join("weightseal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        records,
        vec![record_path(&m.dir, &xdg.join("weightseal")).unwrap()]
    );
    let mut names: Vec<String> = std::fs::read_dir(&m.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want = all();
    want.push(MANIFEST.to_string());
    assert_eq!(names, want);
    assert_eq!(std::fs::read(m.dir.join(MANIFEST)).unwrap(), full(&m));

    // sign re-reads nothing of an unchanged release, and still signs.
    let key = m.cache.join("k");
    assert!(ws_cached(&xdg, &["keygen", "--out", key.to_str().unwrap()])
        .status
        .success());
    let o = ws_cached(
        &xdg,
        &["sign", d, "--key", key.to_str().unwrap(), "--signer", "t"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("0 file(s) re-hashed, 3 unchanged"),
        "{}",
        common::stderr(&o)
    );
}

fn claims() -> Claims {
    Claims {
        role: "publisher".into(),
        signer: "t".into(),
        issued_at: Timestamp::now(),
        expires_at: None,
        version: Some(1),
        derived_from: vec![],
        annotations: Default::default(),
    }
}

#[test]
fn sign_checks_with_the_record_and_still_finds_any_change() {
    let m = model();
    update_with(
        &m,
        &BuildOptions {
            sha256: Sha256::Record,
            ..opts(&m)
        },
    );
    let key = PrivateKey::from_seed(&[3; 32]);
    let po = PublishOptions {
        stat_cache: Some(m.cache.clone()),
        format: weightseal::publish::Format::Both,
        oms_signature: m.dir.parent().unwrap().join("model.sig"),
        ..PublishOptions::for_dir(&m.dir)
    };
    let p = publish(&m.dir, &key, &claims(), &po, &NoProgress).unwrap();
    let c = p.stat_checked.unwrap();
    assert!(c.rehashed.is_empty(), "{:?}", c.rehashed);
    assert_eq!(c.unchanged, 3);
    assert_eq!(
        p.oms_files,
        Some(3),
        "SHA-256 values came from the manifest"
    );

    // Same size, mtime put back: sign refuses, as hash --update would re-hash it.
    let f = m.dir.join("config.json");
    let t = std::fs::metadata(&f).unwrap().modified().unwrap();
    std::fs::write(&f, br#"{"layers": 3}"#).unwrap();
    File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_times(FileTimes::new().set_modified(t))
        .unwrap();
    match publish(&m.dir, &key, &claims(), &po, &NoProgress) {
        Err(PublishError::Mismatch { paths, .. }) => assert_eq!(paths, vec!["config.json"]),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}
