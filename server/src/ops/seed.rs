//! `enclave seed-demo`: the demo tenants, created on the audited system path through
//! the same router functions the application uses, with example content (demo_content.rs)
//! so their first screens show the product. Idempotent: an existing demo org is left as it
//! is.

use super::demo_content;
use sqlx::PgConnection;
use tenancy::{SystemDb, TenantError};
use uuid::Uuid;

pub const SME_SLUG: &str = "northwind-coffee";
pub const AGENCY_SLUG: &str = "brightside-agency";

#[derive(Debug, Default)]
pub struct SeedReport {
    pub created: Vec<String>,
    pub skipped: Vec<String>,
}

async fn user(conn: &mut PgConnection, email: &str, name: &str) -> Result<Uuid, TenantError> {
    Ok(sqlx::query_scalar("SELECT enclave.create_user($1, $2)")
        .bind(email)
        .bind(name)
        .fetch_one(conn)
        .await?)
}

async fn org(
    conn: &mut PgConnection,
    kind: &str,
    name: &str,
    slug: &str,
    owner: Uuid,
) -> Result<Uuid, TenantError> {
    Ok(
        sqlx::query_scalar("SELECT enclave.create_organization($1, $2, $3, $4)")
            .bind(kind)
            .bind(name)
            .bind(slug)
            .bind(owner)
            .fetch_one(conn)
            .await?,
    )
}

async fn member(conn: &mut PgConnection, user: Uuid, role: &str) -> Result<(), TenantError> {
    sqlx::query("SELECT enclave.add_member($1, $2)")
        .bind(user)
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

async fn guidelines(
    conn: &mut PgConnection,
    voice: &str,
    tone: &str,
    palette: &str,
    dos: &str,
    donts: &str,
) -> Result<(), TenantError> {
    sqlx::query("SELECT enclave.save_brand_guidelines($1, $2, $3, $4, $5, NULL)")
        .bind(voice)
        .bind(tone)
        .bind(palette)
        .bind(dos)
        .bind(donts)
        .execute(conn)
        .await?;
    Ok(())
}

async fn exists(conn: &mut PgConnection, slug: &str) -> Result<bool, TenantError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.organizations WHERE slug = $1)")
            .bind(slug)
            .fetch_one(conn)
            .await?,
    )
}

/// The demo tenants are on a paid plan without Stripe, so trying the product (and the
/// end-to-end tests) do not run into Free's limits; /billing shows the grant.
async fn grant_plan(conn: &mut PgConnection, org: Uuid, plan: &str) -> Result<(), TenantError> {
    sqlx::query("SELECT enclave.grant_plan($1, $2, 'demo')")
        .bind(org)
        .bind(plan)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the demo tenants get example personas, campaigns and outputs (the command), or
/// only their people, clients and brand guidelines (the tests, which count what they
/// create themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Bare,
    Examples,
}

