//! `weightseal diff A B --html OUT.html`: the comparison as one self-contained page (no
//! network, no script): a grid of layers × tensors coloured by state, each changed file drawn
//! to scale with its differing byte ranges, metadata changes and the re-sharding verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use weightseal::diff::ManifestDiff;
use weightseal::manifest::Manifest;

/// The state of one tensor between A and B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Same,
    Changed,
    Retyped,
    Added,
    Removed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Same => "same",
            State::Changed => "changed",
            State::Retyped => "retyped",
            State::Added => "added",
            State::Removed => "removed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            State::Same => "same",
            State::Changed => "bytes changed",
            State::Retyped => "dtype or shape changed",
            State::Added => "added in B",
            State::Removed => "removed in B",
        }
    }
}

/// HTML text: `&`, `<`, `>`, `"` and `'` escaped (names come from untrusted headers), and
/// every control and Unicode format character (bidirectional overrides and isolates,
/// zero-width characters) shown as the visible text `\uXXXX`, as the terminal output shows it:
/// a character reference (`&#x202E;`) would still reverse the text around it on the page.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() || weightseal::path::is_format_char(c) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04X}", u));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Splits a tensor name into (layer, the rest): the first all-digit dot-separated component
/// is the layer (`model.layers.12.mlp.up_proj.weight` → 12, `mlp.up_proj.weight`;
/// `blk.3.attn_q.weight` → 3, `attn_q.weight`). Names without one are in no layer.
pub fn split_layer(name: &str) -> (Option<u64>, String) {
    let parts: Vec<&str> = name.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = p.parse() {
                let rest = parts[i + 1..].join(".");
                return (Some(n), if rest.is_empty() { name.into() } else { rest });
            }
        }
    }
    (None, name.to_string())
}

