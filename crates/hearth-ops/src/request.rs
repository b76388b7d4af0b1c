//! One request, one reply, one [`execute`]: what every front end (the command line, the gRPC
//! API, the console) sends to a node.

use hearth_archive::conflict::QueueEntry;
use hearth_archive::due::{DueCase, DueKind};
use hearth_archive::ledger::{Disclosure, LedgerView};
use hearth_archive::listing::Sort;
use hearth_archive::policy::Advice;
use hearth_archive::summary::NodeSummary;
use hearth_archive::{CaseSummary, Policy};

use crate::import::ImportRow;
use crate::{
    AccountView, AccountWrite, AccountWritten, Cases, Ctx, FundWrite, ListFilter, OpError, Resolve,
    Result, Write, Written, policy,
};

/// A page of a listing to return: at most `size` items (default [`PAGE_DEFAULT`], at most
/// [`PAGE_MAX`]) after the item the token names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items; the default when `None` or 0.
    pub size: Option<u32>,
    /// Where the page starts: the `next` of the page before; the first page when `None`.
    pub token: Option<String>,
}

/// Items of a listing a page holds when the request does not say.
pub const PAGE_DEFAULT: u32 = 100;
/// The most items a page holds.
pub const PAGE_MAX: u32 = 1000;
/// The longest page token a listing gives (a sort key, a name among them, and an id).
const MAX_TOKEN: usize = 1000;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token of the next page; `None` on the last.
    pub next: Option<String>,
}

impl PageRequest {
    /// The page size and the token, checked.
    fn parts(&self) -> Result<(usize, Option<&str>)> {
        let size = match self.size {
            None | Some(0) => PAGE_DEFAULT,
            Some(n) => n.min(PAGE_MAX),
        } as usize;
        // A token is a listing's key: a sort key (a name among them) and an id, never blank
        // or with a control character.
        let after = self.token.as_deref().filter(|t| !t.trim().is_empty());
        if let Some(t) = after
            && (t.len() > MAX_TOKEN || t.chars().any(char::is_control))
        {
            return Err(OpError::input(
                "the page token is not one a listing gave; start again from the first page",
            ));
        }
        Ok((size, after))
    }
}

impl<T> Page<T> {
    /// The page `req` asks for of the cases in the order `sort`, each turned into an item by
    /// `item` (or left out when it gives `None`): read from the order's index only as far as
    /// the page goes, so the first page of a million cases costs a page's worth.
    pub fn scanned(
        cases: &mut impl Cases,
        sort: Sort,
        req: &PageRequest,
        mut item: impl FnMut(CaseSummary) -> Option<T>,
    ) -> Result<Page<T>> {
        Self::scanned_many(cases, sort, req, |c| item(c).into_iter().collect())
    }

    /// [`Page::scanned`] where a case may give several items: a case's items are all on one
    /// page, so a page may hold a case's worth more than its size.
    pub fn scanned_many(
        cases: &mut impl Cases,
        sort: Sort,
        req: &PageRequest,
        mut items_of: impl FnMut(CaseSummary) -> Vec<T>,
    ) -> Result<Page<T>> {
        let (size, after) = req.parts()?;
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        cases.scan(sort, after, &mut |key, c| {
            let found = items_of(c);
            if found.is_empty() {
                return true;
            }
            if items.len() >= size {
                more = true;
                return false;
            }
            items.extend(found);
            last = Some(key.to_owned());
            true
        })?;
        Ok(Page {
            items,
            next: last.filter(|_| more),
        })
    }

    /// The page `req` asks for of `items`, listed in the order of `key` (a text unique to each
    /// item): after the token, at most the page size.
    pub fn of(items: Vec<T>, req: &PageRequest, key: impl Fn(&T) -> String) -> Result<Page<T>> {
        let (size, after) = req.parts()?;
        // Listed in the order of the keys, whatever order the items came in: a page starts
        // right after the key of the last item of the page before.
        let mut keyed: Vec<(String, T)> = items.into_iter().map(|i| (key(&i), i)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rest = keyed
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|t| k.as_str() > t))
            .peekable();
        let page: Vec<(String, T)> = rest.by_ref().take(size).collect();
        let next = match (rest.peek(), page.last()) {
            (Some(_), Some((last, _))) => Some(last.clone()),
            _ => None,
        };
        Ok(Page {
            items: page.into_iter().map(|(_, i)| i).collect(),
            next,
        })
    }
}

