//! The provider's API, the two calls Enclave makes: who the account is (`GET {api}/me`)
//! and publishing a message (`POST {api}/messages`).

use super::provider::{error_chain, IntegrationProvider, Integrations};
use serde::Deserialize;
use vault::Secret;

#[derive(Debug, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Published {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the access token was refused (expired early, revoked).
    #[error("the provider refused the access token")]
    TokenRefused,
    /// 4xx other than 401: this request will not work by trying again.
    #[error("the provider refused the request: {0}")]
    Refused(String),
    /// Timeouts, 5xx, unreadable answers.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

fn endpoint(p: &IntegrationProvider, path: &str) -> String {
    format!("{}/{path}", p.api_url.trim_end_matches('/'))
}

async fn answer<T: serde::de::DeserializeOwned>(
    response: Result<oauth2::reqwest::Response, oauth2::reqwest::Error>,
) -> Result<T, ApiError> {
    let response = response.map_err(|e| ApiError::Unavailable(error_chain(&e)))?;
    let status = response.status();
    if status.as_u16() == 401 {
        return Err(ApiError::TokenRefused);
    }
    if status.is_client_error() {
        let body = response.text().await.unwrap_or_default();
        return Err(ApiError::Refused(format!(
            "HTTP {status}: {}",
            body.chars().take(300).collect::<String>()
        )));
    }
    if !status.is_success() {
        return Err(ApiError::Unavailable(format!("HTTP {status}")));
    }
    response
        .json::<T>()
        .await
        .map_err(|e| ApiError::Unavailable(format!("an answer Enclave cannot read: {e}")))
}

pub async fn account(
    integrations: &Integrations,
    p: &IntegrationProvider,
    token: &Secret,
) -> Result<Account, ApiError> {
    answer(
        integrations
            .http()
            .get(endpoint(p, "me"))
            .bearer_auth(token.expose())
            .send()
            .await,
    )
    .await
}

pub async fn publish(
    integrations: &Integrations,
    p: &IntegrationProvider,
    token: &Secret,
    text: &str,
) -> Result<Published, ApiError> {
    answer(
        integrations
            .http()
            .post(endpoint(p, "messages"))
            .bearer_auth(token.expose())
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await,
    )
    .await
}
