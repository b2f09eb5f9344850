//! `weightseal derive` end to end on releases made by the independent oracle
//! (tests/derive_fixtures.py: NumPy, the official safetensors writer, gguf-py's GGUFWriter and
//! `gguf.quants.quantize`): every derivation the issue names is reproduced, and every way of
//! getting it wrong is caught, named, and exits 1.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{python, stderr, stdout, ws};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The fixtures, made once per test binary: base releases signed by the publisher, derived
/// releases hashed (each test copies what it changes).
struct Fx {
    root: PathBuf,
    publisher: PathBuf,
    reproducer: PathBuf,
}

impl Fx {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn pubkey(&self) -> String {
        format!("{}.pub", s(&self.publisher))
    }
}

fn ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}\n{}", stdout(o), stderr(o));
}

fn fixtures() -> Option<&'static Fx> {
    static FX: OnceLock<Option<Fx>> = OnceLock::new();
    FX.get_or_init(|| {
        let py = python("derive")?;
        // Under cargo's per-target scratch directory, remade on every run (a static is never
        // dropped, so a temporary directory here would be left behind).
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("derive-fixtures");
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/derive_fixtures.py");
        let o = Command::new(py).arg(&script).arg(&root).output().unwrap();
        assert!(
            o.status.success(),
            "fixtures: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let publisher = root.join("publisher.key");
        let reproducer = root.join("reproducer.key");
        ok(&ws(&["keygen", "--out", s(&publisher)]), "keygen");
        ok(&ws(&["keygen", "--out", s(&reproducer)]), "keygen");
        for base in ["base", "other-base", "bf16-base"] {
            let d = root.join(base);
            ok(
                &ws(&["sign", s(&d), "--key", s(&publisher), "--version", "1"]),
                "sign base",
            );
        }
        for derived in [
            "f16",
            "bf16",
            "bf16-truncated",
            "gguf-Q8_0.gguf",
            "gguf-Q4_0.gguf",
            "gguf-Q4_1.gguf",
            "gguf-Q5_0.gguf",
            "gguf-Q5_1.gguf",
            "gguf-MXFP4.gguf",
            "bf16-q8_0.gguf",
            "q4_k.gguf",
        ] {
            ok(&ws(&["hash", s(&root.join(derived))]), "hash derived");
        }
        Some(Fx {
            root,
            publisher,
            reproducer,
        })
    })
    .as_ref()
}

/// `derive check DERIVED --from BASE --key publisher.pub [extra] --json`: exit code and JSON.
fn check(fx: &Fx, derived: &Path, base: &str, extra: &[&str]) -> (i32, Value) {
    let key = fx.pubkey();
    let base = fx.p(base);
    let mut args = vec![
        "derive",
        "check",
        s(derived),
        "--from",
        s(&base),
        "--key",
        &key,
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    let o = ws(&args);
    let v: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    (o.status.code().unwrap(), v)
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all_reproduced(v: &Value, n: usize) {
    let st = statuses(v);
    assert_eq!(st.len(), n, "{v:#}");
    for (name, status) in &st {
        assert_eq!(status, "reproduced", "{name}: {v:#}");
    }
    assert_eq!(v["ok"], true, "{v:#}");
}

/// 2 layers of 9 tensors, embeddings, final norm, lm head, the extra 256-wide tensor.
const TENSORS: usize = 2 * 9 + 4;

#[test]
fn casts_to_f16_and_bf16_are_reproduced_from_a_sharded_base() {
    let Some(fx) = fixtures() else { return };
    for d in ["f16", "bf16"] {
        let (code, v) = check(fx, &fx.p(d), "base", &[]);
        all_reproduced(&v, TENSORS);
        assert_eq!(code, 0, "{d}");
        let files: Vec<(&str, &str)> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["status"].as_str().unwrap()))
            .collect();
        assert!(files.contains(&("config.json", "identical")), "{files:?}");
        assert!(
            files.contains(&("model.safetensors", "tensors")),
            "{files:?}"
        );
        let op = v["tensors"][0]["operation"].as_str().unwrap();
        let want = if d == "f16" {
            "cast F32 -> F16"
        } else {
            "cast F32 -> BF16"
        };
        assert_eq!(op, want);
    }
}

