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

/// Months in a row above the subsistence line after which a household may be lifted.
pub const LIFT_AFTER_MONTHS: u32 = 6;

impl Due {
    /// What is due on `today` among `cases` (listing summaries, in the order to list them).
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseSummary>, today: Date) -> Due {
        let year_ago = today.saturating_sub(jiff::Span::new().years(1));
        let mut due = Due::default();
        for c in cases {
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
        due
    }
}
