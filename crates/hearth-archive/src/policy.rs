//! The federation policy (政策): the ordered levels, subsistence lines by region, aid caps, the
//! authority of each level and the escalation thresholds. It is set at the top node, one version
//! after another, each in force from its date; it flows down to every node, and every node uses
//! the version in force at the date that matters — and says which. Until the top node sets one,
//! the built-in version 0 is in force.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceKind, Exclusion, Grade, Level, Status};
use crate::error::{ArchiveError, Result};
use crate::grade::GradeStandard;
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
    /// The grading standard.
    #[serde(default)]
    pub grading: GradeStandard,
    /// The level that approves filing (审批建档); the approving node is above the case's home.
    #[serde(default = "default_filing_level")]
    pub filing_level: Level,
    /// Working days a public notice (公示) runs.
    #[serde(default = "default_notice_days")]
    pub notice_working_days: u32,
    /// Living aid per case and year in months of the subsistence line (per person, times the
    /// household), by grade, where the policy caps it so; tighter of this and the yearly cap.
    #[serde(default)]
    pub living_cap_months: BTreeMap<Grade, u32>,
    /// Most one loan may lend without an override.
    #[serde(default = "default_loan_limit")]
    pub loan_limit_fen: i64,
    /// Who set it, where and when (empty for the built-in version).
    #[serde(default)]
    pub set_by: String,
    /// The node it was set at.
    #[serde(default)]
    pub set_node: String,
}

fn default_filing_level() -> Level {
    Level::Branch
}

fn default_notice_days() -> u32 {
    5
}

