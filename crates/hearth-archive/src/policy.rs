//! The federation policy (政策): the ordered levels, subsistence lines by region, aid caps, the
//! authority of each level and the escalation thresholds. It is set at the top node, one version
//! after another, each in force from its date; it flows down to every node, and every node uses
//! the version in force at the date that matters — and says which. Until the top node sets one,
//! the built-in version 0 is in force.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceKind, Grade, Level};
use crate::error::{ArchiveError, Result};
use crate::money::{format_yuan, parse_yuan};
use crate::view::{CaseSummary, CaseView};

/// One version of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Version number: 0 is built in, the top node's start at 1.
    pub version: u32,
    /// First day it is in force.
    pub effective_from: Date,
    /// The federation's levels, lowest first.
    pub levels: Vec<Level>,
    /// Subsistence line (低保标准), monthly per person, by region code.
    pub subsistence_lines_fen: BTreeMap<String, i64>,
    /// Most aid of each kind one case may receive in a calendar year.
    pub yearly_caps_fen: BTreeMap<AssistanceKind, i64>,
    /// Most one-off aid a case may have in a year, in one payment or several (no splitting).
    pub one_off_cap_fen: i64,
    /// Most aid a level may approve alone; a larger request goes to the next level up.
    pub authority_fen: BTreeMap<Level, i64>,
    /// When a case must go up.
    pub escalation: EscalationRules,
    /// Who set it, where and when (empty for the built-in version).
    #[serde(default)]
    pub set_by: String,
    /// The node it was set at.
    #[serde(default)]
    pub set_node: String,
}

/// The escalation thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRules {
    /// Where a deep-hardship case must go.
    pub deep_to: Level,
    /// Yearly medical costs from which a case goes to `medical_to`.
    pub medical_yearly_fen: i64,
    /// One hospital stay costing this much sends a case to `medical_to`.
    pub medical_stay_fen: i64,
    /// Where large medical costs go.
    pub medical_to: Level,
}

impl Policy {
    /// The built-in version 0: in force until the top node sets one.
    pub fn builtin() -> Policy {
        use AssistanceKind as K;
        let caps = [
            (K::Living, 12_000_00),
            (K::Medical, 50_000_00),
            (K::Education, 10_000_00),
            (K::Holiday, 2_000_00),
            (K::OneOff, 20_000_00),
            (K::Pairing, 6_000_00),
            (K::Job, 2_000_00),
            (K::Legal, 5_000_00),
        ];
        let authority = [
            (Level::Team, 1_000_00),
            (Level::Branch, 5_000_00),
            (Level::Enterprise, 20_000_00),
            (Level::Municipal, 100_000_00),
            (Level::Provincial, 500_000_00),
            (Level::National, i64::MAX),
        ];
        Policy {
            version: 0,
            effective_from: jiff::civil::date(2000, 1, 1),
            levels: Level::ALL.to_vec(),
            subsistence_lines_fen: BTreeMap::new(),
            yearly_caps_fen: caps.into_iter().collect(),
            one_off_cap_fen: 10_000_00,
            authority_fen: authority.into_iter().collect(),
            escalation: EscalationRules {
                deep_to: Level::Enterprise,
                medical_yearly_fen: 100_000_00,
                medical_stay_fen: 40_000_00,
                medical_to: Level::Municipal,
            },
            set_by: String::new(),
            set_node: String::new(),
        }
    }

    /// The most aid of `kind` a case may have in a year: its yearly cap, and for one-off aid
    /// also the one-off cap, which is per case and year so that it cannot be split.
    pub fn yearly_cap(&self, kind: AssistanceKind) -> Option<i64> {
        let cap = self.yearly_caps_fen.get(&kind).copied();
        match kind {
            AssistanceKind::OneOff => {
                Some(cap.map_or(self.one_off_cap_fen, |c| c.min(self.one_off_cap_fen)))
            }
            _ => cap,
        }
    }

    /// The yearly cap of `kind` when `total` paid in a year is over it (`None` when within it,
    /// or the kind has no cap).
    pub fn over_yearly_cap(&self, kind: AssistanceKind, total_fen: i64) -> Option<i64> {
        self.yearly_cap(kind).filter(|cap| total_fen > *cap)
    }

