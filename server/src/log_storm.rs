//! A limit on log storms from underway's loops. While the database is away, each of its
//! workers and schedulers logs every failed call in a tight loop (160,000 ERROR lines in
//! 3 s, measured; 6,000 in the quarter second before the job runner stops them). Each of
//! its log lines may appear at most [`PER_SECOND`] times a second; the rest are dropped.
//! Our own logs are never limited: they say what happened once (the runner's "the
//! database does not answer" line).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tracing::callsite::Identifier;
use tracing::Metadata;

pub const PER_SECOND: u32 = 20;

pub struct StormLimit {
    /// Per log line (callsite): the second it was last seen in, and how often then.
    seen: Mutex<HashMap<Identifier, (u64, u32)>>,
    started: Instant,
}

impl Default for StormLimit {
    fn default() -> Self {
        Self::new()
    }
}

impl StormLimit {
    pub fn new() -> Self {
        Self {
            seen: Mutex::default(),
            started: Instant::now(),
        }
    }

    /// Whether this event is the target's business to limit.
    pub fn limits(metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && metadata.target().starts_with("underway")
    }

    /// Whether to log this event now.
    pub fn allow(&self, metadata: &Metadata<'_>) -> bool {
        if !Self::limits(metadata) {
            return true;
        }
        let second = self.started.elapsed().as_secs();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let entry = seen.entry(metadata.callsite()).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        entry.1 += 1;
        entry.1 <= PER_SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    #[test]
    fn a_storm_from_underway_is_cut_to_a_few_lines_a_second_and_ours_are_not() {
        let limit = Arc::new(StormLimit::new());
        let written = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = written.clone();
        let filter = {
            let limit = limit.clone();
            tracing_subscriber::filter::dynamic_filter_fn(move |m, _| limit.allow(m))
        };
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || {
                struct Line(Arc<Mutex<Vec<String>>>);
                impl std::io::Write for Line {
                    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                        self.0
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(b).into());
                        Ok(b.len())
                    }
                    fn flush(&mut self) -> std::io::Result<()> {
                        Ok(())
                    }
                }
                Line(sink.clone())
            })
            .with_filter(filter);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..1000 {
                tracing::error!(target: "underway::worker", "Postgres shutdown notification error");
                tracing::warn!(target: "enclave_server::web", "ours");
            }
        });
        let lines = written.lock().unwrap();
        let storm = lines
            .iter()
            .filter(|l| l.contains("notification error"))
            .count();
        let ours = lines.iter().filter(|l| l.contains("ours")).count();
        // Two seconds at most can have begun while the loop ran.
        assert!(
            storm >= PER_SECOND as usize && storm <= 2 * PER_SECOND as usize,
            "{storm}"
        );
        assert_eq!(ours, 1000);
    }
}
