//! The console's forms: one for every write the command line has, each field text as typed,
//! turned into the same [`Write`] the command line sends. Nothing is checked here: the
//! operations layer parses and checks every field, and its message (Chinese and English) is
//! what the person sees.

use std::collections::HashMap;

use hearth_archive::codes::{
    AssistanceKind, Cause, ChainStep, CheckResult, Decision, Grade, Level, ReviewResult, Status,
    VisitKind,
};
use hearth_archive::money::format_yuan;
use hearth_archive::{CaseForm, CaseView};
use hearth_ops::Write;
use jiff::civil::Date;

/// How a field is typed in.
pub(super) enum Input {
    /// One line of text.
    Text,
    /// Several lines.
    Area,
    /// Yuan.
    Money,
    /// A day.
    Date,
    /// A month, `YYYY-MM`.
    Month,
    /// A whole number.
    Number,
    /// A tick box.
    Check,
    /// One of a list (code, label); an empty first choice when the field may be left out.
    Pick(Vec<(String, String)>),
}

/// A field of a form.
pub(super) struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    /// What it holds when the form opens.
    pub value: String,
}

/// A form: what it does, by code (the last part of its address) and label, and its fields.
pub(super) struct Action {
    pub code: &'static str,
    pub label: &'static str,
    pub fields: Vec<Field>,
}

macro_rules! pick {
    ($t:ty) => {
        Input::Pick(
            <$t>::ALL
                .iter()
                .map(|v| (v.code().to_owned(), v.label()))
                .collect(),
        )
    };
}

fn field(name: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        name,
        label,
        input,
        required: false,
        value: String::new(),
    }
}

fn required(name: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        required: true,
        ..field(name, label, input)
    }
}

fn on(name: &'static str, label: &'static str, today: Date) -> Field {
    Field {
        value: today.to_string(),
        ..required(name, label, Input::Date)
    }
}

fn with_empty(input: Input) -> Input {
    match input {
        Input::Pick(mut list) => {
            list.insert(0, (String::new(), "—".into()));
            Input::Pick(list)
        }
        other => other,
    }
}

/// The forms of a case page, in the order work on a case goes (the edit form holding `v`'s
/// values).
pub(super) fn case_actions(v: Option<&CaseView>, today: Date) -> Vec<Action> {
    vec![
        Action {
            code: "step",
            label: "建档步骤 Filing step",
            fields: vec![
                required("step", "步骤 Step", pick!(ChainStep)),
                on("date", "日期 Date", today),
                field(
                    "result",
                    "核对结果 Check result",
                    with_empty(pick!(CheckResult)),
                ),
                field("checker", "核对人 Checker", Input::Text),
                field("note", "说明 Note", Input::Area),
            ],
        },
        Action {
            code: "visit",
            label: "走访 Visit",
            fields: vec![
                on("date", "日期 Date", today),
                required("kind", "类型 Kind", pick!(VisitKind)),
                field("visitor", "走访人 Visitor", Input::Text),
                field("notes", "记录 Notes", Input::Area),
                field("consent", "本人同意入户核实 Consented", Input::Check),
            ],
        },
        Action {
            code: "file",
            label: "提交建档 Submit for filing",
            fields: vec![field(
                "override_reason",
                "不符合标准仍提交的理由 Reason to submit although not eligible",
                Input::Area,
            )],
        },
        Action {
            code: "decide",
            label: "审批 Decide",
            fields: vec![
                required("decision", "决定 Decision", pick!(Decision)),
                field("note", "意见 Note", Input::Area),
            ],
        },
        Action {
            code: "assist",
            label: "帮扶 Record aid",
            fields: vec![
                required("kind", "类型 Kind", pick!(AssistanceKind)),
                required("amount", "金额（元） Amount (yuan)", Input::Money),
                on("date", "日期 Date", today),
                field("note", "说明 Note", Input::Area),
            ],
        },
        Action {
            code: "approve_aid",
            label: "批准超额帮扶 Approve aid above authority",
            fields: vec![
                required("kind", "类型 Kind", pick!(AssistanceKind)),
                required("amount", "金额（元） Amount (yuan)", Input::Money),
                field("note", "意见 Note", Input::Area),
            ],
        },
        Action {
            code: "loan",
            label: "借款 Lend",
            fields: vec![
                required("amount", "金额（元） Amount (yuan)", Input::Money),
                on("date", "借出日期 Date", today),
                required("due", "到期日 Due", Input::Date),
                field("note", "说明 Note", Input::Area),
                field(
                    "override_reason",
                    "例外理由 Reason for an exception",
                    Input::Area,
                ),
            ],
        },
        Action {
            code: "repay",
            label: "还款 Repayment",
            fields: vec![
                field("loan", "借款编号 Loan (if several)", Input::Text),
                required("amount", "金额（元） Amount (yuan)", Input::Money),
                on("date", "日期 Date", today),
                field("note", "说明 Note", Input::Area),
            ],
        },
        Action {
            code: "member",
            label: "家庭成员 Household member",
            fields: vec![
                required("relation", "关系 Relation", Input::Text),
                field("age", "年龄 Age", Input::Number),
                field("health", "健康状况 Health", Input::Text),
                field("occupation", "职业 Occupation", Input::Text),
            ],
        },
        Action {
            code: "income",
            label: "月收入 Monthly income",
            fields: vec![
                Field {
                    value: format!("{:04}-{:02}", today.year(), today.month()),
                    ..required("month", "月份 Month", Input::Month)
                },
                required(
                    "amount",
                    "家庭月收入（元） Household income (yuan)",
                    Input::Money,
                ),
            ],
        },
        Action {
            code: "review",
            label: "年审 Annual review",
            fields: vec![
                on("date", "日期 Date", today),
                required("result", "结论 Result", pick!(ReviewResult)),
                field("reviewer", "审核人 Reviewer", Input::Text),
                field("notes", "记录 Notes", Input::Area),
            ],
        },
        Action {
            code: "escalate",
            label: "上报 Escalate",
            fields: vec![
                required("to_level", "上报至 To level", pick!(Level)),
                required("reason", "理由 Reason", Input::Area),
            ],
        },
        Action {
            code: "transition",
            label: "变更状态 Change status",
            fields: vec![
                required("to", "新状态 To", pick!(Status)),
                required("reason", "理由 Reason", Input::Area),
                field("on", "生效日期 Effective on", Input::Date),
                field(
                    "outstanding_reason",
                    "尚有借款未还仍结案的理由 Reason to close with loans outstanding",
                    Input::Area,
                ),
            ],
        },
        Action {
            code: "grade",
            label: "调整等级 Override the grade",
            fields: vec![
                field(
                    "set",
                    "等级（留空取消） Grade (empty: back to the standard's)",
                    with_empty(pick!(Grade)),
                ),
                field("reason", "理由 Reason", Input::Area),
            ],
        },
        Action {
            code: "edit",
            label: "修改档案 Edit the file",
            fields: case_fields(v),
        },
    ]
}

