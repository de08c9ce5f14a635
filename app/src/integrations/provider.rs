//! The configured publishing providers (`ENCLAVE_INTEGRATIONS`) and the OAuth 2.0 calls
//! made to them with the `oauth2` crate: the authorization URL with PKCE, the code and
//! refresh grants, revocation. Their token responses are read leniently (`expires_in` as
//! a number, a numeric string or missing; an absolute `expires_at`) and normalised once,
//! here, into one expiry time.

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, StandardRevocableToken, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// One provider, as configured by `ENCLAVE_INTEGRATION_<ID>_*`.
#[derive(Clone)]
pub struct IntegrationProvider {
    /// Short name in URLs (`/integrations/{id}/start`) and on connections.
    pub id: String,
    pub name: String,
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// The provider's API: `GET {api}/me` names the account, `POST {api}/messages`
    /// publishes.
    pub api_url: String,
}

impl std::fmt::Debug for IntegrationProvider {
    // The client secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationProvider")
            .field("id", &self.id)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Every configured provider, the public URL callbacks are built on, and the HTTP client.
pub struct Integrations {
    providers: Vec<IntegrationProvider>,
    public_url: String,
    http: oauth2::reqwest::Client,
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.providers.iter().map(|p| &p.id))
            .finish()
    }
}

/// A token response as providers really send it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderTokens {
    access_token: AccessToken,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
    #[serde(skip, default = "bearer")]
    token_type: BasicTokenType,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl oauth2::TokenResponse for ProviderTokens {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        seconds(self.expires_in.as_ref()).map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

impl ProviderTokens {
    pub fn access_token(&self) -> &str {
        self.access_token.secret()
    }
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_ref().map(|t| t.secret().as_str())
    }
    /// When the access token stops working, if the provider said: `expires_in` (seconds,
    /// a number or a numeric string) first, else `expires_at` (Unix seconds or
    /// milliseconds, or RFC 3339). `None`: unknown, used until the API refuses it.
    pub fn expires_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        normalised_expiry(now, self.expires_in.as_ref(), self.expires_at.as_ref())
    }
}

/// A non-negative whole number of seconds from a JSON number or numeric string.
fn seconds(value: Option<&serde_json::Value>) -> Option<u64> {
    let n = match value? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0 && n < 1e14).then_some(n as u64)
}

pub fn normalised_expiry(
    now: OffsetDateTime,
    expires_in: Option<&serde_json::Value>,
    expires_at: Option<&serde_json::Value>,
) -> Option<OffsetDateTime> {
    if let Some(secs) = seconds(expires_in) {
        // An absurd lifetime is no lifetime: unknown, not a panic.
        return now.checked_add(time::Duration::seconds(secs as i64));
    }
    let at = expires_at?;
    if let serde_json::Value::String(s) = at {
        if let Ok(t) =
            OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        {
            return Some(t);
        }
    }
    let n = seconds(Some(at))?;
    // Milliseconds since 1970 are past 10^11 for any date after 1973.
    let unix = if n > 100_000_000_000 { n / 1000 } else { n };
    OffsetDateTime::from_unix_timestamp(unix as i64).ok()
}

/// Why a call to the provider's token endpoint did not give tokens.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The grant is gone (revoked, a refresh token used twice, the user withdrew
    /// consent): only reconnecting helps. Holds the provider's words.
    #[error("the provider refused the grant: {0}")]
    Refused(String),
    /// The provider did not answer usefully (timeout, 5xx, garbage): try again later.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// Enclave's own configuration is wrong (unknown client, bad URL): an operator's job.
    #[error("the provider refused Enclave's configuration: {0}")]
    Misconfigured(String),
}

type ProviderClient = oauth2::Client<
    BasicErrorResponse,
    ProviderTokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the browser is sent to, and what the session keeps until it returns.
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
}

impl Integrations {
    pub fn new(providers: Vec<IntegrationProvider>, public_url: &str) -> Result<Self, String> {
        let http = oauth2::reqwest::Client::builder()
            // A provider's answer must not steer our requests elsewhere (SSRF).
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let this = Self {
            providers,
            public_url: public_url.trim_end_matches('/').to_string(),
            http,
        };
        for p in &this.providers {
            this.client(p)
                .map_err(|e| format!("ENCLAVE_INTEGRATION_{}: {e}", p.id.to_uppercase()))?;
            url::Url::parse(&p.api_url)
                .map_err(|e| format!("ENCLAVE_INTEGRATION_{}_API_URL: {e}", p.id.to_uppercase()))?;
            if let Some(revoke) = &p.revoke_url {
                url::Url::parse(revoke).map_err(|e| {
                    format!(
                        "ENCLAVE_INTEGRATION_{}_REVOKE_URL: {e}",
                        p.id.to_uppercase()
                    )
                })?;
            }
        }
        Ok(this)
    }

    pub fn none() -> Self {
        Self::new(Vec::new(), "http://localhost").expect("no providers to check")
    }

    pub fn listed(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect()
    }

    pub fn find(&self, id: &str) -> Option<&IntegrationProvider> {
        self.providers.iter().find(|p| p.id == id)
    }

    pub fn http(&self) -> &oauth2::reqwest::Client {
        &self.http
    }

    pub fn callback_url(&self, id: &str) -> String {
        format!("{}/integrations/{id}/callback", self.public_url)
    }

