//! `weightseal demo`: the whole job on a small built-in model, in a temporary directory.
//! Writes three safetensors shards (with the official `safetensors` writer) and config files,
//! hashes them into a manifest, verifies, flips one byte and shows that the change is found,
//! named by file and byte range; then logs the release in a transparency log, requires it
//! there, and catches a rogue release under the same name with the log's monitor.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

use weightseal::ask::{Ask, AskOptions};
use weightseal::attest::bundle;
use weightseal::attest::time::Timestamp;
use weightseal::attest::{Claims, PrivateKey};
use weightseal::evidence::{gather, Locators, Source};
use weightseal::log::entry::LogEntry;
use weightseal::log::store::LogDir;
use weightseal::manifest::{self, BuildOptions, Manifest};
use weightseal::path::{ATTESTATION_FILE, LOG_PROOF_FILE, MANIFEST_FILE};
use weightseal::progress::NoProgress;
use weightseal::release::{CheckOptions, Trust, Verdict};
use weightseal::verify::{FileStatus, Mode};

use super::{render, write_atomic, Outcome};

/// A fixed-seed xorshift64* generator: the demo model is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Writes the demo model into `dir`: 3 shards of about 4.7 MiB, an index and config files.
pub fn write_model(dir: &Path) -> Result<()> {
    let mut rng = Rng(0x005e_ed0f_5ea1);
    let hidden = 640usize;
    let mut weight_map = BTreeMap::new();
    for shard in 1..=3 {
        let file = format!("model-0000{shard}-of-00003.safetensors");
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for layer in (shard - 1) * 2..shard * 2 {
            for (name, shape) in [
                ("mlp.up_proj.weight", vec![hidden * 2, hidden]),
                ("self_attn.q_proj.weight", vec![hidden, hidden]),
            ] {
                let n: usize = shape.iter().product();
                tensors.push((
                    format!("model.layers.{layer}.{name}"),
                    shape,
                    rng.bytes(n * 2),
                ));
            }
            tensors.push((
                format!("model.layers.{layer}.input_layernorm.weight"),
                vec![hidden],
                rng.bytes(hidden * 2),
            ));
        }
        let views = tensors
            .iter()
            .map(|(name, shape, data)| {
                Ok((
                    name.clone(),
                    TensorView::new(Dtype::BF16, shape.clone(), data)?,
                ))
            })
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        for (name, _, _) in &tensors {
            weight_map.insert(name.clone(), file.clone());
        }
        let bytes = safetensors::serialize(views, None)?;
        fs::write(dir.join(&file), bytes)?;
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::to_vec_pretty(&index)?,
    )?;
    fs::write(
        dir.join("config.json"),
        br#"{"architectures": ["DemoForCausalLM"], "hidden_size": 640, "num_hidden_layers": 6, "torch_dtype": "bfloat16"}"#,
    )?;
    fs::write(
        dir.join("generation_config.json"),
        br#"{"do_sample": false}"#,
    )?;
    Ok(())
}

