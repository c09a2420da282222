//! The payfac HTTP service: the signed merchant API, single sign-on for
//! the platform's pages (demo storefront, gateway, forward auth), the
//! admin API and the operations endpoints.
//!
//! The modules form layers (docs/DESIGN.md, "The server's layers"):
//! `app` composes the front ends (`api`, `demo`, `gateway`,
//! `forward_auth`, `playground`, `admin`, `ops`), which build on the
//! sign-in (`signin`), which builds on what every request shares
//! (`scope`, `state`, `identity`, `pages`) and on the foundations
//! (`boundary`, `edge`, `ratelimit`, `envelope`, `observability`, …).
//!
//! A merchant request reads top to bottom: `app::front` works out its
//! scope → the layers → `api::signed` checks the signature against the
//! cached merchant keys → `api::user_sync` parses the body into domain
//! types → one store call in one transaction → `envelope` answers.

pub mod admin;
pub mod api;
mod app;
pub mod boundary;
pub mod config;
mod demo;
mod edge;
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
mod pages;
mod playground;
mod purge;
pub mod ratelimit;
pub mod scope;
pub mod signin;
mod state;

pub use app::{Application, BuildError, router};
pub use config::Config;
pub use state::{AppState, Backlog, Shared};
