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
use hearth_sync::Frame;
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
use crate::metrics::{Metrics, Refusal};
use crate::tls;

/// Frames queued for one connection before the peer counts as too slow.
pub const OUT_QUEUE: usize = 4096;
/// Largest gRPC message either way (a sync message carries at most one whole document).
pub const MAX_MESSAGE: usize = 16 << 20;
/// Time allowed for a TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

static CONN_IDS: AtomicU64 = AtomicU64::new(1);

fn next_conn() -> u64 {
    CONN_IDS.fetch_add(1, Ordering::Relaxed)
}

/// Forwards frames from a connection to the core until it ends, then reports the end.
async fn pump(
    peer: String,
    conn: u64,
    mut inbound: Streaming<SyncFrame>,
    core: mpsc::Sender<Cmd>,
    cancel: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            next = inbound.message() => next,
        };
        match next {
            Ok(Some(pb)) => match Frame::try_from(pb) {
                Ok(frame) => {
                    if core
                        .send(Cmd::Frame {
                            peer: peer.clone(),
                            conn,
                            frame,
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
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
}

impl FederationService {
    /// A service feeding `core`, for these neighbours.
    pub fn new(
        core: mpsc::Sender<Cmd>,
        neighbours: Vec<String>,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
    ) -> Self {
        FederationService {
            core,
            neighbours,
            metrics,
            cancel,
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
        ));
        let frames = ReceiverStream::new(rx).map(|f| Ok(SyncFrame::from(f)));
        Ok(Response::new(Box::pin(frames)))
    }
}

/// Accepts TCP connections and completes TLS handshakes in their own tasks, so a slow or
/// refused peer never holds up the others. Yields only established TLS streams.
pub fn tls_incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> ReceiverStream<Result<tokio_rustls::server::TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
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
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let metrics = metrics.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        metrics.refused(Refusal::of_handshake(&e));
                        warn!(remote = %addr, reason = %e, "TLS handshake refused");
                    }
                    Err(_) => {
                        metrics.refused(Refusal::Handshake);
                        warn!(remote = %addr, "TLS handshake timed out");
                    }
                }
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
            pump(peer.to_owned(), conn, response.into_inner(), core, cancel).await;
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
