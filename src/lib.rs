//! weightseal: prove that a set of ML model weights is exactly what its publisher released.
//!
//! Data flows one way: bytes → [`tree`] (the chunked BLAKE3 Merkle tree) → [`manifest`]
//! (deterministic CBOR, see `spec/manifest.md`) → [`verify`] (a report of what differs).
//! The library never prints and never exits; the `weightseal` binary renders its results.
//!
//! ```
//! use weightseal::tree::{hash_bytes, verify_chunk, ChunkSize};
//!
//! let cs = ChunkSize::new(16 * 1024).unwrap();
//! let data = vec![7u8; 40_000];
//! let tree = hash_bytes(&data, cs);
//! // The root is the standard BLAKE3 hash (what `b3sum` prints)...
//! assert_eq!(tree.root.0, *blake3::hash(&data).as_bytes());
//! // ...and each 16 KiB chunk can be checked on its own, e.g. as it downloads.
//! assert_eq!(tree.chunks.len(), 3);
//! assert!(verify_chunk(cs, &tree, 1, &data[16384..32768]).is_ok());
//! let mut bad = data[16384..32768].to_vec();
//! bad[100] ^= 1;
//! assert!(verify_chunk(cs, &tree, 1, &bad).is_err());
//! ```
#![deny(unsafe_code)]

pub mod ask;
pub mod attest;
pub mod cbor;
pub mod derive;
pub mod diff;
pub mod digest;
pub mod evidence;
pub mod fetch;
pub mod formats;
pub mod fsutil;
pub mod hf;
pub mod index;
pub mod log;
pub mod manifest;
mod mapped;
pub mod net;
pub mod oms;
pub mod path;
pub mod progress;
pub mod publish;
pub mod release;
pub mod safedir;
pub mod tree;
pub mod verify;
pub mod walk;

pub use digest::Digest;
pub use manifest::{Manifest, ManifestError};
pub use path::ModelPath;
pub use tree::{ChunkSize, FileTree};
