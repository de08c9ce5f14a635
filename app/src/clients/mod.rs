//! Agency client workspaces: owners and admins add, rename, archive or restore clients
//! and assign staff; staff see the clients they are assigned to.

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffRef {
    pub user_id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRow {
    pub workspace_id: Uuid,
    pub name: String,
    pub slug: String,
    pub archived: bool,
    pub staff: Vec<StaffRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientsData {
    pub can_manage: bool,
    pub clients: Vec<ClientRow>,
    /// Everyone who could be assigned (managers only).
    pub members: Vec<StaffRef>,
}

#[server(endpoint = "clients")]
pub async fn get_clients() -> Result<ClientsData, AppError> {
    let ctx = crate::session::require_context().await?;
    let can_manage = ctx.role() != tenancy::Role::Member;
    let mut tx = crate::session::transaction(&ctx).await?;
    // The database says whether this organization has clients at all.
    tx.query("SELECT enclave.require_agency()")
        .execute(tx.conn())
        .await?;
    let rows: Vec<(Uuid, String, String, bool, Vec<Uuid>)> = tx
        .query_as("SELECT workspace_id, name, slug, archived, staff FROM enclave.list_clients()")
        .fetch_all(tx.conn())
        .await?;
    let members: Vec<(Uuid, String)> = tx
        .query_as("SELECT user_id, display_name FROM enclave.list_members() ORDER BY display_name")
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    let name_of = |id: &Uuid| {
        members
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| "former member".into())
    };
    Ok(ClientsData {
        can_manage,
        clients: rows
            .into_iter()
            .map(|(workspace_id, name, slug, archived, staff)| ClientRow {
                workspace_id,
                name,
                slug,
                archived,
                staff: staff
                    .iter()
                    .map(|id| StaffRef {
                        user_id: *id,
                        name: name_of(id),
                    })
                    .collect(),
            })
            .collect(),
        members: if can_manage {
            members
                .into_iter()
                .map(|(user_id, name)| StaffRef { user_id, name })
                .collect()
        } else {
            Vec::new()
        },
    })
}

#[server(endpoint = "add_client")]
pub async fn add_client(name: String) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.add_client($1)", |q| q.bind(name))
        .await
        .map(|_| ())
}

#[server(endpoint = "rename_client")]
pub async fn rename_client(workspace_id: Uuid, name: String) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.rename_client($1, $2)", |q| {
        q.bind(workspace_id).bind(name)
    })
    .await
    .map(|_| ())
}

#[server(endpoint = "archive_client")]
pub async fn archive_client(workspace_id: Uuid, archived: bool) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.archive_client($1, $2)", |q| {
        q.bind(workspace_id).bind(archived)
    })
    .await
    .map(|_| ())
}

#[server(endpoint = "set_client_assignment")]
pub async fn set_client_assignment(
    workspace_id: Uuid,
    user_id: Uuid,
    assigned: bool,
) -> Result<(), AppError> {
    crate::session::run_in_organization("SELECT enclave.set_client_assignment($1, $2, $3)", |q| {
        q.bind(workspace_id).bind(user_id).bind(assigned)
    })
    .await
    .map(|_| ())
}

