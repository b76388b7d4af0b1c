//! The case field flags of the command line as a form; it is parsed and checked where the write
//! is carried out ([`hearth_ops`]), the same for every entry point.

use hearth_archive::CaseForm;

use clap::Args;

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
        compensation: args.compensation,
        exclusions: args.exclusions,
        region: args.region,
    }
}

/// Fields of a case; each is optional so that `case edit` can change just one.
#[derive(Debug, Args, Default)]
pub struct CaseFieldArgs {
    /// Worker's name
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// National ID number; only its salted hash is stored
    #[arg(long, value_name = "NUMBER")]
    pub id_number: Option<String>,
    /// male or female [default: from the ID number]
    #[arg(long, value_name = "GENDER")]
    pub gender: Option<String>,
    /// Year of birth [default: from the ID number]
    #[arg(long, value_name = "YEAR")]
    pub birth_year: Option<String>,
    /// Employer unit
    #[arg(long, value_name = "TEXT")]
    pub employer: Option<String>,
    /// Job
    #[arg(long, value_name = "TEXT")]
    pub job: Option<String>,
    /// Phone
    #[arg(long, value_name = "TEXT")]
    pub phone: Option<String>,
    /// Home address (家庭住址)
    #[arg(long, value_name = "TEXT")]
    pub address: Option<String>,
    /// People living together (共同生活人口)
    #[arg(long, value_name = "N")]
    pub household_size: Option<String>,
    /// Annual disposable income of the household, yuan
    #[arg(long, value_name = "YUAN")]
    pub annual_income: Option<String>,
    /// Rigid annual spending that recurs (education, chronic illness), yuan
    #[arg(long, value_name = "YUAN")]
    pub rigid_spending: Option<String>,
    /// This year's costs caused by the hardship event (致困支出), yuan
    #[arg(long, value_name = "YUAN")]
    pub hardship_costs: Option<String>,
    /// Local subsistence line (低保标准), monthly per person, yuan [default: the policy's line
    /// for --region]
    #[arg(long, value_name = "YUAN")]
    pub subsistence_line: Option<String>,
    /// Region code of the home (行政区划代码, 6 digits), for the policy's subsistence line
    #[arg(long, value_name = "CODE")]
    pub region: Option<String>,
    /// This year's medical costs the household paid out of pocket (自付医疗费用), yuan: they
    /// count towards accident hardship and cap medical aid
    #[arg(long, value_name = "YUAN")]
    pub medical_costs: Option<String>,
    /// The largest single hospital stay this year, yuan
    #[arg(long, value_name = "YUAN")]
    pub largest_stay: Option<String>,
    /// Aid the household asks for, yuan (decides which level must approve it)
    #[arg(long, value_name = "YUAN")]
    pub aid_request: Option<String>,
    /// Compensation and insurance received for this year's costs (赔偿及保险), yuan
    #[arg(long, value_name = "YUAN")]
    pub compensation: Option<String>,
    /// What makes the household not eligible, comma separated: second_home 多套住房, car
    /// 有机动车, business_share 控股企业, refused_verification 拒绝核查 (empty text clears)
    #[arg(long, value_name = "CODES")]
    pub exclusions: Option<String>,
    /// Primary cause: code or number (1 no_work_ability … 10 other)
    #[arg(long, value_name = "CAUSE")]
    pub primary_cause: Option<String>,
    /// Secondary cause, up to three (repeat the flag); replaces the list on edit
    #[arg(long, value_name = "CAUSE")]
    pub secondary_cause: Vec<String>,
    /// Description when a cause is "other"
    #[arg(long, value_name = "TEXT")]
    pub other_cause: Option<String>,
    /// Urgent needs (急需解决的问题)
    #[arg(long, value_name = "TEXT")]
    pub urgent_needs: Option<String>,
    /// Skills (技术特长)
    #[arg(long, value_name = "TEXT")]
    pub skills: Option<String>,
    /// Employment wishes (就业要求)
    #[arg(long, value_name = "TEXT")]
    pub employment_wishes: Option<String>,
    /// State of mind (思想状况)
    #[arg(long, value_name = "TEXT")]
    pub state_of_mind: Option<String>,
}
