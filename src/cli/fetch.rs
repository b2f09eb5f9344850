//! `weightseal fetch` and the remote half of `verify --url`.

use std::path::Path;

use anyhow::Result;

use weightseal::release::{Trust, Verdict, Vouched};

use super::{attest, render, Outcome};

/// Renders a fetch's verdict (text or JSON) and picks the exit code from [`Verdict::ok`].
/// `landed`: what `verify` takes afterwards (`dest`, or `dest/FILE` for a single-file model).
pub fn render(
    verdict: &Verdict,
    dest: &Path,
    landed: &Path,
    trust: &Trust,
    json: bool,
) -> Result<Outcome> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&verdict.to_json())?);
    } else {
        out!("{}", attest::pin_lines(&verdict.pins));
        if let Some(l) = &verdict.log {
            out!("{}", render::log_line(l));
        }
        if let Some(s) = verdict.signatures.as_ref().filter(|s| !s.ok) {
            out!("{}", attest::report_lines(s));
        }
        if let Some(report) = &verdict.download {
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
                        "model.sig: NOT delivered (its {} resource(s) are the files delivered, but its signature was not checked: no key it names was given; give its key with --key to deliver it)",
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
            .download
            .as_ref()
            .expect("a verified fetch downloaded its files");
        // Success words only for what was shown: a signature, or the digest pinned; integrity
        // only says so.
        let how = match verdict.vouched {
            Vouched::IntegrityOnly => "integrity only (signatures NOT checked, as asked)",
            Vouched::DigestPinned => "verified by the --digest pin (signatures NOT checked)",
            _ => "verified",
        };
        eprintln!(
            "weightseal: fetched {} {how}: {} file(s), {} downloaded in {} request(s), into {}",
            verdict.name,
            report.files.len(),
            render::bytes(report.downloaded),
            report.requests,
            landed.display()
        );
    } else {
        eprintln!(
            "weightseal: fetch of {} NOT verified: {}",
            verdict.name,
            verdict.reasons.join("; ")
        );
        if verdict.vouched == Vouched::NoTrustedKey {
            eprintln!("weightseal: give --key PUB or --policy POLICY, add the publisher with `weightseal trust add`, pin --digest, or pass --allow-unsigned for integrity checking only");
        }
        match &verdict.download {
            None => eprintln!("weightseal: nothing downloaded"),
            Some(r) if r.files.iter().any(|f| f.error.is_some()) => eprintln!(
                "weightseal: verified chunks are kept in {} for a rerun",
                dest.join(weightseal::path::PARTIAL_DIR).display()
            ),
            Some(r) if r.extra.iter().any(|x| !x.allowed) => eprintln!(
                "weightseal: the release's evidence was not written into DEST: remove the extra files or pass --allow-extra"
            ),
            Some(_) => eprintln!(
                "weightseal: the files verified against the manifest, but the release's evidence was not written into DEST"
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
    if let Trust::Store(path) = trust {
        attest::say_trust_store(path, &verdict.trust_store);
    }
    Ok(if verdict.ok() {
        Outcome::Verified
    } else {
        Outcome::NotVerified
    })
}