#[component]
pub fn ClientsPage() -> impl IntoView {
    let add = ServerAction::<AddClient>::new();
    let rename = ServerAction::<RenameClient>::new();
    let archive = ServerAction::<ArchiveClient>::new();
    let assign = ServerAction::<SetClientAssignment>::new();
    let data = Resource::new(
        move || {
            (
                add.version().get(),
                rename.version().get(),
                archive.version().get(),
                assign.version().get(),
            )
        },
        |_| get_clients(),
    );
    let problems = move || {
        [
            add.value().get().and_then(|r| r.err()),
            rename.value().get().and_then(|r| r.err()),
            archive.value().get().and_then(|r| r.err()),
            assign.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .map(|e| view! { <ErrorNotice error=e/> })
        .collect_view()
    };
    view! {
        <Title text="Clients · Enclave"/>
        <h1>"Clients"</h1>
        <div aria-live="polite">{problems}</div>
        <Suspense fallback=|| view! { <p class="loading">"Loading clients…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <ClientList d=d add=add rename=rename archive=archive assign=assign/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ClientList(
    d: ClientsData,
    add: ServerAction<AddClient>,
    rename: ServerAction<RenameClient>,
    archive: ServerAction<ArchiveClient>,
    assign: ServerAction<SetClientAssignment>,
) -> impl IntoView {
    let manage = d.can_manage;
    let members = d.members.clone();
    let empty = d.clients.is_empty().then(|| {
        let text = if manage {
            "No clients yet. Add your first client below: each gets its own brand guidelines, personas and campaigns."
        } else {
            "You are not assigned to any client yet. Ask an owner or admin of your agency to assign you."
        };
        view! { <p class="empty">{text}</p> }
    });
    let rows = d
        .clients
        .into_iter()
        .map(|c| {
            let members = members.clone();
            let ws = c.workspace_id.to_string();
            let staff_ids: Vec<Uuid> = c.staff.iter().map(|s| s.user_id).collect();
            let rename_label = format!("New name for {}", c.name);
            let assign_label = format!("Staff to assign to {}", c.name);
            let staff_note = if c.staff.is_empty() {
                "No staff assigned: only owners and admins can open it."
            } else {
                "Staff assigned:"
            };
            let staff = c
                .staff
                .into_iter()
                .map(|s| {
                    let unassign_label = format!("Unassign {} from {}", s.name, c.name);
                    let ws = ws.clone();
                    let unassign = manage.then(move || {
                        view! {
                            <ActionForm action=assign attr:class="inline">
                                <input type="hidden" name="workspace_id" value=ws/>
                                <input type="hidden" name="user_id" value=s.user_id.to_string()/>
                                <input type="hidden" name="assigned" value="false"/>
                                <button type="submit" aria-label=unassign_label>"Unassign"</button>
                            </ActionForm>
                        }
                    });
                    view! { <li>{s.name.clone()}{unassign}</li> }
                })
                .collect_view();
            let (archived, name) = (c.archived, c.name.clone());
            let controls = manage.then(|| {
                let assignable: Vec<StaffRef> = members
                    .into_iter()
                    .filter(|m| !staff_ids.contains(&m.user_id))
                    .collect();
                let assign_ws = ws.clone();
                let (rename_ws, archive_ws) = (ws.clone(), ws.clone());
                let assign_form = (!assignable.is_empty()).then(move || {
                    view! {
                        <ActionForm action=assign attr:class="inline">
                            <input type="hidden" name="workspace_id" value=assign_ws/>
                            <input type="hidden" name="assigned" value="true"/>
                            <select name="user_id" aria-label=assign_label>
                                {assignable.into_iter().map(|m| view! { <option value=m.user_id.to_string()>{m.name}</option> }).collect_view()}
                            </select>
                            <button type="submit">"Assign"</button>
                        </ActionForm>
                    }
                });
                view! {
                    <div class="client-controls">
                        {assign_form}
                        <ActionForm action=rename attr:class="inline">
                            <input type="hidden" name="workspace_id" value=rename_ws/>
                            <input name="name" required maxlength="200" value=name aria-label=rename_label/>
                            <button type="submit">"Rename"</button>
                        </ActionForm>
                        <ActionForm action=archive attr:class="inline">
                            <input type="hidden" name="workspace_id" value=archive_ws/>
                            <input type="hidden" name="archived" value=(!archived).to_string()/>
                            <button type="submit" class=if archived { "" } else { "danger" }>
                                {if archived { "Restore" } else { "Archive" }}
                            </button>
                        </ActionForm>
                    </div>
                }
            });
            view! {
                <li class="client" data-slug=c.slug.clone()>
                    <h2>{c.name.clone()}{c.archived.then_some(" (archived)")}</h2>
                    {(!c.archived).then(|| view! {
                        <p><a href=crate::layout::scoped_path(Some(&c.slug), "brand")>{format!("Open {}", c.name)}</a></p>
                    })}
                    <p class="muted">{staff_note}</p>
                    <ul class="staff">{staff}</ul>
                    {controls}
                </li>
            }
        })
        .collect_view();
    let pending = add.pending();
    let add_form = manage.then(|| {
        view! {
            <section aria-labelledby="add-client">
                <h2 id="add-client">"Add a client"</h2>
                <ActionForm action=add attr:class="inline">
                    <label for="client-name" class="visually-hidden">"Client name"</label>
                    <input id="client-name" name="name" required maxlength="200" placeholder="Client name"/>
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Adding…" } else { "Add client" }}
                    </button>
                </ActionForm>
            </section>
        }
    });
    view! {
        {empty}
        <ul class="clients">{rows}</ul>
        {add_form}
    }
}
