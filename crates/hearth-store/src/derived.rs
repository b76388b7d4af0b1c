//! Indexes derived from the listing index, changed in the same transaction as every case
//! written, so that no listing and no count reads every case (DESIGN §9):
//!
//! - **Listing orders**: every case under its key in each order a listing comes in
//!   ([`Sort`]), so that a page is a range of keys from the page token on.
//! - **Totals**: the [`Totals`] of the node's own cases (every home node's until the store is
//!   bound to its node) for the few years kept counted (this year and the ones before it); a
//!   write takes the case's old figures out and adds its new ones.
//!
//! Both are rebuilt from the listing index when a store written before them is opened, and
//! `hearth check` recounts them.

use std::collections::BTreeMap;

use hearth_archive::CaseSummary;
use hearth_archive::listing::Sort;
use hearth_archive::summary::Totals;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::{CASE_INDEX, META, Result, StoreError, parse_summary, seal, unseal};

/// `order code:key` → nothing: each case under its key in each listing order (the key ends
/// with the case id, after the last `/`).
pub(crate) const ORDER: TableDefinition<&str, ()> = TableDefinition::new("case_order");
/// (year, home node) → the sealed JSON of the totals of the node's cases for that year.
pub(crate) const TOTALS: TableDefinition<(i16, &str), &str> = TableDefinition::new("totals");

/// Version of the derived indexes; a store whose meta says another is rebuilt when opened.
const VERSION: u64 = 1;
/// Meta key of that version.
const VERSION_KEY: &str = "derived";
/// Meta key of the years kept counted: two bytes (big-endian) each.
const YEARS_KEY: &str = "totals_years";
/// The most years kept counted; the oldest is dropped when a new one starts.
const YEARS_KEPT: usize = 3;

/// The index key of `c` in `sort`.
fn order_key(sort: Sort, c: &CaseSummary) -> String {
    format!("{}:{}", sort.code(), sort.key(c))
}

/// Where the keys of `sort` begin and end in [`ORDER`] (`;` comes right after `:`).
pub(crate) fn order_range(sort: Sort) -> (String, String) {
    (format!("{}:", sort.code()), format!("{};", sort.code()))
}

/// The case id an index key of [`ORDER`] ends with.
pub(crate) fn id_of_key(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, id)| id)
}

/// The years kept counted, oldest first.
pub(crate) fn years(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Vec<i16>> {
    let Some(bytes) = meta.get(YEARS_KEY)? else {
        return Ok(Vec::new());
    };
    let bytes = bytes.value();
    if bytes.len() % 2 != 0 {
        return Err(StoreError::Corrupt {
            id: format!("meta {YEARS_KEY}"),
            reason: "not a list of years".into(),
        });
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
        .collect())
}

/// What of the derived indexes a store opened in `year` must build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToBuild {
    /// Nothing: they are of this version and count the year.
    Nothing,
    /// The totals: the year is not counted yet (a new year), or its list is damaged.
    Totals,
    /// Everything: written before them, or by another version.
    All,
}

/// What a store opened in `year` must build of its derived indexes.
pub(crate) fn to_build(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    year: i16,
) -> Result<ToBuild> {
    if crate::read_u64(meta, VERSION_KEY).ok().flatten() != Some(VERSION) {
        return Ok(ToBuild::All);
    }
    Ok(match years(meta) {
        Ok(kept) if kept.contains(&year) => ToBuild::Nothing,
        _ => ToBuild::Totals,
    })
}

