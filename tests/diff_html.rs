//! `diff --html`: the page is parsed (by Python's html.parser, a real HTML parser) and every
//! tensor of a known diff must appear with its state; the page must load nothing from outside.

mod common;

use std::path::Path;
use std::process::Command;

use common::{python, stderr, ws};
use safetensors::tensor::{serialize_to_file, Dtype, TensorView};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes a safetensors file of `layers` layers with `per_layer` F32 tensors each (shape [8]),
/// plus lm_head, through the official writer; `edit` may change the list first.
fn model(
    dir: &Path,
    layers: usize,
    per_layer: usize,
    edit: impl Fn(&mut Vec<(String, Vec<usize>, Vec<u8>)>),
) {
    std::fs::create_dir_all(dir).unwrap();
    let mut ts: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for l in 0..layers {
        for k in 0..per_layer {
            let bytes: Vec<u8> = (0..32).map(|i| (i + l * 7 + k) as u8).collect();
            ts.push((format!("model.layers.{l}.part{k}.weight"), vec![8], bytes));
        }
    }
    ts.push(("lm_head.weight".into(), vec![8], vec![1; 32]));
    edit(&mut ts);
    let views: Vec<(String, TensorView)> = ts
        .iter()
        .map(|(n, shape, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), "{\"layers\": 4}\n").unwrap();
}

/// (data-tensor, data-state) of every grid cell, the verdict, and whether anything external
/// (a script, a link, a remote resource) is in the page, as html.parser sees them.
const PARSE: &str = r#"
import json, sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.cells = []; self.verdict = None; self.external = []; self.files = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-tensor" in a: self.cells.append([a["data-tensor"], a["data-state"]])
        if a.get("id") == "verdict": self.verdict = a.get("data-verdict")
        if "data-file" in a: self.files.append([a["data-file"], a["data-state"]])
        if tag in ("script", "link", "iframe", "img", "object", "embed"): self.external.append(tag)
        for k, v in attrs:
            if v and ("http://" in v or "https://" in v or "url(" in v): self.external.append(v)
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close()
print(json.dumps({"cells": p.cells, "verdict": p.verdict, "external": p.external, "files": p.files}))
"#;