    fn client(&self, p: &IntegrationProvider) -> Result<ProviderClient, String> {
        let mut client = oauth2::Client::new(ClientId::new(p.client_id.clone()))
            .set_auth_uri(AuthUrl::new(p.auth_url.clone()).map_err(|e| format!("AUTH_URL: {e}"))?)
            .set_token_uri(
                TokenUrl::new(p.token_url.clone()).map_err(|e| format!("TOKEN_URL: {e}"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.callback_url(&p.id)).map_err(|e| format!("callback: {e}"))?,
            );
        if let Some(secret) = &p.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }

    pub fn authorization(&self, p: &IntegrationProvider) -> Result<AuthorizationStart, String> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client(p)?
            .authorize_url(CsrfToken::new_random)
            .add_scopes(p.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizationStart {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    pub async fn exchange_code(
        &self,
        p: &IntegrationProvider,
        code: String,
        pkce_verifier: String,
    ) -> Result<ProviderTokens, GrantError> {
        let client = self.client(p).map_err(GrantError::Misconfigured)?;
        client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(grant_error)
    }

    pub async fn refresh(
        &self,
        p: &IntegrationProvider,
        refresh_token: &str,
    ) -> Result<ProviderTokens, GrantError> {
        let client = self.client(p).map_err(GrantError::Misconfigured)?;
        let token = RefreshToken::new(refresh_token.to_string());
        client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(grant_error)
    }

    /// Revokes a refresh token at the provider when it has a revocation endpoint
    /// (RFC 7009). `Ok(false)`: the provider has none. By hand rather than with the
    /// `oauth2` crate, which refuses any revocation URL that is not HTTPS, so it could
    /// not be tested against the loopback provider (and the request is one form post).
    pub async fn revoke(
        &self,
        p: &IntegrationProvider,
        refresh_token: &str,
    ) -> Result<bool, String> {
        let Some(url) = &p.revoke_url else {
            return Ok(false);
        };
        let form_encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let mut form = vec![
            ("token", refresh_token.to_string()),
            ("token_type_hint", "refresh_token".into()),
        ];
        let mut request = self.http.post(url);
        match &p.client_secret {
            // RFC 6749 2.3.1: the credentials are form-encoded before Basic encoding.
            Some(secret) => {
                request = request.basic_auth(form_encode(&p.client_id), Some(form_encode(secret)))
            }
            None => form.push(("client_id", p.client_id.clone())),
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        if response.status().is_success() {
            Ok(true)
        } else {
            Err(format!(
                "the revocation endpoint answered HTTP {}",
                response.status()
            ))
        }
    }
}

fn grant_error<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, BasicErrorResponse>,
) -> GrantError {
    match e {
        RequestTokenError::ServerResponse(response) => {
            let words = match response.error_description() {
                Some(d) => format!("{} ({d})", response.error()),
                None => response.error().to_string(),
            };
            match response.error() {
                BasicErrorResponseType::InvalidGrant => GrantError::Refused(words),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient
                | BasicErrorResponseType::UnsupportedGrantType
                | BasicErrorResponseType::InvalidScope => GrantError::Misconfigured(words),
                BasicErrorResponseType::InvalidRequest => GrantError::Refused(words),
                BasicErrorResponseType::Extension(_) => GrantError::Unavailable(words),
            }
        }
        RequestTokenError::Request(e) => GrantError::Unavailable(error_chain(&e)),
        RequestTokenError::Parse(e, _) => {
            GrantError::Unavailable(format!("an answer that is not a token response: {e}"))
        }
        RequestTokenError::Other(e) => GrantError::Unavailable(e),
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: serde_json::Value) -> ProviderTokens {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn expiry_is_one_timestamp_whatever_the_provider_sends() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let in_an_hour = Some(now + time::Duration::hours(1));
        for body in [
            json!({ "access_token": "a", "token_type": "bearer", "expires_in": 3600 }),
            json!({ "access_token": "a", "token_type": "Bearer", "expires_in": "3600" }),
            json!({ "access_token": "a", "expires_in": " 3600 " }),
            json!({ "access_token": "a", "expires_in": 3600.0 }),
            json!({ "access_token": "a", "expires_at": 1_800_003_600 }),
            json!({ "access_token": "a", "expires_at": "1800003600" }),
            json!({ "access_token": "a", "expires_at": 1_800_003_600_000u64 }),
            json!({ "access_token": "a", "expires_at": "2027-01-15T09:00:00Z" }),
        ] {
            // 1_800_003_600 is 2027-01-15T09:00:00Z.
            assert_eq!(parse(body.clone()).expires_at(now), in_an_hour, "{body}");
        }
        for body in [
            json!({ "access_token": "a" }),
            json!({ "access_token": "a", "expires_in": null }),
            json!({ "access_token": "a", "expires_in": "soon" }),
            json!({ "access_token": "a", "expires_in": -5 }),
            json!({ "access_token": "a", "expires_in": 9e13 }),
        ] {
            assert_eq!(parse(body.clone()).expires_at(now), None, "{body}");
        }
        let t = parse(json!({ "access_token": "at", "refresh_token": "rt", "expires_in": "60" }));
        assert_eq!((t.access_token(), t.refresh_token()), ("at", Some("rt")));
        assert_eq!(
            oauth2::TokenResponse::expires_in(&t),
            Some(Duration::from_secs(60))
        );
    }
}