    /// Refuses aid over the caps of this policy (the one in force on the day paid): the yearly
    /// cap of its kind for the case, which has had `case` paid before — for one-off aid also
    /// the one-off cap, per case and year, however the aid is split into payments.
    pub fn check_aid(&self, case: &CaseSummary, aid: &crate::case::NewAssistance) -> Result<()> {
        let year = aid.date.year();
        let paid = case
            .aid_by_year
            .get(&year)
            .and_then(|k| k.get(&aid.kind))
            .copied()
            .unwrap_or(0);
        if let Some(cap) = self.over_yearly_cap(aid.kind, paid + aid.amount_fen) {
            return Err(ArchiveError::OverCap(format!(
                "{} for this case in {year} would come to {}, over the yearly cap of {} ({}); more needs the level above",
                aid.kind.label(),
                format_yuan(paid + aid.amount_fen),
                format_yuan(cap),
                self.label()
            )));
        }
        Ok(())
    }

    /// "version 3, in force since 2027-01-01" (or "built-in version 0").
    pub fn label(&self) -> String {
        if self.version == 0 {
            "built-in policy version 0".to_owned()
        } else {
            format!(
                "policy version {}, in force since {}",
                self.version, self.effective_from
            )
        }
    }

    /// The version in force on `date` among `versions` (the built-in one if none is yet).
    pub fn in_force(versions: &[Policy], date: Date) -> Policy {
        versions
            .iter()
            .filter(|p| p.effective_from <= date)
            .max_by_key(|p| (p.effective_from, p.version))
            .cloned()
            .unwrap_or_else(Policy::builtin)
    }

    /// The level above `level` in this federation.
    pub fn next_level(&self, level: Level) -> Option<Level> {
        self.levels.iter().copied().find(|l| *l > level)
    }

    /// The lowest level whose authority covers `amount_fen`.
    pub fn level_for_amount(&self, amount_fen: i64) -> Option<Level> {
        self.levels
            .iter()
            .copied()
            .find(|l| self.authority_fen.get(l).is_some_and(|a| *a >= amount_fen))
    }

    /// Checks a version before it is set.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| ArchiveError::Invalid {
            field: "policy",
            reason,
        };
        if self.levels.is_empty() || self.levels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(
                "levels must be listed lowest first, each once, e.g. [\"team\", \"branch\", \"enterprise\", \"municipal\"]".into(),
            ));
        }
        for (region, line) in &self.subsistence_lines_fen {
            check_region(region)?;
            if *line <= 0 {
                return Err(invalid(format!(
                    "the subsistence line of region {region} must be above zero"
                )));
            }
        }
        let e = &self.escalation;
        for (what, level) in [("deep", e.deep_to), ("medical_to", e.medical_to)] {
            if !self.levels.contains(&level) {
                return Err(invalid(format!(
                    "escalation {what} names level {}, which is not in levels",
                    level.code()
                )));
            }
        }
        Ok(())
    }
}

/// Checks a region code: six digits.
pub fn check_region(region: &str) -> Result<()> {
    if region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ArchiveError::Invalid {
            field: "region",
            reason: format!("{region:?} is not a 6-digit region code (行政区划代码), e.g. 110105"),
        })
    }
}

/// A policy version as an operator writes it (TOML): money in yuan, codes by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// First day in force (default: today).
    pub effective_from: Option<Date>,
    /// Levels, lowest first (default: all).
    pub levels: Option<Vec<Level>>,
    /// Region code → monthly line per person, yuan.
    #[serde(default)]
    pub subsistence_lines: BTreeMap<String, String>,
    /// Aid kind → most per case per year, yuan (kinds not named keep the built-in cap).
    #[serde(default)]
    pub yearly_caps: BTreeMap<AssistanceKind, String>,
    /// Most one-off aid a case may have in a year (one payment or several), yuan.
    pub one_off_cap: Option<String>,
    /// Level → most it approves alone, yuan.
    #[serde(default)]
    pub authority: BTreeMap<Level, String>,
    /// Escalation thresholds.
    pub escalation: Option<EscalationFile>,
}

/// Escalation thresholds as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationFile {
    /// Where deep hardship goes.
    pub deep: Option<Level>,
    /// Yearly medical costs threshold, yuan.
    pub medical_yearly: Option<String>,
    /// One stay threshold, yuan.
    pub medical_stay: Option<String>,
    /// Where large medical costs go.
    pub medical_to: Option<Level>,
}

