//! Text as a caseworker types it — on the command line, in a CSV line or in an API request — and
//! its checked, typed meaning. Every entry point parses through here, so a value is refused with
//! the same one-line message wherever it comes from.

use jiff::civil::Date;

use crate::case::CaseFields;
use crate::codes::{Cause, Exclusion};
use crate::error::{ArchiveError, Result};
use crate::identity::{FederationSalt, IdNumber};
use crate::money::parse_yuan;

/// The fields of a case as text. `None` leaves a field as it is; empty text clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct CaseForm {
    pub name: Option<String>,
    /// The national ID number; only its salted hash goes any further than [`CaseForm::parse`].
    pub id_number: Option<String>,
    pub gender: Option<String>,
    pub birth_year: Option<String>,
    pub employer: Option<String>,
    pub job: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub household_size: Option<String>,
    /// Yuan, at most two decimals (as are the other money fields).
    pub annual_income: Option<String>,
    pub rigid_spending: Option<String>,
    pub hardship_costs: Option<String>,
    pub subsistence_line: Option<String>,
    pub medical_costs: Option<String>,
    pub largest_stay: Option<String>,
    pub aid_request: Option<String>,
    /// Compensation and insurance received for this year's accident and medical costs.
    pub compensation: Option<String>,
    /// Exclusion codes separated by `,` or `;` (`car`, `second_home`, …); empty text clears them.
    pub exclusions: Option<String>,
    pub region: Option<String>,
    pub primary_cause: Option<String>,
    /// Each entry may hold several causes separated by `;` or `,`. An empty list leaves the
    /// secondary causes as they are.
    pub secondary_causes: Vec<String>,
    pub other_cause: Option<String>,
    pub urgent_needs: Option<String>,
    pub skills: Option<String>,
    pub employment_wishes: Option<String>,
    pub state_of_mind: Option<String>,
}

impl CaseForm {
    /// Parses and checks every field given. The ID number is replaced by its identity key here;
    /// gender and birth year default to what the number encodes.
    pub fn parse(&self, salt: &FederationSalt) -> Result<CaseFields> {
        let id = self.id_number.as_deref().map(IdNumber::parse).transpose()?;
        if let Some(region) = self.region.as_deref().filter(|r| !r.trim().is_empty()) {
            crate::policy::check_region(region.trim())?;
        }
        let money = |field: &'static str, v: &Option<String>| {
            v.as_deref().map(|s| parse_yuan(field, s)).transpose()
        };
        let secondary = self
            .secondary_causes
            .iter()
            .flat_map(|s| s.split([';', ',']))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Cause>>>()?;
        Ok(CaseFields {
            name: self.name.clone(),
            identity_key: id.as_ref().map(|id| id.identity_key(salt)),
            gender: match &self.gender {
                Some(g) => Some(g.parse()?),
                None => id.as_ref().map(IdNumber::gender),
            },
            birth_year: match &self.birth_year {
                Some(y) => Some(parse_number("birth year", y)?),
                None => id
                    .as_ref()
                    .and_then(IdNumber::birth_date)
                    .map(|d| i32::from(d.year())),
            },
            employer: self.employer.clone(),
            job: self.job.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            household_size: self
                .household_size
                .as_deref()
                .map(|s| parse_number("household size", s))
                .transpose()?,
            annual_income_fen: money("annual income", &self.annual_income)?,
            rigid_spending_fen: money("rigid spending", &self.rigid_spending)?,
            hardship_costs_fen: money("hardship costs", &self.hardship_costs)?,
            subsistence_line_fen: money("subsistence line", &self.subsistence_line)?,
            medical_costs_fen: money("medical costs", &self.medical_costs)?,
            largest_stay_fen: money("largest stay", &self.largest_stay)?,
            aid_request_fen: money("aid request", &self.aid_request)?,
            compensation_fen: money("compensation", &self.compensation)?,
            exclusions: self
                .exclusions
                .as_deref()
                .map(|text| {
                    text.split([';', ','])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::parse::<Exclusion>)
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
            region: self.region.as_deref().map(|r| r.trim().to_owned()),
            primary_cause: self.primary_cause.as_deref().map(str::parse).transpose()?,
            secondary_causes: (!self.secondary_causes.is_empty()).then_some(secondary),
            other_cause_text: self.other_cause.clone(),
            urgent_needs: self.urgent_needs.clone(),
            skills: self.skills.clone(),
            employment_wishes: self.employment_wishes.clone(),
            state_of_mind: self.state_of_mind.clone(),
        })
    }
}

