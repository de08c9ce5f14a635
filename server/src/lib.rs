//! The `enclave` binary's library: operator commands and the web server.

pub mod cli;
pub mod config;
pub mod csrf;
pub mod ops;
pub mod web;
