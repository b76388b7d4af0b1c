//! Hardship grading (困难等级) by the standard the federation's policy sets (DESIGN §2).
//!
//! The published rules this follows (national and provincial documents as reposted; README's
//! union-work section names them):
//! - deep hardship (深度困难): (income − rigid spending) / 12 / household size below — in some
//!   provinces at or below — the local subsistence line;
//! - relative hardship (相对困难): the same figure within a multiple of the line (2×; some
//!   provinces 1.5×);
//! - hardship by accident (意外致困): still below the line once this year's costs of the accident
//!   or illness, net of compensation and insurance, are taken off the income — never from the
//!   cause alone;
//! - a second home, a car, a controlling share in a business, or refusing verification make a
//!   household not eligible whatever its income;
//! - lifting out of hardship (脱困): above the line on the same formula six months in a row
//!   ([`GradeStandard::below_line`] is the one comparison both use).

use serde::{Deserialize, Serialize};

use crate::codes::{Exclusion, Grade};
use crate::money::format_yuan;

/// The grading standard: part of the policy, recorded in each case it graded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeStandard {
    /// The policy version it came from (0: built in).
    #[serde(default)]
    pub version: u32,
    /// Whether a figure exactly on the line counts as below it (低于或等于).
    #[serde(default)]
    pub at_or_below: bool,
    /// Relative hardship: below this many percent of the line (200 = 2×, 150 = 1.5×).
    pub relative_percent: u32,
    /// What makes a household not eligible whatever its income.
    pub exclusions: Vec<Exclusion>,
}

impl Default for GradeStandard {
    fn default() -> Self {
        GradeStandard::builtin()
    }
}

impl GradeStandard {
    /// The built-in standard: strictly below the line, relative within 2×, all four exclusions.
    pub fn builtin() -> GradeStandard {
        GradeStandard {
            version: 0,
            at_or_below: false,
            relative_percent: 200,
            exclusions: Exclusion::ALL.to_vec(),
        }
    }

    /// Whether a household's yearly figure `net_fen` is below `percent`% of the line for the
    /// year and household (`line_year_fen` = monthly line × 12 × size), by this standard's
    /// comparison. Exact: integer arithmetic on yearly household totals.
    pub fn below(&self, net_fen: i128, line_year_fen: i128, percent: u32) -> bool {
        let net = net_fen * 100;
        let limit = line_year_fen * i128::from(percent);
        if self.at_or_below {
            net <= limit
        } else {
            net < limit
        }
    }

    /// Whether a monthly household figure is below the line for `size` people: the test the
    /// lifting rule applies month by month.
    pub fn below_line(&self, month_net_fen: i64, line_fen: i64, size: i64) -> bool {
        self.below(
            i128::from(month_net_fen) * 12,
            i128::from(line_fen) * 12 * i128::from(size.max(1)),
            100,
        )
    }

    /// "<" or "≤", as the standard compares.
    pub fn sign(&self) -> &'static str {
        if self.at_or_below { "≤" } else { "<" }
    }

    /// The relative multiplier as people write it: `2`, `1.5`.
    pub fn multiplier(&self) -> String {
        let whole = self.relative_percent / 100;
        match self.relative_percent % 100 {
            0 => whole.to_string(),
            r if r % 10 == 0 => format!("{whole}.{}", r / 10),
            r => format!("{whole}.{r:02}"),
        }
    }

    /// "policy version 3" or "built-in standard".
    pub fn label(&self) -> String {
        if self.version == 0 {
            "built-in standard 内置标准".to_owned()
        } else {
            format!("policy version {} 政策第{}版", self.version, self.version)
        }
    }
}

/// What the grade is computed from; money in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeInputs {
    /// Annual disposable income of the household.
    pub annual_income_fen: i64,
    /// Rigid annual spending (education, chronic illness: what recurs every year).
    pub rigid_spending_fen: i64,
    /// This year's costs of an accident or disaster.
    pub hardship_costs_fen: i64,
    /// This year's medical costs paid out of pocket.
    pub medical_costs_fen: i64,
    /// Compensation and insurance received for those costs.
    pub compensation_fen: i64,
    /// Local subsistence line, monthly, per person.
    pub subsistence_line_fen: i64,
    /// People living together; at least one.
    pub household_size: u32,
    /// Exclusions that apply to the household.
    pub exclusions: Vec<Exclusion>,
}

/// A computed grade and the figures it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The grade the formulas give.
    pub grade: Grade,
    /// (income − rigid spending) / 12 / household size, rounded to the fen.
    pub per_capita_monthly_fen: i64,
    /// The same after this year's accident and medical costs net of compensation, when there
    /// are such costs.
    pub after_costs_monthly_fen: Option<i64>,
    /// The exclusion that made the household not eligible.
    pub excluded: Option<Exclusion>,
}

