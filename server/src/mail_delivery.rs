//! Delivers queued mail (`public.mail_outbox`) over SMTP with `lettre`. One sender serves
//! every organization, so it works on the audited system path (`enclave.claim_mail`,
//! `enclave.record_mail_attempt` refuse anything else). It wakes when a transaction that
//! queued mail commits (`NOTIFY enclave_mail_queued`) and every five minutes for retries.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use tenancy::{SystemDb, TenantError};
use uuid::Uuid;

const BATCH: i32 = 20;
const RETRY_SWEEP: Duration = Duration::from_secs(300);

pub struct MailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    vault: vault::Vault,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub failed: usize,
}

impl MailSender {
    /// `smtp_url` as lettre reads it: `smtps://user:pass@host`, or
    /// `smtp://host:port?tls=required` for STARTTLS (plain `smtp://host:port` only for a
    /// local relay).
    pub fn new(smtp_url: &str, from: &str, vault: vault::Vault) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("ENCLAVE_SMTP_URL is not a usable SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("ENCLAVE_MAIL_FROM is not a mail address: {e}"))?;
        Ok(Self {
            transport,
            from,
            vault,
        })
    }

    async fn send(
        &self,
        org: Uuid,
        to: &str,
        subject: &str,
        sealed: Option<&[u8]>,
    ) -> Result<(), String> {
        let body = match sealed {
            Some(sealed) => app::mail::sealing::open_body(&self.vault, org, sealed)
                .map_err(|e| format!("the body does not open: {e}"))?,
            None => vault::Secret::new(""),
        };
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.expose().to_string())
            .map_err(|e| format!("building the message: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }

    /// Sends one batch of due mail; each attempt is recorded (sent, or the error and
    /// the time of the next try).
    pub async fn deliver_due(&self, system: &SystemDb) -> Result<DeliveryReport, TenantError> {
        let mut tx = system
            .begin(
                "mail-delivery",
                "deliver queued mail",
                serde_json::json!({}),
            )
            .await?;
        let due: Vec<(Uuid, Uuid, String, String, Option<Vec<u8>>, i32)> = sqlx::query_as(
            "SELECT org_id, mail_id, to_address, subject, sealed_body, attempts FROM enclave.claim_mail($1)",
        )
        .bind(BATCH)
        .fetch_all(tx.conn())
        .await?;
        let mut report = DeliveryReport::default();
        for (org_id, mail_id, to, subject, sealed, attempts) in due {
            let outcome = self.send(org_id, &to, &subject, sealed.as_deref()).await;
            match &outcome {
                Ok(()) => report.sent += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%org_id, %mail_id, attempt = attempts + 1, %error, "mail delivery failed");
                }
            }
            sqlx::query("SELECT enclave.record_mail_attempt($1, $2, $3)")
                .bind(org_id)
                .bind(mail_id)
                .bind(outcome.err())
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// The sender the configuration asks for: `None` when ENCLAVE_SMTP_URL is unset.
pub fn from_config(
    cfg: &crate::config::Config,
    vault: &vault::Vault,
) -> Result<Option<MailSender>, String> {
    let Some((url, from)) = cfg.mail_delivery() else {
        return Ok(None);
    };
    MailSender::new(&url, &from, vault.clone()).map(Some)
}

/// Starts delivery in the background when configured; says which way it went.
pub fn spawn_if_configured(
    cfg: &crate::config::Config,
    system: SystemDb,
    vault: &vault::Vault,
) -> Result<(), String> {
    match from_config(cfg, vault)? {
        Some(sender) => {
            tracing::info!("mail delivery: on (SMTP)");
            tokio::spawn(run(system, sender));
        }
        None => {
            tracing::info!("mail delivery: off (ENCLAVE_SMTP_URL unset); mail stays in the outbox")
        }
    }
    Ok(())
}

/// Runs until the process ends.
pub async fn run(system: SystemDb, sender: MailSender) {
    let mut listener = match system.listen("enclave_mail_queued").await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "mail delivery: cannot LISTEN (behind pgbouncer?); sweeping every minute instead");
            None
        }
    };
    loop {
        let full_batch = match sender.deliver_due(&system).await {
            Ok(report) => {
                if report != DeliveryReport::default() {
                    tracing::info!(sent = report.sent, failed = report.failed, "mail delivery");
                }
                report.sent + report.failed == BATCH as usize
            }
            Err(e) => {
                tracing::error!(error = %e, "mail delivery sweep failed");
                false
            }
        };
        if full_batch {
            continue;
        }
        match listener.as_mut() {
            Some(l) => {
                tokio::select! {
                    woke = l.recv() => if let Err(e) = woke {
                        tracing::warn!(error = %e, "mail delivery: notification connection lost; retrying");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    },
                    _ = tokio::time::sleep(RETRY_SWEEP) => {}
                }
            }
            None => tokio::time::sleep(Duration::from_secs(60)).await,
        }
    }
}
