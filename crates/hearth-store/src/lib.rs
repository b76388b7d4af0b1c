//! Hearth's embedded store: one redb file per node holding document snapshots, incremental change
//! chunks, the local feed sequence and the case listing indexes.
//!
//! - **Documents** are kept as a snapshot plus the change chunks written since; loading reads
//!   exactly one document (nothing is loaded when the store opens), and every
//!   [`COMPACT_AFTER`] chunks a write folds them into a new snapshot.
//! - **Feed**: every committed document update gets the next local sequence number; the feed
//!   keeps, per document, only its latest number, so "what changed since N" costs O(changed).
//! - **Durability**: a [`Batch`] is one redb write transaction committed with immediate
//!   durability; once [`Batch::commit`] returns, the write survives `kill -9` and power loss.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

mod derived;

use std::path::{Path, PathBuf};

use hearth_archive::automerge::ActorId;
use hearth_archive::automerge::ChangeHash;
use hearth_archive::conflict::{QueueEntry, Resolution};
use hearth_archive::listing::Sort;
use hearth_archive::summary::Totals;
use hearth_archive::{ArchiveError, Case, CaseSummary, Document, Record};

use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata, TableDefinition, WriteTransaction,
};

/// The most memory the store keeps pages of the file in (redb's own default is 1 GiB, which a
/// node of a million cases fills): the node's memory stays bounded whatever the archive's size.
pub const CACHE_BYTES: usize = 128 << 20;

/// How the store's file is opened.
fn database() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder
}

/// Version of the on-disk layout written by this code.
pub const FORMAT: u64 = 1;
/// A document's change chunks are folded into its snapshot once there are this many.
pub const COMPACT_AFTER: u64 = 32;

/// Format version, counters and the incarnation bytes.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Document id → latest snapshot.
const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
/// (document id, chunk number) → change chunk written after the snapshot.
const CHUNKS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("chunks");
/// Document id → (latest feed sequence, next chunk number, chunks since the snapshot).
const DOCS: TableDefinition<&str, (u64, u64, u64)> = TableDefinition::new("docs");
/// Feed sequence → document id; one entry per document, its latest.
const FEED: TableDefinition<u64, &str> = TableDefinition::new("feed");
/// Case id → listing summary (JSON of [`CaseSummary`]).
pub(crate) const CASE_INDEX: TableDefinition<&str, &str> = TableDefinition::new("case_index");
/// Identity key → case ids with that key (one household should have one file).
const IDENTITY: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("identity");
/// Document id → hash of its heads (see `hearth_archive::heads_hash`), for reconciliation.
const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
/// Peer node id → (peer's feed epoch, last sequence of the peer's feed applied here).
const PEERS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("peers");
/// Conflict id → queue entry (JSON of [`QueueEntry`]), open or resolved.
const CONFLICTS: TableDefinition<&str, &str> = TableDefinition::new("conflicts");
/// Case id → ids of its open conflicts.
const OPEN_CONFLICTS: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("open_conflicts");
/// (peer node id, document id) → encoded Automerge sync state.
const SYNC_STATES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("sync_states");
/// Peer id → how far that peer has applied this node's feed (where a bundle for it starts).
const PEERS_HAVE: TableDefinition<&str, u64> = TableDefinition::new("peers_have");
/// Request key of a keyed write (made by whoever asked for it) → the document it wrote, kept in
/// the write's own transaction: a retry with the same key is answered from here and writes
/// nothing.
const REQUESTS: TableDefinition<&str, &str> = TableDefinition::new("requests");
/// Document id → the signatures kept for it (DESIGN §4a: the newest of each author's, encoded
/// as `hearth_archive::signed::SigSet`).
const SIGNATURES: TableDefinition<&str, &[u8]> = TableDefinition::new("signatures");
/// SHA-256 of a certificate chain → the chain: other nodes' certificates this node checked,
/// kept so that it can pass them on with what it relays.
const CERTIFICATES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("certificates");
/// Account name → the account of a person at this node (the console's people), as the caller
/// encodes it. Accounts are this node's own: they never sync.
const ACCOUNTS: TableDefinition<&str, &str> = TableDefinition::new("accounts");
/// Sequence → an entry of the node's access log (who opened which case file, as the caller
/// encodes it): the node's own, never synced; the oldest go past [`MAX_ACCESS_LOG`].
const ACCESS_LOG: TableDefinition<u64, &str> = TableDefinition::new("access_log");

/// Entries the access log keeps; the oldest go first.
pub const MAX_ACCESS_LOG: u64 = 1_000_000;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process has the database open.
    #[error(
        "the store {0} is in use by another hearth process; wait for it to finish or stop it, then try again"
    )]
    Locked(PathBuf),
    /// There is no database file.
    #[error("no store at {0}")]
    Missing(PathBuf),
    /// The database file already exists.
    #[error("a store already exists at {0}")]
    Exists(PathBuf),
    /// The database file does not open (damaged beyond what a read can tell, or not a store).
    #[error(
        "the store {path} cannot be opened ({reason}); if it is damaged, put a backup in its place with `hearth restore --from FILE` (the damaged file is kept beside it)"
    )]
    Unopenable {
        /// Database file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },
    /// The store is closed after a failure and could not be opened again yet.
    #[error(
        "the store {0} is closed after a storage failure and could not be opened again yet (is the disk full?); free space, and the node opens it again by itself"
    )]
    Closed(PathBuf),
    /// The file was written by a newer Hearth.
    #[error(
        "the store {path} has format {found}, newer than this hearth ({FORMAT}); upgrade hearth"
    )]
    Format {
        /// Database file.
        path: PathBuf,
        /// Format found.
        found: u64,
    },
    /// No case with that id (or id prefix).
    #[error("no case {0:?} at this node; `hearth case list` shows the cases it holds")]
    NotFound(String),
    /// An id prefix that matches several cases.
    #[error("case id {0:?} matches several cases; give more of the id")]
    Ambiguous(String),
    /// A stored document or index entry that cannot be read back.
    #[error(
        "stored data of {id} is damaged: {reason}; `hearth check` lists what is damaged, `hearth check --repair` fetches it again from neighbours (or restore the data dir from a backup)"
    )]
    Corrupt {
        /// Document id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The archive model refused a document.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// redb failed (disk full, IO error, …).
    #[error("storage failed: {0}")]
    Storage(#[from] redb::Error),
    /// A file beside the store (a backup) could not be written.
    #[error("cannot write the copy: {0}")]
    Io(#[from] std::io::Error),
}

macro_rules! from_redb {
    ($($t:ty),+) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Storage(e.into()) }
        }
    )+};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactStats {
    /// Documents whose chunks were folded into a snapshot.
    pub folded: u64,
    /// Change chunks removed.
    pub chunks: u64,
}

/// Counts of what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Documents.
    pub documents: u64,
    /// Change chunks not yet folded into snapshots.
    pub chunks: u64,
    /// Latest feed sequence.
    pub last_seq: u64,
    /// Cases held (every document but records).
    pub cases: u64,
    /// Conflicts open in the queue.
    pub open_conflicts: u64,
}

