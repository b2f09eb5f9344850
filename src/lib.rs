//! weightseal: prove that a set of ML model weights is exactly what its publisher released.
//!
//! Data flows one way: bytes → [`tree`] (the chunked BLAKE3 Merkle tree) → [`manifest`]
//! (deterministic CBOR, see `spec/manifest.md`) → [`verify`] (a report of what differs).
//! The library never prints and never exits; the `weightseal` binary renders its results.
#![forbid(unsafe_code)]

pub mod digest;
pub mod manifest;
pub mod path;
pub mod progress;
pub mod tree;
pub mod verify;
pub mod walk;

pub use digest::Digest;
pub use manifest::{Manifest, ManifestError};
pub use path::ModelPath;
pub use tree::{ChunkSize, FileTree};
