//! Cases kept in memory, for tests of the operations: documents as saved bytes, loaded for each
//! use, so a failed change leaves nothing behind, as in the store.

use std::collections::BTreeMap;

use hearth_archive::automerge::ActorId;
use hearth_archive::conflict::QueueEntry;
use hearth_archive::{Case, CaseSummary, DocId, Document, Editor, Policy, Record};

use crate::{Cases, OpError, Result, not_a_record, read_record_in, record_or_new};

/// Cases and records in memory, with the conflict queue kept as the store keeps it.
#[derive(Debug)]
pub struct MemoryCases {
    actor: ActorId,
    /// Checks written cases for broken invariants against the policy in force on this day.
    today: jiff::civil::Date,
    docs: BTreeMap<String, Vec<u8>>,
    queue: BTreeMap<String, (String, QueueEntry)>,
    requests: BTreeMap<String, String>,
    /// Accounts, encoded, by name.
    accounts: BTreeMap<String, String>,
    access: Vec<String>,
    request: Option<String>,
}

impl MemoryCases {
    /// Empty, written as `node` (incarnation 0), checking against the policy of `today`.
    pub fn new(node: &str, today: jiff::civil::Date) -> MemoryCases {
        MemoryCases {
            actor: hearth_archive::actor_id(node, &[0]),
            today,
            docs: BTreeMap::new(),
            queue: BTreeMap::new(),
            requests: BTreeMap::new(),
            accounts: BTreeMap::new(),
            access: Vec::new(),
            request: None,
        }
    }

    /// Takes in document `id` as `from` holds it, as sync would bring it: merged into the copy
    /// here, or new here.
    pub fn receive(&mut self, id: &str, from: &MemoryCases) -> Result<()> {
        let theirs = from
            .docs
            .get(id)
            .ok_or_else(|| OpError::NotFound(format!("{id} is not held there")))?;
        let mut theirs = Document::load(theirs, self.actor.clone())?;
        let mut doc = match self.load(id)? {
            Some(mut ours) => {
                ours.doc_mut()
                    .merge(theirs.doc_mut())
                    .map_err(hearth_archive::ArchiveError::from)?;
                ours
            }
            None => theirs,
        };
        self.put(&mut [&mut doc])
    }

    fn load(&self, id: &str) -> Result<Option<Document>> {
        self.docs
            .get(id)
            .map(|bytes| Document::load(bytes, self.actor.clone()))
            .transpose()
            .map_err(OpError::from)
    }

    fn case(&self, id: &str) -> Result<Case> {
        match self.load(id)? {
            Some(Document::Case(c)) => Ok(c),
            Some(Document::Record(_)) => Err(OpError::NotFound(format!("{id} is not a case"))),
            None => Err(OpError::NotFound(format!("no case {id} here"))),
        }
    }

    fn record(&self, id: &str, editor: &Editor) -> Result<Record> {
        record_or_new(id, self.load(id)?, self.actor.clone(), editor)
    }

    fn policy(&self) -> Result<Policy> {
        let versions = match self.load(hearth_archive::record::POLICY_ID)? {
            Some(Document::Record(r)) => {
                r.entries::<Policy>()?.into_iter().map(|(_, p)| p).collect()
            }
            _ => Vec::new(),
        };
        Ok(Policy::in_force(&versions, self.today))
    }

    /// Writes documents (all of them: the checks run first), then settles the queue for each.
    fn put(&mut self, docs: &mut [&mut Document]) -> Result<()> {
        let policy = self.policy()?;
        let mut found = Vec::with_capacity(docs.len());
        for d in docs.iter_mut() {
            found.push((d.id()?, self.found(d, &policy)?));
        }
        for d in docs.iter_mut() {
            let id = d.id()?;
            self.docs.insert(id, d.doc_mut().save());
        }
        for ((id, found), d) in found.into_iter().zip(docs.iter_mut()) {
            self.settle(&id, found, d);
        }
        if let (Some(key), Some(first)) = (self.request.take(), docs.first()) {
            self.requests.insert(key, first.id()?);
        }
        Ok(())
    }

    /// The conflicts document `d` has now, as the store finds them.
    fn found(&self, d: &mut Document, policy: &Policy) -> Result<Vec<QueueEntry>> {
        match d {
            Document::Case(c) => {
                let id = c.id()?;
                let view = c.view_to_store()?;
                let mut found = c.queue_entries(&view, Some(policy))?;
                let this = CaseSummary::of(&view);
                let household: Vec<CaseSummary> = match &this.identity_key {
                    Some(key) => self
                        .summaries_now()?
                        .into_iter()
                        .filter(|s| s.id != id && s.identity_key.as_ref() == Some(key))
                        .collect(),
                    None => Vec::new(),
                };
                found.extend(hearth_archive::conflict::duplicates_of(
                    &view, &this, &household,
                ));
                Ok(found)
            }
            Document::Record(r) => Ok(hearth_archive::conflict::fund_below_zero(r)?
                .into_iter()
                .collect()),
        }
    }

