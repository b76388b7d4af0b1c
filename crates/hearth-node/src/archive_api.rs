//! The `hearth.v1.Archive` service: [`crate::archive`] over gRPC. The operations run on the core
//! thread against the node's replica, so a change is durable before the reply and is offered to
//! connected participants at once.

use std::sync::Arc;

use hearth_archive::{CaseForm, FederationSalt};
use hearth_proto::v1 as pb;
use hearth_proto::v1::archive_client::ArchiveClient;
use hearth_proto::v1::archive_server::Archive;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tracing::error;

use crate::config::NodeConfig;
use crate::replica::StoreReplica;
use crate::{NodeHandle, tls};
use hearth_archive::Policy;
use hearth_archive::conflict::QueueEntry;
use hearth_archive::due::{DueCase, DueKind};
use hearth_archive::ledger::Disclosure;
use hearth_archive::ledger::LedgerView;
use hearth_archive::policy::Advice;
use hearth_ops::{
    self as archive, Ctx, ErrorKind, FundWrite, ImportRow, ListFilter, OpError, Resolve, Write,
    Written,
};

/// Largest request the service takes (an import of some tens of thousands of rows).
pub const MAX_REQUEST: usize = 64 << 20;

/// The service, for one listener.
#[derive(Debug, Clone)]
pub struct ArchiveService {
    node: NodeHandle,
    config: Arc<NodeConfig>,
    salt: Arc<FederationSalt>,
    /// On the mTLS port, the certificates allowed in; `None` on the owner-only Unix socket.
    admins: Option<Vec<String>>,
}

impl ArchiveService {
    /// The service on the Unix socket: whoever can open the socket may use it.
    pub fn local(node: NodeHandle, config: Arc<NodeConfig>, salt: Arc<FederationSalt>) -> Self {
        ArchiveService {
            node,
            config,
            salt,
            admins: None,
        }
    }

    /// The service on the mTLS port: only for the certificates the config names as admins.
    pub fn remote(node: NodeHandle, config: Arc<NodeConfig>, salt: Arc<FederationSalt>) -> Self {
        let admins = config.admins.clone();
        ArchiveService {
            node,
            config,
            salt,
            admins: Some(admins),
        }
    }

    /// Who is asking: the `by` of the request, checked against the admin certificates on the
    /// mTLS port (where an empty `by` records the certificate's name).
    fn caller<T>(&self, request: &Request<T>, by: &str) -> Result<String, Status> {
        let by = by.trim();
        let Some(admins) = &self.admins else {
            return Ok(if by.is_empty() { "operator" } else { by }.to_owned());
        };
        let admin = request
            .peer_certs()
            .and_then(|certs| {
                certs
                    .first()
                    .and_then(|c| tls::node_of_cert(c, admins))
            })
            .ok_or_else(|| {
                self.node
                    .metrics()
                    .refused(crate::metrics::Refusal::WrongRole);
                Status::permission_denied(
                    "this certificate is not an admin of this node; add its name to `admins` in the node's config",
                )
            })?;
        Ok(if by.is_empty() {
            admin
        } else {
            format!("{by} via {admin}")
        })
    }

    async fn run<R: Send + 'static>(
        &self,
        by: String,
        f: impl FnOnce(&mut StoreReplica, &Ctx<'_>) -> Result<R, OpError> + Send + 'static,
    ) -> Result<R, Status> {
        let config = self.config.clone();
        let salt = self.salt.clone();
        self.node
            .local(move |replica| {
                crate::cases::with_ctx(&config, &salt, &by, |ctx| f(replica, ctx))
            })
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?
            .map_err(status)
    }

    /// Carries out `request` on the node's replica as `by` (a write under request key `key`).
    async fn serve(
        &self,
        by: String,
        key: Option<String>,
        request: archive::Request,
    ) -> Result<archive::Reply, Status> {
        self.run(by, move |replica, ctx| {
            archive::execute(replica, ctx, key.as_deref(), request)
        })
        .await
    }

    async fn fund(
        &self,
        by: String,
        key: Option<String>,
        w: FundWrite,
    ) -> Result<Response<pb::LedgerReply>, Status> {
        let keyed = key.is_some();
        let (ledger, repeated) = self
            .run(by, move |replica, ctx| {
                archive::fund_write_keyed(replica, ctx, key.as_deref(), w)
            })
            .await?;
        crash_after_commit(keyed && !repeated);
        Ok(ledger_reply(&ledger, repeated))
    }

