//! The Hugging Face cache, offline: a cache written by huggingface_hub's own helpers (its
//! blob-and-symlink layout, refs and snapshots), checked blob by blob (`hf check`, cross-checked
//! with huggingface_hub's `scan_cache_dir`) and verified snapshot by snapshot (`verify --hf`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{python, stderr, stdout};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// Writes `files` (path, content) as huggingface_hub stores a snapshot of ORG/NAME at commit
/// C: blobs named by SHA-256 (big files, as LFS) or git SHA-1 (small files), relative symlinks
/// from snapshots/C/PATH made by `_create_symlink`, refs/main by
/// `_cache_commit_hash_for_specific_revision`. Then lists the cache with `scan_cache_dir`.
const MAKE_CACHE: &str = r#"
import hashlib, json, os, sys
from huggingface_hub import file_download as fd, scan_cache_dir
from huggingface_hub.constants import REPO_TYPE_MODEL
from huggingface_hub.file_download import repo_folder_name
cache, repo_id, commit, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
storage = os.path.join(cache, repo_folder_name(repo_id=repo_id, repo_type=REPO_TYPE_MODEL))
os.makedirs(os.path.join(storage, "blobs"), exist_ok=True)
for path, content in spec.items():
    data = bytes.fromhex(content)
    if len(data) >= 1000:
        name = hashlib.sha256(data).hexdigest()
    else:
        name = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    blob = os.path.join(storage, "blobs", name)
    with open(blob, "wb") as f:
        f.write(data)
    dst = os.path.join(storage, "snapshots", commit, path)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    fd._create_symlink(blob, dst, new_blob=True)
fd._cache_commit_hash_for_specific_revision(storage, "main", commit)
info = scan_cache_dir(cache)
print(json.dumps({r.repo_id: sorted(f.file_name for rev in r.revisions for f in rev.files) for r in info.repos}))
"#;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

