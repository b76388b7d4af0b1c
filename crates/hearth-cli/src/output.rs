//! What `hearth` prints for people: tables with Chinese and English labels. Scripts use `--json`.

use std::fmt::Write as _;

use comfy_table::{ContentArrangement, Table, presets};
use hearth_archive::conflict::QueueEntry;
use hearth_archive::due::Due;
use hearth_archive::ledger::LedgerView;
use hearth_archive::money::format_yuan;
use hearth_archive::policy::Advice;
use hearth_archive::summary::{ConflictBrief, NodeSummary, Totals};
use hearth_archive::view::Grading;
use hearth_archive::{
    AssistanceKind, CaseSummary, CaseView, Cause, Decision, Grade, Policy, Status,
};
use serde::Serialize;

/// Writing to stdout failed. A closed pipe (`hearth case list | head`) ends the command
/// quietly; anything else is reported, saying that what the command did is done.
#[derive(Debug)]
pub struct OutputError(pub std::io::Error);

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot write the output ({}); what the command did is done",
            self.0
        )
    }
}

impl std::error::Error for OutputError {}

/// Writes text and a line break to stdout. Control and invisible formatting characters (text
/// from other nodes may hold them) are shown as escapes, so nothing printed can steer the
/// terminal; line breaks and tabs stay.
pub fn line(text: std::fmt::Arguments<'_>) -> Result<(), OutputError> {
    use std::io::Write as _;
    let text = text.to_string();
    let text = hearth_archive::text::escape_keeping_lines(&text);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(OutputError)
}

/// `println!` for output: through [`line`], returning its error.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// Prints a value as pretty JSON on stdout, with control and invisible formatting characters
/// in strings written as `\uXXXX` escapes.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, SafeJson::default());
    value.serialize(&mut ser)?;
    text.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&text)
        .and_then(|()| out.flush())
        .map_err(OutputError)?;
    Ok(())
}

/// serde_json's pretty printer, escaping in strings what [`line`] escapes in text: serde_json
/// escapes control characters itself, but not the invisible ones that reorder text.
#[derive(Default)]
struct SafeJson(serde_json::ser::PrettyFormatter<'static>);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $t:ty),*)),* $(,)?) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $t)*) -> std::io::Result<()> {
            self.0.$name(w $(, $arg)*)
        }
    )*};
}

impl serde_json::ser::Formatter for SafeJson {
    delegate!(
        begin_array(),
        end_array(),
        begin_array_value(first: bool),
        end_array_value(),
        begin_object(),
        end_object(),
        begin_object_key(first: bool),
        begin_object_value(),
        end_object_value(),
    );

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find(hearth_archive::text::is_unsafe_to_show) {
            w.write_all(&rest.as_bytes()[..at])?;
            let c = rest[at..].chars().next().unwrap_or('\u{fffd}');
            write!(w, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "—".to_owned())
}

fn yuan(v: Option<i64>) -> String {
    v.map(format_yuan).unwrap_or_else(|| "—".to_owned())
}

/// A grade as people read it: `deep 深度困难`, with overrides marked.
pub fn grade_label(grade: Option<Grade>, overridden: bool) -> String {
    match (grade, overridden) {
        (None, _) => "— 待评定 (not yet graded)".to_owned(),
        (Some(g), false) => g.label(),
        (Some(g), true) => format!("{} (override 人工调整)", g.label()),
    }
}

/// A JSON array printed as its items come (a listing page by page): `[` first, `]` at
/// [`JsonArray::end`]; each item as [`print_json`] prints a value.
pub struct JsonArray {
    first: bool,
}

impl JsonArray {
    /// Prints the array's start.
    pub fn start() -> anyhow::Result<JsonArray> {
        write_out(b"[\n")?;
        Ok(JsonArray { first: true })
    }

    /// Prints `items`, the next of the array.
    pub fn items<T: Serialize>(&mut self, items: &[T]) -> anyhow::Result<()> {
        let mut text = Vec::new();
        for item in items {
            if !self.first {
                text.extend_from_slice(b",\n");
            }
            self.first = false;
            let mut ser = serde_json::Serializer::with_formatter(&mut text, SafeJson::default());
            item.serialize(&mut ser)?;
        }
        write_out(&text)
    }

    /// Prints the array's end.
    pub fn end(self) -> anyhow::Result<()> {
        write_out(b"\n]\n")
    }
}

fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(OutputError)?;
    Ok(())
}

