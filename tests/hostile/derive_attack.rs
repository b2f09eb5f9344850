//! Attacks on `weightseal derive`: a derived release whose publisher (the attacker) writes a
//! manifest whose tensor table says the reproduction while its files hold other weights.
//! Built without Python: a one-tensor F32 safetensors base, signed, and "derived" copies (an
//! F32 -> F32 copy is a derivation: a rename or re-shard).

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::server::Server;
use crate::common::{stderr, stdout, ws};
use crate::text;
use weightseal::manifest::{Manifest, Tensor};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A safetensors file of F32 tensors `(name, values)`, each of shape `[2, 32]`, in order.
fn safetensors(tensors: &[(&str, &[f32])]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, vals)) in tensors.iter().enumerate() {
        assert_eq!(vals.len(), 64);
        let start = data.len();
        for v in *vals {
            data.extend_from_slice(&v.to_le_bytes());
        }
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[2,32],\"data_offsets\":[{start},{}]}}",
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn good() -> Vec<f32> {
    (0..64).map(|i| i as f32 * 0.25 - 3.0).collect()
}

fn evil() -> Vec<f32> {
    (0..64).map(|i| if i == 7 { 1e30 } else { 0.0 }).collect()
}

fn ok(o: &std::process::Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", text(o));
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    key: PathBuf,
}

impl Setup {
    /// A signed base `base/` holding tensor `w` (the good values).
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let key = root.join("publisher.key");
        ok(&ws(&["keygen", "--out", s(&key)]), "keygen");
        let base = root.join("base");
        fs::create_dir_all(&base).unwrap();
        fs::write(
            base.join("model.safetensors"),
            safetensors(&[("w", &good())]),
        )
        .unwrap();
        ok(
            &ws(&["sign", s(&base), "--key", s(&key), "--version", "1"]),
            "sign base",
        );
        Setup {
            _tmp: tmp,
            root,
            key,
        }
    }

    /// A derived directory `name/` holding `file`, hashed, with its manifest then rewritten
    /// by `edit` (the attacker's manifest).
    fn derived(&self, name: &str, file: Vec<u8>, edit: impl FnOnce(&mut Vec<Tensor>)) -> PathBuf {
        let d = self.root.join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("model.safetensors"), file).unwrap();
        ok(&ws(&["hash", s(&d)]), "hash derived");
        let mpath = d.join("weightseal.manifest");
        let m = Manifest::decode(&fs::read(&mpath).unwrap()).unwrap();
        let mut files = m.files().to_vec();
        edit(&mut files[0].tensors.as_mut().unwrap().tensors);
        let forged = Manifest::new(m.name().to_string(), m.chunk_size(), files).unwrap();
        fs::write(&mpath, forged.encode()).unwrap();
        d
    }

    /// The base's manifest's record of tensor `w`.
    fn base_w(&self) -> Tensor {
        let m = Manifest::decode(&fs::read(self.root.join("base/weightseal.manifest")).unwrap())
            .unwrap();
        let t = m.tensors().next().unwrap().1.clone();
        t
    }

    fn check(&self, derived: &str) -> (i32, serde_json::Value) {
        let key = format!("{}.pub", s(&self.key));
        let base = self.root.join("base");
        let o = ws(&[
            "derive",
            "check",
            derived,
            "--from",
            s(&base),
            "--key",
            &key,
            "--json",
        ]);
        let v: serde_json::Value =
            serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        (o.status.code().unwrap(), v)
    }
}

/// An honest copy is reproduced (the control for the attacks below).
#[test]
fn derive_an_honest_copy_is_reproduced() {
    let x = Setup::new();
    let d = x.derived("honest", safetensors(&[("w", &good())]), |_| {});
    let (code, v) = x.check(s(&d));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
}