    pub async fn write(
        &self,
        by: String,
        key: Option<String>,
        w: Write,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let keyed = key.is_some();
        let (written, advice) = self
            .run(by, move |replica, ctx| {
                let written = archive::write_keyed(replica, ctx, key.as_deref(), w)?;
                let advice = archive::advice_for(replica, ctx, &written.case)?;
                Ok((written, advice))
            })
            .await?;
        crash_after_commit(keyed && !written.repeated);
        case_reply(written, &advice)
    }
}

/// The gRPC status for a refused or failed operation.
fn status(e: OpError) -> Status {
    let kind = e.kind();
    if kind == ErrorKind::Internal {
        error!(error = %e, "archive operation failed");
    }
    Status::new(hearth_proto::code_of(kind), e.to_string())
}

/// The error for a reply of another kind than the request asks for (a bug, not the asker's).
fn unexpected(reply: &archive::Reply) -> OpError {
    OpError::Storage(format!("the operation answered with {}", reply.kind()).into())
}

fn ledger_reply(ledger: &LedgerView, repeated: bool) -> Response<pb::LedgerReply> {
    Response::new(pb::LedgerReply {
        ledger: Some(hearth_proto::archive::ledger_to(ledger)),
        repeated,
    })
}

fn policy_reply(policy: &Policy, versions: &[Policy]) -> Response<pb::PolicyReply> {
    Response::new(pb::PolicyReply {
        policy: Some(hearth_proto::archive::policy_to(policy)),
        versions: versions
            .iter()
            .map(hearth_proto::archive::policy_to)
            .collect(),
    })
}

fn conflict_reply(c: &QueueEntry) -> Response<pb::ConflictReply> {
    Response::new(pb::ConflictReply {
        conflict: Some(hearth_proto::archive::conflict_to(c)),
    })
}

fn case_reply(w: Written, advice: &Advice) -> Result<Response<pb::CaseReply>, Status> {
    Ok(Response::new(hearth_proto::archive::case_reply_to(
        &w, advice,
    )))
}

/// The gRPC metadata key a write's request key travels in (see [`archive::write_keyed`]).
pub const REQUEST_KEY: &str = "hearth-request-key";

/// The request key of a write, if its caller gave one.
fn request_key<T>(request: &Request<T>) -> Result<Option<String>, Status> {
    match request.metadata().get(REQUEST_KEY) {
        None => Ok(None),
        Some(v) => v.to_str().map(|k| Some(k.to_owned())).map_err(|_| {
            Status::invalid_argument(
                "the request key is not plain text; give letters, digits or '-'",
            )
        }),
    }
}

/// A message with `key` as its request key.
fn keyed<T>(message: T, key: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = key.and_then(|k| k.parse().ok()) {
        request.metadata_mut().insert(REQUEST_KEY, value);
    }
    request
}

/// Failure injection for the tests of retried writes: with `HEARTH_TEST_CRASH_AFTER_COMMIT`
/// set, the node ends at once after a keyed write committed (`committed`) and before it
/// answers — as a power cut at that moment would. Nothing else reads it.
fn crash_after_commit(committed: bool) {
    if committed && std::env::var_os("HEARTH_TEST_CRASH_AFTER_COMMIT").is_some() {
        std::process::abort();
    }
}

/// Both directions between the domain's and the protocol's case form, over one list of fields.
macro_rules! form_conversions {
    ($($field:ident),+ $(,)?) => {
        fn form(f: Option<pb::CaseForm>) -> CaseForm {
            let f = f.unwrap_or_default();
            CaseForm { $($field: f.$field),+ }
        }

        /// The protobuf form of a [`CaseForm`], for clients.
        pub fn form_to_pb(f: CaseForm) -> pb::CaseForm {
            pb::CaseForm { $($field: f.$field),+ }
        }
    };
}

form_conversions!(
    name,
    id_number,
    gender,
    birth_year,
    employer,
    job,
    phone,
    address,
    household_size,
    annual_income,
    rigid_spending,
    hardship_costs,
    subsistence_line,
    primary_cause,
    secondary_causes,
    other_cause,
    urgent_needs,
    skills,
    employment_wishes,
    state_of_mind,
    medical_costs,
    largest_stay,
    aid_request,
    region,
);