/// What [`Store::check`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckReport {
    /// Documents read.
    pub documents: u64,
    /// Listing index entries read.
    pub index_entries: u64,
    /// What is damaged: (document id, what is wrong), each document once.
    pub damaged: Vec<(String, String)>,
    /// How the indexes derived from the listing index (the listing orders and the totals)
    /// differ from it, if they do: [`Store::rebuild_indexes`] mends them.
    pub derived: Option<String>,
}

/// One node's database.
#[derive(Debug)]
pub struct Store {
    /// `None` only while [`Store::reopen`] failed: every use is then an error until it succeeds.
    db: Option<Database>,
    path: PathBuf,
    incarnation: Vec<u8>,
}

impl Store {
    /// Creates a new store file; `incarnation` is a few random bytes that make this data dir's
    /// Automerge actor ids unique (see [`hearth_archive::actor_id`]).
    pub fn create(path: &Path, incarnation: &[u8]) -> Result<Store> {
        if path.exists() {
            return Err(StoreError::Exists(path.to_owned()));
        }
        let db = database().create(path).map_err(|e| open_error(path, e))?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert("format", FORMAT.to_be_bytes().as_slice())?;
            meta.insert("incarnation", incarnation)?;
            meta.insert("next_seq", 1u64.to_be_bytes().as_slice())?;
            txn.open_table(SNAPSHOTS)?;
            txn.open_table(CHUNKS)?;
            txn.open_table(DOCS)?;
            txn.open_table(FEED)?;
            txn.open_table(CASE_INDEX)?;
            txn.open_multimap_table(IDENTITY)?;
            txn.open_table(HEADS)?;
            txn.open_table(PEERS)?;
            txn.open_table(SYNC_STATES)?;
            txn.open_table(PEERS_HAVE)?;
        }
        derived::rebuild(&txn, this_year())?;
        txn.commit()?;
        Ok(Store {
            db: Some(db),
            path: path.to_owned(),
            incarnation: incarnation.to_vec(),
        })
    }

    /// Opens an existing store. Reads no documents.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        guarded(&path.display().to_string(), || Store::open_inner(path))
    }

    fn open_inner(path: &Path) -> Result<Store> {
        let db = database().open(path).map_err(|e| open_error(path, e))?;
        let txn = db.begin_read()?;
        let meta = txn.open_table(META)?;
        let format = read_u64(&meta, "format")?.unwrap_or(0);
        if format != FORMAT {
            return Err(StoreError::Format {
                path: path.to_owned(),
                found: format,
            });
        }
        let incarnation = meta
            .get("incarnation")?
            .map(|g| g.value().to_vec())
            .unwrap_or_default();
        let to_build = derived::to_build(&meta, this_year())?;
        drop(meta);
        drop(txn);
        // Written before the derived indexes: built once from the listing index; opened in a
        // new year: that year counted once.
        if to_build != derived::ToBuild::Nothing {
            let txn = db.begin_write()?;
            match to_build {
                derived::ToBuild::All => derived::rebuild(&txn, this_year())?,
                _ => derived::recount(&txn, this_year())?,
            }
            txn.commit()?;
        }
        Ok(Store {
            db: Some(db),
            path: path.to_owned(),
            incarnation,
        })
    }

    /// Writes a consistent copy of the store to `out` (a new file), while the store stays open:
    /// the copy is taken between transactions (the caller holds the only handle, so none is
    /// under way), written to a temporary file beside `out`, synced, checked by opening it, and
    /// only then renamed into place. Returns its size in bytes.
    pub fn backup_to(&mut self, out: &Path) -> Result<u64> {
        use std::io::Write as _;
        let folder = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&folder)?;
        let mut source = std::fs::File::open(&self.path)?;
        let bytes = std::io::copy(&mut source, tmp.as_file_mut())?;
        tmp.as_file_mut().flush()?;
        tmp.as_file().sync_all()?;
        let copy = Store::open(tmp.path())?;
        if copy.stats()?.documents != self.stats()?.documents {
            return Err(StoreError::Corrupt {
                id: out.display().to_string(),
                reason: "the copy does not hold every document; try again".into(),
            });
        }
        // Every document of the copy is read back and checked: a backup of damaged data would
        // only carry the damage.
        let report = copy.check()?;
        if let Some((id, why)) = report.damaged.first() {
            let more = match report.damaged.len() - 1 {
                0 => String::new(),
                n => format!(" ({n} more documents are damaged)"),
            };
            return Err(StoreError::Corrupt {
                id: id.clone(),
                reason: format!("{why}{more}; no backup was written"),
            });
        }
        drop(copy);
        tmp.persist_noclobber(out)
            .map_err(|e| StoreError::Io(e.error))?;
        Ok(bytes)
    }

    /// The open database, unless it is closed after a failure (see [`Store::reopen`]).
    fn db(&self) -> Result<&Database> {
        self.db
            .as_ref()
            .ok_or_else(|| StoreError::Closed(self.path.clone()))
    }

    /// Closes the database and opens it again: after a failed commit (a full disk, say) redb
    /// refuses every further use of the handle until it is reopened. While the file cannot be
    /// opened again the store stays closed, every use an error, and this may be called again.
    pub fn reopen(&mut self) -> Result<()> {
        self.db = None;
        let db = database()
            .open(&self.path)
            .map_err(|e| open_error(&self.path, e))?;
        self.db = Some(db);
        Ok(())
    }

    /// Tries a write that needs room (a megabyte, taken out again in the same transaction):
    /// after a failed commit, whether writes can succeed again. Changes nothing.
    pub fn probe(&mut self) -> Result<()> {
        let txn = self.db()?.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert("probe", vec![0u8; 1 << 20].as_slice())?;
            meta.remove("probe")?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Gives a store restored from a backup a new incarnation: a new feed epoch (so neighbours
    /// reconcile with it instead of trusting checkpoints of a feed it no longer has) and new
    /// Automerge actor ids (so it never reuses a change number it gave out after the backup).
    /// What neighbours were known to have of the old feed is forgotten.
    pub fn reincarnate(&mut self, incarnation: &[u8]) -> Result<()> {
        let txn = self.db()?.begin_write()?;
        txn.open_table(META)?.insert("incarnation", incarnation)?;
        txn.delete_table(PEERS_HAVE)?;
        txn.commit()?;
        self.incarnation = incarnation.to_vec();
        Ok(())
    }

    /// Records the newest document schemas this code reads (`schemas`, growing with each
    /// release that adds one). When they are newer than the ones recorded, the checkpoints of
    /// the neighbours' feeds are dropped, so that the next session with each reconciles by
    /// digest and pulls the documents this node refused as too new before its upgrade. Returns
    /// whether it did.
    pub fn note_schemas(&mut self, schemas: u64) -> Result<bool> {
        let txn = self.db()?.begin_write()?;
        let seen = read_u64(&txn.open_table(META)?, "schemas")?;
        if seen == Some(schemas) {
            return Ok(false);
        }
        txn.open_table(META)?
            .insert("schemas", schemas.to_be_bytes().as_slice())?;
        // A store that recorded none has reconciled under the schemas it was made with.
        let newer = seen.is_some_and(|seen| seen < schemas);
        if newer {
            txn.open_table(PEERS)?.retain(|_, _| false)?;
        }
        txn.commit()?;
        Ok(newer)
    }

    /// Binds the store to the node it belongs to: the first time, records `node_id` and the
    /// federation salt's fingerprint; afterwards, returns what it recorded if either differs
    /// (`None` when both match), so that a config or salt file changed under a store is noticed
    /// before anything is written with the wrong identity.
    pub fn bind_identity(
        &mut self,
        node_id: &str,
        salt_fingerprint: &str,
    ) -> Result<Option<(String, String)>> {
        let read = |meta: &redb::ReadOnlyTable<&str, &[u8]>, key: &str| -> Result<Option<String>> {
            Ok(meta
                .get(key)?
                .map(|g| String::from_utf8_lossy(g.value()).into_owned()))
        };
        {
            let txn = self.db()?.begin_read()?;
            let meta = txn.open_table(META)?;
            if let (Some(node), Some(salt)) = (read(&meta, "node_id")?, read(&meta, "salt")?) {
                return Ok((node != node_id || salt != salt_fingerprint).then_some((node, salt)));
            }
        }
        let txn = self.db()?.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert("node_id", node_id.as_bytes())?;
            meta.insert("salt", salt_fingerprint.as_bytes())?;
        }
        derived::keep_home_only(&txn, node_id)?;
        txn.commit()?;
        Ok(None)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This data dir's incarnation bytes.
    pub fn incarnation(&self) -> &[u8] {
        &self.incarnation
    }

    /// The epoch of this store's feed: its incarnation as a number. A recreated data dir has a
    /// new one, which invalidates every peer's checkpoint of the old feed.
    pub fn feed_epoch(&self) -> u64 {
        let mut bytes = [0u8; 8];
        for (b, i) in bytes.iter_mut().zip(&self.incarnation) {
            *b = *i;
        }
        u64::from_be_bytes(bytes)
    }

    /// Ids of every document, in order.
    pub fn doc_ids(&self) -> Result<Vec<String>> {
        guarded("the list of documents", || {
            let txn = self.db()?.begin_read()?;
            let docs = txn.open_table(DOCS)?;
            docs.iter()?
                .map(|entry| Ok(entry?.0.value().to_owned()))
                .collect()
        })
    }

    /// Hash of a document's heads, as of its last write.
    pub fn heads_hash(&self, id: &str) -> Result<Option<[u8; 32]>> {
        let txn = self.db()?.begin_read()?;
        let heads = txn.open_table(HEADS)?;
        Ok(heads.get(id)?.and_then(|g| g.value().try_into().ok()))
    }

    /// How far this node has applied `peer`'s feed: (peer's feed epoch, sequence).
    pub fn peer_checkpoint(&self, peer: &str) -> Result<Option<(u64, u64)>> {
        let txn = self.db()?.begin_read()?;
        let peers = txn.open_table(PEERS)?;
        Ok(peers.get(peer)?.map(|g| g.value()))
    }

    /// How far `peer` has applied this node's feed, as last confirmed.
    pub fn peer_has(&self, peer: &str) -> Result<Option<u64>> {
        let txn = self.db()?.begin_read()?;
        // Stores made before bundles existed have no such table yet: nothing confirmed.
        let table = match txn.open_table(PEERS_HAVE) {
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            table => table?,
        };
        Ok(table.get(peer)?.map(|g| g.value()))
    }

    /// The signatures kept for a document (none for a document stored before signatures, or
    /// one only this node wrote and has not sent yet).
    pub fn signatures(&self, doc: &str) -> Result<hearth_archive::signed::SigSet> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(SIGNATURES) {
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Default::default()),
            table => table?,
        };
        match table.get(doc)? {
            None => Ok(Default::default()),
            Some(bytes) => hearth_archive::signed::SigSet::decode(bytes.value()).map_err(|e| {
                StoreError::Corrupt {
                    id: doc.to_owned(),
                    reason: e.to_string(),
                }
            }),
        }
    }

    /// Every certificate chain kept (encoded as the caller stored it).
    pub fn certificates(&self) -> Result<Vec<Vec<u8>>> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(CERTIFICATES) {
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            table => table?,
        };
        table
            .iter()?
            .map(|entry| Ok(entry?.1.value().to_vec()))
            .collect()
    }

    /// Every account kept, by name (encoded as the caller stored it).
    pub fn accounts(&self) -> Result<Vec<(String, String)>> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(ACCOUNTS) {
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            table => table?,
        };
        table
            .iter()?
            .map(|entry| {
                let (k, v) = entry?;
                Ok((k.value().to_owned(), v.value().to_owned()))
            })
            .collect()
    }

    /// One account, by name.
    pub fn account(&self, name: &str) -> Result<Option<String>> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(ACCOUNTS) {
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            table => table?,
        };
        Ok(table.get(name)?.map(|g| g.value().to_owned()))
    }

    /// The access log, newest first: at most `limit` entries older than sequence `before`
    /// (from the newest when `None`), each with its sequence.
    pub fn access_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, String)>> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(ACCESS_LOG) {
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            table => table?,
        };
        table
            .range(..before.unwrap_or(u64::MAX))?
            .rev()
            .take(limit)
            .map(|entry| {
                let (k, v) = entry?;
                Ok((k.value(), v.value().to_owned()))
            })
            .collect()
    }

    /// The document a write with request key `key` wrote, if one was made here.
    pub fn request(&self, key: &str) -> Result<Option<String>> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(REQUESTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(key)?.map(|g| g.value().to_owned()))
    }

    /// The persisted Automerge sync state of a document with a peer.
    pub fn sync_state(&self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db()?.begin_read()?;
        let states = txn.open_table(SYNC_STATES)?;
        Ok(states.get((peer, doc))?.map(|g| g.value().to_vec()))
    }

    /// Loads one case, writing as `actor` from now on.
    pub fn load_case(&self, id: &str, actor: ActorId) -> Result<Case> {
        match self.load_doc(id, actor)? {
            Some(Document::Case(case)) => Ok(case),
            Some(Document::Record(_)) | None => Err(StoreError::NotFound(id.to_owned())),
        }
    }

    /// Loads any document (case or record), writing as `actor` from now on; `None` if not held.
    ///
    /// What is read is checked against what was recorded when it was written: the number of
    /// change chunks, and the hash of the heads the document had. A document that does not
    /// match, or that the storage code cannot read at all, is [`StoreError::Corrupt`] — never
    /// a part of it.
    pub fn load_doc(&self, id: &str, actor: ActorId) -> Result<Option<Document>> {
        guarded(id, || {
            let txn = self.db()?.begin_read()?;
            load_checked(&txn, id, actor)
        })
    }

    /// The full id of the one case whose id starts with `prefix`.
    pub fn resolve_case_id(&self, prefix: &str) -> Result<String> {
        let prefix = prefix.trim();
        if prefix.is_empty() {
            return Err(StoreError::NotFound(prefix.to_owned()));
        }
        let txn = self.db()?.begin_read()?;
        let index = txn.open_table(CASE_INDEX)?;
        let mut hits = Vec::new();
        for entry in index.range(prefix..)? {
            let (key, _) = entry?;
            let key = key.value();
            if !key.starts_with(prefix) || hits.len() == 2 {
                break;
            }
            hits.push(key.to_owned());
        }
        match hits.len() {
            0 => Err(StoreError::NotFound(prefix.to_owned())),
            1 => Ok(hits.remove(0)),
            _ if hits[0] == prefix => Ok(hits.remove(0)),
            _ => Err(StoreError::Ambiguous(prefix.to_owned())),
        }
    }

    /// Every conflict in the queue, open and resolved, newest first.
    pub fn conflicts(&self) -> Result<Vec<QueueEntry>> {
        guarded("the conflict queue", || {
            let txn = self.db()?.begin_read()?;
            let queue = match txn.open_table(CONFLICTS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let mut out: Vec<QueueEntry> = queue
                .iter()?
                .map(|entry| {
                    let (id, json) = entry?;
                    parse_entry(id.value(), json.value())
                })
                .collect::<Result<_>>()?;
            out.sort_by(|a, b| (b.since, &b.id).cmp(&(a.since, &a.id)));
            Ok(out)
        })
    }

    /// The listing summaries of every case, in id order, without loading any document.
    pub fn case_summaries(&self) -> Result<Vec<CaseSummary>> {
        guarded("the listing index", || {
            let txn = self.db()?.begin_read()?;
            let index = txn.open_table(CASE_INDEX)?;
            index
                .iter()?
                .map(|entry| {
                    let (id, json) = entry?;
                    parse_summary(id.value(), json.value())
                })
                .collect()
        })
    }

    /// Ids of the cases filed under an identity key.
    pub fn cases_with_identity(&self, identity_key: &str) -> Result<Vec<String>> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_multimap_table(IDENTITY)?;
        table
            .get(identity_key)?
            .map(|v| Ok(v?.value().to_owned()))
            .collect()
    }

    /// Documents updated after feed sequence `since`, oldest first, each once with its latest
    /// sequence.
    pub fn changes_since(&self, since: u64) -> Result<Vec<(u64, String)>> {
        self.changes_since_limit(since, usize::MAX)
    }

    /// Like [`Store::changes_since`], at most `limit` entries.
    pub fn changes_since_limit(&self, since: u64, limit: usize) -> Result<Vec<(u64, String)>> {
        let txn = self.db()?.begin_read()?;
        let feed = txn.open_table(FEED)?;
        feed.range(since.saturating_add(1)..)?
            .take(limit)
            .map(|entry| {
                let (seq, id) = entry?;
                Ok((seq.value(), id.value().to_owned()))
            })
            .collect()
    }

    /// The next feed sequence a write will get.
    pub fn next_seq(&self) -> Result<u64> {
        let txn = self.db()?.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(read_u64(&meta, "next_seq")?.unwrap_or(1))
    }

    /// The listing summary of one case.
    pub fn case_summary(&self, id: &str) -> Result<Option<CaseSummary>> {
        guarded(id, || {
            let txn = self.db()?.begin_read()?;
            let index = txn.open_table(CASE_INDEX)?;
            match index.get(id)? {
                Some(json) => Ok(Some(parse_summary(id, json.value())?)),
                None => Ok(None),
            }
        })
    }

    /// The totals of the cases whose home is `home` for `year`, as kept with every write;
    /// `None` when the year is not kept counted (see [`Store::count_year`]).
    pub fn totals(&self, home: &str, year: i16) -> Result<Option<Totals>> {
        guarded("the totals", || {
            let txn = self.db()?.begin_read()?;
            let meta = txn.open_table(META)?;
            let table = match txn.open_table(derived::TOTALS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            derived::totals(&meta, &table, home, year)
        })
    }

    /// Keeps `year` counted from now on (counted once from the listing index): a node running
    /// into a new year. The oldest year kept is dropped past three.
    pub fn count_year(&mut self, year: i16) -> Result<()> {
        let txn = self.db()?.begin_write()?;
        derived::recount(&txn, year)?;
        txn.commit()?;
        Ok(())
    }

    /// Whether `year` is kept counted (see [`Store::totals`]).
    pub fn counts_year(&self, year: i16) -> Result<bool> {
        let txn = self.db()?.begin_read()?;
        Ok(derived::years(&txn.open_table(META)?)?.contains(&year))
    }

    /// Builds the listing orders and the totals afresh from the listing index (what
    /// `hearth check --repair` does when [`CheckReport::derived`] says they differ).
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        let txn = self.db()?.begin_write()?;
        derived::rebuild(&txn, this_year())?;
        txn.commit()?;
        Ok(())
    }

    /// The cases in the listing order `sort`, from the first whose key comes after `after`
    /// (from the first of all when `None`), each with its key, until `visit` says stop (returns
    /// false). Reads only as far as it goes.
    pub fn cases_in_order(
        &self,
        sort: Sort,
        after: Option<&str>,
        visit: &mut dyn FnMut(&str, CaseSummary) -> bool,
    ) -> Result<()> {
        use std::ops::Bound;
        guarded("the listing index", || {
            let txn = self.db()?.begin_read()?;
            let order = txn.open_table(derived::ORDER)?;
            let index = txn.open_table(CASE_INDEX)?;
            let (first, end) = derived::order_range(sort);
            let prefix = first.len();
            let start = match after {
                Some(key) => Bound::Excluded(format!("{first}{key}")),
                None => Bound::Included(first),
            };
            let start = match &start {
                Bound::Excluded(k) => Bound::Excluded(k.as_str()),
                Bound::Included(k) => Bound::Included(k.as_str()),
                Bound::Unbounded => Bound::Unbounded,
            };
            for entry in order.range::<&str>((start, Bound::Excluded(end.as_str())))? {
                let (key, _) = entry?;
                let key = key.value();
                let id = derived::id_of_key(key);
                // A key left behind by a damaged store: `hearth check` finds it.
                let Some(json) = index.get(id)? else {
                    continue;
                };
                if !visit(&key[prefix..], parse_summary(id, json.value())?) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Counts of documents, pending chunks and the latest feed sequence.
    pub fn stats(&self) -> Result<StoreStats> {
        guarded("the store's counts", || {
            let txn = self.db()?.begin_read()?;
            let docs = txn.open_table(DOCS)?;
            let chunks = txn.open_table(CHUNKS)?;
            let feed = txn.open_table(FEED)?;
            let cases = txn.open_table(CASE_INDEX)?.len()?;
            let open_conflicts = match txn.open_multimap_table(OPEN_CONFLICTS) {
                Err(redb::TableError::TableDoesNotExist(_)) => 0,
                table => {
                    let mut ids = std::collections::HashSet::new();
                    for entry in table?.iter()? {
                        for cid in entry?.1 {
                            ids.insert(cid?.value().to_owned());
                        }
                    }
                    ids.len() as u64
                }
            };
            Ok(StoreStats {
                documents: docs.len()?,
                chunks: chunks.len()?,
                last_seq: feed.last()?.map(|(k, _)| k.value()).unwrap_or(0),
                cases,
                open_conflicts,
            })
        })
    }

    /// Reads every document and listing index entry and checks each against what was recorded
    /// when it was written (see [`Store::load_doc`]); the feed and the index against the
    /// documents. Changes nothing. Fails only if the store cannot be read at all.
    pub fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut damaged = std::collections::BTreeMap::new();
        let ids = guarded("the list of documents", || {
            let txn = self.db()?.begin_read()?;
            let mut ids = std::collections::BTreeSet::new();
            for entry in txn.open_table(DOCS)?.iter()? {
                ids.insert(entry?.0.value().to_owned());
            }
            for entry in txn.open_table(SNAPSHOTS)?.iter()? {
                ids.insert(entry?.0.value().to_owned());
            }
            Ok(ids)
        })?;
        let actor = hearth_archive::actor_id("check", &self.incarnation);
        for id in &ids {
            report.documents += 1;
            let checked = guarded(id, || {
                let txn = self.db()?.begin_read()?;
                let Some(mut doc) = load_checked(&txn, id, actor.clone())? else {
                    return Ok(());
                };
                let Some(case) = doc.as_case() else {
                    return Ok(());
                };
                let view = case.view().map_err(StoreError::Archive)?;
                let Some(json) = txn.open_table(CASE_INDEX)?.get(id.as_str())? else {
                    return Err(StoreError::Corrupt {
                        id: id.clone(),
                        reason: "it is missing from the listing index".into(),
                    });
                };
                let listed = parse_summary(id, json.value())?;
                let now = CaseSummary::of(&view);
                let same = (
                    &listed.home,
                    &listed.name,
                    listed.status,
                    &listed.identity_key,
                ) == (&now.home, &now.name, now.status, &now.identity_key);
                if same {
                    Ok(())
                } else {
                    Err(StoreError::Corrupt {
                        id: id.clone(),
                        reason: "its listing index entry says other than the document".into(),
                    })
                }
            });
            if let Err(e) = checked {
                damaged.insert(id.clone(), reason_of(e));
            }
        }
        let index = guarded("the listing index", || {
            let txn = self.db()?.begin_read()?;
            let mut out = Vec::new();
            for entry in txn.open_table(CASE_INDEX)?.iter()? {
                let (id, json) = entry?;
                let id = id.value().to_owned();
                let parsed = parse_summary(&id, json.value()).map(|_| ());
                out.push((id, parsed));
            }
            Ok(out)
        })?;
        for (id, parsed) in index {
            report.index_entries += 1;
            if let Err(e) = parsed {
                damaged.entry(id).or_insert_with(|| reason_of(e));
            } else if !ids.contains(&id) {
                damaged.insert(id, "it is in the listing index but not stored".into());
            }
        }
        let feed = guarded("the feed", || {
            let txn = self.db()?.begin_read()?;
            let docs = txn.open_table(DOCS)?;
            let mut wrong = Vec::new();
            for entry in txn.open_table(FEED)?.iter()? {
                let (seq, id) = entry?;
                let id = id.value().to_owned();
                if docs.get(id.as_str())?.map(|g| g.value().0) != Some(seq.value()) {
                    wrong.push(id);
                }
            }
            Ok(wrong)
        })?;
        for id in feed {
            damaged
                .entry(id)
                .or_insert_with(|| "its feed entry does not match it".into());
        }
        report.damaged = damaged.into_iter().collect();
        report.derived = guarded("the derived indexes", || {
            derived::differences(&self.db()?.begin_read()?)
        })?;
        Ok(report)
    }

    /// Takes damaged documents out of the store so that they can be fetched whole again from
    /// neighbours that hold them: their data, listing, feed entry, sync states and signatures
    /// go, and every neighbour's checkpoint is forgotten (the next session reconciles by
    /// digest, which pulls what is missing here). Keep their bytes first
    /// ([`Store::stored_bytes`]).
    pub fn remove_damaged(&mut self, ids: &[String]) -> Result<()> {
        let txn = self.db()?.begin_write()?;
        {
            let mut snapshots = txn.open_table(SNAPSHOTS)?;
            let mut chunks = txn.open_table(CHUNKS)?;
            let mut docs = txn.open_table(DOCS)?;
            let mut feed = txn.open_table(FEED)?;
            let mut heads = txn.open_table(HEADS)?;
            let mut index = txn.open_table(CASE_INDEX)?;
            let mut identity = txn.open_multimap_table(IDENTITY)?;
            let mut states = txn.open_table(SYNC_STATES)?;
            let mut sigs = txn.open_table(SIGNATURES)?;
            for id in ids {
                let id = id.as_str();
                snapshots.remove(id)?;
                chunks.retain_in((id, 0)..=(id, u64::MAX), |_, _| false)?;
                let seq = docs.remove(id)?.map(|g| g.value().0);
                if let Some(seq) = seq {
                    feed.remove(seq)?;
                }
                feed.retain(|_, doc| doc != id)?;
                heads.remove(id)?;
                index.remove(id)?;
                let mut keys = Vec::new();
                for entry in identity.iter()? {
                    let (key, cases) = entry?;
                    if cases.flatten().any(|c| c.value() == id) {
                        keys.push(key.value().to_owned());
                    }
                }
                for key in keys {
                    identity.remove(key.as_str(), id)?;
                }
                states.retain(|(_, doc), _| doc != id)?;
                sigs.remove(id)?;
            }
            txn.open_table(PEERS)?.retain(|_, _| false)?;
        }
        derived::rebuild(&txn, this_year())?;
        txn.commit()?;
        Ok(())
    }

    /// A document's bytes as stored (snapshot, then change chunks), unchecked: what a damaged
    /// document is kept aside as.
    pub fn stored_bytes(&self, id: &str) -> Result<Vec<u8>> {
        guarded(id, || {
            let txn = self.db()?.begin_read()?;
            let snapshots = txn.open_table(SNAPSHOTS)?;
            let chunks = txn.open_table(CHUNKS)?;
            Ok(read_doc(&snapshots, &chunks, id)?.unwrap_or_default())
        })
    }

    /// Starts a write. Nothing of it is visible or durable until [`Batch::commit`].
    pub fn begin(&self) -> Result<Batch> {
        Ok(Batch {
            txn: self.db()?.begin_write()?,
            policy: None,
            conflicts_changed: std::cell::Cell::new(false),
        })
    }

    /// Folds every document's change chunks into its snapshot, then gives freed pages back to
    /// the file system.
    pub fn compact(&mut self) -> Result<CompactStats> {
        let mut stats = CompactStats::default();
        let txn = self.db()?.begin_write()?;
        {
            let docs = txn.open_table(DOCS)?;
            let pending: Vec<String> = docs
                .iter()?
                .filter_map(|entry| match entry {
                    Ok((id, meta)) if meta.value().2 > 0 => Some(Ok(id.value().to_owned())),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<_, _>>()?;
            drop(docs);
            for id in pending {
                stats.chunks += fold(&txn, &id, None)?;
                stats.folded += 1;
            }
        }
        txn.commit()?;
        let path = self.path.clone();
        let db = self.db.as_mut().ok_or(StoreError::Closed(path))?;
        while db.compact()? {}
        Ok(stats)
    }
}

/// A document the store holds: a case (indexed for listing, the one-file check and the
/// conflict queue) or a record.
pub trait Stored {
    /// Its id.
    fn id(&self) -> std::result::Result<String, ArchiveError>;
    /// Current heads.
    fn heads(&mut self) -> Vec<ChangeHash>;
    /// The whole document, compacted.
    fn save(&mut self) -> Vec<u8>;
    /// The changes not yet handed to storage, as one chunk.
    fn take_changes(&mut self) -> Vec<u8>;
    /// The case, if it is one.
    fn as_case(&mut self) -> Option<&mut Case>;
    /// The record, if it is one.
    fn as_record(&mut self) -> Option<&mut Record>;
}

macro_rules! stored {
    ($t:ty, $as_case:expr, $as_record:expr) => {
        impl Stored for $t {
            fn id(&self) -> std::result::Result<String, ArchiveError> {
                <$t>::id(self)
            }
            fn heads(&mut self) -> Vec<ChangeHash> {
                <$t>::heads(self)
            }
            fn save(&mut self) -> Vec<u8> {
                <$t>::save(self)
            }
            fn take_changes(&mut self) -> Vec<u8> {
                <$t>::take_changes(self)
            }
            fn as_case(&mut self) -> Option<&mut Case> {
                let f: fn(&mut $t) -> Option<&mut Case> = $as_case;
                f(self)
            }
            fn as_record(&mut self) -> Option<&mut Record> {
                let f: fn(&mut $t) -> Option<&mut Record> = $as_record;
                f(self)
            }
        }
    };
}

stored!(Case, |c| Some(c), |_| None);
stored!(Record, |_| None, |r| Some(r));
stored!(Document, Document::as_case_mut, Document::as_record_mut);

fn to_json(id: &str, entry: &QueueEntry) -> Result<String> {
    serde_json::to_string(entry)
        .map(|json| seal(&json))
        .map_err(|e| StoreError::Corrupt {
            id: id.to_owned(),
            reason: e.to_string(),
        })
}

fn parse_entry(id: &str, json: &str) -> Result<QueueEntry> {
    serde_json::from_str(unseal(id, json)?).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: format!("conflict queue: {e}"),
    })
}

/// One atomic, durable write of any number of documents.
#[allow(missing_debug_implementations)]
pub struct Batch {
    txn: WriteTransaction,
    policy: Option<hearth_archive::Policy>,
    conflicts_changed: std::cell::Cell<bool>,
}

impl Batch {
    /// The policy in force, against which written cases are checked for broken invariants
    /// (yearly aid caps); without one only the other invariants are checked.
    pub fn set_policy(&mut self, policy: hearth_archive::Policy) {
        self.policy = Some(policy);
    }

    /// Whether a write of this batch opened or closed a conflict.
    pub fn conflicts_changed(&self) -> bool {
        self.conflicts_changed.get()
    }

    /// Stores a document's new changes (or, for a document new to this store, the whole
    /// document), moves it to the head of the feed and, for a case, updates the listing indexes.
    /// Returns its feed sequence; a document with no new changes keeps its place and returns
    /// `None`.
    pub fn put(&mut self, doc: &mut impl Stored) -> Result<Option<u64>> {
        self.put_inner(doc, None)
    }

    /// Like [`Batch::put`], but at a feed sequence the caller assigned (it must be at least
    /// [`Store::next_seq`], and sequences must only grow); for a writer that hands out
    /// sequences before it commits, as the node's group commit does.
    pub fn put_at(&mut self, doc: &mut impl Stored, seq: u64) -> Result<Option<u64>> {
        self.put_inner(doc, Some(seq))
    }

    fn put_inner(&mut self, case: &mut impl Stored, at: Option<u64>) -> Result<Option<u64>> {
        // Everything that reads the document comes first: a document that cannot be read (a
        // schema a peer broke) fails here, before anything of it is written, so the rest of
        // the batch can still be committed without it.
        let id = case.id()?;
        let view = case.as_case().map(|c| c.view_to_store()).transpose()?;
        let summary = view.as_ref().map(CaseSummary::of);
        let found = match (case.as_case(), &view) {
            (Some(c), Some(view)) => c.queue_entries(view, self.policy.as_ref())?,
            _ => match case.as_record() {
                Some(r) => hearth_archive::conflict::fund_below_zero(r)?
                    .into_iter()
                    .collect(),
                None => Vec::new(),
            },
        };
        let heads = hearth_archive::heads_hash(&case.heads());
        let txn = &self.txn;
        let existing = txn.open_table(DOCS)?.get(id.as_str())?.map(|g| g.value());
        let (old_seq, next_chunk, chunks) = match existing {
            None => {
                let snapshot = case.save();
                txn.open_table(SNAPSHOTS)?
                    .insert(id.as_str(), snapshot.as_slice())?;
                (None, 0, 0)
            }
            Some((seq, next_chunk, chunks)) => {
                let chunk = case.take_changes();
                if chunk.is_empty() {
                    return Ok(None);
                }
                if chunks + 1 >= COMPACT_AFTER {
                    fold(txn, &id, Some(&chunk))?;
                    (Some(seq), 0, 0)
                } else {
                    txn.open_table(CHUNKS)?
                        .insert((id.as_str(), next_chunk), chunk.as_slice())?;
                    (Some(seq), next_chunk + 1, chunks + 1)
                }
            }
        };

        let seq = {
            let mut meta = txn.open_table(META)?;
            let next = read_u64(&meta, "next_seq")?.unwrap_or(1);
            let seq = at.unwrap_or(next).max(next);
            meta.insert("next_seq", (seq + 1).to_be_bytes().as_slice())?;
            seq
        };
        let mut feed = txn.open_table(FEED)?;
        if let Some(old) = old_seq {
            feed.remove(old)?;
        }
        feed.insert(seq, id.as_str())?;
        txn.open_table(DOCS)?
            .insert(id.as_str(), (seq, next_chunk, chunks))?;
        txn.open_table(HEADS)?
            .insert(id.as_str(), heads.as_slice())?;

        let Some(summary) = summary else {
            // A record: a fund ledger may have been paid below zero by merged payments.
            if let Some(r) = case.as_record() {
                self.settle_conflicts(&id, found, |cid| r.resolution_of(cid))?;
            }
            return Ok(Some(seq));
        };
        let mut index = txn.open_table(CASE_INDEX)?;
        let mut identity = txn.open_multimap_table(IDENTITY)?;
        let old = match index.get(id.as_str())? {
            Some(json) => Some(parse_summary(&id, json.value())?),
            None => None,
        };
        let old_key = old.as_ref().and_then(|o| o.identity_key.clone());
        if old_key != summary.identity_key {
            if let Some(old) = &old_key {
                identity.remove(old.as_str(), id.as_str())?;
            }
            if let Some(new) = &summary.identity_key {
                identity.insert(new.as_str(), id.as_str())?;
            }
        }
        let json = serde_json::to_string(&summary).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            reason: e.to_string(),
        })?;
        index.insert(id.as_str(), seal(&json).as_str())?;
        // Other open archives of the same household, for the duplicate check (read while the
        // tables are open; usually there are none and nothing is parsed).
        let mut household = Vec::new();
        if let Some(key) = &summary.identity_key {
            for other in identity.get(key.as_str())? {
                let other = other?.value().to_owned();
                if other == id {
                    continue;
                }
                if let Some(json) = index.get(other.as_str())? {
                    household.push(parse_summary(&other, json.value())?);
                }
            }
        }
        drop(index);
        drop(identity);
        derived::reindex(txn, old.as_ref(), Some(&summary))?;
        if let (Some(c), Some(view)) = (case.as_case(), &view) {
            self.update_conflicts(&id, c, view, found, &summary, &household)?;
        }
        Ok(Some(seq))
    }

    /// Conflict detection after every write of a case, merges included (DESIGN §7): the
    /// conflicts `found` in the case and its duplicates enter the queue if new, and open ones
    /// the case no longer has are closed with how they were resolved. Only this case is looked
    /// at.
    fn update_conflicts(
        &self,
        id: &str,
        case: &mut Case,
        view: &hearth_archive::CaseView,
        mut found: Vec<QueueEntry>,
        summary: &CaseSummary,
        household: &[CaseSummary],
    ) -> Result<()> {
        let duplicates = hearth_archive::conflict::duplicates_of(view, summary, household);
        if let Some(dup) = &duplicates {
            found.push(dup.clone());
        }
        let duplicate = duplicates.map(|d| d.id);
        self.settle_conflicts_with(id, found, duplicate.as_deref(), |cid| {
            case.resolution_of(cid)
        })
    }

    /// Queue bookkeeping for document `id` after a write: the conflicts `found` in it now enter
    /// the queue if new; its open ones not found any more close, with `resolution`.
    fn settle_conflicts(
        &self,
        id: &str,
        found: Vec<QueueEntry>,
        resolution: impl FnMut(&str) -> Resolution,
    ) -> Result<()> {
        self.settle_conflicts_with(id, found, None, resolution)
    }

    fn settle_conflicts_with(
        &self,
        id: &str,
        found: Vec<QueueEntry>,
        duplicate: Option<&str>,
        mut resolution: impl FnMut(&str) -> Resolution,
    ) -> Result<()> {
        let mut open = self.txn.open_multimap_table(OPEN_CONFLICTS)?;
        let was_open: Vec<String> = open
            .get(id)?
            .map(|v| v.map(|g| g.value().to_owned()))
            .collect::<std::result::Result<_, _>>()?;
        if found.is_empty() && was_open.is_empty() {
            return Ok(());
        }
        let mut queue = self.txn.open_table(CONFLICTS)?;
        let before = self.conflicts_changed.get();
        self.conflicts_changed.set(
            before
                || was_open.iter().any(|c| !found.iter().any(|e| &e.id == c))
                || found.iter().any(|e| !was_open.contains(&e.id)),
        );
        for entry in &found {
            if queue.get(entry.id.as_str())?.is_none() {
                queue.insert(entry.id.as_str(), to_json(id, entry)?.as_str())?;
                open.insert(id, entry.id.as_str())?;
                // A duplicate is checked again whenever either archive is written.
                if duplicate == Some(entry.id.as_str()) {
                    for side in &entry.sides {
                        open.insert(side.value.as_str(), entry.id.as_str())?;
                    }
                }
            }
        }
        for cid in was_open {
            if found.iter().any(|e| e.id == cid) {
                continue;
            }
            let mut entry: QueueEntry = match queue.get(cid.as_str())? {
                Some(json) => parse_entry(&cid, json.value())?,
                None => continue,
            };
            if entry.resolution.is_none() {
                entry.resolution = Some(resolution(&cid));
                queue.insert(cid.as_str(), to_json(id, &entry)?.as_str())?;
            }
            open.remove(id, cid.as_str())?;
        }
        Ok(())
    }

    /// Records how far this node has applied `peer`'s feed.
    pub fn save_peer_checkpoint(&mut self, peer: &str, epoch: u64, seq: u64) -> Result<()> {
        self.txn.open_table(PEERS)?.insert(peer, (epoch, seq))?;
        Ok(())
    }

    /// Records how far `peer` has applied this node's feed.
    pub fn save_peer_has(&mut self, peer: &str, seq: u64) -> Result<()> {
        self.txn.open_table(PEERS_HAVE)?.insert(peer, seq)?;
        Ok(())
    }

    /// Records that the write with request key `key` wrote document `doc` (see
    /// [`Store::request`]); durable with the rest of the batch.
    pub fn put_request(&mut self, key: &str, doc: &str) -> Result<()> {
        self.txn.open_table(REQUESTS)?.insert(key, doc)?;
        Ok(())
    }

    /// Appends an entry (encoded by the caller) to the access log; past [`MAX_ACCESS_LOG`]
    /// entries the oldest goes.
    pub fn log_access(&mut self, entry: &str) -> Result<()> {
        let mut table = self.txn.open_table(ACCESS_LOG)?;
        let next = table.last()?.map_or(1, |(k, _)| k.value() + 1);
        table.insert(next, entry)?;
        if next > MAX_ACCESS_LOG {
            table.remove(next - MAX_ACCESS_LOG)?;
        }
        Ok(())
    }

    /// Keeps account `name` (encoded by the caller); durable with the rest of the batch.
    pub fn put_account(&mut self, name: &str, account: &str) -> Result<()> {
        self.txn.open_table(ACCOUNTS)?.insert(name, account)?;
        Ok(())
    }

    /// Persists the Automerge sync state of a document with a peer.
    pub fn save_sync_state(&mut self, peer: &str, doc: &str, state: &[u8]) -> Result<()> {
        self.txn
            .open_table(SYNC_STATES)?
            .insert((peer, doc), state)?;
        Ok(())
    }

    /// Keeps the signatures of a document.
    pub fn save_signatures(
        &mut self,
        doc: &str,
        sigs: &hearth_archive::signed::SigSet,
    ) -> Result<()> {
        self.txn
            .open_table(SIGNATURES)?
            .insert(doc, sigs.encode().as_slice())?;
        Ok(())
    }

    /// Keeps a certificate chain (encoded by the caller); once only.
    pub fn save_certificate(&mut self, chain: &[u8]) -> Result<()> {
        use sha2::{Digest, Sha256};
        let key: [u8; 32] = Sha256::digest(chain).into();
        self.txn
            .open_table(CERTIFICATES)?
            .insert(key.as_slice(), chain)?;
        Ok(())
    }

    /// Makes the batch durable. Once this returns, its writes survive a crash.
    pub fn commit(self) -> Result<()> {
        self.txn.commit()?;
        Ok(())
    }
}

