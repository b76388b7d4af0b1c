//! Aggregates up (汇总): each node's summary of its own cases plus its children's summaries. A
//! summary flows to the node's parents; raw cases do not, so a municipal federation sees the
//! totals of everything below it without holding the cases that were never escalated.
//!
//! Each case is counted once, at its home node. State counts (status, grade, cause) are of every
//! case on file now; money, people helped and visits are those of the calendar year; "this year"
//! counts are of cases that entered the status during it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceKind, Cause, Grade, Level, Status};
use crate::view::CaseSummary;

/// The key of the one entry of a summary record.
pub const SUMMARY_ENTRY: &str = "current";

/// Counts and sums over a set of cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Cases.
    pub cases: u64,
    /// Cases by status.
    pub by_status: BTreeMap<Status, u64>,
    /// Households in hardship on file now (filed, not lifted or closed) by grade in force.
    pub by_grade: BTreeMap<Grade, u64>,
    /// Households in hardship on file now by primary cause.
    pub by_cause: BTreeMap<Cause, u64>,
    /// Aid paid this year, by kind.
    pub paid_fen: BTreeMap<AssistanceKind, i64>,
    /// Households that received aid this year.
    pub households_helped: u64,
    /// People in those households.
    pub people_helped: u64,
    /// Visits this year.
    pub visits: u64,
    /// Cases put on file in the year (by their filing day: an import's is its file's).
    pub filed_this_year: u64,
    /// Filed cases lifted out of hardship in the year.
    pub lifted_this_year: u64,
    /// Filed cases closed in the year.
    pub closed_this_year: u64,
    /// Households on file at the start of the year.
    #[serde(default)]
    pub start_of_year: u64,
    /// Households on file at the end of the year (for the current year: now).
    #[serde(default)]
    pub end_of_year: u64,
    /// Households in hardship on file now: filed, not lifted or closed.
    #[serde(default)]
    pub in_hardship: u64,
    /// Cases whose filing day is only the day they were imported.
    #[serde(default)]
    pub filed_on_estimated: u64,
    /// Cases filed, lifted and closed in each month of the year (January first); all zero in
    /// a summary from before months were counted.
    #[serde(default)]
    pub filed_by_month: [u64; 12],
    /// Cases lifted out of hardship in each month of the year.
    #[serde(default)]
    pub lifted_by_month: [u64; 12],
    /// Cases closed in each month of the year.
    #[serde(default)]
    pub closed_by_month: [u64; 12],
    /// Aid paid in each month of the year, by kind.
    #[serde(default)]
    pub paid_by_month_fen: BTreeMap<AssistanceKind, [i64; 12]>,
}

