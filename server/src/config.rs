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
    #[error("{0}")]
    Invalid(String),
}

/// Seals in development when no key is configured (key id `development`). Public, so it
/// protects nothing: staging and production refuse to start without keys of their own.
const DEVELOPMENT_SECRET_KEY: &str =
    "646576656c6f706d656e74206b6579202d206e6f742061207365637265742121";

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

    /// The sealing keys: ENCLAVE_SECRET_KEYS (`*id:hex,id:hex`, see [`vault::KeySet::parse`]),
    /// or the short form ENCLAVE_SECRET_KEY (64 hex digits: one key, id `default`).
    pub fn vault(&self) -> Result<vault::Vault, ConfigError> {
        self.key_set().map(vault::Vault::new)
    }

    /// The context-proof keys derived from the sealing keys (see [`ContextKeys`]).
    pub fn context_keys(&self) -> Result<ContextKeys, ConfigError> {
        self.key_set().map(|set| ContextKeys::of(&set))
    }

    fn key_set(&self) -> Result<vault::KeySet, ConfigError> {
        secret_keys(
            std::env::var("ENCLAVE_SECRET_KEYS").ok(),
            std::env::var("ENCLAVE_SECRET_KEY").ok(),
            self.environment,
        )
    }

    /// ENCLAVE_SMTP_URL (lettre's SMTP URL) and ENCLAVE_MAIL_FROM: when the URL is set,
    /// queued mail is delivered; otherwise it stays in the outbox (visible in development).
    pub fn mail_delivery(&self) -> Option<(String, String)> {
        let url = std::env::var("ENCLAVE_SMTP_URL")
            .ok()
            .filter(|s| !s.is_empty())?;
        let from = std::env::var("ENCLAVE_MAIL_FROM")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "Enclave <no-reply@localhost>".to_string());
        Some((url, from))
    }

    /// The rate limits (`crate::rate_limit`): ENCLAVE_AUTH_RATE_PER_MINUTE (sign-in and
    /// invitation requests per client address, default 30), ENCLAVE_UPLOAD_RATE_PER_HOUR
    /// (30), ENCLAVE_GENERATION_RATE_PER_HOUR (60), ENCLAVE_CREATION_RATE_PER_HOUR
    /// (organizations and clients, 20), each per signed-in user.
    pub fn rate_settings(&self) -> Result<crate::rate_limit::RateSettings, ConfigError> {
        let read = |name, default: u32| {
            whole_number(name, u64::from(default), 1..=u64::from(u32::MAX)).map(|n| n as u32)
        };
        let d = crate::rate_limit::RateSettings::default();
        Ok(crate::rate_limit::RateSettings {
            sign_in_per_minute: read("ENCLAVE_AUTH_RATE_PER_MINUTE", d.sign_in_per_minute)?,
            uploads_per_hour: read("ENCLAVE_UPLOAD_RATE_PER_HOUR", d.uploads_per_hour)?,
            generations_per_hour: read("ENCLAVE_GENERATION_RATE_PER_HOUR", d.generations_per_hour)?,
            creations_per_hour: read("ENCLAVE_CREATION_RATE_PER_HOUR", d.creations_per_hour)?,
        })
    }

    /// The listener's timeouts: ENCLAVE_HEADER_TIMEOUT_SECS, ENCLAVE_BODY_IDLE_TIMEOUT_SECS,
    /// ENCLAVE_REQUEST_TIMEOUT_SECS (whole seconds, 1 to 3600), each optional.
    pub fn timeouts(&self) -> Result<crate::listener::Timeouts, ConfigError> {
        let read = |name, default: std::time::Duration| {
            whole_number(name, default.as_secs(), 1..=3600).map(std::time::Duration::from_secs)
        };
        let d = crate::listener::Timeouts::default();
        Ok(crate::listener::Timeouts {
            header_read: read("ENCLAVE_HEADER_TIMEOUT_SECS", d.header_read)?,
            body_idle: read("ENCLAVE_BODY_IDLE_TIMEOUT_SECS", d.body_idle)?,
            request: read("ENCLAVE_REQUEST_TIMEOUT_SECS", d.request)?,
        })
    }

    /// STRIPE_WEBHOOK_SECRET: the webhook endpoint's secrets, comma-separated while one is
    /// rotated. `None`: billing is not configured and the route is not served.
    pub fn stripe_webhook_secrets(&self) -> Option<crate::stripe_webhook::WebhookSecrets> {
        crate::stripe_webhook::WebhookSecrets::parse(
            &std::env::var("STRIPE_WEBHOOK_SECRET").unwrap_or_default(),
        )
    }

    /// Stripe's API for billing: STRIPE_SECRET_KEY, ENCLAVE_STRIPE_PRICES (plan=price_…,
    /// …) and ENCLAVE_STRIPE_API_BASE (unset: Stripe itself; the stand-in in development
    /// and tests). Without a key billing is not configured: /billing says so.
    pub fn billing(&self) -> Result<app::billing::Billing, ConfigError> {
        use app::billing::stripe_api::{PriceCatalog, StripeApi};
        use app::billing::Billing;
        let key = std::env::var("STRIPE_SECRET_KEY").unwrap_or_default();
        let key = key.trim();
        if key.is_empty() {
            return Ok(Billing::NotConfigured(
                "STRIPE_SECRET_KEY is not set".into(),
            ));
        }
        // A copy of production's configuration must not charge real customers from
        // staging or a laptop.
        if self.environment != Environment::Production
            && (key.starts_with("sk_live_") || key.starts_with("rk_live_"))
        {
            return Err(ConfigError::Invalid(format!(
                "STRIPE_SECRET_KEY is a live key, and ENCLAVE_ENV is {}: live keys are for production only",
                self.environment
            )));
        }
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            return Err(ConfigError::Invalid(
                "STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_… or rk_…)".into(),
            ));
        }
        let prices =
            PriceCatalog::parse(&std::env::var("ENCLAVE_STRIPE_PRICES").unwrap_or_default())
                .map_err(ConfigError::Invalid)?;
        let base = std::env::var("ENCLAVE_STRIPE_API_BASE")
            .ok()
            .filter(|b| !b.trim().is_empty());
        let api = StripeApi::new(key, base.as_deref().map(str::trim), prices)
            .map_err(ConfigError::Invalid)?;
        Ok(Billing::Configured(std::sync::Arc::new(api)))
    }

    /// ENCLAVE_TRUSTED_PROXIES: addresses or networks whose X-Forwarded-For is believed
    /// (unset: none; the peer address is the client).
    pub fn trusted_proxies(&self) -> Result<crate::rate_limit::TrustedProxies, ConfigError> {
        crate::rate_limit::TrustedProxies::parse(
            &std::env::var("ENCLAVE_TRUSTED_PROXIES").unwrap_or_default(),
        )
        .map_err(ConfigError::Invalid)
    }

    /// The OpenID providers: ENCLAVE_OIDC_PROVIDERS lists ids (comma-separated); each id
    /// has ENCLAVE_OIDC_<ID>_ISSUER, _CLIENT_ID, optional _CLIENT_SECRET and _NAME.
    pub fn oidc_providers(&self) -> Result<Vec<app::sign_in::oidc::ProviderConfig>, ConfigError> {
        listed_providers("ENCLAVE_OIDC_PROVIDERS", "ENCLAVE_OIDC")?
            .into_iter()
            .map(|p| {
                Ok(app::sign_in::oidc::ProviderConfig {
                    name: p.var("NAME").unwrap_or_else(|| p.id.clone()),
                    issuer: p.required("ISSUER")?,
                    client_id: p.required("CLIENT_ID")?,
                    client_secret: p.var("CLIENT_SECRET"),
                    id: p.id,
                })
            })
            .collect()
    }

    /// The publishing providers, checked and ready to call. Their callbacks come back to
    /// `public_url` (ENCLAVE_PUBLIC_URL when set; processes that serve no pages pass None).
    pub fn integration_clients(
        &self,
        public_url: Option<&str>,
    ) -> Result<app::integrations::provider::Integrations, String> {
        let public_url = public_url
            .map(str::to_string)
            .or_else(|| self.public_url.clone())
            .unwrap_or_else(|| "http://127.0.0.1:3000".into());
        self.integrations()
            .map_err(|e| e.to_string())
            .and_then(|p| app::integrations::provider::Integrations::new(p, &public_url))
    }

    /// ENCLAVE_INTEGRATIONS=id,… and ENCLAVE_INTEGRATION_<ID>_{NAME,AUTH_URL,TOKEN_URL,
    /// REVOKE_URL,CLIENT_ID,CLIENT_SECRET,SCOPES,API_URL}: the publishing providers
    /// accounts can be connected to.
    pub fn integrations(
        &self,
    ) -> Result<Vec<app::integrations::provider::IntegrationProvider>, ConfigError> {
        listed_providers("ENCLAVE_INTEGRATIONS", "ENCLAVE_INTEGRATION")?
            .into_iter()
            .map(|p| {
                Ok(app::integrations::provider::IntegrationProvider {
                    name: p.var("NAME").unwrap_or_else(|| p.id.clone()),
                    auth_url: p.required("AUTH_URL")?,
                    token_url: p.required("TOKEN_URL")?,
                    revoke_url: p.var("REVOKE_URL"),
                    client_id: p.required("CLIENT_ID")?,
                    client_secret: p.var("CLIENT_SECRET"),
                    scopes: p
                        .var("SCOPES")
                        .unwrap_or_default()
                        .split([' ', ','])
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    api_url: p.required("API_URL")?,
                    id: p.id,
                })
            })
            .collect()
    }

    pub fn owner_url(&self) -> Result<&str, ConfigError> {
        self.owner_url
            .as_deref()
            .ok_or(ConfigError::Missing("DATABASE_OWNER_URL"))
    }
}