fn parse(py: &Path, page: &Path) -> serde_json::Value {
    let o = Command::new(py)
        .args(["-c", PARSE, s(page)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn every_tensor_of_a_known_diff_appears_with_its_state() {
    let Some(py) = python("every_tensor_of_a_known_diff_appears_with_its_state") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    model(&a, 4, 3, |_| {});
    model(&b, 4, 3, |ts| {
        // bytes changed, dtype/shape changed, removed, added
        ts.iter_mut()
            .find(|t| t.0 == "model.layers.1.part0.weight")
            .unwrap()
            .2[0] ^= 1;
        let r = ts
            .iter_mut()
            .find(|t| t.0 == "model.layers.2.part1.weight")
            .unwrap();
        r.1 = vec![4, 2];
        ts.retain(|t| t.0 != "model.layers.3.part2.weight");
        ts.push(("model.layers.3.part9.weight".into(), vec![8], vec![2; 32]));
    });
    std::fs::write(b.join("config.json"), "{\"layers\": 5}\n").unwrap();
    let page = d.path().join("diff.html");
    let o = ws(&["diff", s(&a), s(&b), "--html", s(&page)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = parse(&py, &page);
    assert_eq!(
        v["external"],
        serde_json::json!([]),
        "the page must be self-contained"
    );
    assert_eq!(v["verdict"], "diff");
    let cells: std::collections::BTreeMap<String, String> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_string(),
                c[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = std::collections::BTreeMap::new();
    for l in 0..4 {
        for k in 0..3 {
            expected.insert(
                format!("model.layers.{l}.part{k}.weight"),
                "same".to_string(),
            );
        }
    }
    expected.insert("lm_head.weight".into(), "same".into());
    expected.insert("model.layers.1.part0.weight".into(), "changed".into());
    expected.insert("model.layers.2.part1.weight".into(), "retyped".into());
    expected.insert("model.layers.3.part2.weight".into(), "removed".into());
    expected.insert("model.layers.3.part9.weight".into(), "added".into());
    assert_eq!(cells, expected);
    let files: Vec<(String, String)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_str().unwrap().into(), f[1].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        files,
        [
            ("config.json".to_string(), "changed".to_string()),
            ("model.safetensors".into(), "changed".into())
        ]
    );
}

#[test]
fn a_resharded_copy_and_a_model_of_a_thousand_tensors() {
    let Some(py) = python("a_resharded_copy_and_a_model_of_a_thousand_tensors") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    model(&a, 100, 12, |_| {});
    model(&b, 100, 12, |ts| ts.last_mut().unwrap().2[5] ^= 0xFF);
    let page = d.path().join("big.html");
    let o = ws(&["diff", s(&a), s(&b), "--html", s(&page)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = parse(&py, &page);
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1201);
    assert_eq!(cells.iter().filter(|c| c[1] == "changed").count(), 1);
    // Readable: one row per layer, one column per tensor of a layer (not 1,201 in a line).
    let text = std::fs::read_to_string(&page).unwrap();
    assert_eq!(text.matches("<tr><th>layer ").count(), 100);
    assert!(text.len() < 600_000, "{} bytes", text.len());
    // The same tensors in two files: re-sharded.
    let c = d.path().join("c");
    std::fs::create_dir(&c).unwrap();
    let st =
        safetensors::SafeTensors::deserialize(&std::fs::read(a.join("model.safetensors")).unwrap())
            .unwrap()
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, t.shape().to_vec(), t.data().to_vec()))
            .collect::<Vec<_>>();
    let (first, second) = st.split_at(600);
    for (i, part) in [first, second].into_iter().enumerate() {
        let views: Vec<(String, TensorView)> = part
            .iter()
            .map(|(n, shape, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
                )
            })
            .collect();
        serialize_to_file(
            views,
            None,
            &c.join(format!("model-0000{}-of-00002.safetensors", i + 1)),
        )
        .unwrap();
    }
    std::fs::write(c.join("config.json"), "{\"layers\": 4}\n").unwrap();
    let page = d.path().join("reshard.html");
    ws(&["diff", s(&a), s(&c), "--html", s(&page)]);
    let v = parse(&py, &page);
    assert_eq!(v["verdict"], "reshard");
    assert!(v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c[1] == "same"));
}

/// (start, end) of every mark drawn in the bar of `file`, and the bar's data-marks count.
const MARKS: &str = r#"
import json, sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.file = None; self.marks = {}; self.counts = {}; self.text = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "file": self.file = a.get("data-file")
        if tag == "div" and a.get("class") == "bar": self.counts[self.file] = int(a["data-marks"])
        if tag == "i" and "data-start" in a:
            self.marks.setdefault(self.file, []).append([int(a["data-start"]), int(a["data-end"])])
    def handle_data(self, d):
        if self.file: self.text[self.file] = self.text.get(self.file, "") + d
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close()
print(json.dumps({"marks": p.marks, "counts": p.counts, "text": p.text}))
"#;

#[test]
fn every_differing_byte_is_drawn_to_scale_however_many_runs() {
    let Some(py) = python("every_differing_byte_is_drawn_to_scale_however_many_runs") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    // 4 MiB with every 4096th byte flipped (1024 runs, far more than the 64 listed), and a
    // 512 KiB file changed throughout.
    let w: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut w2 = w.clone();
    let flipped: Vec<usize> = (0..w.len()).step_by(4096).collect();
    for &i in &flipped {
        w2[i] ^= 1;
    }
    std::fs::write(a.join("w.bin"), &w).unwrap();
    std::fs::write(b.join("w.bin"), &w2).unwrap();
    let t: Vec<u8> = (0..512u32 << 10).map(|i| (i % 7) as u8).collect();
    std::fs::write(a.join("t.bin"), &t).unwrap();
    std::fs::write(
        b.join("t.bin"),
        t.iter().map(|x| x ^ 0xff).collect::<Vec<u8>>(),
    )
    .unwrap();
    for dir in [&a, &b] {
        assert_eq!(ws(&["hash", s(dir)]).status.code(), Some(0));
    }
    let page = d.path().join("diff.html");
    let o = ws(&["diff", s(&a), s(&b), "--html", s(&page)]);
    assert_eq!(o.status.code(), Some(1));
    let out = Command::new(&py)
        .args(["-c", MARKS, s(&page)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let marks: Vec<(u64, u64)> = j["marks"]["w.bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m[0].as_u64().unwrap(), m[1].as_u64().unwrap()))
        .collect();
    assert_eq!(j["counts"]["w.bin"].as_u64().unwrap() as usize, marks.len());
    assert!(marks.len() <= 1000, "{} marks", marks.len());
    for &i in &flipped {
        assert!(
            marks.iter().any(|&(s, e)| s <= i as u64 && (i as u64) < e),
            "byte {i} is not drawn"
        );
    }
    let text = j["text"]["w.bin"].as_str().unwrap();
    assert!(
        text.contains("1024 run(s) of differing bytes, 1024 byte(s) in all"),
        "{text}"
    );
    // The fully changed file is one mark across its whole width.
    assert_eq!(j["marks"]["t.bin"], serde_json::json!([[0, 524288]]));
}