#[test]
fn gguf_quantizations_are_reproduced_with_the_recipe() {
    let Some(fx) = fixtures() else { return };
    let recipe = fx.p("recipe.toml");
    for t in ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4"] {
        let f = fx.p(&format!("gguf-{t}.gguf"));
        let (code, v) = check(fx, &f, "base", &["--recipe", s(&recipe)]);
        all_reproduced(&v, TENSORS);
        assert_eq!(code, 0, "{t}");
        let q = v["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "blk.0.attn_q.weight")
            .unwrap();
        assert_eq!(
            q["operation"].as_str().unwrap(),
            format!("permute 4 heads, quantize F32 -> {t}")
        );
        assert_eq!(q["from"], "model.layers.0.self_attn.q_proj.weight");
    }
}

#[test]
fn a_bf16_base_quantized_through_f32_is_reproduced() {
    let Some(fx) = fixtures() else { return };
    let (code, v) = check(
        fx,
        &fx.p("bf16-q8_0.gguf"),
        "bf16-base",
        &["--recipe", s(&fx.p("recipe-bf16.toml"))],
    );
    all_reproduced(&v, TENSORS);
    assert_eq!(code, 0);
}

/// Copies a single-file release (the file and its manifest) into a new directory `to`.
fn copy_release(fx: &Fx, from: &str, to: &str) -> PathBuf {
    let src = fx.p(from);
    fs::create_dir_all(fx.p(to)).unwrap();
    let dst = fx.p(to).join(from);
    fs::copy(&src, &dst).unwrap();
    fs::copy(
        format!("{}.weightseal.manifest", s(&src)),
        format!("{}.weightseal.manifest", s(&dst)),
    )
    .unwrap();
    dst
}

