//! A node's summary: its own cases and its children's summaries as last received.

use hearth_archive::Editor;
use hearth_archive::Level;
use hearth_archive::listing::Sort;
use hearth_archive::record::summary_id;
use hearth_archive::summary::{ConflictBrief, NodeSummary, SUMMARY_ENTRY, Totals};

use crate::{Cases, Ctx, OpError, Result};

/// This node's summary as of now, for the node in `ctx`, with the yearly figures of `year`
/// (default: this year). Children's summaries carry this year's figures only, so a past year
/// counts this node's own cases.
pub fn stats(cases: &mut impl Cases, ctx: &Ctx<'_>, year: Option<&str>) -> Result<NodeSummary> {
    let year = match year.filter(|y| !y.trim().is_empty()) {
        Some(y) => hearth_archive::form::parse_year("year", y)?,
        None => ctx.now.date().year(),
    };
    summary_of_year(
        cases,
        &ctx.place.node_id,
        ctx.place.level,
        &ctx.place.children,
        ctx.now,
        year,
    )
}

/// This node's summary as of now: its own cases (from the listing index) and its children's
/// summaries as last received.
pub fn current_summary(
    cases: &mut impl Cases,
    node: &str,
    level: Level,
    children: &[String],
    now: &jiff::Zoned,
) -> Result<NodeSummary> {
    summary_of_year(cases, node, level, children, now, now.date().year())
}

fn summary_of_year(
    cases: &mut impl Cases,
    node: &str,
    level: Level,
    children: &[String],
    now: &jiff::Zoned,
    year: i16,
) -> Result<NodeSummary> {
    let own = match cases.totals(node, year)? {
        Some(kept) => kept,
        // A year not kept counted: every case read once, one at a time.
        None => {
            let mut counted = Totals::default();
            cases.scan(Sort::Opened, None, &mut |_, c| {
                if c.home == node {
                    counted.add(&Totals::of([&c], year));
                }
                true
            })?;
            counted
        }
    };
    let mut received = std::collections::BTreeMap::new();
    let mut conflicts: Vec<ConflictBrief> = cases
        .conflicts()?
        .into_iter()
        .filter(|c| c.is_open() && c.route.as_deref() == Some(node))
        .map(|c| ConflictBrief {
            id: c.id,
            case: c.case,
            field: c.field,
            route: c.route,
        })
        .collect();
    for child in children {
        // A child's summary that cannot be read or whose figures cannot be true (a store
        // written before summaries were checked on receipt) counts as none: the node's own
        // figures and the other children's still add up.
        let summary = cases
            .read_record(&summary_id(child), |r| {
                Ok(r.get::<NodeSummary>(SUMMARY_ENTRY)?)
            })
            .map(Option::flatten)
            .and_then(|s| match s.map(|s| s.check(child).map(|()| s)) {
                Some(Err(why)) => Err(OpError::Input(why)),
                Some(Ok(s)) => Ok(Some(s)),
                None => Ok(None),
            });
        match summary {
            Ok(Some(s)) if s.year == year => {
                received.insert(child.clone(), s.total);
                conflicts.extend(s.conflicts);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(child = %child, error = %e, "a child's summary is left out: it cannot be read")
            }
        }
    }
    conflicts.sort();
    conflicts.dedup();
    let mut summary = NodeSummary::new(node, level, year, now.timestamp(), own, received);
    summary.conflicts = conflicts;
    Ok(summary)
}

/// Computes this node's summary as of `now` and, if its figures changed, writes it to the summary record
/// (which flows to the parents). Returns whether it was written.
pub fn refresh_summary(
    cases: &mut impl Cases,
    node: &str,
    level: Level,
    children: &[String],
    now: &jiff::Zoned,
) -> Result<bool> {
    let summary = current_summary(cases, node, level, children, now)?;
    let id = summary_id(node);
    let stored = cases
        .read_record(&id, |r| Ok(r.get::<NodeSummary>(SUMMARY_ENTRY)?))?
        .flatten();
    if stored.is_some_and(|s| s.same_figures(&summary)) {
        return Ok(false);
    }
    let editor = Editor {
        node: node.to_owned(),
        by: "hearth (summary)".into(),
        at: now.timestamp(),
        today: now.date(),
    };
    cases.update_record(&id, &editor, |r| {
        r.put(&editor, SUMMARY_ENTRY, &summary)?;
        Ok(())
    })?;
    Ok(true)
}
