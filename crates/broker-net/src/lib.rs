//! ferromq's network edge: TCP listeners, one task per connection, the connection limit and
//! graceful shutdown.
//!
//! Each connection task owns its socket halves, a [`stomp_codec::StompCodec`] and a
//! [`broker_stomp::StompSession`], and loops on `select!` over: bytes from the socket, the
//! next delivery from the core (only while connected), the session's next deadline
//! (heart-beats, connect timeout) and the shutdown token. Everything the session queued is
//! encoded into one buffer and written with one call.
//!
//! Invariants worth naming:
//! - No protocol logic here: the session decides, this crate moves bytes and time.
//! - Every task is tracked; [`Server::shutdown`] stops accepting, lets each connection finish
//!   the frame it is processing, tells the client, and waits (bounded by the grace period).
//! - Writes are bounded in time: a client that does not take a write within
//!   `stomp.write_timeout_ms` is dropped as a slow consumer, and while a write is pending no
//!   more deliveries are taken, so the core's prefetch accounting, not this task's memory,
//!   absorbs a slow consumer.

mod admin;
mod policy;
mod stomp;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use broker_config::BrokerConfig;
use broker_core::{Broker, CoreConfig};
use broker_stomp::StompConfig;
use stomp_codec::Limits;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Errors starting or running the network edge.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The configured bind address is not an IP address.
    #[error("invalid bind address '{0}'")]
    InvalidBind(String),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The running listeners.
#[derive(Debug)]
pub struct Server {
    stomp_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    token: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
}

impl Server {
    /// Binds the configured listeners and starts accepting. Port 0 picks a free port; the
    /// chosen address is logged (`listening protocol=stomp addr=...`) and returned by
    /// [`Server::stomp_addr`].
    pub async fn start(cfg: &BrokerConfig, broker: Broker) -> Result<Self, NetError> {
        let ip: IpAddr = cfg
            .network
            .bind
            .parse()
            .map_err(|_| NetError::InvalidBind(cfg.network.bind.clone()))?;
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(cfg.network.max_connections));
        // Bound before anything is spawned, so a failed bind leaves no task running.
        let admin_listener = if cfg.admin.enabled {
            Some(bind_admin(cfg).await?)
        } else {
            None
        };
        let mut stomp_addr = None;
        if cfg.stomp.enabled {
            let addr = SocketAddr::new(ip, cfg.stomp.port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| NetError::Bind { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| NetError::Bind { addr, source })?;
            tracing::info!(protocol = %"stomp", addr = %local, "listening");
            stomp_addr = Some(local);
            let ctx = stomp::Context {
                broker: broker.clone(),
                session: Arc::new(stomp_config(cfg)),
                limits: Limits {
                    max_frame_size: cfg.stomp.max_frame_size,
                    max_header_count: cfg.stomp.max_header_count,
                    max_header_line: cfg.stomp.max_header_line,
                    max_body: cfg.stomp.max_body,
                },
                write_timeout: Duration::from_millis(cfg.stomp.write_timeout_ms),
                token: token.clone(),
                tracker: tracker.clone(),
            };
            tracker.spawn(accept_loop(listener, permits, ctx));
        }
        let admin_addr = admin_listener.map(|(listener, local)| {
            tracing::info!(protocol = %"admin", addr = %local, "listening");
            let ctx = admin::Context {
                broker,
                token: token.clone(),
                tracker: tracker.clone(),
            };
            tracker.spawn(admin::accept_loop(listener, ctx));
            local
        });
        Ok(Self {
            stomp_addr,
            admin_addr,
            token,
            tracker,
            grace: Duration::from_millis(cfg.network.shutdown_grace_ms),
        })
    }

    /// Where the STOMP listener is bound, when enabled.
    pub fn stomp_addr(&self) -> Option<SocketAddr> {
        self.stomp_addr
    }

    /// Where the admin HTTP API is bound, when enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The token whose cancellation starts a graceful shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Waits until shutdown was requested and every connection finished (or the grace
    /// period ran out).
    pub async fn wait(self) {
        self.token.cancelled().await;
        self.tracker.close();
        if tokio::time::timeout(self.grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_ms = self.grace.as_millis() as u64,
                "connections still open after the shutdown grace period"
            );
        }
    }

    /// Stops accepting, closes every connection gracefully and waits for them.
    pub async fn shutdown(self) {
        self.token.cancel();
        self.wait().await;
    }
}

