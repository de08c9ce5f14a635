//! Writers of campaign output drafts. The default is a deterministic template writer
//! (offline, repeatable for tests); an OpenAI-compatible HTTP endpoint can be chosen by
//! configuration:
//!
//! * `ENCLAVE_GENERATOR=template` (default), or `openai`
//! * `ENCLAVE_GENERATOR_URL`: base URL of the API, e.g. `https://api.openai.com/v1`
//!   (`/chat/completions` is appended)
//! * `ENCLAVE_GENERATOR_MODEL` (default `gpt-4o-mini`), `ENCLAVE_GENERATOR_API_KEY`
//!   (optional for local endpoints; never logged)

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a writer gets to work from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Brief {
    pub campaign: String,
    pub objective: String,
    pub voice: String,
    pub tone: String,
    pub do_list: String,
    pub dont_list: String,
    pub personas: Vec<PersonaBrief>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PersonaBrief {
    pub name: String,
    pub goals: String,
    pub pains: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub headline: String,
    pub body: String,
}

/// Why a draft could not be written, in words shown on the job.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Worth trying again later (unreachable, timed out, overloaded).
    #[error("{0}")]
    Unavailable(String),
    /// Trying again will not help (refused the request, bad key, unreadable answer).
    #[error("{0}")]
    Refused(String),
}

pub enum Generator {
    Template,
    OpenAiCompatible(HttpGenerator),
}

pub struct HttpGenerator {
    client: reqwest::Client,
    endpoint: String,
    model: String,
    api_key: Option<String>,
}

impl Generator {
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match var("ENCLAVE_GENERATOR").as_deref().map(str::trim) {
            None | Some("template") => Ok(Generator::Template),
            Some("openai") => {
                let base = var("ENCLAVE_GENERATOR_URL").ok_or(
                    "ENCLAVE_GENERATOR=openai needs ENCLAVE_GENERATOR_URL (e.g. https://api.openai.com/v1)",
                )?;
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .connect_timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
                Ok(Generator::OpenAiCompatible(HttpGenerator {
                    client,
                    endpoint: format!("{}/chat/completions", base.trim_end_matches('/')),
                    model: var("ENCLAVE_GENERATOR_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
                    api_key: var("ENCLAVE_GENERATOR_API_KEY"),
                }))
            }
            Some(other) => Err(format!(
                "ENCLAVE_GENERATOR must be template or openai (got {other:?})"
            )),
        }
    }

    /// Names the writer for logs and the start-up line (no secrets).
    pub fn describe(&self) -> String {
        match self {
            Generator::Template => "built-in templates".into(),
            Generator::OpenAiCompatible(h) => format!("{} at {}", h.model, h.endpoint),
        }
    }

    pub async fn draft(&self, brief: &Brief, channel: &str) -> Result<Draft, GenerateError> {
        match self {
            Generator::Template => Ok(template_draft(brief, channel)),
            Generator::OpenAiCompatible(h) => h.draft(brief, channel).await,
        }
    }
}