pub fn run() -> Result<Outcome> {
    let tmp = tempfile::Builder::new()
        .prefix("weightseal-demo-")
        .tempdir()?;
    let dir = tmp.path().join("demo-model");
    fs::create_dir(&dir)?;
    outln!("== 1. A publisher's model, written with the official safetensors writer");
    write_model(&dir).context("writing the demo model")?;
    let mut names: Vec<_> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for n in &names {
        let len = fs::metadata(dir.join(n))?.len();
        outln!("   {:>10}  {}", render::bytes(len), n.to_string_lossy());
    }
    outln!("   in {}", dir.display());

    outln!(
        "\n== 2. weightseal hash: chunked BLAKE3 tree over every file -> canonical CBOR manifest"
    );
    let m = manifest::build(&dir, &BuildOptions::default(), &NoProgress)?.manifest;
    let bytes = m.encode();
    write_atomic(&dir.join(MANIFEST_FILE), &bytes)?;
    outln!("   manifest digest (the model's identity): {}", m.digest());
    outln!(
        "   manifest: {} bytes, {} files, chunk size {}",
        bytes.len(),
        m.files().len(),
        render::bytes(m.chunk_size().get())
    );
    let big = m
        .files()
        .iter()
        .max_by_key(|f| f.tree.size)
        .context("empty manifest")?;
    outln!(
        "   e.g. {}: blake3 {} (= b3sum), {} chunk values",
        big.path,
        big.tree.root,
        big.tree.chunks.len()
    );

    outln!("\n== 3. weightseal verify --integrity-only: the untouched download (no key yet)");
    let m = Manifest::read_file(&dir.join(MANIFEST_FILE))?;
    let mpath = dir.join(MANIFEST_FILE);
    let integrity = AskOptions {
        allow_unsigned: true,
        trust_store: false,
        ..AskOptions::default()
    };
    let verdict = judge(&dir, &mpath, None, &integrity, Mode::Files)?;
    show(&verdict)?;
    if !verdict.ok() {
        bail!("the untouched demo model did not verify");
    }

    outln!(
        "\n== 4. weightseal sign: a publisher and an auditor attest the release; a two-role policy"
    );
    let keys = tmp.path().join("keys");
    fs::create_dir(&keys)?;
    let publisher = PrivateKey::generate()?;
    let auditor = PrivateKey::generate()?;
    publisher.write_pair(&keys.join("publisher.key"))?;
    auditor.write_pair(&keys.join("auditor.key"))?;
    let now = Timestamp::now();
    let mut lines = String::new();
    for (key, role, signer) in [
        (&publisher, "publisher", "Demo Labs"),
        (&auditor, "auditor", "Independent Audit"),
    ] {
        let claims = Claims {
            role: role.into(),
            signer: signer.into(),
            issued_at: now,
            expires_at: Timestamp::parse_expiry("365d", now).ok(),
            version: Some(1),
            derived_from: Vec::new(),
            annotations: [("license".to_string(), "apache-2.0".to_string())].into(),
        };
        let env = weightseal::attest::attest(&m, key, &claims)?;
        lines = bundle::appended(&lines, &env);
        outln!("   {role} {signer:?} signed with key {}", key.public().id());
    }
    write_atomic(&dir.join(ATTESTATION_FILE), lines.as_bytes())?;
    let policy_text = "[keys.publisher]\npublic_key = \"publisher.key.pub\"\nroles = [\"publisher\"]\n\n[keys.auditor]\npublic_key = \"auditor.key.pub\"\nroles = [\"auditor\"]\n\n[roles.publisher]\nthreshold = 1\n\n[roles.auditor]\nthreshold = 1\n";
    fs::write(keys.join("policy.toml"), policy_text)?;
    outln!("   policy.toml:\n{}", indent(&indent(policy_text)));
    let signed = bundle::read(&dir.join(ATTESTATION_FILE))?;
    let policy = AskOptions {
        policy: Some(keys.join("policy.toml")),
        trust_store: false,
        ..AskOptions::default()
    };
    outln!("   weightseal verify --policy policy.toml:");
    let verdict = judge(&dir, &mpath, None, &policy, Mode::Files)?;
    show(&verdict)?;
    if !verdict.ok() {
        bail!("the two-role policy was not met");
    }
    // Without the auditor's attestation the same policy fails.
    outln!("   with the publisher's attestation alone:");
    let publisher_only = keys.join("publisher-only.intoto.jsonl");
    let first = signed[0]
        .envelope
        .as_ref()
        .map_err(|e| anyhow::anyhow!("the publisher's attestation: {e}"))?;
    fs::write(&publisher_only, format!("{}\n", first.to_line()))?;
    let verdict = judge(&dir, &mpath, Some(&publisher_only), &policy, Mode::Files)?;
    show(&verdict)?;
    if verdict.ok() {
        bail!("the policy was met without an auditor");
    }

    let victim = "model-00002-of-00003.safetensors";
    let offset = 4_500_000u64;
    outln!("\n== 5. Tamper: flip one bit of byte {offset} of {victim}");
    let p = dir.join(victim);
    let mut data = fs::read(&p)?;
    let Some(byte) = data.get_mut(offset as usize) else {
        bail!("{victim} is shorter than {offset} bytes");
    };
    *byte ^= 0x01;
    fs::write(&p, &data)?;

    outln!("\n== 6. weightseal verify --policy policy.toml again");
    let verdict = judge(&dir, &mpath, None, &policy, Mode::Files)?;
    show(&verdict)?;
    let found = verdict
        .files
        .as_ref()
        .and_then(|r| r.files.iter().find(|f| f.path == victim));
    match found.map(|f| &f.status) {
        Some(FileStatus::Modified { ranges, .. })
            if !verdict.ok()
                && ranges.len() == 1
                && ranges[0].start <= offset
                && offset < ranges[0].end =>
        {
            outln!(
                "\n   Detected: {victim}, bytes {}..{} (the {} chunk holding byte {offset}); exit code would be 1.",
                ranges[0].start,
                ranges[0].end,
                render::bytes(ranges[0].end - ranges[0].start)
            );
        }
        other => bail!("the tampering was not detected as expected: {other:?}"),
    }
    // Undo the tampering for the next step.
    data[offset as usize] ^= 0x01;
    fs::write(&p, &data)?;

    outln!("\n== 7. A mirror re-shards the same weights into 2 files: verify --tensors");
    let mirror = tmp.path().join("mirror");
    reshard(&dir, &mirror, 2)?;
    let verdict = judge(&mirror, &mpath, None, &policy, Mode::Tensors)?;
    show(&verdict)?;
    if !verdict.ok() {
        bail!("the re-sharded copy did not verify tensor by tensor");
    }
    let plain = judge(&mirror, &mpath, None, &policy, Mode::Files)?;
    outln!(
        "   (byte-for-byte `verify` of the mirror says {}: its files differ, its tensors do not)",
        if plain.ok() { "OK" } else { "NOT verified" }
    );

    outln!("\n== 8. weightseal diff: the release against the mirror");
    let mirrored = manifest::build(&mirror, &BuildOptions::default(), &NoProgress)?.manifest;
    let d = weightseal::diff::diff_manifests(&m, &mirrored);
    out!("{}", indent(&render::diff_text(&d)));
    if !d.resharded() {
        bail!("diff did not recognise the re-sharded copy");
    }

    transparency_log(tmp.path(), &dir, &m, &signed, &policy)?;
    Ok(Outcome::Verified)
}

