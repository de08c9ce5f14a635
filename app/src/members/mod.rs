//! Members and invitations of the active organization.
#[cfg(feature = "ssr")]
pub mod token;
