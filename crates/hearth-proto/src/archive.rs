//! Between `hearth.v1.Archive`'s messages and the operations' requests and replies
//! (`hearth-ops`), both directions side by side.

use std::collections::BTreeMap;

use hearth_archive::jiff::Timestamp;
use hearth_archive::jiff::civil::Date;
use hearth_archive::{AssistanceKind, CaseSummary, Cause, Grade, Level, Status};
use hearth_ops::{ListFilter, Page, PageRequest};

use crate::v1 as pb;

/// A message from a node that cannot be what it claims: a code no Hearth writes, a date that
/// is no date.
#[derive(Debug, thiserror::Error)]
#[error("the node answered with {what} {value:?}, which this Hearth cannot read; upgrade it")]
pub struct Unreadable {
    what: &'static str,
    value: String,
}

fn unreadable(what: &'static str, value: impl Into<String>) -> Unreadable {
    Unreadable {
        what,
        value: value.into(),
    }
}

fn code<T: std::str::FromStr>(what: &'static str, text: &str) -> Result<T, Unreadable> {
    text.parse().map_err(|_| unreadable(what, text))
}

fn opt_code<T: std::str::FromStr>(
    what: &'static str,
    text: Option<String>,
) -> Result<Option<T>, Unreadable> {
    text.map(|t| code(what, &t)).transpose()
}

fn date(text: &str) -> Result<Date, Unreadable> {
    code("date", text)
}

/// The filter and page a listing request asks for.
pub fn list_request_from(r: pb::ListCasesRequest) -> (ListFilter, PageRequest) {
    (
        ListFilter {
            status: r.status,
            grade: r.grade,
            cause: r.cause,
        },
        PageRequest {
            size: Some(r.page_size).filter(|n| *n > 0),
            token: Some(r.page_token).filter(|t| !t.is_empty()),
        },
    )
}

/// The listing request for a filter and page.
pub fn list_request_to(filter: ListFilter, page: PageRequest) -> pb::ListCasesRequest {
    pb::ListCasesRequest {
        status: filter.status,
        grade: filter.grade,
        cause: filter.cause,
        page_size: page.size.unwrap_or(0),
        page_token: page.token.unwrap_or_default(),
    }
}

/// The reply carrying one page of a listing.
pub fn list_reply_to(page: Page<CaseSummary>) -> pb::ListCasesReply {
    pb::ListCasesReply {
        cases: page.items.iter().map(summary_to).collect(),
        next_page_token: page.next.unwrap_or_default(),
    }
}

/// The page a listing reply carries.
pub fn list_reply_from(r: pb::ListCasesReply) -> Result<Page<CaseSummary>, Unreadable> {
    Ok(Page {
        items: r
            .cases
            .into_iter()
            .map(summary_from)
            .collect::<Result<_, _>>()?,
        next: Some(r.next_page_token).filter(|t| !t.is_empty()),
    })
}

/// The message for a case summary.
pub fn summary_to(c: &CaseSummary) -> pb::CaseSummary {
    let code = |s: &str| s.to_owned();
    pb::CaseSummary {
        id: c.id.clone(),
        home: c.home.clone(),
        name: c.name.clone(),
        status: code(c.status.code()),
        grade: c.grade.map(|g| code(g.code())),
        grade_overridden: c.grade_overridden,
        primary_cause: c.primary_cause.map(|k| code(k.code())),
        secondary_causes: c.secondary_causes.iter().map(|k| code(k.code())).collect(),
        household_size: c.household_size,
        per_capita_monthly_fen: c.per_capita_monthly_fen,
        identity_key: c.identity_key.clone(),
        participants: c.participants.clone(),
        assistance_total_fen: c.assistance_total_fen,
        outstanding_fen: c.outstanding_fen,
        created_at: c.created_at.map(|t| t.as_second()),
        medical_costs_fen: c.medical_costs_fen,
        largest_stay_fen: c.largest_stay_fen,
        aid_request_fen: c.aid_request_fen,
        target_level: c.target_level.map(|l| code(l.code())),
        aid_by_year: c
            .aid_by_year
            .iter()
            .flat_map(|(year, kinds)| {
                kinds.iter().map(|(kind, fen)| pb::AidInYear {
                    year: i32::from(*year),
                    kind: code(kind.code()),
                    amount_fen: *fen,
                })
            })
            .collect(),
        visits_by_year: c
            .visits_by_year
            .iter()
            .map(|(y, n)| (i32::from(*y), *n))
            .collect(),
        entered: c
            .entered
            .iter()
            .map(|(s, d)| (code(s.code()), d.to_string()))
            .collect(),
        last_review: c.last_review.map(|d| d.to_string()),
        open_loans: c
            .open_loans
            .iter()
            .map(|(id, due, fen)| pb::OpenLoan {
                id: id.clone(),
                due_date: due.map(|d| d.to_string()),
                outstanding_fen: *fen,
            })
            .collect(),
        above_line: c.above_line.as_ref().map(|(months, last)| pb::AboveLine {
            months: *months,
            last_month: last.clone(),
        }),
    }
}