/// The fields of a case form, holding `v`'s values (a new case's when `None`: with the ID
/// number, which is never shown again).
pub(super) fn case_fields(v: Option<&CaseView>) -> Vec<Field> {
    let text = |name, label, value: Option<String>| Field {
        value: value.unwrap_or_default(),
        ..field(name, label, Input::Text)
    };
    let money = |name, label, fen: Option<i64>| Field {
        value: fen.map(format_yuan).unwrap_or_default(),
        ..field(name, label, Input::Money)
    };
    let w = v.map(|v| &v.worker);
    let f = v.map(|v| &v.finances);
    let mut fields = vec![Field {
        required: v.is_none(),
        ..text("name", "姓名 Name", w.and_then(|w| w.name.clone()))
    }];
    if v.is_none() {
        fields.push(field(
            "id_number",
            "身份证号（只保存其散列） ID number (only its hash is kept)",
            Input::Text,
        ));
    }
    fields.extend([
        text("phone", "电话 Phone", w.and_then(|w| w.phone.clone())),
        text("address", "住址 Address", w.and_then(|w| w.address.clone())),
        text(
            "employer",
            "工作单位 Employer",
            w.and_then(|w| w.employer.clone()),
        ),
        text("job", "岗位 Job", w.and_then(|w| w.job.clone())),
        text("region", "地区 Region", w.and_then(|w| w.region.clone())),
        Field {
            value: v
                .and_then(|v| v.household.size)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            ..field(
                "household_size",
                "共同生活人口 Household size",
                Input::Number,
            )
        },
        money(
            "annual_income",
            "家庭年可支配收入 Annual income",
            f.and_then(|f| f.annual_income_fen),
        ),
        money(
            "rigid_spending",
            "刚性支出 Rigid spending",
            f.and_then(|f| f.rigid_spending_fen),
        ),
        money(
            "hardship_costs",
            "致困支出 Hardship costs",
            f.and_then(|f| f.hardship_costs_fen),
        ),
        money(
            "medical_costs",
            "自付医疗费 Medical costs",
            f.and_then(|f| f.medical_costs_fen),
        ),
        money(
            "compensation",
            "赔偿保险 Compensation",
            f.and_then(|f| f.compensation_fen),
        ),
        money(
            "subsistence_line",
            "低保标准（月） Subsistence line (month)",
            f.and_then(|f| f.subsistence_line_fen),
        ),
        money(
            "aid_request",
            "申请金额 Aid requested",
            f.and_then(|f| f.aid_request_fen),
        ),
        Field {
            value: v
                .and_then(|v| v.causes.primary)
                .map(|c| c.code().to_owned())
                .unwrap_or_default(),
            ..field(
                "primary_cause",
                "主要致困原因 Primary cause",
                with_empty(pick!(Cause)),
            )
        },
        text(
            "secondary_causes",
            "其他致困原因（代码，逗号分隔） Other causes (codes)",
            v.map(|v| {
                v.causes
                    .secondary
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ),
        text(
            "exclusions",
            "排除情形（代码，逗号分隔） Exclusions (codes)",
            v.map(|v| {
                v.household
                    .exclusions
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ),
        text(
            "urgent_needs",
            "急需解决的问题 Urgent needs",
            v.and_then(|v| v.profile.urgent_needs.clone()),
        ),
    ]);
    fields
}

/// What a form posted says: each field's text, and what it held when the form opened
/// (`was:NAME`), so that an edit writes only what the person changed.
pub(super) struct Posted(HashMap<String, String>);

impl Posted {
    pub fn new(pairs: Vec<(String, String)>) -> Posted {
        Posted(pairs.into_iter().collect())
    }

    /// The field as typed (empty when not sent).
    pub fn text(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_default()
    }

    /// The field, left out when empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The field when the person changed it from what the form held (an emptied field clears).
    fn changed(&self, name: &str) -> Option<String> {
        let now = self.0.get(name)?.trim();
        let was = self.0.get(&format!("was:{name}")).map(|w| w.trim());
        (was != Some(now)).then(|| now.to_owned())
    }
}

/// The case form a new-case or edit form posted: every field when new, the changed ones when
/// editing.
pub(super) fn case_form(p: &Posted, editing: bool) -> CaseForm {
    let get = |name: &str| {
        if editing {
            p.changed(name)
        } else {
            p.opt(name)
        }
    };
    CaseForm {
        name: get("name"),
        id_number: p.opt("id_number"),
        phone: get("phone"),
        address: get("address"),
        employer: get("employer"),
        job: get("job"),
        region: get("region"),
        household_size: get("household_size"),
        annual_income: get("annual_income"),
        rigid_spending: get("rigid_spending"),
        hardship_costs: get("hardship_costs"),
        medical_costs: get("medical_costs"),
        compensation: get("compensation"),
        subsistence_line: get("subsistence_line"),
        aid_request: get("aid_request"),
        primary_cause: get("primary_cause"),
        secondary_causes: get("secondary_causes").into_iter().collect(),
        exclusions: get("exclusions"),
        urgent_needs: get("urgent_needs"),
        ..CaseForm::default()
    }
}

/// The write the form `code` posted for `case`; `None` for a form the console does not have.
pub(super) fn write_of(code: &str, case: &str, p: &Posted) -> Option<Write> {
    let case = case.to_owned();
    Some(match code {
        "step" => Write::Step {
            case,
            step: p.text("step"),
            date: p.opt("date"),
            result: p.opt("result"),
            checker: p.opt("checker"),
            note: p.opt("note"),
        },
        "visit" => Write::AddVisit {
            case,
            date: p.text("date"),
            kind: p.text("kind"),
            visitor: p.opt("visitor"),
            notes: p.opt("notes"),
            consent: p.opt("consent").is_some(),
        },
        "file" => Write::FileCase {
            case,
            via: None,
            override_reason: p.opt("override_reason"),
        },
        "decide" => Write::Decide {
            case,
            decision: p.text("decision"),
            note: p.text("note"),
        },
        "assist" => Write::AddAssistance {
            case,
            kind: p.text("kind"),
            amount: p.text("amount"),
            date: p.text("date"),
            paying_node: None,
            approving_node: None,
            note: p.opt("note"),
        },
        "approve_aid" => Write::ApproveAid {
            case,
            kind: p.text("kind"),
            amount: p.text("amount"),
            note: p.opt("note"),
        },
        "loan" => Write::AddLoan {
            case,
            amount: p.text("amount"),
            date: p.text("date"),
            due: p.text("due"),
            note: p.opt("note"),
            override_reason: p.opt("override_reason"),
        },
        "repay" => Write::RepayLoan {
            case,
            loan: p.opt("loan"),
            amount: p.text("amount"),
            date: p.text("date"),
            note: p.opt("note"),
        },
        "member" => Write::AddMember {
            case,
            relation: p.text("relation"),
            age: p.opt("age"),
            health: p.opt("health"),
            occupation: p.opt("occupation"),
        },
        "income" => Write::MonthlyIncome {
            case,
            month: p.text("month"),
            amount: p.text("amount"),
        },
        "review" => Write::AddReview {
            case,
            date: p.text("date"),
            result: p.text("result"),
            reviewer: p.opt("reviewer"),
            notes: p.opt("notes"),
        },
        "escalate" => Write::Escalate {
            case,
            to_level: p.text("to_level"),
            reason: p.text("reason"),
            via: None,
        },
        "transition" => Write::Transition {
            case,
            to: p.text("to"),
            reason: p.text("reason"),
            on: p.opt("on"),
            outstanding_reason: p.opt("outstanding_reason"),
        },
        "grade" => Write::Grade {
            case,
            set: p.opt("set"),
            reason: p.opt("reason"),
        },
        "edit" => Write::EditCase {
            case,
            form: case_form(p, true),
        },
        "void" => Write::Void {
            case,
            record: p.text("record"),
            reason: p.text("reason"),
        },
        "correct" => Write::CorrectAid {
            case,
            record: p.text("record"),
            reason: p.text("reason"),
            kind: p.opt("kind"),
            amount: p.opt("amount"),
            date: p.opt("date"),
            note: p.opt("note"),
        },
        _ => return None,
    })
}