/// A database URL with its password removed, for messages and logs.
/// A whole number from the environment within `range`; unset or empty: `default`.
fn whole_number(
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "{name} must be a whole number from {} to {} (got {v:?})",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

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

/// One provider listed in a `…_PROVIDERS`-style variable, whose settings are
/// `<PREFIX>_<ID>_<SETTING>`.
struct ListedProvider {
    id: String,
    list_var: &'static str,
    prefix: &'static str,
}

impl ListedProvider {
    fn name_of(&self, suffix: &str) -> String {
        format!(
            "{}_{}_{suffix}",
            self.prefix,
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }

    fn var(&self, suffix: &str) -> Option<String> {
        std::env::var(self.name_of(suffix))
            .ok()
            .filter(|s| !s.is_empty())
    }

    fn required(&self, suffix: &str) -> Result<String, ConfigError> {
        self.var(suffix).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{} is listed in {} but {} is not set",
                self.id,
                self.list_var,
                self.name_of(suffix)
            ))
        })
    }
}

fn listed_providers(
    list_var: &'static str,
    prefix: &'static str,
) -> Result<Vec<ListedProvider>, ConfigError> {
    let list = std::env::var(list_var).unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|id| {
            if id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                Ok(ListedProvider {
                    id: id.to_string(),
                    list_var,
                    prefix,
                })
            } else {
                Err(ConfigError::Invalid(format!(
                    "{list_var}: {id:?} must be lowercase letters, digits and '-'"
                )))
            }
        })
        .collect()
}

