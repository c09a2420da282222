//! SHA256withRSA request signing as the merchant API defines it.
//!
//! Pure functions and key types, no I/O: the server verifies with them, the
//! merchant client and the CLI sign with them, so every side agrees on the
//! signature string byte for byte.

mod keys;
mod signature_string;

pub use keys::{
    KeyError, KeyPairPem, SigningKey, VerifyingKey, decode_signature, generate_key_pair,
};
pub use signature_string::{signature_string, sorted_params};
