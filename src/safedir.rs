//! File-system access beneath a directory that may be hostile (a download destination shared
//! with others, a git clone that carries symlinks).
//!
//! A [`Dir`] is an open directory handle. Every path below it is resolved one component at a
//! time with `openat(O_DIRECTORY | O_NOFOLLOW)` from the handle, never by joining strings, so
//! a symbolic link planted at any component is refused instead of followed, and nothing
//! outside the directory is ever opened, created, truncated or renamed. Files are opened with
//! `O_NOFOLLOW | O_NONBLOCK` and checked with `fstat` before any byte is read or written, so a
//! named pipe or device at a path is refused instead of blocking or being written to.
//! Only the directory the user named is opened by path (following links in that path is the
//! user's choice).

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Why an operation beneath a directory was refused or failed. Each names the full path.
#[derive(Debug, thiserror::Error)]
pub enum SafeDirError {
    /// A symbolic link where weightseal needs a real directory or file.
    #[error("{}: is a symbolic link; weightseal never follows or replaces links inside the destination (remove it and run again)", .0.display())]
    Symlink(PathBuf),
    /// Something other than what was needed (a file where a directory is needed, a pipe…).
    #[error("{}: is a {found}, not a {expected}", path.display())]
    WrongType {
        path: PathBuf,
        expected: &'static str,
        found: &'static str,
    },
    /// The operating system refused.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl SafeDirError {
    /// The operating system's error, when that is what happened.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            SafeDirError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// Whether the path does not exist.
    pub fn is_not_found(&self) -> bool {
        self.io_kind() == Some(io::ErrorKind::NotFound)
    }
}

/// What is at a name, without following a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A named pipe, socket or device: never opened for reading or writing.
    Special(&'static str),
}

impl Kind {
    fn from_file_type(t: FileType) -> Kind {
        match t {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Special("named pipe"),
            FileType::Socket => Kind::Special("socket"),
            FileType::CharacterDevice => Kind::Special("character device"),
            FileType::BlockDevice => Kind::Special("block device"),
            FileType::Unknown => Kind::Special("special file"),
        }
    }

    /// The word used in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "regular file",
            Kind::Dir => "directory",
            Kind::Symlink => "symbolic link",
            Kind::Special(s) => s,
        }
    }
}

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only; the file must exist.
    Read,
    /// Read and write; the file must exist.
    Write,
    /// Read and write, created (with `mode`) when absent; never truncated.
    Create { mode: u32 },
}

/// An open directory; everything beneath it is reached through it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn io_err(path: &Path, e: Errno) -> SafeDirError {
    SafeDirError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Splits a relative `/`-separated path into its components, refusing anything that could
/// leave the directory (callers pass validated model paths; this is a second line).
fn components(rel: &str) -> impl Iterator<Item = &str> {
    rel.split('/')
}

fn check_component(base: &Path, c: &str) -> Result<(), SafeDirError> {
    if c.is_empty() || c == "." || c == ".." || c.contains('\0') {
        return Err(SafeDirError::Io {
            path: base.join(c),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a plain path component"),
        });
    }
    Ok(())
}

