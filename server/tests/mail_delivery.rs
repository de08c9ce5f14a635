//! Mail delivery on the system path: queued invitation mail reaches an SMTP server once,
//! failures are recorded with a backoff, and nothing but the system path may claim mail.

mod common;

use common::*;
use enclave_server::mail_delivery::{DeliveryReport, MailSender};
use std::sync::{Arc, Mutex};
use tenancy::{TenantDb, TenantError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A minimal SMTP server: accepts every message and keeps its DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ready\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

/// Nora (Northwind owner) invites someone; the mail is sealed with `KEY`.
async fn queue_invitation(db: &TenantDb, user: Uuid, org: Uuid, body: &str) {
    let ctx = context(&db, user, org, None).await;
    let sealed = app::mail::sealing::seal_body(&vault(), org, body).unwrap();
    queue_invitation_mail(db, &ctx, &sealed).await;
}

async fn outbox_state(s: &Scratch) -> Vec<(bool, i32, Option<String>, bool)> {
    // As the admin (superuser), to read the rows without a context.
    let mut admin = s.admin().await;
    sqlx::query_as(
        "SELECT sent_at IS NOT NULL, attempts, last_error, next_attempt_at > now()
           FROM public.mail_outbox ORDER BY created_at",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap()
}

fn vault() -> vault::Vault {
    vault::Vault::new(vault::KeySet::parse(&format!("mail-test:{KEY}")).unwrap())
}

fn sender(port: u16) -> MailSender {
    MailSender::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Enclave <no-reply@enclave.test>",
        vault(),
    )
    .unwrap()
}

#[tokio::test]
async fn queued_mail_is_delivered_once_and_failures_back_off() {
    let (s, db, sys) = seeded("mail").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (port, received) = smtp_sink().await;

    queue_invitation(
        &db,
        nora,
        northwind,
        "Accept here: https://enclave.test/invitations/x",
    )
    .await;
    let report = sender(port).deliver_due(&sys).await.unwrap();
    assert_eq!(report, DeliveryReport { sent: 1, failed: 0 });
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("Subject: You are invited"), "{}", got[0]);
        assert!(
            got[0].contains("Accept here: https://enclave.test/invitations/x"),
            "{}",
            got[0]
        );
    }
    assert_eq!(outbox_state(&s).await, vec![(true, 1, None, true)]);
    // Sent mail is never sent again.
    let again = sender(port).deliver_due(&sys).await.unwrap();
    assert_eq!(again, DeliveryReport::default());
    assert_eq!(received.lock().unwrap().len(), 1);

    // A server that is down: the attempt is recorded with its error and a later retry.
    queue_invitation(&db, nora, northwind, "second").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let failed = sender(closed).deliver_due(&sys).await.unwrap();
    assert_eq!(failed, DeliveryReport { sent: 0, failed: 1 });
    let state = outbox_state(&s).await;
    let (sent, attempts, error, later) = &state[1];
    assert!(!sent);
    assert_eq!(*attempts, 1);
    assert!(
        error.as_deref().unwrap_or("").starts_with("SMTP:"),
        "{error:?}"
    );
    assert!(later, "the next attempt waits");
    // Not due yet: even a working server gets nothing now.
    assert_eq!(
        sender(port).deliver_due(&sys).await.unwrap(),
        DeliveryReport::default()
    );
}

#[tokio::test]
async fn only_the_system_path_may_claim_or_mark_mail() {
    let (_s, db, sys) = seeded("mailpath").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    queue_invitation(&db, nora, northwind, "body").await;
    let ctx = context(&db, nora, northwind, None).await;
    for sql in [
        "SELECT count(*) FROM enclave.claim_mail(10)",
        "SELECT count(*) FROM (SELECT enclave.record_mail_attempt(org_id, mail_id, NULL) FROM public.mail_outbox) x",
    ] {
        let mut tx = db.begin(&ctx).await.unwrap();
        let err = tx
            .query(sql)
            .execute(tx.conn())
            .await
            .map_err(TenantError::from)
            .unwrap_err();
        assert!(
            matches!(&err, TenantError::Refused(m) if m.contains("system path")),
            "{sql}: {err:?}"
        );
    }
}

/// A committed invitation wakes the sender at once, and two senders never claim one mail.
/// On Citus both needed migration 0033: the outbox trigger's NOTIFY fires on the worker
/// holding the shard (invite_member now notifies on the coordinator too), and a row lock
/// in a query over every shard is refused (the claim now locks row by row).
#[tokio::test]
async fn a_committed_invitation_wakes_the_sender_and_two_senders_never_share_a_mail() {
    let (_s, db, sys) = seeded("mailwake").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let mut listener = sys.listen("enclave_mail_queued").await.unwrap();
    queue_invitation(&db, nora, northwind, "one").await;
    tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("the sender is woken within 10 s of the commit")
        .unwrap();
    queue_invitation(&db, nora, northwind, "two").await;

    let claim = "SELECT mail_id FROM enclave.claim_mail($1)";
    let mut first = sys
        .begin("mail-test", "first sender", serde_json::json!({}))
        .await
        .unwrap();
    let by_first: Vec<Uuid> = sqlx::query_scalar(claim)
        .bind(1)
        .fetch_all(first.conn())
        .await
        .unwrap();
    assert_eq!(
        by_first.len(),
        1,
        "the first sender takes the one it asked for"
    );
    let mut second = sys
        .begin("mail-test", "second sender", serde_json::json!({}))
        .await
        .unwrap();
    let by_second: Vec<Uuid> = sqlx::query_scalar(claim)
        .bind(10)
        .fetch_all(second.conn())
        .await
        .unwrap();
    assert_eq!(
        by_second.len(),
        1,
        "the second sender skips the held mail: {by_second:?}"
    );
    assert_ne!(by_first, by_second);
    second.commit().await.unwrap();
    first.commit().await.unwrap();
}