impl PolicyFile {
    /// The version this file makes, as `version`, in force from `effective_from` (or the file's
    /// date, or `today`); what the file leaves out comes from `base`.
    pub fn to_policy(&self, base: &Policy, version: u32, today: Date) -> Result<Policy> {
        let money = |field: &'static str, text: &str| parse_yuan(field, text);
        let mut p = base.clone();
        p.version = version;
        p.effective_from = self.effective_from.unwrap_or(today);
        if let Some(levels) = &self.levels {
            p.levels = levels.clone();
        }
        for (region, line) in &self.subsistence_lines {
            p.subsistence_lines_fen
                .insert(region.clone(), money("subsistence line", line)?);
        }
        for (kind, cap) in &self.yearly_caps {
            p.yearly_caps_fen.insert(*kind, money("yearly cap", cap)?);
        }
        if let Some(cap) = &self.one_off_cap {
            p.one_off_cap_fen = money("one-off cap", cap)?;
        }
        for (level, amount) in &self.authority {
            p.authority_fen.insert(*level, money("authority", amount)?);
        }
        if let Some(e) = &self.escalation {
            if let Some(l) = e.deep {
                p.escalation.deep_to = l;
            }
            if let Some(l) = e.medical_to {
                p.escalation.medical_to = l;
            }
            if let Some(v) = &e.medical_yearly {
                p.escalation.medical_yearly_fen = money("medical_yearly", v)?;
            }
            if let Some(v) = &e.medical_stay {
                p.escalation.medical_stay_fen = money("medical_stay", v)?;
            }
        }
        p.validate()?;
        Ok(p)
    }
}

/// Why a case must reach a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The level the case must reach.
    pub level: Level,
    /// Why, e.g. "yearly medical costs 120,000.00 ≥ 100,000.00".
    pub reason: String,
}

/// What the escalation rules read of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EscalationInputs {
    /// Grade in force.
    pub grade: Option<Grade>,
    /// This year's medical costs.
    pub medical_costs_fen: Option<i64>,
    /// The largest hospital stay.
    pub largest_stay_fen: Option<i64>,
    /// Aid asked for.
    pub aid_request_fen: Option<i64>,
}

impl EscalationInputs {
    /// From a case as read.
    pub fn of_view(v: &CaseView) -> EscalationInputs {
        EscalationInputs {
            grade: v.grade,
            medical_costs_fen: v.finances.medical_costs_fen,
            largest_stay_fen: v.finances.largest_stay_fen,
            aid_request_fen: v.finances.aid_request_fen,
        }
    }

    /// From a case's listing summary.
    pub fn of_summary(s: &CaseSummary) -> EscalationInputs {
        EscalationInputs {
            grade: s.grade,
            medical_costs_fen: s.medical_costs_fen,
            largest_stay_fen: s.largest_stay_fen,
            aid_request_fen: s.aid_request_fen,
        }
    }
}

