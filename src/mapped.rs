//! Read-only memory maps of the files being hashed: the one place weightseal uses `unsafe`.
//!
//! Hashing straight from the page cache through a map avoids copying every byte into a read
//! buffer first; on one core that copy is what made `verify` about 1.2× slower than `b3sum`
//! (which maps too). Files under [`MIN_MAPPED`] bytes are read with `pread` as before, and
//! `WEIGHTSEAL_NO_MMAP=1` turns maps off.
//!
//! Files are mapped one unit of work at a time (1 MiB, or 4 MiB of a big tensor), and each
//! window is dropped right after it is hashed, so resident memory stays small.
//!
//! The hazard of a map: if another process truncates the file while a window of it is hashed,
//! touching a page past the new end raises SIGBUS and the process dies (exit status 135 from
//! a shell). Each window is mapped only after checking that the file still covers it, so only
//! a truncation in the microseconds of one window's hash can do that. It fails closed — the
//! run never reports success — and needs write access to the file, with which an attacker
//! could change its bytes anyway. Bytes changed (not truncated) during
//! the hash are read as `pread` would read them: the digest is of whatever was read, and it
//! does not match.
#![allow(unsafe_code)]

use std::fs::File;

/// Files at least this large are mapped.
pub(crate) const MIN_MAPPED: u64 = 16 << 20;

/// A private, read-only map of the bytes `start..end` of a file (mapped from the page boundary
/// at or before `start`). Maps are made per unit of work and dropped right after it, so the
/// process's resident memory stays at a few MiB per thread, as with reads.
pub(crate) struct Mapping {
    ptr: *mut std::ffi::c_void,
    len: usize,
    /// Offset of `start` in the map.
    skip: usize,
}

// SAFETY: the map is read-only and never remapped while it lives; shared references to its
// bytes may cross threads like any `&[u8]`.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Whether files of `size` bytes are hashed from maps (not small, maps not turned off).
    pub(crate) fn wanted(size: u64) -> bool {
        size >= MIN_MAPPED && std::env::var_os("WEIGHTSEAL_NO_MMAP").is_none_or(|v| v != "1")
    }

    /// Maps bytes `start..end` of `file`, or `None` (empty range, or mmap failed: the caller
    /// then reads with `pread`).
    pub(crate) fn window(file: &File, start: u64, end: u64) -> Option<Mapping> {
        const PAGE: u64 = 4096;
        let base = start & !(PAGE - 1);
        let len = usize::try_from(end.checked_sub(base)?)
            .ok()
            .filter(|&l| l > 0)?;
        let skip = (start - base) as usize;
        // A file shorter than the window now (truncated since it was opened) is read instead,
        // which reports the change as an error; only a truncation in the microseconds between
        // this check and the hash of this window can still end in SIGBUS.
        if file.metadata().ok()?.len() < end {
            return None;
        }
        // SAFETY: a fresh private read-only mapping at an address the kernel chooses; no
        // existing memory is affected; `len` is non-zero and `base` page-aligned.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::PRIVATE,
                file,
                base,
            )
        }
        .ok()?;
        Some(Mapping { ptr, len, skip })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes, unmapped only in `drop`,
        // which cannot run while this borrow lives. (Truncation by another process: see the
        // module documentation.)
        let all = unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) };
        &all[self.skip..]
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no borrow of it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}
