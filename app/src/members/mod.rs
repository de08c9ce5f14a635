//! Members and invitations of the active organization: list, invite (single-use link,
//! stored only as a hash, mailed through the outbox), change role, remove, leave, and
//! the page where an invitee accepts.

pub mod accept;
#[cfg(feature = "ssr")]
pub mod token;

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long an invitation link stays valid.
pub const INVITATION_VALID_DAYS: u32 = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: Uuid,
    pub name: String,
    /// Only a verified address; `None` when the member's provider did not verify it.
    pub email: Option<String>,
    pub role: String,
    pub joined: String,
    pub is_me: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationView {
    pub invitation_id: Uuid,
    pub email: String,
    pub role: String,
    pub any_email: bool,
    pub expires: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersData {
    pub my_role: String,
    pub members: Vec<MemberView>,
    /// Empty for plain members: only owners and admins see invitations.
    pub invitations: Vec<InvitationView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationCreated {
    pub email: String,
    pub link: String,
}

#[server(endpoint = "members")]
pub async fn get_members() -> Result<MembersData, AppError> {
    let ctx = crate::session::require_context().await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let members: Vec<(Uuid, String, Option<String>, String, String)> = tx
        .query_as(
            "SELECT user_id, display_name, email, role, to_char(joined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
               FROM enclave.list_members()",
        )
        .fetch_all(tx.conn())
        .await?;
    let invitations: Vec<(Uuid, String, String, bool, String, String)> = tx
        .query_as(
            "SELECT invitation_id, email, role, any_email,
                    to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), status
               FROM enclave.list_invitations()
              WHERE status = 'pending' OR created_at > now() - interval '30 days'",
        )
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(MembersData {
        my_role: format!("{:?}", ctx.role()).to_lowercase(),
        members: members
            .into_iter()
            .map(|(user_id, name, email, role, joined)| MemberView {
                is_me: user_id == ctx.user_id(),
                user_id,
                name,
                email,
                role,
                joined,
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(
                |(invitation_id, email, role, any_email, expires, status)| InvitationView {
                    invitation_id,
                    email,
                    role,
                    any_email,
                    expires,
                    status,
                },
            )
            .collect(),
    })
}

#[server(endpoint = "change_member_role")]
pub async fn change_member_role(user_id: Uuid, role: String) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.change_member_role($1, $2)", |q| {
        q.bind(user_id).bind(role)
    })
    .await?;
    Ok(())
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(user_id: Uuid) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.remove_member($1)", |q| q.bind(user_id))
        .await?;
    Ok(())
}

/// Leaves the active organization (the last owner cannot).
#[server(endpoint = "leave_organization")]
pub async fn leave_organization() -> Result<(), AppError> {
    let ctx = crate::session::require_context().await?;
    let me = ctx.user_id();
    crate::session::run_in_organization("SELECT enclave.remove_member($1)", |q| q.bind(me)).await?;
    crate::session::forget_organization().await?;
    leptos_axum::redirect("/welcome");
    Ok(())
}

#[server(endpoint = "revoke_invitation")]
pub async fn revoke_invitation(invitation_id: Uuid) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.revoke_invitation($1)", |q| {
        q.bind(invitation_id)
    })
    .await?;
    Ok(())
}

/// The outbox keeps subjects of up to 300 characters; names may have 200 each, so
/// each is shortened (with an ellipsis) to fit.
pub fn invitation_subject(inviter: &str, organization: &str) -> String {
    fn clip(s: &str, max: usize) -> String {
        let s = s.trim();
        if s.chars().count() <= max {
            s.to_string()
        } else {
            format!(
                "{}…",
                s.chars().take(max - 1).collect::<String>().trim_end()
            )
        }
    }
    format!(
        "{} invited you to {} on Enclave",
        clip(inviter, 100),
        clip(organization, 150)
    )
}

