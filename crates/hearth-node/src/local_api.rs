//! The local control API (`hearth.v1.Local`, with `hearth.v1.Archive` and the standard health
//! and reflection services) on a Unix socket in the data dir, with owner-only permissions: the
//! `hearth` command line on the same machine asks the running node through it.

use std::path::Path;
use std::time::UNIX_EPOCH;

use hearth_proto::v1::archive_server::ArchiveServer;
use hearth_proto::v1::local_server::{Local, LocalServer};
use hearth_proto::v1::{
    BackupReply, BackupRequest, CompactReply, CompactRequest, ExportBundleReply,
    ExportBundleRequest, ImportBundleReply, ImportBundleRequest, PeerStatus as PbPeer,
    SyncNowReply, SyncNowRequest, SyncStatusReply, SyncStatusRequest,
};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::error;

use crate::archive_api::{self, ArchiveService};
use crate::bundle::{self, BundleFileError};
use crate::standard;
use crate::{NodeError, NodeHandle};

/// Name of the socket inside the data dir.
pub const SOCKET_FILE: &str = "hearth.sock";

struct Service {
    node: NodeHandle,
}

fn unavailable(e: NodeError) -> Status {
    Status::unavailable(e.to_string())
}

/// A refused bundle is bad input (exit 2); a failing disk is not.
fn bundle_status(e: BundleFileError) -> Status {
    match e {
        BundleFileError::Replica(e) => Status::internal(e.to_string()),
        e => Status::invalid_argument(e.to_string()),
    }
}

#[tonic::async_trait]
impl Local for Service {
    async fn sync_status(
        &self,
        _: Request<SyncStatusRequest>,
    ) -> Result<Response<SyncStatusReply>, Status> {
        let peers = self.node.status().await.map_err(unavailable)?;
        let store = self.node.metrics().store();
        Ok(Response::new(SyncStatusReply {
            store_failing: store.failing.is_some(),
            store_problem: store.problem(),
            disk_free_bytes: store.free_bytes,
            node_id: self.node.node_id().to_owned(),
            peers: peers
                .into_iter()
                .map(|p| PbPeer {
                    id: p.id,
                    relation: p.relation.as_str().to_owned(),
                    connected: p.connected,
                    last_heard_unix_ms: p
                        .last_heard
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .and_then(|d| i64::try_from(d.as_millis()).ok()),
                    backlog: p.backlog,
                    frames_in: p.stats.frames_in,
                    frames_out: p.stats.frames_out,
                    bytes_in: p.stats.bytes_in,
                    bytes_out: p.stats.bytes_out,
                    docs_applied: p.stats.docs_applied,
                    refused_here: p.stats.refused_here,
                    refused_by_peer: p.stats.refused_by_peer,
                    refusals: p
                        .refusals
                        .iter()
                        .map(|r| hearth_proto::v1::DocRefusal {
                            doc_id: r.doc.clone(),
                            reason: r.reason.code().to_owned(),
                            message: r.message.clone(),
                        })
                        .collect(),
                    last_error: p.last_error,
                })
                .collect(),
        }))
    }

    async fn sync_now(
        &self,
        request: Request<SyncNowRequest>,
    ) -> Result<Response<SyncNowReply>, Status> {
        let peer = request.into_inner().peer;
        match self
            .node
            .sync_now(peer.as_deref())
            .await
            .map_err(unavailable)?
        {
            Some(peers) => Ok(Response::new(SyncNowReply { peers })),
            None => Err(Status::not_found(format!(
                "{} is not a neighbour of this node; `hearth peer list` shows them",
                peer.unwrap_or_default()
            ))),
        }
    }

    async fn compact(&self, _: Request<CompactRequest>) -> Result<Response<CompactReply>, Status> {
        let stats = self
            .node
            .local(|replica| replica.compact())
            .await
            .map_err(unavailable)?
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(CompactReply {
            folded_documents: stats.folded,
            chunks_removed: stats.chunks,
        }))
    }

    async fn export_bundle(
        &self,
        request: Request<ExportBundleRequest>,
    ) -> Result<Response<ExportBundleReply>, Status> {
        let ExportBundleRequest { for_node, full } = request.into_inner();
        let exported = self
            .node
            .export_bundle(&for_node, full)
            .await
            .map_err(unavailable)?
            .map_err(bundle_status)?;
        Ok(Response::new(ExportBundleReply {
            documents: exported.documents as u64,
            since: exported.since,
            upto: exported.upto,
            file: exported.file,
        }))
    }

    async fn import_bundle(
        &self,
        request: Request<ImportBundleRequest>,
    ) -> Result<Response<ImportBundleReply>, Status> {
        let file = request.into_inner().file;
        let report = self
            .node
            .import_bundle(file)
            .await
            .map_err(unavailable)?
            .map_err(bundle_status)?;
        Ok(Response::new(ImportBundleReply::from(report)))
    }

    async fn backup(
        &self,
        request: Request<BackupRequest>,
    ) -> Result<Response<BackupReply>, Status> {
        let out = request.into_inner().out;
        let path = std::path::PathBuf::from(&out);
        if !path.is_absolute() || path.exists() {
            return Err(Status::invalid_argument(format!(
                "{out} must be an absolute path to a file that does not exist yet"
            )));
        }
        let (bytes, documents) = self
            .node
            .local(move |replica| replica.backup_to(&path))
            .await
            .map_err(unavailable)?
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(BackupReply { bytes, documents }))
    }
}

impl From<bundle::ImportReport> for ImportBundleReply {
    fn from(r: bundle::ImportReport) -> Self {
        ImportBundleReply {
            from: r.from,
            created_unix: r.created_unix,
            added: r.imported.added,
            changed: r.imported.changed,
            unchanged: r.imported.unchanged as u64,
            checkpoint: r.imported.checkpoint,
            conflicts_before: r.conflicts_before as u64,
            conflicts_after: r.conflicts_after as u64,
        }
    }
}

/// Binds the socket (replacing a stale one), makes it owner-only, and serves the `Local` and
/// `Archive` services on it until `cancel`.
pub fn serve(
    socket: &Path,
    node: NodeHandle,
    archive: ArchiveService,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, NodeError> {
    let failed = |source| NodeError::Socket {
        path: socket.display().to_string(),
        source,
    };
    if socket.exists() {
        std::fs::remove_file(socket).map_err(failed)?;
    }
    let listener = UnixListener::bind(socket).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    }
    let path = socket.to_owned();
    let (reflection, reflection_v1alpha) = standard::reflection(standard::ON_SOCKET)?;
    Ok(tokio::spawn(async move {
        let health = standard::health(standard::ON_SOCKET).await;
        let served = tonic::transport::Server::builder()
            .add_service(health)
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .add_service(
                LocalServer::new(Service { node })
                    .max_decoding_message_size(bundle::MAX_FILE)
                    .max_encoding_message_size(bundle::MAX_FILE),
            )
            .add_service(
                ArchiveServer::new(archive).max_decoding_message_size(archive_api::MAX_REQUEST),
            )
            .serve_with_incoming_shutdown(UnixListenerStream::new(listener), cancel.cancelled())
            .await;
        if let Err(e) = served {
            error!(error = %e, "local API failed");
        }
        let _ = std::fs::remove_file(&path);
    }))
}