/// Replaces a document's snapshot and chunks (plus `extra`, a chunk not yet stored) by one new
/// snapshot. Loads what is stored rather than trusting a copy in memory, so nothing stored is
/// ever dropped. Returns how many chunks were removed.
fn fold(txn: &WriteTransaction, id: &str, extra: Option<&[u8]>) -> Result<u64> {
    let mut snapshots = txn.open_table(SNAPSHOTS)?;
    let mut chunks = txn.open_table(CHUNKS)?;
    let mut bytes = read_doc(&snapshots, &chunks, id)?.ok_or_else(|| StoreError::Corrupt {
        id: id.to_owned(),
        reason: "document listed but not stored".into(),
    })?;
    if let Some(extra) = extra {
        bytes.extend_from_slice(extra);
    }
    let mut doc = hearth_archive::untrusted::load(&bytes).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })?;
    snapshots.insert(id, doc.save().as_slice())?;
    let mut removed = 0;
    chunks.retain_in((id, 0)..=(id, u64::MAX), |_, _| {
        removed += 1;
        false
    })?;
    let mut docs = txn.open_table(DOCS)?;
    let seq = docs.get(id)?.map(|g| g.value().0).unwrap_or(0);
    docs.insert(id, (seq, 0, 0))?;
    Ok(removed)
}