/// The keys a process proves its tenant contexts with (migration 0027), one per sealing
/// key: `active` is what `serve`, `worker` and the commands prove with; `all` is what
/// `enclave migrate` installs in the database (so processes on either side of a key
/// rotation are accepted), and removes any other.
#[derive(Clone, Debug)]
pub struct ContextKeys {
    pub active: tenancy::ContextKey,
    pub all: Vec<tenancy::ContextKey>,
}

impl ContextKeys {
    pub fn of(set: &vault::KeySet) -> Self {
        let (id, key) = set.active_context_key();
        Self {
            active: tenancy::ContextKey::new(id.as_str(), key),
            all: set
                .context_keys()
                .map(|(id, key)| tenancy::ContextKey::new(id.as_str(), key))
                .collect(),
        }
    }

    /// Those of the public development key: what a development database and the tests'
    /// scratch databases hold.
    pub fn development() -> Self {
        Self::of(
            &secret_keys(None, None, Environment::Development).expect("the development key parses"),
        )
    }
}

/// The keys to seal with: the ones given, or in development the public development key.
/// Outside development keys must be given, and a set holding the public one is refused.
fn secret_keys(
    keys: Option<String>,
    short_form: Option<String>,
    environment: Environment,
) -> Result<vault::KeySet, ConfigError> {
    let invalid = |name: &str, e: vault::VaultError| ConfigError::Invalid(format!("{name}: {e}"));
    let (name, set) = match (
        keys.filter(|s| !s.trim().is_empty()),
        short_form.filter(|s| !s.trim().is_empty()),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid(
                "set ENCLAVE_SECRET_KEYS or ENCLAVE_SECRET_KEY, not both".into(),
            ))
        }
        (Some(spec), None) => (
            "ENCLAVE_SECRET_KEYS",
            vault::KeySet::parse(&spec).map_err(|e| invalid("ENCLAVE_SECRET_KEYS", e))?,
        ),
        (None, Some(key)) => (
            "ENCLAVE_SECRET_KEY",
            vault::KeySet::parse(&format!("default:{}", key.trim()))
                .map_err(|e| invalid("ENCLAVE_SECRET_KEY", e))?,
        ),
        (None, None) if environment == Environment::Development => {
            let dev = vault::KeySet::parse(&format!("development:{DEVELOPMENT_SECRET_KEY}"))
                .expect("the development key parses");
            return Ok(dev);
        }
        (None, None) => return Err(ConfigError::Missing("ENCLAVE_SECRET_KEYS")),
    };
    if environment != Environment::Development && set.contains_key_hex(DEVELOPMENT_SECRET_KEY) {
        return Err(ConfigError::Invalid(format!(
            "{name} holds the public development key, which protects nothing: use keys of your own (64 hex digits each, e.g. from `openssl rand -hex 32`)"
        )));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_development_key_is_refused_outside_development() {
        let public = Some(DEVELOPMENT_SECRET_KEY.to_uppercase());
        let own = format!("*k2:{},k1:{}", "ab".repeat(32), "cd".repeat(32));
        assert!(secret_keys(None, public.clone(), Environment::Development).is_ok());
        for env in [Environment::Staging, Environment::Production] {
            let err = secret_keys(None, public.clone(), env)
                .unwrap_err()
                .to_string();
            assert!(err.contains("public development key"), "{err}");
            let mixed = format!("*k2:{},old:{DEVELOPMENT_SECRET_KEY}", "ab".repeat(32));
            let err = secret_keys(Some(mixed), None, env).unwrap_err().to_string();
            assert!(
                err.contains("ENCLAVE_SECRET_KEYS holds the public development key"),
                "{err}"
            );
            assert!(matches!(
                secret_keys(None, None, env),
                Err(ConfigError::Missing("ENCLAVE_SECRET_KEYS"))
            ));
            assert_eq!(
                secret_keys(Some(own.clone()), None, env)
                    .unwrap()
                    .active()
                    .as_str(),
                "k2"
            );
            assert_eq!(
                secret_keys(None, Some("ab".repeat(32)), env)
                    .unwrap()
                    .active()
                    .as_str(),
                "default"
            );
        }
        assert_eq!(
            secret_keys(None, None, Environment::Development)
                .unwrap()
                .active()
                .as_str(),
            "development"
        );
        assert!(secret_keys(Some(own), Some("ab".repeat(32)), Environment::Development).is_err());
        let err = secret_keys(Some("k1:abc".into()), None, Environment::Development)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("ENCLAVE_SECRET_KEYS: "), "{err}");
    }
}
