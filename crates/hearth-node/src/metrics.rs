//! Prometheus metrics on a plain-HTTP address of the operator's choosing (`metrics` in the
//! config): `GET /metrics` in the OpenMetrics text format, and `GET /healthz` for liveness
//! probes. Labels carry node ids and reasons only, never anything about a case or a person.
//!
//! Refusals are counted as they happen; everything else is read from the core at each scrape.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hearth_sync::ErrorCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::error;

use crate::{NodeError, NodeHandle};

/// Why a peer or client was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// It presented no client certificate.
    NoCertificate,
    /// Its certificate is not from the federation CA (or is expired or malformed).
    UnknownCa,
    /// Its certificate is from the CA but names no configured neighbour or admin.
    NotConfigured,
    /// An admin certificate tried to sync, or a neighbour's to use the admin API.
    WrongRole,
    /// The TLS handshake failed otherwise, or timed out.
    Handshake,
    /// Its hello named another node than its certificate.
    Identity,
    /// It speaks another major protocol version.
    Version,
    /// It broke the sync protocol.
    Protocol,
    /// Its certificate names more or other than one node id.
    AmbiguousCertificate,
    /// It already had as many connections open as one certificate (or all peers) may.
    TooManyConnections,
    /// It sent nothing in time: no HTTP/2 after the TLS handshake, or nothing at all for long.
    Timeout,
    /// Its session went over a per-session budget (documents under way, digest entries, bytes
    /// in flight) and was ended.
    Limit,
}

/// Every refusal reason, for series that start at 0.
const REFUSALS: [Refusal; 12] = [
    Refusal::NoCertificate,
    Refusal::UnknownCa,
    Refusal::NotConfigured,
    Refusal::WrongRole,
    Refusal::Handshake,
    Refusal::Identity,
    Refusal::Version,
    Refusal::Protocol,
    Refusal::AmbiguousCertificate,
    Refusal::TooManyConnections,
    Refusal::Timeout,
    Refusal::Limit,
];

impl Refusal {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NoCertificate => "no_certificate",
            Refusal::UnknownCa => "unknown_ca",
            Refusal::NotConfigured => "not_configured",
            Refusal::WrongRole => "wrong_role",
            Refusal::Handshake => "handshake",
            Refusal::Identity => "identity",
            Refusal::Version => "version",
            Refusal::Protocol => "protocol",
            Refusal::AmbiguousCertificate => "ambiguous_certificate",
            Refusal::TooManyConnections => "too_many_connections",
            Refusal::Timeout => "timeout",
            Refusal::Limit => "limit",
        }
    }

    /// The refusal a session's end stands for, if it was the peer's fault.
    pub fn of_session(code: ErrorCode) -> Option<Refusal> {
        match code {
            ErrorCode::Identity => Some(Refusal::Identity),
            ErrorCode::Version => Some(Refusal::Version),
            ErrorCode::Protocol => Some(Refusal::Protocol),
            ErrorCode::Limit => Some(Refusal::Limit),
            ErrorCode::Storage => None,
        }
    }

    /// Classifies a failed TLS handshake.
    pub fn of_handshake(e: &std::io::Error) -> Refusal {
        use rustls::{CertificateError, Error};
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
            Some(Error::NoCertificatesPresented) => Refusal::NoCertificate,
            Some(Error::InvalidCertificate(CertificateError::NotValidForName)) => {
                Refusal::NotConfigured
            }
            Some(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)) => {
                Refusal::AmbiguousCertificate
            }
            Some(Error::InvalidCertificate(_)) => Refusal::UnknownCa,
            _ => Refusal::Handshake,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabel {
    rule: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabel {
    peer: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabel {
    peer: String,
    direction: &'static str,
}

/// The labels of `hearth_changes_refused_total`: `signature`, then every rule's name.
fn rule_labels() -> impl Iterator<Item = &'static str> {
    std::iter::once("signature").chain(hearth_archive::rules::RULES.iter().copied())
}

/// A node's live counters.
#[derive(Debug)]
pub struct Metrics {
    refused: Family<ReasonLabel, Counter>,
    set_aside: Counter,
    changes_refused: Family<RuleLabel, Counter>,
    store: std::sync::Mutex<StoreHealth>,
}

/// How the node's store is, as the core last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreHealth {
    /// Why its last commit failed, while it is failing.
    pub failing: Option<String>,
    /// Bytes free on the data dir's disk for the node (`None` if it cannot be told).
    pub free_bytes: Option<u64>,
}

/// Below this much free space on the data dir's disk the node warns (logs, metrics, status,
/// health), before writes start failing.
pub const LOW_DISK_BYTES: u64 = 256 << 20;