/// The derived file holds other weights; its manifest's file tree is the file's (so the file
/// verifies), but the tensor digest it records for `w` is the reproduction's. Before the fix:
/// REPRODUCED, exit 0, and `derive sign` signed it.
#[test]
fn derive_a_tensor_digest_that_is_not_its_files_bytes_is_not_reproduced() {
    let x = Setup::new();
    let want = x.base_w().digest;
    let d = x.derived("lying-digest", safetensors(&[("w", &evil())]), |ts| {
        ts[0].digest = want;
    });
    let (code, v) = x.check(s(&d));
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["ok"], false);
    assert_eq!(v["tensors"][0]["status"], "differs", "{v:#}");
    // And nothing is signed.
    let rkey = x.root.join("reproducer.key");
    ok(&ws(&["keygen", "--out", s(&rkey)]), "keygen");
    let o = ws(&[
        "derive",
        "sign",
        s(&d),
        "--from",
        s(&x.root.join("base")),
        "--base-key",
        &format!("{}.pub", s(&x.key)),
        "--key",
        s(&rkey),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!d.join("weightseal.intoto.jsonl").exists());
}

/// The file's header says `w` is the evil bytes; the manifest's table says `w` is the bytes of
/// another header tensor (the good ones) and leaves the header's real `w` out. A runtime loads
/// the header's `w`. Before the fix: REPRODUCED.
#[test]
fn derive_a_tensor_table_that_is_not_its_files_header_is_not_reproduced() {
    let x = Setup::new();
    let file = safetensors(&[("w", &evil()), ("x", &good())]);
    let d = x.derived("lying-table", file, |ts| {
        // ts: [w (evil) at 0.., x (good) after]; keep one entry named w at x's range.
        let mut t = ts[1].clone();
        t.name = "w".into();
        ts.clear();
        ts.push(t);
    });
    let (code, v) = x.check(s(&d));
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["ok"], false);
}

/// The same forged release served by a mirror: its bytes are not read, so its manifest's
/// tensor table is unchecked, and the check must not say REPRODUCED.
#[test]
fn derive_a_derived_release_at_a_url_is_not_reproduced_from_its_manifest_alone() {
    let x = Setup::new();
    let want = x.base_w().digest;
    let d = x.derived("served", safetensors(&[("w", &evil())]), |ts| {
        ts[0].digest = want;
    });
    let server = Server::start(d.clone());
    let (code, v) = x.check(&server.base);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["ok"], false);
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("not read"), "{v:#}");
}

/// A second weights file that the derived manifest records as a plain file (no tensor table),
/// named new by the recipe: no tensor of it is reproduced, yet a runtime loads it. A file
/// named like a tensor file is never "new".
#[test]
fn derive_a_tensor_file_recorded_without_tensors_is_not_a_new_file() {
    let x = Setup::new();
    let d = x.derived("extra-weights", safetensors(&[("w", &good())]), |_| {});
    fs::write(
        d.join("zz-extra.safetensors"),
        safetensors(&[("w", &evil())]),
    )
    .unwrap();
    ok(&ws(&["hash", s(&d)]), "hash derived");
    let mpath = d.join("weightseal.manifest");
    let m = Manifest::decode(&fs::read(&mpath).unwrap()).unwrap();
    let mut files = m.files().to_vec();
    let extra = files
        .iter_mut()
        .find(|f| f.path.as_str() == "zz-extra.safetensors")
        .unwrap();
    extra.tensors = None;
    let forged = Manifest::new(m.name().to_string(), m.chunk_size(), files).unwrap();
    fs::write(&mpath, forged.encode()).unwrap();
    let recipe = x.root.join("recipe.toml");
    fs::write(
        &recipe,
        "version = 1\nnew_files = [\"zz-extra.safetensors\"]\n",
    )
    .unwrap();
    let key = format!("{}.pub", s(&x.key));
    let o = ws(&[
        "derive",
        "check",
        s(&d),
        "--from",
        s(&x.root.join("base")),
        "--key",
        &key,
        "--recipe",
        s(&recipe),
    ]);
    // The recipe is refused (recipe-new-file), before anything is read.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("never new"), "{}", text(&o));
    // Without it, the file is neither derived nor the base's.
    let (code, v) = x.check(s(&d));
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["files"][1]["status"], "not-in-base", "{v:#}");
}

