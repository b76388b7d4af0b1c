//! `hearth serve`: runs the node until Ctrl-C or SIGTERM.

use std::path::Path;

use anyhow::{Context, Result};
use hearth_node::{Identity, NodeOptions};
use hearth_sync::SessionConfig;
use tracing_subscriber::EnvFilter;

use crate::BadInput;
use crate::node::{STORE_FILE, load_config, open_store};

/// Runs the node on `dir`.
pub fn run(dir: &Path) -> Result<()> {
    let config = load_config(dir)?;
    if config.listen.is_none() && config.peers.iter().all(|p| p.endpoint.is_none()) {
        return Err(BadInput::new(
            "this node neither listens (`hearth init --listen`) nor dials a neighbour (`hearth peer add --endpoint`): nothing to serve",
        )
        .into());
    }
    let tls_dir = dir.join("tls");
    let identity = Identity::load(&tls_dir).map_err(|e| {
        BadInput::new(format!(
            "{e} (the node reads its certificates from {})",
            tls_dir.display()
        ))
    })?;
    let store = open_store(&dir.join(STORE_FILE))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let node = hearth_node::start(NodeOptions {
            config,
            identity,
            store,
            session: SessionConfig::default(),
        })
        .await?;
        stopped().await;
        tracing::info!("stopping");
        node.shutdown().await;
        Ok(())
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