/// Document `id` as stored, checked against its `docs` and `heads` entries (see
/// [`Store::load_doc`]).
fn load_checked(txn: &redb::ReadTransaction, id: &str, actor: ActorId) -> Result<Option<Document>> {
    let damaged = |reason: String| StoreError::Corrupt {
        id: id.to_owned(),
        reason,
    };
    let snapshots = txn.open_table(SNAPSHOTS)?;
    let chunks = txn.open_table(CHUNKS)?;
    let listed = txn.open_table(DOCS)?.get(id)?.map(|g| g.value());
    let Some(bytes) = read_doc(&snapshots, &chunks, id)? else {
        return match listed {
            Some(_) => Err(damaged("it is listed but its data is gone".into())),
            None => Ok(None),
        };
    };
    let Some((_, next_chunk, written)) = listed else {
        return Err(damaged("its data is there but it is listed nowhere".into()));
    };
    let found = chunks.range((id, 0)..=(id, u64::MAX))?.count() as u64;
    let first = next_chunk.checked_sub(written);
    let in_place = first.is_some_and(|first| {
        chunks
            .range((id, 0)..(id, first))
            .is_ok_and(|mut r| r.next().is_none())
    });
    if found != written || !in_place {
        return Err(damaged(format!(
            "{found} change chunks are stored where {written} were written"
        )));
    }
    let mut doc = Document::load(&bytes, actor).map_err(|e| damaged(e.to_string()))?;
    let recorded = txn.open_table(HEADS)?.get(id)?.map(|g| g.value().to_vec());
    let heads = hearth_archive::heads_hash(&Stored::heads(&mut doc));
    if recorded.as_deref() != Some(heads.as_slice()) {
        return Err(damaged(
            "what is stored does not reach the state it was written in".into(),
        ));
    }
    Ok(Some(doc))
}

