//! What the demo tenants hold when `enclave seed-demo` creates them: personas, campaigns
//! in every status with dates around today, outputs and (in seed.rs) brand guidelines, so
//! a new user's first screens show the product rather than empty lists. Written through
//! the application's router functions, inside each scope's context, like anything a user
//! saves.

use sqlx::PgConnection;
use tenancy::TenantError;
use uuid::Uuid;

pub struct Persona {
    pub name: &'static str,
    pub role: &'static str,
    pub goals: &'static str,
    pub pains: &'static str,
    pub channels: &'static [&'static str],
}

pub struct Output {
    pub channel: &'static str,
    pub headline: &'static str,
    pub body: &'static str,
    pub status: &'static str,
}

pub struct Campaign {
    pub name: &'static str,
    pub objective: &'static str,
    pub channels: &'static [&'static str],
    pub budget_cents: Option<i64>,
    /// Start and end, in days from today (None: not set).
    pub days: Option<(i64, i64)>,
    pub status: &'static str,
    /// Which of the scope's people owns it (index into the `people` given to [`fill`]).
    pub owner: Option<usize>,
    pub outputs: &'static [Output],
}

pub struct Scope {
    pub personas: &'static [Persona],
    pub campaigns: &'static [Campaign],
}

/// Writes `scope` into the context the transaction is in (an SME, or an agency's client).
pub async fn fill(
    conn: &mut PgConnection,
    scope: &Scope,
    people: &[Uuid],
) -> Result<(), TenantError> {
    for p in scope.personas {
        let channels: Vec<String> = p.channels.iter().map(|c| c.to_string()).collect();
        sqlx::query("SELECT enclave.save_persona(NULL, $1, $2, $3, $4, $5)")
            .bind(p.name)
            .bind(p.role)
            .bind(p.goals)
            .bind(p.pains)
            .bind(&channels)
            .execute(&mut *conn)
            .await?;
    }
    let today = time::OffsetDateTime::now_utc().date();
    for c in scope.campaigns {
        let channels: Vec<String> = c.channels.iter().map(|c| c.to_string()).collect();
        let (starts, ends) = match c.days {
            Some((from, to)) => (
                Some(today + time::Duration::days(from)),
                Some(today + time::Duration::days(to)),
            ),
            None => (None, None),
        };
        let campaign: Uuid = sqlx::query_scalar(
            "SELECT enclave.save_campaign(NULL, $1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.name)
        .bind(c.objective)
        .bind(&channels)
        .bind(c.budget_cents)
        .bind(starts)
        .bind(ends)
        .bind(c.status)
        .bind(c.owner.and_then(|i| people.get(i).copied()))
        .fetch_one(&mut *conn)
        .await?;
        for o in c.outputs {
            sqlx::query("SELECT enclave.save_campaign_output($1, NULL, $2, $3, $4, $5)")
                .bind(campaign)
                .bind(o.channel)
                .bind(o.headline)
                .bind(o.body)
                .bind(o.status)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Northwind Coffee, a neighbourhood roaster (people: Nora, Sam).
pub const NORTHWIND: Scope = Scope {
    personas: &[
        Persona {
            name: "Morning regular",
            role: "Office worker on the way in",
            goals: "A good flat white in under three minutes; the loyalty stamp.",
            pains: "Queues at 8:15; oat milk running out.",
            channels: &["email", "Instagram"],
        },
        Persona {
            name: "Home brewer",
            role: "Coffee hobbyist with a hand grinder",
            goals: "Beans roasted this week; knowing the farm and the process.",
            pains: "Supermarket beans with no roast date; jargon-heavy tasting notes.",
            channels: &["email", "blog"],
        },
        Persona {
            name: "Café buyer",
            role: "Owner of a small café nearby",
            goals: "A steady wholesale supply and barista training.",
            pains: "Price swings; a roaster who will not pick up the phone.",
            channels: &["LinkedIn", "email"],
        },
    ],
    campaigns: &[
        Campaign {
            name: "Spring single origin: Huila, Colombia",
            objective: "Sell 400 bags of the new Huila lot in its first month.",
            channels: &["email", "Instagram", "in store"],
            budget_cents: Some(250_000),
            days: Some((-10, 20)),
            status: "active",
            owner: Some(0),
            outputs: &[
                Output {
                    channel: "email",
                    headline: "Meet Huila: red apple, panela, and a farm we know by name",
                    body: "Our spring lot comes from the Ortega family's farm at 1,750 m in Huila. Washed, dried on raised beds, roasted on Tuesday. Try it as a pour-over this weekend: 15 g to 250 g of water, and tell us what you taste.",
                    status: "published",
                },
                Output {
                    channel: "Instagram",
                    headline: "New on the shelf: Huila",
                    body: "Red apple up front, panela sweetness in the finish. Roasted this week, on the bar from Saturday.",
                    status: "approved",
                },
                Output {
                    channel: "in store",
                    headline: "Ask the barista about Huila",
                    body: "A chalkboard line for the counter: the farm, the altitude, one tasting note, and the price of a bag.",
                    status: "draft",
                },
            ],
        },
        Campaign {
            name: "Loyalty card goes digital",
            objective: "Move 60% of paper stamp cards to the app by the end of the quarter.",
            channels: &["email", "in store"],
            budget_cents: Some(80_000),
            days: Some((-30, 45)),
            status: "active",
            owner: Some(1),
            outputs: &[Output {
                channel: "email",
                headline: "Your stamps, now in your pocket",
                body: "Bring your paper card to the counter once and we will move every stamp across. Nothing to download but our app; nothing lost.",
                status: "approved",
            }],
        },
        Campaign {
            name: "Wholesale open day",
            objective: "Meet ten café owners and sign three wholesale accounts.",
            channels: &["LinkedIn", "email"],
            budget_cents: Some(120_000),
            days: Some((14, 15)),
            status: "draft",
            owner: Some(0),
            outputs: &[],
        },
        Campaign {
            name: "Summer cold brew",
            objective: "Bring back the cold brew bottles before the first hot week.",
            channels: &["Instagram", "in store"],
            budget_cents: None,
            days: None,
            status: "paused",
            owner: None,
            outputs: &[Output {
                channel: "Instagram",
                headline: "Cold brew is back (almost)",
                body: "Eighteen hours in cold water, nothing added. Bottles return when the sun does.",
                status: "draft",
            }],
        },
        Campaign {
            name: "Winter blend launch",
            objective: "Launch the winter blend for the holiday season.",
            channels: &["email", "Instagram", "blog"],
            budget_cents: Some(180_000),
            days: Some((-120, -60)),
            status: "done",
            owner: Some(0),
            outputs: &[Output {
                channel: "blog",
                headline: "Why our winter blend has a Sumatran base",
                body: "Body that stands up to milk, a little spice, and a bean we have bought from the same cooperative for six years.",
                status: "published",
            }],
        },
    ],
};

/// Acme Outdoors, a Brightside client (people: Ada, Ben, Cleo).
pub const ACME: Scope = Scope {
    personas: &[
        Persona {
            name: "Weekend hiker",
            role: "City professional who hikes twice a month",
            goals: "Gear that lasts more than one season; trails within two hours of home.",
            pains: "Kit that looks technical and fails in the rain.",
            channels: &["Instagram", "email"],
        },
        Persona {
            name: "Trail runner",
            role: "Runs 50 km a week, off road",
            goals: "Light shoes with grip; honest reviews.",
            pains: "Marketing that shows mountaintops instead of muddy miles.",
            channels: &["Instagram", "YouTube"],
        },
    ],
    campaigns: &[
        Campaign {
            name: "Rainproof week",
            objective: "Sell through the autumn stock of shells with a week of real-weather tests.",
            channels: &["Instagram", "email"],
            budget_cents: Some(900_000),
            days: Some((-5, 2)),
            status: "active",
            owner: Some(1),
            outputs: &[
                Output {
                    channel: "Instagram",
                    headline: "Seven days, one shell, no dry days",
                    body: "We sent the Ridgeline shell up the same trail every day of a wet week. Here is what came back dry.",
                    status: "published",
                },
                Output {
                    channel: "email",
                    headline: "Tested in the rain we actually get",
                    body: "No studio sprinklers: a week on the hill in real weather, with the seams to prove it.",
                    status: "approved",
                },
            ],
        },
        Campaign {
            name: "Trail shoe launch: Gritline 2",
            objective: "Pre-orders for the Gritline 2 from last year's buyers.",
            channels: &["email", "YouTube"],
            budget_cents: Some(1_500_000),
            days: Some((21, 60)),
            status: "draft",
            owner: Some(2),
            outputs: &[Output {
                channel: "email",
                headline: "The grip you asked for",
                body: "Deeper lugs, the same weight. Reserve a pair before the first muddy month.",
                status: "draft",
            }],
        },
        Campaign {
            name: "Repair, don't replace",
            objective: "Book 200 free repair appointments in stores.",
            channels: &["in store", "email"],
            budget_cents: Some(300_000),
            days: Some((-90, -30)),
            status: "done",
            owner: Some(1),
            outputs: &[],
        },
    ],
};

/// Blue Harbor Bank, a Brightside client (people: Ada, Ben).
pub const BLUE_HARBOR: Scope = Scope {
    personas: &[
        Persona {
            name: "First-time saver",
            role: "Graduate in their first salaried job",
            goals: "An emergency fund of three months' rent.",
            pains: "Not knowing which account pays what; fear of fees.",
            channels: &["email", "app"],
        },
        Persona {
            name: "Small-business owner",
            role: "Runs a bakery with four staff",
            goals: "Payroll without surprises; a person to call.",
            pains: "Being passed between call centres.",
            channels: &["LinkedIn", "email"],
        },
    ],
    campaigns: &[
        Campaign {
            name: "Easy saver account",
            objective: "Open 1,000 easy saver accounts for customers under 30.",
            channels: &["email", "app"],
            budget_cents: Some(2_000_000),
            days: Some((-14, 30)),
            status: "active",
            owner: Some(1),
            outputs: &[Output {
                channel: "email",
                headline: "Put a little aside, and see it grow",
                body: "Our easy saver pays the same rate from the first pound, with no fees and no notice to take your money out.",
                status: "approved",
            }],
        },
        Campaign {
            name: "Business banking with a name",
            objective: "Introduce local relationship managers to small businesses.",
            channels: &["LinkedIn"],
            budget_cents: Some(750_000),
            days: Some((10, 70)),
            status: "paused",
            owner: Some(0),
            outputs: &[],
        },
    ],
};
