//! Hardship grading (困难等级) by the formulas of DESIGN §2.

use serde::Serialize;

use crate::codes::{Cause, Grade};
use crate::money::format_yuan;

/// What the grade is computed from; money in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradeInputs {
    /// Annual disposable income of the household.
    pub annual_income_fen: i64,
    /// Rigid annual spending (medical, education).
    pub rigid_spending_fen: i64,
    /// This year's costs caused by the hardship event.
    pub hardship_costs_fen: i64,
    /// Local subsistence line, monthly, per person.
    pub subsistence_line_fen: i64,
    /// People living together; at least one.
    pub household_size: u32,
    /// Primary cause of hardship.
    pub primary_cause: Cause,
}

/// A computed grade and the figure it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The grade the formulas give.
    pub grade: Grade,
    /// (income − rigid spending) / 12 / household size, rounded to the fen.
    pub per_capita_monthly_fen: i64,
}

/// Grades a household.
///
/// - `deep`: (income − rigid) / 12 / size < line;
/// - `relative`: the same figure < 2 × line;
/// - `accident`: neither applies, and the primary cause is a natural disaster or an accident, or
///   this year's hardship costs exceed 80% of annual income;
/// - otherwise `not_eligible`.
///
/// Comparisons are exact (integer arithmetic on the yearly household total), so a household
/// exactly on the line is not below it.
pub fn assess(inputs: &GradeInputs) -> Assessment {
    let size = i128::from(inputs.household_size.max(1));
    let net = i128::from(inputs.annual_income_fen) - i128::from(inputs.rigid_spending_fen);
    let line_year_household = i128::from(inputs.subsistence_line_fen) * 12 * size;
    let grade = if net < line_year_household {
        Grade::Deep
    } else if net < 2 * line_year_household {
        Grade::Relative
    } else if matches!(
        inputs.primary_cause,
        Cause::NaturalDisaster | Cause::Accident
    ) || i128::from(inputs.hardship_costs_fen) * 5
        > i128::from(inputs.annual_income_fen) * 4
    {
        Grade::Accident
    } else {
        Grade::NotEligible
    };
    Assessment {
        grade,
        per_capita_monthly_fen: round_div(net, 12 * size),
    }
}

impl Assessment {
    /// One line saying why, for people: `per person per month 666.67 < line 800.00`.
    pub fn explain(&self, inputs: &GradeInputs) -> String {
        let pc = format_yuan(self.per_capita_monthly_fen);
        let line = inputs.subsistence_line_fen;
        match self.grade {
            Grade::Deep => format!("per person per month {pc} < line {}", format_yuan(line)),
            Grade::Relative => {
                format!(
                    "per person per month {pc} < 2 × line {}",
                    format_yuan(2 * line)
                )
            }
            Grade::Accident
                if matches!(
                    inputs.primary_cause,
                    Cause::NaturalDisaster | Cause::Accident
                ) =>
            {
                format!("primary cause {}", inputs.primary_cause.label())
            }
            Grade::Accident => format!(
                "hardship costs {} > 80% of income {}",
                format_yuan(inputs.hardship_costs_fen),
                format_yuan(inputs.annual_income_fen)
            ),
            Grade::NotEligible => {
                format!(
                    "per person per month {pc} ≥ 2 × line {}",
                    format_yuan(2 * line)
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

    fn example(line_yuan: i64, cause: Cause) -> GradeInputs {
        GradeInputs {
            annual_income_fen: 36_000_00,
            rigid_spending_fen: 12_000_00,
            hardship_costs_fen: 0,
            subsistence_line_fen: line_yuan * 100,
            household_size: 3,
            primary_cause: cause,
        }
    }

    #[test]
    fn worked_example_per_capita_is_666_67() {
        let a = assess(&example(800, Cause::SeriousIllness));
        assert_eq!(a.per_capita_monthly_fen, 66_667);
        assert_eq!(format_yuan(a.per_capita_monthly_fen), "666.67");
    }

    #[test]
    fn worked_example_line_800_is_deep() {
        assert_eq!(
            assess(&example(800, Cause::SeriousIllness)).grade,
            Grade::Deep
        );
    }

    #[test]
    fn worked_example_line_400_is_relative() {
        let inputs = example(400, Cause::SeriousIllness);
        let a = assess(&inputs);
        assert_eq!(a.grade, Grade::Relative);
        assert_eq!(
            a.explain(&inputs),
            "per person per month 666.67 < 2 × line 800.00"
        );
    }

    #[test]
    fn worked_example_line_300_is_not_eligible_unless_an_accident_applies() {
        assert_eq!(
            assess(&example(300, Cause::SeriousIllness)).grade,
            Grade::NotEligible
        );
        assert_eq!(
            assess(&example(300, Cause::Accident)).grade,
            Grade::Accident
        );
        assert_eq!(
            assess(&example(300, Cause::NaturalDisaster)).grade,
            Grade::Accident
        );
        let costly = GradeInputs {
            hardship_costs_fen: 28_800_01,
            ..example(300, Cause::SeriousIllness)
        };
        assert_eq!(assess(&costly).grade, Grade::Accident);
        let exactly_80_percent = GradeInputs {
            hardship_costs_fen: 28_800_00,
            ..example(300, Cause::SeriousIllness)
        };
        assert_eq!(assess(&exactly_80_percent).grade, Grade::NotEligible);
    }

    #[test]
    fn on_the_line_is_not_below_it() {
        // 24,000 a year for 2 people = 1,000 a month each.
        let inputs = GradeInputs {
            annual_income_fen: 24_000_00,
            rigid_spending_fen: 0,
            hardship_costs_fen: 0,
            subsistence_line_fen: 1_000_00,
            household_size: 2,
            primary_cause: Cause::Unemployed,
        };
        assert_eq!(assess(&inputs).grade, Grade::Relative);
    }

    #[test]
    fn spending_above_income_is_deep_with_a_negative_figure() {
        let inputs = GradeInputs {
            annual_income_fen: 10_000_00,
            rigid_spending_fen: 40_000_00,
            ..example(300, Cause::SeriousIllness)
        };
        let a = assess(&inputs);
        assert_eq!(a.grade, Grade::Deep);
        assert_eq!(a.per_capita_monthly_fen, -83_333);
    }
}