impl Dir {
    /// Opens the directory the user named; with `create`, makes it (and its parents) first.
    pub fn open(path: &Path, create: bool) -> Result<Dir, SafeDirError> {
        if create {
            std::fs::create_dir_all(path).map_err(|source| SafeDirError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::NOTDIR => SafeDirError::WrongType {
                path: path.to_path_buf(),
                expected: "directory",
                found: "file",
            },
            e => io_err(path, e),
        })?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path this handle was reached by (for messages only; never used to open anything).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is at `name` (one component), without following a link; `None` when absent.
    pub fn kind(&self, name: &str) -> Result<Option<Kind>, SafeDirError> {
        check_component(&self.path, name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Kind::from_file_type(FileType::from_raw_mode(
                st.st_mode,
            )))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err(&self.path.join(name), e)),
        }
    }

    /// Explains why `name` could not be opened as `expected`: a link, the wrong type, or the
    /// operating system's error.
    fn refusal(&self, name: &str, expected: Kind, e: Errno) -> SafeDirError {
        let path = self.path.join(name);
        match self.kind(name) {
            Ok(Some(Kind::Symlink)) => SafeDirError::Symlink(path),
            Ok(Some(k)) if k != expected => SafeDirError::WrongType {
                path,
                expected: expected.describe(),
                found: k.describe(),
            },
            _ => io_err(&path, e),
        }
    }

    /// Opens the subdirectory `name` (one component); with `create`, makes it with `mode` first
    /// when absent. A symbolic link is refused.
    pub fn child(&self, name: &str, create: Option<u32>) -> Result<Dir, SafeDirError> {
        check_component(&self.path, name)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let open = || rustix::fs::openat(&self.fd, name, flags, Mode::empty());
        let fd = match open() {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create.is_some() => {
                let mode = Mode::from_raw_mode(create.unwrap_or(0o755));
                match rustix::fs::mkdirat(&self.fd, name, mode) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_err(&self.path.join(name), e)),
                }
                open().map_err(|e| self.refusal(name, Kind::Dir, e))?
            }
            Err(e) => return Err(self.refusal(name, Kind::Dir, e)),
        };
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// Opens the directory that holds `rel` (a `/`-separated relative path), one component at
    /// a time, creating missing ones with `create`. Returns it and the last component.
    pub fn parent_of<'a>(
        &self,
        rel: &'a str,
        create: Option<u32>,
    ) -> Result<(Dir, &'a str), SafeDirError> {
        let (dirs, name) = match rel.rfind('/') {
            Some(i) => (Some(&rel[..i]), &rel[i + 1..]),
            None => (None, rel),
        };
        check_component(&self.path, name)?;
        let mut dir = self.dup()?;
        if let Some(dirs) = dirs {
            for c in components(dirs) {
                dir = dir.child(c, create)?;
            }
        }
        Ok((dir, name))
    }

    /// A second handle to the same directory.
    pub fn dup(&self) -> Result<Dir, SafeDirError> {
        let fd = self.fd.try_clone().map_err(|source| SafeDirError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(Dir {
            fd,
            path: self.path.clone(),
        })
    }

    /// Opens the regular file `name` (one component). Symbolic links, directories and special
    /// files are refused; a named pipe is never waited on.
    pub fn open_file(&self, name: &str, access: Access) -> Result<File, SafeDirError> {
        check_component(&self.path, name)?;
        let mut flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let mut mode = Mode::empty();
        match access {
            Access::Read => flags |= OFlags::RDONLY,
            Access::Write => flags |= OFlags::RDWR,
            Access::Create { mode: m } => {
                flags |= OFlags::RDWR | OFlags::CREATE;
                mode = Mode::from_raw_mode(m);
            }
        }
        let path = || self.path.join(name);
        let fd = rustix::fs::openat(&self.fd, name, flags, mode)
            .map_err(|e| self.refusal(name, Kind::File, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err(&path(), e))?;
        let kind = Kind::from_file_type(FileType::from_raw_mode(st.st_mode));
        if kind != Kind::File {
            return Err(SafeDirError::WrongType {
                path: path(),
                expected: "regular file",
                found: kind.describe(),
            });
        }
        // A regular file: blocking I/O from here on.
        let fl = rustix::fs::fcntl_getfl(&fd).map_err(|e| io_err(&path(), e))?;
        rustix::fs::fcntl_setfl(&fd, fl - OFlags::NONBLOCK).map_err(|e| io_err(&path(), e))?;
        Ok(File::from(fd))
    }

    /// Opens the regular file at `rel` (a relative path) beneath this directory.
    pub fn open_path(&self, rel: &str, access: Access) -> Result<File, SafeDirError> {
        let create = match access {
            Access::Create { .. } => Some(0o755),
            _ => None,
        };
        let (dir, name) = self.parent_of(rel, create)?;
        dir.open_file(name, access)
    }

    /// Renames `name` here to `to_name` in `to`. Refuses to replace anything but a regular
    /// file (a link, a directory or a special file at the target stays and is reported).
    pub fn rename_file(&self, name: &str, to: &Dir, to_name: &str) -> Result<(), SafeDirError> {
        check_component(&self.path, name)?;
        check_component(&to.path, to_name)?;
        match to.kind(to_name)? {
            None | Some(Kind::File) => {}
            Some(Kind::Symlink) => return Err(SafeDirError::Symlink(to.path.join(to_name))),
            Some(k) => {
                return Err(SafeDirError::WrongType {
                    path: to.path.join(to_name),
                    expected: "regular file",
                    found: k.describe(),
                })
            }
        }
        rustix::fs::renameat(&self.fd, name, &to.fd, to_name)
            .map_err(|e| io_err(&to.path.join(to_name), e))
    }

    /// The (device, inode) of what is at `name`, without following a link.
    pub fn identity(&self, name: &str) -> Result<(u64, u64), SafeDirError> {
        check_component(&self.path, name)?;
        let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err(&self.path.join(name), e))?;
        Ok((st.st_dev, st.st_ino))
    }

    /// Removes the file `name` (one component; a link is removed, not followed).
    pub fn remove_file(&self, name: &str) -> Result<(), SafeDirError> {
        check_component(&self.path, name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())
            .map_err(|e| io_err(&self.path.join(name), e))
    }

    /// Removes the directory `name` if it is empty.
    pub fn remove_empty_dir(&self, name: &str) -> Result<(), SafeDirError> {
        check_component(&self.path, name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)
            .map_err(|e| io_err(&self.path.join(name), e))
    }

    /// The names in this directory (without `.` and `..`), as raw bytes, with their kinds.
    pub fn list(&self) -> Result<Vec<(Vec<u8>, Kind)>, SafeDirError> {
        let err = |e: Errno| io_err(&self.path, e);
        let mut out = Vec::new();
        for ent in rustix::fs::Dir::read_from(&self.fd).map_err(err)? {
            let ent = ent.map_err(err)?;
            let name: &CStr = ent.file_name();
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let kind = match ent.file_type() {
                FileType::Unknown => match std::str::from_utf8(bytes) {
                    Ok(s) => self.kind(s)?.unwrap_or(Kind::Special("vanished file")),
                    Err(_) => Kind::Special("special file"),
                },
                t => Kind::from_file_type(t),
            };
            out.push((bytes.to_vec(), kind));
        }
        Ok(out)
    }

    /// Writes `bytes` to `name` through a temporary file in this directory, an fsync and a
    /// rename, refusing to replace a link, a directory or a special file.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> Result<(), SafeDirError> {
        use std::io::Write;
        check_component(&self.path, name)?;
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        let tmp = format!(".weightseal-tmp-{:016x}", u64::from_le_bytes(seed));
        let flags = OFlags::RDWR
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let fd = rustix::fs::openat(&self.fd, tmp.as_str(), flags, Mode::from_raw_mode(mode))
            .map_err(|e| io_err(&self.path.join(&tmp), e))?;
        // The umask may have narrowed the mode; a published file must have exactly `mode`.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
            .map_err(|e| io_err(&self.path.join(&tmp), e))?;
        let mut f = File::from(fd);
        let res = f
            .write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|source| SafeDirError::Io {
                path: self.path.join(&tmp),
                source,
            })
            .and_then(|()| self.rename_file(&tmp, self, name));
        if res.is_err() {
            let _ = self.remove_file(&tmp);
        }
        res
    }

    /// Makes sure this directory belongs to the current user and only they can use it (mode
    /// 0700): a scratch directory that another user can write to would let them change files
    /// between their check and their use.
    pub fn make_private(&self) -> Result<(), SafeDirError> {
        let st = rustix::fs::fstat(&self.fd).map_err(|e| io_err(&self.path, e))?;
        let me = rustix::process::geteuid().as_raw();
        if st.st_uid != me {
            return Err(SafeDirError::Io {
                path: self.path.clone(),
                source: io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "owned by uid {}, not by this user (uid {me}): another user could change what is downloaded there; remove it",
                        st.st_uid
                    ),
                ),
            });
        }
        if st.st_mode & 0o077 != 0 {
            rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(0o700))
                .map_err(|e| io_err(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes the directory's entries (after renames) to the disk.
    pub fn sync(&self) -> Result<(), SafeDirError> {
        rustix::fs::fsync(&self.fd).map_err(|e| io_err(&self.path, e))
    }

    /// The (device, inode) of an open file.
    pub fn file_identity(f: &File) -> io::Result<(u64, u64)> {
        let st = rustix::fs::fstat(f.as_fd())?;
        Ok((st.st_dev, st.st_ino))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn refuses_links_at_every_component() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), b"secret").unwrap();
        symlink(outside.path(), d.path().join("sub")).unwrap();
        symlink(outside.path().join("f"), d.path().join("f")).unwrap();
        let root = Dir::open(d.path(), false).unwrap();
        let e = root.open_path("sub/f", Access::Read).unwrap_err();
        assert!(
            matches!(&e, SafeDirError::Symlink(p) if p.ends_with("sub")),
            "{e}"
        );
        let e = root
            .open_path("sub/new", Access::Create { mode: 0o600 })
            .unwrap_err();
        assert!(matches!(&e, SafeDirError::Symlink(_)), "{e}");
        let e = root.open_file("f", Access::Write).unwrap_err();
        assert!(
            matches!(&e, SafeDirError::Symlink(p) if p.ends_with("f")),
            "{e}"
        );
        assert_eq!(
            std::fs::read(outside.path().join("f")).unwrap(),
            b"secret",
            "nothing outside was touched"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn never_opens_a_fifo() {
        let d = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mkfifo")
            .arg(d.path().join("p"))
            .status()
            .unwrap();
        assert!(st.success());
        let root = Dir::open(d.path(), false).unwrap();
        let e = root.open_file("p", Access::Read).unwrap_err();
        assert!(
            matches!(
                e,
                SafeDirError::WrongType {
                    found: "named pipe",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn creates_renames_and_lists() {
        let d = tempfile::tempdir().unwrap();
        let root = Dir::open(d.path(), false).unwrap();
        let f = root
            .open_path("a/b/c", Access::Create { mode: 0o600 })
            .unwrap();
        let id = Dir::file_identity(&f).unwrap();
        let (a, name) = root.parent_of("a/b/c", None).unwrap();
        assert_eq!(name, "c");
        assert_eq!(a.identity("c").unwrap(), id);
        a.rename_file("c", &root, "top").unwrap();
        assert_eq!(root.identity("top").unwrap(), id);
        let mut names = root.list().unwrap();
        names.sort();
        assert_eq!(
            names,
            vec![(b"a".to_vec(), Kind::Dir), (b"top".to_vec(), Kind::File)]
        );
        symlink("/etc/passwd", d.path().join("link")).unwrap();
        let e = root.rename_file("top", &root, "link").unwrap_err();
        assert!(matches!(e, SafeDirError::Symlink(_)), "{e}");
        root.write_atomic("w", b"hello", 0o644).unwrap();
        assert_eq!(std::fs::read(d.path().join("w")).unwrap(), b"hello");
        let e = root.write_atomic("link", b"x", 0o644).unwrap_err();
        assert!(matches!(e, SafeDirError::Symlink(_)), "{e}");
        assert_eq!(root.list().unwrap().len(), 4, "no temporary file left");
    }
}
