//! Rendering library results as text (b3sum `--check` style) and JSON.

use serde_json::Value;

use weightseal::diff::{ManifestDiff, TensorDiff};
use weightseal::manifest::{Manifest, FORMAT_VERSION};
use weightseal::release::{Format, Verdict, Vouched};
use weightseal::verify::{FileStatus, Report};

/// Human-readable byte count: `1.50 GiB`, `12.0 MiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

pub fn manifest_json(m: &Manifest) -> Value {
    m.to_json()
}

pub fn manifest_text(m: &Manifest, with_tensors: bool) -> String {
    let mut s = String::new();
    s.push_str(&format!("name:        {}\n", m.name()));
    s.push_str(&format!("format:      {FORMAT_VERSION}\n"));
    s.push_str(&format!("digest:      {}\n", m.digest()));
    s.push_str(&format!(
        "chunk size:  {} ({} bytes)\n",
        bytes(m.chunk_size().get()),
        m.chunk_size().get()
    ));
    s.push_str(&format!(
        "files:       {} ({})\n",
        m.files().len(),
        bytes(m.total_size())
    ));
    let with_sha256 = m.files().iter().filter(|f| f.sha256.is_some()).count();
    if with_sha256 > 0 {
        s.push_str(&format!(
            "sha256:      recorded for {with_sha256} of {} file(s)\n",
            m.files().len()
        ));
    }
    if let Some(d) = m.tensor_digest() {
        let files = m.files().iter().filter(|f| f.tensors.is_some()).count();
        s.push_str(&format!(
            "tensors:     {} in {files} tensor file(s) (tensor-set digest {d}){}\n",
            m.tensors().count(),
            if with_tensors {
                ""
            } else {
                "; --tensors lists them"
            }
        ));
    }
    for f in m.files() {
        let chunks = if f.tree.chunks.is_empty() {
            1
        } else {
            f.tree.chunks.len()
        };
        let kind = match &f.tensors {
            Some(tf) => format!("  ({}, {} tensor(s))", tf.format.as_str(), tf.tensors.len()),
            None => String::new(),
        };
        s.push_str(&format!(
            "  {}  {:>12}  {:>6} chunk(s)  {}{kind}\n",
            f.tree.root,
            f.tree.size,
            chunks,
            clean(f.path.as_str())
        ));
        if let Some(h) = &f.sha256 {
            s.push_str(&format!("      sha256 {h}\n"));
        }
        if let (Some(tf), true) = (&f.tensors, with_tensors) {
            s.push_str(&format!(
                "      {}: header {} bytes ({}), {} tensor(s)\n",
                tf.format.as_str(),
                tf.header_len,
                tf.header,
                tf.tensors.len()
            ));
            for t in &tf.tensors {
                s.push_str(&format!(
                    "      {}  {:>8} {:<20} {}..{}  {}\n",
                    t.digest,
                    clean(&t.dtype),
                    format!("{:?}", t.shape),
                    t.start,
                    t.end,
                    clean(&t.name)
                ));
            }
        }
    }
    s
}

/// Text from a file or a signature (a tensor name, a model name, a dtype) as it is safe to
/// print on a terminal: control characters (escape sequences) are shown escaped.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        std::borrow::Cow::Owned(s.escape_debug().to_string())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Text as it is safe to write to a terminal or a pipe: newlines stay; every other control
/// character and every Unicode format character (bidirectional overrides, zero-width
/// characters) becomes `\uXXXX` (UTF-16 code units), which reads back losslessly inside JSON
/// strings and shows plainly in text.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c != '\n' && (c.is_control() || weightseal::path::is_format_char(c));
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if bad(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04X}", u));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The exact differing bytes: `exactly byte 1000 differs`, `exactly bytes 10..12, 4096 differ`,
/// or, past a few runs, a count first: `exactly 6 bytes differ in 5 runs, the first 10..12,
/// 4096, 4100, 4200`.
fn exact_bytes_text(runs: &[weightseal::verify::ByteRange], total: u64, differing: u64) -> String {
    const SHOWN: usize = 4;
    let list: Vec<String> = runs
        .iter()
        .take(SHOWN)
        .map(|r| {
            if r.end - r.start == 1 {
                r.start.to_string()
            } else {
                format!("{}..{}", r.start, r.end)
            }
        })
        .collect();
    let amount = if differing >= 1024 {
        format!("{differing} bytes ({})", bytes(differing))
    } else {
        format!("{differing} bytes")
    };
    match (total, differing) {
        (1, 1) => format!("exactly byte {} differs", list[0]),
        (t, _) if t as usize <= SHOWN => format!("exactly bytes {} differ", list.join(", ")),
        (t, _) => format!(
            "exactly {amount} differ in {t} runs, the first {}",
            list.join(", ")
        ),
    }
}

