//! The configuration contract: DATABASE_URL is the runtime role, DATABASE_OWNER_URL the
//! owner, DATABASE_ADMIN_URL (optional) a superuser used only by `migrate` to bootstrap,
//! ENCLAVE_ENV the environment this process believes it serves.

use std::fmt;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "development" => Some(Self::Development),
            "staging" => Some(Self::Staging),
            "production" => Some(Self::Production),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("ENCLAVE_ENV must be development, staging or production (got {0:?})")]
    BadEnvironment(String),
}

#[derive(Clone)]
pub struct Config {
    pub runtime_url: String,
    pub owner_url: Option<String>,
    pub admin_url: Option<String>,
    pub environment: Environment,
    /// ENCLAVE_PUBLIC_URL: the origin browsers use (e.g. https://app.example.com). When
    /// unset, same-site checks compare with the request's own Host.
    pub public_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let runtime_url =
            std::env::var("DATABASE_URL").map_err(|_| ConfigError::Missing("DATABASE_URL"))?;
        let env = std::env::var("ENCLAVE_ENV").map_err(|_| ConfigError::Missing("ENCLAVE_ENV"))?;
        let environment = Environment::parse(&env).ok_or(ConfigError::BadEnvironment(env))?;
        Ok(Self {
            runtime_url,
            owner_url: std::env::var("DATABASE_OWNER_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            admin_url: std::env::var("DATABASE_ADMIN_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            environment,
            public_url: std::env::var("ENCLAVE_PUBLIC_URL")
                .ok()
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty()),
        })
    }

    pub fn owner_url(&self) -> Result<&str, ConfigError> {
        self.owner_url
            .as_deref()
            .ok_or(ConfigError::Missing("DATABASE_OWNER_URL"))
    }
}

/// A database URL with its password removed, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable database url>".to_string(),
    }
}