    fn settle(&mut self, id: &str, found: Vec<QueueEntry>, d: &mut Document) {
        let was_open: Vec<String> = self
            .queue
            .iter()
            .filter(|(_, (doc, e))| {
                e.is_open() && (doc == id || e.sides.iter().any(|s| s.value == id))
            })
            .map(|(cid, _)| cid.clone())
            .collect();
        for entry in &found {
            self.queue
                .entry(entry.id.clone())
                .or_insert_with(|| (id.to_owned(), entry.clone()));
        }
        for cid in was_open {
            if found.iter().any(|e| e.id == cid) {
                continue;
            }
            let resolution = match d {
                Document::Case(c) => c.resolution_of(&cid),
                Document::Record(r) => r.resolution_of(&cid),
            };
            if let Some((_, e)) = self.queue.get_mut(&cid) {
                e.resolution = Some(resolution);
            }
        }
    }

    fn summaries_now(&self) -> Result<Vec<CaseSummary>> {
        let mut out = Vec::new();
        for id in self.docs.keys() {
            if DocId::of(id) == DocId::Case {
                out.push(CaseSummary::of(&self.case(id)?.view()?));
            }
        }
        Ok(out)
    }
}

impl Cases for MemoryCases {
    fn actor(&self) -> ActorId {
        self.actor.clone()
    }

    fn resolve(&mut self, prefix: &str) -> Result<String> {
        let prefix = prefix.trim();
        let hits: Vec<&String> = self
            .docs
            .keys()
            .filter(|k| !prefix.is_empty() && k.starts_with(prefix) && DocId::of(k) == DocId::Case)
            .take(2)
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(OpError::NotFound(format!("no case {prefix:?} here"))),
            _ => Err(OpError::input(format!(
                "case id {prefix:?} matches several; give more of it"
            ))),
        }
    }

    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T> {
        let mut doc = Document::Case(self.case(id)?);
        let Document::Case(case) = &mut doc else {
            return Err(not_a_record(id));
        };
        let value = f(case)?;
        self.put(&mut [&mut doc])?;
        Ok(value)
    }

    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T> {
        f(&self.case(id)?)
    }

    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>> {
        let mut docs = Vec::new();
        for case in cases {
            docs.push(Document::Case(case?));
        }
        let ids = docs
            .iter()
            .map(Document::id)
            .collect::<Result<Vec<_>, _>>()?;
        self.put(&mut docs.iter_mut().collect::<Vec<_>>())?;
        Ok(ids)
    }

    fn summaries(&mut self) -> Result<Vec<CaseSummary>> {
        self.summaries_now()
    }

    fn with_identity(&mut self, key: &str) -> Result<Vec<String>> {
        Ok(self
            .summaries_now()?
            .into_iter()
            .filter(|s| s.identity_key.as_ref().is_some_and(|k| k.as_str() == key))
            .map(|s| s.id)
            .collect())
    }

    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>> {
        read_record_in(id, self.load(id)?, f)
    }

    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T> {
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            docs.push(if DocId::of(id) == DocId::Case {
                Document::Case(self.case(id)?)
            } else {
                Document::Record(self.record(id, editor)?)
            });
        }
        let value = f(&mut docs)?;
        self.put(&mut docs.iter_mut().collect::<Vec<_>>())?;
        Ok(value)
    }

    fn conflicts(&mut self) -> Result<Vec<QueueEntry>> {
        let mut out: Vec<QueueEntry> = self.queue.values().map(|(_, e)| e.clone()).collect();
        out.sort_by(|a, b| (b.since, &b.id).cmp(&(a.since, &a.id)));
        Ok(out)
    }

    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T> {
        let mut doc = Document::Record(self.record(id, editor)?);
        let Document::Record(record) = &mut doc else {
            return Err(not_a_record(id));
        };
        let value = f(record)?;
        self.put(&mut [&mut doc])?;
        Ok(value)
    }

    fn expect_request(&mut self, key: Option<String>) {
        self.request = key;
    }

    fn answered(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.requests.get(key).cloned())
    }

    fn accounts(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self
            .accounts
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn account(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.accounts.get(name).cloned())
    }

    fn put_account(&mut self, name: &str, account: &str) -> Result<()> {
        self.accounts.insert(name.to_owned(), account.to_owned());
        Ok(())
    }

    fn log_access(&mut self, entry: &str) -> Result<()> {
        self.access.push(entry.to_owned());
        Ok(())
    }

    fn access_log(&mut self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, String)>> {
        Ok((1..=self.access.len() as u64)
            .rev()
            .filter(|n| before.is_none_or(|b| *n < b))
            .take(limit)
            .map(|n| (n, self.access[(n - 1) as usize].clone()))
            .collect())
    }
}