fn first_sentence(text: &str) -> &str {
    let text = text.trim();
    match text.find(['.', '!', '?', '\n']) {
        Some(i) => text[..i].trim(),
        None => text,
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out = out.trim_end().to_string();
    out.push('…');
    out
}

fn lines(list: &str) -> Vec<&str> {
    list.lines()
        .flat_map(|l| l.split(';'))
        .map(|l| l.trim().trim_start_matches(['-', '*', '•']).trim())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The deterministic writer: the same brief and channel always give the same draft.
pub fn template_draft(brief: &Brief, channel: &str) -> Draft {
    let objective = first_sentence(&brief.objective);
    let audience = brief
        .personas
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>();
    let pitch = if objective.is_empty() {
        brief.campaign.clone()
    } else {
        format!("{}: {}", brief.campaign, objective)
    };
    let lowered = channel.to_lowercase();
    let headline_limit = match lowered.as_str() {
        c if c.contains("search") || c.contains("ads") => 30,
        c if c.contains("twitter") || c == "x" || c.contains("sms") => 60,
        _ => 90,
    };
    let headline = clip(&pitch, headline_limit);

    let mut body = Vec::new();
    if !audience.is_empty() {
        body.push(format!("For {}.", audience.join(", ")));
    }
    for p in &brief.personas {
        let goal = first_sentence(&p.goals);
        let pain = first_sentence(&p.pains);
        match (goal.is_empty(), pain.is_empty()) {
            (false, false) => {
                body.push(format!("{}: wants {goal}; struggles with {pain}.", p.name))
            }
            (false, true) => body.push(format!("{}: wants {goal}.", p.name)),
            (true, false) => body.push(format!("{}: struggles with {pain}.", p.name)),
            (true, true) => {}
        }
    }
    if !brief.objective.trim().is_empty() {
        body.push(brief.objective.trim().to_string());
    }
    // "a; b; c." from items that may end in their own full stops.
    let listed = |items: Vec<&str>| {
        items
            .iter()
            .map(|i| i.trim_end_matches('.'))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let voice: Vec<&str> = [brief.voice.trim(), brief.tone.trim()]
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if !voice.is_empty() {
        body.push(format!("Voice and tone: {}.", listed(voice)));
    }
    let dos = lines(&brief.do_list);
    if !dos.is_empty() {
        body.push(format!("Remember: {}.", listed(dos)));
    }
    let donts = lines(&brief.dont_list);
    if !donts.is_empty() {
        body.push(format!("Avoid: {}.", listed(donts)));
    }
    let call = match lowered.as_str() {
        c if c.contains("mail") => "Reply to this email or follow the link to learn more.",
        c if c.contains("linkedin") || c.contains("social") || c.contains("instagram") => {
            "Share it with someone who needs it."
        }
        c if c.contains("print") || c.contains("poster") => "Find out more on our website.",
        _ => "Learn more today.",
    };
    body.push(call.to_string());
    let body_limit = match lowered.as_str() {
        c if c.contains("twitter") || c == "x" || c.contains("sms") => 280,
        c if c.contains("search") || c.contains("ads") => 90,
        _ => 2_000,
    };
    Draft {
        headline,
        body: clip(&body.join("\n\n"), body_limit),
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage>,
    temperature: f32,
}

#[derive(Serialize, Deserialize)]
struct ChatMessage {
    role: String,
    content: String,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<ChatChoice>,
}

#[derive(Deserialize)]
struct ChatChoice {
    message: ChatMessage,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

/// What a person reads when the text generator answers with an HTTP error.
fn provider_refusal(status: reqwest::StatusCode, reference: &str) -> GenerateError {
    use reqwest::StatusCode as S;
    let code = status.as_u16();
    match status {
        S::TOO_MANY_REQUESTS => GenerateError::Unavailable(format!(
            "the text generator is busy (HTTP {code}); Enclave tries again shortly (reference {reference})"
        )),
        s if s.is_server_error() => GenerateError::Unavailable(format!(
            "the text generator is unavailable (HTTP {code}); Enclave tries again shortly (reference {reference})"
        )),
        S::UNAUTHORIZED | S::FORBIDDEN => GenerateError::Refused(format!(
            "the text generator did not accept Enclave's credentials (HTTP {code}); an operator must check its API key (reference {reference})"
        )),
        _ => GenerateError::Refused(format!(
            "the text generator refused the request (HTTP {code}) (reference {reference})"
        )),
    }
}

#[derive(Deserialize)]
struct ApiError {
    message: String,
}

impl HttpGenerator {
    async fn draft(&self, brief: &Brief, channel: &str) -> Result<Draft, GenerateError> {
        let brief_json = serde_json::to_string_pretty(brief).unwrap_or_default();
        let request = ChatRequest {
            model: &self.model,
            temperature: 0.7,
            messages: vec![
                ChatMessage {
                    role: "system".into(),
                    content: "You write marketing drafts that follow the brand guidelines you are given. \
                              Answer with the headline on the first line, an empty line, then the text."
                        .into(),
                },
                ChatMessage {
                    role: "user".into(),
                    content: format!("Write a {channel} draft for this campaign brief:\n{brief_json}"),
                },
            ],
        };
        let mut call = self.client.post(&self.endpoint).json(&request);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|e| {
            GenerateError::Unavailable(if e.is_timeout() {
                "the text generator did not answer in time".into()
            } else {
                "the text generator could not be reached".into()
            })
        })?;
        let status = response.status();
        if !status.is_success() {
            // The provider's own text can name accounts, quotas or internals: it goes to
            // the log under a reference, and the job shows plain words with that reference.
            let detail = response
                .json::<ApiErrorBody>()
                .await
                .map(|b| b.error.message)
                .unwrap_or_default();
            let reference = crate::error::new_request_id();
            tracing::warn!(%reference, status = status.as_u16(), detail = %clip(detail.trim(), 300), "the text generator refused a draft");
            return Err(provider_refusal(status, &reference));
        }
        let answer: ChatResponse = response.json().await.map_err(|_| {
            GenerateError::Refused("the text generator's answer could not be read".into())
        })?;
        let text = answer
            .choices
            .into_iter()
            .next()
            .map(|c| c.message.content)
            .unwrap_or_default();
        let text = text.trim();
        let (headline, body) = text.split_once('\n').unwrap_or((text, ""));
        let headline = headline.trim().trim_start_matches('#').trim();
        if headline.is_empty() {
            return Err(GenerateError::Refused(
                "the text generator answered with an empty draft".into(),
            ));
        }
        Ok(Draft {
            headline: clip(headline, 300),
            body: clip(body.trim(), 20_000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief() -> Brief {
        Brief {
            campaign: "Spring Roast".into(),
            objective: "Launch the spring blend to regulars. Then everyone else.".into(),
            voice: "Warm, plain.".into(),
            tone: "Cheerful".into(),
            do_list: "- say thank you.\n- name the farm".into(),
            dont_list: "discounts".into(),
            personas: vec![PersonaBrief {
                name: "Office manager".into(),
                goals: "Coffee the team likes.".into(),
                pains: "Running out on Mondays.".into(),
            }],
        }
    }

    #[test]
    fn the_template_writer_is_repeatable_and_uses_the_brief() {
        let a = template_draft(&brief(), "email");
        assert_eq!(a, template_draft(&brief(), "email"));
        assert_eq!(
            a.headline,
            "Spring Roast: Launch the spring blend to regulars"
        );
        assert!(a.body.contains(
            "Office manager: wants Coffee the team likes; struggles with Running out on Mondays."
        ));
        assert!(a.body.contains("Voice and tone: Warm, plain; Cheerful."));
        assert!(a.body.contains("Remember: say thank you; name the farm."));
        assert!(a.body.contains("Avoid: discounts."));
        assert!(a
            .body
            .ends_with("Reply to this email or follow the link to learn more."));
    }

    #[test]
    fn short_channels_get_short_drafts() {
        let ad = template_draft(&brief(), "Search ads");
        assert!(ad.headline.chars().count() <= 30, "{}", ad.headline);
        assert!(ad.body.chars().count() <= 90);
        let sms = template_draft(&brief(), "SMS");
        assert!(sms.body.chars().count() <= 280);
        assert!(sms.headline.ends_with('…') || sms.headline.chars().count() <= 60);
    }

    #[test]
    fn an_empty_brief_still_gives_a_draft() {
        let d = template_draft(
            &Brief {
                campaign: "Untitled".into(),
                ..Default::default()
            },
            "print",
        );
        assert_eq!(d.headline, "Untitled");
        assert_eq!(d.body, "Find out more on our website.");
    }
}