/// The reason of a damage found, or the error as a whole.
fn reason_of(e: StoreError) -> String {
    match e {
        StoreError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Runs a read of stored data, turning a panic inside the storage code (redb or Automerge on
/// damaged bytes) into [`StoreError::Corrupt`] for `what`. The caller's panic hook still runs:
/// a program that wants one line installs a quiet one.
fn guarded<T>(what: &str, read: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(StoreError::Corrupt {
            id: what.to_owned(),
            reason: format!("the storage code failed reading it ({text})"),
        })
    })
}

/// A JSON index entry as stored: the JSON, a tab, and 16 hex digits of its SHA-256, so that a
/// changed byte is found instead of read as another value (compact JSON has no raw tab).
fn seal(json: &str) -> String {
    use sha2::{Digest, Sha256};
    let sum = Sha256::digest(json.as_bytes());
    let hex: String = sum[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{json}\t{hex}")
}

/// The JSON of an entry written by [`seal`], checked; an entry written before checksums (no
/// tab) is taken as it is.
fn unseal<'a>(id: &str, stored: &'a str) -> Result<&'a str> {
    let Some((json, sum)) = stored.rsplit_once('\t') else {
        return Ok(stored);
    };
    if seal(json).ends_with(sum) && sum.len() == 16 {
        Ok(json)
    } else {
        Err(StoreError::Corrupt {
            id: id.to_owned(),
            reason: "its index entry does not match its checksum".into(),
        })
    }
}