/// Creates a single-use invitation. The secret goes into the link (shown once, here,
/// and in the sealed outbox mail); the database keeps only its SHA-256.
#[server(endpoint = "invite_member")]
pub async fn invite_member(
    email: String,
    role: String,
    any_email: Option<String>,
) -> Result<InvitationCreated, AppError> {
    let ctx = crate::session::require_context().await?;
    let env = use_context::<crate::ServerEnv>()
        .ok_or_else(|| crate::error::missing_context("ServerEnv"))?;
    let vault = crate::session::vault()?;
    let email = email.trim().to_lowercase();
    let token = token::new_token();
    let invitation_id = Uuid::new_v4();
    let link = token::invitation_link(&env.public_url, ctx.org_id(), invitation_id, &token.secret);
    let subject = invitation_subject(ctx.user_name(), ctx.org_name());
    let body = format!(
        "Hello,\n\n{} invited you to join {} on Enclave as {role}.\n\n\
         Accept the invitation here (the link works once and expires in {INVITATION_VALID_DAYS} days):\n{link}\n\n\
         If you did not expect this invitation, you can ignore this mail.\n",
        ctx.user_name(),
        ctx.org_name()
    );
    let sealed_body = crate::mail::sealing::seal_body(&vault, ctx.org_id(), &body)
        .map_err(|e| AppError::internal(&format_args!("sealing the invitation mail: {e}")))?;
    let mut tx = crate::session::transaction(&ctx).await?;
    tx.query("SELECT enclave.invite_member($1, $2, $3, $4, $5, make_interval(days => $6), $7, $8)")
        .bind(invitation_id)
        .bind(&email)
        .bind(&role)
        .bind(&token.hash)
        .bind(any_email.is_some())
        .bind(INVITATION_VALID_DAYS as i32)
        .bind(&subject)
        .bind(sealed_body)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    tracing::info!(org_id = %ctx.org_id(), %invitation_id, "invitation created");
    Ok(InvitationCreated { email, link })
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let leave = ServerAction::<LeaveOrganization>::new();
    let data = Resource::new(
        move || {
            (
                invite.version().get(),
                change.version().get(),
                remove.version().get(),
                revoke.version().get(),
            )
        },
        |_| get_members(),
    );
    let problems = move || {
        [
            change.value().get().and_then(|r| r.err()),
            remove.value().get().and_then(|r| r.err()),
            revoke.value().get().and_then(|r| r.err()),
            leave.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .map(|e| view! { <ErrorNotice error=e/> })
        .collect_view()
    };
    view! {
        <Title text="Members · Enclave"/>
        <h1>"Members"</h1>
        <div aria-live="polite">{problems}</div>
        <Suspense fallback=|| view! { <p class="loading">"Loading members…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! {
                        <MemberTable d=d.clone() change=change remove=remove leave=leave/>
                        {(d.my_role != "member").then(|| view! { <InviteSection d=d invite=invite revoke=revoke/> })}
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MemberTable(
    d: MembersData,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
    leave: ServerAction<LeaveOrganization>,
) -> impl IntoView {
    let manager = d.my_role != "member";
    let owner = d.my_role == "owner";
    view! {
        <table class="members">
            <caption class="visually-hidden">"Members of this organization"</caption>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
            <tbody>
                {d.members.into_iter().map(|m| {
                    let label = format!("Role of {}", m.name);
                    let remove_label = format!("Remove {}", m.name);
                    let role_cell = if manager && !m.is_me {
                        let roles: &[&str] = if owner { &["owner", "admin", "member"] } else { &["admin", "member"] };
                        view! {
                            <ActionForm action=change attr:class="inline">
                                <input type="hidden" name="user_id" value=m.user_id.to_string()/>
                                <select name="role" aria-label=label>
                                    {roles.iter().map(|r| view! { <option value=*r selected=*r == m.role>{*r}</option> }).collect_view()}
                                    {(!roles.contains(&m.role.as_str())).then(|| view! { <option value=m.role.clone() selected=true>{m.role.clone()}</option> })}
                                </select>
                                <button type="submit">"Change"</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! { <span>{m.role.clone()}</span> }.into_any()
                    };
                    let action_cell = if m.is_me {
                        view! {
                            <ActionForm action=leave attr:class="inline">
                                <button type="submit" class="danger">"Leave organization"</button>
                            </ActionForm>
                        }.into_any()
                    } else if manager {
                        view! {
                            <ActionForm action=remove attr:class="inline">
                                <input type="hidden" name="user_id" value=m.user_id.to_string()/>
                                <button type="submit" class="danger" aria-label=remove_label>"Remove"</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        ().into_any()
                    };
                    view! {
                        <tr data-email=m.email.clone().unwrap_or_default()>
                            <td>{m.name.clone()}{m.is_me.then_some(" (you)")}</td>
                            <td>{match m.email.clone() {
                                Some(email) => view! { <span>{email}</span> }.into_any(),
                                None => view! { <span class="muted">"address not verified"</span> }.into_any(),
                            }}</td>
                            <td>{role_cell}</td>
                            <td>{m.joined.clone()}</td>
                            <td>{action_cell}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn InviteSection(
    d: MembersData,
    invite: ServerAction<InviteMember>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    let pending = invite.pending();
    let result = move || {
        invite.value().get().map(|r| match r {
            Ok(created) => view! {
                <div class="notice ok" role="status">
                    <p>{format!("Invitation created for {}. It was queued as an email; you can also send this link yourself (it is shown only now):", created.email)}</p>
                    <p><input class="link" readonly value=created.link.clone() aria-label="Invitation link" data-testid="invitation-link"/></p>
                </div>
            }.into_any(),
            Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
        })
    };
    let list = if d.invitations.is_empty() {
        view! { <p class="empty">"No invitations yet."</p> }.into_any()
    } else {
        view! {
            <table class="invitations">
                <caption class="visually-hidden">"Invitations"</caption>
                <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    {d.invitations.into_iter().map(|i| view! {
                        <tr>
                            <td>{i.email.clone()}{i.any_email.then_some(" (any address may accept)")}</td>
                            <td>{i.role.clone()}</td>
                            <td>{i.status.clone()}</td>
                            <td>{i.expires.clone()}</td>
                            <td>{(i.status == "pending").then(|| view! {
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="invitation_id" value=i.invitation_id.to_string()/>
                                    <button type="submit" aria-label=format!("Withdraw the invitation for {}", i.email)>"Withdraw"</button>
                                </ActionForm>
                            })}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any()
    };
    view! {
        <section aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite someone"</h2>
            <ActionForm action=invite attr:class="stack">
                <div class="field">
                    <label for="invite-email">"Email address"</label>
                    <input id="invite-email" name="email" type="email" required maxlength="320" autocomplete="off"/>
                </div>
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" name="role">
                        <option value="member" selected>"member"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </div>
                <label class="choice">
                    <input type="checkbox" name="any_email" value="on"/>
                    <span>"Let whoever opens the link accept, even if their verified email is different"</span>
                </label>
                <div class="actions">
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Inviting…" } else { "Send invitation" }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">{result}</div>
            <h2>"Invitations"</h2>
            {list}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::invitation_subject;

    #[test]
    fn invitation_subjects_fit_the_outbox_whatever_the_names() {
        let long = "N".repeat(200);
        let subject = invitation_subject(&long, &"Ö".repeat(200));
        assert!(
            subject.chars().count() <= 300,
            "{} characters",
            subject.chars().count()
        );
        assert!(subject.contains('…'));
        assert_eq!(
            invitation_subject("Nora", "Northwind Coffee"),
            "Nora invited you to Northwind Coffee on Enclave"
        );
    }
}
