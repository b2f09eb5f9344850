//! `weightseal fetch` and the remote half of `verify --url`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use weightseal::attest::bundle::{self, BundleLine};
use weightseal::attest::time::Timestamp;
use weightseal::fetch::{FetchOptions, Remote};
use weightseal::manifest::{Manifest, MAX_MANIFEST_LEN};
use weightseal::path::{ATTESTATION_FILE, MANIFEST_FILE};
use weightseal::safedir::Dir;

use super::{attest, render, Bar, Outcome};

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The manifest of a remote model: `--manifest PATH|URL`, or `URL/weightseal.manifest`.
pub fn remote_manifest(
    remote: &Remote,
    explicit: Option<&str>,
    limit: u64,
) -> Result<(Manifest, Vec<u8>)> {
    let (origin, bytes) = match explicit {
        Some(p) if !is_url(p) => (
            p.to_string(),
            std::fs::read(p).with_context(|| format!("reading manifest {p}"))?,
        ),
        other => {
            let url = other
                .map(str::to_string)
                .unwrap_or_else(|| remote.url_for(MANIFEST_FILE));
            let b = remote
                .get_document(&url, limit.min(MAX_MANIFEST_LEN))?
                .with_context(|| format!("{url}: the server has no manifest (HTTP 404)"))?;
            (url, b)
        }
    };
    let m = Manifest::decode(&bytes).with_context(|| format!("invalid manifest {origin}"))?;
    Ok((m, bytes))
}

/// The attestations of a remote model: `--attestations PATH`, or `URL/weightseal.intoto.jsonl`
/// (absent is empty).
pub fn remote_bundle(
    remote: &Remote,
    explicit: Option<&Path>,
    limit: u64,
) -> Result<(Vec<BundleLine>, Option<String>)> {
    if let Some(p) = explicit {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        return Ok((bundle::parse(&text), Some(text)));
    }
    let url = remote.url_for(ATTESTATION_FILE);
    match remote.get_document(&url, limit.min(bundle::MAX_BUNDLE_LEN))? {
        None => Ok((Vec::new(), None)),
        Some(b) => {
            let text = String::from_utf8(b).with_context(|| format!("{url}: not UTF-8"))?;
            Ok((bundle::parse(&text), Some(text)))
        }
    }
}

/// `--model` / `--digest`: what the user asked for, checked on the manifest before anything
/// else is downloaded.
pub struct Pins {
    pub model: Option<String>,
    pub digest: Option<weightseal::Digest>,
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    url: &str,
    dest: &Path,
    manifest: Option<&str>,
    keys: &[PathBuf],
    policy: Option<&Path>,
    allow_unsigned: bool,
    pins: &Pins,
    limits: (u64, u64),
    opts: &FetchOptions,
    json: bool,
) -> Result<Outcome> {
    let trust = attest::load_trust(keys, policy)?;
    let remote = Remote::new(url, opts.clone())?;
    let (m, manifest_bytes) = remote_manifest(&remote, manifest, limits.0)?;
    // No --key or --policy: the trust store's entries for this model, if any.
    let trust = match trust {
        Some(t) => Some(t),
        None => attest::trust_store_policy(m.name())?,
    };
    if trust.is_none() && !allow_unsigned && pins.digest.is_none() {
        bail!("refusing to download {}: no --key or --policy is given and no trust store entry matches it, so nobody vouches for its manifest; give --key PUB or --policy POLICY, add the publisher with `weightseal trust add`, or pass --allow-unsigned for integrity checking only", m.name());
    }
    let problems = weightseal::attest::policy::check_pins(
        pins.model.as_deref(),
        pins.digest,
        m.name(),
        m.digest(),
    );
    if !problems.is_empty() {
        out!("{}", attest::pin_lines(&problems));
        eprintln!(
            "weightseal: the server's manifest is not the release asked for; nothing downloaded"
        );
        return Ok(Outcome::NotVerified);
    }
    let (lines, bundle_text) = remote_bundle(&remote, None, limits.1)?;
    // The attestations are judged before any weight byte is requested.
    if let Some(p) = &trust {
        let verdict = weightseal::attest::check_release(p, &m, &lines, Timestamp::now())
            .map_err(anyhow::Error::msg)?;
        if !verdict.ok {
            out!("{}", attest::report_lines(&verdict));
            eprintln!("{}", attest::summary(&verdict));
            eprintln!("weightseal: nothing downloaded");
            return Ok(Outcome::NotVerified);
        }
        eprintln!("{}", attest::summary(&verdict));
    }
    let bar = Bar::new("fetching");
    let report = weightseal::fetch::fetch(&remote, &m, dest, bar.progress())?;
    bar.finish();
    let failed = report.files.iter().filter(|f| f.error.is_some()).count();
    if failed == 0 {
        // Every file verified (extra files may still fail the fetch): the manifest goes
        // beside them, so that `verify DEST` judges the directory as fetch did. Through the destination's handle: a link planted at these names is refused, not
        // followed or replaced.
        let root = Dir::open(dest, false)?;
        root.write_atomic(MANIFEST_FILE, &manifest_bytes, 0o644)?;
        if let Some(text) = &bundle_text {
            root.write_atomic(ATTESTATION_FILE, text.as_bytes(), 0o644)?;
        }
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in &report.files {
            match (f.status, &f.error) {
                ("present", _) => outln!("{}: OK (already present)", f.path),
                (_, None) if f.resumed > 0 => outln!(
                    "{}: OK ({} resumed, {} downloaded)",
                    f.path,
                    render::bytes(f.resumed),
                    render::bytes(f.downloaded)
                ),
                (_, None) => outln!("{}: OK", f.path),
                (_, Some(e)) => outln!("{}: FAILED ({e})", f.path),
            }
        }
        for x in &report.extra {
            let why = x
                .reason
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            if x.allowed {
                outln!("{}: extra (not in the manifest, allowed{why})", x.path);
            } else {
                outln!("{}: FAILED (extra: not in the manifest{why})", x.path);
            }
        }
    }
    let extra = report.extra.iter().filter(|x| !x.allowed).count();
    if report.ok {
        eprintln!(
            "weightseal: fetched {} verified: {} file(s), {} downloaded in {} request(s), into {}",
            m.name(),
            report.files.len(),
            render::bytes(report.downloaded),
            report.requests,
            dest.display()
        );
        Ok(Outcome::Verified)
    } else if failed == 0 {
        eprintln!(
            "weightseal: fetch of {}: every file verified, but DEST holds {extra} file(s) the manifest does not list; `verify` would fail it: remove them or pass --allow-extra",
            m.name(),
        );
        Ok(Outcome::NotVerified)
    } else {
        eprintln!(
            "weightseal: fetch of {} NOT complete: {failed} file(s) failed; verified chunks are kept in {} for a rerun",
            m.name(),
            dest.join(weightseal::path::PARTIAL_DIR).display()
        );
        Ok(Outcome::NotVerified)
    }
}
