//! Personas of the SME, or of the agency client named in the URL: list, add, edit,
//! delete. Writes go through `enclave.save_persona` / `enclave.delete_resource`, which
//! take no organization or client id; reads through `public.personas_unified`.

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Persona {
    pub persona_id: Uuid,
    pub name: String,
    pub role_title: String,
    pub goals: String,
    pub pains: String,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaList {
    pub scope_name: String,
    pub personas: Vec<Persona>,
}

/// Channels as typed: comma- or line-separated, trimmed, no empties or repeats.
pub fn parse_channels(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in raw
        .split([',', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
            out.push(c.to_string());
        }
    }
    out
}

/// The form's rules, checked before the database's (which hold regardless).
pub fn check_persona(
    name: &str,
    role_title: &str,
    goals: &str,
    pains: &str,
    channels: &[String],
) -> Result<(), AppError> {
    let name_len = name.trim().chars().count();
    let problem = if name_len == 0 {
        Some("give the persona a name".to_string())
    } else if name_len > 200 {
        Some("the name is longer than 200 characters".into())
    } else if role_title.chars().count() > 200 {
        Some("the role is longer than 200 characters".into())
    } else if goals.chars().count() > 5000 || pains.chars().count() > 5000 {
        Some("goals and pains are limited to 5000 characters each".into())
    } else if channels.len() > 20 {
        Some("list at most 20 channels".into())
    } else if channels.iter().any(|c| c.chars().count() > 50) {
        Some("a channel name is longer than 50 characters".into())
    } else {
        None
    };
    problem.map_or(Ok(()), |p| Err(AppError::Invalid(p)))
}

#[server(endpoint = "personas")]
pub async fn list_personas(client: Option<String>) -> Result<PersonaList, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let rows: Vec<(Uuid, String, String, String, String, Vec<String>)> = tx
        .query_as(
            "SELECT persona_id, name, role_title, goals, pains, channels
               FROM public.personas_unified WHERE org_id = $1 ORDER BY lower(name), persona_id",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(PersonaList {
        scope_name: ctx.workspace_name().unwrap_or(ctx.org_name()).to_string(),
        personas: rows
            .into_iter()
            .map(
                |(persona_id, name, role_title, goals, pains, channels)| Persona {
                    persona_id,
                    name,
                    role_title,
                    goals,
                    pains,
                    channels,
                },
            )
            .collect(),
    })
}

/// Creates a persona (no `persona_id`) or updates one of this scope.
#[server(endpoint = "save_persona")]
pub async fn save_persona(
    client: Option<String>,
    persona_id: Option<Uuid>,
    name: String,
    role_title: String,
    goals: String,
    pains: String,
    channels: String,
) -> Result<Uuid, AppError> {
    let channels = parse_channels(&channels);
    check_persona(&name, &role_title, &goals, &pains, &channels)?;
    let back = crate::layout::scoped_path(client.as_deref(), "personas");
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    if let Some(id) = persona_id {
        // Updating names a persona of this scope; another scope's id matches nothing.
        let exists: bool = tx
            .query_scalar(
                "SELECT EXISTS (SELECT 1 FROM public.personas_unified WHERE org_id = $1 AND persona_id = $2)",
            )
            .bind(ctx.org_id())
            .bind(id)
            .fetch_one(tx.conn())
            .await?;
        if !exists {
            return Err(AppError::NotAvailable(
                "That persona no longer exists here; it may have been deleted.".into(),
            ));
        }
    }
    let id: Uuid = tx
        .query_scalar("SELECT enclave.save_persona($1, $2, $3, $4, $5, $6)")
        .bind(persona_id)
        .bind(name.trim())
        .bind(role_title.trim())
        .bind(goals.trim())
        .bind(pains.trim())
        .bind(&channels)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    // Back to the list (and out of edit mode), with or without JavaScript.
    leptos_axum::redirect(&back);
    Ok(id)
}

#[server(endpoint = "delete_persona")]
pub async fn delete_persona(client: Option<String>, persona_id: Uuid) -> Result<(), AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let deleted: bool = tx
        .query_scalar("SELECT enclave.delete_resource('personas', $1)")
        .bind(persona_id)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    if deleted {
        Ok(())
    } else {
        Err(AppError::NotAvailable(
            "That persona no longer exists here; it may have been deleted already.".into(),
        ))
    }
}

