//! The gRPC edge: the `Federation` service on a TLS listener, and dialers that keep a session
//! open to each neighbour with an endpoint, reconnecting with exponential backoff and jitter.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hearth_proto::v1::SyncFrame;
use hearth_proto::v1::federation_client::FederationClient;
use hearth_proto::v1::federation_server::Federation;
use hearth_sync::{Frame, SharedKeyring};
use hyper_util::rt::TokioIo;
use rand::RngExt;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info, warn};

use crate::config::Peer;
use crate::core::Cmd;
use crate::guard::{Gate, Guarded};
use crate::metrics::{Metrics, Refusal};
use crate::tls;

/// Frames queued for one connection before the peer counts as too slow.
pub const OUT_QUEUE: usize = 4096;
/// Largest gRPC message either way (a sync message carries at most one whole document).
pub const MAX_MESSAGE: usize = 16 << 20;
/// TLS handshakes under way at once; a connection beyond waits in the listen backlog.
const HANDSHAKES: usize = 64;

static CONN_IDS: AtomicU64 = AtomicU64::new(1);

fn next_conn() -> u64 {
    CONN_IDS.fetch_add(1, Ordering::Relaxed)
}

/// Forwards frames from a connection to the core until it ends, then reports the end. At most
/// `in_flight` bytes of the connection's frames wait for the core at once: a peer that sends
/// faster than the core takes waits (HTTP/2 flow control then holds it back).
async fn pump(
    peer: String,
    conn: u64,
    mut inbound: Streaming<SyncFrame>,
    core: mpsc::Sender<Cmd>,
    cancel: CancellationToken,
    in_flight: usize,
    keyring: Option<SharedKeyring>,
) {
    // Permits are KiB, so that a budget in the gigabytes still fits a semaphore's count.
    let budget_kib = (in_flight >> 10).max(1);
    let budget = Arc::new(tokio::sync::Semaphore::new(budget_kib));
    loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            next = inbound.message() => next,
        };
        match next {
            Ok(Some(pb)) => match Frame::try_from(pb) {
                Ok(frame) => {
                    if let (
                        Some(keyring),
                        Frame::Sync {
                            doc,
                            message,
                            signatures,
                        },
                    ) = (&keyring, &frame)
                        && let Ok(keyring) = keyring.read()
                    {
                        // Signatures checked here, beside the core, which then only looks
                        // them up (it checks everything it applies all the same).
                        keyring.preverify(doc, message, signatures);
                    }
                    let kib = (frame.memory() >> 10).clamp(1, budget_kib);
                    let permit = tokio::select! {
                        biased;
                        () = cancel.cancelled() => break,
                        permit = budget.clone().acquire_many_owned(kib as u32) => permit.ok(),
                    };
                    if core
                        .send(Cmd::Frame {
                            peer: peer.clone(),
                            conn,
                            frame,
                            permit,
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                // A frame of a kind this version does not know (a newer minor's): skipped.
                Err(hearth_proto::DecodeError::Empty) => {
                    debug!(peer = %peer, "frame of an unknown kind skipped");
                }
                Err(e) => {
                    warn!(peer = %peer, error = %e, "undecodable frame; closing the connection");
                    break;
                }
            },
            Ok(None) => break,
            Err(status) => {
                debug!(peer = %peer, code = ?status.code(), "connection ended");
                break;
            }
        }
    }
    let _ = core.send(Cmd::Disconnected { peer, conn }).await;
}

/// The `Federation` service: accepts sync streams from configured neighbours.
#[derive(Debug, Clone)]
pub struct FederationService {
    core: mpsc::Sender<Cmd>,
    neighbours: Vec<String>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    in_flight: usize,
    keyring: Option<SharedKeyring>,
}

impl FederationService {
    /// A service feeding `core`, for these neighbours; at most `in_flight` bytes of one
    /// connection's frames wait for the core at once.
    pub fn new(
        core: mpsc::Sender<Cmd>,
        neighbours: Vec<String>,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        in_flight: usize,
        keyring: Option<SharedKeyring>,
    ) -> Self {
        FederationService {
            core,
            neighbours,
            metrics,
            cancel,
            in_flight,
            keyring,
        }
    }
}

type FrameStream = Pin<Box<dyn Stream<Item = Result<SyncFrame, Status>> + Send>>;

#[tonic::async_trait]
impl Federation for FederationService {
    type SyncStream = FrameStream;

    async fn sync(
        &self,
        request: Request<Streaming<SyncFrame>>,
    ) -> Result<Response<FrameStream>, Status> {
        let certs = request
            .peer_certs()
            .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let peer = certs
            .first()
            .and_then(|c| tls::node_of_cert(c, &self.neighbours))
            .ok_or_else(|| {
                self.metrics.refused(Refusal::WrongRole);
                Status::permission_denied("the certificate names no neighbour of this node")
            })?;
        let (out, rx) = mpsc::channel(OUT_QUEUE);
        let conn = next_conn();
        self.core
            .send(Cmd::Connected {
                peer: peer.clone(),
                conn,
                out,
                dialled: false,
            })
            .await
            .map_err(|_| Status::unavailable("the node is stopping"))?;
        tokio::spawn(pump(
            peer,
            conn,
            request.into_inner(),
            self.core.clone(),
            self.cancel.clone(),
            self.in_flight,
            self.keyring.clone(),
        ));
        let frames = ReceiverStream::new(rx).map(|f| Ok(SyncFrame::from(f)));
        Ok(Response::new(Box::pin(frames)))
    }
}

/// An accepted connection: TLS established, its certificate named, its place in the counts
/// held, its read deadlines running (see [`crate::guard`]).
pub type Accepted = Guarded<tokio_rustls::server::TlsStream<TcpStream>>;

/// Accepts TCP connections and completes TLS handshakes in their own tasks (at most
/// [`HANDSHAKES`] at once, each within the handshake timeout), so a slow or refused peer never
/// holds up the others. Yields only established TLS streams whose certificate names one node
/// with a free connection place (see [`Gate`]).
pub fn tls_incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    gate: Arc<Gate>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> ReceiverStream<Result<Accepted, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES));
    let limits = gate.limits();
    let handshake = Duration::from_secs(limits.handshake_secs);
    let preface = Duration::from_secs(limits.preface_secs);
    let idle = Duration::from_secs(limits.idle_secs);
    tokio::spawn(async move {
        loop {
            let turn = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                turn = handshakes.clone().acquire_owned() => turn,
            };
            let Ok(turn) = turn else { break };
            let accepted = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, addr) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let slot = match gate.enter() {
                Ok(slot) => slot,
                Err(_) => {
                    metrics.refused(Refusal::TooManyConnections);
                    warn!(remote = %addr, open = gate.open(), "connection refused: the node has as many as it takes");
                    continue;
                }
            };
            // Frames are small and answered at once: no waiting to fill a segment (tonic's
            // own listener sets this; with our own TLS accept it is ours to set).
            if let Err(e) = tcp.set_nodelay(true) {
                warn!(remote = %addr, error = %e, "cannot turn off Nagle's algorithm");
            }
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        metrics.refused(Refusal::of_handshake(&e));
                        warn!(remote = %addr, reason = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        metrics.refused(Refusal::Handshake);
                        warn!(remote = %addr, "TLS handshake timed out");
                        return;
                    }
                };
                drop(turn);
                // The verifier has checked that the certificate names exactly one node.
                let name = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| tls::node_id_of(c).ok())
                    .unwrap_or_default();
                let slot = match slot.name(&name) {
                    Ok(slot) => slot,
                    Err(_) => {
                        metrics.refused(Refusal::TooManyConnections);
                        warn!(peer = %name, "connection refused: this certificate has as many open as one may");
                        return;
                    }
                };
                let guarded = Guarded::new(tls, slot, preface, idle, metrics);
                let _ = tx.send(Ok(guarded)).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

