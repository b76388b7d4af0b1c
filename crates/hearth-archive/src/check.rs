//! What a node checks of a document another node sent, before the document can reach the
//! index, the conflict queue or a commit (DESIGN §4a, isolation). The check runs on the copy the
//! received changes would produce; a document that fails is refused for that peer and nothing
//! of it is kept, so one bad document never stops the node's other work.
//!
//! - **Sizes.** No map or list with more entries than [`CASE_ENTRIES`] (a case) or
//!   [`RECORD_ENTRIES`] (a record), no text longer than [`crate::text::RECEIVED`] (a case) or
//!   [`RECORD_TEXT`] (a record entry), nothing nested deeper than [`DEPTH`].
//! - **Schema.** A case has every container, each field of its type, each coded field a known
//!   code, its id, its home among its participants, dates in [`crate::form::DATE_YEARS`] and money
//!   within [`crate::money::MAX_FEN`]; a record's every entry reads as its kind's entry (a
//!   policy version, a node summary with figures that can be true, a ledger entry).
//! - **Versions.** A document of a newer schema than this code knows is refused with
//!   [`ArchiveError::NewerSchema`] ("upgrade this node"); fields this code does not know are
//!   ignored, as additions of a newer minor version must be safe to ignore.

use automerge::{AutoCommit, ROOT};

use crate::case::{Case, MAX_HOUSEHOLD, SCHEMA};
use crate::doc::{Bounds, Snapshot, get_i64, get_str};
use crate::error::{ArchiveError, Result};
use crate::form::DATE_YEARS;
use crate::ledger::Entry;
use crate::money::MAX_FEN;
use crate::policy::Policy;
use crate::record::{DocId, RECORD_SCHEMA};
use crate::summary::{NodeSummary, SUMMARY_ENTRY};
use crate::view::CaseView;

/// Most entries in one map or list of a case (aid records, visits, members, …).
pub const CASE_ENTRIES: usize = 10_000;
/// Most entries in a record (ledger entries, policy versions).
pub const RECORD_ENTRIES: usize = 1_000_000;
/// Longest entry of a record, in bytes (a policy version lists subsistence lines by region).
pub const RECORD_TEXT: usize = 1 << 20;
/// Deepest nesting of objects in any document.
pub const DEPTH: usize = 8;

/// The newest schemas this code reads, as one number that grows with either: a node whose
/// number grew since it last ran reconciles with its neighbours once, to take what it refused
/// as too new before.
pub const SCHEMAS: u64 = (SCHEMA as u64) * 1000 + RECORD_SCHEMA as u64;

fn implausible(what: impl Into<String>) -> ArchiveError {
    ArchiveError::Implausible(what.into())
}

/// What the checks read of a document that passed them: a case's whole view, which storing
/// the case needs next ([`Case::with_checked_view`]).
#[derive(Debug)]
pub struct Checked(Option<CaseView>);

impl Checked {
    /// The case's view (none for a record).
    pub fn into_view(self) -> Option<CaseView> {
        self.0
    }
}

/// Checks a document received from another node as document `id` (see the module doc).
pub fn received(id: &str, doc: &AutoCommit) -> Result<Checked> {
    let kind = get_str(doc, &ROOT, "kind")?;
    let schema = get_i64(doc, &ROOT, "schema")?;
    let (what, known, bounds) = match DocId::of(id) {
        DocId::Case => (
            "case",
            SCHEMA,
            Bounds {
                entries: CASE_ENTRIES,
                text: crate::text::RECEIVED,
                depth: DEPTH,
            },
        ),
        record => (
            record.record_kind().map_or("record", |k| k.code()),
            RECORD_SCHEMA,
            Bounds {
                entries: RECORD_ENTRIES,
                text: RECORD_TEXT,
                depth: DEPTH,
            },
        ),
    };
    if kind.as_deref() != Some(what) {
        return Err(ArchiveError::Schema(format!(
            "{id} should be a {what} but says it is {}",
            kind.as_deref().unwrap_or("nothing")
        )));
    }
    match schema {
        Some(found) if found > known => {
            return Err(ArchiveError::NewerSchema { what, found, known });
        }
        Some(found) if found >= 1 => {}
        _ => return Err(ArchiveError::Schema(format!("{id} has no schema version"))),
    }
    if get_str(doc, &ROOT, "id")?.as_deref() != Some(id) {
        return Err(ArchiveError::Schema(format!("{id} says it has another id")));
    }
    let snapshot = Snapshot::new(doc);
    snapshot.bounded(bounds)?;
    match DocId::of(id) {
        DocId::Case => {
            let view = Case::view_from(&snapshot)?;
            case(&view)?;
            return Ok(Checked(Some(view)));
        }
        DocId::Policy => {
            for (key, policy) in crate::record::entries_of::<Policy>(doc)? {
                check_policy(&key, &policy)?;
            }
        }
        DocId::Summary(owner) => {
            for (key, summary) in crate::record::entries_of::<NodeSummary>(doc)? {
                if key != SUMMARY_ENTRY {
                    return Err(implausible(format!("a summary entry named {key:?}")));
                }
                summary
                    .check(owner)
                    .map_err(|e| implausible(format!("the summary of {owner}: {e}")))?;
            }
        }
        DocId::Ledger(_) => {
            for (_, entry) in crate::record::entries_of::<Entry>(doc)? {
                entry.check()?;
            }
        }
    }
    Ok(Checked(None))
}

