//! Paths that mean more than they say: a nested `.git`, names that are one file on macOS or
//! Windows, and names that read backwards.

use std::fs;

use crate::common::fixture::{bytes, s};
use crate::common::server::Server;
use crate::common::ws;
use crate::{text, Sentinel};

/// Hashes a model with `files`, then rewrites one path inside the manifest bytes (same
/// length), so the served manifest lists a path no writer would emit.
fn patched_manifest(
    files: &[&str],
    from: &str,
    to: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    assert_eq!(from.len(), to.len());
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    for (i, f) in files.iter().enumerate() {
        let p = model.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes(100, i as u32)).unwrap();
    }
    let o = ws(&["hash", s(&model)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mp = model.join("weightseal.manifest");
    let b = fs::read(&mp).unwrap();
    let i = b
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap();
    let mut b2 = b.clone();
    b2[i..i + from.len()].copy_from_slice(to.as_bytes());
    fs::write(&mp, b2).unwrap();
    // The file itself sits at the patched path too, for the server to serve.
    let src = model.join(from);
    let dst = model.join(to);
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    fs::rename(src, dst).unwrap();
    (tmp, model)
}

fn fetch_unsigned(model: &std::path::Path, dest: &std::path::Path) -> std::process::Output {
    let server = Server::start(model.to_path_buf());
    ws(&["fetch", &server.base, s(dest), "--allow-unsigned"])
}

#[test]
fn manifest_with_a_nested_git_config_is_refused_before_any_download() {
    let (tmp, model) = patched_manifest(
        &["sub/xgit/config", "w.bin"],
        "sub/xgit/config",
        "sub/.git/config",
    );
    let dest = tmp.path().join("dest");
    let o = fetch_unsigned(&model, &dest);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("\"sub/.git/config\"") && text(&o).contains("reserved location '.git'"),
        "{}",
        text(&o)
    );
    assert!(!dest.join("sub").exists());
}

#[test]
fn manifest_with_an_uppercase_git_directory_is_refused() {
    let (tmp, model) = patched_manifest(&["XGIT/config", "w.bin"], "XGIT/config", ".GIT/config");
    let dest = tmp.path().join("dest");
    let o = fetch_unsigned(&model, &dest);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("reserved location '.GIT'"),
        "{}",
        text(&o)
    );
    assert!(!dest.join(".GIT").exists());
}

#[test]
fn manifest_with_paths_that_collide_on_macos_is_refused() {
    // 'b.bin' patched to 'A.bin' next to 'a.bin' (sorted: A.bin < a.bin needs the patch to
    // keep order, so use a file that sorts first).
    let (tmp, model) = patched_manifest(&["0.bin", "a.bin"], "0.bin", "A.bin");
    let _ = tmp;
    let o = ws(&["verify", s(&model)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("\"A.bin\" and \"a.bin\" are the same file on a case-insensitive"),
        "{}",
        text(&o)
    );
}

#[test]
fn hashing_refuses_names_that_collide_after_normalisation() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    fs::create_dir_all(&m).unwrap();
    fs::write(m.join("caf\u{e9}.bin"), b"1").unwrap();
    fs::write(m.join("cafe\u{301}.bin"), b"2").unwrap();
    let o = ws(&["hash", s(&m)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("are the same file on a case-insensitive or normalising file system"),
        "{}",
        text(&o)
    );
    assert!(!m.join("weightseal.manifest").exists());
}

#[test]
fn hashing_refuses_a_file_name_with_a_bidi_override() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    fs::create_dir_all(&m).unwrap();
    fs::write(m.join("model\u{202e}nib.exe"), b"1").unwrap();
    let o = ws(&["hash", s(&m)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("contains Unicode format character U+202E"),
        "{}",
        text(&o)
    );
    assert!(
        !text(&o).contains('\u{202e}'),
        "the name is escaped in the message"
    );
}

#[test]
fn nested_git_directories_are_never_hashed_or_fetched() {
    let sentinel = Sentinel::new();
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    fs::create_dir_all(m.join("sub/.git")).unwrap();
    fs::write(
        m.join("sub/.git/config"),
        b"[core]\n\tfsmonitor = touch /tmp/pwned\n",
    )
    .unwrap();
    fs::write(m.join("sub/w.bin"), b"w").unwrap();
    // Refused and named, never hashed and never silently passed over.
    let o = ws(&["hash", s(&m)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("sub/.git"), "{}", text(&o));
    assert!(!m.join("weightseal.manifest").exists());
    // The repository's own `.git`, at the root, is left out.
    fs::remove_dir_all(m.join("sub/.git")).unwrap();
    fs::create_dir_all(m.join(".git")).unwrap();
    fs::write(m.join(".git/config"), b"[core]\n").unwrap();
    let o = ws(&["hash", s(&m)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws(&["show", s(&m), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["sub/w.bin"]);
    sentinel.assert_untouched();
}

/// Names that lowercasing alone keeps apart but APFS and NTFS take for one file (`ſ` and `s`,
/// `ß` and `ss`): a served manifest listing both is refused before any download, and hashing a
/// directory holding both is refused, so two files never land as one.
#[test]
fn names_one_only_after_uppercasing_are_refused_before_any_download() {
    // 'zz' patched to 'ſ' (two bytes each; both sort after 's').
    let (tmp, model) = patched_manifest(
        &["model.safetensors", "model.zzafetensors"],
        "model.zzafetensors",
        "model.\u{17f}afetensors",
    );
    let dest = tmp.path().join("dest");
    let o = fetch_unsigned(&model, &dest);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("\"model.safetensors\" and \"model.\u{17f}afetensors\" are the same file on a case-insensitive"),
        "{}",
        text(&o)
    );
    assert!(!dest.join("model.safetensors").exists());
    let m = tmp.path().join("m");
    fs::create_dir_all(&m).unwrap();
    fs::write(m.join("Stra\u{df}e.bin"), b"1").unwrap();
    fs::write(m.join("strasse.bin"), b"2").unwrap();
    let o = ws(&["hash", s(&m)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("are the same file on a case-insensitive or normalising file system"),
        "{}",
        text(&o)
    );
    assert!(!m.join("weightseal.manifest").exists());
}
