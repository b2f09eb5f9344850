//! Every committed fuzz seed and every fuzz regression input, replayed through the fuzz
//! targets' own checks (fuzz/checks.rs) on each `cargo test`, so a crash found by fuzzing
//! stays fixed without a fuzzer.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{target}: {} fails its check", p.display());
            n += 1;
        }
    }
    n
}

#[test]
fn manifest_inputs() {
    assert!(replay("manifest", checks::manifest) >= 50);
}

#[test]
fn safetensors_inputs() {
    assert!(replay("safetensors", checks::safetensors) >= 10);
}

#[test]
fn gguf_inputs() {
    assert!(replay("gguf", checks::gguf) >= 10);
}

#[test]
fn envelope_inputs() {
    assert!(replay("envelope", checks::envelope) >= 10);
}

#[test]
fn policy_inputs() {
    assert!(replay("policy", checks::policy) >= 3);
}

#[test]
fn response_inputs() {
    assert!(replay("response", checks::response) >= 3);
}

#[test]
fn tlog_inputs() {
    assert!(replay("tlog", checks::tlog) >= 30);
}
