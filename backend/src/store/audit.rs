//! The audit log: security events written in batches by a background task
//! (a request never waits for them), read back filtered and paged by
//! admins, and deleted after `[audit] keep`.
use super::{on_pool, Db};
use crate::clock::Clock;
use crate::config::AuditConfig;
use crate::domain::audit::{AuditTrail, Record};
use crate::error::Result;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_shared::{AuditAction, AuditEntry};
use tokio::sync::mpsc;

/// Events waiting to be written; beyond this, new ones are dropped and
/// counted (a flood of refused sign-ins cannot exhaust memory).
const QUEUE: usize = 10_000;
/// The most events one insert writes.
const BATCH: usize = 256;

/// One event with its time, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// Unix seconds.
    pub at: i64,
    /// The event.
    pub record: Record,
}

/// What an admin asks the log for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Part of the actor's or account's name, compared case-insensitively.
    pub account: Option<String>,
    /// One action.
    pub action: Option<AuditAction>,
    /// From this Unix second on.
    pub since: Option<i64>,
    /// Before this Unix second.
    pub until: Option<i64>,
}

type Row = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `s` as a LIKE pattern matching any text that contains it, lower-cased,
/// its wildcards escaped with `\`.
fn contains_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const WHERE: &str = "WHERE ($1 IS NULL OR lower(coalesce(actor, '')) LIKE $1 ESCAPE '\\' \
     OR lower(coalesce(account, '')) LIKE $1 ESCAPE '\\') \
     AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4)";

impl Db {
    /// Writes `events` in one statement per batch.
    pub async fn insert_audit(&self, events: &[Stamped]) -> Result<()> {
        for chunk in events.chunks(BATCH) {
            let mut sql = String::from(
                "INSERT INTO audit_events (at, action, method, actor, account, ip, detail) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 7;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                ));
            }
            on_pool!(self, pool => {
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    let r = &e.record;
                    q = q
                        .bind(e.at)
                        .bind(r.action.as_str())
                        .bind(r.method.as_deref())
                        .bind(r.actor.as_deref())
                        .bind(r.account.as_deref())
                        .bind(r.ip.map(|ip| ip.to_string()))
                        .bind(r.detail.as_deref());
                }
                q.execute(pool).await?;
            });
        }
        Ok(())
    }

    /// One page of matching events, newest first, and how many match.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, u64)> {
        let pattern = filter.account.as_deref().map(contains_pattern);
        let action = filter.action.map(AuditAction::as_str);
        let count_sql = format!("SELECT COUNT(*) FROM audit_events {WHERE}");
        let page_sql = format!(
            "SELECT id, at, action, method, actor, account, ip, detail FROM audit_events {WHERE} \
             ORDER BY id DESC LIMIT $5 OFFSET $6"
        );
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let (total, rows): (i64, Vec<Row>) = on_pool!(self, pool => {
            let total = sqlx::query_scalar(&count_sql)
                .bind(pattern.as_deref())
                .bind(action)
                .bind(filter.since)
                .bind(filter.until)
                .fetch_one(pool)
                .await?;
            let rows = sqlx::query_as(&page_sql)
                .bind(pattern.as_deref())
                .bind(action)
                .bind(filter.since)
                .bind(filter.until)
                .bind(i64::from(limit))
                .bind(offset)
                .fetch_all(pool)
                .await?;
            (total, rows)
        });
        let events = rows
            .into_iter()
            .filter_map(|(id, at, action, method, actor, account, ip, detail)| {
                Some(AuditEntry {
                    id,
                    at,
                    // an action this version does not know (written by a
                    // newer replica) is left out rather than misnamed
                    action: AuditAction::parse(&action)?,
                    method,
                    actor,
                    account,
                    ip,
                    detail,
                })
            })
            .collect();
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }

    /// Deletes events from before `before` (Unix seconds); how many went.
    pub async fn prune_audit(&self, before: i64) -> Result<u64> {
        let sql = "DELETE FROM audit_events WHERE at < $1";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(before).execute(pool).await?.rows_affected());
        Ok(done)
    }
}

/// The audit trail of a running server: events are queued, written by a
/// background task in batches, optionally echoed to stdout as JSON lines,
/// and pruned hourly.
pub struct AuditWriter {
    queue: mpsc::Sender<Stamped>,
    clock: Arc<dyn Clock>,
    dropped: AtomicU64,
}

