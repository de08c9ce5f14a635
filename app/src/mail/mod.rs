//! Outgoing mail: sealed bodies in the `mail_outbox` table.
#[cfg(feature = "ssr")]
pub mod sealing;
