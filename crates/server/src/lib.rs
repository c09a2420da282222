//! The payfac HTTP service: the signed merchant API, the buyer-facing
//! pages with single sign-on, and the operations endpoints.
//!
//! A merchant request reads top to bottom: route → `api::verify` checks
//! the signature against the cached merchant keys → `api::user_sync`
//! parses the body into domain types → one store call in one transaction
//! → `envelope` answers.

pub mod admin;
pub mod api;
pub mod boundary;
pub mod config;
mod connections;
pub mod envelope;
pub mod forward_auth;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod identity;
pub mod keys;
pub mod merchants;
pub mod metric_catalog;
pub mod observability;
pub mod oidc;
mod ops;
pub mod pages;
mod playground;
mod purge;
pub mod ratelimit;
pub mod startup;
mod state;

pub use config::Config;
pub use startup::{Application, router};
pub use state::{AppState, Backlog, Shared};
