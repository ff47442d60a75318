//! The `ferromq` binary: command line, configuration, logging and wiring of
//! store → core → network. The only crate that uses `anyhow`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use broker_config::{BrokerConfig, ConfigFormat, Loaded, SyncMode};
use broker_core::Broker;
use broker_net::Server;
use clap::{Parser, Subcommand};
use store_rocksdb::{RocksOptions, RocksStore, SyncPolicy};

mod admin_client;

/// ferromq: a message broker that ActiveMQ users can drop in.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file: ferromq TOML (see deploy/ferromq.toml) or an ActiveMQ
    /// activemq.xml, told apart by content; built-in defaults when absent.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides `network.bind`).
    #[arg(long, value_name = "IP", global = true)]
    bind: Option<String>,
    /// STOMP port; 0 picks a free one (overrides `stomp.port`).
    #[arg(long, value_name = "PORT", global = true)]
    stomp_port: Option<u16>,
    /// Directory for broker data (overrides `storage.data_dir`).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Admin HTTP API port; 0 picks a free one (overrides `admin.port`).
    #[arg(long, value_name = "PORT", global = true)]
    admin_port: Option<u16>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the broker (the default).
    Run,
    /// Print the default configuration as TOML.
    GenerateConfig,
    /// Load and validate the configuration, then exit.
    CheckConfig,
    /// Move the messages of a dead-letter queue back to their original destinations, on a
    /// running broker (through its admin API).
    Redrive {
        /// The dead-letter queue, e.g. `ActiveMQ.DLQ` or `DLQ.orders` (`/queue/` optional).
        dlq: String,
        /// Move only the message with this id (its `message-id` header).
        #[arg(long, value_name = "ID")]
        message_id: Option<String>,
        /// The broker's admin API, `host:port` or `http://host:port`; default from
        /// `--config`'s `[admin]`, else 127.0.0.1:8161.
        #[arg(long, value_name = "ADDR")]
        admin: Option<String>,
    },
    /// List a running broker's destinations with their message counts.
    Destinations {
        /// The broker's admin API, as for `redrive`.
        #[arg(long, value_name = "ADDR")]
        admin: Option<String>,
    },
}

/// The admin API to talk to: `--admin`, else the configuration's `[admin]` (with
/// `--admin-port`), else the default 127.0.0.1:8161.
fn admin_target(cli: &Cli, admin: Option<&str>) -> Result<admin_client::Target> {
    match admin {
        Some(a) => admin_client::Target::parse(a),
        None => {
            let cfg = load_config(cli)?.config;
            if cfg.admin.port == 0 {
                anyhow::bail!(
                    "the configuration's admin port is 0 (picked at startup); pass --admin \
                     with the address the broker logged (listening protocol=admin addr=...)"
                );
            }
            Ok(admin_client::Target::from_bind(
                &cfg.admin.bind,
                cfg.admin.port,
            ))
        }
    }
}