impl StoreHealth {
    /// What is wrong, in one line, if anything is.
    pub fn problem(&self) -> Option<String> {
        match (&self.failing, self.free_bytes) {
            (Some(why), _) => Some(format!(
                "the store is failing: {why}; the node retries by itself once space is freed"
            )),
            (None, Some(free)) if free < LOW_DISK_BYTES => Some(format!(
                "the data dir's disk is nearly full ({} MiB free); free space before writes fail",
                free >> 20
            )),
            _ => None,
        }
    }
}

impl Default for Metrics {
    /// Every refusal reason starts at 0, so that dashboards see the series before the first.
    fn default() -> Self {
        let refused = Family::<ReasonLabel, Counter>::default();
        for why in REFUSALS {
            drop(refused.get_or_create(&ReasonLabel {
                reason: why.as_str(),
            }));
        }
        let changes_refused = Family::<RuleLabel, Counter>::default();
        for rule in rule_labels() {
            drop(changes_refused.get_or_create(&RuleLabel { rule }));
        }
        Metrics {
            refused,
            set_aside: Counter::default(),
            changes_refused,
            store: std::sync::Mutex::new(StoreHealth::default()),
        }
    }
}

impl Metrics {
    /// Records how the store is.
    pub fn set_store(&self, health: StoreHealth) {
        if let Ok(mut s) = self.store.lock() {
            *s = health;
        }
    }

    /// How the store is, as last recorded.
    pub fn store(&self) -> StoreHealth {
        self.store.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Counts documents set aside because they could not be stored.
    pub fn set_aside(&self, n: u64) {
        self.set_aside.inc_by(n);
    }

    /// Refusals counted for one reason so far.
    pub fn refusals(&self, why: Refusal) -> u64 {
        self.refused
            .get_or_create(&ReasonLabel {
                reason: why.as_str(),
            })
            .get()
    }

    /// Counts a message refused for breaking a rule of DESIGN §4a (`signature` or a rule of
    /// `hearth_archive::rules::RULES`).
    pub fn change_refused(&self, rule: &str) {
        let known = rule_labels().find(|r| *r == rule);
        if let Some(rule) = known {
            self.changes_refused
                .get_or_create(&RuleLabel { rule })
                .inc();
        }
    }

    /// Refusals of changes for one rule so far.
    pub fn changes_refused(&self, rule: &'static str) -> u64 {
        self.changes_refused
            .get_or_create(&RuleLabel { rule })
            .get()
    }

    /// Counts one refusal.
    pub fn refused(&self, why: Refusal) {
        self.refused
            .get_or_create(&ReasonLabel {
                reason: why.as_str(),
            })
            .inc();
    }

    /// The metrics as OpenMetrics text, read from the running node now.
    pub async fn render(&self, node: &NodeHandle) -> Result<String, NodeError> {
        let peers = node.status().await?;
        // A failing store still has its metrics told: the ones that read it are left out.
        let stats = node.local(|replica| replica.store().stats()).await?.ok();
        let mut registry = Registry::with_prefix("hearth");
        let health = self.store();
        let failing = Gauge::<i64>::default();
        failing.set(i64::from(health.failing.is_some()));
        registry.register(
            "store_failing",
            "1 while the store's last commit failed (a full disk, say) and none has succeeded since",
            failing,
        );
        if let Some(free) = health.free_bytes {
            let gauge = Gauge::<i64>::default();
            gauge.set(i64::try_from(free).unwrap_or(i64::MAX));
            registry.register(
                "disk_free_bytes",
                "Bytes free for the node on the data dir's disk",
                gauge,
            );
        }

        let connected = Gauge::<i64>::default();
        connected.set(peers.iter().filter(|p| p.connected).count() as i64);
        registry.register(
            "neighbours_connected",
            "Neighbours with a sync session up",
            connected,
        );
        let configured = Gauge::<i64>::default();
        configured.set(peers.len() as i64);
        registry.register(
            "neighbours_configured",
            "Neighbours in the config",
            configured,
        );

        let up = Family::<PeerLabel, Gauge>::default();
        let backlog = Family::<PeerLabel, Gauge>::default();
        let lag = Family::<PeerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let frames = Family::<FlowLabel, Counter>::default();
        let bytes = Family::<FlowLabel, Counter>::default();
        let applied = Family::<PeerLabel, Counter>::default();
        let refused_docs = Family::<FlowLabel, Counter>::default();
        let now = SystemTime::now();
        for p in &peers {
            let peer = PeerLabel { peer: p.id.clone() };
            let flow = |direction| FlowLabel {
                peer: p.id.clone(),
                direction,
            };
            up.get_or_create(&peer).set(i64::from(p.connected));
            backlog
                .get_or_create(&peer)
                .set(i64::try_from(p.backlog).unwrap_or(i64::MAX));
            // Seconds since the neighbour last had everything of ours; since start if never.
            let behind = p
                .in_step
                .and_then(|t| now.duration_since(t).ok())
                .map_or(-1.0, |d| d.as_secs_f64());
            lag.get_or_create(&peer).set(behind);
            frames.get_or_create(&flow("in")).inc_by(p.total.frames_in);
            frames
                .get_or_create(&flow("out"))
                .inc_by(p.total.frames_out);
            bytes.get_or_create(&flow("in")).inc_by(p.total.bytes_in);
            bytes.get_or_create(&flow("out")).inc_by(p.total.bytes_out);
            applied.get_or_create(&peer).inc_by(p.total.docs_applied);
            refused_docs
                .get_or_create(&flow("in"))
                .inc_by(p.total.refused_here);
            refused_docs
                .get_or_create(&flow("out"))
                .inc_by(p.total.refused_by_peer);
        }
        registry.register(
            "neighbour_connected",
            "1 if a sync session with the neighbour is up",
            up,
        );
        registry.register(
            "sync_backlog",
            "Feed sequences of this node not yet confirmed to the neighbour in the current session",
            backlog,
        );
        registry.register(
            "sync_lag_seconds",
            "Seconds since the neighbour last had every change of this node with nothing under way (under a second while in step; -1 if never since start)",
            lag,
        );
        registry.register(
            "sync_frames",
            "Sync frames exchanged with the neighbour since start",
            frames,
        );
        registry.register(
            "sync_bytes",
            "Approximate sync bytes exchanged with the neighbour since start",
            bytes,
        );
        registry.register(
            "sync_documents_applied",
            "Documents changed here by what the neighbour sent, since start",
            applied,
        );
        registry.register(
            "sync_documents_refused",
            "Documents refused under the scope rule: in = refused here, out = refused by the neighbour",
            refused_docs,
        );
        registry.register(
            "peers_refused",
            "Connections and sessions refused, by reason",
            self.refused.clone(),
        );
        registry.register(
            "changes_refused",
            "Messages from neighbours refused whole for a change not signed by its author (rule=signature) or breaking a rule of what its author may write (DESIGN 4a)",
            self.changes_refused.clone(),
        );
        registry.register(
            "documents_set_aside",
            "Documents received that the store could not index, set aside (the rest was committed)",
            self.set_aside.clone(),
        );

        let gauge = |v: u64| {
            let g = Gauge::<i64>::default();
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
            g
        };
        if let Some(stats) = stats {
            registry.register("cases_held", "Cases held here", gauge(stats.cases));
            registry.register(
                "documents_held",
                "Documents held here: cases, summaries, ledgers, the policy",
                gauge(stats.documents),
            );
            registry.register(
                "conflicts_open",
                "Conflicts waiting for an admin",
                gauge(stats.open_conflicts),
            );
            registry.register(
                "feed_sequence",
                "Latest sequence of this node's change feed",
                gauge(stats.last_seq),
            );
            registry.register(
                "change_chunks",
                "Change chunks not yet compacted into snapshots",
                gauge(stats.chunks),
            );
        }

        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .map_err(|e| NodeError::Metrics(e.to_string()))?;
        Ok(text)
    }
}

#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    node: NodeHandle,
}

