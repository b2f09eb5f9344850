//! Writing files so that a reader sees either the old content or the complete new one, and
//! reading small evidence files (manifests, attestation bundles, log proofs, signatures) that
//! may sit in a hostile directory: a named pipe or device is refused without blocking, and no
//! more than a bound is ever read.

use std::io::Read as _;
use std::path::Path;

/// Opens `path` for reading only if it is a regular file: opened with `O_NONBLOCK | O_NOCTTY`
/// (so a named pipe planted at an evidence name is refused, not waited on), checked with
/// `fstat`, then switched back to blocking reads. Links are followed (a Hugging Face snapshot's
/// files are links into its blobs). Returns the file and its size.
pub fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "not a regular file (a {})",
                if m.is_dir() {
                    "directory"
                } else {
                    "named pipe, socket or device"
                }
            ),
        ));
    }
    let fl = rustix::fs::fcntl_getfl(&f)?;
    rustix::fs::fcntl_setfl(&f, fl - rustix::fs::OFlags::NONBLOCK)?;
    Ok((f, m.len()))
}

/// A small file read whole through [`open_regular`]: `Ok(None)` when there is none, an error
/// of kind `FileTooLarge` when it holds more than `max` bytes (checked on its size and again on
/// what is read, so a file that grows is cut off at `max + 1` bytes).
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let (f, len) = match open_regular(path) {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let too_large = |len: u64| {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("{len} bytes, more than the {max} allowed"),
        )
    };
    if len > max {
        return Err(too_large(len));
    }
    let mut b = Vec::with_capacity(len as usize);
    f.take(max + 1).read_to_end(&mut b)?;
    if b.len() as u64 > max {
        return Err(too_large(b.len() as u64));
    }
    Ok(Some(b))
}

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
    fn evidence_reads_refuse_pipes_and_bound_sizes() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("weightseal.manifest");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let e = read_regular(&fifo, 100).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("named pipe"), "{e}");
        let big = d.path().join("big");
        std::fs::write(&big, vec![0u8; 101]).unwrap();
        assert_eq!(
            read_regular(&big, 100).unwrap_err().kind(),
            std::io::ErrorKind::FileTooLarge
        );
        assert_eq!(read_regular(&big, 101).unwrap().unwrap().len(), 101);
        assert!(read_regular(&d.path().join("none"), 100).unwrap().is_none());
    }

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