/// `host:port` of an endpoint written `https://host:port`.
pub fn endpoint_addr(endpoint: &str) -> Option<String> {
    let rest = endpoint.strip_prefix("https://")?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':')?;
    (!host.is_empty() && port.parse::<u16>().is_ok()).then(|| rest.to_owned())
}

/// Keeps a session open to `peer`, dialling its endpoint again after every failure with
/// exponential backoff (0.2 s doubling to 30 s) plus up to 50% jitter.
pub async fn dial_forever(
    peer: Peer,
    client: Arc<rustls::ClientConfig>,
    core: mpsc::Sender<Cmd>,
    cancel: CancellationToken,
    wake: Arc<Notify>,
    in_flight: usize,
    keyring: Option<SharedKeyring>,
) {
    let Some(addr) = peer.endpoint.as_deref().and_then(endpoint_addr) else {
        warn!(peer = %peer.id, "endpoint is not https://HOST:PORT; not dialling");
        return;
    };
    let mut backoff = Duration::from_millis(200);
    loop {
        let started = Instant::now();
        match dial_once(
            &peer.id,
            &addr,
            client.clone(),
            core.clone(),
            cancel.clone(),
            in_flight,
            keyring.clone(),
        )
        .await
        {
            Ok(()) => info!(peer = %peer.id, "connection to peer ended"),
            Err(e) => warn!(peer = %peer.id, error = %e, "cannot reach peer"),
        }
        if cancel.is_cancelled() {
            return;
        }
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(200);
        }
        let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = wake.notified() => {
                backoff = Duration::from_millis(200);
                continue;
            }
            () = tokio::time::sleep(backoff + Duration::from_millis(jitter)) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Opens a gRPC channel to `addr` over mutual TLS, checking that the server's certificate names
/// `peer`.
pub async fn connect(
    peer: &str,
    addr: &str,
    client: Arc<rustls::ClientConfig>,
) -> Result<Channel, Box<dyn std::error::Error + Send + Sync>> {
    let name = ServerName::try_from(peer.to_owned())?;
    let connector = TlsConnector::from(client);
    let target = addr.to_owned();
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20))
        .connect_with_connector(tower::service_fn(move |_| {
            let connector = connector.clone();
            let name = name.clone();
            let target = target.clone();
            async move {
                let tcp = TcpStream::connect(&target).await?;
                tcp.set_nodelay(true)?;
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await?;
    Ok(channel)
}

/// A `Federation` client with Hearth's message size limits.
pub fn federation_client(channel: Channel) -> FederationClient<Channel> {
    FederationClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

async fn dial_once(
    peer: &str,
    addr: &str,
    client: Arc<rustls::ClientConfig>,
    core: mpsc::Sender<Cmd>,
    cancel: CancellationToken,
    in_flight: usize,
    keyring: Option<SharedKeyring>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut client = federation_client(connect(peer, addr, client).await?);
    let (out, rx) = mpsc::channel(OUT_QUEUE);
    let conn = next_conn();
    core.send(Cmd::Connected {
        peer: peer.to_owned(),
        conn,
        out,
        dialled: true,
    })
    .await
    .map_err(|_| "the node is stopping")?;
    let frames = ReceiverStream::new(rx).map(SyncFrame::from);
    match client.sync(frames).await {
        Ok(response) => {
            pump(
                peer.to_owned(),
                conn,
                response.into_inner(),
                core,
                cancel,
                in_flight,
                keyring,
            )
            .await;
            Ok(())
        }
        Err(status) => {
            let _ = core
                .send(Cmd::Disconnected {
                    peer: peer.to_owned(),
                    conn,
                })
                .await;
            Err(format!("peer refused the sync stream: {}", status.message()).into())
        }
    }
}

/// Binds the listen address.
pub async fn bind(addr: &str) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_host_port() {
        assert_eq!(
            endpoint_addr("https://127.0.0.1:7400").as_deref(),
            Some("127.0.0.1:7400")
        );
        assert_eq!(
            endpoint_addr("https://branch.example:7400/").as_deref(),
            Some("branch.example:7400")
        );
        assert_eq!(endpoint_addr("http://127.0.0.1:7400"), None);
        assert_eq!(endpoint_addr("https://127.0.0.1"), None);
    }
}