impl Totals {
    /// The totals of `cases` for calendar year `year`.
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseSummary>, year: i16) -> Totals {
        let mut t = Totals::default();
        let start = jiff::civil::date(year, 1, 1);
        let next = jiff::civil::date(year.saturating_add(1), 1, 1);
        for c in cases {
            t.cases += 1;
            *t.by_status.entry(c.status).or_default() += 1;
            if c.in_hardship() {
                t.in_hardship += 1;
                if let Some(g) = c.grade {
                    *t.by_grade.entry(g).or_default() += 1;
                }
                if let Some(cause) = c.primary_cause {
                    *t.by_cause.entry(cause).or_default() += 1;
                }
            }
            t.start_of_year += u64::from(c.on_file_at(start));
            t.end_of_year += u64::from(c.on_file_at(next));
            t.filed_on_estimated += u64::from(c.filed_on.is_some() && c.filed_on_estimated);
            if let Some(paid) = c.aid_by_year.get(&year) {
                for (kind, fen) in paid {
                    *t.paid_fen.entry(*kind).or_default() += fen;
                }
                t.households_helped += 1;
                t.people_helped += u64::try_from(c.household_size.unwrap_or(1)).unwrap_or(1);
            }
            t.visits += u64::from(c.visits_by_year.get(&year).copied().unwrap_or(0));
            t.filed_this_year += u64::from(c.filed_on.is_some_and(|d| d.year() == year));
            let out = |s: Status| {
                c.exited
                    .is_some_and(|(d, how)| how == s && d.year() == year)
            };
            t.lifted_this_year += u64::from(out(Status::Lifted));
            t.closed_this_year += u64::from(out(Status::Closed));
            let month = |d: jiff::civil::Date| usize::try_from(d.month() - 1).unwrap_or(0);
            if let Some(d) = c.filed_on.filter(|d| d.year() == year) {
                t.filed_by_month[month(d)] += 1;
            }
            if let Some((d, how)) = c.exited.filter(|(d, _)| d.year() == year) {
                match how {
                    Status::Lifted => t.lifted_by_month[month(d)] += 1,
                    Status::Closed => t.closed_by_month[month(d)] += 1,
                    _ => {}
                }
            }
            for (yyyymm, kinds) in &c.aid_by_month {
                if i64::from(*yyyymm / 100) != i64::from(year) {
                    continue;
                }
                let m = usize::try_from((*yyyymm % 100).clamp(1, 12) - 1).unwrap_or(0);
                for (kind, fen) in kinds {
                    t.paid_by_month_fen.entry(*kind).or_default()[m] += fen;
                }
            }
        }
        t.tidy();
        t
    }

    /// Takes `other` (the totals of some of the cases these count) out of this: what a node
    /// keeps counted is changed by the old figures of a case taken out and its new ones added.
    pub fn subtract(&mut self, other: &Totals) {
        fn unmerge<K: Ord + Copy, V: std::ops::SubAssign + Copy + Default>(
            a: &mut BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
        ) {
            for (k, v) in b {
                *a.entry(*k).or_default() -= *v;
            }
        }
        // Counts never go below zero: a count kept wrong (a bug, a damaged store) shows as
        // too high, and `hearth check` finds it against a recount.
        fn less(a: &mut u64, b: u64) {
            *a = a.saturating_sub(b);
        }
        fn less_counts<K: Ord + Copy>(a: &mut BTreeMap<K, u64>, b: &BTreeMap<K, u64>) {
            for (k, v) in b {
                let n = a.entry(*k).or_default();
                *n = n.saturating_sub(*v);
            }
        }
        less(&mut self.cases, other.cases);
        less_counts(&mut self.by_status, &other.by_status);
        less_counts(&mut self.by_grade, &other.by_grade);
        less_counts(&mut self.by_cause, &other.by_cause);
        unmerge(&mut self.paid_fen, &other.paid_fen);
        less(&mut self.households_helped, other.households_helped);
        less(&mut self.people_helped, other.people_helped);
        less(&mut self.visits, other.visits);
        less(&mut self.filed_this_year, other.filed_this_year);
        less(&mut self.lifted_this_year, other.lifted_this_year);
        less(&mut self.closed_this_year, other.closed_this_year);
        less(&mut self.start_of_year, other.start_of_year);
        less(&mut self.end_of_year, other.end_of_year);
        less(&mut self.in_hardship, other.in_hardship);
        less(&mut self.filed_on_estimated, other.filed_on_estimated);
        for m in 0..12 {
            less(&mut self.filed_by_month[m], other.filed_by_month[m]);
            less(&mut self.lifted_by_month[m], other.lifted_by_month[m]);
            less(&mut self.closed_by_month[m], other.closed_by_month[m]);
        }
        for (kind, months) in &other.paid_by_month_fen {
            let mine = self.paid_by_month_fen.entry(*kind).or_default();
            for m in 0..12 {
                mine[m] -= months[m];
            }
        }
        self.tidy();
    }

    /// Leaves out the entries that count nothing, so that totals kept by adding and
    /// subtracting compare equal to the same totals counted afresh.
    fn tidy(&mut self) {
        self.by_status.retain(|_, n| *n != 0);
        self.by_grade.retain(|_, n| *n != 0);
        self.by_cause.retain(|_, n| *n != 0);
        self.paid_fen.retain(|_, fen| *fen != 0);
        self.paid_by_month_fen
            .retain(|_, months| months.iter().any(|fen| *fen != 0));
    }

    /// Adds `other` into this.
    pub fn add(&mut self, other: &Totals) {
        fn merge<K: Ord + Copy, V: std::ops::AddAssign + Copy + Default>(
            a: &mut BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
        ) {
            for (k, v) in b {
                *a.entry(*k).or_default() += *v;
            }
        }
        self.cases += other.cases;
        merge(&mut self.by_status, &other.by_status);
        merge(&mut self.by_grade, &other.by_grade);
        merge(&mut self.by_cause, &other.by_cause);
        merge(&mut self.paid_fen, &other.paid_fen);
        self.households_helped += other.households_helped;
        self.people_helped += other.people_helped;
        self.visits += other.visits;
        self.filed_this_year += other.filed_this_year;
        self.lifted_this_year += other.lifted_this_year;
        self.closed_this_year += other.closed_this_year;
        self.start_of_year += other.start_of_year;
        self.end_of_year += other.end_of_year;
        self.in_hardship += other.in_hardship;
        self.filed_on_estimated += other.filed_on_estimated;
        for m in 0..12 {
            self.filed_by_month[m] += other.filed_by_month[m];
            self.lifted_by_month[m] += other.lifted_by_month[m];
            self.closed_by_month[m] += other.closed_by_month[m];
        }
        for (kind, months) in &other.paid_by_month_fen {
            let mine = self.paid_by_month_fen.entry(*kind).or_default();
            for m in 0..12 {
                mine[m] += months[m];
            }
        }
        self.tidy();
    }

    /// Aid paid this year, all kinds.
    pub fn paid_total_fen(&self) -> i64 {
        self.paid_fen.values().sum()
    }

    /// Whether these figures can be true: within [`MAX_CASES`] and
    /// [`crate::money::MAX_FEN`], no money below zero, and no part larger than the whole
    /// (statuses add up to the cases; grades, causes, households helped and the year's counts
    /// are at most that many; people helped at most a full household each).
    pub fn check(&self) -> Result<(), String> {
        let cases = self.cases;
        if cases > MAX_CASES {
            return Err(format!("{cases} cases, more than {MAX_CASES}"));
        }
        let within = |what: &str, n: u64, most: u64| {
            if n > most {
                Err(format!("{what} {n}, more than the {most} the cases allow"))
            } else {
                Ok(())
            }
        };
        fn sum<K>(m: &BTreeMap<K, u64>) -> Option<u64> {
            m.values().try_fold(0u64, |a, v| a.checked_add(*v))
        }
        if sum(&self.by_status) != Some(cases) {
            return Err(format!(
                "cases by status do not add up to the {cases} cases"
            ));
        }
        within(
            "graded cases",
            sum(&self.by_grade).unwrap_or(u64::MAX),
            cases,
        )?;
        within(
            "cases by cause",
            sum(&self.by_cause).unwrap_or(u64::MAX),
            cases,
        )?;
        within("households helped", self.households_helped, cases)?;
        let household = u64::from(crate::case::MAX_HOUSEHOLD);
        within(
            "people helped",
            self.people_helped,
            self.households_helped.saturating_mul(household),
        )?;
        within(
            "visits",
            self.visits,
            cases.saturating_mul(MAX_VISITS_A_YEAR),
        )?;
        within("cases filed this year", self.filed_this_year, cases)?;
        within("cases lifted this year", self.lifted_this_year, cases)?;
        within("cases closed this year", self.closed_this_year, cases)?;
        within("households on file at the start", self.start_of_year, cases)?;
        within("households on file at the end", self.end_of_year, cases)?;
        within("households in hardship", self.in_hardship, cases)?;
        within("estimated filing days", self.filed_on_estimated, cases)?;
        within(
            "graded households in hardship",
            sum(&self.by_grade).unwrap_or(u64::MAX),
            self.in_hardship,
        )?;
        if let Some((kind, fen)) = self
            .paid_fen
            .iter()
            .find(|(_, f)| !(0..=crate::money::MAX_FEN).contains(*f))
        {
            return Err(format!("{fen} fen of {} paid", kind.code()));
        }
        // The months come to at most the year: all of it in a summary that counts months,
        // less where a child from before months were counted adds its year but no months (an
        // upgrade window).
        for (what, months, year) in [
            ("filed", &self.filed_by_month, self.filed_this_year),
            ("lifted", &self.lifted_by_month, self.lifted_this_year),
            ("closed", &self.closed_by_month, self.closed_this_year),
        ] {
            let sum = months.iter().try_fold(0u64, |a, n| a.checked_add(*n));
            if sum.is_none_or(|sum| sum > year) {
                return Err(format!(
                    "cases {what} by month come to more than the {year} {what} this year"
                ));
            }
        }
        for (kind, months) in &self.paid_by_month_fen {
            if months
                .iter()
                .any(|f| !(0..=crate::money::MAX_FEN).contains(f))
            {
                return Err(format!("a month's {} paid is out of range", kind.code()));
            }
            let sum: i64 = months.iter().sum();
            if sum > self.paid_fen.get(kind).copied().unwrap_or(0) {
                return Err(format!(
                    "{} paid by month comes to more than the year's",
                    kind.code()
                ));
            }
        }
        Ok(())
    }
}