/// Step 9: the release goes into a transparency log; a verifier requires it there; a rogue
/// release under the same name, logged by someone else, is caught by the publisher's monitor.
fn transparency_log(
    tmp: &Path,
    dir: &Path,
    m: &Manifest,
    signed: &[bundle::BundleLine],
    policy: &AskOptions,
) -> Result<()> {
    outln!("\n== 9. The transparency log: log the release, require it with --log-key, and catch a rogue release with log monitor");
    let logdir = tmp.join("log");
    let log_key = Arc::new(PrivateKey::generate()?);
    let log = LogDir::new(&logdir);
    let vkey = log.init("demo.weightseal.dev/log", log_key.clone())?;
    outln!("   weightseal log init: the log's verifier key is {vkey}");
    let entry = LogEntry::of_release(m, signed)?.encode();
    let added = log.add(log_key.clone(), std::slice::from_ref(&entry), &[])?;
    let proof = log.proof(added.first, &entry)?;
    let mpath = dir.join(MANIFEST_FILE);
    write_atomic(&weightseal::path::log_proof_for(&mpath), &proof.encode())?;
    outln!(
        "   weightseal log add: {:?} logged at index {}; proof in {LOG_PROOF_FILE}",
        m.name(),
        added.first
    );
    let logged = AskOptions {
        log_key: Some(vkey.to_string()),
        ..policy.clone()
    };
    outln!("   weightseal verify --policy policy.toml --log-key VKEY:");
    let verdict = judge(dir, &mpath, None, &logged, Mode::Files)?;
    show(&verdict)?;
    if !verdict.ok() {
        bail!("the logged release did not verify with the log required");
    }

    // Someone else publishes altered weights under the same name, signed with their own key,
    // and logs them: a public log takes any well-formed release.
    let rogue = tmp.join("rogue");
    fs::create_dir_all(&rogue)?;
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        if !weightseal::path::EVIDENCE_FILES
            .iter()
            .any(|x| name == std::ffi::OsStr::new(x))
        {
            fs::copy(e.path(), rogue.join(&name))?;
        }
    }
    let victim = rogue.join("model-00003-of-00003.safetensors");
    let mut data = fs::read(&victim)?;
    let at = data.len() - 1;
    data[at] ^= 0x80;
    fs::write(&victim, &data)?;
    let rm = manifest::build(
        &rogue,
        &BuildOptions {
            name: Some(m.name().to_string()),
            ..BuildOptions::default()
        },
        &NoProgress,
    )?
    .manifest;
    let attacker = PrivateKey::generate()?;
    let now = Timestamp::now();
    let env = weightseal::attest::attest(
        &rm,
        &attacker,
        &Claims {
            role: "publisher".into(),
            signer: "Demo Labs".into(),
            issued_at: now,
            expires_at: None,
            version: Some(2),
            derived_from: Vec::new(),
            annotations: Default::default(),
        },
    )?;
    let rogue_entry = LogEntry::of_release(&rm, &bundle::parse(&bundle::appended("", &env)))?;
    let added = log.add(log_key.clone(), &[rogue_entry.encode()], &[])?;
    outln!(
        "   a rogue {:?} version 2 (one byte changed, signed \"Demo Labs\" with the attacker's key {}) is logged at index {}",
        rm.name(),
        attacker.public().id(),
        added.first
    );

    // The publisher watches its name in the log, served over HTTP as any log is.
    let listener = weightseal::log::serve::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.server_addr());
    let served = logdir.clone();
    std::thread::spawn(move || {
        let _ = weightseal::log::serve::serve_log(
            listener,
            &served,
            log_key,
            Vec::new(),
            weightseal::log::serve::LogOptions::default(),
        );
    });
    let ask = Ask::new(&logged)?;
    let Some(log_policy) = ask.log_for(None) else {
        bail!("no log requirement");
    };
    let Trust::Policy(publishers) = ask.trust() else {
        bail!("no publisher policy");
    };
    outln!(
        "   weightseal log monitor {url} {:?} --policy policy.toml --log-key VKEY:",
        m.name()
    );
    let r = weightseal::log::monitor::monitor(
        &url,
        &weightseal::log::monitor::Watch {
            log: &log_policy,
            pattern: m.name(),
            publishers: Some(publishers),
            max_entries: 1 << 20,
        },
        &tmp.join("monitor-state.json"),
    )?;
    out!("{}", indent(&super::log::monitor_lines(&r)));
    if r.ok() || !r.problems.iter().any(|p| p.index == Some(added.first)) {
        bail!("the monitor did not catch the rogue release");
    }
    outln!(
        "\n   Detected: entry {} claims {:?} but is not signed by the publisher's key; the monitor exits 1.",
        added.first,
        rm.name()
    );
    Ok(())
}