struct Cache {
    _tmp: tempfile::TempDir,
    cache: PathBuf,
    listing: serde_json::Value,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn make_cache(py: &Path) -> Cache {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    let weights: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let spec = serde_json::json!({
        "model.bin": hex(&weights),
        "config.json": hex(b"{\"hidden\": 64}\n"),
        "sub/tokenizer.txt": hex(b"a b c\n"),
    });
    let o = Command::new(py)
        .args([
            "-c",
            MAKE_CACHE,
            s(&cache),
            "org/tiny",
            COMMIT,
            &spec.to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let listing: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    Cache {
        _tmp: tmp,
        cache,
        listing,
    }
}

fn ws_hf(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args(args)
        .env("HF_HUB_CACHE", cache)
        .env(
            "WEIGHTSEAL_TRUST",
            "/nonexistent/weightseal-tests/trust.toml",
        )
        .output()
        .unwrap()
}

fn repo(c: &Cache) -> PathBuf {
    c.cache.join("models--org--tiny")
}

#[test]
fn hf_check_passes_a_cache_written_by_huggingface_hub_and_agrees_with_its_listing() {
    let Some(py) = python("hf_check_passes_a_cache_written_by_huggingface_hub") else {
        return;
    };
    let c = make_cache(&py);
    let o = ws_hf(&c.cache, &["hf", "check", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["repos"], serde_json::json!(["org/tiny"]));
    // Every file huggingface_hub lists is used by exactly one checked blob.
    let mut ours: Vec<String> = j["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["used_by"].as_array().unwrap().clone())
        .map(|u| u.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    ours.sort();
    assert_eq!(
        serde_json::json!(ours),
        c.listing["org/tiny"],
        "{}",
        text(&o)
    );
    assert!(j["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["status"] == "ok"));
}

#[test]
fn hf_check_names_corrupt_and_truncated_blobs_and_bad_links() {
    let Some(py) = python("hf_check_names_corrupt_and_truncated_blobs_and_bad_links") else {
        return;
    };
    let c = make_cache(&py);
    let blobs = repo(&c).join("blobs");
    let mut names: Vec<(String, u64)> = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.1));
    let (big, _) = names[0].clone();
    // Truncate the LFS blob (the model weights).
    let f = fs::OpenOptions::new()
        .write(true)
        .open(blobs.join(&big))
        .unwrap();
    f.set_len(1000).unwrap();
    drop(f);
    let o = ws_hf(&c.cache, &["hf", "check", "org/tiny"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains(&format!(
            "org/tiny blobs/{big}: FAILED (corrupt or truncated: its 1000 bytes have SHA-256 "
        )) && stdout(&o).contains(", not the hash it is named by")
            && stdout(&o).contains(&format!("used by snapshots/{COMMIT}/model.bin")),
        "{}",
        text(&o)
    );
    // A dangling link and a link out of the repository.
    let snap = repo(&c).join("snapshots").join(COMMIT);
    std::os::unix::fs::symlink(
        "../../blobs/0000000000000000000000000000000000000000",
        snap.join("gone.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/hostname", snap.join("foreign.txt")).unwrap();
    let o = ws_hf(&c.cache, &["hf", "check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "org/tiny snapshots/{COMMIT}/gone.txt: FAILED (dangling symbolic link"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("org/tiny snapshots/{COMMIT}/foreign.txt: FAILED (foreign symbolic link to /etc/hostname)")), "{out}");
}

#[test]
fn verify_hf_checks_a_snapshot_against_its_manifest_and_refuses_foreign_links() {
    let Some(py) = python("verify_hf_checks_a_snapshot_against_its_manifest") else {
        return;
    };
    let c = make_cache(&py);
    let snap = repo(&c).join("snapshots").join(COMMIT);
    // The publisher's manifest of the same files, given beside the cache.
    let manifest = c.cache.parent().unwrap().join("tiny.manifest");
    let o = ws_hf(
        &c.cache,
        &[
            "hash",
            s(&snap),
            "--follow-symlinks",
            "--name",
            "org/tiny",
            "-o",
            s(&manifest),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws_hf(
        &c.cache,
        &[
            "verify",
            "--hf",
            "org/tiny",
            "--manifest",
            s(&manifest),
            "--integrity-only",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("model.bin: OK"), "{}", text(&o));
    let o = ws_hf(
        &c.cache,
        &[
            "verify",
            "--hf",
            &format!("org/tiny@{COMMIT}"),
            "--manifest",
            s(&manifest),
            "--integrity-only",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A blob changed in the cache.
    let target = fs::canonicalize(snap.join("config.json")).unwrap();
    fs::write(&target, b"{\"hidden\": 65}\n").unwrap();
    let o = ws_hf(
        &c.cache,
        &["verify", "--hf", "org/tiny", "--manifest", s(&manifest)],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("config.json: FAILED (modified"),
        "{}",
        text(&o)
    );
    // A snapshot link that leaves the repository's blobs is refused before anything is read.
    fs::remove_file(snap.join("config.json")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", snap.join("config.json")).unwrap();
    let o = ws_hf(
        &c.cache,
        &["verify", "--hf", "org/tiny", "--manifest", s(&manifest)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(
            "a symbolic link to /etc/hostname, outside this repository's blobs/ directory: refused"
        ),
        "{}",
        text(&o)
    );
    // An unknown revision names the known ones.
    let o = ws_hf(
        &c.cache,
        &["verify", "--hf", "org/tiny@v9", "--manifest", s(&manifest)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no snapshot for revision \"v9\" (known: main"),
        "{}",
        text(&o)
    );
}

/// A sharded model as transformers saves one (three shards written by the safetensors crate,
/// their index, tokenizer files), hashed and signed by its publisher, then cached by
/// huggingface_hub's own helpers with the manifest and attestations beside the weights.
#[test]
fn a_sharded_snapshot_verifies_through_its_links_index_included() {
    let Some(py) = python("a_sharded_snapshot_verifies_through_its_links_index_included") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let release = tmp.path().join("release");
    fs::create_dir_all(&release).unwrap();
    let mut weight_map = serde_json::Map::new();
    for shard in 1..=3u8 {
        let file = format!("model-{shard:05}-of-00003.safetensors");
        let data: Vec<Vec<u8>> = (0..2).map(|t| vec![shard * 10 + t; 4096]).collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = data
            .iter()
            .enumerate()
            .map(|(t, d)| {
                let name = format!("model.layers.{}.weight", 2 * (shard as usize - 1) + t);
                weight_map.insert(name.clone(), serde_json::json!(file));
                let v =
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![32, 32], d)
                        .unwrap();
                (name, v)
            })
            .collect();
        fs::write(
            release.join(&file),
            safetensors::serialize(views, None).unwrap(),
        )
        .unwrap();
    }
    let index = serde_json::json!({"metadata": {"total_size": 6 * 4096}, "weight_map": weight_map});
    fs::write(
        release.join("model.safetensors.index.json"),
        serde_json::to_vec_pretty(&index).unwrap(),
    )
    .unwrap();
    fs::write(release.join("tokenizer.json"), b"{\"model\": {}}\n").unwrap();
    fs::write(release.join("tokenizer_config.json"), b"{}\n").unwrap();
    let key = tmp.path().join("acme");
    let ws = |args: &[&str]| ws_hf(&tmp.path().join("unused"), args);
    assert_eq!(ws(&["keygen", "--out", s(&key)]).status.code(), Some(0));
    let o = ws(&["hash", s(&release), "--name", "org/sharded"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws(&["sign", s(&release), "--key", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut spec = serde_json::Map::new();
    for e in fs::read_dir(&release).unwrap() {
        let e = e.unwrap();
        spec.insert(
            e.file_name().to_string_lossy().into_owned(),
            serde_json::json!(hex(&fs::read(e.path()).unwrap())),
        );
    }
    let cache = tmp.path().join("hub");
    let o = Command::new(&py)
        .args([
            "-c",
            MAKE_CACHE,
            s(&cache),
            "org/sharded",
            COMMIT,
            &serde_json::Value::Object(spec).to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let pubkey = tmp.path().join("acme.pub");
    // By name, by snapshot path, and with the publisher's manifest given separately.
    let o = ws_hf(
        &cache,
        &["verify", "--hf", "org/sharded", "--key", s(&pubkey)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("model.safetensors.index.json: OK"),
        "{}",
        text(&o)
    );
    let snap = cache.join("models--org--sharded/snapshots").join(COMMIT);
    let o = ws_hf(
        &cache,
        &["verify", s(&snap), "--follow-symlinks", "--key", s(&pubkey)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ws_hf(
        &cache,
        &[
            "verify",
            "--hf",
            "org/sharded",
            "--manifest",
            s(&release.join("weightseal.manifest")),
            "--attestations",
            s(&release.join("weightseal.intoto.jsonl")),
            "--key",
            s(&pubkey),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A corrupted shard blob is named, with its tensor.
    let blob = fs::canonicalize(snap.join("model-00002-of-00003.safetensors")).unwrap();
    let mut b = fs::read(&blob).unwrap();
    let n = b.len();
    b[n - 10] ^= 1;
    fs::write(&blob, b).unwrap();
    let o = ws_hf(
        &cache,
        &["verify", "--hf", "org/sharded", "--key", s(&pubkey)],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("model-00002-of-00003.safetensors: FAILED")
            && stdout(&o).contains("model.layers.3.weight"),
        "{}",
        text(&o)
    );
}