/// Most cases one summary may count: far above any federation's hardship files.
pub const MAX_CASES: u64 = 100_000_000;
/// Most children one summary may list.
pub const MAX_CHILDREN: usize = 10_000;
/// Most open conflicts one summary may carry up.
pub const MAX_BRIEFS: usize = 100_000;
/// Most visits one case is counted with in a year.
const MAX_VISITS_A_YEAR: u64 = 1000;

/// A node's summary: its own cases, each child's summary total, and the sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// The node.
    pub node: String,
    /// Its level.
    pub level: Level,
    /// The calendar year of the yearly figures.
    pub year: i16,
    /// When it was computed.
    pub as_of: Timestamp,
    /// Over the cases whose home is this node.
    pub own: Totals,
    /// Each child's total, from its own summary (children that sent none yet are absent).
    pub children: BTreeMap<String, Totals>,
    /// `own` plus every child's total.
    pub total: Totals,
    /// Open conflicts to be resolved at this node or below it, so that ancestors that hold
    /// none of their sides see them too.
    #[serde(default)]
    pub conflicts: Vec<ConflictBrief>,
}

/// An open conflict, as a summary carries it up: no values, only what and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConflictBrief {
    /// Conflict id.
    pub id: String,
    /// The case (or ledger).
    pub case: String,
    /// What it is about.
    pub field: String,
    /// The node that should resolve it.
    pub route: Option<String>,
}

