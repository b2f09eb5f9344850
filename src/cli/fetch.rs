//! `weightseal fetch` and the remote half of `verify --url`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use weightseal::fetch::{FetchOptions, Remote};
use weightseal::release::{FetchReleaseError, FetchRequest};

use super::{attest, render, Bar, Outcome};

#[allow(clippy::too_many_arguments)]
pub fn run(
    url: &str,
    dest: &Path,
    manifest: Option<&str>,
    attestations: Option<&str>,
    signature: Option<&str>,
    log: Option<weightseal::log::LogPolicy>,
    keys: &[PathBuf],
    policy: Option<&Path>,
    allow_unsigned: bool,
    pins: &weightseal::release::Pins,
    limits: (u64, u64),
    opts: &FetchOptions,
    json: bool,
) -> Result<Outcome> {
    let given = attest::load_trust(keys, policy)?;
    // The publisher's keys also check the release's OpenSSF model signing bundle (model.sig).
    let oms_check = given
        .as_ref()
        .map(|p| weightseal::oms::OmsCheck::Keys(p.keys_for_role("publisher")));
    let trust = weightseal::release::Trust::given_or_store(given, true);
    let remote = Remote::new(url, opts.clone())?;
    let req = FetchRequest {
        manifest: manifest.map(str::to_string),
        attestations: attestations.map(str::to_string),
        trust: trust.clone(),
        allow_unsigned,
        pins: pins.clone(),
        manifest_limit: limits.0,
        bundle_limit: limits.1,
        signature: signature.map(str::to_string),
        oms_check,
        log,
    };
    let bar = Bar::new("fetching");
    let verdict = match weightseal::release::fetch_release(&remote, dest, &req, bar.progress()) {
        Ok(v) => v,
        Err(e @ FetchReleaseError::Unvouched { .. }) => bail!("{e}; give --key PUB or --policy POLICY, add the publisher with `weightseal trust add`, or pass --allow-unsigned for integrity checking only"),
        Err(e) => return Err(e.into()),
    };
    bar.finish();
    if json {
        // The download's report (when there was one), with what `verify --json` says of the
        // release; a refusal before the download is JSON too.
        let mut v = match &verdict.files {
            Some(report) => serde_json::to_value(report)?,
            None => serde_json::json!({"files": [], "downloaded": 0}),
        };
        v["name"] = serde_json::json!(verdict.name);
        v["manifest_digest"] = serde_json::json!(verdict.manifest_digest.to_hex());
        v["vouched"] = serde_json::json!(verdict.vouched);
        v["signatures"] = match &verdict.signatures {
            Some(s) => serde_json::to_value(s)?,
            None => serde_json::json!("not-checked"),
        };
        if !verdict.pins.is_empty() {
            v["pins"] = serde_json::to_value(&verdict.pins)?;
        }
        if !verdict.trust_store.is_empty() {
            v["trust_store"] = serde_json::json!(verdict.trust_store);
        }
        if let Some(o) = &verdict.oms {
            v["signature"] = serde_json::to_value(o)?;
        }
        if let Some(l) = &verdict.log {
            v["log"] = serde_json::to_value(l)?;
        }
        v["reasons"] = serde_json::json!(verdict.reasons);
        v["ok"] = serde_json::json!(verdict.ok());
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        out!("{}", attest::pin_lines(&verdict.pins));
        if let Some(l) = &verdict.log {
            out!("{}", render::log_line(l));
        }
        if let Some(s) = verdict.signatures.as_ref().filter(|s| !s.ok) {
            out!("{}", attest::report_lines(s));
        }
        if let Some(report) = &verdict.files {
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
                    // The reason without the path the line already starts with.
                    (_, Some(e)) => outln!(
                        "{}: FAILED ({})",
                        f.path,
                        e.strip_prefix(&format!("{}: ", f.path)).unwrap_or(e)
                    ),
                }
            }
            if let Some(o) = &verdict.oms {
                match (&o.error, &o.signer) {
                    (Some(e), _) => outln!("model.sig: FAILED ({e})"),
                    (None, Some(who)) => outln!(
                        "model.sig: OK (OpenSSF model signing, {who}; its {} resource(s) are the files delivered)",
                        o.resources
                    ),
                    (None, None) => outln!(
                        "model.sig: OK (its {} resource(s) are the files delivered; signature not checked: no key it names was given)",
                        o.resources
                    ),
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
    }
    // The headline first: verified, or NOT and why.
    if verdict.ok() {
        let report = verdict
            .files
            .as_ref()
            .expect("a verified fetch downloaded its files");
        eprintln!(
            "weightseal: fetched {} verified: {} file(s), {} downloaded in {} request(s), into {}",
            verdict.name,
            report.files.len(),
            render::bytes(report.downloaded),
            report.requests,
            dest.display()
        );
    } else {
        eprintln!(
            "weightseal: fetch of {} NOT verified: {}",
            verdict.name,
            verdict.reasons.join("; ")
        );
        match &verdict.files {
            None => eprintln!("weightseal: nothing downloaded"),
            Some(r) if r.files.iter().any(|f| f.error.is_some()) => eprintln!(
                "weightseal: verified chunks are kept in {} for a rerun",
                dest.join(weightseal::path::PARTIAL_DIR).display()
            ),
            Some(_) => eprintln!(
                "weightseal: `verify` would fail this directory: remove the extra files or pass --allow-extra"
            ),
        }
    }
    if let Some(s) = &verdict.signatures {
        let roles: Vec<String> = s
            .roles
            .iter()
            .map(|x| format!("{} {}/{}", x.role, x.keys.len(), x.threshold))
            .collect();
        if s.ok && verdict.ok() {
            eprintln!("weightseal: trust policy met ({})", roles.join(", "));
        } else if !s.ok {
            eprintln!("weightseal: trust policy NOT met ({})", roles.join(", "));
        }
    }
    if let weightseal::release::Trust::Store(path) = &trust {
        attest::say_trust_store(path, &verdict.trust_store);
    }
    Ok(if verdict.ok() {
        Outcome::Verified
    } else {
        Outcome::NotVerified
    })
}