/// Grades a household by `standard`:
///
/// - not eligible if an exclusion of the standard applies to it;
/// - `deep`: (income − rigid) / 12 / size below the line;
/// - `relative`: the same figure below the multiple of the line;
/// - `accident`: neither, but the figure after this year's accident and medical costs net of
///   compensation is below the line;
/// - otherwise `not_eligible`.
pub fn assess(inputs: &GradeInputs, standard: &GradeStandard) -> Assessment {
    let size = i128::from(inputs.household_size.max(1));
    let net = i128::from(inputs.annual_income_fen) - i128::from(inputs.rigid_spending_fen);
    let line_year = i128::from(inputs.subsistence_line_fen) * 12 * size;
    let costs = (i128::from(inputs.hardship_costs_fen) + i128::from(inputs.medical_costs_fen)
        - i128::from(inputs.compensation_fen))
    .max(0);
    let excluded = inputs
        .exclusions
        .iter()
        .copied()
        .find(|e| standard.exclusions.contains(e));
    let grade = if excluded.is_some() {
        Grade::NotEligible
    } else if standard.below(net, line_year, 100) {
        Grade::Deep
    } else if standard.below(net, line_year, standard.relative_percent) {
        Grade::Relative
    } else if costs > 0 && standard.below(net - costs, line_year, 100) {
        Grade::Accident
    } else {
        Grade::NotEligible
    };
    Assessment {
        grade,
        per_capita_monthly_fen: round_div(net, 12 * size),
        after_costs_monthly_fen: (costs > 0).then(|| round_div(net - costs, 12 * size)),
        excluded,
    }
}

impl Assessment {
    /// One line saying why, for people: `per person per month 666.67 < line 800.00`.
    pub fn explain(&self, inputs: &GradeInputs, standard: &GradeStandard) -> String {
        let pc = format_yuan(self.per_capita_monthly_fen);
        let line = inputs.subsistence_line_fen;
        let sign = standard.sign();
        let relative_line = i128::from(line) * i128::from(standard.relative_percent) / 100;
        let relative_line = i64::try_from(relative_line).unwrap_or(i64::MAX);
        let m = standard.multiplier();
        match (self.grade, self.excluded) {
            (_, Some(e)) => format!("excluded: {} {}", e.label_en(), e.label_zh()),
            (Grade::Deep, _) => {
                format!(
                    "per person per month {pc} {sign} line {}",
                    format_yuan(line)
                )
            }
            (Grade::Relative, _) => format!(
                "per person per month {pc} {sign} {m} × line {}",
                format_yuan(relative_line)
            ),
            (Grade::Accident, _) => format!(
                "per person per month {pc}, after this year's accident and medical costs net of compensation {} {sign} line {}",
                format_yuan(
                    self.after_costs_monthly_fen
                        .unwrap_or(self.per_capita_monthly_fen)
                ),
                format_yuan(line)
            ),
            (Grade::NotEligible, _) => {
                let not = if standard.at_or_below { ">" } else { "≥" };
                format!(
                    "per person per month {pc} {not} {m} × line {}",
                    format_yuan(relative_line)
                )
            }
        }
    }
}

