//! The `enclave` binary's library: operator commands and the web server.

pub mod billing_sweep;
pub mod cli;
pub mod config;
pub mod csrf;
pub mod db_health;
pub mod error_status;
pub mod form_guard;
pub mod jobs;
pub mod left_pages;
pub mod listener;
pub mod log_storm;
pub mod mail_delivery;
pub mod ops;
pub mod plain_page;
pub mod rate_limit;
pub mod reconcile_billing;
pub mod security_headers;
pub mod stripe_webhook;
pub mod web;