/// Copies the model in `src` to `dst` with its tensors re-split into `shards` safetensors
/// files and a new index: the same tensors, another layout.
fn reshard(src: &Path, dst: &Path, shards: usize) -> Result<()> {
    fs::create_dir_all(dst)?;
    let mut files: Vec<_> = fs::read_dir(src)?.collect::<Result<Vec<_>, _>>()?;
    files.sort_by_key(|e| e.file_name());
    let mut blobs = Vec::new();
    for e in &files {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") {
            blobs.push(fs::read(e.path())?);
        } else if name.ends_with(".json") && !name.ends_with(".index.json") {
            fs::copy(e.path(), dst.join(&name))?;
        }
    }
    let parsed = blobs
        .iter()
        .map(|b| safetensors::SafeTensors::deserialize(b))
        .collect::<Result<Vec<_>, _>>()?;
    let mut all: Vec<(String, TensorView)> = parsed.iter().flat_map(|st| st.tensors()).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let per = all.len().div_ceil(shards);
    let mut weight_map = BTreeMap::new();
    for (i, part) in all.chunks(per).enumerate() {
        let file = format!("model-{:05}-of-{:05}.safetensors", i + 1, shards);
        for (name, _) in part {
            weight_map.insert(name.clone(), file.clone());
        }
        let bytes = safetensors::serialize(part.iter().map(|(n, v)| (n.clone(), v.clone())), None)?;
        fs::write(dst.join(&file), bytes)?;
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    fs::write(
        dst.join("model.safetensors.index.json"),
        serde_json::to_vec_pretty(&index)?,
    )?;
    Ok(())
}

/// The one question and the one judge, as `verify` asks them: the model in `dir`, the manifest
/// (and the attestations beside it, or `attestations`) at `manifest`.
fn judge(
    dir: &Path,
    manifest: &Path,
    attestations: Option<&Path>,
    asked: &AskOptions,
    mode: Mode,
) -> Result<Verdict> {
    let ev = gather(
        &Source::Local(dir),
        &Locators {
            manifest: Some(manifest.display().to_string()),
            attestations: attestations.map(|a| a.display().to_string()),
            ..Default::default()
        },
    )?;
    let how = CheckOptions {
        mode,
        ..Default::default()
    };
    Ok(weightseal::release::verify(
        &ev,
        &Ask::new(asked)?,
        &how,
        &NoProgress,
    )?)
}

/// The verdict as `verify` prints it, indented.
fn show(v: &Verdict) -> Result<()> {
    let mut s = String::new();
    if let Some(f) = &v.files {
        s.push_str(&render::report_lines(f));
    }
    if let Some(a) = &v.signatures {
        s.push_str(&super::attest::report_lines(a));
    }
    if let Some(l) = &v.log {
        s.push_str(&render::log_line(l));
    }
    for l in render::verdict_lines(v) {
        s.push_str(&l);
        s.push('\n');
    }
    out!("{}", indent(&s));
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}