/// The checks of a validated config that need the core: the selectors of `[[composite]]`
/// targets (`BrokerConfig::validate` cannot parse selectors). Returns the first error, naming
/// the TOML key.
pub fn check_config(cfg: &BrokerConfig) -> Result<(), String> {
    policy::composites(cfg).map(drop)
}

/// The core's settings from the broker configuration (one mapping, shared by the binary and
/// the in-process test broker), per-destination policies included. With `storage.memory_limit_mb = 0` it reads the machine's
/// physical memory for the automatic limit, and logs the result.
pub fn core_config(cfg: &BrokerConfig) -> CoreConfig {
    let storage = &cfg.storage;
    let memory_limit = if storage.memory_limit_mb == 0 {
        let physical = physical_memory();
        let limit = storage.memory_limit_bytes(physical);
        match physical {
            Some(bytes) => tracing::info!(
                memory_limit_mb = limit >> 20,
                physical_mb = bytes >> 20,
                "memory limit: 25% of physical memory (storage.memory_limit_mb = 0)"
            ),
            None => tracing::warn!(
                memory_limit_mb = limit >> 20,
                "cannot read MemTotal from /proc/meminfo; memory limit falls back to 1024 MiB \
                 (set storage.memory_limit_mb)"
            ),
        }
        limit
    } else {
        storage.memory_limit_bytes(None)
    };
    CoreConfig {
        mailbox_capacity: cfg.core.mailbox_capacity,
        delivery_channel_capacity: cfg.core.delivery_channel_capacity,
        topic_pending_limit: cfg.core.topic_pending_limit,
        max_transaction_ops: cfg.core.max_transaction_ops,
        memory_limit,
        page_size: storage.page_size,
        // Bytes; 0 stays 0, which the core reads as no limit.
        store_limit: storage.store_limit_bytes(),
        send_fail_after: storage.send_fail_after(),
        policies: Arc::new(policy::policy_map(cfg)),
        virtual_topics: policy::virtual_topics(cfg),
        // check_config refused a bad selector before; here it only logs.
        composites: policy::composites(cfg).unwrap_or_else(|e| {
            tracing::error!(error = %e, "composite destinations ignored");
            Vec::new()
        }),
        ..CoreConfig::default()
    }
}

/// Physical memory in bytes: `MemTotal` of `/proc/meminfo` (Linux), `None` when it cannot be
/// read or parsed. Inside a container this is the host's memory, not the container's limit.
fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    // The line reads `MemTotal:       16318412 kB`; the kernel always reports kB (KiB).
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line["MemTotal:".len()..].split_whitespace();
    let kib: u64 = fields.next()?.parse().ok()?;
    (fields.next() == Some("kB") && fields.next().is_none())
        .then(|| kib.checked_mul(1024))
        .flatten()
        .filter(|&bytes| bytes > 0)
}

/// Binds the admin API's listener (`[admin]`); port 0 picks a free port.
async fn bind_admin(cfg: &BrokerConfig) -> Result<(TcpListener, SocketAddr), NetError> {
    let ip: IpAddr = cfg
        .admin
        .bind
        .parse()
        .map_err(|_| NetError::InvalidBind(cfg.admin.bind.clone()))?;
    let addr = SocketAddr::new(ip, cfg.admin.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| NetError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| NetError::Bind { addr, source })?;
    Ok((listener, local))
}

fn stomp_config(cfg: &BrokerConfig) -> StompConfig {
    StompConfig {
        hb_grace_multiplier: cfg.stomp.hb_grace_multiplier,
        min_server_heartbeat_ms: cfg.stomp.min_server_heartbeat_ms,
        min_client_heartbeat_ms: cfg.stomp.min_client_heartbeat_ms,
        connect_timeout: Duration::from_millis(cfg.stomp.connect_timeout_ms),
        default_prefetch: cfg.stomp.default_prefetch,
        ..StompConfig::default()
    }
}

async fn accept_loop(listener: TcpListener, permits: Arc<Semaphore>, ctx: stomp::Context) {
    loop {
        let accepted = tokio::select! {
            () = ctx.token.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let ctx = ctx.clone();
                        ctx.tracker.clone().spawn(async move {
                            stomp::serve(stream, peer, ctx).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "connection limit reached; refusing connection");
                        ctx.tracker.spawn(stomp::refuse(stream, ctx.write_timeout));
                    }
                }
            }
            Err(e) => {
                // Usually EMFILE/ENFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
