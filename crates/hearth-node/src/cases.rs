//! Where the operations of `hearth-ops` find cases on a node: the store of a data dir no node
//! runs on ([`StoreCases`]), or the running node's replica, on its core thread.

use hearth_archive::automerge::ActorId;
use hearth_archive::conflict::QueueEntry;
use hearth_archive::listing::Sort;
use hearth_archive::summary::Totals;
use hearth_archive::{Case, CaseSummary, DocId, Document, Editor, Record, actor_id};
use hearth_ops::{Cases, ErrorKind, OpError, Result, not_a_record, read_record_in, record_or_new};
use hearth_store::{Store, StoreError};
use hearth_sync::ReplicaError;

use crate::replica::StoreReplica;

/// What kind of failure a store's error is: an unknown or ambiguous id is the person's to
/// correct; the rest is the store's.
pub fn store_kind(e: &StoreError) -> ErrorKind {
    match e {
        StoreError::NotFound(_) => ErrorKind::NotFound,
        StoreError::Ambiguous(_) => ErrorKind::Input,
        StoreError::Archive(a) => hearth_ops::archive_kind(a),
        _ => ErrorKind::Internal,
    }
}

/// The operations' error for a store's.
pub fn from_store(e: StoreError) -> OpError {
    match (store_kind(&e), e) {
        (_, StoreError::Archive(a)) => OpError::Archive(a),
        (ErrorKind::Internal, e) => OpError::Storage(Box::new(e)),
        (kind, e) => OpError::of_kind(kind, e.to_string()),
    }
}

/// The operations' error for the replica's.
pub fn from_replica(e: ReplicaError) -> OpError {
    OpError::Storage(Box::new(e))
}

/// Turns a store's or the replica's error into the operations'.
pub(crate) trait OrOp<T> {
    fn op(self) -> Result<T>;
}

impl<T> OrOp<T> for std::result::Result<T, StoreError> {
    fn op(self) -> Result<T> {
        self.map_err(from_store)
    }
}

impl<T> OrOp<T> for std::result::Result<T, ReplicaError> {
    fn op(self) -> Result<T> {
        self.map_err(from_replica)
    }
}

/// The store of a data dir no node is running on.
#[derive(Debug)]
pub struct StoreCases<'a> {
    store: &'a Store,
    actor: ActorId,
    request: Option<String>,
    /// Written cases are checked for broken invariants against the policy of this day.
    today: jiff::civil::Date,
}

impl<'a> StoreCases<'a> {
    /// Cases in `store`, written as `node_id` on `today`.
    pub fn new(store: &'a Store, node_id: &str, today: jiff::civil::Date) -> StoreCases<'a> {
        StoreCases {
            store,
            actor: actor_id(node_id, store.incarnation()),
            request: None,
            today,
        }
    }
}

impl Cases for StoreCases<'_> {
    fn actor(&self) -> ActorId {
        self.actor.clone()
    }

    fn resolve(&mut self, prefix: &str) -> Result<String> {
        self.store.resolve_case_id(prefix).op()
    }

    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T> {
        let mut case = self.store.load_case(id, self.actor.clone()).op()?;
        let value = f(&mut case)?;
        self.commit_docs(&mut [Document::Case(case)])?;
        Ok(value)
    }

    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T> {
        f(&self.store.load_case(id, self.actor.clone()).op()?)
    }

    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>> {
        let mut batch = self.begin()?;
        let mut ids = Vec::new();
        for case in cases {
            let mut case = case?;
            batch.put(&mut case).op()?;
            ids.push(case.id()?);
        }
        if let Some(first) = ids.first() {
            self.seal_request(&mut batch, first)?;
        }
        batch.commit().op()?;
        Ok(ids)
    }

    fn summaries(&mut self) -> Result<Vec<CaseSummary>> {
        self.store.case_summaries().op()
    }

    fn scan(
        &mut self,
        sort: Sort,
        after: Option<&str>,
        visit: &mut dyn FnMut(&str, CaseSummary) -> bool,
    ) -> Result<()> {
        self.store.cases_in_order(sort, after, visit).op()
    }

    fn summary(&mut self, id: &str) -> Result<Option<CaseSummary>> {
        self.store.case_summary(id).op()
    }

    fn totals(&mut self, home: &str, year: i16) -> Result<Option<Totals>> {
        // A year not kept counted (a past one) is counted from the listing index: a data dir
        // no node runs on only reads here.
        self.store.totals(home, year).op()
    }