/// Divides rounding half away from zero.
fn round_div(num: i128, den: i128) -> i64 {
    let q = (2 * num.abs() + den) / (2 * den);
    let q = if num < 0 { -q } else { q };
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    // DESIGN §2's worked example: income 36,000, rigid spending 12,000, 3 people.
    fn example(line_yuan: i64) -> GradeInputs {
        GradeInputs {
            annual_income_fen: 36_000_00,
            rigid_spending_fen: 12_000_00,
            hardship_costs_fen: 0,
            medical_costs_fen: 0,
            compensation_fen: 0,
            subsistence_line_fen: line_yuan * 100,
            household_size: 3,
            exclusions: Vec::new(),
        }
    }

    fn grade(inputs: &GradeInputs) -> Grade {
        assess(inputs, &GradeStandard::builtin()).grade
    }

    #[test]
    fn worked_example_per_capita_is_666_67() {
        let a = assess(&example(800), &GradeStandard::builtin());
        assert_eq!(a.per_capita_monthly_fen, 66_667);
        assert_eq!(format_yuan(a.per_capita_monthly_fen), "666.67");
    }

    #[test]
    fn worked_example_line_800_is_deep_and_400_relative() {
        assert_eq!(grade(&example(800)), Grade::Deep);
        let inputs = example(400);
        let s = GradeStandard::builtin();
        let a = assess(&inputs, &s);
        assert_eq!(a.grade, Grade::Relative);
        assert_eq!(
            a.explain(&inputs, &s),
            "per person per month 666.67 < 2 × line 800.00"
        );
    }

    #[test]
    fn the_cause_alone_never_grades_an_accident() {
        // Income six times the line, primary cause an accident, no costs: not eligible.
        let rich = GradeInputs {
            annual_income_fen: 6 * 800_00 * 12 * 3 + 12_000_00,
            ..example(800)
        };
        assert_eq!(grade(&rich), Grade::NotEligible);
    }

    #[test]
    fn accident_is_below_the_line_after_costs_net_of_compensation() {
        // Source: accident hardship = still below the line after the accident's costs net of
        // compensation and insurance (issue 15's rules, as reposted). Line 300: 666.67 a
        // person is above 2 × 300, so only the costs can make it hardship.
        let base = example(300);
        assert_eq!(grade(&base), Grade::NotEligible);
        // Medical costs of 20,000 paid out of pocket: (24,000 − 20,000) / 36 = 111.11 < 300.
        let ill = GradeInputs {
            medical_costs_fen: 20_000_00,
            ..base.clone()
        };
        let s = GradeStandard::builtin();
        let a = assess(&ill, &s);
        assert_eq!(a.grade, Grade::Accident);
        assert_eq!(a.after_costs_monthly_fen, Some(11_111));
        assert!(a.explain(&ill, &s).contains("111.11 < line 300.00"));
        // Insurance paid 15,000 of it: (24,000 − 5,000) / 36 = 527.78, not below 300.
        let insured = GradeInputs {
            compensation_fen: 15_000_00,
            ..ill.clone()
        };
        assert_eq!(grade(&insured), Grade::NotEligible);
        // Medical costs above the whole income: hardship, not "not eligible".
        let above_income = GradeInputs {
            medical_costs_fen: 50_000_00,
            ..base
        };
        assert_eq!(grade(&above_income), Grade::Accident);
    }

    #[test]
    fn on_the_line_is_below_it_only_where_the_standard_says_at_or_below() {
        // 24,000 a year for 2 people = 1,000 a month each, line 1,000.
        let inputs = GradeInputs {
            annual_income_fen: 24_000_00,
            rigid_spending_fen: 0,
            subsistence_line_fen: 1_000_00,
            household_size: 2,
            ..example(800)
        };
        assert_eq!(grade(&inputs), Grade::Relative);
        let at_or_below = GradeStandard {
            at_or_below: true,
            ..GradeStandard::builtin()
        };
        let a = assess(&inputs, &at_or_below);
        assert_eq!(a.grade, Grade::Deep);
        assert_eq!(
            a.explain(&inputs, &at_or_below),
            "per person per month 1,000.00 ≤ line 1,000.00"
        );
    }

    #[test]
    fn the_relative_multiplier_is_the_policys() {
        // 666.67 a person, line 400: within 2 × 400 = 800, not within 1.5 × 400 = 600.
        let inputs = example(400);
        let strict = GradeStandard {
            relative_percent: 150,
            ..GradeStandard::builtin()
        };
        let a = assess(&inputs, &strict);
        assert_eq!(a.grade, Grade::NotEligible);
        assert_eq!(
            a.explain(&inputs, &strict),
            "per person per month 666.67 ≥ 1.5 × line 600.00"
        );
    }

    #[test]
    fn an_exclusion_makes_any_household_not_eligible_if_the_standard_names_it() {
        let poor_with_car = GradeInputs {
            exclusions: vec![Exclusion::Car],
            ..example(800)
        };
        let s = GradeStandard::builtin();
        let a = assess(&poor_with_car, &s);
        assert_eq!(a.grade, Grade::NotEligible);
        assert_eq!(
            a.explain(&poor_with_car, &s),
            "excluded: owns a car 有机动车"
        );
        let lenient = GradeStandard {
            exclusions: vec![Exclusion::SecondHome],
            ..GradeStandard::builtin()
        };
        assert_eq!(assess(&poor_with_car, &lenient).grade, Grade::Deep);
    }

    #[test]
    fn spending_above_income_is_deep_with_a_negative_figure() {
        let inputs = GradeInputs {
            annual_income_fen: 10_000_00,
            rigid_spending_fen: 40_000_00,
            ..example(300)
        };
        let a = assess(&inputs, &GradeStandard::builtin());
        assert_eq!(a.grade, Grade::Deep);
        assert_eq!(a.per_capita_monthly_fen, -83_333);
    }

    #[test]
    fn the_lifting_test_uses_the_same_comparison() {
        let s = GradeStandard::builtin();
        // 2,000 a month for 2 people against a line of 1,000: on the line, not below it.
        assert!(!s.below_line(2_000_00, 1_000_00, 2));
        assert!(s.below_line(1_999_99, 1_000_00, 2));
        let at = GradeStandard {
            at_or_below: true,
            ..GradeStandard::builtin()
        };
        assert!(at.below_line(2_000_00, 1_000_00, 2));
        assert_eq!(at.multiplier(), "2");
        assert_eq!(
            GradeStandard {
                relative_percent: 150,
                ..at
            }
            .multiplier(),
            "1.5"
        );
    }
}