/// What a person asks of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// One case (an id or a unique prefix), with what the policy says of it.
    GetCase { case: String },
    /// Every change made to a case: what, by whom, at which node, when.
    History { case: String },
    /// The cases held, oldest first, filtered, one page.
    ListCases {
        filter: ListFilter,
        page: PageRequest,
    },
    /// A change to one case, or a new case (boxed: a case form is large).
    Write(Box<Write>),
    /// Many new cases: all or none.
    Import { rows: Vec<ImportRow> },
    /// Reviews due, households that may be lifted, loans overdue: one page of them.
    Due { page: PageRequest },
    /// Cases the policy sends higher than anyone has escalated them: one page.
    Pending { page: PageRequest },
    /// The policy in force on a date (today when `None`), and every version.
    ShowPolicy { date: Option<String> },
    /// A new policy version, as TOML (at the top only).
    SetPolicy { toml: String },
    /// This node's summary now, with the yearly figures of `year` (this year when `None`).
    Stats { year: Option<String> },
    /// Cases with loans outstanding (borrowers), overdue first: one page.
    Loans { page: PageRequest },
    /// A fund ledger: this node's or a child's, for a year (this one when `None`).
    FundShow {
        node: Option<String>,
        year: Option<String>,
    },
    /// A write to this node's fund.
    Fund(FundWrite),
    /// What this node discloses for a year.
    Disclose { year: String },
    /// The conflict queue, newest first: open ones, or all; one page.
    Conflicts { all: bool, page: PageRequest },
    /// One conflict, by id or a unique prefix.
    Conflict { id: String },
    /// Resolves a conflict.
    Resolve { conflict: String, how: Resolve },
    /// A change to the node's accounts (an admin's).
    Account(AccountWrite),
    /// The node's accounts.
    Accounts,
    /// Who opened which case file, newest first: one page.
    AccessLog { page: PageRequest },
}

impl Request {
    /// Whether it writes a case or a fund: such a request is carried out once per request key,
    /// so that sending it again after a lost answer does not write twice.
    pub fn keyed(&self) -> bool {
        matches!(self, Request::Write(_) | Request::Fund(_))
    }
}

/// What a node answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A case read or written, with what the policy says of it (boxed: a case is large).
    Case {
        written: Box<Written>,
        advice: Advice,
    },
    /// A page of case summaries.
    Cases(Page<CaseSummary>),
    /// A case's id and its changes, oldest first.
    History {
        case: String,
        changes: Vec<hearth_archive::Change>,
    },
    /// The ids of the cases imported, in row order.
    Imported(Vec<String>),
    /// A page of what is due, each case with its list.
    Due(Page<(DueKind, DueCase)>),
    /// A page of the cases to escalate, with why.
    Pending(Page<(CaseSummary, Advice)>),
    /// The policy in force and every version held.
    Policy {
        in_force: Policy,
        versions: Vec<Policy>,
    },
    /// The policy version just set.
    PolicySet(Policy),
    /// A node summary.
    Stats(Box<NodeSummary>),
    /// A ledger; `repeated` when a keyed write had been made before.
    Ledger { ledger: LedgerView, repeated: bool },
    /// A disclosure.
    Disclosure(Disclosure),
    /// A page of conflicts, newest first.
    Conflicts(Page<QueueEntry>),
    /// One conflict.
    Conflict(QueueEntry),
    /// An account changed, and the password made for it (shown once).
    Account(AccountWritten),
    /// The node's accounts.
    Accounts(Vec<AccountView>),
    /// A page of the access log, newest first.
    AccessLog(Page<crate::AccessEntry>),
}

impl Reply {
    /// Whether it answers a write whose request key had been used already: nothing was written
    /// again.
    pub fn repeated(&self) -> bool {
        match self {
            Reply::Case { written, .. } => written.repeated,
            Reply::Ledger { repeated, .. } => *repeated,
            _ => false,
        }
    }

    /// What kind of reply it is, by name (for messages: the reply itself may hold personal
    /// data).
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Case { .. } => "case",
            Reply::Cases(_) => "cases",
            Reply::History { .. } => "history",
            Reply::Imported(_) => "imported",
            Reply::Due(_) => "due",
            Reply::Pending(_) => "pending",
            Reply::Policy { .. } => "policy",
            Reply::PolicySet(_) => "policy set",
            Reply::Stats(_) => "stats",
            Reply::Ledger { .. } => "ledger",
            Reply::Disclosure(_) => "disclosure",
            Reply::Conflicts(_) => "conflicts",
            Reply::Conflict(_) => "conflict",
            Reply::Account(_) => "account",
            Reply::Accounts(_) => "accounts",
            Reply::AccessLog(_) => "access log",
        }
    }
}