    fn with_identity(&mut self, key: &str) -> Result<Vec<String>> {
        self.store.cases_with_identity(key).op()
    }

    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>> {
        read_record_in(id, self.store.load_doc(id, self.actor.clone()).op()?, f)
    }

    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T> {
        let found = self.store.load_doc(id, self.actor.clone()).op()?;
        let mut record = record_or_new(id, found, self.actor.clone(), editor)?;
        let value = f(&mut record)?;
        self.commit_docs(&mut [Document::Record(record)])?;
        Ok(value)
    }

    fn conflicts(&mut self) -> Result<Vec<QueueEntry>> {
        self.store.conflicts().op()
    }

    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T> {
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            docs.push(match self.store.load_doc(id, self.actor.clone()).op()? {
                Some(d) => d,
                None if DocId::of(id) == DocId::Case => {
                    return Err(from_store(StoreError::NotFound((*id).to_owned())));
                }
                None => Document::Record(Record::create(id, self.actor.clone(), editor)?),
            });
        }
        let value = f(&mut docs)?;
        self.commit_docs(&mut docs)?;
        Ok(value)
    }

    fn expect_request(&mut self, key: Option<String>) {
        self.request = key;
    }

    fn answered(&mut self, key: &str) -> Result<Option<String>> {
        self.store.request(key).op()
    }

    fn accounts(&mut self) -> Result<Vec<(String, String)>> {
        self.store.accounts().op()
    }

    fn account(&mut self, name: &str) -> Result<Option<String>> {
        self.store.account(name).op()
    }

    fn put_account(&mut self, name: &str, account: &str) -> Result<()> {
        put_account(self.store, name, account)
    }

    fn log_access(&mut self, entry: &str) -> Result<()> {
        log_access(self.store, entry)
    }

    fn access_log(&mut self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, String)>> {
        self.store.access_log(before, limit).op()
    }
}

/// Appends to the access log of `store`, in a transaction of its own.
fn log_access(store: &hearth_store::Store, entry: &str) -> Result<()> {
    let mut batch = store.begin().op()?;
    batch.log_access(entry).op()?;
    batch.commit().op()
}

/// Keeps an account in `store`, in a transaction of its own.
fn put_account(store: &hearth_store::Store, name: &str, account: &str) -> Result<()> {
    let mut batch = store.begin().op()?;
    batch.put_account(name, account).op()?;
    batch.commit().op()
}

impl StoreCases<'_> {
    /// Records the request key of the write being committed in `batch`, with `doc`.
    fn seal_request(&mut self, batch: &mut hearth_store::Batch, doc: &str) -> Result<()> {
        if let Some(key) = self.request.take() {
            batch.put_request(&key, doc).op()?;
        }
        Ok(())
    }

    /// A write checked against the policy in force today.
    fn begin(&mut self) -> Result<hearth_store::Batch> {
        let policy = hearth_ops::policy_in_force(self, self.today)?;
        let mut batch = self.store.begin().op()?;
        batch.set_policy(policy);
        Ok(batch)
    }

    /// Writes `docs` in one transaction checked against today's policy; a write under a
    /// request key records it with the first.
    fn commit_docs(&mut self, docs: &mut [Document]) -> Result<()> {
        let mut batch = self.begin()?;
        for d in docs.iter_mut() {
            batch.put(d).op()?;
        }
        if let Some(first) = docs.first() {
            self.seal_request(&mut batch, &first.id()?)?;
        }
        batch.commit().op()
    }
}

impl StoreReplica {
    /// After a local change to `ids`: if it succeeded, commits them (a write under a request
    /// key records it with the first) and flushes them to disk before the answer; if it failed,
    /// drops what it changed.
    fn settle<T>(&mut self, ids: &[&str], result: Result<T>) -> Result<T> {
        match result {
            Ok(value) => {
                for id in ids {
                    hearth_sync::Replica::commit(self, id).op()?;
                }
                if let Some(first) = ids.first() {
                    self.note_request(first);
                }
                self.flush_for(ids).op()?;
                Ok(value)
            }
            Err(e) => {
                for id in ids {
                    self.forget(id);
                }
                Err(e)
            }
        }
    }
}

impl Cases for StoreReplica {
    fn actor(&self) -> ActorId {
        StoreReplica::actor(self)
    }

    fn resolve(&mut self, prefix: &str) -> Result<String> {
        self.flush().op()?;
        self.store().resolve_case_id(prefix).op()
    }

    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T> {
        // Changes from peers applied earlier in this round go to disk first, so that dropping
        // the case after a failed `f` loses nothing but `f`'s own change.
        self.flush().op()?;
        let case = self
            .case_mut(id)
            .op()?
            .ok_or_else(|| from_store(StoreError::NotFound(id.to_owned())))?;
        let result = f(case);
        self.settle(&[id], result)
    }

    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T> {
        let case = self
            .case_mut(id)
            .op()?
            .ok_or_else(|| from_store(StoreError::NotFound(id.to_owned())))?;
        f(case)
    }

    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>> {
        self.insert_all(cases)
    }

