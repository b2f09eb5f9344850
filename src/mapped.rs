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
//! **Truncation.** If another process truncates a file while a window of it is hashed,
//! touching a page past the new end raises SIGBUS, which would kill the process (and, from
//! Python, the whole interpreter). Every live window is registered in a fixed table, and a
//! SIGBUS handler installed before the first map looks the faulting address up there: a fault
//! inside a registered window is turned into zero-filled pages over the rest of that window
//! (a fixed anonymous mapping over the file mapping, both ours) and a mark on the window;
//! hashing then goes on over zeros, and [`Mapping::truncated`] makes the caller return an
//! error naming the file. A fault anywhere else goes to the handler that was there before
//! (Rust's own stack-overflow handler, Python's `faulthandler`), or kills the process as it
//! always would. Bytes changed (not truncated) during the hash are read as `pread` would read
//! them: the digest is of whatever was read, and it does not match.
#![allow(unsafe_code)]

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Files at least this large are mapped.
pub(crate) const MIN_MAPPED: u64 = 16 << 20;

/// How many windows may be live at once (a few per thread); when the table is full a window is
/// read with `pread` instead.
const SLOTS: usize = 512;

/// One live window: its start address (0: free), its length, and whether a fault was turned
/// into zeros in it.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};
static WINDOWS: [Slot; SLOTS] = [FREE; SLOTS];

/// The SIGBUS handler that was installed before ours (restored for faults that are not ours).
static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

const PAGE: usize = 4096;

/// Installs the SIGBUS handler once. Returns whether it is in place (maps are used only then).
fn install() -> bool {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with a zeroed struct filled in before use; PREVIOUS is written
        // here once, before INSTALLED is set, and only read by the handler afterwards.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            let prev = &raw mut PREVIOUS;
            if libc::sigaction(libc::SIGBUS, &sa, (*prev).as_mut_ptr()) == 0 {
                INSTALLED.store(true, Ordering::Release);
            }
        }
    });
    INSTALLED.load(Ordering::Acquire)
}

/// The SIGBUS handler: async-signal-safe (atomics, `mmap`, `sigaction` only).
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &WINDOWS {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start == 0 || len == 0 || addr < start || addr >= start + len {
            continue;
        }
        // Ours: zero pages from the faulting page to the end of the window, in place.
        let page = addr & !(PAGE - 1);
        let end = (start + len).div_ceil(PAGE) * PAGE;
        // SAFETY: `page..end` lies inside a live read-only mapping that this process made and
        // registered; replacing it with anonymous zero pages (MAP_FIXED) touches nothing else.
        // The window's owner unmaps the whole range when it is dropped, as before.
        let r = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                end - page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
        break;
    }
    // Not ours: what was there before.
    // SAFETY: PREVIOUS was filled by sigaction before this handler could run.
    unsafe {
        let prev_ptr = &raw const PREVIOUS;
        let prev = (*prev_ptr).assume_init_ref();
        let h = prev.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            // Back to the default action; returning re-runs the faulting access, which then
            // ends the process as it would have without us.
            libc::sigaction(libc::SIGBUS, prev, std::ptr::null_mut());
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(h);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
            f(sig);
        }
    }
}

/// A private, read-only map of the bytes `start..end` of a file (mapped from the page boundary
/// at or before `start`). Maps are made per unit of work and dropped right after it, so the
/// process's resident memory stays at a few MiB per thread, as with reads.
pub(crate) struct Mapping {
    ptr: *mut std::ffi::c_void,
    len: usize,
    /// Offset of `start` in the map.
    skip: usize,
    slot: &'static Slot,
}

// SAFETY: the map is read-only and only replaced by zero pages (by the SIGBUS handler) while it
// lives; shared references to its bytes may cross threads like any `&[u8]`.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Whether files of `size` bytes are hashed from maps (not small, maps not turned off).
    pub(crate) fn wanted(size: u64) -> bool {
        size >= MIN_MAPPED && std::env::var_os("WEIGHTSEAL_NO_MMAP").is_none_or(|v| v != "1")
    }

    /// Maps bytes `start..end` of `file`, or `None` (empty range, the SIGBUS handler could not
    /// be installed, the window table is full, or mmap failed: the caller then reads with
    /// `pread`).
    pub(crate) fn window(file: &File, start: u64, end: u64) -> Option<Mapping> {
        let base = start & !(PAGE as u64 - 1);
        let len = usize::try_from(end.checked_sub(base)?)
            .ok()
            .filter(|&l| l > 0)?;
        let skip = (start - base) as usize;
        // A file shorter than the window now (truncated since it was opened) is read instead,
        // which reports the change as an error at once.
        if file.metadata().ok()?.len() < end || !install() {
            return None;
        }
        // A free slot, claimed before the map exists (its start is set once mapped).
        let slot = WINDOWS.iter().find(|s| {
            s.len
                .compare_exchange(0, len, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })?;
        slot.faulted.store(false, Ordering::Release);
        // SAFETY: a fresh private read-only mapping at an address the kernel chooses; no
        // existing memory is affected; `len` is non-zero and `base` page-aligned.
        let ptr = match unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::PRIVATE,
                file,
                base,
            )
        } {
            Ok(p) => p,
            Err(_) => {
                slot.len.store(0, Ordering::Release);
                return None;
            }
        };
        slot.start.store(ptr as usize, Ordering::Release);
        Some(Mapping {
            ptr,
            len,
            skip,
            slot,
        })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes, unmapped only in `drop`,
        // which cannot run while this borrow lives. A truncation by another process turns the
        // pages past the new end into zeros (see the module documentation), never a crash.
        let all = unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) };
        &all[self.skip..]
    }

    /// Whether the file was truncated while the window was read (the bytes read past its new
    /// end were zeros, not the file's): the caller must report an error, never the digest.
    pub(crate) fn truncated(&self) -> bool {
        self.slot.faulted.load(Ordering::Acquire)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the range mapped in `window` (zero pages the handler put over
        // part of it included); no borrow of it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
        // Free the slot only once nothing of the window is mapped any more.
        self.slot.start.store(0, Ordering::Release);
        self.slot.faulted.store(false, Ordering::Release);
        self.slot.len.store(0, Ordering::Release);
    }
}

/// The error for a file truncated while it was hashed from a map.
pub(crate) fn truncated_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the file was truncated while it was being read",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_truncation_under_a_live_window_is_a_mark_not_a_signal() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![7u8; 1 << 20]).unwrap();
        let m = Mapping::window(&f, 4096, 1 << 20).expect("mapped");
        assert_eq!(m.bytes()[0], 7);
        assert!(!m.truncated());
        // Another process truncates the file: pages past the new end are gone.
        f.set_len(8192).unwrap();
        let sum: u64 = m.bytes().iter().map(|&b| u64::from(b)).sum();
        // The first 4096 bytes (still in the file) are read; the rest are zeros, and marked.
        assert_eq!(sum, 7 * 4096);
        assert!(m.truncated());
        drop(m);
        // The slot is free again and a new window is not marked.
        let f2 = {
            let mut f2 = tempfile::tempfile().unwrap();
            f2.write_all(&[1u8; 8192]).unwrap();
            f2
        };
        let m2 = Mapping::window(&f2, 0, 8192).unwrap();
        assert!(!m2.truncated() && m2.bytes().iter().all(|&b| b == 1));
    }
}
