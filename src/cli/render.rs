//! Rendering library results as text (b3sum `--check` style) and JSON.

use serde_json::{json, Value};

use weightseal::manifest::{Manifest, FORMAT_VERSION};
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
    let files: Vec<Value> = m
        .files()
        .iter()
        .map(|f| {
            let mut o = json!({
                "path": f.path.as_str(),
                "size": f.tree.size,
                "blake3": f.tree.root.to_hex(),
                "chunks": f.tree.chunks.iter().map(|c| c.to_hex()).collect::<Vec<_>>(),
            });
            if let Some(s) = f.sha256 {
                o["sha256"] = json!(s.to_hex());
            }
            o
        })
        .collect();
    json!({
        "name": m.name(),
        "format": FORMAT_VERSION,
        "chunk_size": m.chunk_size().get(),
        "digest": m.digest().to_hex(),
        "total_size": m.total_size(),
        "files": files,
    })
}

pub fn manifest_text(m: &Manifest) -> String {
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
    for f in m.files() {
        let chunks = if f.tree.chunks.is_empty() {
            1
        } else {
            f.tree.chunks.len()
        };
        s.push_str(&format!(
            "  {}  {:>12}  {:>6} chunk(s)  {}\n",
            f.tree.root, f.tree.size, chunks, f.path
        ));
    }
    s
}

/// The reason in `path: FAILED (reason)`.
pub fn failure_reason(status: &FileStatus) -> Option<String> {
    Some(match status {
        FileStatus::Ok | FileStatus::Extra { allowed: true, .. } => return None,
        FileStatus::Missing => "missing".into(),
        FileStatus::Extra { .. } => "extra: not in the manifest".into(),
        FileStatus::Unreadable { reason } => format!("unreadable: {reason}"),
        FileStatus::Modified {
            expected_size,
            found_size,
            ranges,
            ..
        } => {
            let mut r = String::from("modified");
            if expected_size != found_size {
                r.push_str(&format!(": size {found_size}, expected {expected_size}"));
            }
            const SHOWN: usize = 4;
            let list: Vec<String> = ranges
                .iter()
                .take(SHOWN)
                .map(|b| format!("{}..{}", b.start, b.end))
                .collect();
            let more = if ranges.len() > SHOWN {
                format!(" and {} more", ranges.len() - SHOWN)
            } else {
                String::new()
            };
            r.push_str(&format!(
                "{} bytes {}{more} differ",
                if r.contains(':') { ";" } else { ":" },
                list.join(", ")
            ));
            r
        }
    })
}

/// b3sum `--check` style lines, one per path.
pub fn report_lines(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.files {
        match (&f.status, failure_reason(&f.status)) {
            (FileStatus::Extra { allowed: true, .. }, _) => {
                s.push_str(&format!("{}: EXTRA (allowed)\n", f.path))
            }
            (_, None) => s.push_str(&format!("{}: OK\n", f.path)),
            (_, Some(reason)) => s.push_str(&format!("{}: FAILED ({reason})\n", f.path)),
        }
    }
    s
}

pub fn report_summary(m: &Manifest, r: &Report) -> String {
    let count = |p: fn(&FileStatus) -> bool| r.files.iter().filter(|f| p(&f.status)).count();
    let ok = count(|s| matches!(s, FileStatus::Ok));
    let modified = count(|s| matches!(s, FileStatus::Modified { .. }));
    let missing = count(|s| matches!(s, FileStatus::Missing));
    let extra = count(|s| matches!(s, FileStatus::Extra { allowed: false, .. }));
    let unreadable = count(|s| matches!(s, FileStatus::Unreadable { .. }));
    if r.ok {
        format!(
            "weightseal: {} verified: {ok} file(s), {} match manifest {}",
            m.name(),
            bytes(m.total_size()),
            m.digest()
        )
    } else {
        format!(
            "weightseal: {} NOT verified against manifest {}: {ok} ok, {modified} modified, {missing} missing, {extra} extra, {unreadable} unreadable",
            m.name(),
            m.digest()
        )
    }
}

pub fn report_json(m: &Manifest, r: &Report) -> Value {
    let mut v = serde_json::to_value(r).expect("report serializes");
    v["manifest_digest"] = json!(m.digest().to_hex());
    v["name"] = json!(m.name());
    v
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
        };
        assert_eq!(failure_reason(&st).unwrap(), "modified: bytes 0..10 differ");
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
        };
        assert_eq!(
            failure_reason(&st).unwrap(),
            "modified: size 12, expected 10; bytes 0..1, 2..3, 4..5, 6..7 and 2 more differ"
        );
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(100), "100 B");
    }
}