/// The offset of tensor `name`'s bytes in a single-file release, from its manifest.
fn tensor_offset(path: &Path, name: &str) -> u64 {
    let o = ws(&[
        "show",
        &format!("{}.weightseal.manifest", s(path)),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    for f in v["files"].as_array().unwrap() {
        for t in f["tensors"].as_array().into_iter().flatten() {
            if t["name"] == name {
                return t["start"].as_u64().unwrap();
            }
        }
    }
    panic!("no tensor {name}: {v:#}");
}

#[test]
fn one_flipped_byte_is_named_with_its_block() {
    let Some(fx) = fixtures() else { return };
    let recipe = fx.p("recipe.toml");
    // The quantizer's own mistake: the byte is wrong before the manifest is made.
    let f = copy_release(fx, "gguf-Q8_0.gguf", "flipped");
    let at = tensor_offset(&fx.p("gguf-Q8_0.gguf"), "blk.1.ffn_up.weight");
    let mut b = fs::read(&f).unwrap();
    // Block 5 of the tensor (Q8_0: 34 bytes a block), one of its quants.
    let i = (at + 5 * 34 + 7) as usize;
    b[i] ^= 0x01;
    fs::write(&f, &b).unwrap();
    ok(&ws(&["hash", s(&f)]), "hash flipped");
    let (code, v) = check(fx, &f, "base", &["--recipe", s(&recipe)]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    let bad: Vec<_> = statuses(&v)
        .into_iter()
        .filter(|(_, st)| st != "reproduced")
        .collect();
    assert_eq!(
        bad,
        vec![("blk.1.ffn_up.weight".to_string(), "differs".to_string())]
    );
    let t = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "blk.1.ffn_up.weight")
        .unwrap();
    assert_eq!(t["first_block"], 5, "{t:#}");
    // The text names the tensor and the block.
    let key = fx.pubkey();
    let o = ws(&[
        "derive",
        "check",
        s(&f),
        "--from",
        s(&fx.p("base")),
        "--key",
        &key,
        "--recipe",
        s(&recipe),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("blk.1.ffn_up.weight [gguf-Q8_0.gguf] Q8_0: differs (quantize F32 -> Q8_0): block 5 (bytes 170..204 of the tensor)"),
        "{text}"
    );
    assert!(stderr(&o).contains("NOT reproduced"), "{}", stderr(&o));

    // A byte flipped after the manifest was made: the file is not its manifest's either.
    let g = copy_release(fx, "gguf-Q8_0.gguf", "flipped-after");
    let mut b = fs::read(&g).unwrap();
    b[i] ^= 0x01;
    fs::write(&g, &b).unwrap();
    let (code, v) = check(fx, &g, "base", &["--recipe", s(&recipe)]);
    assert_eq!(code, 1);
    let t = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "blk.1.ffn_up.weight")
        .unwrap();
    assert_eq!(
        (t["status"].as_str(), t["first_block"].as_u64()),
        (Some("differs"), Some(5))
    );
    assert_eq!(v["derived_files"]["ok"], false, "{v:#}");
}

#[test]
fn a_different_base_of_the_same_shapes_is_refused() {
    let Some(fx) = fixtures() else { return };
    let (code, v) = check(fx, &fx.p("f16"), "other-base", &[]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    // The base itself is verified: every tensor differs from its reproduction.
    assert_eq!(v["base"]["ok"], true);
    assert!(statuses(&v).iter().all(|(_, st)| st == "differs"), "{v:#}");
}

#[test]
fn truncation_instead_of_rounding_differs_in_that_tensor_only() {
    let Some(fx) = fixtures() else { return };
    let (code, v) = check(fx, &fx.p("bf16-truncated"), "base", &[]);
    assert_eq!(code, 1);
    let bad: Vec<_> = statuses(&v)
        .into_iter()
        .filter(|(_, st)| st != "reproduced")
        .collect();
    assert_eq!(
        bad,
        vec![(
            "model.layers.1.mlp.up_proj.weight".to_string(),
            "differs".to_string()
        )]
    );
}

#[test]
fn a_k_quant_is_not_derivable() {
    let Some(fx) = fixtures() else { return };
    let (code, v) = check(
        fx,
        &fx.p("q4_k.gguf"),
        "base",
        &["--recipe", s(&fx.p("recipe.toml"))],
    );
    assert_eq!(code, 1);
    let t = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "extra.weight")
        .unwrap();
    assert_eq!(t["status"], "not-derivable");
    assert_eq!(t["operation"], "quantize Q4_K");
    assert!(t["detail"]
        .as_str()
        .unwrap()
        .contains("k-quants are not derivable"));
    // Every other tensor is still reproduced: one line per tensor.
    assert_eq!(
        statuses(&v)
            .iter()
            .filter(|(_, s)| s == "reproduced")
            .count(),
        TENSORS - 1
    );
}

#[test]
fn a_base_nobody_trusted_signed_or_that_was_modified_derives_nothing() {
    let Some(fx) = fixtures() else { return };
    // Another key: the base is refused before any tensor is recomputed.
    let stranger = fx.p("stranger.key");
    if !stranger.exists() {
        ok(&ws(&["keygen", "--out", s(&stranger)]), "keygen");
    }
    let o = ws(&[
        "derive",
        "check",
        s(&fx.p("f16")),
        "--from",
        s(&fx.p("base")),
        "--key",
        &format!("{}.pub", s(&stranger)),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["base"]["ok"], false);
    assert_eq!(v["tensors"].as_array().unwrap().len(), 0);
    assert_eq!(v["base_bytes"], 0);

    // A base whose shard changed after signing: the tensors read from it do not match its
    // manifest, and nothing is derived from them.
    let copy = fx.p("base-modified");
    fs::create_dir_all(&copy).unwrap();
    for e in fs::read_dir(fx.p("base")).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let shard = copy.join("model-00001-of-00002.safetensors");
    let mut b = fs::read(&shard).unwrap();
    let n = b.len();
    b[n - 3] ^= 0x40;
    fs::write(&shard, &b).unwrap();
    let (code, v) = check(fx, &fx.p("f16"), "base-modified", &[]);
    assert_eq!(code, 1);
    assert!(
        statuses(&v).iter().any(|(_, st)| st == "base-modified"),
        "{v:#}"
    );
}

#[test]
fn derive_sign_then_a_policy_requires_reproduction() {
    let Some(fx) = fixtures() else { return };
    // The quantizer publishes gguf-Q4_0 as a release derived from the base.
    let f = copy_release(fx, "gguf-Q4_0.gguf", "published");
    let base_manifest = fx.p("base/weightseal.manifest");
    ok(
        &ws(&[
            "sign",
            s(&f),
            "--key",
            s(&fx.publisher),
            "--derived-from",
            &format!("{}:quantized", s(&base_manifest)),
        ]),
        "sign derived",
    );
    let rpub = format!("{}.pub", s(&fx.reproducer));
    let policy = fx.p("reproduced.toml");
    fs::write(
        &policy,
        format!(
            "[keys.acme]\npublic_key = \"{}\"\nroles = [\"publisher\"]\n[keys.rep]\npublic_key = \"{rpub}\"\nroles = [\"reproducer\"]\n[roles.publisher]\nthreshold = 1\n[roles.reproducer]\nthreshold = 1\n",
            fx.pubkey()
        ),
    )
    .unwrap();
    // Before any reproduction: the policy is not met.
    let o = ws(&["verify", s(&f), "--policy", s(&policy)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("reproducer") || stderr(&o).contains("reproducer"));

    // derive sign: checks, then signs.
    let o = ws(&[
        "derive",
        "sign",
        s(&f),
        "--from",
        s(&fx.p("base")),
        "--base-key",
        &fx.pubkey(),
        "--key",
        s(&fx.reproducer),
        "--recipe",
        s(&fx.p("recipe.toml")),
    ]);
    ok(&o, "derive sign");
    assert!(
        stderr(&o).contains("reproduction attestation"),
        "{}",
        stderr(&o)
    );
    let bundle = fs::read_to_string(format!("{}.weightseal.intoto.jsonl", s(&f))).unwrap();
    assert_eq!(bundle.lines().count(), 2);
    let o = ws(&["verify", s(&f), "--policy", s(&policy)]);
    ok(&o, "verify with reproduction");
    // Signing again replaces the reproducer's line rather than adding one.
    ok(
        &ws(&[
            "derive",
            "sign",
            s(&f),
            "--from",
            s(&fx.p("base")),
            "--base-key",
            &fx.pubkey(),
            "--key",
            s(&fx.reproducer),
            "--recipe",
            s(&fx.p("recipe.toml")),
        ]),
        "derive sign again",
    );
    let bundle = fs::read_to_string(format!("{}.weightseal.intoto.jsonl", s(&f))).unwrap();
    assert_eq!(bundle.lines().count(), 2);

    // lineage shows the edge as reproduced, by the reproducer's key.
    let o = ws(&[
        "lineage",
        &format!("{}.weightseal.manifest", s(&f)),
        "--with",
        s(&fx.p("base")),
        "--policy",
        s(&policy),
    ]);
    ok(&o, "lineage");
    assert!(stdout(&o).contains("REPRODUCED by rep"), "{}", stdout(&o));

    // A derivation that is not reproduced is never signed.
    let o = ws(&[
        "derive",
        "sign",
        s(&fx.p("q4_k.gguf")),
        "--from",
        s(&fx.p("base")),
        "--base-key",
        &fx.pubkey(),
        "--key",
        s(&fx.reproducer),
        "--recipe",
        s(&fx.p("recipe.toml")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!Path::new(&format!(
        "{}.weightseal.intoto.jsonl",
        s(&fx.p("q4_k.gguf"))
    ))
    .exists());
}

#[test]
fn a_reproduction_of_a_base_the_publisher_did_not_name_does_not_count() {
    let Some(fx) = fixtures() else { return };
    // The publisher declares other-base as the parent; the reproducer reproduced f16 from
    // base. The reproduction is valid, but it is not of the release the publisher named.
    let d = fx.p("f16-declared-other");
    fs::create_dir_all(&d).unwrap();
    for e in fs::read_dir(fx.p("f16")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "weightseal.intoto.jsonl" {
            fs::copy(e.path(), d.join(e.file_name())).unwrap();
        }
    }
    ok(
        &ws(&[
            "sign",
            s(&d),
            "--key",
            s(&fx.publisher),
            "--derived-from",
            &format!("{}:quantized", s(&fx.p("other-base/weightseal.manifest"))),
        ]),
        "sign",
    );
    ok(
        &ws(&[
            "derive",
            "sign",
            s(&d),
            "--from",
            s(&fx.p("base")),
            "--base-key",
            &fx.pubkey(),
            "--key",
            s(&fx.reproducer),
        ]),
        "derive sign",
    );
    let rpub = format!("{}.pub", s(&fx.reproducer));
    let policy = fx.p("reproduced-2.toml");
    fs::write(
        &policy,
        format!(
            "[keys.acme]\npublic_key = \"{}\"\nroles = [\"publisher\"]\n[keys.rep]\npublic_key = \"{rpub}\"\nroles = [\"reproducer\"]\n[roles.publisher]\nthreshold = 1\n[roles.reproducer]\nthreshold = 1\n",
            fx.pubkey()
        ),
    )
    .unwrap();
    let o = ws(&["verify", s(&d), "--policy", s(&policy), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let codes: Vec<&str> = v["signatures"]["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["valid", "base-not-declared"], "{v:#}");
}

#[test]
fn bad_recipes_are_refused_with_the_field() {
    let Some(fx) = fixtures() else { return };
    let r = fx.p("bad-recipe.toml");
    fs::write(
        &r,
        "version = 1\n[[tensor]]\nname = \"a\"\nvia = [\"Q4_0\"]\n",
    )
    .unwrap();
    let o = ws(&[
        "derive",
        "check",
        s(&fx.p("f16")),
        "--from",
        s(&fx.p("base")),
        "--key",
        &fx.pubkey(),
        "--recipe",
        s(&r),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("tensor \"a\": via names \"Q4_0\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_derivation_at_a_url_is_compared_with_its_manifest_but_never_reported_reproduced() {
    let Some(fx) = fixtures() else { return };
    let server = common::server::Server::start(fx.root.clone());
    let url = format!("{}/f16", server.base);
    let (code, v) = check(fx, Path::new(&url), "base", &[]);
    // Every tensor matches what the manifest records, but the manifest's tensor digests are
    // its publisher's claims about bytes that were not read: not reproduced, and said so.
    assert!(
        statuses(&v).iter().all(|(_, st)| st == "reproduced"),
        "{v:#}"
    );
    assert_eq!((code, &v["ok"]), (1, &Value::Bool(false)));
    assert_eq!(v["derived_read"], false);
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("files were not read"),
        "{v:#}"
    );
    // Only the manifest was read from the mirror: its weights were never requested.
    assert_eq!(server.requests("/f16/model.safetensors"), 0);
    // A served release that is not the cast: differs, with no block to name (nothing local).
    let url = format!("{}/bf16-truncated", server.base);
    let (code, v) = check(fx, Path::new(&url), "base", &[]);
    assert_eq!(code, 1);
    let t = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == "differs")
        .unwrap();
    assert_eq!(t["name"], "model.layers.1.mlp.up_proj.weight");
    assert!(t.get("first_block").is_none(), "{t:#}");
    assert!(
        t["detail"]
            .as_str()
            .unwrap()
            .contains("the derived manifest records"),
        "{t:#}"
    );
}

#[test]
fn memory_stays_near_the_largest_tensor() {
    let Some(fx) = fixtures() else { return };
    let Some(py) = python("derive memory") else {
        return;
    };
    // Three F32 tensors of 32 MiB and their F16 cast: the bound is 2 x 32 MiB + 64 MiB.
    let d = fx.p("big");
    let o = Command::new(py)
        .arg("-c")
        .arg(
            r#"
import os, sys, numpy as np
from safetensors.numpy import save_file
d = sys.argv[1]
for sub in ("base", "f16"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
rng = np.random.default_rng(5)
t = {f"w{i}": rng.standard_normal((2048, 4096), dtype=np.float32) for i in range(3)}
save_file(t, os.path.join(d, "base", "model.safetensors"))
save_file({k: v.astype(np.float16) for k, v in t.items()}, os.path.join(d, "f16", "model.safetensors"))
"#,
        )
        .arg(&d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(
        &ws(&["sign", s(&d.join("base")), "--key", s(&fx.publisher)]),
        "sign",
    );
    ok(&ws(&["hash", s(&d.join("f16"))]), "hash");
    let key = fx.pubkey();
    let (code, out, peak_mib) = common::run_measured(&[
        "derive",
        "check",
        s(&d.join("f16")),
        "--from",
        s(&d.join("base")),
        "--key",
        &key,
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.matches(": reproduced (cast F32 -> F16)").count(),
        3,
        "{out}"
    );
    assert!(
        peak_mib < 2.0 * 32.0 + 64.0,
        "peak RSS {peak_mib:.0} MiB, above 2 x the largest tensor + 64 MiB"
    );
}

#[test]
fn a_derived_file_missing_on_disk_makes_its_tensors_differ_not_an_error() {
    let Some(fx) = fixtures() else { return };
    let d = fx.p("f16-missing");
    fs::create_dir_all(&d).unwrap();
    for e in fs::read_dir(fx.p("f16")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "model.safetensors" {
            fs::copy(e.path(), d.join(e.file_name())).unwrap();
        }
    }
    let (code, v) = check(fx, &d, "base", &[]);
    assert_eq!(code, 1, "{v:#}");
    assert!(statuses(&v).iter().all(|(_, st)| st == "differs"), "{v:#}");
    assert!(
        v["tensors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{v:#}"
    );
}

/// `derive sign` asks the whole question of the base, the log requirement included: a base
/// that is not in the required log is refused, and nothing is signed.
#[test]
fn derive_sign_requires_the_base_in_the_log_when_asked() {
    let Some(fx) = fixtures() else { return };
    let d = fx.p("f16-log");
    fs::create_dir_all(&d).unwrap();
    for e in fs::read_dir(fx.p("f16")).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), d.join(e.file_name())).unwrap();
    }
    let log_key = fx.p("log.key");
    ok(&ws(&["keygen", "--out", s(&log_key)]), "keygen");
    let o = ws(&[
        "log",
        "init",
        s(&fx.p("log")),
        "--origin",
        "example.com/log",
        "--key",
        s(&log_key),
    ]);
    ok(&o, "log init");
    let vkey = stdout(&o).lines().next().unwrap().to_string();
    let o = ws(&[
        "derive",
        "sign",
        s(&d),
        "--from",
        s(&fx.p("base")),
        "--base-key",
        &fx.pubkey(),
        "--key",
        s(&fx.reproducer),
        "--log-key",
        &vkey,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["base"]["ok"], false);
    assert_eq!(v["base"]["log"]["ok"], false, "{v:#}");
    assert!(!d.join("weightseal.intoto.jsonl").exists());
}