pub async fn seed_demo(system: &SystemDb, content: Content) -> Result<SeedReport, TenantError> {
    let examples = content == Content::Examples;
    let mut report = SeedReport::default();
    let mut tx = system
        .begin("seed-demo", "create demo tenants", serde_json::json!({}))
        .await?;

    if exists(tx.conn(), SME_SLUG).await? {
        report.skipped.push("Northwind Coffee".into());
    } else {
        let nora = user(tx.conn(), "nora@northwind.example", "Nora Lindqvist").await?;
        let sam = user(tx.conn(), "sam@northwind.example", "Sam Okafor").await?;
        let sme = org(tx.conn(), "sme", "Northwind Coffee", SME_SLUG, nora).await?;
        grant_plan(tx.conn(), sme, "sme_business").await?;
        tx.enter_tenant(sme, None, nora).await?;
        member(tx.conn(), sam, "member").await?;
        guidelines(
            tx.conn(),
            "Warm, knowledgeable, neighbourly. We talk like the barista who remembers your order.",
            "Friendly and plain-spoken; never snobbish about coffee.",
            "#3E2723 roast brown, #F5E6CC crema, #2E7D32 leaf green",
            "Name the farm and the origin.\nUse short sentences.",
            "No jargon like 'mouthfeel' without explaining it.\nNo discount-shouting in capitals.",
        )
        .await?;
        if examples {
            demo_content::fill(tx.conn(), &demo_content::NORTHWIND, &[nora, sam]).await?;
        }
        report.created.push("Northwind Coffee (SME): nora@northwind.example (owner), sam@northwind.example (member)".into());
    }

    if exists(tx.conn(), AGENCY_SLUG).await? {
        report.skipped.push("Brightside Agency".into());
    } else {
        let ada = user(tx.conn(), "ada@brightside.example", "Ada Brightside").await?;
        let ben = user(tx.conn(), "ben@brightside.example", "Ben Carter").await?;
        let cleo = user(tx.conn(), "cleo@brightside.example", "Cleo Marsh").await?;
        let agency = org(tx.conn(), "agency", "Brightside Agency", AGENCY_SLUG, ada).await?;
        grant_plan(tx.conn(), agency, "agency_scale").await?;
        tx.enter_tenant(agency, None, ada).await?;
        member(tx.conn(), ben, "member").await?;
        member(tx.conn(), cleo, "member").await?;
        let acme: Uuid = sqlx::query_scalar(
            "SELECT enclave.create_client_workspace('Acme Outdoors', 'acme-outdoors')",
        )
        .fetch_one(tx.conn())
        .await?;
        let harbor: Uuid = sqlx::query_scalar(
            "SELECT enclave.create_client_workspace('Blue Harbor Bank', 'blue-harbor-bank')",
        )
        .fetch_one(tx.conn())
        .await?;
        for (ws, who) in [(acme, ben), (harbor, ben), (acme, cleo)] {
            sqlx::query("SELECT enclave.assign_client($1, $2)")
                .bind(ws)
                .bind(who)
                .execute(tx.conn())
                .await?;
        }
        tx.enter_tenant(agency, Some(acme), ada).await?;
        guidelines(
            tx.conn(),
            "Adventurous and practical: gear that earns its place in the pack.",
            "Energetic, outdoorsy, never macho.",
            "#FF6F00 summit orange, #263238 granite, #E0F2F1 glacier",
            "Show real trails and real people.\nLead with durability.",
            "No 'extreme' clichés.\nNo stock photos of mountaintop fist pumps.",
        )
        .await?;
        if examples {
            demo_content::fill(tx.conn(), &demo_content::ACME, &[ada, ben, cleo]).await?;
        }
        tx.enter_tenant(agency, Some(harbor), ada).await?;
        guidelines(
            tx.conn(),
            "Calm, trustworthy, plain English about money.",
            "Reassuring and precise; warm but never jokey about finances.",
            "#0D47A1 harbor blue, #FFFFFF, #B0BEC5 mist grey",
            "Explain fees in one sentence.\nUse 'you' and 'we'.",
            "No fear-based messaging.\nNo unexplained acronyms (APR, ISA) in headlines.",
        )
        .await?;
        if examples {
            demo_content::fill(tx.conn(), &demo_content::BLUE_HARBOR, &[ada, ben]).await?;
        }
        report.created.push("Brightside Agency (agency): ada@brightside.example (owner), ben@brightside.example (member, both clients), cleo@brightside.example (member, Acme Outdoors only); clients Acme Outdoors and Blue Harbor Bank".into());
    }
    tx.commit().await?;
    Ok(report)
}

/// `seed-demo --scale N`: N more SME organizations (`scale-sme-00001` …), each with its
/// owner (`owner00001@scale.example`), Northwind's example content and a granted plan, for
/// the benchmarks that need many tenants. One transaction per 100 organizations;
/// organizations that exist already are left as they are. Returns how many were created.
pub async fn seed_scale(
    system: &SystemDb,
    tenants: u32,
    mut progress: impl FnMut(u32),
) -> Result<u32, TenantError> {
    let mut created = 0;
    for first in (1..=tenants).step_by(100) {
        let mut tx = system
            .begin(
                "seed-demo",
                "create scale tenants",
                serde_json::json!({ "from": first }),
            )
            .await?;
        for i in first..(first + 100).min(tenants + 1) {
            let slug = format!("scale-sme-{i:05}");
            if exists(tx.conn(), &slug).await? {
                continue;
            }
            let owner = user(
                tx.conn(),
                &format!("owner{i:05}@scale.example"),
                &format!("Owner {i:05}"),
            )
            .await?;
            let org = org(tx.conn(), "sme", &format!("Scale SME {i:05}"), &slug, owner).await?;
            grant_plan(tx.conn(), org, "sme_business").await?;
            tx.enter_tenant(org, None, owner).await?;
            demo_content::fill(tx.conn(), &demo_content::NORTHWIND, &[owner]).await?;
            created += 1;
        }
        tx.commit().await?;
        progress(created);
    }
    Ok(created)
}