/// The table of a page of `case list`.
pub fn case_table(cases: &[CaseSummary]) -> String {
    let mut t = table(&[
        "ID",
        "Name 姓名",
        "Status 状态",
        "Grade 困难等级",
        "Primary cause 主要致困原因",
        "People 人口",
        "Per person/month 人均月收入",
        "Aid paid 已帮扶",
        "Loans owed 借款余额",
    ]);
    for c in cases {
        t.add_row(vec![
            c.id.clone(),
            text(&c.name),
            c.status.label(),
            grade_label(c.grade, c.grade_overridden),
            c.primary_cause
                .map(|c| c.label())
                .unwrap_or_else(|| "—".into()),
            c.household_size
                .map(|n| n.to_string())
                .unwrap_or_else(|| "—".into()),
            yuan(c.per_capita_monthly_fen),
            format_yuan(c.assistance_total_fen),
            format_yuan(c.outstanding_fen),
        ]);
    }
    t.to_string()
}

fn grading_line(g: &Grading, grade: Option<Grade>) -> String {
    let mut line = grade_label(grade, g.override_.is_some());
    if let Some(o) = &g.override_ {
        let derived = g.derived.map(|d| d.label()).unwrap_or_else(|| "—".into());
        let _ = write!(
            line,
            "; reason 理由: {}; derived 计算结果: {derived}",
            o.reason
        );
    } else if let Some(basis) = &g.basis {
        let _ = write!(line, "; {basis}");
    }
    if g.derived.is_some() {
        let _ = write!(line, "; graded by 评定依据 {}", g.standard.label());
    }
    line
}

/// The rows of `case show` a conflict's path marks.
const CONFLICT_PATHS: &[(&str, &str)] = &[
    ("Status 状态", "status"),
    ("Grade 困难等级", "grade.derived"),
    ("Grade 困难等级", "grade.override"),
    ("Annual income 年可支配收入", "finances.annual_income_fen"),
    ("Rigid spending 刚性支出", "finances.rigid_spending_fen"),
    ("Hardship costs 致困支出", "finances.hardship_costs_fen"),
    ("Medical costs 年医疗费用", "finances.medical_costs_fen"),
    ("Compensation 赔偿保险", "finances.compensation_fen"),
    (
        "Subsistence line 低保标准 (monthly)",
        "finances.subsistence_line_fen",
    ),
    ("Household 共同生活人口", "household.size"),
    ("Address 家庭住址", "worker.address"),
    ("Region 地区", "worker.region"),
];

/// A field in conflict, as its row says it: the conflict's id and every side with its person
/// and node.
fn conflict_mark(c: &QueueEntry) -> String {
    let sides: Vec<String> = c
        .sides
        .iter()
        .map(|s| {
            format!(
                "{} ({} at {})",
                s.value,
                s.by.as_deref().unwrap_or("?"),
                s.node.as_deref().unwrap_or("?")
            )
        })
        .collect();
    format!(
        "⚠ in conflict 冲突中 {}: {} — `hearth conflicts resolve {} --pick N`",
        c.id,
        sides.join(" / "),
        c.id
    )
}

/// One entry of the approvals list as people read it: a decision, a step of the filing chain
/// with what it found, an aid approval, or an eligibility override.
fn approval_step(a: &hearth_archive::view::Approval) -> String {
    let step = a.step.as_deref().unwrap_or_default();
    if let Ok(chain) = step.parse::<hearth_archive::ChainStep>() {
        let mut s = chain.label();
        if let Some(d) = a.date {
            let _ = write!(s, " {d}");
        }
        if let Some(until) = a.until {
            let _ = write!(s, " – {until}");
        }
        if let Some(r) = a.result {
            let _ = write!(s, ": {}", r.label());
        }
        if let Some(c) = &a.checker {
            let _ = write!(s, " ({c})");
        }
        return s;
    }
    match step {
        hearth_archive::case::AID_APPROVAL => format!(
            "aid approval 超权限审批 {}: {} up to {}{}",
            text(&a.id),
            a.kind.map(|k| k.label()).unwrap_or_default(),
            yuan(a.amount_fen),
            a.level
                .map(|l| format!(" ({})", l.label()))
                .unwrap_or_default()
        ),
        hearth_archive::case::ELIGIBILITY_OVERRIDE => {
            "eligibility override 不符合条件特批申请".to_owned()
        }
        _ => a
            .decision
            .as_deref()
            .and_then(|d| d.parse::<Decision>().ok())
            .map(|d| format!("decision 审批: {}", d.label()))
            .unwrap_or_else(|| text(&a.decision)),
    }
}

