//! Several replicas behind one load balancer: what they share through one
//! Redis (`[redis]`, docs/scale-out.md).
//!
//! - Revocations are written to Redis (a key per `jti`, expiring with the
//!   token) besides the database, and announced on one pub/sub channel; every
//!   replica keeps its in-memory set in step from that channel, so the hot
//!   path stays a hash look-up.
//! - Changes to what replicas cache (users, API keys, saved SSO providers)
//!   are announced on the same channel ([`Event`]); each replica drops
//!   what it holds.
//! - SSO one-time state (hand-over codes, pending `state`s and nonces, CLI
//!   sign-ins, test reports) lives in Redis ([`single_use`]).
//! - The `[rate_limit]` counts are kept in Redis ([`rate_limit`]), so a
//!   client spread over several replicas meets the limit once; without
//!   Redis they cannot be counted, and attempts are refused (503).
//! - Fail closed: while the subscription is down a replica cannot know what
//!   it missed, so it empties its caches and answers every authenticated
//!   request 503 until it has subscribed again and caught up.
//!
//! Without `[redis]` a [`ReplicaSync`] is inert: one replica, everything in memory.
pub mod events;
pub mod rate_limit;
pub mod revocations;
pub mod single_use;

use crate::config::RedisConfig;
use crate::domain::{Announce, Event};
use crate::error::{Error, Result};
use anyhow::Context;
use events::Follower;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The 503 detail while a replica is out of step with the others.
pub const OUT_OF_STEP: &str =
    "Shared state unavailable (Redis unreachable); this replica refuses authenticated requests until it is back";
/// The 503 detail when a change could not be handed to the other replicas.
pub const NOT_ANNOUNCED: &str =
    "Redis unreachable: the change could not be handed to the other replicas; retry";

/// The shared state, or nothing (one replica); cheap to clone.
#[derive(Clone, Default)]
pub struct ReplicaSync(Option<Arc<Redis>>);

/// The Redis connections and this replica's standing.
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    channel: String,
    timeout: Duration,
    /// Subscribed and caught up: caches and the revocation set can be trusted.
    in_step: AtomicBool,
    /// The URL without its password, for messages.
    shown: String,
    /// This replica's id on the channel.
    id: String,
    /// Announcements not yet published, oldest first: published again until
    /// they are.
    pending: std::sync::Mutex<std::collections::VecDeque<Event>>,
    /// How often to catch up whatever was heard.
    resync: Duration,
}

/// Pending announcements kept at most; past it the oldest are dropped (the
/// periodic resync still brings the others in step) and an error is logged.
const PENDING_KEPT: usize = 100_000;

impl ReplicaSync {
    /// No Redis: one replica.
    pub fn none() -> Self {
        Self(None)
    }