/// The checks of a case that its types alone do not make.
fn case(v: &CaseView) -> Result<()> {
    if v.home.is_empty() || !v.participants.contains(&v.home) {
        return Err(ArchiveError::Schema(
            "the case's home is not among its participants".into(),
        ));
    }
    if let Some(size) = v.household.size
        && !(1..=i64::from(MAX_HOUSEHOLD)).contains(&size)
    {
        return Err(implausible(format!("a household of {size}")));
    }
    let f = &v.finances;
    let figures = [
        f.annual_income_fen,
        f.rigid_spending_fen,
        f.hardship_costs_fen,
        f.subsistence_line_fen,
        f.medical_costs_fen,
        f.largest_stay_fen,
        f.aid_request_fen,
        f.compensation_fen,
    ];
    let monthly = f.monthly_income_fen.values().map(|m| Some(*m));
    if figures
        .into_iter()
        .chain(monthly)
        .flatten()
        .any(|fen| !(0..=MAX_FEN).contains(&fen))
    {
        return Err(implausible("a money figure out of range"));
    }
    let amounts = v
        .assistance
        .iter()
        .map(|a| a.amount_fen)
        .chain(v.loans.iter().map(|l| l.principal_fen))
        .chain(
            v.loans
                .iter()
                .flat_map(|l| l.repayments.iter().map(|r| r.amount_fen)),
        )
        .chain(v.approvals.iter().filter_map(|a| a.amount_fen));
    for fen in amounts {
        if !(1..=MAX_FEN).contains(&fen) {
            return Err(implausible(format!("a record of {fen} fen")));
        }
    }
    let dates = v
        .assistance
        .iter()
        .map(|a| a.date)
        .chain(v.loans.iter().flat_map(|l| {
            std::iter::once(l.date)
                .chain(l.due_date)
                .chain(l.repayments.iter().map(|r| r.date))
        }))
        .chain(v.visits.iter().map(|x| x.date))
        .chain(v.reviews.iter().map(|r| r.date))
        .chain(
            v.approvals
                .iter()
                .flat_map(|a| a.date.into_iter().chain(a.until)),
        )
        .chain(v.status_history.iter().filter_map(|c| c.on))
        .chain(v.filed_on);
    for date in dates {
        if !DATE_YEARS.contains(&date.year()) {
            return Err(implausible(format!("a record dated {date}")));
        }
    }
    if v.worker
        .birth_year
        .is_some_and(|y| !(1900..=2100).contains(&y))
    {
        return Err(implausible("a birth year out of range"));
    }
    Ok(())
}

