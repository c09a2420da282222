//! Black-box tests of the HTTP service: each test spawns the application
//! on port 0 with its own temporary SQLite database.

mod helpers;

mod admin;
mod body_validation;
mod connections;
mod consent;
mod forward_auth;
mod gateway;
mod identity_keys;
mod oidc;
mod openapi;
mod overload;
mod pages;
mod playground;
mod races;
mod rate_limits;
mod routing;
mod sign_in;
mod signature;
mod storage_failure;
mod upstream;
mod user_sync;