async fn get_metrics(State(s): State<Scrape>) -> impl IntoResponse {
    match s.metrics.render(&s.node).await {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn get_healthz(State(s): State<Scrape>) -> impl IntoResponse {
    match s.node.status().await {
        Ok(_) => match s.metrics.store() {
            StoreHealth {
                failing: Some(_), ..
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{}\n", s.metrics.store().problem().unwrap_or_default()),
            ),
            health => (
                StatusCode::OK,
                health
                    .problem()
                    .map_or_else(|| "ok\n".to_owned(), |p| format!("ok; warning: {p}\n")),
            ),
        },
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_owned()),
    }
}

/// A TCP listener on `addr` for an HTTP endpoint (metrics, the console), and the address bound.
pub(crate) async fn bind(addr: &str) -> Result<(tokio::net::TcpListener, SocketAddr), NodeError> {
    let listen = |source| NodeError::Listen {
        addr: addr.to_owned(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(listen)?;
    let local = listener.local_addr().map_err(listen)?;
    Ok((listener, local))
}

/// Serves `/metrics` and `/healthz` on `addr` until `cancel`; returns the address bound.
pub async fn serve(
    addr: &str,
    metrics: Arc<Metrics>,
    node: NodeHandle,
    cancel: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>), NodeError> {
    let (listener, local) = bind(addr).await?;
    let app = Router::new()
        .route("/metrics", get(get_metrics))
        .route("/healthz", get(get_healthz))
        .with_state(Scrape { metrics, node });
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
        if let Err(e) = served {
            error!(error = %e, "metrics endpoint failed");
        }
    });
    Ok((local, task))
}
