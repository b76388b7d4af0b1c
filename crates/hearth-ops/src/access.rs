//! The node's access log (查阅记录): who opened which case file, when. It holds the account and
//! the case id only, never the person's data, and stays at the node (it never syncs). Every
//! front end's case read goes through [`crate::execute`], which records it here; admins and
//! auditors read it.

use serde::{Deserialize, Serialize};

use crate::{Cases, Ctx, OpError, Page, PageRequest, Result};

/// One case file opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// When.
    pub at: jiff::Timestamp,
    /// The account (or, on the command line, the person `--by` names).
    pub account: String,
    /// The case id.
    pub case: String,
}

/// Records that `ctx`'s person opened case `case` now.
pub(crate) fn log_open(cases: &mut impl Cases, ctx: &Ctx<'_>, case: &str) -> Result<()> {
    let entry = AccessEntry {
        at: ctx.now.timestamp(),
        account: ctx.by.to_owned(),
        case: case.to_owned(),
    };
    let json = serde_json::to_string(&entry)
        .map_err(|e| OpError::Storage(format!("an access entry: {e}").into()))?;
    cases.log_access(&json)
}

/// One page of the access log, newest first.
pub fn access_log(cases: &mut impl Cases, page: &PageRequest) -> Result<Page<AccessEntry>> {
    let size = match page.size {
        None | Some(0) => crate::PAGE_DEFAULT,
        Some(n) => n.min(crate::PAGE_MAX),
    } as usize;
    let before = match page
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            OpError::input(
                "the page token is not one a listing gave; start again from the first page",
            )
        })?),
    };
    let mut rows = cases.access_log(before, size + 1)?;
    let more = rows.len() > size;
    rows.truncate(size);
    let next = more
        .then(|| rows.last().map(|(seq, _)| seq.to_string()))
        .flatten();
    let items = rows
        .into_iter()
        .map(|(seq, json)| {
            serde_json::from_str(&json).map_err(|e| {
                OpError::Storage(format!("access log entry {seq} is unreadable: {e}").into())
            })
        })
        .collect::<Result<Vec<AccessEntry>>>()?;
    Ok(Page { items, next })
}