/// `metadata changed: tokenizer.chat_template, llama.context_length`.
fn metadata_text(keys: &[String]) -> String {
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    let n = named("", &names);
    format!(
        "metadata changed: {}",
        n.split_once(": ").map(|x| x.1).unwrap_or("")
    )
}

/// `n things: a, b, c and 2 more`.
fn named(count_word: &str, names: &[&str]) -> String {
    const SHOWN: usize = 4;
    let mut s = format!(
        "{} {count_word}: {}",
        names.len(),
        names
            .iter()
            .take(SHOWN)
            .map(|n| clean(n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// `1 tensor changed: a; 1 retyped: b (F32 [2] -> F16 [2]); ...` for a tensor diff.
pub fn tensor_diff_text(d: &TensorDiff) -> Vec<String> {
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let mut parts = Vec::new();
    let noun = |n: usize| if n == 1 { "tensor" } else { "tensors" };
    if !d.changed.is_empty() {
        parts.push(named(
            &format!("{} changed", noun(d.changed.len())),
            &strs(&d.changed),
        ));
    }
    if !d.retyped.is_empty() {
        let v: Vec<String> = d
            .retyped
            .iter()
            .map(|r| {
                format!(
                    "{} ({} {:?} -> {} {:?})",
                    r.name, r.expected_dtype, r.expected_shape, r.found_dtype, r.found_shape
                )
            })
            .collect();
        parts.push(named(
            &format!("{} with another dtype or shape", noun(v.len())),
            &strs(&v),
        ));
    }
    if !d.removed.is_empty() {
        parts.push(named(
            &format!("{} missing", noun(d.removed.len())),
            &strs(&d.removed),
        ));
    }
    if !d.added.is_empty() {
        parts.push(named(
            &format!("{} added", noun(d.added.len())),
            &strs(&d.added),
        ));
    }
    parts
}

/// The reason in `path: FAILED (reason)`.
pub fn failure_reason(status: &FileStatus) -> Option<String> {
    Some(match status {
        FileStatus::Ok | FileStatus::Extra { allowed: true, .. } => return None,
        FileStatus::TensorFile { differing, tensors } if !differing.is_empty() => {
            let names: Vec<&str> = differing.iter().map(String::as_str).collect();
            format!(
                "{} of {tensors}",
                named("tensors differ from the manifest", &names)
            )
        }
        FileStatus::TensorFile { .. } => return None,
        FileStatus::DigestMismatch {
            algorithm,
            expected,
            found,
            ranges,
        } => {
            let list: Vec<String> = ranges
                .iter()
                .map(|b| format!("{}..{}", b.start, b.end))
                .collect();
            if expected.is_empty() {
                format!(
                    "modified: the {algorithm} of bytes {} differs",
                    list.join(", ")
                )
            } else {
                format!("modified: {algorithm} {found}, expected {expected}")
            }
        }
        FileStatus::Missing => "missing".into(),
        FileStatus::Extra { .. } => "extra: not in the manifest".into(),
        FileStatus::Unreadable { reason } => format!("unreadable: {reason}"),
        FileStatus::Modified {
            expected_size,
            found_size,
            ranges,
            chunk_size,
            overlapping,
            tensors,
            ..
        } => {
            let mut parts = Vec::new();
            if expected_size != found_size {
                parts.push(format!("size {found_size}, expected {expected_size}"));
            }
            parts.push(chunk_ranges_text(ranges, *chunk_size));
            if tensors.is_none() && !overlapping.is_empty() {
                let names: Vec<&str> = overlapping.iter().map(String::as_str).collect();
                // The manifest's tensors in those bytes (the tensors were not re-hashed).
                let word = if names.len() == 1 {
                    "tensor"
                } else {
                    "tensors"
                };
                parts.push(named(&format!("{word} there"), &names));
            }
            if let Some(t) = tensors {
                if t.header_changed {
                    parts.push("header changed".into());
                }
                if let Some(why) = &t.unparsable {
                    parts.push(format!("no longer parses: {why}"));
                }
                if !t.metadata_changed.is_empty() {
                    parts.push(metadata_text(&t.metadata_changed));
                }
                parts.extend(tensor_diff_text(&t.diff));
            }
            format!("modified: {}", parts.join("; "))
        }
    })
}

/// Where a modified file differs, as far as chunk values tell: `somewhere in bytes a..b, one
/// 4.00 MiB chunk` or `somewhere in bytes a..b, c..d (5 chunks)` (the first 4 ranges shown).
/// The exact bytes are only known with the original at hand (`exactly …`).
pub fn chunk_ranges_text(ranges: &[weightseal::verify::ByteRange], chunk_size: u64) -> String {
    let cs = chunk_size.max(1);
    let chunks: u64 = ranges.iter().map(|r| (r.end - r.start).div_ceil(cs)).sum();
    let list: Vec<String> = ranges
        .iter()
        .map(|b| format!("{}..{}", b.start, b.end))
        .collect();
    let list: Vec<&str> = list.iter().map(String::as_str).collect();
    let shown = named("", &list);
    let shown = shown.split_once(": ").map(|x| x.1).unwrap_or("");
    match (ranges, chunks) {
        ([r], 1) => format!(
            "somewhere in bytes {shown}, one {} chunk",
            bytes(r.end - r.start)
        ),
        _ => format!("somewhere in bytes {shown} ({chunks} chunks)"),
    }
}

/// b3sum `--check` style lines, one per path, then index problems and the tensor set.
pub fn report_lines(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.files {
        let path = clean(&f.path);
        // A sampled check says so on every line: its OK is about the chunks it read.
        let sampled = r.sampled(&f.path).map(|x| {
            if x.range_ignored {
                format!(
                    "the server ignores Range: the whole file was read, all {} chunks checked",
                    x.chunks
                )
            } else {
                format!("sampled {} of {} chunks", x.checked, x.chunks)
            }
        });
        match (&f.status, failure_reason(&f.status)) {
            (FileStatus::Extra { allowed: true, .. }, _) => {
                s.push_str(&format!("{}: EXTRA (allowed)\n", path))
            }
            (FileStatus::TensorFile { tensors, .. }, None) => {
                s.push_str(&format!("{}: OK ({tensors} tensors)\n", path))
            }
            (_, None) => match &sampled {
                Some(x) => s.push_str(&format!("{path}: OK ({x})\n")),
                None => s.push_str(&format!("{}: OK\n", path)),
            },
            (_, Some(reason)) => {
                let exact = r.exact.iter().find(|e| e.path == f.path);
                let reason = match exact {
                    Some(e) => format!("{reason}; {}", exact_bytes_text(&e.runs, e.total, e.bytes)),
                    None => reason,
                };
                match &sampled {
                    Some(x) => s.push_str(&format!("{path}: FAILED ({reason}; {x})\n")),
                    None => s.push_str(&format!("{}: FAILED ({reason})\n", path)),
                }
                if let Some(t) = exact.and_then(|e| e.text_diff.as_deref()) {
                    for line in t.lines() {
                        s.push_str(&format!("    {}\n", terminal_safe(line)));
                    }
                }
            }
        }
    }
    for p in &r.index {
        s.push_str(&format!("{}: FAILED (index {})\n", p.index, p.problem));
    }
    if let Some(t) = &r.tensor_set {
        let layout = if t.layout_differs {
            format!(
                "; layout differs from the manifest's: {} tensor file(s) there, {} here",
                t.expected_files.len(),
                t.found_files.len()
            )
        } else {
            "; same layout as the manifest".into()
        };
        if t.ok {
            s.push_str(&format!(
                "tensor set: OK ({} tensors, digest {}{layout})\n",
                t.count, t.found_digest
            ));
        } else {
            let mut parts = tensor_diff_text(&t.diff);
            if !t.metadata.changed.is_empty() {
                parts.push(metadata_text(&t.metadata.changed));
            }
            if t.metadata.expected_digest.is_none() {
                parts.push("the manifest records no tensor-file metadata (written by an older weightseal), so the metadata cannot be checked: hash the release again".into());
            }
            if parts.is_empty() && t.found_digest != t.expected_digest {
                parts.push(format!(
                    "digest {} expected {}",
                    t.found_digest, t.expected_digest
                ));
            }
            if parts.is_empty() {
                parts.push(format!(
                    "metadata digest {} expected {}",
                    t.metadata.found_digest,
                    t.metadata
                        .expected_digest
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                ));
            }
            s.push_str(&format!(
                "tensor set: FAILED ({}{layout})\n",
                parts.join("; ")
            ));
        }
    }
    s
}

/// What the command line adds to a verdict when it renders it.
#[derive(Default)]
pub struct Shown<'a> {
    /// The OMS bundle file.
    pub signature: Option<&'a std::path::Path>,
}

/// File counts of a report: ok, modified, missing, extra, unreadable.
fn counts(r: &Report) -> String {
    let count = |p: fn(&FileStatus) -> bool| r.files.iter().filter(|f| p(&f.status)).count();
    let ok = count(|s| s.passes());
    let modified = count(|s| {
        matches!(
            s,
            FileStatus::Modified { .. }
                | FileStatus::TensorFile { .. }
                | FileStatus::DigestMismatch { .. }
        ) && !s.passes()
    });
    let missing = count(|s| matches!(s, FileStatus::Missing));
    let extra = count(|s| matches!(s, FileStatus::Extra { allowed: false, .. }));
    let unreadable = count(|s| matches!(s, FileStatus::Unreadable { .. }));
    let mut s = format!(
        "{ok} ok, {modified} modified, {missing} missing, {extra} extra, {unreadable} unreadable"
    );
    if !r.index.is_empty() {
        s.push_str(&format!(", {} index problem(s)", r.index.len()));
    }
    if r.tensor_set.as_ref().is_some_and(|t| !t.ok) {
        s.push_str(", tensor set differs");
    }
    s
}

/// A "sampled" check that was not one: the server ignored Range, and every chunk of every
/// file was read.
fn whole_reads(sampled: &[weightseal::verify::SampledFile]) -> bool {
    sampled.iter().any(|x| x.range_ignored) && sampled.iter().all(|x| x.checked >= x.chunks)
}

/// The stderr lines of a verdict. The first says what the user must know: verified, or NOT
/// verified and why. Success words come only from [`Verdict::ok`]; the lines after a refusal
/// give details without them.
pub fn verdict_lines(v: &Verdict) -> Vec<String> {
    let name = if v.name.is_empty() {
        "the release".to_string()
    } else {
        v.name.clone()
    };
    let mode = match v.files.as_ref().and_then(|f| f.tensor_set.as_ref()) {
        Some(_) => " (tensor set, any sharding)",
        None => "",
    };
    let mut out = Vec::new();
    if v.ok() {
        let what = match &v.files {
            // Admitted on its manifest (a loader or a derivation checks each tensor as it
            // reads it).
            None => "tensors (each checked as it is read)".to_string(),
            Some(files) => {
                let ok = files.files.iter().filter(|f| f.status.passes()).count();
                match &files.tensor_set {
                    Some(t) => format!("{ok} file(s) and {} tensors", t.count),
                    None if !files.sampled.is_empty() && !whole_reads(&files.sampled) => {
                        let checked: u64 = files.sampled.iter().map(|x| x.checked).sum();
                        let chunks: u64 = files.sampled.iter().map(|x| x.chunks).sum();
                        format!("{ok} file(s), a SAMPLE of {checked} of {chunks} chunks,")
                    }
                    None => match v.size {
                        Some(size) => format!("{ok} file(s), {}", bytes(size)),
                        None => format!("{ok} file(s)"),
                    },
                }
            }
        };
        let against = match (&v.format, &v.oms) {
            (Format::Oms, Some(o)) => format!(
                "its OpenSSF model signing signature ({})",
                o.signer.as_deref().unwrap_or("")
            ),
            _ => format!(
                "manifest {}",
                v.manifest_digest.map(|d| d.to_hex()).unwrap_or_default()
            ),
        };
        // Success words only for what was shown: "verified" when a signature vouched or the
        // digest was pinned; integrity only says so and nothing more.
        match v.vouched {
            Vouched::IntegrityOnly => out.push(format!(
                "weightseal: {name} integrity only{mode}: {what} match {against}; signatures NOT checked (as asked), so this shows only that the files match this manifest, which whoever changed the files could have regenerated"
            )),
            Vouched::DigestPinned => out.push(format!(
                "weightseal: {name} verified{mode}: {what} match {against}, the one the --digest pin names (signatures NOT checked)"
            )),
            _ => out.push(format!(
                "weightseal: {name} verified{mode}: {what} match {against}"
            )),
        }
        if let (Vouched::Checked, Some(s)) = (v.vouched, &v.signatures) {
            out.push(format!("weightseal: trust policy met ({})", roles(s)));
        }
        if v.vouched != Vouched::Checked && v.self_served {
            out.push("weightseal: note: the manifest comes from the server being checked and no key vouches for it: this shows the server is self-consistent, not that it serves the publisher's release".to_string());
        }
    } else {
        out.push(format!(
            "weightseal: {name} NOT verified{mode}: {}",
            v.reasons.join("; ")
        ));
        if let Some(f) = &v.files {
            out.push(format!(
                "weightseal: files: {}{}",
                counts(f),
                v.manifest_digest
                    .filter(|_| v.format == Format::Weightseal)
                    .map(|d| format!(" (manifest {d})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(s) = &v.signatures {
            if s.ok {
                out.push(format!(
                    "weightseal: attestations: {} (in order by themselves)",
                    roles(s)
                ));
            } else {
                let why: Vec<&str> = s.problems.iter().map(|p| p.code).collect();
                out.push(format!(
                    "weightseal: trust policy NOT met ({}{}{})",
                    roles(s),
                    if why.is_empty() { "" } else { "; " },
                    why.join(", ")
                ));
            }
        }
        if v.vouched == Vouched::NoTrustedKey {
            out.push(format!("weightseal: to trust a publisher for this name: `weightseal trust add KEY.pub --model {:?}`, or pass --key PUB or --policy POLICY; --digest HEX pins a manifest learned out of band; --integrity-only checks the files against the manifest alone", v.name));
        }
    }
    if !v.trust_store.is_empty() {
        out.push(format!(
            "weightseal: no --key or --policy: using the trust store: {}",
            v.trust_store.join(", ")
        ));
    }
    if let (Some(f), Some(files)) = (v.sample, &v.files) {
        let whole: Vec<&str> = files
            .sampled
            .iter()
            .filter(|s| s.range_ignored)
            .map(|s| s.path.as_str())
            .collect();
        let all_read = files.sampled.iter().all(|x| x.checked >= x.chunks);
        if !whole.is_empty() && all_read {
            out.push("weightseal: not a sample: the server ignores Range requests, so every file was downloaded whole and every chunk checked".to_string());
        } else {
            out.push(format!(
                "weightseal: SAMPLE: checked a random {:.1}% of each file's chunks, not every byte",
                f * 100.0
            ));
            if !whole.is_empty() {
                out.push(format!(
                    "weightseal: the server ignored Range for {} file(s), downloaded whole and checked completely: {}",
                    whole.len(),
                    whole.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    out
}

/// `transparency log: OK (…)` or `FAILED (…)`.
pub fn log_line(l: &weightseal::release::LogCheck) -> String {
    match (&l.proof, &l.error) {
        (Some(p), None) => format!(
            "transparency log: OK ({}, entry {} of {}, cosigned by {})\n",
            clean(&p.origin),
            p.index,
            p.size,
            if p.witnesses.is_empty() {
                "no witness".to_string()
            } else {
                clean(&p.witnesses.join(", ")).into_owned()
            }
        ),
        (_, Some(e)) => format!("transparency log: FAILED ({})\n", clean(e)),
        _ => String::new(),
    }
}

/// `publisher 1/1, auditor 0/1`.
fn roles(r: &weightseal::attest::policy::PolicyReport) -> String {
    r.roles
        .iter()
        .map(|x| format!("{} {}/{}", x.role, x.keys.len(), x.threshold))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints a release's verdict (text or JSON) and picks the exit code from [`Verdict::ok`].
pub fn render_verdict(v: &Verdict, shown: &Shown, json: bool) -> anyhow::Result<super::Outcome> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&v.to_json())?);
    } else {
        out!("{}", super::attest::pin_lines(&v.pins));
        if let Some(f) = &v.files {
            out!("{}", report_lines(f));
        }
        if let Some(s) = &v.signatures {
            out!("{}", super::attest::report_lines(s));
        }
        if let Some(o) = &v.oms {
            let sig = shown
                .signature
                .map(|p| format!("signature {}", p.display()))
                .unwrap_or_else(|| "model.sig".into());
            match &o.error {
                None => outln!(
                    "{sig}: OK (OpenSSF model signing, {}, {} {}, {} resource(s){})",
                    clean(
                        o.signer
                            .as_deref()
                            .unwrap_or("signature not checked: no key of yours")
                    ),
                    o.hash_type.as_deref().unwrap_or(""),
                    o.serialization.unwrap_or(""),
                    o.resources,
                    if o.legacy {
                        ", model_signing 0.2 format"
                    } else {
                        ""
                    }
                ),
                Some(e) => outln!("{sig}: FAILED ({})", clean(e)),
            }
        }
        if let Some(l) = &v.log {
            out!("{}", log_line(l));
        }
    }
    for line in verdict_lines(v) {
        eprintln!("{line}");
    }
    Ok(if v.ok() {
        super::Outcome::Verified
    } else {
        super::Outcome::NotVerified
    })
}

/// `weightseal diff` as text.
pub fn diff_text(d: &ManifestDiff) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "files: {} changed, {} added, {} removed, {} same\n",
        d.files_changed.len(),
        d.files_added.len(),
        d.files_removed.len(),
        d.files_same
    ));
    for c in &d.files_changed {
        let mut parts = Vec::new();
        if c.size_a != c.size_b {
            parts.push(format!("size {} -> {}", c.size_a, c.size_b));
        }
        if let Some(r) = &c.ranges {
            let list: Vec<String> = r
                .iter()
                .map(|b| format!("{}..{}", b.start, b.end))
                .collect();
            let list: Vec<&str> = list.iter().map(String::as_str).collect();
            parts.push(named("byte range(s) differ", &list));
        }
        if c.header_changed == Some(true) {
            parts.push("header changed".into());
        }
        if let Some(m) = c.metadata_changed.as_ref().filter(|m| !m.is_empty()) {
            parts.push(metadata_text(m));
        }
        if let Some(t) = &c.tensors {
            parts.extend(tensor_diff_text(t));
        }
        if let (Some(runs), Some(total), Some(n)) = (&c.bytes, c.byte_runs, c.bytes_differing) {
            parts.push(exact_bytes_text(runs, total, n));
        }
        s.push_str(&format!("  changed  {}: {}\n", c.path, parts.join("; ")));
        if let Some(t) = &c.text_diff {
            for line in t.lines() {
                s.push_str(&format!("    {line}\n"));
            }
        }
    }
    for p in &d.files_added {
        s.push_str(&format!("  added    {p}\n"));
    }
    for p in &d.files_removed {
        s.push_str(&format!("  removed  {p}\n"));
    }
    if let Some(t) = &d.tensors {
        s.push_str(&format!(
            "tensors: {} changed, {} with another dtype or shape, {} removed, {} added, {} same\n",
            t.changed.len(),
            t.retyped.len(),
            t.removed.len(),
            t.added.len(),
            t.same
        ));
        for n in &t.changed {
            s.push_str(&format!("  changed  {n}\n"));
        }
        for r in &t.retyped {
            s.push_str(&format!(
                "  retyped  {}: {} {:?} -> {} {:?}\n",
                r.name, r.expected_dtype, r.expected_shape, r.found_dtype, r.found_shape
            ));
        }
        for n in &t.removed {
            s.push_str(&format!("  removed  {n}\n"));
        }
        for n in &t.added {
            s.push_str(&format!("  added    {n}\n"));
        }
    }
    if let Some(m) = d.metadata_changed.as_ref().filter(|m| !m.is_empty()) {
        s.push_str(&format!("{}\n", metadata_text(m)));
    }
    let verdict = if d.same_files() {
        "identical: every file matches".to_string()
    } else if d.resharded() && d.same_metadata() {
        "same tensor set (names, dtypes, shapes, bytes) and metadata under different sharding"
            .to_string()
    } else if d.resharded() {
        "same tensor set under different sharding, but the metadata differs".to_string()
    } else if d.same_tensor_set && !d.same_metadata() {
        "the same tensors (names, dtypes, shapes, bytes) in the same files; the metadata differs"
            .to_string()
    } else if d.same_tensor_set {
        "same tensors in the same files; other files differ".to_string()
    } else {
        "different".to_string()
    };
    s.push_str(&format!("verdict: {verdict}\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use weightseal::verify::ByteRange;
    use weightseal::Digest;

    #[test]
    fn reasons_name_ranges_and_sizes() {
        let st = FileStatus::Modified {
            expected_size: 10,
            found_size: 10,
            expected_blake3: Digest([0; 32]),
            found_blake3: Digest([1; 32]),
            ranges: vec![ByteRange { start: 0, end: 10 }],
            chunk_size: 4 << 20,
            overlapping: Vec::new(),
            tensors: None,
        };
        assert_eq!(
            failure_reason(&st).unwrap(),
            "modified: somewhere in bytes 0..10, one 10 B chunk"
        );
        let st = FileStatus::Modified {
            expected_size: 16 << 20,
            found_size: 16 << 20,
            expected_blake3: Digest([0; 32]),
            found_blake3: Digest([1; 32]),
            ranges: vec![ByteRange {
                start: 8 << 20,
                end: 12 << 20,
            }],
            chunk_size: 4 << 20,
            overlapping: vec!["a.weight".into(), "b.weight".into()],
            tensors: None,
        };
        assert_eq!(
            failure_reason(&st).unwrap(),
            "modified: somewhere in bytes 8388608..12582912, one 4.00 MiB chunk; 2 tensors there: a.weight, b.weight"
        );
        let st = FileStatus::Modified {
            expected_size: 10,
            found_size: 12,
            expected_blake3: Digest([0; 32]),
            found_blake3: Digest([1; 32]),
            ranges: (0..6)
                .map(|i| ByteRange {
                    start: i * 2,
                    end: i * 2 + 1,
                })
                .collect(),
            chunk_size: 1,
            overlapping: Vec::new(),
            tensors: None,
        };
        assert_eq!(
            failure_reason(&st).unwrap(),
            "modified: size 12, expected 10; somewhere in bytes 0..1, 2..3, 4..5, 6..7 and 2 more (6 chunks)"
        );
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(clean("plain.name"), "plain.name");
        assert_eq!(clean("\u{1b}[31mred\n"), "\\u{1b}[31mred\\n");
        assert_eq!(bytes(100), "100 B");
    }
}