impl AuditWriter {
    /// Starts the writer and the hourly pruning.
    pub fn start(db: Db, config: &AuditConfig, clock: Arc<dyn Clock>) -> Arc<Self> {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db.clone(), rx, config.stdout));
        tokio::spawn(prune_hourly(db, config.keep, clock.clone()));
        Arc::new(Self {
            queue,
            clock,
            dropped: AtomicU64::new(0),
        })
    }
}

impl AuditTrail for AuditWriter {
    fn record(&self, record: Record) {
        let stamped = Stamped {
            at: self.clock.now(),
            record,
        };
        if self.queue.try_send(stamped).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "audit events dropped: the database is not keeping up"
                );
            }
        }
    }
}

/// Writes what is queued, as much as is there at once, until every sender
/// is gone.
async fn write_batches(db: Db, mut rx: mpsc::Receiver<Stamped>, stdout: bool) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if stdout {
            for e in &batch {
                println!("{}", json_line(e));
            }
        }
        let mut delay = Duration::from_millis(100);
        while let Err(e) = db.insert_audit(&batch).await {
            // kept and retried: a database that is briefly gone loses nothing
            tracing::warn!(error = %e, events = batch.len(), "writing audit events failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
        batch.clear();
    }
}

/// The event as one JSON object for a SIEM.
fn json_line(e: &Stamped) -> String {
    let r = &e.record;
    serde_json::json!({
        "audit": r.action.as_str(),
        "at": e.at,
        "method": r.method,
        "actor": r.actor,
        "account": r.account,
        "ip": r.ip.map(|ip| ip.to_string()),
        "detail": r.detail,
    })
    .to_string()
}

async fn prune_hourly(db: Db, keep: Duration, clock: Arc<dyn Clock>) {
    let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.prune_audit(clock.now().saturating_sub(keep)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "old audit events deleted"),
            Err(e) => tracing::warn!(error = %e, "deleting old audit events failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: i64, action: AuditAction, account: &str) -> Stamped {
        Stamped {
            at,
            record: Record::new(action)
                .method("password")
                .account(account)
                .ip(Some([127, 0, 0, 1].into())),
        }
    }

    #[tokio::test]
    async fn events_are_filtered_paged_newest_first_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
        let db = Db::connect(&url).await.unwrap();
        let mut events: Vec<Stamped> = (0..300)
            .map(|i| {
                event(
                    1000 + i,
                    AuditAction::SignIn,
                    &format!("user{i}@example.com"),
                )
            })
            .collect();
        events.push(event(
            2000,
            AuditAction::SignInFailed,
            "Ann_100%@Example.com",
        ));
        db.insert_audit(&events).await.unwrap();

        let all = AuditFilter::default();
        let (page, total) = db.audit_page(&all, 0, 10).await.unwrap();
        assert_eq!(total, 301);
        assert_eq!(page.len(), 10);
        assert_eq!(page[0].action, AuditAction::SignInFailed, "newest first");
        assert!(page.windows(2).all(|w| w[0].id > w[1].id));
        assert_eq!(page[1].account.as_deref(), Some("user299@example.com"));
        assert_eq!(page[1].ip.as_deref(), Some("127.0.0.1"));
        let (last, _) = db.audit_page(&all, 300, 10).await.unwrap();
        assert_eq!(last.len(), 1, "the 301st");

        let by_name = |s: &str| AuditFilter {
            account: Some(s.into()),
            ..AuditFilter::default()
        };
        let (_, n) = db.audit_page(&by_name("ann_100%@"), 0, 10).await.unwrap();
        assert_eq!(n, 1, "case-insensitive, wildcards literal");
        let (_, n) = db.audit_page(&by_name("_"), 0, 10).await.unwrap();
        assert_eq!(n, 1, "`_` matches only itself");
        let (_, n) = db.audit_page(&by_name("user1"), 0, 10).await.unwrap();
        assert_eq!(n, 111, "user1, user10-19, user100-199");

        let failed = AuditFilter {
            action: Some(AuditAction::SignInFailed),
            ..AuditFilter::default()
        };
        assert_eq!(db.audit_page(&failed, 0, 10).await.unwrap().1, 1);
        let window = AuditFilter {
            since: Some(1100),
            until: Some(1200),
            ..AuditFilter::default()
        };
        assert_eq!(db.audit_page(&window, 0, 10).await.unwrap().1, 100);

        assert_eq!(db.prune_audit(1250).await.unwrap(), 250);
        assert_eq!(db.audit_page(&all, 0, 10).await.unwrap().1, 51);
    }

    #[test]
    fn a_filter_is_a_literal_substring() {
        assert_eq!(contains_pattern("Ada@X"), "%ada@x%");
        assert_eq!(contains_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
    }
}
