//! The orders a case listing comes in, each as a text key of a case's summary: the store keeps
//! an index of every case under each order's key, so that a page of a listing is a range of
//! that index, and a page token is the key of the page's last case.

use crate::error::ArchiveError;
use crate::view::CaseSummary;

/// An order of a case listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sort {
    /// Oldest opened first (the default).
    Opened,
    /// By the worker's name; cases without one last.
    Name,
    /// By status, in the lifecycle's order.
    Status,
    /// Deepest grade first; ungraded last.
    Grade,
    /// Earliest filing day first; never filed last.
    Filed,
    /// Most aid paid first.
    Aid,
}

impl Sort {
    /// Every order, as the store indexes them.
    pub const ALL: [Sort; 6] = [
        Sort::Opened,
        Sort::Name,
        Sort::Status,
        Sort::Grade,
        Sort::Filed,
        Sort::Aid,
    ];

    /// The order's code, as a person types it (`case list --sort name`).
    pub fn code(self) -> &'static str {
        match self {
            Sort::Opened => "opened",
            Sort::Name => "name",
            Sort::Status => "status",
            Sort::Grade => "grade",
            Sort::Filed => "filed",
            Sort::Aid => "aid",
        }
    }

    /// The order a person named; empty is the default.
    pub fn parse(text: &str) -> Result<Sort, ArchiveError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Sort::Opened);
        }
        Sort::ALL
            .into_iter()
            .find(|s| s.code() == text)
            .ok_or_else(|| ArchiveError::Invalid {
                field: "sort order",
                reason: format!(
                    "cannot sort by {text:?}; sort by one of {}",
                    Sort::ALL.map(Sort::code).join(", ")
                ),
            })
    }

    /// The key of `c` in this order: keys compare as texts in the listing's order, and each
    /// ends with the case's opening key, so no two cases share one.
    pub fn key(self, c: &CaseSummary) -> String {
        let opened = opened_key(c);
        match self {
            Sort::Opened => opened,
            // Names compare by their characters; the space after sorts before any other a
            // name holds, so a name comes before the longer names it begins.
            Sort::Name => format!("{} {opened}", c.name.as_deref().unwrap_or("\u{10ffff}")),
            Sort::Status => format!("{:02}/{opened}", c.status.number()),
            Sort::Grade => format!("{:02}/{opened}", c.grade.map_or(99, |g| g.number())),
            Sort::Filed => {
                let day = c
                    .filed_on
                    .map_or_else(|| "9999-99-99".to_owned(), |d| d.to_string());
                format!("{day}/{opened}")
            }
            // Most aid first: the amount counted down from the most there can be.
            Sort::Aid => format!("{:020}/{opened}", i64::MAX - c.assistance_total_fen.max(0)),
        }
    }
}

/// The key of `c` in opening order: the opening time in nanoseconds, shifted to be positive and
/// zero-padded so that text order is time order, then the id.
fn opened_key(c: &CaseSummary) -> String {
    let at = c.created_at.map_or(0, |t| t.as_nanosecond());
    format!("{:040}/{}", at + (1i128 << 100), c.id)
}