/// Loads the file (either format), applies the command-line overrides and validates. The
/// warnings say what an activemq.xml sets that ferromq ignores or reads differently.
fn load_config(cli: &Cli) -> Result<Loaded> {
    let mut loaded = match &cli.config {
        Some(path) => BrokerConfig::load_file(path)
            .with_context(|| format!("loading configuration from {}", path.display()))?,
        None => Loaded {
            config: BrokerConfig::default(),
            format: ConfigFormat::Toml,
            warnings: Vec::new(),
        },
    };
    let cfg = &mut loaded.config;
    if let Some(b) = &cli.bind {
        cfg.network.bind = b.clone();
    }
    if let Some(p) = cli.stomp_port {
        cfg.stomp.port = p;
    }
    if let Some(d) = &cli.data_dir {
        cfg.storage.data_dir = d.to_string_lossy().into_owned();
    }
    if let Some(p) = cli.admin_port {
        cfg.admin.port = p;
    }
    let context = match loaded.format {
        ConfigFormat::Toml => "invalid configuration",
        // Errors name ferromq's TOML keys, which the XML was mapped to.
        ConfigFormat::ActiveMqXml => {
            "invalid configuration (read from an activemq.xml; names are the ferromq TOML keys \
             its settings map to, see docs/configuration.md)"
        }
    };
    loaded.config.validate().context(context)?;
    broker_net::check_config(&loaded.config)
        .map_err(anyhow::Error::msg)
        .context(context)?;
    Ok(loaded)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::GenerateConfig) => {
            print!("{}", BrokerConfig::default().to_toml_string()?);
            Ok(())
        }
        Some(Cmd::CheckConfig) => {
            let loaded = load_config(&cli)?;
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            println!("configuration is valid");
            Ok(())
        }
        Some(Cmd::Redrive {
            ref dlq,
            ref message_id,
            ref admin,
        }) => {
            let dlq = admin_client::queue_name(dlq)?;
            let target = admin_target(&cli, admin.as_deref())?;
            // The server's message names the queue; no extra context line needed.
            let moved = admin_client::redrive(&target, dlq, message_id.as_deref())?;
            println!("moved {moved} message(s) from {dlq} to their original destinations");
            Ok(())
        }
        Some(Cmd::Destinations { ref admin }) => {
            let target = admin_target(&cli, admin.as_deref())?;
            print!("{}", admin_client::destinations(&target)?);
            Ok(())
        }
        Some(Cmd::Run) | None => {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                // A closed stderr must not turn a log line into a panic (e.g. in the
                // signal task, which would then never start the shutdown).
                .log_internal_errors(false)
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            let Loaded {
                config: cfg,
                warnings,
                ..
            } = load_config(&cli)?;
            for w in &warnings {
                tracing::warn!("config: {w}");
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("ferromq")
                .build()
                .context("starting the async runtime")?;
            let storage = rt.block_on(run(cfg))?;
            // Dropping the runtime drops every task, and with them the last handles to the
            // storage thread, which then finishes its queued writes and closes the store.
            // Exiting before that would tear RocksDB down under its own threads.
            drop(rt);
            if let Some(thread) = storage {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while !thread.is_finished() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                if thread.is_finished() {
                    let _ = thread.join();
                } else {
                    anyhow::bail!("the storage thread did not finish within 30 s");
                }
            }
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Runs the broker until a signal stops it; returns the storage thread to join.
async fn run(cfg: BrokerConfig) -> Result<Option<std::thread::JoinHandle<()>>> {
    std::fs::create_dir_all(&cfg.storage.data_dir)
        .with_context(|| format!("creating data directory {}", cfg.storage.data_dir))?;
    let store_dir = std::path::Path::new(&cfg.storage.data_dir).join("store");
    let opened = std::time::Instant::now();
    // Opening replays RocksDB's WAL: blocking work, kept off the async workers.
    let opts = RocksOptions {
        sync: match cfg.storage.sync {
            SyncMode::Always => SyncPolicy::Always,
            SyncMode::Periodic => SyncPolicy::Periodic {
                interval: std::time::Duration::from_millis(cfg.storage.sync_interval_ms),
            },
        },
        min_free_disk: cfg.storage.min_free_disk_mb * 1024 * 1024,
    };
    let store = {
        let dir = store_dir.clone();
        tokio::task::spawn_blocking(move || RocksStore::open(&dir, opts))
            .await
            .context("opening the store")?
            .with_context(|| format!("opening the store in {}", store_dir.display()))?
    };
    tracing::info!(
        data_dir = %cfg.storage.data_dir,
        store = %store_dir.display(),
        open_ms = opened.elapsed().as_millis() as u64,
        "starting ferromq {}",
        env!("CARGO_PKG_VERSION")
    );
    let store = Arc::new(store);
    let core_cfg = broker_net::core_config(&cfg);
    // Startup reads the store (destinations, highest message number): keep it off the
    // async workers too.
    let broker = tokio::task::spawn_blocking(move || Broker::new(core_cfg, store))
        .await
        .context("opening the broker core")?
        .context("opening the broker core")?;
    let server = Server::start(&cfg, broker.clone())
        .await
        .context("starting listeners")?;
    let token = server.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        token.cancel();
        tracing::info!("shutdown requested");
    });
    server.wait().await;
    broker.shutdown();
    Ok(broker.take_storage_thread())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the broker");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
