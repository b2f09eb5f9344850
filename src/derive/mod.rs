//! `weightseal derive`: re-deriving a quantized or cast release from its signed base.

pub mod float;
pub mod quant;
