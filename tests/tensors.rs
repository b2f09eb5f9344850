//! Tensor-aware manifests on real files: safetensors written by the official `safetensors`
//! crate, GGUF written by the official `gguf` Python package (committed fixtures, regenerated
//! and compared when the Python environment is present), and the CLI end to end.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{fixtures, python, stderr, stdout, ws};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use serde_json::Value;
use weightseal::formats::{self, gguf, Format};
use weightseal::manifest::{self, BuildOptions, Manifest, Tensors};
use weightseal::progress::NoProgress;
use weightseal::Digest;

/// Deterministic bytes.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

type Spec = (String, Dtype, Vec<usize>, Vec<u8>);

fn tensor(name: &str, dtype: Dtype, shape: &[usize], seed: u64) -> Spec {
    let n: usize = shape.iter().product();
    let len = (n * dtype.bitsize()).div_ceil(8);
    (name.to_string(), dtype, shape.to_vec(), bytes(len, seed))
}

/// Writes a safetensors file with the official writer.
fn write_st(path: &Path, tensors: &[Spec]) {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Every dtype the official crate knows, with a zero-size tensor.
fn every_dtype() -> Vec<Spec> {
    vec![
        tensor("bool", Dtype::BOOL, &[3, 5], 1),
        tensor("u8", Dtype::U8, &[7], 2),
        tensor("i8", Dtype::I8, &[2, 2], 3),
        tensor("f8_e5m2", Dtype::F8_E5M2, &[9], 4),
        tensor("f8_e4m3", Dtype::F8_E4M3, &[9], 5),
        tensor("f8_e8m0", Dtype::F8_E8M0, &[4], 6),
        tensor("i16", Dtype::I16, &[3], 7),
        tensor("u16", Dtype::U16, &[3], 8),
        tensor("f16", Dtype::F16, &[4, 4], 9),
        tensor("bf16", Dtype::BF16, &[4, 8], 10),
        tensor("i32", Dtype::I32, &[5], 11),
        tensor("u32", Dtype::U32, &[5], 12),
        tensor("f32", Dtype::F32, &[2, 3, 4], 13),
        tensor("f64", Dtype::F64, &[6], 14),
        tensor("i64", Dtype::I64, &[6], 15),
        tensor("u64", Dtype::U64, &[6], 16),
        tensor("f4", Dtype::F4, &[2, 8], 17),
        tensor("f6_e2m3", Dtype::F6_E2M3, &[4], 18),
        tensor("f6_e3m2", Dtype::F6_E3M2, &[8], 19),
        tensor("zero_size", Dtype::F32, &[0, 16], 20),
    ]
}

/// A sharded model (3 shards + index + config) whose tensors cross 16 KiB chunk boundaries.
fn sharded_model(dir: &Path) -> Vec<Vec<Spec>> {
    fs::create_dir_all(dir).unwrap();
    let shards: Vec<Vec<Spec>> = (0..3)
        .map(|s| {
            (0..4)
                .map(|l| {
                    let layer = s * 4 + l;
                    tensor(
                        &format!("model.layers.{layer}.mlp.weight"),
                        Dtype::BF16,
                        &[48, 100],
                        layer as u64 + 100,
                    )
                })
                .chain([tensor(
                    &format!("model.norm{s}.weight"),
                    Dtype::F32,
                    &[100],
                    s as u64 + 200,
                )])
                .collect()
        })
        .collect();
    let mut weight_map = BTreeMap::new();
    for (i, shard) in shards.iter().enumerate() {
        let file = format!("model-{:05}-of-00003.safetensors", i + 1);
        write_st(&dir.join(&file), shard);
        for t in shard {
            weight_map.insert(t.0.clone(), file.clone());
        }
    }
    let index = serde_json::json!({"metadata": {"total_size": 0}, "weight_map": weight_map});
    fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    fs::write(dir.join("config.json"), br#"{"model_type": "test"}"#).unwrap();
    shards
}

/// The same tensors in `n` shards with a matching index.
fn reshard(shards: &[Vec<Spec>], dir: &Path, n: usize) {
    fs::create_dir_all(dir).unwrap();
    let mut all: Vec<Spec> = shards.iter().flatten().cloned().collect();
    all.sort_by(|a, b| b.0.cmp(&a.0));
    let per = all.len().div_ceil(n);
    let mut weight_map = BTreeMap::new();
    for (i, part) in all.chunks(per).enumerate() {
        let file = format!("consolidated.{i:02}.safetensors");
        write_st(&dir.join(&file), part);
        for t in part {
            weight_map.insert(t.0.clone(), file.clone());
        }
    }
    let index = serde_json::json!({"weight_map": weight_map});
    fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    fs::write(dir.join("config.json"), br#"{"model_type": "test"}"#).unwrap();
}

fn hash_dir(dir: &Path) -> Manifest {
    let opts = BuildOptions {
        chunk_size: weightseal::ChunkSize::new(16384).unwrap(),
        name: Some("m".into()),
        ..Default::default()
    };
    let built = manifest::build(dir, &opts, &NoProgress).unwrap();
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    built.manifest
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn safetensors_every_dtype_digests_match_the_official_reader() {
    let d = tempfile::tempdir().unwrap();
    let specs = every_dtype();
    write_st(&d.path().join("all.safetensors"), &specs);
    let m = hash_dir(d.path());
    let file = &m.files()[0];
    let tf = file.tensors.as_ref().expect("tensors recorded");
    assert_eq!(tf.format, Format::Safetensors);
    assert_eq!(tf.tensors.len(), specs.len());
    let raw = fs::read(d.path().join("all.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    for t in &tf.tensors {
        let view = st.tensor(&t.name).unwrap();
        assert_eq!(
            t.digest,
            Digest::from(blake3::hash(view.data())),
            "{}",
            t.name
        );
        assert_eq!(
            t.shape,
            view.shape().iter().map(|&x| x as u64).collect::<Vec<_>>()
        );
        assert_eq!(t.dtype, format!("{:?}", view.dtype()));
        assert_eq!(&raw[t.start as usize..t.end as usize], view.data());
    }
    let header_len = 8 + u64::from_le_bytes(raw[..8].try_into().unwrap());
    assert_eq!(tf.header_len, header_len);
    assert_eq!(
        tf.header,
        Digest::from(blake3::hash(&raw[..header_len as usize]))
    );
    let zero = tf.tensors.iter().find(|t| t.name == "zero_size").unwrap();
    assert_eq!(
        (zero.end - zero.start, zero.digest),
        (0, Digest::from(blake3::hash(b"")))
    );
    // The manifest round-trips exactly.
    assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
}

#[test]
fn tensor_digests_do_not_change_the_tree() {
    let d = tempfile::tempdir().unwrap();
    sharded_model(d.path());
    let with = hash_dir(d.path());
    let opts = BuildOptions {
        chunk_size: weightseal::ChunkSize::new(16384).unwrap(),
        name: Some("m".into()),
        tensors: Tensors::Skip,
        ..Default::default()
    };
    let without = manifest::build(d.path(), &opts, &NoProgress)
        .unwrap()
        .manifest;
    assert!(without.tensor_digest().is_none());
    for (a, b) in with.files().iter().zip(without.files()) {
        assert_eq!(a.tree, b.tree, "{}", a.path);
        assert_eq!(
            a.tree.root,
            Digest::from(blake3::hash(
                &fs::read(d.path().join(a.path.as_str())).unwrap()
            ))
        );
    }
}

#[test]
fn flipped_byte_names_the_tensor() {
    let d = tempfile::tempdir().unwrap();
    sharded_model(d.path());
    let o = ws(&["hash", s(d.path()), "--chunk-size", "16K"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = Manifest::read_file(&d.path().join("weightseal.manifest")).unwrap();
    let f = m.file("model-00002-of-00003.safetensors").unwrap();
    let victim = f
        .tensors
        .as_ref()
        .unwrap()
        .tensors
        .iter()
        .find(|t| t.name == "model.layers.6.mlp.weight")
        .unwrap();
    let p = d.path().join("model-00002-of-00003.safetensors");
    let mut b = fs::read(&p).unwrap();
    b[victim.start as usize + 5000] ^= 1;
    fs::write(&p, &b).unwrap();
    let o = ws(&["verify", s(d.path())]);
    assert_eq!(o.status.code(), Some(1));
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("model-00002"))
        .unwrap()
        .to_string();
    let off = victim.start + 5000;
    let chunk = off / 16384 * 16384;
    assert_eq!(
        line,
        format!(
            "model-00002-of-00003.safetensors: FAILED (modified: somewhere in bytes {chunk}..{}, one 16.00 KiB chunk; 1 tensor changed: model.layers.6.mlp.weight)",
            chunk + 16384
        )
    );
    let o = ws(&["verify", s(d.path()), "--json"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model-00002-of-00003.safetensors")
        .unwrap();
    assert_eq!(
        f["tensors"]["changed"],
        serde_json::json!(["model.layers.6.mlp.weight"])
    );
    assert_eq!(f["tensors"]["header_changed"], false);
}

#[test]
fn header_change_is_reported_with_dtype_change() {
    let d = tempfile::tempdir().unwrap();
    let shards = sharded_model(d.path());
    hash_dir(d.path());
    let m = hash_dir(d.path());
    fs::write(d.path().join("weightseal.manifest"), m.encode()).unwrap();
    // Same bytes, one tensor relabelled F32 -> I32, written by the official writer.
    let mut s0 = shards[0].clone();
    let norm = s0.iter_mut().find(|t| t.0 == "model.norm0.weight").unwrap();
    norm.1 = Dtype::I32;
    write_st(&d.path().join("model-00001-of-00003.safetensors"), &s0);
    let o = ws(&["verify", s(d.path())]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("; header changed; 1 tensor with another dtype or shape: model.norm0.weight (F32 [100] -> I32 [100]))"),
        "{out}"
    );
}

#[test]
fn resharded_copy_passes_tensor_mode_only() {
    let d = tempfile::tempdir().unwrap();
    let orig = d.path().join("orig");
    let shards = sharded_model(&orig);
    let o = ws(&["hash", s(&orig), "--chunk-size", "16K"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let manifest = orig.join("weightseal.manifest");
    let copy = d.path().join("copy");
    reshard(&shards, &copy, 2);
    let o = ws(&[
        "verify",
        s(&copy),
        "--manifest",
        s(&manifest),
        "--tensors",
        "--integrity-only",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("consolidated.00.safetensors: OK (8 tensors)\n"),
        "{out}"
    );
    assert!(out.contains("config.json: OK\n"), "{out}");
    assert!(
        out.contains("; layout differs from the manifest's: 3 tensor file(s) there, 2 here)"),
        "{out}"
    );
    // Byte-for-byte verification fails: the files are different.
    let o = ws(&["verify", s(&copy), "--manifest", s(&manifest)]);
    assert_eq!(o.status.code(), Some(1));
    // The tensor-set digest is independent of the sharding.
    let a = Manifest::read_file(&manifest).unwrap();
    let b = hash_dir(&copy);
    assert_eq!(a.tensor_digest(), b.tensor_digest());
    assert_ne!(a.digest(), b.digest());
    // One changed tensor in the copy is named; a dropped one is missing.
    let mut all: Vec<Spec> = shards.iter().flatten().cloned().collect();
    all.iter_mut()
        .find(|t| t.0 == "model.layers.3.mlp.weight")
        .unwrap()
        .3[10] ^= 1;
    all.retain(|t| t.0 != "model.norm2.weight");
    let bad = d.path().join("bad");
    reshard(&[all], &bad, 1);
    let o = ws(&[
        "verify",
        s(&bad),
        "--manifest",
        s(&manifest),
        "--tensors",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        j["tensor_set"]["changed"],
        serde_json::json!(["model.layers.3.mlp.weight"])
    );
    assert_eq!(
        j["tensor_set"]["removed"],
        serde_json::json!(["model.norm2.weight"])
    );
    assert_eq!(j["ok"], false);
}

#[test]
fn index_that_disagrees_with_shards_fails() {
    let d = tempfile::tempdir().unwrap();
    sharded_model(d.path());
    let idx = d.path().join("model.safetensors.index.json");
    let mut j: Value = serde_json::from_slice(&fs::read(&idx).unwrap()).unwrap();
    j["weight_map"]["model.layers.0.mlp.weight"] = "model-00002-of-00003.safetensors".into();
    fs::write(&idx, serde_json::to_vec(&j).unwrap()).unwrap();
    let o = ws(&["hash", s(d.path()), "--chunk-size", "16K"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("weightseal: warning: model.safetensors.index.json: maps tensor \"model.layers.0.mlp.weight\" to model-00002-of-00003.safetensors, which does not hold it"),
        "{}",
        stderr(&o)
    );
    let o = ws(&["verify", s(d.path()), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = j["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["tensor-not-in-shard"]);
}

#[test]
fn broken_tensor_file_is_hashed_plain_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    write_st(
        &d.path().join("ok.safetensors"),
        &[tensor("a", Dtype::F32, &[4], 1)],
    );
    // N past the end of the file.
    let mut bad = 1000u64.to_le_bytes().to_vec();
    bad.extend_from_slice(b"{}");
    fs::write(d.path().join("bad.safetensors"), &bad).unwrap();
    let o = ws(&["hash", s(d.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: bad.safetensors: named like a safetensors file, hashed as a plain file: not a valid safetensors file: header length 1000 runs past the end of the 10-byte file"),
        "{}",
        stderr(&o)
    );
    let m = Manifest::read_file(&d.path().join("weightseal.manifest")).unwrap();
    assert!(m.file("bad.safetensors").unwrap().tensors.is_none());
    assert_eq!(
        m.file("bad.safetensors").unwrap().tree.root,
        Digest::from(blake3::hash(&bad))
    );
    assert!(m.file("ok.safetensors").unwrap().tensors.is_some());
}

#[test]
fn diff_reports_resharding_and_changes() {
    let d = tempfile::tempdir().unwrap();
    let orig = d.path().join("orig");
    let shards = sharded_model(&orig);
    let copy = d.path().join("copy");
    reshard(&shards, &copy, 2);
    let o = ws(&["diff", s(&orig), s(&copy), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["same_tensor_set"], true);
    assert_eq!(j["same_layout"], false);
    assert_eq!(j["tensors"]["same"], 15);
    assert_eq!(j["files_added"].as_array().unwrap().len(), 2);
    assert_eq!(j["files_removed"].as_array().unwrap().len(), 3);
    let o = ws(&["diff", s(&orig), s(&copy)]);
    assert!(
        stdout(&o).ends_with(
            "verdict: same tensor set (names, dtypes, shapes, bytes) and metadata under different sharding\n"
        ),
        "{}",
        stdout(&o)
    );
    let o = ws(&["diff", s(&orig), s(&orig)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).ends_with("verdict: identical: every file matches\n"));
    // A changed tensor, by manifest against directory.
    let o = ws(&["hash", s(&orig), "--chunk-size", "16K"]);
    assert_eq!(o.status.code(), Some(0));
    let mut s1 = shards[1].clone();
    s1[0].3[0] ^= 1;
    write_st(&orig.join("model-00002-of-00003.safetensors"), &s1);
    let o = ws(&["diff", s(&orig.join("weightseal.manifest")), s(&orig)]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("  changed  model-00002-of-00003.safetensors: 1 byte range(s) differ: "),
        "{out}"
    );
    assert!(
        out.contains("; 1 tensor changed: model.layers.4.mlp.weight\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "tensors: 1 changed, 0 with another dtype or shape, 0 removed, 0 added, 14 same\n"
        ),
        "{out}"
    );
}

#[test]
fn show_json_lists_tensors() {
    let d = tempfile::tempdir().unwrap();
    sharded_model(d.path());
    assert_eq!(ws(&["hash", s(d.path())]).status.code(), Some(0));
    let o = ws(&["show", s(d.path()), "--json"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = Manifest::read_file(&d.path().join("weightseal.manifest")).unwrap();
    assert_eq!(j["tensor_digest"], m.tensor_digest().unwrap().to_hex());
    let f = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model-00001-of-00003.safetensors")
        .unwrap();
    assert_eq!(f["type"], "safetensors");
    let t = &f["tensors"][0];
    for k in ["name", "dtype", "shape", "start", "end", "blake3"] {
        assert!(!t[k].is_null(), "{k}");
    }
    assert_eq!(f["tensors"].as_array().unwrap().len(), 5);
    // --no-tensors: none recorded, and tensor mode refuses such a manifest.
    assert_eq!(
        ws(&["hash", s(d.path()), "--no-tensors"]).status.code(),
        Some(0)
    );
    let o = ws(&["verify", s(d.path()), "--tensors"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the manifest records no tensors"),
        "{}",
        stderr(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// GGUF

fn gguf_fixtures() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(fixtures().join("gguf"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
        .collect();
    v.sort();
    assert!(v.len() >= 2);
    v
}

fn parse_file(p: &Path) -> Result<formats::Layout, formats::FormatError> {
    let f = fs::File::open(p).unwrap();
    let size = f.metadata().unwrap().len();
    formats::parse(&f, size, Format::Gguf)
}

#[test]
fn gguf_fixtures_match_gguf_py_reader() {
    for p in gguf_fixtures() {
        let layout = parse_file(&p).unwrap();
        let want: Value =
            serde_json::from_slice(&fs::read(p.with_extension("gguf.json")).unwrap()).unwrap();
        assert_eq!(
            layout.header_len,
            want["data_offset"].as_u64().unwrap(),
            "{p:?}"
        );
        let mut got: Vec<(String, String, Vec<u64>, u64, u64)> = layout
            .tensors
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.dtype.clone(),
                    t.shape.clone(),
                    t.start,
                    t.end,
                )
            })
            .collect();
        let mut expected: Vec<(String, String, Vec<u64>, u64, u64)> = want["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["type"].as_str().unwrap().to_string(),
                    t["shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap())
                        .collect(),
                    t["start"].as_u64().unwrap(),
                    t["end"].as_u64().unwrap(),
                )
            })
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{p:?}");
        let types: Vec<&str> = got.iter().map(|t| t.1.as_str()).collect();
        for ty in ["F32", "F16", "Q4_0", "Q8_0", "Q4_K", "BF16", "I32"] {
            assert!(types.contains(&ty), "{p:?} lacks {ty}");
        }
        assert!(got.iter().any(|t| t.3 == t.4), "a zero-size tensor");
    }
}

#[test]
fn gguf_tensor_digests_in_a_manifest() {
    let d = tempfile::tempdir().unwrap();
    for p in gguf_fixtures() {
        fs::copy(&p, d.path().join(p.file_name().unwrap())).unwrap();
    }
    let m = hash_dir(d.path());
    for f in m.files() {
        let raw = fs::read(d.path().join(f.path.as_str())).unwrap();
        let tf = f.tensors.as_ref().unwrap();
        assert_eq!(tf.format, Format::Gguf);
        assert_eq!(
            tf.header,
            Digest::from(blake3::hash(&raw[..tf.header_len as usize]))
        );
        for t in &tf.tensors {
            assert_eq!(
                t.digest,
                Digest::from(blake3::hash(&raw[t.start as usize..t.end as usize])),
                "{}",
                t.name
            );
        }
    }
    // Flip a byte of the Q4_K tensor: verify names it.
    assert_eq!(ws(&["hash", s(d.path())]).status.code(), Some(0));
    let f = m.file("model-q.gguf").unwrap();
    let q = f
        .tensors
        .as_ref()
        .unwrap()
        .tensors
        .iter()
        .find(|t| t.dtype == "Q4_K")
        .unwrap();
    let p = d.path().join("model-q.gguf");
    let mut b = fs::read(&p).unwrap();
    b[q.start as usize + 7] ^= 0x10;
    fs::write(&p, &b).unwrap();
    let o = ws(&["verify", s(d.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("; 1 tensor changed: blk.0.attn_q.weight)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn gguf_versions_and_hostile_headers() {
    let p = &gguf_fixtures()[0];
    let good = fs::read(p).unwrap();
    let d = tempfile::tempdir().unwrap();
    let write = |name: &str, b: &[u8]| {
        let q = d.path().join(name);
        fs::write(&q, b).unwrap();
        q
    };
    // Version 2 has the same layout.
    let mut v2 = good.clone();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(
        parse_file(&write("v2.gguf", &v2)).unwrap(),
        parse_file(p).unwrap()
    );
    let mut v1 = good.clone();
    v1[4..8].copy_from_slice(&1u32.to_le_bytes());
    let code = |b: &[u8], n: &str| parse_file(&write(n, b)).unwrap_err().code();
    assert_eq!(code(&v1, "v1.gguf"), "unsupported-version");
    // Absurd tensor count.
    let mut absurd = good.clone();
    absurd[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(code(&absurd, "absurd.gguf"), "impossible-count");
    // Absurd metadata count.
    let mut absurd = good.clone();
    absurd[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert_eq!(code(&absurd, "absurd-kv.gguf"), "impossible-count");
    // Misaligned offset: the last tensor info's offset is the 8 bytes before the padding.
    let layout = parse_file(p).unwrap();
    let first = layout
        .tensors
        .iter()
        .find(|t| t.start > layout.header_len)
        .unwrap();
    let rel = first.start - layout.header_len;
    let pos = good
        .windows(8)
        .rposition(|w| w == rel.to_le_bytes())
        .unwrap();
    let mut mis = good.clone();
    mis[pos..pos + 8].copy_from_slice(&(rel + 1).to_le_bytes());
    assert_eq!(code(&mis, "misaligned.gguf"), "misaligned");
    // Data cut short: a tensor runs past the end.
    assert_eq!(
        code(&good[..good.len() - 100], "short.gguf"),
        "out-of-bounds"
    );
    // Header cut short.
    assert_eq!(code(&good[..300], "cut.gguf"), "truncated");
}

#[test]
fn gguf_fixtures_are_what_the_official_writer_writes() {
    let Some(py) = python("gguf_fixtures_are_what_the_official_writer_writes") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let script = fixtures().join("gguf/make_fixtures.py");
    let o = Command::new(&py)
        .arg(&script)
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut n = 0;
    for e in fs::read_dir(out.path()).unwrap() {
        let p = e.unwrap().path();
        let committed = fixtures().join("gguf").join(p.file_name().unwrap());
        assert_eq!(
            fs::read(&p).unwrap(),
            fs::read(&committed).unwrap(),
            "{committed:?} is stale: rerun make_fixtures.py"
        );
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn ggml_type_table_matches_gguf_py() {
    let Some(py) = python("ggml_type_table_matches_gguf_py") else {
        return;
    };
    let code = "import json, gguf; print(json.dumps({t.name: [int(t), b, s] for t, (b, s) in gguf.GGML_QUANT_SIZES.items()}))";
    let o = Command::new(&py).args(["-c", code]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: BTreeMap<String, (u32, u64, u64)> = serde_json::from_slice(&o.stdout).unwrap();
    let ours: BTreeMap<String, (u32, u64, u64)> = gguf::GGML_TYPES
        .iter()
        .map(|(id, name, b, s)| (name.to_string(), (*id, *b, *s)))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn a_gguf_with_a_new_chat_template_is_the_same_tensors_with_other_metadata_not_a_resharding() {
    // model-chat.gguf is model-q.gguf written again by gguf-py with a chat template: a longer
    // header, so every tensor sits at another offset, in the same file.
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    for (dir, fixture) in [(&a, "model-q.gguf"), (&b, "model-chat.gguf")] {
        fs::create_dir(dir).unwrap();
        fs::copy(
            fixtures().join("gguf").join(fixture),
            dir.join("model.gguf"),
        )
        .unwrap();
        let o = ws(&["hash", dir.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = ws(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "verdict: the same tensors (names, dtypes, shapes, bytes) in the same files; the metadata differs"
        ),
        "{out}"
    );
    assert!(!out.contains("sharding"), "{out}");
    assert!(out.contains("tokenizer.chat_template"), "{out}");
    let o = ws(&["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["same_tensor_set"], true);
    assert_eq!(j["same_layout"], true);
    assert_eq!(
        j["metadata_changed"],
        serde_json::json!(["tokenizer.chat_template"])
    );
}

#[test]
fn show_is_a_summary_with_the_sha256_recorded_and_lists_tensors_on_request() {
    let d = tempfile::tempdir().unwrap();
    fs::copy(
        fixtures().join("gguf/model-q.gguf"),
        d.path().join("model.gguf"),
    )
    .unwrap();
    fs::write(d.path().join("config.json"), b"{}\n").unwrap();
    let o = ws(&["hash", d.path().to_str().unwrap(), "--sha256"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    use sha2::Digest as _;
    let sha = |p: &str| {
        weightseal::digest::hex(&sha2::Sha256::digest(fs::read(d.path().join(p)).unwrap()))
    };
    let o = ws(&["show", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("sha256:      recorded for 2 of 2 file(s)\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("      sha256 {}\n", sha("model.gguf"))),
        "{out}"
    );
    assert!(
        out.contains(&format!("      sha256 {}\n", sha("config.json"))),
        "{out}"
    );
    assert!(out.contains("model.gguf  (gguf, 8 tensor(s))\n"), "{out}");
    assert!(out.contains("tensors:     8 in 1 tensor file(s)"), "{out}");
    assert!(out.contains("--tensors lists them"), "{out}");
    assert!(!out.contains("token_embd.weight"), "{out}");
    let o = ws(&["show", d.path().to_str().unwrap(), "--tensors"]);
    let out = stdout(&o);
    for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.empty"] {
        assert!(out.contains(&format!("  {name}\n")), "{name}: {out}");
    }
    assert!(
        out.contains(&format!("      sha256 {}\n", sha("model.gguf"))),
        "{out}"
    );
}
