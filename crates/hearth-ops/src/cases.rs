//! Where cases live, as the operations see it.

use hearth_archive::automerge::ActorId;
use hearth_archive::conflict::QueueEntry;
use hearth_archive::listing::Sort;
use hearth_archive::summary::Totals;
use hearth_archive::{ArchiveError, Case, CaseSummary, Document, Editor, Record};

use crate::{OpError, Result};

/// Where cases live: the store, or the running node's replica.
pub trait Cases {
    /// The actor this node writes with.
    fn actor(&self) -> ActorId;
    /// The full id of the case whose id starts with `prefix`.
    fn resolve(&mut self, prefix: &str) -> Result<String>;
    /// Runs `f` on a case; a change it makes is durable when this returns `Ok`, and discarded
    /// when `f` fails.
    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T>;
    /// Reads a case.
    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T>;
    /// Stores new cases in one durable transaction: all of them, or none if one fails.
    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>>;
    /// The listing index of every case held (a full read: listings use [`Cases::scan`]).
    fn summaries(&mut self) -> Result<Vec<CaseSummary>>;
    /// The cases in the listing order `sort`, from the first whose key comes after `after`,
    /// each with its key, until `visit` says stop (returns false). This default sorts
    /// [`Cases::summaries`]; a store reads its index of the order only as far as it goes.
    fn scan(
        &mut self,
        sort: Sort,
        after: Option<&str>,
        visit: &mut dyn FnMut(&str, CaseSummary) -> bool,
    ) -> Result<()> {
        let mut keyed: Vec<(String, CaseSummary)> = self
            .summaries()?
            .into_iter()
            .map(|c| (sort.key(&c), c))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, c) in keyed {
            if after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            if !visit(&key, c) {
                break;
            }
        }
        Ok(())
    }
    /// The listing summary of one case, if held.
    fn summary(&mut self, id: &str) -> Result<Option<CaseSummary>> {
        Ok(self.summaries()?.into_iter().find(|c| c.id == id))
    }
    /// The totals of the cases whose home is `home` for `year`, where they are kept counted;
    /// `None` (this default) when they are to be counted from [`Cases::summaries`].
    fn totals(&mut self, home: &str, year: i16) -> Result<Option<Totals>> {
        let _ = (home, year);
        Ok(None)
    }
    /// Cases on file for a household, by its identity key.
    fn with_identity(&mut self, key: &str) -> Result<Vec<String>>;
    /// Reads a record (policy, summary, ledger); `None` if not held.
    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>>;
    /// Runs `f` on several documents together (a record not held is made empty first; a case
    /// must be held): every change is durable in one transaction when this returns `Ok`, and
    /// none when `f` fails. The documents come in the order of `ids`.
    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T>;
    /// The conflict queue, newest first.
    fn conflicts(&mut self) -> Result<Vec<QueueEntry>>;
    /// Runs `f` on a record, made empty first if not held; durable when this returns `Ok`.
    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T>;
    /// Makes the next write (the next `update`, `create`, `update_many` or `update_record`)
    /// one under request key `key`, recorded in its own transaction; `None` clears it.
    fn expect_request(&mut self, key: Option<String>);
    /// The document the write with request key `key` wrote, if one was made here.
    fn answered(&mut self, key: &str) -> Result<Option<String>>;
    /// Every account of the node (name, encoded account), by name.
    fn accounts(&mut self) -> Result<Vec<(String, String)>>;
    /// One account, encoded.
    fn account(&mut self, name: &str) -> Result<Option<String>>;
    /// Keeps an account (encoded), durably.
    fn put_account(&mut self, name: &str, account: &str) -> Result<()>;
    /// Appends an entry (encoded by the caller) to the node's access log.
    fn log_access(&mut self, entry: &str) -> Result<()>;
    /// The access log, newest first: at most `limit` entries older than sequence `before`.
    fn access_log(&mut self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, String)>>;
}

/// The error for a document that should be a record and is a case.
pub fn not_a_record(id: &str) -> OpError {
    OpError::Archive(ArchiveError::Schema(format!(
        "{id} is not a record document"
    )))
}

/// The record a storage found under `id` (`None`: not held), read by `f`.
pub fn read_record_in<T>(
    id: &str,
    found: Option<Document>,
    f: impl FnOnce(&Record) -> Result<T>,
) -> Result<Option<T>> {
    match found {
        Some(Document::Record(r)) => f(&r).map(Some),
        Some(Document::Case(_)) => Err(not_a_record(id)),
        None => Ok(None),
    }
}

/// The record a storage found under `id`, or a new empty one if it holds none (for a write).
pub fn record_or_new(
    id: &str,
    found: Option<Document>,
    actor: ActorId,
    editor: &Editor,
) -> Result<Record> {
    match found {
        Some(Document::Record(r)) => Ok(r),
        Some(Document::Case(_)) => Err(not_a_record(id)),
        None => Ok(Record::create(id, actor, editor)?),
    }
}
