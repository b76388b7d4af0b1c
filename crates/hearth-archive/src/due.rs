//! Dynamic management (动态管理): what the cases held at a node need — annual reviews due,
//! households that may be lifted out of hardship, loans overdue.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::codes::Status;
use crate::money::format_yuan;
use crate::view::CaseSummary;

/// A case that needs attention, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueCase {
    /// Case id.
    pub id: String,
    /// Worker's name (local display).
    pub name: Option<String>,
    /// Status.
    pub status: Status,
    /// What is due, e.g. "last annual review 2025-03-02".
    pub detail: String,
}

/// Dynamic management (动态管理): what the cases held here need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// Filed cases with no annual review in the last 12 months.
    pub review_due: Vec<DueCase>,
    /// Filed cases whose income per person was above the subsistence line six months in a row.
    pub lift_eligible: Vec<DueCase>,
    /// Loans past their due date with money outstanding.
    pub loans_overdue: Vec<DueCase>,
}

/// Which list of [`Due`] a case is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueKind {
    /// No annual review in the last 12 months.
    ReviewDue,
    /// Above the line long enough to be lifted.
    LiftEligible,
    /// A loan past its due date.
    LoanOverdue,
}

impl DueKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [DueKind; 3] = [
        DueKind::ReviewDue,
        DueKind::LiftEligible,
        DueKind::LoanOverdue,
    ];

    /// `review_due`, `lift_eligible` or `loan_overdue`.
    pub fn code(self) -> &'static str {
        match self {
            DueKind::ReviewDue => "review_due",
            DueKind::LiftEligible => "lift_eligible",
            DueKind::LoanOverdue => "loan_overdue",
        }
    }
}

impl std::str::FromStr for DueKind {
    type Err = String;

    fn from_str(s: &str) -> Result<DueKind, String> {
        DueKind::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| format!("no list of due cases is called {s:?}"))
    }
}

/// Months in a row above the subsistence line after which a household may be lifted.
pub const LIFT_AFTER_MONTHS: u32 = 6;

impl Due {
    /// Every case on the lists, with its list, in the order listed.
    pub fn into_items(self) -> Vec<(DueKind, DueCase)> {
        let tag = |kind, v: Vec<DueCase>| v.into_iter().map(move |c| (kind, c));
        tag(DueKind::ReviewDue, self.review_due)
            .chain(tag(DueKind::LiftEligible, self.lift_eligible))
            .chain(tag(DueKind::LoanOverdue, self.loans_overdue))
            .collect()
    }

    /// The lists that `items` (as [`Due::into_items`] gives them) make up.
    pub fn from_items(items: impl IntoIterator<Item = (DueKind, DueCase)>) -> Due {
        let mut due = Due::default();
        for (kind, c) in items {
            match kind {
                DueKind::ReviewDue => due.review_due.push(c),
                DueKind::LiftEligible => due.lift_eligible.push(c),
                DueKind::LoanOverdue => due.loans_overdue.push(c),
            }
        }
        due
    }

    /// What is due on `today` among `cases` (listing summaries, in the order to list them).
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseSummary>, today: Date) -> Due {
        let mut due = Due::default();
        for c in cases {
            due.add(c, today);
        }
        due
    }

    /// Adds to these lists what is due of case `c` on `today` (cases added in the order to
    /// list them): what [`Due::of`] does for each case, for a caller reading the cases one by
    /// one.
    pub fn add(&mut self, c: &CaseSummary, today: Date) {
        let year_ago = today.saturating_sub(jiff::Span::new().years(1));
        let due = self;
        let row = |detail: String| DueCase {
            id: c.id.clone(),
            name: c.name.clone(),
            status: c.status,
            detail,
        };
        if c.status == Status::Filed {
            let since = c.last_review.or(c.entered.get(&Status::Filed).copied());
            if since.is_none_or(|d| d <= year_ago) {
                due.review_due.push(row(match (c.last_review, since) {
                    (Some(r), _) => format!("last annual review {r}"),
                    (None, Some(f)) => format!("filed {f}, never reviewed"),
                    (None, None) => "never reviewed".to_owned(),
                }));
            }
            if let Some((months, last)) = &c.above_line
                && *months >= LIFT_AFTER_MONTHS
            {
                due.lift_eligible.push(row(format!(
                    "income per person above the line {months} months in a row, to {last}"
                )));
            }
        }
        for (loan, due_date, outstanding) in &c.open_loans {
            if let Some(d) = due_date.filter(|d| *d < today) {
                due.loans_overdue.push(row(format!(
                    "loan {loan} due {d}, {} outstanding",
                    format_yuan(*outstanding)
                )));
            }
        }
    }
}