#[component]
pub fn PersonasPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let client = move || params.read().get("client");
    let editing = move || {
        query
            .read()
            .get("edit")
            .and_then(|id| Uuid::parse_str(&id).ok())
    };
    let save = ServerAction::<SavePersona>::new();
    let delete = ServerAction::<DeletePersona>::new();
    let list = Resource::new(
        move || (client(), save.version().get(), delete.version().get()),
        |(client, _, _)| list_personas(client),
    );
    view! {
        <Title text="Personas · Enclave"/>
        <h1>"Personas"</h1>
        <div aria-live="polite">
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
        </div>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading personas…"</p> }>
            {move || {
                                let edit_id = editing();
                                Suspend::new(async move {
                match list.await {
                    Ok(l) => {
                        let edit = edit_id.and_then(|id| l.personas.iter().find(|p| p.persona_id == id).cloned());
                        view! {
                            <p class="scope">"For "<strong data-testid="scope-name">{l.scope_name.clone()}</strong></p>
                            <PersonaCards personas=l.personas.clone() client=client() delete=delete/>
                            <PersonaEditor persona=edit client=client() save=save/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
                                })
                            }}
        </Suspense>
    }
}

#[component]
fn PersonaCards(
    personas: Vec<Persona>,
    client: Option<String>,
    delete: ServerAction<DeletePersona>,
) -> impl IntoView {
    if personas.is_empty() {
        return view! {
            <p class="empty">"No personas yet. Describe the people you market to — who they are, what they want, what gets in their way — and add your first persona below."</p>
        }
        .into_any();
    }
    let base = crate::layout::scoped_path(client.as_deref(), "personas");
    view! {
        <ul class="cards personas">
            {personas.into_iter().map(|p| {
                let client = client.clone();
                let edit_href = format!("{base}?edit={}#persona-editor", p.persona_id);
                let delete_label = format!("Delete {}", p.name);
                view! {
                    <li class="card" data-persona=p.name.clone()>
                        <h2>{p.name.clone()}</h2>
                        {(!p.role_title.is_empty()).then(|| view! { <p class="muted">{p.role_title.clone()}</p> })}
                        {(!p.goals.is_empty()).then(|| view! { <p><strong>"Goals: "</strong>{p.goals.clone()}</p> })}
                        {(!p.pains.is_empty()).then(|| view! { <p><strong>"Pains: "</strong>{p.pains.clone()}</p> })}
                        {(!p.channels.is_empty()).then(|| view! { <p class="chips">{p.channels.iter().map(|c| view! { <span class="chip">{c.clone()}</span> }).collect_view()}</p> })}
                        <div class="actions">
                            <a href=edit_href on:click=|_| crate::layout::reset_form("persona-form")>"Edit"</a>
                            <ActionForm action=delete attr:class="inline">
                                {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                <input type="hidden" name="persona_id" value=p.persona_id.to_string()/>
                                <button type="submit" class="danger" aria-label=delete_label>"Delete"</button>
                            </ActionForm>
                        </div>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn PersonaEditor(
    persona: Option<Persona>,
    client: Option<String>,
    save: ServerAction<SavePersona>,
) -> impl IntoView {
    let pending = save.pending();
    crate::layout::clear_after_success(
        move || save.value().with(|v| matches!(v, Some(Ok(_)))),
        "persona-form",
    );
    let heading = if persona.is_some() {
        "Edit persona"
    } else {
        "Add a persona"
    };
    let p = persona.clone().unwrap_or(Persona {
        persona_id: Uuid::nil(),
        name: String::new(),
        role_title: String::new(),
        goals: String::new(),
        pains: String::new(),
        channels: Vec::new(),
    });
    view! {
        <section id="persona-editor" aria-labelledby="persona-editor-heading">
            <h2 id="persona-editor-heading">{heading}</h2>
            <ActionForm action=save attr:class="stack" attr:id="persona-form">
                {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                {persona.as_ref().map(|p| view! { <input type="hidden" name="persona_id" value=p.persona_id.to_string()/> })}
                <div class="field">
                    <label for="persona-name">"Name"</label>
                    <input id="persona-name" name="name" required maxlength="200" value=p.name.clone()/>
                </div>
                <div class="field">
                    <label for="persona-role">"Role"</label>
                    <p class="hint" id="persona-role-hint">"Their job or situation, e.g. \"Head of facilities at a mid-size firm\"."</p>
                    <input id="persona-role" name="role_title" maxlength="200" value=p.role_title.clone() aria-describedby="persona-role-hint"/>
                </div>
                <div class="field">
                    <label for="persona-goals">"Goals"</label>
                    <textarea id="persona-goals" name="goals" rows="3" maxlength="5000">{p.goals.clone()}</textarea>
                </div>
                <div class="field">
                    <label for="persona-pains">"Pains"</label>
                    <textarea id="persona-pains" name="pains" rows="3" maxlength="5000">{p.pains.clone()}</textarea>
                </div>
                <div class="field">
                    <label for="persona-channels">"Channels"</label>
                    <p class="hint" id="persona-channels-hint">"Where they can be reached, separated by commas: email, LinkedIn, trade fairs…"</p>
                    <input id="persona-channels" name="channels" value=p.channels.join(", ") aria-describedby="persona-channels-hint"/>
                </div>
                <div class="actions">
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save persona" }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">
                {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            parse_channels(" email, LinkedIn,,\nEmail , trade fairs "),
            vec!["email", "LinkedIn", "trade fairs"]
        );
        assert!(parse_channels(" , \n").is_empty());
    }

    #[test]
    fn persona_form_rules_say_what_is_wrong() {
        let ok = check_persona("Facilities Fiona", "", "", "", &[]);
        assert!(ok.is_ok());
        let blank = check_persona("   ", "", "", "", &[]).unwrap_err();
        assert_eq!(blank, AppError::Invalid("give the persona a name".into()));
        let many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
        let too_many = check_persona("A", "", "", "", &many).unwrap_err();
        assert_eq!(
            too_many,
            AppError::Invalid("list at most 20 channels".into())
        );
    }
}