/// Carries out `request` for `ctx`; a write under request key `key` is made once.
pub fn execute(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    key: Option<&str>,
    request: Request,
) -> Result<Reply> {
    Ok(match request {
        Request::GetCase { case } => {
            let case = crate::get(cases, &case)?;
            crate::access::log_open(cases, ctx, &case.id)?;
            let advice = policy::advice_for(cases, ctx, &case)?;
            Reply::Case {
                written: Box::new(Written::read(case)),
                advice,
            }
        }
        Request::History { case } => {
            let case = cases.resolve(&case)?;
            let changes = cases.read(&case, |c| Ok(c.history()))?;
            Reply::History { case, changes }
        }
        Request::ListCases { filter, page } => {
            let sort = Sort::parse(filter.sort.as_deref().unwrap_or(""))?;
            let keep = crate::write::case_filter(Some(ctx.salt), &filter)?;
            let cases_found = match keep.identity_key() {
                // An ID number: the few archives of its household, from the identity index.
                Some(key) => {
                    let mut found = Vec::new();
                    for id in cases.with_identity(key)? {
                        found.extend(cases.summary(&id)?.filter(|c| keep.matches(c)));
                    }
                    Page::of(found, &page, |c| sort.key(c))?
                }
                None => Page::scanned(cases, sort, &page, |c| keep.matches(&c).then_some(c))?,
            };
            Reply::Cases(cases_found)
        }
        Request::Write(w) => {
            let written = crate::write_keyed(cases, ctx, key, *w)?;
            let advice = policy::advice_for(cases, ctx, &written.case)?;
            Reply::Case {
                written: Box::new(written),
                advice,
            }
        }
        Request::Import { rows } => Reply::Imported(crate::import(cases, ctx, &rows, &|| {})?),
        // Read a page's worth of cases at a time, in the listing order: the lists of each kind
        // come out in that order, as `due` gives them.
        Request::Due { page } => {
            let today = ctx.now.date();
            Reply::Due(Page::scanned_many(cases, Sort::Opened, &page, |c| {
                hearth_archive::due::Due::of([&c], today).into_items()
            })?)
        }
        Request::Pending { page } => {
            let policy = crate::policy_in_force(cases, ctx.editor().today)?;
            Reply::Pending(Page::scanned(cases, Sort::Opened, &page, |c| {
                policy::if_pending(&policy, ctx, c)
            })?)
        }
        Request::ShowPolicy { date } => {
            let date = match date {
                Some(d) => hearth_archive::form::parse_date("date", &d)?,
                None => ctx.now.date(),
            };
            let versions = crate::policy_versions(cases)?;
            Reply::Policy {
                in_force: Policy::in_force(&versions, date),
                versions,
            }
        }
        Request::SetPolicy { toml } => {
            let file = crate::parse_policy_file(&toml)?;
            Reply::PolicySet(crate::set_policy(cases, ctx, &file)?)
        }
        Request::Stats { year } => {
            Reply::Stats(Box::new(crate::stats(cases, ctx, year.as_deref())?))
        }
        Request::Loans { page } => {
            let today = ctx.now.date();
            Reply::Cases(Page::of(crate::borrowers(cases)?, &page, |c| {
                // Overdue first, then repeat borrowers, then the rest; oldest first in each.
                let rank = match (c.overdue_fen(today) > 0, c.loans > 1) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, _) => 2,
                };
                format!("{rank}/{}", Sort::Opened.key(c))
            })?)
        }
        Request::FundShow { node, year } => Reply::Ledger {
            ledger: crate::fund_show(cases, ctx, node.as_deref(), year.as_deref())?,
            repeated: false,
        },
        Request::Fund(w) => {
            let (ledger, repeated) = crate::fund_write_keyed(cases, ctx, key, w)?;
            Reply::Ledger { ledger, repeated }
        }
        Request::Disclose { year } => Reply::Disclosure(crate::disclosure(cases, ctx, &year)?),
        Request::Conflicts { all, page } => Reply::Conflicts(Page::of(
            crate::conflicts(cases, all)?,
            &page,
            // Newest first: the time counted down from the latest there can be.
            |c| {
                format!(
                    "{:020}/{}",
                    i128::from(i64::MAX) - i128::from(c.since),
                    c.id
                )
            },
        )?),
        Request::Conflict { id } => Reply::Conflict(crate::conflict(cases, &id)?),
        Request::Resolve { conflict, how } => {
            Reply::Conflict(crate::resolve_conflict(cases, ctx, &conflict, how)?)
        }
        Request::Account(w) => Reply::Account(crate::account_write(cases, ctx, w)?),
        Request::Accounts => Reply::Accounts(crate::accounts(cases)?),
        Request::AccessLog { page } => Reply::AccessLog(crate::access_log(cases, &page)?),
    })
}
