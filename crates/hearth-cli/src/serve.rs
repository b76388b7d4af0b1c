//! `hearth serve`: runs the node until Ctrl-C or SIGTERM.

use std::path::Path;

use anyhow::{Context, Result};
use hearth_node::NodeOptions;
use hearth_sync::SessionConfig;
use tracing_subscriber::EnvFilter;

use comfy_table::{Table, presets};
use hearth_proto::v1::local_client::LocalClient;
use hearth_proto::v1::{SyncNowRequest, SyncStatusRequest};
use tonic::transport::Channel;

use crate::BadInput;
use clap::Subcommand;

use crate::commands::JsonFlag;

use crate::commands::LogFormat;
use crate::commands::done;
use crate::node::{STORE_FILE, connect_socket, load_config, load_identity, load_salt, open_store};
use crate::output::print_json;

/// Runs the node on `dir`, logging to stderr in `format`.
pub fn run(dir: &Path, format: LogFormat) -> Result<()> {
    let config = load_config(dir)?;
    if config.listen.is_none()
        && config.console.is_none()
        && config.peers.iter().all(|p| p.endpoint.is_none())
    {
        return Err(BadInput::new(
            "this node neither listens (`hearth init --listen`), serves a console (`--console`) nor dials a neighbour (`hearth peer add --endpoint`): nothing to serve",
        )
        .into());
    }
    let identity = load_identity(dir)?;
    // The store's lock makes this the only node on the data dir, so a socket left behind by a
    // crashed node can be replaced.
    let salt = load_salt(dir)?;
    let mut store = open_store(&dir.join(STORE_FILE))?;
    // The store's own lock keeps other processes out from now on; commands queue for it.
    crate::node::release_turn();
    crate::node::check_identity(&mut store, &config, &salt)?;
    let filter = EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object a line, fields flattened, for log collectors (journald, Loki, ELK).
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
    let dir = dir.to_owned();
    runtime()?.block_on(async move {
        let node = hearth_node::start(NodeOptions {
            config,
            identity,
            store,
            salt,
            session: SessionConfig::default(),
        })
        .await?;
        let mut node = node;
        node.serve_local(&dir.join(hearth_node::local_api::SOCKET_FILE))?;
        stopped().await;
        tracing::info!("stopping");
        node.shutdown().await;
        Ok(())
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A client of the running node's local API, or `None` if no node runs on `dir`.
async fn local_client(dir: &Path) -> Option<LocalClient<Channel>> {
    connect_socket(dir).await.map(LocalClient::new)
}

fn ago(unix_ms: Option<i64>) -> String {
    let Some(ms) = unix_ms else {
        return "never 未联系".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(ms);
    let secs = (now - ms).max(0) / 1000;
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        _ => format!("{}h ago", secs / 3600),
    }
}

/// `hearth sync status|now`.
pub fn sync(dir: &Path, command: SyncCommand) -> Result<()> {
    let config = load_config(dir)?;
    runtime()?.block_on(async move {
        let client = local_client(dir).await;
        match command {
            SyncCommand::Status(out) => {
                let reply = match client {
                    Some(mut c) => Some(c.sync_status(SyncStatusRequest {}).await?.into_inner()),
                    None => None,
                };
                if out.json {
                    let peers: Vec<serde_json::Value> = match &reply {
                        Some(r) => r.peers.iter().map(|p| serde_json::json!({
                            "id": p.id, "relation": p.relation, "connected": p.connected,
                            "last_heard_unix_ms": p.last_heard_unix_ms, "backlog": p.backlog,
                            "frames_in": p.frames_in, "frames_out": p.frames_out,
                            "bytes_in": p.bytes_in, "bytes_out": p.bytes_out,
                            "docs_applied": p.docs_applied, "refused_here": p.refused_here,
                            "refused_by_peer": p.refused_by_peer,
                            "refusals": p.refusals.iter().map(|r| serde_json::json!({
                                "doc": r.doc_id, "reason": r.reason, "message": r.message,
                            })).collect::<Vec<_>>(),
                            "last_error": p.last_error,
                        })).collect(),
                        None => config.peers.iter().map(|p| serde_json::json!({
                            "id": p.id, "relation": p.relation.as_str(), "connected": false,
                        })).collect(),
                    };
                    return print_json(&serde_json::json!({
                        "node_id": config.node_id, "running": reply.is_some(), "peers": peers,
                        "store_failing": reply.as_ref().is_some_and(|r| r.store_failing),
                        "store_problem": reply.as_ref().and_then(|r| r.store_problem.clone()),
                        "disk_free_bytes": reply.as_ref().and_then(|r| r.disk_free_bytes),
                    }));
                }
                let Some(reply) = reply else {
                    crate::out!(
                        "node {} is not running on {}; start it with `hearth serve`. Neighbours: {}",
                        config.node_id,
                        dir.display(),
                        config.neighbour_ids().join(", ")
                    )?;
                    return Ok(());
                };
                let mut t = Table::new();
                t.load_style(presets::UTF8_FULL_CONDENSED).set_header(vec![
                    "Neighbour 相邻节点", "Relation 关系", "Connected 连接", "Last heard 最近联系",
                    "Backlog 待确认", "Frames in/out 帧", "Applied 已应用", "Refused 拒绝",
                ]);
                for p in &reply.peers {
                    t.add_row(vec![
                        p.id.clone(),
                        p.relation.clone(),
                        if p.connected { "yes 是".into() } else { "no 否".into() },
                        ago(p.last_heard_unix_ms),
                        p.backlog.to_string(),
                        format!("{}/{}", p.frames_in, p.frames_out),
                        p.docs_applied.to_string(),
                        format!("{} here, {} by peer", p.refused_here, p.refused_by_peer),
                    ]);
                }
                crate::out!("node {}\n{t}", reply.node_id)?;
                if let Some(problem) = &reply.store_problem {
                    crate::out!("store 存储: {problem}")?;
                }
                for p in &reply.peers {
                    if let Some(e) = &p.last_error {
                        crate::out!("{}: last session {e}", p.id)?;
                    }
                    for r in &p.refusals {
                        crate::out!("{}: refused 拒绝 {} ({}): {}", p.id, r.doc_id, r.reason, r.message)?;
                    }
                }
                Ok(())
            }
            SyncCommand::Now { peer, out } => {
                let Some(mut client) = client else {
                    return Err(BadInput::new(format!(
                        "node {} is not running on {}; start it with `hearth serve`",
                        config.node_id,
                        dir.display()
                    ))
                    .into());
                };
                let reply = client
                    .sync_now(SyncNowRequest { peer: peer.clone() })
                    .await
                    .map_err(|s| match s.code() {
                        tonic::Code::NotFound => anyhow::Error::new(BadInput::new(s.message())),
                        _ => anyhow::anyhow!("the node did not answer: {}", s.message()),
                    })?
                    .into_inner();
                done(
                    out.json,
                    serde_json::json!({ "peers": reply.peers }),
                    format!("sync round started with {}", reply.peers.join(", ")),
                )
            }
        }
    })
}

/// Waits for Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Neighbours: connected, last heard, backlog, frames, refusals
    Status(JsonFlag),
    /// Dial disconnected neighbours now and offer pending changes
    Now {
        /// Only this neighbour
        #[arg(long, value_name = "ID")]
        peer: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}
