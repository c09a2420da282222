//! The merchant API's wire types (docs/PROTOCOL.md §3 and §7), defined
//! once: the server parses and answers with them, the Rust client sends
//! and reads them, and the OpenAPI document is generated from them.
//!
//! Adding a body field means adding it to [`UserSyncBody`] and to
//! [`UserSyncBody::from_json`] beside it; a test keeps the two in step.

mod body;
mod envelope;

pub use body::{BodyError, UserSyncBody};
pub use envelope::{Envelope, ErrorEnvelope, Issued, NoData, SignatureDebug, code};
