//! The case field flags of the command line as a form; it is parsed and checked where the write
//! is carried out ([`hearth_node::archive`]), the same for every entry point.

use hearth_archive::CaseForm;

use crate::cli::CaseFieldArgs;

/// The flags given, as text.
pub fn case_form(args: CaseFieldArgs) -> CaseForm {
    CaseForm {
        name: args.name,
        id_number: args.id_number,
        gender: args.gender,
        birth_year: args.birth_year,
        employer: args.employer,
        job: args.job,
        phone: args.phone,
        address: args.address,
        household_size: args.household_size,
        annual_income: args.annual_income,
        rigid_spending: args.rigid_spending,
        hardship_costs: args.hardship_costs,
        subsistence_line: args.subsistence_line,
        primary_cause: args.primary_cause,
        secondary_causes: args.secondary_cause,
        other_cause: args.other_cause,
        urgent_needs: args.urgent_needs,
        skills: args.skills,
        employment_wishes: args.employment_wishes,
        state_of_mind: args.state_of_mind,
        medical_costs: args.medical_costs,
        largest_stay: args.largest_stay,
        aid_request: args.aid_request,
        region: args.region,
    }
}