/// Where the rules of `policy` send a case, highest level first; empty if it may stay.
pub fn requirements(policy: &Policy, case: &EscalationInputs) -> Vec<Requirement> {
    let mut out = Vec::new();
    let e = &policy.escalation;
    if case.grade == Some(Grade::Deep) {
        out.push(Requirement {
            level: e.deep_to,
            reason: "deep hardship 深度困难".into(),
        });
    }
    let f = case;
    if let Some(costs) = f.medical_costs_fen.filter(|c| *c >= e.medical_yearly_fen) {
        out.push(Requirement {
            level: e.medical_to,
            reason: format!(
                "yearly medical costs {} ≥ {}",
                format_yuan(costs),
                format_yuan(e.medical_yearly_fen)
            ),
        });
    }
    if let Some(stay) = f.largest_stay_fen.filter(|s| *s >= e.medical_stay_fen) {
        out.push(Requirement {
            level: e.medical_to,
            reason: format!(
                "one hospital stay {} ≥ {}",
                format_yuan(stay),
                format_yuan(e.medical_stay_fen)
            ),
        });
    }
    if let Some(request) = f.aid_request_fen
        && let Some(level) = policy.level_for_amount(request)
        && level > policy.levels.first().copied().unwrap_or(Level::Team)
    {
        let below = policy
            .levels
            .iter()
            .copied()
            .rfind(|l| *l < level)
            .and_then(|l| policy.authority_fen.get(&l).map(|a| (l, *a)));
        if let Some((l, authority)) = below {
            out.push(Requirement {
                level,
                reason: format!(
                    "aid request {} > {} authority {}",
                    format_yuan(request),
                    l.code(),
                    format_yuan(authority)
                ),
            });
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.level));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_in_force_is_the_latest_that_has_begun() {
        let mut v1 = Policy::builtin();
        v1.version = 1;
        v1.effective_from = jiff::civil::date(2026, 1, 1);
        let mut v2 = v1.clone();
        v2.version = 2;
        v2.effective_from = jiff::civil::date(2027, 1, 1);
        let versions = [v1, v2];
        assert_eq!(
            Policy::in_force(&versions, jiff::civil::date(2025, 6, 1)).version,
            0
        );
        assert_eq!(
            Policy::in_force(&versions, jiff::civil::date(2026, 6, 1)).version,
            1
        );
        assert_eq!(
            Policy::in_force(&versions, jiff::civil::date(2027, 1, 1)).version,
            2
        );
    }

    #[test]
    fn a_file_changes_what_it_names_and_is_checked() {
        let text = r#"
            effective_from = "2027-01-01"
            levels = ["team", "branch", "enterprise", "municipal"]
            one_off_cap = "8000"
            [subsistence_lines]
            "110105" = "1,320"
            [escalation]
            medical_yearly = "80000"
        "#;
        let file: PolicyFile = toml_from(text);
        let p = file
            .to_policy(&Policy::builtin(), 1, jiff::civil::date(2026, 5, 1))
            .unwrap();
        assert_eq!(p.subsistence_lines_fen["110105"], 1_320_00);
        assert_eq!(p.escalation.medical_yearly_fen, 80_000_00);
        assert_eq!(
            p.escalation.medical_stay_fen, 40_000_00,
            "kept from the base"
        );
        assert_eq!(p.next_level(Level::Enterprise), Some(Level::Municipal));
        let bad: PolicyFile = toml_from("[subsistence_lines]\n\"1101\" = \"800\"\n");
        let err = bad
            .to_policy(&Policy::builtin(), 2, jiff::civil::date(2026, 5, 1))
            .unwrap_err();
        assert!(err.to_string().contains("6-digit"), "{err}");
    }

    #[test]
    fn the_rules_say_where_a_case_goes_and_why() {
        let p = Policy::builtin();
        let inputs = EscalationInputs {
            grade: Some(Grade::Relative),
            medical_costs_fen: Some(120_000_00),
            largest_stay_fen: Some(10_000_00),
            aid_request_fen: Some(8_000_00),
        };
        let r = requirements(&p, &inputs);
        let found: Vec<(Level, &str)> = r.iter().map(|r| (r.level, r.reason.as_str())).collect();
        assert_eq!(
            found,
            [
                (
                    Level::Municipal,
                    "yearly medical costs 120,000.00 ≥ 100,000.00"
                ),
                (
                    Level::Enterprise,
                    "aid request 8,000.00 > branch authority 5,000.00"
                ),
            ]
        );
        let small = EscalationInputs {
            aid_request_fen: Some(500_00),
            ..EscalationInputs::default()
        };
        assert!(
            requirements(&p, &small).is_empty(),
            "a team may approve 500 alone"
        );
        assert_eq!(p.level_for_amount(i64::MAX), Some(Level::National));
    }

    fn toml_from(text: &str) -> PolicyFile {
        toml::from_str(text).unwrap()
    }
}

/// Where the policy sends a case, and whether someone here must act.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advice {
    /// Which policy version said so.
    pub policy: String,
    /// Every rule that applies, highest level first.
    pub requirements: Vec<Requirement>,
    /// The level the case must reach, if any rule applies.
    pub must_reach: Option<Level>,
    /// Whether it must still be escalated: no escalation target reaches that level yet.
    pub pending: bool,
}

/// What `policy` says of a case (from its listing summary), at a node of level `here`.
pub fn advise(policy: &Policy, case: &CaseSummary, here: Level) -> Advice {
    let requirements = requirements(policy, &EscalationInputs::of_summary(case));
    let must_reach = requirements.first().map(|r| r.level);
    let reached = case.target_level.unwrap_or(here).max(here);
    let open = matches!(
        case.status,
        crate::codes::Status::Draft
            | crate::codes::Status::UnderReview
            | crate::codes::Status::Filed
            | crate::codes::Status::Relapsed
            | crate::codes::Status::Returned
    );
    Advice {
        policy: policy.label(),
        pending: open && must_reach.is_some_and(|l| l > reached),
        must_reach,
        requirements,
    }
}