/// Every tensor name of either side with its state.
pub fn tensor_states(a: &Manifest, b: &Manifest, d: &ManifestDiff) -> BTreeMap<String, State> {
    let mut states = BTreeMap::new();
    for (_, t) in a.tensors().chain(b.tensors()) {
        states.insert(t.name.clone(), State::Same);
    }
    if let Some(t) = &d.tensors {
        for n in &t.changed {
            states.insert(n.clone(), State::Changed);
        }
        for r in &t.retyped {
            states.insert(r.name.clone(), State::Retyped);
        }
        for n in &t.added {
            states.insert(n.clone(), State::Added);
        }
        for n in &t.removed {
            states.insert(n.clone(), State::Removed);
        }
    }
    states
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
code,.mono{font-family:ui-monospace,monospace;font-size:12px}
.verdict{padding:8px 12px;border-radius:4px;display:inline-block;font-weight:600}
.v-same{background:#e3f4e3}.v-diff{background:#fde2e1}.v-reshard{background:#fff3cd}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px;border:1px solid #999}
.grid{border-collapse:collapse;font-size:11px}
.grid th{font-weight:normal;text-align:left;padding:0 4px;white-space:nowrap}
.grid thead th{writing-mode:vertical-rl;transform:rotate(180deg);height:auto;max-height:220px;vertical-align:bottom;font-family:ui-monospace,monospace}
.grid td{width:12px;height:12px;padding:0;border:1px solid #fff}
.s-same{background:#cfd8dc}.s-changed{background:#e53935}.s-retyped{background:#fb8c00}
.s-added{background:#1e88e5}.s-removed{background:#8e24aa}.s-none{background:#fafafa}
.bar{position:relative;height:14px;background:#e3f4e3;border:1px solid #9c9;margin:2px 0 10px}
.bar i{position:absolute;top:0;bottom:0;background:#e53935;min-width:1px}
details{margin:6px 0}table.list td{padding:1px 8px 1px 0;vertical-align:top}
"#;

/// The page.
pub fn page(a: &Manifest, b: &Manifest, d: &ManifestDiff, label_a: &str, label_b: &str) -> String {
    let mut h = String::new();
    let states = tensor_states(a, b, d);
    let (verdict, class) = if d.same_files() && d.same_metadata() {
        ("same: every file is identical", "v-same")
    } else if d.resharded() && d.same_metadata() {
        ("re-sharded: the same tensors (names, dtypes, shapes, bytes), split into files differently", "v-reshard")
    } else if d.same_tensor_set && !d.same_metadata() {
        ("the same tensors, but the metadata differs", "v-diff")
    } else {
        ("different", "v-diff")
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>weightseal diff: {} vs {}</title><style>{STYLE}</style></head><body>\n",
        esc(label_a),
        esc(label_b)
    );
    let _ = write!(
        h,
        "<h1>weightseal diff</h1>\n<table class=\"list\"><tr><td>A</td><td><b>{}</b></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>\
         <tr><td>B</td><td><b>{}</b></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr></table>\n\
         <p><span id=\"verdict\" class=\"verdict {class}\" data-verdict=\"{}\">{}</span></p>\n",
        esc(label_a),
        esc(a.name()),
        d.digest_a,
        esc(label_b),
        esc(b.name()),
        d.digest_b,
        class.trim_start_matches("v-"),
        esc(verdict)
    );
    // Counts.
    let mut counts: BTreeMap<State, usize> = BTreeMap::new();
    for s in states.values() {
        *counts.entry(*s).or_default() += 1;
    }
    let _ = writeln!(
        h,
        "<p>Files: {} changed, {} added, {} removed, {} same. Tensors: {}.</p>",
        d.files_changed.len(),
        d.files_added.len(),
        d.files_removed.len(),
        d.files_same,
        if states.is_empty() {
            "not recorded".to_string()
        } else {
            counts
                .iter()
                .map(|(s, n)| format!("{n} {}", s.label()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    tensor_grid(&mut h, &states);
    files_section(&mut h, d);
    metadata_section(&mut h, d);
    h.push_str("</body></html>\n");
    h
}

fn tensor_grid(h: &mut String, states: &BTreeMap<String, State>) {
    h.push_str("<h2>Tensors: layers × tensors</h2>\n");
    if states.is_empty() {
        h.push_str("<p>Neither manifest records tensor digests (hashed with --no-tensors, or no safetensors/GGUF files).</p>\n");
        return;
    }
    h.push_str("<p class=\"legend\">");
    for s in [
        State::Same,
        State::Changed,
        State::Retyped,
        State::Added,
        State::Removed,
    ] {
        let _ = write!(
            h,
            "<span><i class=\"sw s-{}\"></i>{}</span>",
            s.name(),
            s.label()
        );
    }
    h.push_str("</p>\n");
    // Rows: layers in order, then the tensors in no layer; columns: the per-layer names.
    let mut rows: BTreeMap<Option<u64>, BTreeMap<String, (&str, State)>> = BTreeMap::new();
    let mut columns: BTreeSet<String> = BTreeSet::new();
    for (name, s) in states {
        let (layer, col) = split_layer(name);
        if layer.is_some() {
            columns.insert(col.clone());
        }
        rows.entry(layer)
            .or_default()
            .insert(col, (name.as_str(), *s));
    }
    let columns: Vec<String> = columns.into_iter().collect();
    if !columns.is_empty() {
        h.push_str("<table class=\"grid\" id=\"layers\"><thead><tr><th></th>");
        for c in &columns {
            let _ = write!(h, "<th title=\"{0}\">{0}</th>", esc(c));
        }
        h.push_str("</tr></thead><tbody>\n");
        for (layer, cells) in rows.iter().filter(|(l, _)| l.is_some()) {
            let _ = write!(h, "<tr><th>layer {}</th>", layer.unwrap_or_default());
            for c in &columns {
                match cells.get(c) {
                    Some((name, s)) => cell(h, name, *s),
                    None => h.push_str("<td class=\"s-none\"></td>"),
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody></table>\n");
    }
    if let Some(cells) = rows.get(&None) {
        h.push_str("<p>Not in a layer:</p><table class=\"grid\" id=\"other\"><tbody>\n");
        for (name, s) in cells.values() {
            h.push_str("<tr>");
            cell(h, name, *s);
            let _ = writeln!(h, "<th class=\"mono\">{}</th></tr>", esc(name));
        }
        h.push_str("</tbody></table>\n");
    }
    // Every tensor that is not the same, listed (a grid of thousands is for the eye).
    let differing: Vec<(&String, &State)> =
        states.iter().filter(|(_, s)| **s != State::Same).collect();
    let _ = write!(
        h,
        "<details{}><summary>{} tensor(s) differ</summary><table class=\"list\">",
        if differing.len() <= 50 { " open" } else { "" },
        differing.len()
    );
    for (name, s) in differing {
        let _ = write!(
            h,
            "<tr><td><i class=\"sw s-{}\"></i>{}</td><td class=\"mono\">{}</td></tr>",
            s.name(),
            s.label(),
            esc(name)
        );
    }
    h.push_str("</table></details>\n");
}

fn cell(h: &mut String, name: &str, s: State) {
    let _ = write!(
        h,
        "<td class=\"s-{0}\" data-tensor=\"{1}\" data-state=\"{0}\" title=\"{1}: {2}\"></td>",
        s.name(),
        esc(name),
        s.label()
    );
}

fn files_section(h: &mut String, d: &ManifestDiff) {
    h.push_str("<h2>Files</h2>\n");
    if d.files_changed.is_empty() && d.files_added.is_empty() && d.files_removed.is_empty() {
        let _ = writeln!(h, "<p>All {} file(s) are identical.</p>", d.files_same);
        return;
    }
    for c in &d.files_changed {
        let size = c.size_a.max(c.size_b).max(1);
        let _ = write!(
            h,
            "<div class=\"file\" data-file=\"{}\" data-state=\"changed\"><b class=\"mono\">{}</b> — {} → {} bytes",
            esc(&c.path),
            esc(&c.path),
            c.size_a,
            c.size_b
        );
        // Drawn to scale: every run of differing bytes when the files were at hand, else
        // every differing chunk range; runs closer than a thousandth of the file are merged
        // into one mark (at least a thousandth wide), never dropped.
        let (marks, what) = match (&c.coverage, c.byte_runs, c.bytes_differing) {
            (Some(cov), Some(total), Some(n)) => {
                let first = c
                    .bytes
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| format!(", the first at byte {}", r.start))
                    .unwrap_or_default();
                (
                    cov.clone(),
                    format!("{total} run(s) of differing bytes, {n} byte(s) in all{first}"),
                )
            }
            _ => {
                let ranges = c.ranges.clone().unwrap_or_else(|| {
                    vec![weightseal::verify::ByteRange {
                        start: 0,
                        end: size,
                    }]
                });
                let n = ranges.len();
                (
                    merged_to_scale(&ranges, size),
                    format!("{n} differing chunk range(s)"),
                )
            }
        };
        let _ = write!(
            h,
            "; {what}; drawn to scale as {} mark(s)<div class=\"bar\" data-marks=\"{}\">",
            marks.len(),
            marks.len()
        );
        for r in &marks {
            let left = r.start as f64 * 100.0 / size as f64;
            let width = ((r.end - r.start) as f64 * 100.0 / size as f64).max(0.1);
            let _ = write!(
                h,
                "<i data-start=\"{}\" data-end=\"{}\" style=\"left:{left:.4}%;width:{width:.4}%\" title=\"bytes {}..{}\"></i>",
                r.start, r.end, r.start, r.end
            );
        }
        h.push_str("</div>");
        if let Some(t) = &c.text_diff {
            let _ = write!(
                h,
                "<details><summary>text diff</summary><pre>{}</pre></details>",
                esc(t)
            );
        }
        h.push_str("</div>\n");
    }
    for p in &d.files_added {
        let _ = writeln!(h, "<div class=\"file\" data-file=\"{0}\" data-state=\"added\"><i class=\"sw s-added\"></i>added in B: <span class=\"mono\">{0}</span></div>", esc(p));
    }
    for p in &d.files_removed {
        let _ = writeln!(h, "<div class=\"file\" data-file=\"{0}\" data-state=\"removed\"><i class=\"sw s-removed\"></i>removed in B: <span class=\"mono\">{0}</span></div>", esc(p));
    }
}

/// `ranges` (sorted) merged where they come closer than a thousandth of `size`: one mark per
/// visible stretch, none dropped.
fn merged_to_scale(
    ranges: &[weightseal::verify::ByteRange],
    size: u64,
) -> Vec<weightseal::verify::ByteRange> {
    let gap = size / weightseal::diff::COVERAGE_BINS;
    let mut out: Vec<weightseal::verify::ByteRange> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(*r),
        }
    }
    out
}

fn metadata_section(h: &mut String, d: &ManifestDiff) {
    h.push_str("<h2>Metadata</h2>\n");
    let mut any = false;
    if let Some(keys) = d.metadata_changed.as_ref().filter(|k| !k.is_empty()) {
        any = true;
        h.push_str("<p>Model-wide keys whose values differ:</p><ul>");
        for k in keys {
            let _ = write!(
                h,
                "<li class=\"mono\" data-metadata=\"{0}\">{0}</li>",
                esc(k)
            );
        }
        h.push_str("</ul>\n");
    }
    for c in &d.files_changed {
        if let Some(keys) = c.metadata_changed.as_ref().filter(|k| !k.is_empty()) {
            any = true;
            let _ = writeln!(
                h,
                "<p class=\"mono\">{}: {}</p>",
                esc(&c.path),
                esc(&keys.join(", "))
            );
        }
    }
    if !any {
        h.push_str("<p>No metadata difference recorded.</p>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_found_in_common_names() {
        assert_eq!(
            split_layer("model.layers.12.mlp.up_proj.weight"),
            (Some(12), "mlp.up_proj.weight".into())
        );
        assert_eq!(
            split_layer("blk.3.attn_q.weight"),
            (Some(3), "attn_q.weight".into())
        );
        assert_eq!(
            split_layer("lm_head.weight"),
            (None, "lm_head.weight".into())
        );
        assert_eq!(split_layer("x.7"), (Some(7), "x.7".into()));
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