impl NodeSummary {
    /// Sums `own` and `children`.
    pub fn new(
        node: &str,
        level: Level,
        year: i16,
        as_of: Timestamp,
        own: Totals,
        children: BTreeMap<String, Totals>,
    ) -> NodeSummary {
        let mut total = own.clone();
        for t in children.values() {
            total.add(t);
        }
        NodeSummary {
            node: node.to_owned(),
            level,
            year,
            as_of,
            own,
            children,
            total,
            conflicts: Vec::new(),
        }
    }

    /// Checks a summary received from `owner` before it counts anywhere: it is `owner`'s, of a
    /// year Hearth records, every part's figures can be true ([`Totals::check`]), and the total
    /// is its own cases plus its children's. Says what is wrong.
    pub fn check(&self, owner: &str) -> Result<(), String> {
        if self.node != owner {
            return Err(format!("it says it is the summary of {}", self.node));
        }
        crate::form::check_year("year", self.year).map_err(|e| e.to_string())?;
        if self.children.len() > MAX_CHILDREN || self.conflicts.len() > MAX_BRIEFS {
            return Err(format!(
                "{} children and {} conflicts, more than a summary may list",
                self.children.len(),
                self.conflicts.len()
            ));
        }
        self.own.check().map_err(|e| format!("own cases: {e}"))?;
        for (child, totals) in &self.children {
            if child.len() > crate::text::SHORT {
                return Err("a child's id is too long".into());
            }
            totals.check().map_err(|e| format!("child {child}: {e}"))?;
        }
        let mut sum = self.own.clone();
        for t in self.children.values() {
            sum.add(t);
        }
        if sum != self.total {
            return Err("its total is not its own cases plus its children's".into());
        }
        self.total.check().map_err(|e| format!("total: {e}"))?;
        for brief in &self.conflicts {
            let long = [&brief.id, &brief.case, &brief.field]
                .into_iter()
                .chain(brief.route.as_ref())
                .any(|t| t.len() > crate::text::REASON);
            if long {
                return Err("a conflict it lists has an overlong field".into());
            }
        }
        Ok(())
    }

    /// Whether the figures (not the time) differ.
    pub fn same_figures(&self, other: &NodeSummary) -> bool {
        self.year == other.year
            && self.level == other.level
            && self.own == other.own
            && self.children == other.children
            && self.conflicts == other.conflicts
    }
}