fn default_loan_limit() -> i64 {
    20_000_00
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
            (K::Emergency, 5_000_00),
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
            grading: GradeStandard::builtin(),
            filing_level: default_filing_level(),
            notice_working_days: default_notice_days(),
            living_cap_months: BTreeMap::new(),
            loan_limit_fen: default_loan_limit(),
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

    /// The yearly cap of `kind` for `case`: [`Policy::yearly_cap`], and for living aid also
    /// the months of the subsistence line its grade allows, where the policy sets them.
    pub fn case_cap(&self, case: &CaseView, kind: AssistanceKind) -> Option<i64> {
        let cap = self.yearly_cap(kind);
        let months = (kind == AssistanceKind::Living)
            .then(|| case.grade.and_then(|g| self.living_cap_months.get(&g)))
            .flatten();
        match (months, case.finances.subsistence_line_fen) {
            (Some(m), Some(line)) => {
                let size = case.household.size.unwrap_or(1).max(1);
                let by_months = line.saturating_mul(i64::from(*m)).saturating_mul(size);
                Some(cap.map_or(by_months, |c| c.min(by_months)))
            }
            _ => cap,
        }
    }

    /// Checks aid before it is paid, by this policy (the one in force on the day paid), at a
    /// node of level `payer`: regular aid only on a filed case (先建档、后帮扶), emergency
    /// relief (临时救助) on any open case; within the yearly cap of its kind for the case
    /// (one-off aid per case and year, however split); medical aid not above this year's
    /// medical costs on file less the medical aid already paid; and above the payer's
    /// authority only on an aid approval of that kind and at least that amount, by a level
    /// whose authority covers it, not used by another payment. Returns that approval's id.
    pub fn check_aid(
        &self,
        case: &CaseView,
        aid: &crate::case::NewAssistance,
        payer: Level,
    ) -> Result<Option<String>> {
        let rule = |m: String| Err(ArchiveError::Rule(m));
        let open_kinds = matches!(
            case.status,
            Status::Draft
                | Status::UnderReview
                | Status::Returned
                | Status::Filed
                | Status::Relapsed
        );
        if aid.kind == AssistanceKind::Emergency {
            if !open_kinds {
                return rule(format!(
                    "a case {} gets no aid; emergency relief goes to an open case",
                    case.status.label()
                ));
            }
        } else if case.status != Status::Filed {
            return rule(format!(
                "{} is paid only on a filed case (先建档、后帮扶), and this case is {}; file it first, or pay emergency relief (--kind emergency 临时救助)",
                aid.kind.label(),
                case.status.label()
            ));
        }
        let filed_on_override = case
            .approvals
            .iter()
            .any(|a| a.step.as_deref() == Some(crate::case::ELIGIBILITY_OVERRIDE));
        if aid.kind != AssistanceKind::Emergency
            && case.grade == Some(Grade::NotEligible)
            && !filed_on_override
        {
            return rule(format!(
                "the household is not eligible 不符合条件 by the grading standard ({}); lift or close the case, or pay emergency relief (--kind emergency)",
                case.grading.basis.as_deref().unwrap_or("its figures")
            ));
        }
        if aid.kind != AssistanceKind::Emergency
            && let Some(filed) = case.filed_on.filter(|f| aid.date < *f)
        {
            return rule(format!(
                "the case was put on file on {filed}; {} dated {} would come before it (先建档、后帮扶): aid before filing is emergency relief (--kind emergency)",
                aid.kind.label(),
                aid.date
            ));
        }
        let year = aid.date.year();
        let paid_of = |kind: AssistanceKind| -> i64 {
            case.assistance
                .iter()
                .filter(|a| a.kind == kind && a.date.year() == year)
                .map(|a| a.amount_fen)
                .sum()
        };
        let paid = paid_of(aid.kind);
        if let Some(cap) = self
            .case_cap(case, aid.kind)
            .filter(|cap| paid + aid.amount_fen > *cap)
        {
            return Err(ArchiveError::OverCap(format!(
                "{} for this case in {year} would come to {}, over the yearly cap of {} ({}); more needs the level above",
                aid.kind.label(),
                format_yuan(paid + aid.amount_fen),
                format_yuan(cap),
                self.label()
            )));
        }
        if aid.kind == AssistanceKind::Medical {
            let costs = case.finances.medical_costs_fen.unwrap_or(0);
            if paid + aid.amount_fen > costs {
                return rule(format!(
                    "medical aid is not above the medical costs paid out of pocket: this year's costs on file are {}, medical aid paid {}, so at most {} more; record the costs first (case edit ID --medical-costs)",
                    format_yuan(costs),
                    format_yuan(paid),
                    format_yuan((costs - paid).max(0))
                ));
            }
        }
        let authority = self.authority_fen.get(&payer).copied().unwrap_or(0);
        if aid.amount_fen <= authority {
            return Ok(None);
        }
        let used: Vec<&str> = case
            .assistance
            .iter()
            .filter_map(|a| a.approval.as_deref())
            .collect();
        let approval = case.approvals.iter().find(|a| {
            a.step.as_deref() == Some(crate::case::AID_APPROVAL)
                && a.kind == Some(aid.kind)
                && a.amount_fen.is_some_and(|x| x >= aid.amount_fen)
                && a.level.is_some_and(|l| {
                    l > payer
                        && self
                            .authority_fen
                            .get(&l)
                            .is_some_and(|x| *x >= aid.amount_fen)
                })
                && a.id.as_deref().is_some_and(|id| !used.contains(&id))
        });
        match approval.and_then(|a| a.id.clone()) {
            Some(id) => Ok(Some(id)),
            None => rule(format!(
                "{} is above the {} authority of {}; it needs an approval by the {} (assist approve ID --kind {} --amount {} there) before it is paid",
                format_yuan(aid.amount_fen),
                payer.label(),
                format_yuan(authority),
                self.level_for_amount(aid.amount_fen)
                    .map_or_else(|| "level above".to_owned(), |l| l.label()),
                aid.kind.code(),
                format_yuan(aid.amount_fen).replace(',', "")
            )),
        }
    }

    /// Checks that a node of `level` may approve `amount_fen` of aid: its authority covers it.
    pub fn check_aid_authority(&self, level: Level, amount_fen: i64) -> Result<()> {
        let authority = self.authority_fen.get(&level).copied().unwrap_or(0);
        if amount_fen > authority {
            return Err(ArchiveError::Rule(format!(
                "{} is above the {} authority of {}; the {} approves it",
                format_yuan(amount_fen),
                level.label(),
                format_yuan(authority),
                self.level_for_amount(amount_fen)
                    .map_or_else(|| "level above".to_owned(), |l| l.label())
            )));
        }
        Ok(())
    }

    /// Checks a new loan of `principal_fen` to `case` on `day`: above the policy's limit, or to
    /// a case with a loan overdue, it needs `override_reason`.
    pub fn check_loan(
        &self,
        case: &CaseView,
        principal_fen: i64,
        day: jiff::civil::Date,
        override_reason: Option<&str>,
    ) -> Result<()> {
        if override_reason.is_some_and(|r| !r.trim().is_empty()) {
            return Ok(());
        }
        if let Some(l) = case
            .loans
            .iter()
            .find(|l| l.outstanding_fen > 0 && l.due_date.is_some_and(|d| d < day))
        {
            return Err(ArchiveError::Rule(format!(
                "loan {} of this case is overdue since {} with {} outstanding; a new loan needs an override with its reason (--override)",
                l.id,
                l.due_date.map(|d| d.to_string()).unwrap_or_default(),
                format_yuan(l.outstanding_fen)
            )));
        }
        if principal_fen > self.loan_limit_fen {
            return Err(ArchiveError::Rule(format!(
                "{} is above the loan limit of {} ({}); it needs an override with its reason (--override)",
                format_yuan(principal_fen),
                format_yuan(self.loan_limit_fen),
                self.label()
            )));
        }
        Ok(())
    }

    /// The rules of the filing chain.
    pub fn chain_rules(&self) -> crate::case::ChainRules {
        crate::case::ChainRules {
            notice_working_days: self.notice_working_days,
        }
    }

    /// The grading standard, as cases record it (with this version's number).
    pub fn standard(&self) -> GradeStandard {
        GradeStandard {
            version: self.version,
            ..self.grading.clone()
        }
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

    /// The bounds of the chain's and the money rules' settings, which a version set here and a
    /// version received from the top must both keep (a notice of four billion working days would
    /// hold a node counting them). Says which is out of range.
    pub fn check_bounds(&self) -> std::result::Result<(), &'static str> {
        if !(100..=1000).contains(&self.grading.relative_percent) {
            return Err(
                "the relative multiplier must be from 1 to 10 times the line, e.g. \"2\" or \"1.5\"",
            );
        }
        if self.living_cap_months.values().any(|m| *m > 24) {
            return Err("living aid is capped at most at 24 months of the line a year");
        }
        if self.loan_limit_fen <= 0 {
            return Err("the loan limit must be above zero");
        }
        if !(1..=60).contains(&self.notice_working_days) {
            return Err("a public notice runs 1 to 60 working days");
        }
        Ok(())
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
        self.check_bounds()
            .map_err(|reason| invalid(reason.into()))?;
        let e = &self.escalation;
        for (what, level) in [
            ("deep", e.deep_to),
            ("medical_to", e.medical_to),
            ("filing_level", self.filing_level),
        ] {
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
    /// The grading standard.
    pub grading: Option<GradingFile>,
    /// The level that approves filing.
    pub filing_level: Option<Level>,
    /// Working days a public notice runs.
    pub notice_working_days: Option<u32>,
    /// Grade → months of the subsistence line a case may get as living aid in a year.
    #[serde(default)]
    pub living_cap_months: BTreeMap<Grade, u32>,
    /// Most one loan may lend without an override, yuan.
    pub loan_limit: Option<String>,
}

/// The grading standard as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingFile {
    /// `below` (the default) or `at_or_below` the line.
    pub comparison: Option<String>,
    /// Relative hardship within this multiple of the line, e.g. "2" or "1.5".
    pub relative_multiplier: Option<String>,
    /// The exclusions that make a household not eligible.
    pub exclusions: Option<Vec<Exclusion>>,
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
        if let Some(g) = &self.grading {
            if let Some(c) = &g.comparison {
                p.grading.at_or_below = match c.trim() {
                    "below" | "<" => false,
                    "at_or_below" | "<=" | "≤" => true,
                    other => {
                        return Err(ArchiveError::Invalid {
                            field: "comparison",
                            reason: format!("{other:?}: write \"below\" or \"at_or_below\""),
                        });
                    }
                };
            }
            if let Some(m) = &g.relative_multiplier {
                let fen = money("relative multiplier", m)?;
                p.grading.relative_percent = u32::try_from(fen).unwrap_or(u32::MAX);
            }
            if let Some(e) = &g.exclusions {
                p.grading.exclusions = e.clone();
            }
        }
        p.grading.version = version;
        if let Some(l) = self.filing_level {
            p.filing_level = l;
        }
        if let Some(n) = self.notice_working_days {
            p.notice_working_days = n;
        }
        for (grade, months) in &self.living_cap_months {
            p.living_cap_months.insert(*grade, *months);
        }
        if let Some(l) = &self.loan_limit {
            p.loan_limit_fen = money("loan limit", l)?;
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