/// The node whose own cases are counted: the node the store is bound to. Until it is bound,
/// every home node's cases are.
pub(crate) fn counted_home(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<String>> {
    Ok(meta
        .get("node_id")?
        .map(|g| String::from_utf8_lossy(g.value()).into_owned()))
}

/// Whether the totals of `c` are kept (its home is the node's own, or the store is not bound).
fn counted(home: Option<&str>, c: &CaseSummary) -> bool {
    home.is_none_or(|h| c.home == h)
}

/// Once the store is bound to `node`: the totals of other home nodes are dropped (the cases
/// that passed through were counted until then; a node's figures are its own cases').
pub(crate) fn keep_home_only(txn: &WriteTransaction, node: &str) -> Result<()> {
    txn.open_table(TOTALS)?
        .retain(|(_, home), _| home == node)?;
    Ok(())
}

/// The totals of `home`'s cases for `year` as kept; `None` when the year is not kept counted,
/// or `home` is not the node's own.
pub(crate) fn totals(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    totals: &impl ReadableTable<(i16, &'static str), &'static str>,
    home: &str,
    year: i16,
) -> Result<Option<Totals>> {
    if !years(meta)?.contains(&year) || counted_home(meta)?.is_some_and(|h| h != home) {
        return Ok(None);
    }
    Ok(Some(read_totals(totals, year, home)?.unwrap_or_default()))
}

fn read_totals(
    table: &impl ReadableTable<(i16, &'static str), &'static str>,
    year: i16,
    home: &str,
) -> Result<Option<Totals>> {
    let what = || format!("the totals of {home} for {year}");
    match table.get((year, home))? {
        None => Ok(None),
        Some(json) => serde_json::from_str(unseal(&what(), json.value())?)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                id: what(),
                reason: e.to_string(),
            }),
    }
}

fn write_totals(
    table: &mut redb::Table<(i16, &'static str), &'static str>,
    year: i16,
    home: &str,
    t: &Totals,
) -> Result<()> {
    if *t == Totals::default() {
        table.remove((year, home))?;
        return Ok(());
    }
    let json = serde_json::to_string(t).map_err(|e| StoreError::Corrupt {
        id: format!("the totals of {home} for {year}"),
        reason: e.to_string(),
    })?;
    table.insert((year, home), seal(&json).as_str())?;
    Ok(())
}

/// Takes the case `old` was out of the derived indexes and puts it in as `new` (either may be
/// `None`: a case added or removed). Only what differs is written.
pub(crate) fn reindex(
    txn: &WriteTransaction,
    old: Option<&CaseSummary>,
    new: Option<&CaseSummary>,
) -> Result<()> {
    let mut order = txn.open_table(ORDER)?;
    for sort in Sort::ALL {
        let before = old.map(|c| order_key(sort, c));
        let after = new.map(|c| order_key(sort, c));
        if before == after {
            continue;
        }
        if let Some(k) = before {
            order.remove(k.as_str())?;
        }
        if let Some(k) = after {
            order.insert(k.as_str(), ())?;
        }
    }
    let (years, home) = {
        let meta = txn.open_table(META)?;
        (years(&meta)?, counted_home(&meta)?)
    };
    // Cases of other home nodes (passing through, escalated here) are not counted.
    let old = old.filter(|c| counted(home.as_deref(), c));
    let new = new.filter(|c| counted(home.as_deref(), c));
    if old.is_none() && new.is_none() {
        return Ok(());
    }
    let mut table = txn.open_table(TOTALS)?;
    for year in years {
        let before = old.map(|c| (c.home.as_str(), Totals::of([c], year)));
        let after = new.map(|c| (c.home.as_str(), Totals::of([c], year)));
        if before == after {
            continue;
        }
        if let Some((home, t)) = before {
            let mut kept = read_totals(&table, year, home)?.unwrap_or_default();
            kept.subtract(&t);
            write_totals(&mut table, year, home, &kept)?;
        }
        if let Some((home, t)) = after {
            let mut kept = read_totals(&table, year, home)?.unwrap_or_default();
            kept.add(&t);
            write_totals(&mut table, year, home, &kept)?;
        }
    }
    Ok(())
}

/// Every home node's totals for each of `years`, counted from the listing index.
pub(crate) fn count(
    txn: &impl CaseIndex,
    years: &[i16],
    home: Option<&str>,
) -> Result<BTreeMap<(i16, String), Totals>> {
    let mut out: BTreeMap<(i16, String), Totals> = BTreeMap::new();
    txn.each_summary(&mut |c| {
        if !counted(home, &c) {
            return Ok(());
        }
        for &year in years {
            out.entry((year, c.home.clone()))
                .or_default()
                .add(&Totals::of([&c], year));
        }
        Ok(())
    })?;
    out.retain(|_, t| *t != Totals::default());
    Ok(out)
}

/// Reads every listing index entry that can be read, in id order (a damaged one is left out
/// here: `hearth check` names it and its repair rebuilds these indexes).
pub(crate) trait CaseIndex {
    fn each_summary(&self, f: &mut dyn FnMut(CaseSummary) -> Result<()>) -> Result<()>;
}

impl CaseIndex for WriteTransaction {
    fn each_summary(&self, f: &mut dyn FnMut(CaseSummary) -> Result<()>) -> Result<()> {
        each_in(&self.open_table(CASE_INDEX)?, f)
    }
}

impl CaseIndex for redb::ReadTransaction {
    fn each_summary(&self, f: &mut dyn FnMut(CaseSummary) -> Result<()>) -> Result<()> {
        each_in(&self.open_table(CASE_INDEX)?, f)
    }
}

fn each_in(
    index: &impl ReadableTable<&'static str, &'static str>,
    f: &mut dyn FnMut(CaseSummary) -> Result<()>,
) -> Result<()> {
    for entry in index.iter()? {
        let (id, json) = entry?;
        if let Ok(c) = parse_summary(id.value(), json.value()) {
            f(c)?;
        }
    }
    Ok(())
}

/// Builds the derived indexes afresh from the listing index, counting `year` (and the years
/// already kept, up to [`YEARS_KEPT`]).
pub(crate) fn rebuild(txn: &WriteTransaction, year: i16) -> Result<()> {
    txn.open_table(ORDER)?.retain(|_, ()| false)?;
    {
        let mut order = txn.open_table(ORDER)?;
        txn.each_summary(&mut |c| {
            for sort in Sort::ALL {
                order.insert(order_key(sort, &c).as_str(), ())?;
            }
            Ok(())
        })?;
    }
    recount(txn, year)?;
    txn.open_table(META)?
        .insert(VERSION_KEY, VERSION.to_be_bytes().as_slice())?;
    Ok(())
}

/// Counts the totals afresh from the listing index for `year` and the years already kept (up
/// to [`YEARS_KEPT`]); the listing orders, which no year changes, stay as they are.
pub(crate) fn recount(txn: &WriteTransaction, year: i16) -> Result<()> {
    let (mut keep, home) = {
        let meta = txn.open_table(META)?;
        // A damaged list of years is counted again from this year.
        (years(&meta).unwrap_or_default(), counted_home(&meta)?)
    };
    keep.push(year);
    keep.sort_unstable();
    keep.dedup();
    let keep = keep.split_off(keep.len().saturating_sub(YEARS_KEPT));
    let counted = count(txn, &keep, home.as_deref())?;
    let mut table = txn.open_table(TOTALS)?;
    table.retain(|_, _| false)?;
    for ((y, home), t) in &counted {
        write_totals(&mut table, *y, home, t)?;
    }
    let bytes: Vec<u8> = keep.iter().flat_map(|y| y.to_be_bytes()).collect();
    txn.open_table(META)?.insert(YEARS_KEY, bytes.as_slice())?;
    Ok(())
}

/// Whether the derived indexes agree with the listing index: every case under each order's key
/// and nothing else, and every kept year's totals as a recount gives them. The first
/// difference found, if any.
pub(crate) fn differences(txn: &redb::ReadTransaction) -> Result<Option<String>> {
    let meta = txn.open_table(META)?;
    let kept = years(&meta)?;
    let order = txn.open_table(ORDER)?;
    let mut cases = 0u64;
    let mut missing = None;
    txn.each_summary(&mut |c| {
        cases += 1;
        for sort in Sort::ALL {
            if missing.is_none() && order.get(order_key(sort, &c).as_str())?.is_none() {
                missing = Some(format!(
                    "case {} is missing from the {} order",
                    c.id,
                    sort.code()
                ));
            }
        }
        Ok(())
    })?;
    if let Some(m) = missing {
        return Ok(Some(m));
    }
    let listed = redb::ReadableTableMetadata::len(&order)?;
    if listed != cases * Sort::ALL.len() as u64 {
        return Ok(Some(format!(
            "the listing orders hold {listed} keys for {cases} cases"
        )));
    }
    let counted = count(txn, &kept, counted_home(&meta)?.as_deref())?;
    let table = txn.open_table(TOTALS)?;
    let mut kept_entries = 0usize;
    for entry in table.iter()? {
        let (key, _) = entry?;
        let (year, home) = key.value();
        kept_entries += 1;
        let kept = read_totals(&table, year, home)?;
        if kept.as_ref() != counted.get(&(year, home.to_owned())) {
            return Ok(Some(format!(
                "the totals of {home} for {year} differ from a recount"
            )));
        }
    }
    if kept_entries != counted.len() {
        return Ok(Some("totals are missing for some home nodes".into()));
    }
    Ok(None)
}
