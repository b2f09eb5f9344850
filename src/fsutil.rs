//! Writing files so that a reader sees either the old content or the complete new one.

use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory, an fsync and a
/// rename: `path` never holds a partial write, and a symlink or special file at `path` is
/// refused rather than replaced (the work is [`crate::safedir::Dir::write_atomic`], from a
/// handle on the parent directory). The file gets exactly `mode` (e.g. 0o644 for published
/// manifests and attestations, which a web server serving the directory must read).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    crate::safedir::Dir::open(dir, false)
        .and_then(|d| d.write_atomic(name, bytes, mode))
        .map_err(|e| match e {
            crate::safedir::SafeDirError::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_file_with_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"old old old").unwrap();
        write_atomic(&p, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        // A symlink at the path is refused, and its target left as it was.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("t"), b"keep").unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), d.path().join("l")).unwrap();
        assert!(write_atomic(&d.path().join("l"), b"x", 0o644).is_err());
        assert_eq!(std::fs::read(outside.path().join("t")).unwrap(), b"keep");
    }
}