/// A document's snapshot followed by its chunks, as one loadable byte string.
fn read_doc(
    snapshots: &impl ReadableTable<&'static str, &'static [u8]>,
    chunks: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    id: &str,
) -> Result<Option<Vec<u8>>> {
    let Some(snapshot) = snapshots.get(id)? else {
        return Ok(None);
    };
    let mut bytes = snapshot.value().to_vec();
    for entry in chunks.range((id, 0)..=(id, u64::MAX))? {
        let (_, chunk) = entry?;
        bytes.extend_from_slice(chunk.value());
    }
    Ok(Some(bytes))
}

fn read_u64(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<u64>> {
    match table.get(key)? {
        None => Ok(None),
        Some(g) => {
            let bytes: [u8; 8] = g.value().try_into().map_err(|_| StoreError::Corrupt {
                id: format!("meta {key}"),
                reason: "not an 8-byte number".into(),
            })?;
            Ok(Some(u64::from_be_bytes(bytes)))
        }
    }
}

fn parse_summary(id: &str, json: &str) -> Result<CaseSummary> {
    serde_json::from_str(unseal(id, json)?).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: format!("listing index: {e}"),
    })
}

fn open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.to_owned()),
        other => StoreError::Unopenable {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// The federation's calendar year now: the year whose totals a store keeps counted.
fn this_year() -> i16 {
    hearth_archive::calendar::day_of(hearth_archive::jiff::Timestamp::now()).year()
}

#[cfg(test)]
mod tests;