/// The full read-out of `case show`.
/// What the policy says of a case, as lines for people.
pub fn advice_lines(a: &Advice, case: &str) -> String {
    let mut out = format!("Policy 政策: {}", a.policy);
    match a.must_reach {
        None => out.push_str("; no rule sends this case higher 无需上报"),
        Some(level) => {
            let _ = write!(out, "; must reach {} 须上报至该级", level.label());
            for r in &a.requirements {
                let _ = write!(out, "\n  - {}: {}", r.reason, r.level.label());
            }
            if a.pending {
                let _ = write!(
                    out,
                    "\n  not yet escalated 尚未上报: `hearth escalate {case} --to-level {} --reason …`",
                    level.code()
                );
            }
        }
    }
    out
}

/// `case pending`, a page of it: one row per case that must still go up.
pub fn pending_table(cases: &[(CaseSummary, Advice)]) -> String {
    let mut t = table(&[
        "Case 档案号",
        "Name 姓名",
        "Status 状态",
        "Must reach 须上报至",
        "Why 原因",
    ]);
    for (c, a) in cases {
        t.add_row(vec![
            c.id.clone(),
            text(&c.name),
            c.status.label(),
            a.must_reach.map(|l| l.label()).unwrap_or_default(),
            a.requirements
                .iter()
                .map(|r| format!("{}: {}", r.reason, r.level.code()))
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    t.to_string()
}

/// `stats`: one row per figure; columns total, own cases, and (with `by_child`) each child.
pub fn stats_table(s: &NodeSummary, by_child: bool) -> String {
    let mut columns: Vec<(String, &Totals)> = vec![
        ("Total 合计".into(), &s.total),
        ("Own cases 本级".into(), &s.own),
    ];
    if by_child {
        columns.extend(s.children.iter().map(|(id, t)| (id.clone(), t)));
    }
    let mut header = vec!["Figure 指标".to_owned()];
    header.extend(columns.iter().map(|(h, _)| h.clone()));
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    // Breakdown rows (indented) that are zero in every column are left out.
    let mut row = |label: String, f: &dyn Fn(&Totals) -> String| {
        let cells: Vec<String> = columns.iter().map(|(_, t)| f(t)).collect();
        let zero = cells.iter().all(|c| c == "0" || c == "0.00");
        if label.starts_with("  ") && zero {
            return;
        }
        let mut r = vec![label];
        r.extend(cells);
        t.add_row(r);
    };
    row("Cases 档案数".into(), &|t| t.cases.to_string());
    row(
        format!("On file 1 Jan {} 年初在档户数", s.year),
        &|t| t.start_of_year.to_string(),
    );
    row(format!("New in {} 本年新建档", s.year), &|t| {
        t.filed_this_year.to_string()
    });
    row(
        format!("Out in {} 本年退出 (lifted 脱困 + closed 注销)", s.year),
        &|t| (t.lifted_this_year + t.closed_this_year).to_string(),
    );
    row("  lifted 脱困".into(), &|t| {
        t.lifted_this_year.to_string()
    });
    row("  closed 注销".into(), &|t| {
        t.closed_this_year.to_string()
    });
    row(
        format!("On file end of {} 年末在档户数", s.year),
        &|t| t.end_of_year.to_string(),
    );
    row("In hardship now 当前在档困难户".into(), &|t| {
        t.in_hardship.to_string()
    });
    for status in Status::ALL {
        row(format!("  {}", status.label()), &|t| {
            t.by_status.get(status).copied().unwrap_or(0).to_string()
        });
    }
    for grade in Grade::ALL {
        row(format!("  {}", grade.label()), &|t| {
            t.by_grade.get(grade).copied().unwrap_or(0).to_string()
        });
    }
    for cause in Cause::ALL {
        row(format!("  {}", cause.label()), &|t| {
            t.by_cause.get(cause).copied().unwrap_or(0).to_string()
        });
    }
    row(format!("Aid paid {} 本年帮扶金额", s.year), &|t| {
        format_yuan(t.paid_total_fen())
    });
    for kind in AssistanceKind::ALL {
        row(format!("  {}", kind.label()), &|t| {
            format_yuan(t.paid_fen.get(kind).copied().unwrap_or(0))
        });
    }
    row("Households helped 帮扶户数".into(), &|t| {
        t.households_helped.to_string()
    });
    row("People helped 帮扶人数".into(), &|t| {
        t.people_helped.to_string()
    });
    row("Visits 走访次数".into(), &|t| t.visits.to_string());
    row(
        "  filing day = import day 建档日期为导入日".into(),
        &|t| t.filed_on_estimated.to_string(),
    );
    let past = if hearth_archive::calendar::day_of(s.as_of).year() != s.year {
        "; a past year: this node's own cases only (children report the current year) 往年仅含本级"
    } else {
        ""
    };
    let missing = if s.children.is_empty() {
        past.to_owned()
    } else {
        format!(
            "; children reporting: {}",
            s.children.keys().cloned().collect::<Vec<_>>().join(", ")
        ) + past
    };
    format!("{} ({}), {}{missing}\n{t}", s.node, s.level.label(), s.year)
}

/// A moment in the machine's time zone, to the minute; "—" when unknown.
fn local_time(at: Option<jiff::Timestamp>) -> String {
    at.map(|t| {
        t.to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_else(|| "—".into())
}

/// A moment given in seconds since the Unix epoch, as [`local_time`] writes it.
pub(crate) fn when(at: i64) -> String {
    local_time(jiff::Timestamp::from_second(at).ok())
}

/// `conflicts list`.
pub fn conflict_list(list: &[QueueEntry]) -> String {
    if list.is_empty() {
        return "no conflicts 无冲突".into();
    }
    let mut t = table(&[
        "Conflict 冲突",
        "Case 档案号",
        "Field 字段",
        "Sides 各方",
        "Since 时间",
        "Resolve at 处理单位",
        "State 状态",
    ]);
    for c in list {
        t.add_row(vec![
            c.id.clone(),
            c.case.clone(),
            c.field.clone(),
            c.sides
                .iter()
                .map(|s| format!("{} ({})", s.value, s.node.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(" | "),
            when(c.since),
            c.route.clone().unwrap_or_else(|| "—".into()),
            if c.is_open() {
                "open 待处理".into()
            } else {
                "resolved 已解决".into()
            },
        ]);
    }
    t.to_string()
}

/// `conflicts list --below`.
pub fn conflict_briefs(list: &[ConflictBrief]) -> String {
    if list.is_empty() {
        return "no open conflicts here or below 本级及下级无待处理冲突".into();
    }
    let mut t = table(&[
        "Conflict 冲突",
        "Case 档案号",
        "Field 字段",
        "Resolve at 处理单位",
    ]);
    for c in list {
        t.add_row(vec![
            c.id.clone(),
            c.case.clone(),
            c.field.clone(),
            c.route.clone().unwrap_or_else(|| "—".into()),
        ]);
    }
    t.to_string()
}

/// `conflicts show`.
pub fn conflict_details(c: &QueueEntry) -> String {
    let mut t = table(&["Side 方", "Value 值", "By 经办人", "Node 节点", "When 时间"]);
    for (i, s) in c.sides.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            s.value.clone(),
            s.by.clone().unwrap_or_else(|| "?".into()),
            s.node.clone().unwrap_or_else(|| "?".into()),
            when(s.at),
        ]);
    }
    let state = match &c.resolution {
        None => format!(
            "open 待处理: `hearth conflicts resolve {} --pick N` or `--value V`",
            c.id
        ),
        Some(r) => format!(
            "resolved 已解决 by {} at {}, {}: {}",
            r.by.as_deref().unwrap_or("?"),
            r.node.as_deref().unwrap_or("?"),
            when(r.at),
            r.how
        ),
    };
    format!(
        "conflict {} — case {}, {} ({}); to be resolved at {}\n{t}\n{state}",
        c.id,
        c.case,
        c.field,
        c.path,
        c.route.as_deref().unwrap_or("—")
    )
}

/// `case due`: three lists.
pub fn due_lists(d: &Due) -> String {
    let mut out = String::new();
    for (title, rows) in [
        ("Annual review due 待年审", &d.review_due),
        ("Eligible to be lifted 可脱困", &d.lift_eligible),
        ("Loans overdue 借款逾期", &d.loans_overdue),
    ] {
        if rows.is_empty() {
            let _ = writeln!(out, "{title}: none 无");
            continue;
        }
        let mut t = table(&["Case 档案号", "Name 姓名", "Status 状态", "Why 说明"]);
        for r in rows {
            t.add_row(vec![
                r.id.clone(),
                text(&r.name),
                r.status.label(),
                r.detail.clone(),
            ]);
        }
        let _ = writeln!(out, "{title}\n{t}");
    }
    out.trim_end().to_owned()
}

/// `access-log`.
pub fn access_table(log: &[hearth_ops::AccessEntry]) -> String {
    let mut t = table(&["When 时间", "Account 账户", "Case 档案号"]);
    for e in log {
        t.add_row(vec![
            local_time(Some(e.at)),
            e.account.clone(),
            e.case.clone(),
        ]);
    }
    format!("{} case files opened 查阅记录\n{t}", log.len())
}

/// `case history`.
pub fn history_table(case: &str, changes: &[hearth_archive::Change]) -> String {
    let mut t = table(&["When 时间", "Change 操作", "By 经办人", "Node 节点"]);
    for c in changes {
        t.add_row(vec![
            local_time(c.at),
            if c.what.is_empty() {
                "—".into()
            } else {
                c.what.clone()
            },
            text(&c.by),
            text(&c.node),
        ]);
    }
    format!("case {case}: {} changes 修改记录\n{t}", changes.len())
}

/// `fund show`.
pub fn ledger_table(l: &LedgerView) -> String {
    let mut t = table(&["Item 项目", "Amount 金额"]);
    for (item, amount) in l.rows() {
        t.add_row(vec![item, amount]);
    }
    let mut e = table(&["Date 日期", "Entry 摘要", "Amount 金额", "By 经办"]);
    for (_, entry) in &l.entries {
        let stamp = entry.stamp();
        e.add_row(vec![
            entry.date().to_string(),
            entry.describe(),
            entry.amount_text(),
            format!("{} at {}", stamp.by, stamp.node),
        ]);
    }
    format!("fund of {} 帮扶资金, {}\n{t}\n{e}", l.node, l.year)
}

/// `policy show`.
pub fn policy_details(p: &Policy, versions: usize) -> String {
    let mut t = table(&["Rule 规则", "Value 内容"]);
    t.add_row(vec!["Version 版本".into(), p.label()]);
    if !p.set_node.is_empty() {
        t.add_row(vec![
            "Set at 制定".into(),
            format!("{} by {}", p.set_node, p.set_by),
        ]);
    }
    t.add_row(vec![
        "Levels 层级".into(),
        p.levels
            .iter()
            .map(|l| l.label())
            .collect::<Vec<_>>()
            .join(" < "),
    ]);
    for (region, line) in &p.subsistence_lines_fen {
        t.add_row(vec![
            format!("Subsistence line 低保 {region}"),
            format_yuan(*line),
        ]);
    }
    for (kind, cap) in &p.yearly_caps_fen {
        t.add_row(vec![
            format!("Yearly cap 年度上限 {}", kind.label()),
            format_yuan(*cap),
        ]);
    }
    t.add_row(vec![
        "One-off cap 一次性救助上限".into(),
        format_yuan(p.one_off_cap_fen),
    ]);
    for (level, amount) in &p.authority_fen {
        let amount = if *amount == i64::MAX {
            "no limit 不限".into()
        } else {
            format_yuan(*amount)
        };
        t.add_row(vec![
            format!("Authority 审批权限 {}", level.label()),
            amount,
        ]);
    }
    let e = &p.escalation;
    t.add_row(vec![
        "Deep hardship goes to 深度困难上报".into(),
        e.deep_to.label(),
    ]);
    t.add_row(vec![
        "Medical costs a year 年医疗费用".into(),
        format!(
            "≥ {} → {}",
            format_yuan(e.medical_yearly_fen),
            e.medical_to.label()
        ),
    ]);
    t.add_row(vec![
        "One hospital stay 单次住院".into(),
        format!(
            "≥ {} → {}",
            format_yuan(e.medical_stay_fen),
            e.medical_to.label()
        ),
    ]);
    let g = &p.grading;
    t.add_row(vec![
        "Grading 评定标准".into(),
        format!(
            "deep: below {} the line 低于{}低保; relative: within {} × the line 相对困难 {} 倍以内; accident: below the line after this year's costs net of compensation",
            if g.at_or_below { "or at" } else { "(not at)" },
            if g.at_or_below { "或等于" } else { "" },
            g.multiplier(),
            g.multiplier()
        ),
    ]);
    t.add_row(vec![
        "Exclusions 排除条件".into(),
        g.exclusions
            .iter()
            .map(|e| e.label())
            .collect::<Vec<_>>()
            .join(", "),
    ]);
    t.add_row(vec![
        "Filing approved at 审批建档".into(),
        format!("{} or above, not the home", p.filing_level.label()),
    ]);
    t.add_row(vec![
        "Public notice 公示期".into(),
        format!("{} working days 个工作日", p.notice_working_days),
    ]);
    for (grade, months) in &p.living_cap_months {
        t.add_row(vec![
            format!("Living aid 生活救助 {}", grade.label()),
            format!("at most {months} months of the line a year 不超过{months}个月低保"),
        ]);
    }
    t.add_row(vec![
        "Loan limit 单笔借款上限".into(),
        format_yuan(p.loan_limit_fen),
    ]);
    format!("{t}\n{versions} version(s) set at the top node")
}

pub fn case_details(v: &CaseView, conflicts: &[QueueEntry]) -> String {
    let mut out = String::new();
    let mut t = table(&["Field 项目", "Value 内容"]);
    let w = &v.worker;
    let f = &v.finances;
    let causes = {
        let mut s = v
            .causes
            .primary
            .map(|c| c.label())
            .unwrap_or_else(|| "—".into());
        for c in &v.causes.secondary {
            let _ = write!(s, "; {}", c.label());
        }
        if let Some(other) = &v.causes.other_text {
            let _ = write!(s, " ({other})");
        }
        s
    };
    let rows: Vec<(&str, String)> = vec![
        ("Case 档案号", v.id.clone()),
        ("Status 状态", v.status.label()),
        (
            "Filed on 建档日期",
            match (v.filed_on, v.filed_on_estimated) {
                (Some(d), true) => {
                    format!("{d} (import day, no filing date given 导入日，未提供建档日期)")
                }
                (Some(d), false) => d.to_string(),
                (None, _) => "—".into(),
            },
        ),
        ("Grade 困难等级", grading_line(&v.grading, v.grade)),
        ("Home node 责任单位", v.home.clone()),
        ("Held by 参与节点", v.participants.join(", ")),
        ("Name 姓名", text(&w.name)),
        (
            "Gender 性别",
            w.gender.map(|g| g.label()).unwrap_or_else(|| "—".into()),
        ),
        (
            "Birth year 出生年份",
            w.birth_year
                .map(|y| y.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "Identity 身份标识",
            if w.identity_key.is_some() {
                "recorded 已登记 (salted hash)".into()
            } else {
                "—".into()
            },
        ),
        ("Employer 工作单位", text(&w.employer)),
        ("Job 岗位", text(&w.job)),
        ("Phone 电话", text(&w.phone)),
        ("Address 家庭住址", text(&w.address)),
        (
            "Household 共同生活人口",
            v.household
                .size
                .map(|n| n.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        ("Annual income 年可支配收入", yuan(f.annual_income_fen)),
        ("Rigid spending 刚性支出", yuan(f.rigid_spending_fen)),
        ("Hardship costs 致困支出", yuan(f.hardship_costs_fen)),
        ("Medical costs 年医疗费用", yuan(f.medical_costs_fen)),
        ("Largest stay 单次住院最高", yuan(f.largest_stay_fen)),
        ("Aid requested 申请救助", yuan(f.aid_request_fen)),
        ("Compensation 赔偿保险", yuan(f.compensation_fen)),
        (
            "Exclusions 排除条件",
            if v.household.exclusions.is_empty() {
                "—".into()
            } else {
                v.household
                    .exclusions
                    .iter()
                    .map(|e| e.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("Region 地区", text(&w.region)),
        (
            "Subsistence line 低保标准 (monthly)",
            yuan(f.subsistence_line_fen),
        ),
        (
            "Per person/month 人均月收入",
            yuan(v.grading.per_capita_monthly_fen),
        ),
        ("Causes 致困原因", causes),
        ("Urgent needs 急需解决的问题", text(&v.profile.urgent_needs)),
        ("Skills 技术特长", text(&v.profile.skills)),
        (
            "Employment wishes 就业要求",
            text(&v.profile.employment_wishes),
        ),
        ("State of mind 思想状况", text(&v.profile.state_of_mind)),
        ("Aid paid 已帮扶合计", format_yuan(v.assistance_total_fen)),
    ];
    for (k, mut val) in rows {
        let paths = CONFLICT_PATHS
            .iter()
            .filter(|(label, _)| *label == k)
            .map(|(_, p)| *p);
        for path in paths {
            for c in conflicts.iter().filter(|c| c.path == path) {
                let _ = write!(val, "\n{}", conflict_mark(c));
            }
        }
        if k.starts_with("Grade") {
            let inputs: Vec<&str> = conflicts
                .iter()
                .filter(|c| hearth_archive::case::GRADE_INPUT_PATHS.contains(&c.path.as_str()))
                .map(|c| c.field.as_str())
                .collect();
            if !inputs.is_empty() {
                let _ = write!(
                    val,
                    "\n⚠ computed from the values shown; in conflict 冲突中: {}",
                    inputs.join(", ")
                );
            }
        }
        t.add_row(vec![k.to_owned(), val]);
    }
    let _ = writeln!(out, "{t}");

    if !v.household.members.is_empty() {
        let mut t = table(&[
            "Member 成员",
            "Relation 关系",
            "Age 年龄",
            "Health 健康",
            "Work/school 就业就学",
        ]);
        for m in &v.household.members {
            t.add_row(vec![
                m.id.clone(),
                m.relation.clone(),
                m.age.map(|a| a.to_string()).unwrap_or_else(|| "—".into()),
                text(&m.health),
                text(&m.occupation),
            ]);
        }
        let _ = writeln!(out, "\nHousehold members 家庭成员\n{t}");
    }
    if !v.assistance.is_empty() {
        let mut t = table(&[
            "Record 编号",
            "Date 日期",
            "Kind 类型",
            "Amount 金额",
            "Paid by 支付单位",
            "Note 备注",
        ]);
        for a in &v.assistance {
            t.add_row(vec![
                a.id.clone(),
                a.date.to_string(),
                a.kind.label(),
                format_yuan(a.amount_fen),
                match &a.merged_from {
                    // A copy names its payer as the merging node copied it; the signed original
                    // stays in the closed duplicate.
                    Some(from) => format!(
                        "{} [{} 合并抄录自 copied from {from}]",
                        text(&a.paying_node),
                        text(&a.node)
                    ),
                    None => text(&a.paying_node),
                },
                match (&a.approval, &a.approving_node, &a.corrects) {
                    (Some(id), node, _) => {
                        format!("approved 审批 {id} by {}; {}", text(node), text(&a.note))
                    }
                    (None, _, Some(old)) => format!("corrects 更正 {old}; {}", text(&a.note)),
                    (None, _, None) => text(&a.note),
                },
            ]);
        }
        let _ = writeln!(out, "\nAssistance 帮扶记录\n{t}");
    }
    if !v.loans.is_empty() {
        let mut t = table(&[
            "Loan 借款",
            "Date 日期",
            "Due 到期",
            "Principal 本金",
            "Repaid 已还",
            "Outstanding 未还",
        ]);
        for l in &v.loans {
            t.add_row(vec![
                match &l.override_reason {
                    Some(why) => format!("{} (override 特批: {why})", l.id),
                    None => l.id.clone(),
                },
                l.date.to_string(),
                l.due_date
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "—".into()),
                format_yuan(l.principal_fen),
                format_yuan(l.repaid_fen),
                format_yuan(l.outstanding_fen),
            ]);
        }
        let _ = writeln!(out, "\nLoans 借款\n{t}");
    }
    if !v.visits.is_empty() {
        let mut t = table(&[
            "Record 编号",
            "Date 日期",
            "Kind 类型",
            "Visitor 走访人",
            "Consent 同意",
            "Notes 情况",
        ]);
        for vi in &v.visits {
            t.add_row(vec![
                vi.id.clone(),
                vi.date.to_string(),
                vi.kind.label(),
                text(&vi.visitor),
                if vi.consent {
                    "yes 是".into()
                } else {
                    "—".into()
                },
                text(&vi.notes),
            ]);
        }
        let _ = writeln!(out, "\nVisits 走访记录\n{t}");
    }
    if !v.reviews.is_empty() {
        let mut t = table(&[
            "Record 编号",
            "Date 日期",
            "Result 结论",
            "Reviewer 审核人",
            "Notes 说明",
        ]);
        for r in &v.reviews {
            t.add_row(vec![
                r.id.clone(),
                r.date.to_string(),
                r.result.label(),
                text(&r.reviewer),
                text(&r.notes),
            ]);
        }
        let _ = writeln!(out, "\nAnnual reviews 年审\n{t}");
    }
    if !v.voided.is_empty() {
        let mut t = table(&[
            "Record 编号",
            "Was 原记录",
            "Reason 作废理由",
            "By 经办人",
            "When 时间",
        ]);
        for x in &v.voided {
            t.add_row(vec![
                x.id.clone(),
                x.what.clone(),
                x.reason.clone(),
                format!("{} at {}", text(&x.by), text(&x.node)),
                local_time(x.at),
            ]);
        }
        let _ = writeln!(out, "\nVoided 已作废 (kept, counted nowhere)\n{t}");
    }
    if !v.approvals.is_empty() {
        let mut t = table(&[
            "When 时间",
            "Node 节点",
            "Step 环节",
            "By 经办人",
            "Note 意见",
        ]);
        for a in &v.approvals {
            t.add_row(vec![
                local_time(a.at),
                text(&a.node),
                approval_step(a),
                text(&a.by),
                match &a.merged_from {
                    Some(from) => format!("[from {from}] {}", text(&a.note)),
                    None => text(&a.note),
                },
            ]);
        }
        let _ = writeln!(out, "\nApprovals 审批记录\n{t}");
    }
    let mut t = table(&[
        "When 时间",
        "From 原状态",
        "To 新状态",
        "By 经办人",
        "Node 节点",
        "Reason 理由",
    ]);
    for s in &v.status_history {
        t.add_row(vec![
            match s.on {
                Some(on) => format!("{on} (recorded 录入 {})", local_time(s.at)),
                None => local_time(s.at),
            },
            s.from.map(|f| f.label()).unwrap_or_else(|| "—".into()),
            s.to.label(),
            text(&s.by),
            text(&s.node),
            match (&s.merged_from, &s.outstanding_reason) {
                (Some(from), _) => format!("[from {from}] {}", text(&s.reason)),
                (None, Some(why)) => {
                    format!("{}; loans outstanding 借款未还: {why}", text(&s.reason))
                }
                (None, None) => text(&s.reason),
            },
        ]);
    }
    let _ = write!(out, "\nStatus history 状态记录\n{t}");
    out
}

/// `loan list`: borrowers, overdue and repeat borrowers first, and cases closed with money
/// outstanding.
pub fn borrower_list(cases: &[CaseSummary], today: jiff::civil::Date) -> String {
    let mut t = table(&[
        "Case 档案号",
        "Name 姓名",
        "Status 状态",
        "Loans 借款次数",
        "Outstanding 未还",
        "Overdue 逾期",
        "Flag 提示",
    ]);
    let mut overdue_total = 0;
    for c in cases {
        let overdue = c.overdue_fen(today);
        overdue_total += overdue;
        let mut flags = Vec::new();
        if overdue > 0 && c.loans > 1 {
            flags.push("repeat borrower, overdue 多次借款且逾期");
        } else if overdue > 0 {
            flags.push("overdue 逾期");
        }
        if c.status == Status::Closed {
            flags.push("closed with money outstanding 注销未还清");
        }
        t.add_row(vec![
            c.id.clone(),
            text(&c.name),
            c.status.label(),
            c.loans.to_string(),
            format_yuan(c.outstanding_fen),
            format_yuan(overdue),
            flags.join("; "),
        ]);
    }
    format!(
        "{t}
{} borrower(s) 借款户, {} overdue 逾期",
        cases.len(),
        format_yuan(overdue_total)
    )
}

/// `user list`.
pub fn account_list(accounts: &[hearth_ops::AccountView]) -> String {
    let mut t = table(&[
        "Account 账户",
        "Role 角色",
        "Status 状态",
        "Added 创建",
        "By 创建人",
    ]);
    for a in accounts {
        t.add_row(vec![
            a.name.clone(),
            a.role.label(),
            crate::commands::account_status(a),
            local_time(Some(a.created_at)),
            a.created_by.clone(),
        ]);
    }
    format!("{t}\n{} account(s)", accounts.len())
}
