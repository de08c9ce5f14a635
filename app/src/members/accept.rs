//! The page an invitation link opens: `/invitations/{org}/{invitation}?token=…`. The
//! invitee must be signed in; the database checks the token's hash, expiry, single use
//! and the verified email, and only then adds the membership.

use crate::error::AppError;
use crate::layout::{ErrorNotice, Viewer};
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_location, use_params_map, use_query_map};
use uuid::Uuid;

#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(
    org_id: Uuid,
    invitation_id: Uuid,
    token: String,
) -> Result<(), AppError> {
    use crate::session;
    let user = session::require_user().await?;
    let db = session::db()?;
    let mut tx = db.begin_user(&user).await?;
    let accepted = tx
        .query("SELECT enclave.accept_invitation($1, $2, $3)")
        .bind(org_id)
        .bind(invitation_id)
        .bind(super::token::hash_secret(&token))
        .execute(tx.conn())
        .await;
    if let Err(e) = accepted {
        // The database's refusals are written for the invitee; show them as they are.
        return Err(match tenancy::TenantError::from(e) {
            tenancy::TenantError::Rejected(why) => AppError::NotAvailable(why),
            tenancy::TenantError::OverLimit(why) => AppError::OverLimit(why),
            other => other.into(),
        });
    }
    tx.commit().await?;
    session::enter_organization(&db, &session::session().await?, user.user_id(), org_id).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[component]
pub fn AcceptInvitationPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let location = use_location();
    let accept = ServerAction::<AcceptInvitation>::new();
    let viewer = expect_context::<Resource<Result<Option<Viewer>, AppError>>>();
    let org = move || params.read().get("org").unwrap_or_default();
    let invitation = move || params.read().get("invitation").unwrap_or_default();
    let token = move || query.read().get("token").unwrap_or_default();
    let here = move || {
        // The router's `search` may come with or without its leading '?'.
        let search = location.search.get();
        let search = search.trim_start_matches('?');
        let path = location.pathname.get();
        if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        }
    };
    let pending = accept.pending();
    view! {
        <Title text="Invitation · Enclave"/>
        // The token is in this page's address: other sites never get it as a referrer.
        // Not "no-referrer": that also sends `Origin: null` with this page's own form
        // (Accept without JavaScript), which the same-site check rightly refuses.
        <Meta name="referrer" content="same-origin"/>
        <h1>"You are invited to an organization on Enclave"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(v)) => view! {
                        <p>{format!("Signed in as {}. Accept to join the organization that invited you.", v.user_name)}</p>
                        <ActionForm action=accept>
                            <input type="hidden" name="org_id" value=org()/>
                            <input type="hidden" name="invitation_id" value=invitation()/>
                            <input type="hidden" name="token" value=token()/>
                            <button type="submit" disabled=move || pending.get()>
                                {move || if pending.get() { "Accepting…" } else { "Accept invitation" }}
                            </button>
                        </ActionForm>
                        <p class="muted">"Not you? "<a href="/sign-in">"Sign in with another account"</a>"."</p>
                    }.into_any(),
                    _ => {
                        let sign_in = format!("/sign-in?return_to={}", crate::sign_in::percent_encode(&here()));
                        view! {
                            <p>"Sign in first, then come back to this page to accept. We will bring you back here."</p>
                            <p><a class="button" href=sign_in>"Sign in to accept"</a></p>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        <div aria-live="polite">
            {move || accept.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
        </div>
    }
}