/// The case summary a message carries.
pub fn summary_from(m: pb::CaseSummary) -> Result<CaseSummary, Unreadable> {
    let year = |y: i32| i16::try_from(y).map_err(|_| unreadable("year", y.to_string()));
    let mut aid_by_year: BTreeMap<i16, BTreeMap<AssistanceKind, i64>> = BTreeMap::new();
    for a in m.aid_by_year {
        aid_by_year
            .entry(year(a.year)?)
            .or_default()
            .insert(code("assistance kind", &a.kind)?, a.amount_fen);
    }
    Ok(CaseSummary {
        id: m.id,
        home: m.home,
        name: m.name,
        status: code::<Status>("status", &m.status)?,
        grade: opt_code::<Grade>("grade", m.grade)?,
        grade_overridden: m.grade_overridden,
        primary_cause: opt_code::<Cause>("cause", m.primary_cause)?,
        secondary_causes: m
            .secondary_causes
            .iter()
            .map(|k| code::<Cause>("cause", k))
            .collect::<Result<_, _>>()?,
        household_size: m.household_size,
        per_capita_monthly_fen: m.per_capita_monthly_fen,
        identity_key: m.identity_key,
        participants: m.participants,
        assistance_total_fen: m.assistance_total_fen,
        outstanding_fen: m.outstanding_fen,
        created_at: m
            .created_at
            .map(|s| Timestamp::from_second(s).map_err(|_| unreadable("time", s.to_string())))
            .transpose()?,
        medical_costs_fen: m.medical_costs_fen,
        largest_stay_fen: m.largest_stay_fen,
        aid_request_fen: m.aid_request_fen,
        target_level: opt_code::<Level>("level", m.target_level)?,
        aid_by_year,
        visits_by_year: m
            .visits_by_year
            .into_iter()
            .map(|(y, n)| Ok((year(y)?, n)))
            .collect::<Result<_, Unreadable>>()?,
        entered: m
            .entered
            .iter()
            .map(|(s, d)| Ok((code::<Status>("status", s)?, date(d)?)))
            .collect::<Result<_, Unreadable>>()?,
        last_review: m.last_review.as_deref().map(date).transpose()?,
        open_loans: m
            .open_loans
            .into_iter()
            .map(|l| {
                Ok((
                    l.id,
                    l.due_date.as_deref().map(date).transpose()?,
                    l.outstanding_fen,
                ))
            })
            .collect::<Result<_, Unreadable>>()?,
        above_line: m.above_line.map(|a| (a.months, a.last_month)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
        proptest::sample::select(all)
    }

    fn day() -> impl Strategy<Value = Date> {
        (1990i16..2100, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
    }

    fn summary() -> impl Strategy<Value = CaseSummary> {
        use proptest::collection::{btree_map, vec};
        use proptest::option::of;
        let codes = (
            one_of(Status::ALL),
            of(one_of(Grade::ALL)),
            of(one_of(Cause::ALL)),
            vec(one_of(Cause::ALL), 0..3),
            of(one_of(Level::ALL)),
        );
        let figures = (
            of(1i64..20),
            of(any::<i64>()),
            any::<i64>(),
            any::<i64>(),
            of(-1_000_000_000i64..4_000_000_000),
            (of(any::<i64>()), of(any::<i64>()), of(any::<i64>())),
        );
        let maps = (
            btree_map(
                any::<i16>(),
                btree_map(one_of(AssistanceKind::ALL), any::<i64>(), 1..3),
                0..3,
            ),
            btree_map(any::<i16>(), any::<u32>(), 0..3),
            btree_map(one_of(Status::ALL), day(), 0..3),
            of(day()),
            vec(("[0-9a-f]{8}", of(day()), any::<i64>()), 0..3),
            of((any::<u32>(), "20[0-9]{2}-[01][0-9]")),
        );
        let text = (
            "[0-9a-f]{16}",
            "[a-z.-]{1,20}",
            of("\\PC{0,8}"),
            any::<bool>(),
            of("[0-9a-f]{64}"),
            vec("[a-z.-]{1,20}", 0..3),
        );
        (codes, figures, maps, text).prop_map(
            |(
                (status, grade, primary_cause, secondary_causes, target_level),
                (size, per_capita, aid, outstanding, created, (medical, stay, ask)),
                (aid_by_year, visits_by_year, entered, last_review, open_loans, above_line),
                (id, home, name, grade_overridden, identity_key, participants),
            )| CaseSummary {
                id,
                home,
                name,
                status,
                grade,
                grade_overridden,
                primary_cause,
                secondary_causes,
                household_size: size,
                per_capita_monthly_fen: per_capita,
                identity_key,
                participants,
                assistance_total_fen: aid,
                outstanding_fen: outstanding,
                created_at: created.map(|s| Timestamp::from_second(s).unwrap()),
                medical_costs_fen: medical,
                largest_stay_fen: stay,
                aid_request_fen: ask,
                target_level,
                aid_by_year,
                visits_by_year,
                entered,
                last_review,
                open_loans,
                above_line,
            },
        )
    }

    proptest! {
        #[test]
        fn a_case_summary_survives_the_trip_through_protobuf(c in summary()) {
            use prost::Message;
            let bytes = summary_to(&c).encode_to_vec();
            let back = summary_from(pb::CaseSummary::decode(bytes.as_slice()).unwrap()).unwrap();
            prop_assert_eq!(back, c);
        }

        #[test]
        fn a_page_and_its_request_survive_the_trip(
            cases in proptest::collection::vec(summary(), 0..4),
            next in proptest::option::of("[ -~]{1,30}"),
            size in proptest::option::of(1u32..2000),
            token in proptest::option::of("[ -~]{1,30}"),
            status in proptest::option::of("[a-z_]{1,10}"),
        ) {
            let page = Page { items: cases, next };
            prop_assert_eq!(list_reply_from(list_reply_to(page.clone())).unwrap(), page);
            let filter = ListFilter { status, grade: None, cause: None };
            let req = PageRequest { size, token };
            prop_assert_eq!(
                list_request_from(list_request_to(filter.clone(), req.clone())),
                (filter, req)
            );
        }

        #[test]
        fn a_summary_with_a_code_no_hearth_writes_is_unreadable(
            c in summary(),
            status in "[A-Z]{1,8}",
        ) {
            let mut m = summary_to(&c);
            m.status = status;
            prop_assert!(summary_from(m).is_err());
        }
    }
}