    /// Connects to the configured Redis and checks that it answers; an
    /// unreachable Redis is an error (start-up fails).
    pub async fn connect(config: &RedisConfig) -> anyhow::Result<Self> {
        let url = config.resolve_url()?;
        let shown = crate::store::redacted_url(url.expose());
        let client = match &config.ca_file {
            Some(ca) => {
                anyhow::ensure!(
                    url.expose().starts_with("rediss://"),
                    "redis.ca_file applies to rediss:// (TLS) URLs only, not {shown}"
                );
                let pem = std::fs::read(ca)
                    .with_context(|| format!("reading redis.ca_file {}", ca.display()))?;
                redis::Client::build_with_tls(
                    url.expose(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
            }
            None => redis::Client::open(url.expose()),
        }
        .map_err(|e| anyhow::anyhow!("redis: the URL {shown} is not usable: {e}"))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut conn = tokio::time::timeout(
            config.timeout * 2,
            client.get_connection_manager_with_config(manager),
        )
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "redis: {shown} did not answer within {:?}",
                config.timeout * 2
            )
        })?
        .map_err(|e| {
            anyhow::anyhow!("redis: cannot connect to {shown}: {e}; start Redis or fix redis.url")
        })?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .with_context(|| format!("redis: {shown} does not answer PING"))?;
        anyhow::ensure!(pong == "PONG", "redis: {shown} answered PING with {pong:?}");
        tracing::info!(redis = %shown, "connected to Redis: state is shared with other replicas");
        Ok(Self(Some(Arc::new(Redis {
            client,
            conn,
            channel: format!("{}events", config.key_prefix),
            prefix: config.key_prefix.clone(),
            timeout: config.timeout,
            in_step: AtomicBool::new(false),
            shown,
            id: uuid::Uuid::new_v4().to_string(),
            pending: Default::default(),
            resync: config.resync,
        }))))
    }

    /// The Redis connections, when configured.
    pub fn redis(&self) -> Option<&Arc<Redis>> {
        self.0.as_ref()
    }

    /// Refuses (503) while this replica may have missed another's change.
    pub fn check(&self) -> Result<()> {
        match &self.0 {
            Some(r) if !r.in_step.load(Ordering::Acquire) => Err(Error::Unavailable(OUT_OF_STEP)),
            _ => Ok(()),
        }
    }

    /// `None` without Redis; else whether this replica is in step.
    pub fn readiness(&self) -> Option<bool> {
        self.0.as_ref().map(|r| r.in_step.load(Ordering::Acquire))
    }

    /// Tells the other replicas (no-op without Redis). 503 when Redis cannot
    /// be reached: the change is made here and the announcement is kept and
    /// published as soon as Redis answers again.
    pub async fn announce(&self, event: &Event) -> Result<()> {
        let Some(r) = &self.0 else {
            return Ok(());
        };
        if let Err(e) = r.publish(event).await {
            tracing::warn!(error = %e, "announcing a change to the other replicas failed; it is kept and published again");
            r.defer(event.clone());
            return Err(Error::Unavailable(NOT_ANNOUNCED));
        }
        Ok(())
    }

    /// Announcements waiting to be published again.
    pub fn pending(&self) -> usize {
        self.0.as_ref().map_or(0, |r| r.pending_len())
    }

    /// Starts following the other replicas' changes and waits (up to the
    /// timeout, a few times over) until this replica is in step.
    pub async fn start(&self, follower: Arc<dyn Follower>) -> anyhow::Result<()> {
        let Some(r) = self.0.clone() else {
            return Ok(());
        };
        tokio::spawn(r.clone().follow(follower));
        let deadline = tokio::time::Instant::now() + r.timeout * 3;
        while !r.in_step.load(Ordering::Acquire) {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "redis: could not subscribe to {} on {}",
                r.channel,
                r.shown
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Announce for ReplicaSync {
    async fn announce(&self, event: &Event) -> Result<()> {
        ReplicaSync::announce(self, event).await
    }
}

impl Redis {
    /// A connection for one command (reconnects by itself).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// `prefix` + `rest`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// The event channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// An event as sent on the channel.
    pub fn envelope(&self, event: Event) -> anyhow::Result<String> {
        Ok(serde_json::to_string(&events::Envelope {
            from: self.id.clone(),
            event,
        })?)
    }

    /// Keeps `event` to be published again ([`Redis::flush`]).
    pub fn defer(&self, event: Event) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= PENDING_KEPT {
            pending.pop_front();
            tracing::error!("too many announcements waiting for Redis: the oldest was dropped (other replicas catch up within [redis] resync)");
        }
        pending.push_back(event);
    }

    fn pending_len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Publishes the kept announcements, oldest first, until one fails.
    async fn flush(&self) {
        loop {
            let next = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .front()
                .cloned();
            let Some(event) = next else { return };
            if let Err(e) = self.publish(&event).await {
                tracing::debug!(error = %e, "a kept announcement is still not published");
                return;
            }
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.front() == Some(&event) {
                pending.pop_front();
            }
        }
    }

    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        let payload = self.envelope(event.clone())?;
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Subscribes, catches up and applies events, for ever; out of step
    /// (and caches emptied) whenever the subscription is down.
    async fn follow(self: Arc<Self>, follower: Arc<dyn Follower>) {
        let mut delay = Duration::from_millis(50);
        loop {
            let result = self.follow_once(&*follower).await;
            let was_in_step = self.in_step.swap(false, Ordering::AcqRel);
            follower.forget_everything();
            match result {
                Err(e) if was_in_step => {
                    tracing::error!(redis = %self.shown, error = %e, "lost Redis: refusing authenticated requests until it is back");
                    delay = Duration::from_millis(50);
                }
                Err(e) => {
                    tracing::debug!(redis = %self.shown, error = %e, "Redis still unreachable")
                }
                Ok(()) => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    async fn follow_once(&self, follower: &dyn Follower) -> anyhow::Result<()> {
        let pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .context("connecting timed out")??;
        let (mut sink, mut stream) = pubsub.split();
        tokio::time::timeout(self.timeout, sink.subscribe(&self.channel))
            .await
            .context("subscribing timed out")??;
        // Subscribed: nothing announced from now on is missed; catch up on
        // what may have been before.
        follower
            .catch_up()
            .await
            .map_err(|e| anyhow::anyhow!("catching up: {e}"))?;
        self.in_step.store(true, Ordering::Release);
        tracing::info!(redis = %self.shown, "in step with the other replicas");
        self.flush().await;
        let mut ping = tokio::time::interval(Duration::from_secs(1));
        let mut resync = tokio::time::interval(self.resync);
        resync.reset(); // not at once: caught up just now
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => events::apply(follower, &self.id, msg.get_payload_bytes()).await,
                    None => anyhow::bail!("the subscription was closed"),
                },
                _ = ping.tick() => {
                    tokio::time::timeout(self.timeout, sink.ping::<redis::Value>())
                        .await
                        .context("PING timed out")??;
                    if self.pending_len() > 0 {
                        self.flush().await;
                    }
                }
                _ = resync.tick() => {
                    follower
                        .catch_up()
                        .await
                        .map_err(|e| anyhow::anyhow!("catching up: {e}"))?;
                    tracing::debug!("resynchronised with the shared state");
                }
            }
        }
    }
}

/// A real redis-server for the unit tests (Debian's, as the e2e tests use).
#[cfg(test)]
pub(crate) mod test_redis {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// redis-server on a free loopback port, killed on drop.
    pub struct TestRedis {
        pub url: String,
        child: Child,
        _dir: tempfile::TempDir,
    }

    impl TestRedis {
        pub fn start() -> TestRedis {
            let port = std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new(
                std::env::var("REDIS_SERVER").unwrap_or_else(|_| "/usr/bin/redis-server".into()),
            )
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) must be installed");
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            TestRedis {
                url: format!("redis://127.0.0.1:{port}"),
                child,
                _dir: dir,
            }
        }

        pub async fn replica(&self) -> super::ReplicaSync {
            let config = crate::config::RedisConfig {
                url: Some(crate::config::Secret::new(self.url.clone())),
                ..Default::default()
            };
            super::ReplicaSync::connect(&config).await.unwrap()
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