/// A GGUF v3 file with no metadata and tensors `(name, ne (innermost first), ggml type, data)`,
/// each at the next 32-byte boundary of the data section.
fn gguf(tensors: &[(&str, &[u64], u32, Vec<u8>)]) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(3u32.to_le_bytes());
    v.extend((tensors.len() as u64).to_le_bytes());
    v.extend(0u64.to_le_bytes());
    let mut data: Vec<u8> = Vec::new();
    for (name, ne, ty, bytes) in tensors {
        v.extend((name.len() as u64).to_le_bytes());
        v.extend(name.as_bytes());
        v.extend((ne.len() as u32).to_le_bytes());
        for d in *ne {
            v.extend(d.to_le_bytes());
        }
        v.extend(ty.to_le_bytes());
        v.extend((data.len() as u64).to_le_bytes());
        data.extend(bytes);
        while !data.len().is_multiple_of(32) {
            data.push(0);
        }
    }
    while !v.len().is_multiple_of(32) {
        v.push(0);
    }
    v.extend(data);
    v
}

/// A safetensors file of `(name, dtype, shape, bytes)`, in order.
fn safetensors_raw(tensors: &[(&str, &str, &[u64], Vec<u8>)]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let start = data.len();
        data.extend(bytes);
        let shape: Vec<String> = shape.iter().map(u64::to_string).collect();
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{start},{}]}}",
            shape.join(","),
            data.len()
        ));
    }
    let mut header = format!("{{{}}}", entries.join(","));
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

/// Signs `files` as the base `base/` and hashes `derived` as `name/`; returns the derived dir.
fn base_and_derived(
    x: &Setup,
    base: &[(&str, Vec<u8>)],
    name: &str,
    derived: &[(&str, Vec<u8>)],
) -> PathBuf {
    let b = x.root.join("base");
    let _ = fs::remove_dir_all(&b);
    fs::create_dir_all(&b).unwrap();
    for (f, bytes) in base {
        fs::write(b.join(f), bytes).unwrap();
    }
    ok(
        &ws(&["sign", s(&b), "--key", s(&x.key), "--version", "1"]),
        "sign base",
    );
    let d = x.root.join(name);
    fs::create_dir_all(&d).unwrap();
    for (f, bytes) in derived {
        fs::write(d.join(f), bytes).unwrap();
    }
    ok(&ws(&["hash", s(&d)]), "hash derived");
    d
}

