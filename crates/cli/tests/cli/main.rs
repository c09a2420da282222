//! The `payfac` command line as docs/PROTOCOL.md §9 describes it, driven
//! through the real binary; one test binary, one module per subject.

#[path = "../helpers/mod.rs"]
mod helpers;

mod config;
mod gateway;
mod help;
mod keys;
mod merchant;
mod serve;
mod storage;
