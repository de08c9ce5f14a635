//! Brand guidelines of the active organization (SME) or client workspace (agency).
//! Reads go through the single-statement tenant read; saves through the router
//! function, which picks the schema from the organization's kind in the database.

#[cfg(feature = "ssr")]
mod data;

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrandGuidelines {
    pub voice: String,
    pub tone: String,
    pub palette: String,
    pub do_list: String,
    pub dont_list: String,
    /// 0 when nothing has been saved yet.
    pub version: i32,
    pub updated_at: Option<String>,
    pub scope_name: String,
}

/// One saved version, for the history list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidelineVersion {
    pub version: i32,
    pub saved_at: String,
    pub saved_by: Option<String>,
    /// The start of the voice, to recognise the version by.
    pub voice: String,
}

pub const LIMITS: [(&str, usize); 5] = [
    ("voice", 5000),
    ("tone", 5000),
    ("palette", 1000),
    ("do_list", 5000),
    ("dont_list", 5000),
];

/// `client`: the agency client's slug from the page URL (`None` for an SME).
#[server(endpoint = "brand_guidelines")]
pub async fn get_brand_guidelines(client: Option<String>) -> Result<BrandGuidelines, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    data::load(&crate::session::db()?, &ctx).await
}

#[server(endpoint = "save_brand_guidelines")]
pub async fn save_brand_guidelines(
    voice: String,
    tone: String,
    palette: String,
    do_list: String,
    dont_list: String,
    expected_version: i32,
    client: Option<String>,
) -> Result<i32, AppError> {
    let fields = [&voice, &tone, &palette, &do_list, &dont_list];
    for ((name, max), value) in LIMITS.iter().zip(fields) {
        if value.chars().count() > *max {
            return Err(AppError::Invalid(format!(
                "{} is longer than {max} characters",
                name.replace('_', " ")
            )));
        }
    }
    let ctx = crate::session::require_scope(client).await?;
    data::save(
        &crate::session::db()?,
        &ctx,
        [voice, tone, palette, do_list, dont_list],
        expected_version,
    )
    .await
}

#[server(endpoint = "brand_guideline_history")]
pub async fn get_history(client: Option<String>) -> Result<Vec<GuidelineVersion>, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    data::history(crate::session::transaction(&ctx).await?).await
}

/// Makes an earlier version the current one (as a new version; nothing is lost).
#[server(endpoint = "restore_brand_guidelines")]
pub async fn restore_version(
    client: Option<String>,
    version: i32,
    expected_version: i32,
) -> Result<i32, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    data::restore(&crate::session::db()?, &ctx, version, expected_version).await
}

#[component]
pub fn BrandGuidelinesPage() -> impl IntoView {
    let save = ServerAction::<SaveBrandGuidelines>::new();
    let params = leptos_router::hooks::use_params_map();
    let client = move || params.read().get("client");
    let restore = ServerAction::<RestoreVersion>::new();
    let guidelines = Resource::new(
        move || (save.version().get(), restore.version().get(), client()),
        |(_, _, client)| get_brand_guidelines(client),
    );
    let history = Resource::new(
        move || (save.version().get(), restore.version().get(), client()),
        |(_, _, client)| get_history(client),
    );
    view! {
        <Title text="Brand guidelines · Enclave"/>
        <h1>"Brand guidelines"</h1>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading brand guidelines…"</p> }>
            {move || Suspend::new(async move {
                match guidelines.await {
                    Ok(g) => view! { <BrandForm g=g save=save client=client()/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let current = guidelines.await.map(|g| g.version).unwrap_or_default();
                match history.await {
                    Ok(list) => view! { <History list=list current=current client=client() restore=restore/> }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn BrandForm(
    g: BrandGuidelines,
    save: ServerAction<SaveBrandGuidelines>,
    client: Option<String>,
) -> impl IntoView {
    let pending = save.pending();
    let status = move || {
        save.value().get().map(|r| match r {
            Ok(v) => {
                view! { <p class="notice ok" role="status">{format!("Saved (version {v}).")}</p> }
                    .into_any()
            }
            Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
        })
    };
    let saved = match (&g.updated_at, g.version) {
        (Some(at), v) if v > 0 => format!("Version {v}, last saved {at}."),
        _ => "Nothing saved yet: describe how this brand speaks, then save.".to_string(),
    };
    view! {
        <p class="scope">"For "<strong data-testid="scope-name">{g.scope_name.clone()}</strong>". "{saved}</p>
        <ActionForm action=save attr:class="brand-form">
            <input type="hidden" name="expected_version" value=g.version.to_string()/>
            {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
            <Field name="voice" label="Voice" hint="How the brand sounds: its personality in a sentence or two." value=g.voice.clone() max=5000/>
            <Field name="tone" label="Tone" hint="How the voice adapts: formal or casual, playful or serious." value=g.tone.clone() max=5000/>
            <Field name="palette" label="Colours" hint="Colour names and hex codes, one per line." value=g.palette.clone() max=1000/>
            <Field name="do_list" label="Do" hint="One rule per line." value=g.do_list.clone() max=5000/>
            <Field name="dont_list" label="Don't" hint="One rule per line." value=g.dont_list.clone() max=5000/>
            <div class="actions">
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Save guidelines" }}
                </button>
            </div>
        </ActionForm>
        <div aria-live="polite">{status}</div>
    }
}

#[component]
fn Field(
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
    max: usize,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <p class="hint" id=hint_id.clone()>{hint}</p>
            <textarea id=name name=name rows="3" maxlength=max.to_string() aria-describedby=hint_id>{value}</textarea>
        </div>
    }
}

#[component]
fn History(
    list: Vec<GuidelineVersion>,
    current: i32,
    client: Option<String>,
    restore: ServerAction<RestoreVersion>,
) -> impl IntoView {
    if list.is_empty() {
        return ().into_any();
    }
    view! {
        <section aria-labelledby="history-heading" class="history">
            <h2 id="history-heading">"History"</h2>
            <p class="muted">"Every save is kept. Restoring an earlier version saves it again as the newest; nothing is lost."</p>
            <div aria-live="polite">
                {move || restore.value().get().map(|r| match r {
                    Ok(v) => view! { <p class="notice ok" role="status">{format!("Restored as version {v}.")}</p> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </div>
            <ol class="versions" reversed>
                {list.into_iter().map(|v| {
                    let client = client.clone();
                    let label = format!("Restore version {}", v.version);
                    view! {
                        <li data-version=v.version>
                            <strong>{format!("Version {}", v.version)}</strong>
                            <span class="muted">{format!(" · {}{}", v.saved_at, v.saved_by.map(|b| format!(" by {b}")).unwrap_or_default())}</span>
                            <p class="snippet">{if v.voice.is_empty() { "(no voice written)".to_string() } else { v.voice.clone() }}</p>
                            {if v.version == current {
                                view! { <span class="current">"Current"</span> }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=restore attr:class="inline">
                                        {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                        <input type="hidden" name="version" value=v.version.to_string()/>
                                        <input type="hidden" name="expected_version" value=current.to_string()/>
                                        <button type="submit" aria-label=label>"Restore"</button>
                                    </ActionForm>
                                }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
    .into_any()
}
