//! The transparency log of model releases (spec/log.md): an append-only Merkle log in the
//! C2SP formats — static tiles (tlog-tiles), signed checkpoints (tlog-checkpoint, signed-note),
//! witness cosignatures (tlog-cosignature, tlog-witness) and offline proofs (tlog-proof@v1).
//!
//! - [`entry`]: what is logged for a release, byte for byte.
//! - [`keys`]: the log's and the witnesses' keys as signed-note signers and verifier keys.
//! - [`store`]: a log directory: `log init`, `log add` (atomic, serialised), tiles, proofs.
//! - [`proof`]: the `weightseal.tlog-proof` of a release, and its offline verification.
//! - [`witness`]: a witness's state and its `add-checkpoint` decision.
//! - [`monitor`]: following a log: append-only checks and the entries of watched models.
//! - [`client`]: the HTTP client side: asking witnesses, submitting, reading a remote log.
//! - [`serve`]: the HTTP server side: serving a log and its submissions, serving a witness.
//!
//! Merkle hashing, proofs and checkpoint text come from the `tlog_tiles` crate (a port of Go's
//! `sumdb/tlog`), signed notes from `signed_note`; the entry, the storage, the tile paths of
//! C2SP tlog-tiles, cosignatures, the witness and the monitor are written here.

pub mod client;
pub mod entry;
pub mod keys;
pub mod monitor;
pub mod proof;
pub mod serve;
pub mod store;
pub mod witness;

pub use entry::LogEntry;
pub use keys::{LogSigner, VerifierKey};
pub use proof::{LogPolicy, TlogProof};

/// Tile height of C2SP tlog-tiles: 2^8 hashes or entries per full tile.
pub const TILE_HEIGHT: u8 = 8;
/// Entries (or hashes) in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("log entry: {0}")]
    Entry(String),
    #[error("key: {0}")]
    Key(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("proof: {0}")]
    Proof(String),
    #[error("the log's tree: {0}")]
    Tree(String),
    #[error("{0}")]
    Witness(String),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Usage(String),
}

fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The C2SP tlog-tiles path of a hash tile (`tile/<L>/<N>[.p/<W>]`) or, with `level` `None`,
/// of an entry bundle (`tile/entries/<N>[.p/<W>]`): `N` in groups of three digits, all but the
/// last prefixed `x`; `.p/<W>` for a partial tile of `W` < 256.
pub fn tile_path(level: Option<u8>, n: u64, w: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        parts.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    parts.reverse();
    let l = match level {
        Some(l) => l.to_string(),
        None => "entries".to_string(),
    };
    let p = if w == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{w}")
    };
    format!("tile/{l}/{}{p}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tile_paths_are_c2sp() {
        assert_eq!(super::tile_path(Some(0), 0, 256), "tile/0/000");
        assert_eq!(
            super::tile_path(Some(1), 1234067, 8),
            "tile/1/x001/x234/067.p/8"
        );
        assert_eq!(super::tile_path(None, 5, 256), "tile/entries/005");
        assert_eq!(super::tile_path(None, 1000, 3), "tile/entries/x001/000.p/3");
    }
}
