//! Plumbing that knows no front end: the accept loop with its connection
//! limits, and the HTTP/1.1 client the gateway reaches its upstream with.
//! What a connection or a request means is decided above (`crate::app`,
//! `crate::scope`); nothing here imports a feature.

pub mod connections;
pub mod upstream;