fn check_with_recipe(x: &Setup, d: &Path, recipe: &str) -> (i32, serde_json::Value) {
    let rp = x.root.join("recipe.toml");
    fs::write(&rp, recipe).unwrap();
    let o = ws(&[
        "derive",
        "check",
        s(d),
        "--from",
        s(&x.root.join("base")),
        "--key",
        &format!("{}.pub", s(&x.key)),
        "--recipe",
        s(&rp),
        "--json",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.code().unwrap(), v)
}

/// A 1-D tensor quantized with a permutation: each permuted "row" is one element, less than a
/// quantization block, and the recomputation wrote nothing, so the derived bytes were compared
/// with a buffer it never filled (zeros for the first such tensor, the previous tensor's
/// reproduction after). Before the fix: an all-zero Q8_0 tensor was REPRODUCED from any base.
#[test]
fn derive_a_permuted_one_dimensional_quantization_is_not_reproduced_from_an_unfilled_buffer() {
    let x = Setup::new();
    let vals: Vec<u8> = good().iter().flat_map(|v| v.to_le_bytes()).collect();
    let d = base_and_derived(
        &x,
        &[(
            "model.safetensors",
            safetensors_raw(&[("b", "F32", &[64], vals)]),
        )],
        "zeros",
        // Q8_0 (type 8): 2 blocks of 34 bytes, all zero.
        &[("model.gguf", gguf(&[("b", &[64], 8, vec![0u8; 68])]))],
    );
    let (code, v) = check_with_recipe(
        &x,
        &d,
        "version = 1\n[[tensor]]\nname = \"b\"\npermute = 2\n",
    );
    assert_eq!(v["tensors"][0]["status"], "not-derivable", "{v:#}");
    assert_eq!(code, 1, "{v:#}");
}

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Base tensors streamed in 1 MiB pieces (BLAKE3 subtrees merged): every length around the
/// piece size, a quantization and a cast whose base is not a whole number of pieces, and a
/// copy of Q8_0 (34-byte blocks, which do not divide 1 MiB). All reproduced; then one byte of
/// the base changed in a later piece, or in the last byte, is base-modified.
#[test]
fn derive_streamed_pieces_hash_every_length_and_catch_every_changed_byte() {
    use weightseal::derive::float::{cast, Float, NanRule};
    use weightseal::derive::quant::{quantize, Quant};
    const P: u64 = 1 << 20;
    let x = Setup::new();
    let sizes = [0, 1, P - 1, P, P + 1, 2 * P, 3 * P + 17];
    let names: Vec<String> = (0..sizes.len()).map(|i| format!("u{i}")).collect();
    let mut st: Vec<(&str, &str, Vec<u64>, Vec<u8>)> = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        st.push((&names[i], "U8", vec![*n], noise(*n as usize, i as u64 + 1)));
    }
    // F32 of 1 MiB + 128 bytes.
    let n_a = (P / 4 + 32) as usize;
    let a: Vec<f32> = noise(n_a, 99)
        .iter()
        .enumerate()
        .map(|(i, b)| (*b as f32 - 128.0) * 0.01 + (i % 7) as f32)
        .collect();
    let a_bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
    st.push(("a", "F32", vec![n_a as u64], a_bytes.clone()));
    let st_ref: Vec<(&str, &str, &[u64], Vec<u8>)> = st
        .iter()
        .map(|(n, d, s, b)| (*n, *d, s.as_slice(), b.clone()))
        .collect();
    let base_st = safetensors_raw(&st_ref);
    // A Q8_0 base of 31 000 blocks (1 054 000 bytes).
    let q_ne = [31_000u64 * 32];
    let q_bytes = noise(31_000 * 34, 7);
    let base_gguf = gguf(&[("q", &q_ne, 8, q_bytes.clone())]);
    // Derived: the U8 tensors in the other order (other offsets), a as Q8_0 and F16, q copied
    // after a small tensor (another alignment).
    let rev: Vec<(&str, &str, &[u64], Vec<u8>)> =
        st_ref[..sizes.len()].iter().rev().cloned().collect();
    let mut a_q8 = vec![0u8; n_a / 32 * 34];
    quantize(Quant::from_name("Q8_0").unwrap(), &a, &mut a_q8);
    let mut a_f16 = vec![0u8; n_a * 2];
    cast(Float::F32, Float::F16, NanRule::Keep, &a_bytes, &mut a_f16);
    let derived_gguf = gguf(&[
        ("a", &[n_a as u64], 8, a_q8),
        ("a16", &[n_a as u64], 1, a_f16),
        ("q", &q_ne, 8, q_bytes),
    ]);
    let d = base_and_derived(
        &x,
        &[("model.safetensors", base_st), ("q.gguf", base_gguf)],
        "streamed",
        &[
            ("copy.safetensors", safetensors_raw(&rev)),
            ("model.gguf", derived_gguf),
        ],
    );
    let recipe = "version = 1\n[[tensor]]\nname = \"a16\"\nfrom = \"a\"\n";
    let (code, v) = check_with_recipe(&x, &d, recipe);
    assert_eq!(code, 0, "{v:#}");
    let ts = v["tensors"].as_array().unwrap();
    assert_eq!(ts.len(), sizes.len() + 3);
    assert!(ts.iter().all(|t| t["status"] == "reproduced"), "{v:#}");

    // One byte changed in a later piece of u6 and q, and the last byte of a.
    let m = Manifest::decode(&fs::read(x.root.join("base/weightseal.manifest")).unwrap()).unwrap();
    let range = |name: &str| {
        let (f, t) = m.tensors().find(|(_, t)| t.name == name).unwrap();
        (f.as_str().to_string(), t.start, t.end)
    };
    for (name, at) in [("u6", Some(2 * P + 5)), ("q", Some(P + 3)), ("a", None)] {
        let (file, start, end) = range(name);
        let path = x.root.join("base").join(&file);
        let mut bytes = fs::read(&path).unwrap();
        let i = (start + at.unwrap_or(end - start - 1)) as usize;
        bytes[i] ^= 1;
        fs::write(&path, bytes).unwrap();
    }
    let (code, v) = check_with_recipe(&x, &d, recipe);
    assert_eq!(code, 1, "{v:#}");
    for t in v["tensors"].as_array().unwrap() {
        let modified = ["u6", "q", "a", "a16"].contains(&t["name"].as_str().unwrap());
        let want = if modified {
            "base-modified"
        } else {
            "reproduced"
        };
        assert_eq!(t["status"], want, "{t:#}");
    }
}
