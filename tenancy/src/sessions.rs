//! The session store: tower-sessions' PostgreSQL store, plus an index of sessions by
//! user so that "sign out of all devices" can delete them all. The store keeps records
//! opaque (MessagePack), so the index is written beside each save.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;
use uuid::Uuid;

/// The session key under which the app keeps the signed-in user (`{"user_id": ...}`).
pub const SESSION_USER_KEY: &str = "enclave.user";

#[derive(Debug, Clone)]
pub struct IndexedSessionStore {
    inner: PostgresStore,
    pool: PgPool,
}

impl IndexedSessionStore {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            inner: PostgresStore::new(pool.clone()),
            pool,
        }
    }

    async fn index(&self, record: &Record) -> session_store::Result<()> {
        let user = owner_of(record);
        let id = record.id.to_string();
        let result =
            match user {
                Some(user) => sqlx::query(
                    "INSERT INTO tower_sessions.session_owner (session_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (session_id) DO UPDATE SET user_id = EXCLUDED.user_id",
                )
                .bind(&id)
                .bind(user)
                .execute(&self.pool)
                .await,
                None => {
                    sqlx::query("DELETE FROM tower_sessions.session_owner WHERE session_id = $1")
                        .bind(&id)
                        .execute(&self.pool)
                        .await
                }
            };
        result
            .map(|_| ())
            .map_err(|e| session_store::Error::Backend(e.to_string()))
    }
}

/// The signed-in user a session record belongs to, if any.
fn owner_of(record: &Record) -> Option<Uuid> {
    record
        .data
        .get(SESSION_USER_KEY)
        .and_then(|v| v.get("user_id"))
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

#[async_trait]
impl SessionStore for IndexedSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // The store opens a transaction here; run it on its own task so a dropped
        // request cannot cancel its BEGIN half way (see `tx::begin_detached`).
        let inner = self.inner.clone();
        let mut owned = record.clone();
        let created = tokio::spawn(async move { inner.create(&mut owned).await.map(|_| owned) })
            .await
            .map_err(|e| session_store::Error::Backend(e.to_string()))??;
        *record = created;
        self.index(record).await
    }
    /// Saves a session that exists; never brings back one that is gone. tower-sessions'
    /// store upserts, so a request that was in flight on another device while "sign out
    /// of all devices" deleted this session would write it back, signed in. Here the
    /// row is updated (and indexed) in one statement: the update locks the row, so a
    /// concurrent delete either waits for it and removes it afterwards, or ran first and
    /// leaves nothing to update.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data =
            rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let saved = sqlx::query(
            "WITH saved AS (
                 UPDATE tower_sessions.session SET data = $2, expiry_date = $3
                  WHERE id = $1 RETURNING id),
             unowned AS (
                 DELETE FROM tower_sessions.session_owner o USING saved
                  WHERE $4::uuid IS NULL AND o.session_id = saved.id)
             INSERT INTO tower_sessions.session_owner (session_id, user_id)
             SELECT id, $4 FROM saved WHERE $4::uuid IS NOT NULL
             ON CONFLICT (session_id) DO UPDATE SET user_id = EXCLUDED.user_id",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(record.expiry_date)
        .bind(owner_of(record))
        .execute(&self.pool)
        .await
        .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        if saved.rows_affected() == 0 && owner_of(record).is_some() {
            tracing::info!(
                "session was signed out elsewhere while a request was running; not saved again"
            );
        }
        Ok(())
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        // The index row goes with the session (ON DELETE CASCADE).
        self.inner.delete(id).await
    }
}

#[async_trait]
impl ExpiredDeletion for IndexedSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.inner.delete_expired().await
    }
}
