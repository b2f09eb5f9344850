//! Progress reporting hook. The library reports bytes processed; the binary decides whether
//! and how to draw it (a bar on stderr only when stderr is a terminal).

/// Receives byte counts as hashing proceeds. Called from worker threads.
pub trait Progress: Sync {
    /// The total number of bytes the operation will hash, announced before it starts.
    fn set_total(&self, _bytes: u64) {}
    /// `bytes` more bytes have been hashed.
    fn advance(&self, bytes: u64);

    /// A file (numbered `id` within the operation) of `size` bytes starts (downloads).
    fn file_started(&self, _id: usize, _path: &str, _size: u64) {}

    /// `bytes` more bytes of file `id` are done.
    fn file_advanced(&self, _id: usize, _bytes: u64) {}

    /// File `id` is finished (verified and in place, or failed).
    fn file_finished(&self, _id: usize) {}
}

/// Discards progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}
