//! Names that come from files (tensor names, model names, metadata) cannot send terminal
//! escape sequences or reorder what the user reads, whichever command prints them.

use std::fs;

use crate::common::fixture::s;
use crate::common::{stderr, stdout, ws};
use crate::text;

/// A safetensors file with one F32 tensor per name (4 bytes each, value `seed`).
fn safetensors(names: &[&str], seed: u8) -> Vec<u8> {
    let mut entries = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let name = serde_json::to_string(n).unwrap();
        entries.push(format!(
            "{name}:{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{},{}]}}",
            4 * i,
            4 * i + 4
        ));
    }
    let header = format!("{{{}}}", entries.join(","));
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend(std::iter::repeat_n(seed, 4 * names.len()));
    v
}

const EVIL: &[&str] = &["\u{1b}]0;pwned\u{7}\u{1b}[2J", "readme\u{202e}txt.exe"];

fn assert_clean(o: &std::process::Output) {
    for out in [stdout(o), stderr(o)] {
        assert!(
            !out.contains('\u{1b}'),
            "raw ESC reached the output: {out:?}"
        );
        assert!(
            !out.contains('\u{7}'),
            "raw BEL reached the output: {out:?}"
        );
        assert!(
            !out.contains('\u{202e}'),
            "raw RLO reached the output: {out:?}"
        );
    }
}

#[test]
fn diff_escapes_tensor_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("m.safetensors"), safetensors(EVIL, 1)).unwrap();
    fs::write(b.join("m.safetensors"), safetensors(EVIL, 2)).unwrap();
    let o = ws(&["diff", s(&a), s(&b)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_clean(&o);
    let out = stdout(&o);
    assert!(
        out.contains("readme\\u202Etxt.exe") || out.contains("readme\\u{202e}txt.exe"),
        "{out}"
    );
    // JSON stays valid and decodes to the real names.
    let o = ws(&["diff", s(&a), s(&b), "--json"]);
    assert_clean(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j.to_string().contains("txt.exe"));
}

#[test]
fn show_and_verify_escape_tensor_names() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    fs::create_dir_all(&m).unwrap();
    fs::write(m.join("m.safetensors"), safetensors(EVIL, 1)).unwrap();
    assert_eq!(ws(&["hash", s(&m)]).status.code(), Some(0));
    let o = ws(&["show", s(&m)]);
    assert_eq!(o.status.code(), Some(0));
    assert_clean(&o);
    fs::write(m.join("m.safetensors"), safetensors(EVIL, 9)).unwrap();
    let o = ws(&["verify", s(&m)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_clean(&o);
    assert!(
        stdout(&o).contains("m.safetensors: FAILED ("),
        "{}",
        text(&o)
    );
}

#[test]
fn model_name_with_a_bidi_override_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    fs::create_dir_all(&m).unwrap();
    fs::write(m.join("w.bin"), b"x").unwrap();
    let o = ws(&["hash", s(&m), "--name", "org/\u{202e}ledom"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_clean(&o);
    assert!(
        text(&o).contains("contains a Unicode format character"),
        "{}",
        text(&o)
    );
}
