//! The Hearth node daemon: a tonic server and clients over mutual TLS 1.3 carrying sync sessions
//! between neighbours, around a single core thread that owns the store (see [`core`]).
//!
//! ```text
//! TLS listener ──► Federation service ─┐                 ┌─► store (redb, group commit)
//!                                      ├─► core thread ──┤
//! dialers (backoff + jitter) ──────────┘   (sessions)    └─► frames out, after the commit
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod archive_api;
pub mod bundle;
pub mod cases;
pub mod config;
pub mod console;
pub mod core;
pub mod guard;
pub mod local;
pub mod local_api;
pub mod metrics;
pub mod net;
pub mod replica;
pub mod standard;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hearth_archive::FederationSalt;
use hearth_proto::v1::archive_server::ArchiveServer;
use hearth_proto::v1::federation_server::FederationServer;
use hearth_store::{Store, StoreError};
use hearth_sync::SessionConfig;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

pub use crate::config::{NodeConfig, Peer, Relation};
pub use crate::core::PeerStatus;
pub use crate::replica::StoreReplica;
pub use crate::tls::Identity;

/// Why a node could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Certificates or keys are unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The node's key cannot sign changes, or the CA cannot check them.
    #[error("cannot sign or check changes: {0}")]
    Trust(#[from] hearth_sync::TrustError),
    /// The listen address cannot be used.
    #[error("cannot listen on {addr}: {source}; is another node running there?")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The core thread could not start.
    #[error("cannot start the node: {0}")]
    Start(std::io::Error),
    /// The node is stopping or stopped.
    #[error("the node is stopping")]
    Stopped,
    /// The node's documents could not be read or written.
    #[error(transparent)]
    Replica(#[from] hearth_sync::ReplicaError),
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    /// The metrics could not be encoded.
    #[error("cannot encode the metrics: {0}")]
    Metrics(String),
    /// The local control socket cannot be used.
    #[error("cannot serve the local API on {path}: {source}")]
    Socket {
        /// The socket path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What a node runs with.
#[derive(Debug)]
pub struct NodeOptions {
    /// The config file's content.
    pub config: NodeConfig,
    /// Certificates and key.
    pub identity: Identity,
    /// The open store.
    pub store: Store,
    /// The federation salt, for identity keys of cases opened through the archive API.
    pub salt: FederationSalt,
    /// Session limits.
    pub session: SessionConfig,
}

/// A cheap handle on a running node, for services that answer about it.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    node_id: String,
    core: mpsc::Sender<core::Cmd>,
    wakes: Arc<HashMap<String, Arc<Notify>>>,
    metrics: Arc<metrics::Metrics>,
    identity: Arc<Identity>,
    config: Arc<NodeConfig>,
}

impl NodeHandle {
    /// The node id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The node's live counters.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// Every neighbour: connected or not, last heard, backlog, counters.
    pub async fn status(&self) -> Result<Vec<PeerStatus>, NodeError> {
        let (reply, rx) = oneshot::channel();
        self.core
            .send(core::Cmd::Status(reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Dials disconnected neighbours now instead of after their backoff, and offers pending
    /// changes to connected ones. Returns the neighbours concerned; an unknown `peer` is `None`.
    pub async fn sync_now(&self, peer: Option<&str>) -> Result<Option<Vec<String>>, NodeError> {
        let status = self.status().await?;
        let peers: Vec<String> = status
            .iter()
            .map(|p| p.id.clone())
            .filter(|id| peer.is_none_or(|p| p == id))
            .collect();
        if peers.is_empty() && peer.is_some() {
            return Ok(None);
        }
        for id in &peers {
            if let Some(wake) = self.wakes.get(id) {
                wake.notify_one();
            }
        }
        // An empty job still makes the core run a round: poll every session, commit, send.
        self.core
            .send(core::Cmd::Local(Box::new(|_| {})))
            .await
            .map_err(|_| NodeError::Stopped)?;
        Ok(Some(peers))
    }

    /// A signed bundle of what the neighbour `peer` is missing (see [`bundle::export`]).
    pub async fn export_bundle(
        &self,
        peer: &str,
        full: bool,
    ) -> Result<Result<bundle::Exported, bundle::BundleFileError>, NodeError> {
        let (identity, config, peer) =
            (self.identity.clone(), self.config.clone(), peer.to_owned());
        self.local(move |r| bundle::export(r, &identity, &config, &peer, full))
            .await
    }

    /// Checks and applies a bundle file from a neighbour (see [`bundle::import`]).
    pub async fn import_bundle(
        &self,
        file: Vec<u8>,
    ) -> Result<Result<bundle::ImportReport, bundle::BundleFileError>, NodeError> {
        let (identity, config) = (self.identity.clone(), self.config.clone());
        self.local(move |r| bundle::import(r, &identity, &config, &file))
            .await
    }

    /// Runs `f` on the core thread with the node's documents (a local change or a read). Changes
    /// are committed, then offered to connected participants at once.
    pub async fn local<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut StoreReplica) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (reply, rx) = oneshot::channel();
        let job: core::LocalFn = Box::new(move |replica| {
            let _ = reply.send(f(replica));
        });
        self.core
            .send(core::Cmd::Local(job))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }
}

/// Tells the core that time passes, so that work it put off (the node's summary) gets done.
async fn ticker(core: mpsc::Sender<core::Cmd>, cancel: CancellationToken) {
    let mut every = tokio::time::interval(core::SUMMARY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = every.tick() => {
                if core.send(core::Cmd::Tick).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A running node.
#[derive(Debug)]
pub struct RunningNode {
    /// What services need of the node; a running node is used through it too (`Deref`).
    handle: NodeHandle,
    salt: Arc<FederationSalt>,
    addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    console_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    core_thread: Option<std::thread::JoinHandle<()>>,
}

impl std::ops::Deref for RunningNode {
    type Target = NodeHandle;

    fn deref(&self) -> &NodeHandle {
        &self.handle
    }
}

/// The node's store as a sync replica: its neighbours from the config, and its keyring from its
/// identity, with the upgrade window of `[trust]` open or shut by today's date (DESIGN §4a).
/// The running node and the command line (bundles while no node runs) use the same.
pub fn replica_for(
    config: &NodeConfig,
    identity: &Identity,
    store: Store,
) -> Result<StoreReplica, NodeError> {
    let now = hearth_archive::jiff::Timestamp::now();
    let mut keyring = identity.keyring(u64::try_from(now.as_second()).unwrap_or(0))?;
    let today = hearth_archive::calendar::day_of(now);
    keyring.set_legacy(config.trust.open_on(today));
    if keyring.legacy() {
        info!(
            until = %config.trust.accept_unsigned_until.map(|d| d.to_string()).unwrap_or_default(),
            "upgrade window open: unsigned changes from neighbours are taken until then"
        );
    }
    Ok(StoreReplica::new(&config.node_id, store)?
        .with_topology(config)
        .with_keyring(Arc::new(std::sync::RwLock::new(keyring)))?)
}

/// Starts a node: the core thread, the TLS listener (if the config has one) and a dialer for
/// every neighbour with an endpoint.
pub async fn start(opts: NodeOptions) -> Result<RunningNode, NodeError> {
    let NodeOptions {
        config,
        identity,
        store,
        salt,
        session,
    } = opts;
    let config = Arc::new(config);
    let salt = Arc::new(salt);
    let mut store = store;
    if store.note_schemas(hearth_archive::check::SCHEMAS)? {
        info!(
            "this node reads newer document schemas than before: it reconciles with each neighbour once"
        );
    }
    let replica = replica_for(&config, &identity, store)?;
    let keyring = hearth_sync::Replica::keyring(&replica);
    let session = config.limits.session(session);
    let in_flight = config.limits.session_in_flight_mib << 20;
    let mut allowed = config.neighbour_ids();
    allowed.extend(config.admins.iter().cloned());
    let server_tls = identity.server_config(allowed)?;
    let client_tls = Arc::new(identity.client_config()?);
    let (tx, rx) = mpsc::channel(4096);
    let metrics = Arc::new(metrics::Metrics::default());
    let core = core::Core::new(replica, &config, session, metrics.clone());
    let core_thread = std::thread::Builder::new()
        .name("hearth-core".into())
        .spawn(move || core.run(rx))
        .map_err(NodeError::Start)?;
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(ticker(tx.clone(), cancel.clone())));
    let dialled: Vec<&Peer> = config
        .peers
        .iter()
        .filter(|p| p.endpoint.is_some())
        .collect();
    let wakes: Arc<HashMap<String, Arc<Notify>>> = Arc::new(
        dialled
            .iter()
            .map(|p| (p.id.clone(), Arc::new(Notify::new())))
            .collect(),
    );
    let handle = NodeHandle {
        node_id: config.node_id.clone(),
        core: tx.clone(),
        wakes: wakes.clone(),
        metrics: metrics.clone(),
        identity: Arc::new(identity),
        config: config.clone(),
    };
    let mut addr = None;
    if let Some(listen) = &config.listen {
        let (listener, local) = net::bind(listen)
            .await
            .map_err(|source| NodeError::Listen {
                addr: listen.clone(),
                source,
            })?;
        addr = Some(local);
        let incoming = net::tls_incoming(
            listener,
            TlsAcceptor::from(Arc::new(server_tls)),
            guard::Gate::new(config.limits.clone()),
            metrics.clone(),
            cancel.clone(),
        );
        let service = FederationServer::new(net::FederationService::new(
            tx.clone(),
            config.neighbour_ids(),
            metrics.clone(),
            cancel.clone(),
            in_flight,
            keyring.clone(),
        ))
        .max_decoding_message_size(net::MAX_MESSAGE)
        .max_encoding_message_size(net::MAX_MESSAGE);
        let archive = ArchiveServer::new(archive_api::ArchiveService::remote(
            handle.clone(),
            config.clone(),
            salt.clone(),
        ))
        .max_decoding_message_size(archive_api::MAX_REQUEST);
        // The standard services, so grpcurl, grpc_health_probe and grpcio clients work.
        let health_service = standard::health(standard::ON_TLS_PORT).await;
        let (reflection, reflection_v1alpha) = standard::reflection(standard::ON_TLS_PORT)?;
        let stop = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(Duration::from_secs(20)))
                .http2_keepalive_timeout(Some(Duration::from_secs(20)))
                // A neighbour needs one stream, an admin tool a few.
                .max_concurrent_streams(Some(64))
                .add_service(service)
                .add_service(archive)
                .add_service(health_service)
                .add_service(reflection)
                .add_service(reflection_v1alpha)
                .serve_with_incoming_shutdown(incoming, stop.cancelled())
                .await;
            if let Err(e) = served {
                error!(error = %e, "gRPC server failed");
            }
        }));
        info!(node = %config.node_id, addr = %local, "listening for peers");
    }
    let mut metrics_addr = None;
    if let Some(at) = &config.metrics {
        let (local, task) =
            metrics::serve(at, metrics.clone(), handle.clone(), cancel.clone()).await?;
        metrics_addr = Some(local);
        tasks.push(task);
        info!(addr = %local, "metrics at http://{local}/metrics");
    }
    let mut console_addr = None;
    if let Some(at) = &config.console {
        let tls = match &config.console_tls {
            Some(t) => Some(Arc::new(tls::console_config(
                std::path::Path::new(&t.cert),
                std::path::Path::new(&t.key),
            )?)),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (local, task) = console::serve(
            at,
            handle.clone(),
            config.clone(),
            salt.clone(),
            tls,
            cancel.clone(),
        )
        .await?;
        console_addr = Some(local);
        tasks.push(task);
        info!(addr = %local, "console at {scheme}://{local}/");
    }
    for peer in dialled {
        let wake = wakes.get(&peer.id).cloned().unwrap_or_default();
        tasks.push(tokio::spawn(net::dial_forever(
            peer.clone(),
            client_tls.clone(),
            tx.clone(),
            cancel.clone(),
            wake,
            in_flight,
            keyring.clone(),
        )));
    }
    Ok(RunningNode {
        handle,
        salt,
        addr,
        metrics_addr,
        console_addr,
        cancel,
        tasks,
        core_thread: Some(core_thread),
    })
}

impl RunningNode {
    /// The address the node listens on for peers.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The address of the Prometheus endpoint, if the config has one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Where the web console listens, if it does.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console_addr
    }

    /// A handle for services that answer about the node.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// Serves the local control API on a Unix socket (owner-only) until the node stops.
    pub fn serve_local(&mut self, socket: &std::path::Path) -> Result<(), NodeError> {
        let archive = archive_api::ArchiveService::local(
            self.handle(),
            self.handle.config.clone(),
            self.salt.clone(),
        );
        let task = local_api::serve(socket, self.handle(), archive, self.cancel.clone())?;
        self.tasks.push(task);
        Ok(())
    }

    /// Stops: connections close, the core commits what it has and ends.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let _ = self.handle.core.send(core::Cmd::Shutdown).await;
        if let Some(thread) = self.core_thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        info!(node = %self.handle.node_id, "node stopped");
    }
}
