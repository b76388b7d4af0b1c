//! Offline bundle files: [`hearth_sync::bundle`]'s bundles, signed with the exporting node's key
//! and checked on import against the federation CA, the sender and the scope rule.
//!
//! A file is [`MAGIC`] followed by one protobuf `hearth.v1.BundleFile`: the encoded payload, the
//! signature over [`CONTEXT`] and the payload, and the signer's certificate chain. Nothing of a
//! file is applied unless all of it checks out.

use hearth_proto::v1::{BundleFile, BundlePayload};
use hearth_sync::{Bundle, BundleError, Imported, Replica, ReplicaError};
use prost::Message;

use crate::config::NodeConfig;
use crate::replica::StoreReplica;
use crate::tls::{Identity, SignatureError};

/// The first bytes of every bundle file ("HEARTHB", format 1).
pub const MAGIC: &[u8; 8] = b"HEARTHB\x01";
/// What the signature covers before the payload, so that it cannot be mistaken for another use
/// of the node's key.
pub const CONTEXT: &[u8] = b"hearth offline bundle v1\0";

/// Largest bundle file read or passed to a running node (1 GiB: about a million cases whole).
pub const MAX_FILE: usize = 1 << 30;

/// Why a bundle could not be made or was not applied. Nothing of it was.
#[derive(Debug, thiserror::Error)]
pub enum BundleFileError {
    /// Not a bundle file at all.
    #[error(
        "this is not a Hearth bundle file (it does not start with HEARTHB); check the file name"
    )]
    NotABundle,
    /// A bundle of a newer format.
    #[error("this bundle has format {0}; this Hearth reads format 1, upgrade it")]
    Format(u8),
    /// The bytes after the magic do not decode: cut short or damaged.
    #[error("the bundle is damaged or cut short ({0}); copy it again from the exporting node")]
    Damaged(String),
    /// The signature or certificate does not check out.
    #[error("the bundle is refused: {0}; nothing was applied")]
    Signature(#[from] SignatureError),
    /// The sender, or the node a bundle is for, is no neighbour.
    #[error("{0} is not a neighbour of this node; add it with `hearth peer add` first")]
    NotNeighbour(String),
    /// The content was refused.
    #[error(transparent)]
    Content(#[from] BundleError),
    /// Reading or writing the node's documents failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

/// A bundle made for a neighbour.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The file's bytes.
    pub file: Vec<u8>,
    /// Documents in it.
    pub documents: usize,
    /// The span of this node's feed it covers: (since, upto].
    pub since: u64,
    /// See `since`.
    pub upto: u64,
}

/// What importing a bundle did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The neighbour that made it.
    pub from: String,
    /// When, seconds since the Unix epoch.
    pub created_unix: i64,
    /// The changes.
    pub imported: Imported,
    /// Open conflicts before the import.
    pub conflicts_before: usize,
    /// Open conflicts after it.
    pub conflicts_after: usize,
}

/// Makes the signed bundle of everything `peer` is missing (or, with `full`, all it shares with
/// this node).
pub fn export(
    replica: &mut StoreReplica,
    identity: &Identity,
    config: &NodeConfig,
    peer: &str,
    full: bool,
) -> Result<Exported, BundleFileError> {
    if config.peer(peer).is_none() {
        return Err(BundleFileError::NotNeighbour(peer.to_owned()));
    }
    let bundle = hearth_sync::bundle::export(replica, peer, full)?;
    replica.trim();
    let created = hearth_archive::jiff::Timestamp::now().as_second();
    let payload = BundlePayload::of(&bundle, created).encode_to_vec();
    let (scheme, signature) = identity.sign(&signed_bytes(&payload))?;
    let file = BundleFile {
        payload,
        signature_scheme: u32::from(scheme),
        signature,
        certificate_chain: identity.chain_der(),
    };
    let mut bytes = MAGIC.to_vec();
    file.encode(&mut bytes)
        .map_err(|e| BundleFileError::Damaged(e.to_string()))?;
    Ok(Exported {
        file: bytes,
        documents: bundle.docs.len(),
        since: bundle.since,
        upto: bundle.upto,
    })
}

/// Checks a bundle file — format, signature, certificate from this federation's CA naming the
/// sender, sender a neighbour, then every document under the scope rule — and applies it in one
/// durable transaction. Importing the same bundle again changes nothing.
pub fn import(
    replica: &mut StoreReplica,
    identity: &Identity,
    config: &NodeConfig,
    bytes: &[u8],
) -> Result<ImportReport, BundleFileError> {
    let (bundle, created_unix) = open(identity, bytes)?;
    if bundle.to != config.node_id {
        return Err(BundleError::NotForUs {
            to: bundle.to,
            here: config.node_id.clone(),
        }
        .into());
    }
    if config.peer(&bundle.from).is_none() {
        return Err(BundleFileError::NotNeighbour(bundle.from.clone()));
    }
    // What is staged now goes first, so that the bundle's transaction holds only the bundle.
    replica.flush()?;
    let open_conflicts = |r: &StoreReplica| -> Result<usize, ReplicaError> {
        let stats = r.store().stats().map_err(|e| ReplicaError(e.to_string()))?;
        Ok(stats.open_conflicts as usize)
    };
    let conflicts_before = open_conflicts(replica)?;
    let imported = hearth_sync::bundle::import(replica, &bundle)?;
    replica.flush()?;
    Ok(ImportReport {
        from: bundle.from,
        created_unix,
        imported,
        conflicts_before,
        conflicts_after: open_conflicts(replica)?,
    })
}

/// Decodes and authenticates a bundle file: its content and when it was made.
pub fn open(identity: &Identity, bytes: &[u8]) -> Result<(Bundle, i64), BundleFileError> {
    let Some(rest) = bytes.strip_prefix(&MAGIC[..7]) else {
        return Err(BundleFileError::NotABundle);
    };
    match rest.split_first() {
        Some((1, _)) => {}
        Some((format, _)) => return Err(BundleFileError::Format(*format)),
        None => {
            return Err(BundleFileError::Damaged(
                "it ends after its first bytes".into(),
            ));
        }
    }
    let file =
        BundleFile::decode(&rest[1..]).map_err(|e| BundleFileError::Damaged(e.to_string()))?;
    let payload = BundlePayload::decode(file.payload.as_slice())
        .map_err(|e| BundleFileError::Damaged(e.to_string()))?;
    let scheme = u16::try_from(file.signature_scheme).map_err(|_| SignatureError::Mismatch)?;
    identity.verify(
        &file.certificate_chain,
        &payload.from,
        scheme,
        &signed_bytes(&file.payload),
        &file.signature,
    )?;
    let created = payload.created_unix;
    let bundle = Bundle::try_from(payload).map_err(|e| BundleFileError::Damaged(e.to_string()))?;
    Ok((bundle, created))
}

fn signed_bytes(payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CONTEXT.len() + payload.len());
    message.extend_from_slice(CONTEXT);
    message.extend_from_slice(payload);
    message
}
