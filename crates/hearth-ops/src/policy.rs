//! The federation policy: its versions, setting a new one at the top, and what it says of the
//! cases held here.

use hearth_archive::listing::Sort;
use hearth_archive::policy::{Advice, PolicyFile, advise};
use hearth_archive::record::POLICY_ID;
use hearth_archive::{CaseSummary, CaseView, Policy};

use crate::{Cases, Ctx, OpError, Result};

/// Every version of the federation policy this node holds, oldest first.
pub fn policy_versions(cases: &mut impl Cases) -> Result<Vec<Policy>> {
    Ok(cases
        .read_record(POLICY_ID, |r| Ok(r.entries::<Policy>()?))?
        .unwrap_or_default()
        .into_iter()
        .map(|(_, p)| p)
        .collect())
}

/// The policy version in force on `date`.
pub fn policy_in_force(cases: &mut impl Cases, date: jiff::civil::Date) -> Result<Policy> {
    Ok(Policy::in_force(&policy_versions(cases)?, date))
}

/// Reads a policy version as an operator writes it (TOML).
pub fn parse_policy_file(text: &str) -> Result<PolicyFile> {
    toml::from_str(text).map_err(|e| {
        OpError::input(format!(
            "the policy file cannot be read: {}",
            e.message().trim_end_matches('\n')
        ))
    })
}

/// Sets a new policy version from `file` (only at a node with no parent: the policy is written
/// at the top and flows down). Returns it.
pub fn set_policy(cases: &mut impl Cases, ctx: &Ctx<'_>, file: &PolicyFile) -> Result<Policy> {
    if let Some(parent) = ctx.place.parents.first() {
        return Err(OpError::Forbidden(format!(
            "the policy is set at the top of the federation; this node reports to {parent}, set it there"
        )));
    }
    let editor = ctx.editor();
    let versions = policy_versions(cases)?;
    let version = versions.iter().map(|p| p.version).max().unwrap_or(0) + 1;
    let effective = file.effective_from.unwrap_or(editor.today);
    let base = Policy::in_force(&versions, effective);
    let mut policy = file.to_policy(&base, version, editor.today)?;
    policy.set_by = editor.by.clone();
    policy.set_node = editor.node.clone();
    cases.update_record(POLICY_ID, &editor, |r| {
        r.put(&editor, &format!("v{version:06}"), &policy)?;
        Ok(())
    })?;
    Ok(policy)
}

/// The advice for one case, by the policy in force today.
pub fn advice_for(cases: &mut impl Cases, ctx: &Ctx<'_>, view: &CaseView) -> Result<Advice> {
    let policy = policy_in_force(cases, ctx.editor().today)?;
    Ok(advise(&policy, &CaseSummary::of(view), ctx.place.level))
}

/// Cases held here that the policy sends higher than anyone has escalated them, with why,
/// oldest first (read from the listing order one case at a time: only these are kept).
pub fn pending(cases: &mut impl Cases, ctx: &Ctx<'_>) -> Result<Vec<(CaseSummary, Advice)>> {
    let policy = policy_in_force(cases, ctx.editor().today)?;
    let mut found = Vec::new();
    cases.scan(Sort::Opened, None, &mut |_, c| {
        found.extend(if_pending(&policy, ctx, c));
        true
    })?;
    Ok(found)
}

/// Case `c` with what `policy` says of it, if it sends the case higher than it has gone.
pub(crate) fn if_pending(
    policy: &Policy,
    ctx: &Ctx<'_>,
    c: CaseSummary,
) -> Option<(CaseSummary, Advice)> {
    let advice = advise(policy, &c, ctx.place.level);
    advice.pending.then_some((c, advice))
}

/// What is due today among the cases held here (read from the listing order one case at a
/// time: only what is due is kept).
pub fn due(cases: &mut impl Cases, ctx: &Ctx<'_>) -> Result<hearth_archive::due::Due> {
    let today = ctx.now.date();
    let mut due = hearth_archive::due::Due::default();
    cases.scan(Sort::Opened, None, &mut |_, c| {
        due.add(&c, today);
        true
    })?;
    Ok(due)
}