/// A policy version must have its levels and no money below zero or above
/// [`crate::money::MAX_FEN`] (a level's authority may be unlimited, `i64::MAX`).
fn check_policy(key: &str, p: &Policy) -> Result<()> {
    let amounts = p
        .subsistence_lines_fen
        .values()
        .chain(p.yearly_caps_fen.values())
        .chain(p.authority_fen.values().filter(|f| **f != i64::MAX))
        .chain([
            &p.one_off_cap_fen,
            &p.escalation.medical_yearly_fen,
            &p.escalation.medical_stay_fen,
            &p.loan_limit_fen,
        ]);
    if p.levels.is_empty() {
        return Err(implausible(format!("policy {key} has no levels")));
    }
    // The bounds a top node's `policy set` enforces too.
    if let Err(reason) = p.check_bounds() {
        return Err(implausible(format!(
            "policy {key} has a setting out of range: {reason}"
        )));
    }
    for fen in amounts {
        if !(0..=MAX_FEN).contains(fen) {
            return Err(implausible(format!("policy {key} holds {fen} fen")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;

    fn editor() -> crate::Editor {
        crate::Editor {
            node: "demo.team-1".into(),
            by: "tester".into(),
            at: jiff::Timestamp::from_second(1_780_000_000).unwrap(),
            today: jiff::civil::date(2026, 5, 28),
        }
    }

    fn sample() -> AutoCommit {
        let actor = crate::actor_id("demo.team-1", &[1; 8]);
        let case = Case::create_legacy(
            "0123456789abcdef",
            "demo.team-1",
            actor,
            &editor(),
            &crate::CaseFields::sample(1),
        )
        .unwrap();
        case.into_doc()
    }

    #[test]
    fn an_honest_case_passes_and_poisoned_ones_are_refused() {
        let id = "0123456789abcdef";
        received(id, &sample()).unwrap();

        type Poison = Box<dyn Fn(&mut AutoCommit)>;
        let poisons: Vec<(&str, Poison)> = vec![
            (
                "status is missing",
                Box::new(|d| d.delete(ROOT, "status").unwrap()),
            ),
            (
                "unknown code",
                Box::new(|d| d.put(ROOT, "status", "vanished").unwrap()),
            ),
            (
                "not text",
                Box::new(|d| {
                    let w = d.get(ROOT, "worker").unwrap().unwrap().1;
                    d.put(&w, "name", 7).unwrap();
                }),
            ),
            (
                "newer than the 1",
                Box::new(|d| d.put(ROOT, "schema", 2).unwrap()),
            ),
            (
                "text of 20000 bytes",
                Box::new(|d| {
                    let w = d.get(ROOT, "worker").unwrap().unwrap().1;
                    d.put(&w, "address", "x".repeat(20_000)).unwrap();
                }),
            ),
            (
                "money figure",
                Box::new(|d| {
                    let f = d.get(ROOT, "finances").unwrap().unwrap().1;
                    d.put(&f, "annual_income_fen", i64::MAX).unwrap();
                }),
            ),
            (
                "home is not among",
                Box::new(|d| d.put(ROOT, "home", "demo.team-2").unwrap()),
            ),
            (
                "another id",
                Box::new(|d| d.put(ROOT, "id", "ffffffffffffffff").unwrap()),
            ),
        ];
        for (expected, poison) in poisons {
            let mut doc = sample();
            poison(&mut doc);
            doc.commit();
            let e = received(id, &doc).expect_err(expected).to_string();
            assert!(e.contains(expected), "{expected}: {e}");
        }
    }

    #[test]
    fn honest_records_pass() {
        let actor = crate::actor_id("demo.municipal", &[1; 8]);
        let mut policy = crate::Record::create("policy", actor.clone(), &editor()).unwrap();
        policy
            .put(&editor(), "v000001", &Policy::builtin())
            .unwrap();
        // A notice of four billion working days would hold a node counting them.
        let endless = Policy {
            notice_working_days: u32::MAX,
            ..Policy::builtin()
        };
        policy.put(&editor(), "v000002", &endless).unwrap();
        let e = received("policy", &policy.into_doc()).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let mut policy = crate::Record::create(
            "policy",
            crate::actor_id("demo.municipal", &[1; 8]),
            &editor(),
        )
        .unwrap();
        policy
            .put(&editor(), "v000001", &Policy::builtin())
            .unwrap();
        received("policy", &policy.into_doc()).unwrap();
        let mut ledger = crate::Record::create("ledger.demo.team-1", actor, &editor()).unwrap();
        let entry = Entry::Budget {
            year: 2026,
            amount_fen: 100,
            stamp: crate::ledger::Stamp {
                by: "x".into(),
                node: "demo.team-1".into(),
                at: editor().at,
            },
        };
        ledger.put(&editor(), "budget-2026", &entry).unwrap();
        received("ledger.demo.team-1", &ledger.into_doc()).unwrap();
    }

    #[test]
    fn a_summary_must_be_its_nodes_and_add_up() {
        use crate::summary::Totals;
        let actor = crate::actor_id("demo.team-1", &[1; 8]);
        let summary = |own: Totals| {
            NodeSummary::new(
                "demo.team-1",
                crate::Level::Team,
                2026,
                editor().at,
                own,
                Default::default(),
            )
        };
        let record = |s: &NodeSummary| {
            let mut r =
                crate::Record::create("summary.demo.team-1", actor.clone(), &editor()).unwrap();
            r.put(&editor(), SUMMARY_ENTRY, s).unwrap();
            r.into_doc()
        };
        let mut good = Totals {
            cases: 2,
            ..Totals::default()
        };
        good.by_status.insert(crate::Status::Filed, 2);
        received("summary.demo.team-1", &record(&summary(good.clone()))).unwrap();

        let mut huge = good.clone();
        huge.cases = 1_000_000_000_000;
        huge.by_status
            .insert(crate::Status::Filed, 1_000_000_000_000);
        let e = received("summary.demo.team-1", &record(&summary(huge))).unwrap_err();
        assert!(e.to_string().contains("more than 100000000"), "{e}");

        let mut rich = good.clone();
        rich.paid_fen
            .insert(crate::AssistanceKind::Living, i64::MAX);
        assert!(received("summary.demo.team-1", &record(&summary(rich))).is_err());

        let mut lying = summary(good);
        lying.total.cases = 5;
        assert!(received("summary.demo.team-1", &record(&lying)).is_err());
        // Another node's summary under this id.
        assert!(received("summary.demo.team-2", &record(&summary(Totals::default()))).is_err());
    }
}