/// Parses a whole number for a named field.
pub fn parse_number<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T> {
    text.trim().parse().map_err(|_| ArchiveError::Invalid {
        field,
        reason: format!("{text:?} is not a whole number; write e.g. 3"),
    })
}

/// The years a date or a yearly figure of Hearth may fall in.
pub const YEARS: std::ops::RangeInclusive<i16> = 1900..=2100;

/// Checks that a year is one a case, a fund or a figure can have ([`YEARS`]).
pub fn check_year(field: &'static str, year: i16) -> Result<()> {
    if !YEARS.contains(&year) {
        return Err(ArchiveError::Invalid {
            field,
            reason: format!(
                "{year} is not a year Hearth records; give one from {} to {}",
                YEARS.start(),
                YEARS.end()
            ),
        });
    }
    Ok(())
}

/// Parses a year (`2026`) for a named field, within [`YEARS`].
pub fn parse_year(field: &'static str, text: &str) -> Result<i16> {
    let year = parse_number(field, text)?;
    check_year(field, year)?;
    Ok(year)
}

/// The years of a date Hearth takes: none before 1900 (dates of things that happened are
/// further held to today, and years of figures to [`YEARS`]).
pub const DATE_YEARS: std::ops::RangeInclusive<i16> = 1900..=9999;

/// Parses a `YYYY-MM-DD` date for a named field, in a year of [`DATE_YEARS`].
pub fn parse_date(field: &'static str, text: &str) -> Result<Date> {
    let trimmed = text.trim();
    let shaped =
        trimmed.len() == 10 && trimmed.as_bytes()[4] == b'-' && trimmed.as_bytes()[7] == b'-';
    match trimmed.parse::<Date>() {
        Ok(date) if shaped && DATE_YEARS.contains(&date.year()) => Ok(date),
        _ => Err(ArchiveError::Date {
            field,
            value: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_number_becomes_a_key_and_fills_gender_and_birth_year() {
        let salt = FederationSalt::from_bytes([7; 32]);
        let form = CaseForm {
            id_number: Some("11010519491231002X".into()),
            annual_income: Some("30000".into()),
            secondary_causes: vec!["accident; 3".into()],
            ..CaseForm::default()
        };
        let fields = form.parse(&salt).unwrap();
        assert_eq!(fields.birth_year, Some(1949));
        assert_eq!(fields.annual_income_fen, Some(30_000_00));
        assert_eq!(fields.secondary_causes.unwrap().len(), 2);
        let key = fields.identity_key.unwrap();
        assert!(!key.as_str().contains("11010519491231002X"));
    }

    #[test]
    fn bad_text_is_refused_with_the_field_named() {
        let salt = FederationSalt::from_bytes([7; 32]);
        let form = CaseForm {
            household_size: Some("three".into()),
            ..CaseForm::default()
        };
        let err = form.parse(&salt).unwrap_err().to_string();
        assert!(err.contains("household size"), "{err}");
        assert!(parse_date("date", "2026-2-3").is_err());
        assert!(parse_date("date", "2026-02-30").is_err());
        assert_eq!(
            parse_date("date", "2026-02-03").unwrap(),
            jiff::civil::date(2026, 2, 3)
        );
    }
}
