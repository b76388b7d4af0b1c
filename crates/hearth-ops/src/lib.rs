//! Every operation a person does on a Hearth node — case writes, import, funds, policy,
//! decisions, conflict resolution, statistics, pending, due, disclosure — as plain functions
//! over a storage trait ([`Cases`]), and as one [`Request`] → [`Reply`] with one [`execute`].
//!
//! Nothing here does IO or reads a clock: the caller passes the time, a source of random ids
//! and the node's place in the federation ([`Ctx`]). The rules themselves live in
//! `hearth-archive`, each once; this layer parses what a person typed, finds the documents,
//! asks the rules and writes. The daemon (`hearth-node`) implements [`Cases`] over its store
//! and its running replica; [`MemoryCases`] keeps everything in memory, for tests.
//!
//! Every input is text as typed and is parsed here, completely, before anything is written; a
//! refused write leaves nothing behind.

mod access;
mod accounts;
mod cases;
mod conflicts;
mod error;
mod funds;
mod import;
mod memory;
mod policy;
mod request;
mod sheet;
mod summary;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod write;

pub use access::{AccessEntry, access_log};
pub use accounts::{
    Account, AccountView, AccountWrite, AccountWritten, LOCK_AFTER, LOCK_MINUTES, LoginRefused,
    Role, account_write, accounts, login, may,
};
pub use cases::{Cases, not_a_record, read_record_in, record_or_new};
pub use conflicts::{Resolve, conflict, conflicts, resolve_conflict};
pub use error::{ErrorKind, OpError, Result, archive_kind};
pub use funds::{
    FundWrite, borrowers, disclosure, fund_show, fund_write, fund_write_keyed, ledger_view,
};
pub use import::{ImportRow, ImportSource, MAX_LISTED, import};
pub use memory::MemoryCases;
pub use policy::{
    advice_for, due, parse_policy_file, pending, policy_in_force, policy_versions, set_policy,
};
pub use request::{PAGE_DEFAULT, PAGE_MAX, Page, PageRequest, Reply, Request, execute};
pub use sheet::{
    CsvText, OPTIONAL, REQUIRED, csv_encoding, each_csv_row, is_workbook, rows_of_file,
};
pub use summary::{current_summary, refresh_summary, stats};
pub use write::{
    ListFilter, MAX_REQUEST_KEY, Write, Written, chain_writes, get, list, parent_for, search,
    write, write_keyed,
};

use hearth_archive::{Editor, FederationSalt, Level};

/// Where this node sits in the federation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Its id.
    pub node_id: String,
    /// Its level.
    pub level: Level,
    /// The nodes it reports to.
    pub parents: Vec<String>,
    /// The nodes that report to it.
    pub children: Vec<String>,
}

impl Place {
    /// Whether `node` is a child of this node.
    pub fn has_child(&self, node: &str) -> bool {
        self.children.iter().any(|c| c == node)
    }
}

/// A source of random ids (case nonces, record ids): random bytes in a running node, a counter
/// in tests.
pub trait Ids: Sync + std::fmt::Debug {
    /// 16 fresh bytes.
    fn fresh(&self) -> [u8; 16];
}

/// Ids from a counter, hashed: the same run gives the same ids (for tests and examples).
#[derive(Debug, Default)]
pub struct CountingIds(std::sync::atomic::AtomicU64);

impl CountingIds {
    /// Counting from `n` (two sources that must not meet start far apart).
    pub fn starting_at(n: u64) -> CountingIds {
        CountingIds(std::sync::atomic::AtomicU64::new(n))
    }
}

impl Ids for CountingIds {
    fn fresh(&self) -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let hash = Sha256::digest(n.to_be_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&hash[..16]);
        out
    }
}

/// Who asks, at which node, and when.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// This node's place.
    pub place: &'a Place,
    /// The federation salt, for identity keys.
    pub salt: &'a FederationSalt,
    /// The person making the change.
    pub by: &'a str,
    /// Now, in the node's time zone (today is its date).
    pub now: &'a jiff::Zoned,
    /// Where new ids come from.
    pub ids: &'a dyn Ids,
}

impl Ctx<'_> {
    /// Who, where and when, for a change made now.
    pub fn editor(&self) -> Editor {
        Editor {
            node: self.place.node_id.clone(),
            by: self.by.to_owned(),
            at: self.now.timestamp(),
            today: self.now.date(),
        }
    }

    /// A new random nonce for a case id bound to its home ([`hearth_archive::BoundId`]).
    pub fn nonce(&self) -> String {
        nonce(self.ids)
    }
}

/// A new random nonce for a case id from `ids`: 16 hex digits.
pub(crate) fn nonce(ids: &dyn Ids) -> String {
    hex(&ids.fresh()[..8])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
