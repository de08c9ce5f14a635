//! The one way into the admin console's data: the session says who (and when they
//! signed in), the database decides whether they are an admin now.

use crate::error::AppError;
use crate::session::{self, SessionUser, ADMIN_IDLE_LIFETIME_SECS};
use tenancy::{AdminAction, AdminClaim, AdminDb, AdminTx, TenantError, SESSION_USER_KEY};

fn admin_db() -> Result<AdminDb, AppError> {
    leptos::prelude::use_context::<AdminDb>()
        .ok_or_else(|| crate::error::missing_context("AdminDb"))
}

/// Opens the admin transaction for `action`, or refuses: not signed in, idle for more
/// than an hour, not a platform admin (now), or a change without a recent sign-in.
pub async fn begin(action: AdminAction) -> Result<AdminTx, AppError> {
    let session = session::session().await?;
    let stored = session
        .get::<SessionUser>(SESSION_USER_KEY)
        .await
        .map_err(|e| AppError::internal(&e))?
        .ok_or(AppError::NotSignedIn)?;
    if session::now_unix() - stored.last_seen() > ADMIN_IDLE_LIFETIME_SECS {
        return Err(AppError::SignInAgain(
            "The admin console signs you out after an hour without use. Sign in again to continue."
                .into(),
        ));
    }
    let user = session::signed_in(&session)
        .await?
        .ok_or(AppError::NotSignedIn)?;
    let signed_in_at = time::OffsetDateTime::from_unix_timestamp(user.signed_in_at)
        .map_err(|e| AppError::internal(&e))?;
    let claim = AdminClaim {
        user_id: user.user_id,
        signed_in_at,
    };
    let change = action.change;
    let tx = admin_db()?
        .begin(claim, action)
        .await
        .map_err(|e| match e {
            TenantError::NoAccess(why) => {
                tracing::warn!(user_id = %user.user_id, %why, change, "admin console refused");
                AppError::NoAccess("the admin console is for platform admins.".into())
            }
            other => other.into(),
        })?;
    if !user.admin {
        // From now on this session idles out after an hour, wherever it is used.
        session
            .insert(
                SESSION_USER_KEY,
                SessionUser {
                    admin: true,
                    ..user
                },
            )
            .await
            .map_err(|e| AppError::internal(&e))?;
    }
    Ok(tx)
}