    fn summaries(&mut self) -> Result<Vec<CaseSummary>> {
        self.flush().op()?;
        self.store().case_summaries().op()
    }

    fn scan(
        &mut self,
        sort: Sort,
        after: Option<&str>,
        visit: &mut dyn FnMut(&str, CaseSummary) -> bool,
    ) -> Result<()> {
        self.flush().op()?;
        self.store().cases_in_order(sort, after, visit).op()
    }

    fn summary(&mut self, id: &str) -> Result<Option<CaseSummary>> {
        self.flush().op()?;
        self.store().case_summary(id).op()
    }

    fn totals(&mut self, home: &str, year: i16) -> Result<Option<Totals>> {
        self.flush().op()?;
        // A node running into a new year starts keeping it counted (one read of the listing
        // index, once); a past year is counted from the listing index each time it is asked.
        let this_year = hearth_archive::calendar::day_of(jiff::Timestamp::now()).year();
        if year == this_year && !self.store().counts_year(year).op()? {
            self.store_mut().count_year(year).op()?;
        }
        self.store().totals(home, year).op()
    }

    fn with_identity(&mut self, key: &str) -> Result<Vec<String>> {
        self.flush().op()?;
        self.store().cases_with_identity(key).op()
    }

    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.record_mut(id).op()? {
            Some(r) => f(r).map(Some),
            None => Ok(None),
        }
    }

    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T> {
        self.flush().op()?;
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            let taken = match self.take_loaded(id) {
                Ok(Some(d)) => Ok(d),
                Ok(None) if DocId::of(id) != DocId::Case => {
                    Record::create(id, StoreReplica::actor(self), editor)
                        .map(Document::Record)
                        .map_err(OpError::from)
                }
                Ok(None) => Err(from_store(StoreError::NotFound((*id).to_owned()))),
                Err(e) => Err(from_replica(e)),
            };
            match taken {
                Ok(d) => docs.push(d),
                Err(e) => {
                    for (id, d) in ids.iter().zip(docs) {
                        self.give_back(id, d);
                    }
                    return Err(e);
                }
            }
        }
        let result = f(&mut docs);
        for (id, d) in ids.iter().zip(docs) {
            self.give_back(id, d);
        }
        self.settle(ids, result)
    }

    fn conflicts(&mut self) -> Result<Vec<QueueEntry>> {
        self.flush().op()?;
        self.store().conflicts().op()
    }

    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T> {
        self.flush().op()?;
        if self.record_mut(id).op()?.is_none() {
            let record = Record::create(id, StoreReplica::actor(self), editor)?;
            self.add_record(record).op()?;
        }
        let record = self.record_mut(id).op()?.ok_or_else(|| not_a_record(id))?;
        let result = f(record);
        self.settle(&[id], result)
    }

    fn expect_request(&mut self, key: Option<String>) {
        StoreReplica::expect_request(self, key);
    }

    fn answered(&mut self, key: &str) -> Result<Option<String>> {
        self.request(key).op()
    }

    fn accounts(&mut self) -> Result<Vec<(String, String)>> {
        self.store().accounts().op()
    }

    fn account(&mut self, name: &str) -> Result<Option<String>> {
        self.store().account(name).op()
    }

    fn put_account(&mut self, name: &str, account: &str) -> Result<()> {
        put_account(self.store(), name, account)
    }

    fn log_access(&mut self, entry: &str) -> Result<()> {
        log_access(self.store(), entry)
    }

    fn access_log(&mut self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, String)>> {
        self.store().access_log(before, limit).op()
    }
}

/// Random ids, from the operating system's generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl hearth_ops::Ids for RandomIds {
    fn fresh(&self) -> [u8; 16] {
        rand::random()
    }
}

/// Runs `f` with the context of an operation made now at the node of `config`, by `by`: its
/// place, the clock read once (in the federation's time zone), random ids.
pub fn with_ctx<R>(
    config: &crate::NodeConfig,
    salt: &hearth_archive::FederationSalt,
    by: &str,
    f: impl FnOnce(&hearth_ops::Ctx<'_>) -> R,
) -> R {
    let place = config.place();
    let now = hearth_archive::calendar::zoned(jiff::Timestamp::now());
    f(&hearth_ops::Ctx {
        place: &place,
        salt,
        by,
        now: &now,
        ids: &RandomIds,
    })
}