#[tonic::async_trait]
impl Archive for ArchiveService {
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, "")?;
        let prefix = request.into_inner().case;
        let (view, advice) = self
            .run(by, move |replica, ctx| {
                let view = archive::get(replica, &prefix)?;
                let advice = archive::advice_for(replica, ctx, &view)?;
                Ok((view, advice))
            })
            .await?;
        case_reply(
            Written {
                case: view,
                record: None,
                loan: None,
                reported_to: None,
                repeated: false,
            },
            &advice,
        )
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesReply>, Status> {
        let by = self.caller(&request, "")?;
        let (filter, page) = hearth_proto::archive::list_request_from(request.into_inner());
        let page = self
            .run(by, move |replica, ctx| {
                match archive::execute(
                    replica,
                    ctx,
                    None,
                    archive::Request::ListCases { filter, page },
                )? {
                    archive::Reply::Cases(page) => Ok(page),
                    other => Err(unexpected(&other)),
                }
            })
            .await?;
        Ok(Response::new(hearth_proto::archive::list_reply_to(page)))
    }

    async fn new_case(
        &self,
        request: Request<pb::NewCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(by, key, Write::NewCase { form: form(r.form) })
            .await
    }

    async fn edit_case(
        &self,
        request: Request<pb::EditCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::EditCase {
                case: r.case,
                form: form(r.form),
            },
        )
        .await
    }

    async fn file_case(
        &self,
        request: Request<pb::FileCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::FileCase {
                case: r.case,
                via: r.via,
            },
        )
        .await
    }

    async fn transition_case(
        &self,
        request: Request<pb::TransitionCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::Transition {
                case: r.case,
                to: r.to,
                reason: r.reason,
            },
        )
        .await
    }

    async fn grade_case(
        &self,
        request: Request<pb::GradeCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::Grade {
                case: r.case,
                set: r.set,
                reason: r.reason,
            },
        )
        .await
    }

    async fn escalate_case(
        &self,
        request: Request<pb::EscalateCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::Escalate {
                case: r.case,
                to_level: r.to_level,
                reason: r.reason,
                via: r.via,
            },
        )
        .await
    }

    async fn add_member(
        &self,
        request: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::AddMember {
                case: r.case,
                relation: r.relation,
                age: r.age,
                health: r.health,
                occupation: r.occupation,
            },
        )
        .await
    }

    async fn add_assistance(
        &self,
        request: Request<pb::AddAssistanceRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::AddAssistance {
                case: r.case,
                kind: r.kind,
                amount: r.amount,
                date: r.date,
                paying_node: r.paying_node,
                approving_node: r.approving_node,
                note: r.note,
            },
        )
        .await
    }

    async fn add_loan(
        &self,
        request: Request<pb::AddLoanRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::AddLoan {
                case: r.case,
                amount: r.amount,
                date: r.date,
                due: r.due,
                note: r.note,
            },
        )
        .await
    }

    async fn repay_loan(
        &self,
        request: Request<pb::RepayLoanRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::RepayLoan {
                case: r.case,
                loan: r.loan,
                amount: r.amount,
                date: r.date,
                note: r.note,
            },
        )
        .await
    }

    async fn add_visit(
        &self,
        request: Request<pb::AddVisitRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::AddVisit {
                case: r.case,
                date: r.date,
                kind: r.kind,
                visitor: r.visitor,
                notes: r.notes,
                consent: r.consent,
            },
        )
        .await
    }

    async fn decide_case(
        &self,
        request: Request<pb::DecideCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::Decide {
                case: r.case,
                decision: r.decision,
                note: r.note,
            },
        )
        .await
    }

    async fn add_monthly_income(
        &self,
        request: Request<pb::AddMonthlyIncomeRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::MonthlyIncome {
                case: r.case,
                month: r.month,
                amount: r.amount,
            },
        )
        .await
    }

    async fn due_cases(
        &self,
        request: Request<pb::DueCasesRequest>,
    ) -> Result<Response<pb::DueCasesReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let page = hearth_proto::archive::page_from(r.page_size, r.page_token);
        match self.serve(by, None, archive::Request::Due { page }).await? {
            archive::Reply::Due(page) => Ok(Response::new(pb::DueCasesReply {
                due: page
                    .items
                    .iter()
                    .map(hearth_proto::archive::due_to)
                    .collect(),
                next_page_token: page.next.unwrap_or_default(),
            })),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn pending_cases(
        &self,
        request: Request<pb::PendingCasesRequest>,
    ) -> Result<Response<pb::PendingCasesReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let page = hearth_proto::archive::page_from(r.page_size, r.page_token);
        match self
            .serve(by, None, archive::Request::Pending { page })
            .await?
        {
            archive::Reply::Pending(page) => Ok(Response::new(pb::PendingCasesReply {
                cases: page
                    .items
                    .iter()
                    .map(|(c, a)| pb::PendingCase {
                        case: Some(hearth_proto::archive::summary_to(c)),
                        advice: Some(hearth_proto::archive::advice_to(a)),
                    })
                    .collect(),
                next_page_token: page.next.unwrap_or_default(),
            })),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn show_policy(
        &self,
        request: Request<pb::ShowPolicyRequest>,
    ) -> Result<Response<pb::PolicyReply>, Status> {
        let by = self.caller(&request, "")?;
        let date = request.into_inner().date;
        match self
            .serve(by, None, archive::Request::ShowPolicy { date })
            .await?
        {
            archive::Reply::Policy { in_force, versions } => Ok(policy_reply(&in_force, &versions)),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let by = self.caller(&request, "")?;
        match self.serve(by, None, archive::Request::Stats).await? {
            archive::Reply::Stats(summary) => Ok(Response::new(pb::StatsReply {
                summary: Some(hearth_proto::archive::node_summary_to(&summary)),
            })),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn fund_show(
        &self,
        request: Request<pb::FundShowRequest>,
    ) -> Result<Response<pb::LedgerReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let request = archive::Request::FundShow {
            node: r.node,
            year: r.year,
        };
        match self.serve(by, None, request).await? {
            archive::Reply::Ledger { ledger, repeated } => Ok(ledger_reply(&ledger, repeated)),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn fund_income(
        &self,
        request: Request<pb::FundIncomeRequest>,
    ) -> Result<Response<pb::LedgerReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.fund(
            by,
            key,
            FundWrite::Income {
                source: r.source,
                amount: r.amount,
                date: r.date,
                note: r.note,
            },
        )
        .await
    }

    async fn fund_budget(
        &self,
        request: Request<pb::FundBudgetRequest>,
    ) -> Result<Response<pb::LedgerReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.fund(
            by,
            key,
            FundWrite::Budget {
                year: r.year,
                amount: r.amount,
            },
        )
        .await
    }

    async fn fund_grant(
        &self,
        request: Request<pb::FundGrantRequest>,
    ) -> Result<Response<pb::LedgerReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.fund(
            by,
            key,
            FundWrite::Grant {
                to: r.to,
                amount: r.amount,
                date: r.date,
                note: r.note,
            },
        )
        .await
    }

    async fn disclose(
        &self,
        request: Request<pb::DiscloseRequest>,
    ) -> Result<Response<pb::DiscloseReply>, Status> {
        let by = self.caller(&request, "")?;
        let year = request.into_inner().year;
        match self
            .serve(by, None, archive::Request::Disclose { year })
            .await?
        {
            archive::Reply::Disclosure(d) => Ok(Response::new(pb::DiscloseReply {
                disclosure: Some(hearth_proto::archive::disclosure_to(&d)),
            })),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn list_conflicts(
        &self,
        request: Request<pb::ListConflictsRequest>,
    ) -> Result<Response<pb::ConflictsReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let request = archive::Request::Conflicts {
            all: r.all,
            page: hearth_proto::archive::page_from(r.page_size, r.page_token),
        };
        match self.serve(by, None, request).await? {
            archive::Reply::Conflicts(page) => Ok(Response::new(
                hearth_proto::archive::conflicts_reply_to(page),
            )),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn show_conflict(
        &self,
        request: Request<pb::ShowConflictRequest>,
    ) -> Result<Response<pb::ConflictReply>, Status> {
        let by = self.caller(&request, "")?;
        let id = request.into_inner().conflict;
        match self
            .serve(by, None, archive::Request::Conflict { id })
            .await?
        {
            archive::Reply::Conflict(c) => Ok(conflict_reply(&c)),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn resolve_conflict(
        &self,
        request: Request<pb::ResolveConflictRequest>,
    ) -> Result<Response<pb::ConflictReply>, Status> {
        use pb::resolve_conflict_request::How;
        let by = self.caller(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        let how = match r.how {
            Some(How::Pick(n)) => Resolve::Pick(n as usize),
            Some(How::Value(v)) => Resolve::Value(v),
            Some(How::Acknowledge(note)) => Resolve::Acknowledge(note),
            Some(How::MergeInto(case)) => Resolve::MergeInto(case),
            None => {
                return Err(Status::invalid_argument(
                    "say how to resolve it: pick a side or give a value",
                ));
            }
        };
        let request = archive::Request::Resolve {
            conflict: r.conflict,
            how,
        };
        match self.serve(by, None, request).await? {
            archive::Reply::Conflict(c) => Ok(conflict_reply(&c)),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn set_policy(
        &self,
        request: Request<pb::SetPolicyRequest>,
    ) -> Result<Response<pb::PolicyReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let toml = request.into_inner().toml;
        match self
            .serve(by, None, archive::Request::SetPolicy { toml })
            .await?
        {
            archive::Reply::PolicySet(policy) => Ok(policy_reply(&policy, &[])),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn add_review(
        &self,
        request: Request<pb::AddReviewRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let key = request_key(&request)?;
        let r = request.into_inner();
        self.write(
            by,
            key,
            Write::AddReview {
                case: r.case,
                date: r.date,
                result: r.result,
                reviewer: r.reviewer,
                notes: r.notes,
            },
        )
        .await
    }

    async fn import_cases(
        &self,
        request: Request<pb::ImportCasesRequest>,
    ) -> Result<Response<pb::ImportCasesReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let rows: Vec<ImportRow> = request
            .into_inner()
            .rows
            .into_iter()
            .map(|r| ImportRow {
                line: r.line,
                form: form(r.form),
                status: r.status,
                unreadable: r.unreadable,
            })
            .collect();
        let ids = self
            .run(by, move |replica, ctx| {
                archive::import(replica, ctx, &rows, &|| {})
            })
            .await?;
        Ok(Response::new(pb::ImportCasesReply { ids }))
    }
}

/// A client of a node's `Archive` service in the domain's terms, for the command line (over the
/// Unix socket) and admin tools (over mTLS).
#[derive(Debug, Clone)]
pub struct ArchiveRemote {
    client: ArchiveClient<Channel>,
    by: String,
    /// The request key its writes carry (see [`archive::write_keyed`]).
    key: Option<String>,
}

/// The status for a reply this client cannot read.
fn unreadable(e: hearth_proto::archive::Unreadable) -> Status {
    Status::internal(e.to_string())
}

/// The policy in a reply, and the versions.
fn policies(reply: pb::PolicyReply) -> Result<(Policy, Vec<Policy>), Status> {
    let policy = reply
        .policy
        .ok_or_else(|| Status::internal("the node answered with no policy"))?;
    let versions = reply
        .versions
        .into_iter()
        .map(hearth_proto::archive::policy_from)
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    Ok((
        hearth_proto::archive::policy_from(policy).map_err(unreadable)?,
        versions,
    ))
}

fn written(reply: pb::CaseReply) -> Result<(Written, Advice), Status> {
    hearth_proto::archive::case_reply_from(reply).map_err(|e| Status::internal(e.to_string()))
}

impl ArchiveRemote {
    /// A client on `channel`, making changes in the name of `by`.
    pub fn new(channel: Channel, by: &str) -> ArchiveRemote {
        ArchiveRemote {
            client: ArchiveClient::new(channel)
                .max_decoding_message_size(MAX_REQUEST)
                .max_encoding_message_size(MAX_REQUEST),
            by: by.to_owned(),
            key: None,
        }
    }

    /// Makes the writes from now on carry request key `key` (see [`archive::write_keyed`]).
    pub fn set_request_key(&mut self, key: Option<String>) {
        self.key = key;
    }

    /// Carries out `request` on the node (a write under the request key set, if any): the one
    /// way a client asks, each request to its RPC.
    pub async fn execute(&mut self, request: archive::Request) -> Result<archive::Reply, Status> {
        use archive::{Reply, Request};
        Ok(match request {
            Request::GetCase { case } => {
                let (case, advice) = self.get(&case).await?;
                Reply::Case {
                    written: Box::new(Written {
                        case,
                        record: None,
                        loan: None,
                        reported_to: None,
                        repeated: false,
                    }),
                    advice,
                }
            }
            Request::ListCases { filter, page } => {
                Reply::Cases(self.list_page(filter, page).await?)
            }
            Request::Write(w) => {
                let (written, advice) = self.write(*w).await?;
                Reply::Case {
                    written: Box::new(written),
                    advice,
                }
            }
            Request::Import { rows } => Reply::Imported(self.import(rows).await?),
            Request::Due { page } => Reply::Due(self.due(page).await?),
            Request::Pending { page } => Reply::Pending(self.pending(page).await?),
            Request::ShowPolicy { date } => {
                let (in_force, versions) = self.policy(date).await?;
                Reply::Policy { in_force, versions }
            }
            Request::SetPolicy { toml } => Reply::PolicySet(self.set_policy(toml).await?),
            Request::Stats => Reply::Stats(self.stats().await?),
            Request::FundShow { node, year } => Reply::Ledger {
                ledger: self.fund_show(node, year).await?,
                repeated: false,
            },
            Request::Fund(w) => {
                let (ledger, repeated) = self.fund_write(w).await?;
                Reply::Ledger { ledger, repeated }
            }
            Request::Disclose { year } => Reply::Disclosure(self.disclose(year).await?),
            Request::Conflicts { all, page } => Reply::Conflicts(self.conflicts(all, page).await?),
            Request::Conflict { id } => Reply::Conflict(self.conflict(id).await?),
            Request::Resolve { conflict, how } => {
                Reply::Conflict(self.resolve(conflict, how).await?)
            }
        })
    }

    /// See [`archive::get`]: the case, and what the policy says of it.
    pub async fn get(
        &mut self,
        prefix: &str,
    ) -> Result<(hearth_archive::CaseView, Advice), Status> {
        let reply = self
            .client
            .get_case(pb::GetCaseRequest {
                case: prefix.to_owned(),
            })
            .await?
            .into_inner();
        let (written, advice) = written(reply)?;
        Ok((written.case, advice))
    }

    /// See [`archive::due`]: one page.
    pub async fn due(
        &mut self,
        page: archive::PageRequest,
    ) -> Result<archive::Page<(DueKind, DueCase)>, Status> {
        let (page_size, page_token) = hearth_proto::archive::page_to(page);
        let reply = self
            .client
            .due_cases(pb::DueCasesRequest {
                page_size,
                page_token,
            })
            .await?
            .into_inner();
        Ok(archive::Page {
            items: reply
                .due
                .into_iter()
                .map(hearth_proto::archive::due_from)
                .collect::<Result<_, _>>()
                .map_err(unreadable)?,
            next: Some(reply.next_page_token).filter(|t| !t.is_empty()),
        })
    }

    /// See [`archive::pending`]: one page.
    pub async fn pending(
        &mut self,
        page: archive::PageRequest,
    ) -> Result<archive::Page<(hearth_archive::CaseSummary, Advice)>, Status> {
        let (page_size, page_token) = hearth_proto::archive::page_to(page);
        let reply = self
            .client
            .pending_cases(pb::PendingCasesRequest {
                page_size,
                page_token,
            })
            .await?
            .into_inner();
        let items = reply
            .cases
            .into_iter()
            .map(|p| {
                Ok((
                    hearth_proto::archive::summary_from(p.case.unwrap_or_default())?,
                    hearth_proto::archive::advice_from(p.advice.unwrap_or_default())?,
                ))
            })
            .collect::<Result<_, hearth_proto::archive::Unreadable>>()
            .map_err(unreadable)?;
        Ok(archive::Page {
            items,
            next: Some(reply.next_page_token).filter(|t| !t.is_empty()),
        })
    }

    /// The version in force on `date` (today if `None`) and every version held.
    pub async fn policy(&mut self, date: Option<String>) -> Result<(Policy, Vec<Policy>), Status> {
        let reply = self
            .client
            .show_policy(pb::ShowPolicyRequest { date })
            .await?
            .into_inner();
        policies(reply)
    }

    /// See [`archive::stats`].
    pub async fn stats(&mut self) -> Result<hearth_archive::summary::NodeSummary, Status> {
        let reply = self.client.stats(pb::StatsRequest {}).await?.into_inner();
        hearth_proto::archive::node_summary_from(reply.summary.unwrap_or_default())
            .map_err(unreadable)
    }

    /// See [`archive::conflicts`]: one page.
    pub async fn conflicts(
        &mut self,
        all: bool,
        page: archive::PageRequest,
    ) -> Result<archive::Page<QueueEntry>, Status> {
        let (page_size, page_token) = hearth_proto::archive::page_to(page);
        let reply = self
            .client
            .list_conflicts(pb::ListConflictsRequest {
                all,
                page_size,
                page_token,
            })
            .await?
            .into_inner();
        Ok(hearth_proto::archive::conflicts_reply_from(reply))
    }

    /// See [`archive::conflict`].
    pub async fn conflict(&mut self, id: String) -> Result<QueueEntry, Status> {
        let reply = self
            .client
            .show_conflict(pb::ShowConflictRequest { conflict: id })
            .await?
            .into_inner();
        Ok(hearth_proto::archive::conflict_from(
            reply.conflict.unwrap_or_default(),
        ))
    }

    /// See [`archive::resolve_conflict`].
    pub async fn resolve(&mut self, id: String, how: Resolve) -> Result<QueueEntry, Status> {
        use pb::resolve_conflict_request::How;
        let how = match how {
            Resolve::Pick(n) => How::Pick(u32::try_from(n).unwrap_or(u32::MAX)),
            Resolve::Value(v) => How::Value(v),
            Resolve::Acknowledge(note) => How::Acknowledge(note),
            Resolve::MergeInto(case) => How::MergeInto(case),
        };
        let reply = self
            .client
            .resolve_conflict(pb::ResolveConflictRequest {
                by: self.by.clone(),
                conflict: id,
                how: Some(how),
            })
            .await?
            .into_inner();
        Ok(hearth_proto::archive::conflict_from(
            reply.conflict.unwrap_or_default(),
        ))
    }

    /// See [`archive::fund_show`].
    pub async fn fund_show(
        &mut self,
        node: Option<String>,
        year: Option<String>,
    ) -> Result<LedgerView, Status> {
        let reply = self
            .client
            .fund_show(pb::FundShowRequest { node, year })
            .await?
            .into_inner();
        hearth_proto::archive::ledger_from(reply.ledger.unwrap_or_default()).map_err(unreadable)
    }

    /// See [`archive::fund_write`].
    /// With the ledger, whether the write's request key had been used already.
    pub async fn fund_write(&mut self, w: FundWrite) -> Result<(LedgerView, bool), Status> {
        let by = self.by.clone();
        let key = self.key.as_deref();
        let c = &mut self.client;
        let reply = match w {
            FundWrite::Income {
                source,
                amount,
                date,
                note,
            } => {
                c.fund_income(keyed(
                    pb::FundIncomeRequest {
                        by,
                        source,
                        amount,
                        date,
                        note,
                    },
                    key,
                ))
                .await
            }
            FundWrite::Budget { year, amount } => {
                c.fund_budget(keyed(pb::FundBudgetRequest { by, year, amount }, key))
                    .await
            }
            FundWrite::Grant {
                to,
                amount,
                date,
                note,
            } => {
                c.fund_grant(keyed(
                    pb::FundGrantRequest {
                        by,
                        to,
                        amount,
                        date,
                        note,
                    },
                    key,
                ))
                .await
            }
        };
        let reply = reply?.into_inner();
        let ledger = hearth_proto::archive::ledger_from(reply.ledger.unwrap_or_default())
            .map_err(unreadable)?;
        Ok((ledger, reply.repeated))
    }

    /// See [`archive::disclosure`].
    pub async fn disclose(&mut self, year: String) -> Result<Disclosure, Status> {
        let reply = self
            .client
            .disclose(pb::DiscloseRequest { year })
            .await?
            .into_inner();
        hearth_proto::archive::disclosure_from(reply.disclosure.unwrap_or_default())
            .map_err(unreadable)
    }

    /// Sets a new policy version from TOML text.
    pub async fn set_policy(&mut self, toml: String) -> Result<Policy, Status> {
        let reply = self
            .client
            .set_policy(pb::SetPolicyRequest {
                by: self.by.clone(),
                toml,
            })
            .await?
            .into_inner();
        Ok(policies(reply)?.0)
    }

    /// One page of the cases held, oldest first.
    pub async fn list_page(
        &mut self,
        filter: ListFilter,
        page: archive::PageRequest,
    ) -> Result<archive::Page<hearth_archive::CaseSummary>, Status> {
        let reply = self
            .client
            .list_cases(hearth_proto::archive::list_request_to(filter, page))
            .await?
            .into_inner();
        hearth_proto::archive::list_reply_from(reply).map_err(|e| Status::internal(e.to_string()))
    }

    /// See [`archive::import`].
    pub async fn import(&mut self, rows: Vec<ImportRow>) -> Result<Vec<String>, Status> {
        let rows = rows
            .into_iter()
            .map(|r| pb::ImportRow {
                line: r.line,
                form: Some(form_to_pb(r.form)),
                status: r.status,
                unreadable: r.unreadable,
            })
            .collect();
        Ok(self
            .client
            .import_cases(pb::ImportCasesRequest {
                by: self.by.clone(),
                rows,
            })
            .await?
            .into_inner()
            .ids)
    }

    /// See [`archive::write`]: what it did, and what the policy says of the case.
    pub async fn write(&mut self, w: Write) -> Result<(Written, Advice), Status> {
        let by = self.by.clone();
        let key = self.key.as_deref();
        let c = &mut self.client;
        let reply = match w {
            Write::NewCase { form } => {
                c.new_case(keyed(
                    pb::NewCaseRequest {
                        by,
                        form: Some(form_to_pb(form)),
                    },
                    key,
                ))
                .await
            }
            Write::EditCase { case, form } => {
                c.edit_case(keyed(
                    pb::EditCaseRequest {
                        by,
                        case,
                        form: Some(form_to_pb(form)),
                    },
                    key,
                ))
                .await
            }
            Write::FileCase { case, via } => {
                c.file_case(keyed(pb::FileCaseRequest { by, case, via }, key))
                    .await
            }
            Write::Transition { case, to, reason } => {
                c.transition_case(keyed(
                    pb::TransitionCaseRequest {
                        by,
                        case,
                        to,
                        reason,
                    },
                    key,
                ))
                .await
            }
            Write::Grade { case, set, reason } => {
                c.grade_case(keyed(
                    pb::GradeCaseRequest {
                        by,
                        case,
                        set,
                        reason,
                    },
                    key,
                ))
                .await
            }
            Write::Escalate {
                case,
                to_level,
                reason,
                via,
            } => {
                c.escalate_case(keyed(
                    pb::EscalateCaseRequest {
                        by,
                        case,
                        to_level,
                        reason,
                        via,
                    },
                    key,
                ))
                .await
            }
            Write::AddMember {
                case,
                relation,
                age,
                health,
                occupation,
            } => {
                c.add_member(keyed(
                    pb::AddMemberRequest {
                        by,
                        case,
                        relation,
                        age,
                        health,
                        occupation,
                    },
                    key,
                ))
                .await
            }
            Write::AddAssistance {
                case,
                kind,
                amount,
                date,
                paying_node,
                approving_node,
                note,
            } => {
                c.add_assistance(keyed(
                    pb::AddAssistanceRequest {
                        by,
                        case,
                        kind,
                        amount,
                        date,
                        paying_node,
                        approving_node,
                        note,
                    },
                    key,
                ))
                .await
            }
            Write::AddLoan {
                case,
                amount,
                date,
                due,
                note,
            } => {
                c.add_loan(keyed(
                    pb::AddLoanRequest {
                        by,
                        case,
                        amount,
                        date,
                        due,
                        note,
                    },
                    key,
                ))
                .await
            }
            Write::RepayLoan {
                case,
                loan,
                amount,
                date,
                note,
            } => {
                c.repay_loan(keyed(
                    pb::RepayLoanRequest {
                        by,
                        case,
                        loan,
                        amount,
                        date,
                        note,
                    },
                    key,
                ))
                .await
            }
            Write::AddVisit {
                case,
                date,
                kind,
                visitor,
                notes,
                consent,
            } => {
                c.add_visit(keyed(
                    pb::AddVisitRequest {
                        by,
                        case,
                        date,
                        kind,
                        visitor,
                        notes,
                        consent,
                    },
                    key,
                ))
                .await
            }
            Write::MonthlyIncome {
                case,
                month,
                amount,
            } => {
                c.add_monthly_income(keyed(
                    pb::AddMonthlyIncomeRequest {
                        by,
                        case,
                        month,
                        amount,
                    },
                    key,
                ))
                .await
            }
            Write::Decide {
                case,
                decision,
                note,
            } => {
                c.decide_case(keyed(
                    pb::DecideCaseRequest {
                        by,
                        case,
                        decision,
                        note,
                    },
                    key,
                ))
                .await
            }
            Write::AddReview {
                case,
                date,
                result,
                reviewer,
                notes,
            } => {
                c.add_review(keyed(
                    pb::AddReviewRequest {
                        by,
                        case,
                        date,
                        result,
                        reviewer,
                        notes,
                    },
                    key,
                ))
                .await
            }
        };
        written(reply?.into_inner())
    }
}
