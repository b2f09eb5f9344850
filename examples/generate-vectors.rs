//! Rewrites `testvectors/` from `testvectors/generate.rs`:
//! `cargo run --example generate-vectors`.

#[path = "../testvectors/generate.rs"]
mod generate;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testvectors");
    let vectors = generate::generate();
    // Every vector directory, those the generator writes and those already there.
    let mut dirs: BTreeSet<String> = vectors
        .keys()
        .filter_map(|k| k.split_once('/'))
        .map(|(d, _)| d.to_string())
        .collect();
    for e in fs::read_dir(&root)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            dirs.insert(e.file_name().to_string_lossy().into_owned());
        }
    }
    for dir in &dirs {
        let d = root.join(dir);
        if d.exists() {
            for e in fs::read_dir(&d)? {
                let p = e?.path();
                if p.extension().is_some_and(|x| x == "txt") {
                    fs::remove_file(p)?;
                }
            }
        }
        fs::create_dir_all(d)?;
    }
    for (name, content) in &vectors {
        fs::write(root.join(name), content)?;
    }
    println!("wrote {} vectors under {}", vectors.len(), root.display());
    Ok(())
}
