//! What the benchmarks share: settings from the environment, scratch database URLs and
//! percentiles. (A folder, so cargo does not take it for a bench target of its own.)
#![allow(dead_code)]

/// A whole-number setting from the environment, or its default.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The superuser URL `admin` with another user and database.
pub fn url_for(admin: &str, user: &str, db: &str) -> String {
    let mut u = url::Url::parse(admin).expect("admin url");
    u.set_username(user).unwrap();
    u.set_password(None).unwrap();
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// The `p`th percentile (nearest rank) of sorted values; NaN when there are none.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}
