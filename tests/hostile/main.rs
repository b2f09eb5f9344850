//! Attacks, one per test: a hostile destination directory, co-signers, mirrors, servers and
//! inputs. Each test asserts the exact refusal and, with a [`Sentinel`] directory standing for
//! everything outside the model and the destination, that nothing there was written.

#[path = "../common/mod.rs"]
mod common;

mod derive_attack;
mod dest;
mod fuzz_regressions;
mod judge;
mod log;
mod log_attack;
mod metadata;
mod mutations;
mod network;
mod output;
mod paths;
mod policy;
mod resources;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A directory outside the model and the destination, with files an attacker would like
/// weightseal to overwrite. [`Sentinel::assert_untouched`] checks every name, byte, size,
/// mode and modification time.
pub struct Sentinel {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    snapshot: BTreeMap<String, (Vec<u8>, u32, i64, i64)>,
}

pub const SECRET: &[u8] = b"SENTINEL: outside the destination, never to be read or written\n";

impl Default for Sentinel {
    fn default() -> Self {
        Self::new()
    }
}

impl Sentinel {
    pub fn new() -> Sentinel {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outside");
        fs::create_dir_all(dir.join("sub")).unwrap();
        for f in [
            "victim",
            "big.bin",
            "small.bin",
            "sub/with space.bin",
            "config.json",
        ] {
            fs::write(dir.join(f), SECRET).unwrap();
        }
        let mut s = Sentinel {
            _tmp: tmp,
            dir,
            snapshot: BTreeMap::new(),
        };
        s.snapshot = s.take();
        s
    }

    fn take(&self) -> BTreeMap<String, (Vec<u8>, u32, i64, i64)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            let m = fs::symlink_metadata(&d).unwrap();
            out.insert(
                d.strip_prefix(&self.dir).unwrap().display().to_string() + "/",
                (Vec::new(), m.mode(), m.mtime(), m.mtime_nsec()),
            );
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let m = fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    stack.push(p);
                } else {
                    let bytes = fs::read(&p).unwrap_or_default();
                    out.insert(
                        p.strip_prefix(&self.dir).unwrap().display().to_string(),
                        (bytes, m.mode(), m.mtime(), m.mtime_nsec()),
                    );
                }
            }
        }
        out
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Nothing under the sentinel was created, removed, written, truncated or chmod-ed.
    pub fn assert_untouched(&self) {
        assert_eq!(
            self.take(),
            self.snapshot,
            "something outside the destination changed"
        );
    }
}

/// The text of a command's output, for assertions.
pub fn text(o: &std::process::Output) -> String {
    format!("{}{}", common::stdout(o), common::stderr(o))
}

/// No file under `dir` contains the sentinel's secret (nothing was copied from outside).
pub fn assert_no_secret_in(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                let b = fs::read(&p).unwrap();
                assert!(
                    !b.windows(SECRET.len()).any(|w| w == SECRET),
                    "{} holds bytes read from outside",
                    p.display()
                );
            }
        }
    }
}
