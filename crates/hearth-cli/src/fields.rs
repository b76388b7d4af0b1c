//! Turning text from the command line or a CSV line into typed case fields.

use anyhow::Result;
use hearth_archive::money::parse_yuan;
use hearth_archive::{ArchiveError, CaseFields, Cause, FederationSalt, IdNumber};
use jiff::civil::Date;

use crate::BadInput;
use crate::cli::CaseFieldArgs;

/// Parses and checks every field given. The ID number is replaced by its identity key here and
/// goes no further; gender and birth year default to what the number encodes.
pub fn case_fields(args: &CaseFieldArgs, salt: &FederationSalt) -> Result<CaseFields> {
    let id = args.id_number.as_deref().map(IdNumber::parse).transpose()?;
    let money = |field: &'static str, v: &Option<String>| -> Result<Option<i64>> {
        Ok(v.as_deref().map(|s| parse_yuan(field, s)).transpose()?)
    };
    let secondary = args
        .secondary_cause
        .iter()
        .flat_map(|s| s.split([';', ',']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Cause>, _>>()?;
    Ok(CaseFields {
        name: args.name.clone(),
        identity_key: id.as_ref().map(|id| id.identity_key(salt)),
        gender: match &args.gender {
            Some(g) => Some(g.parse()?),
            None => id.as_ref().map(IdNumber::gender),
        },
        birth_year: match &args.birth_year {
            Some(y) => Some(parse_number("birth year", y)?),
            None => id
                .as_ref()
                .and_then(IdNumber::birth_date)
                .map(|d| i32::from(d.year())),
        },
        employer: args.employer.clone(),
        job: args.job.clone(),
        phone: args.phone.clone(),
        address: args.address.clone(),
        household_size: args
            .household_size
            .as_deref()
            .map(|s| parse_number("household size", s))
            .transpose()?,
        annual_income_fen: money("annual income", &args.annual_income)?,
        rigid_spending_fen: money("rigid spending", &args.rigid_spending)?,
        hardship_costs_fen: money("hardship costs", &args.hardship_costs)?,
        subsistence_line_fen: money("subsistence line", &args.subsistence_line)?,
        primary_cause: args.primary_cause.as_deref().map(str::parse).transpose()?,
        secondary_causes: (!args.secondary_cause.is_empty()).then_some(secondary),
        other_cause_text: args.other_cause.clone(),
        urgent_needs: args.urgent_needs.clone(),
        skills: args.skills.clone(),
        employment_wishes: args.employment_wishes.clone(),
        state_of_mind: args.state_of_mind.clone(),
    })
}

/// Parses a whole number for a named field.
pub fn parse_number<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T> {
    text.trim().parse().map_err(|_| {
        BadInput::new(format!(
            "invalid {field} {text:?}: write a whole number, e.g. 3"
        ))
        .into()
    })
}

/// Parses a `YYYY-MM-DD` date for a named field.
pub fn parse_date(field: &'static str, text: &str) -> Result<Date> {
    let trimmed = text.trim();
    let ok = trimmed.len() == 10 && trimmed.as_bytes()[4] == b'-' && trimmed.as_bytes()[7] == b'-';
    match trimmed.parse::<Date>() {
        Ok(date) if ok => Ok(date),
        _ => Err(ArchiveError::Date {
            field,
            value: text.to_owned(),
        }
        .into()),
    }
}
