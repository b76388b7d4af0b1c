//! The `hearth.v1.Archive` service: the operations of [`hearth_ops`] over gRPC, typed and paged
//! (the messages are mapped in `hearth_proto::archive`). The operations run on the core thread
//! against the node's replica, so a change is durable before the reply and is offered to
//! connected participants at once.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use hearth_archive::conflict::QueueEntry;
use hearth_archive::due::{DueCase, DueKind};
use hearth_archive::ledger::{Disclosure, LedgerView};
use hearth_archive::policy::Advice;
use hearth_archive::{FederationSalt, Policy};
use hearth_ops::{
    self as archive, Ctx, ErrorKind, FundWrite, ImportRow, ListFilter, OpError, Resolve, Write,
    Written,
};
use hearth_proto::v1 as pb;
use hearth_proto::v1::archive_client::ArchiveClient;
use hearth_proto::v1::archive_server::Archive;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tracing::error;

use crate::config::NodeConfig;
use crate::replica::StoreReplica;
use crate::{NodeHandle, tls};

/// Largest request the service takes (a piece of an import is far less).
pub const MAX_REQUEST: usize = 64 << 20;

/// Most rows in one piece of an import.
pub const IMPORT_PIECE: usize = 1000;

/// Most bytes of rows one import may put on the node's disk while it is sent.
const MAX_SPOOL: u64 = 16 << 30;

/// An import's rows as they arrive, written to a file beside the store (removed when done):
/// each piece as its length (4 bytes, little-endian) and its message.
struct Spool {
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    bytes: u64,
}

/// A written spool, read as the import's source.
struct SpooledRows(tempfile::TempPath);

impl Spool {
    fn create(dir: &Path) -> Result<Spool, Status> {
        let file = tempfile::Builder::new()
            .prefix("import-")
            .suffix(".rows")
            .tempfile_in(dir)
            .map_err(|e| spool_failed(&e))?;
        Ok(Spool {
            file: std::io::BufWriter::new(file),
            bytes: 0,
        })
    }

    fn add(&mut self, piece: pb::ImportCasesRequest) -> Result<(), Status> {
        use std::io::Write as _;
        if piece.rows.len() > IMPORT_PIECE {
            return Err(Status::invalid_argument(format!(
                "a piece of an import holds at most {IMPORT_PIECE} rows; it held {}",
                piece.rows.len()
            )));
        }
        let bytes = prost::Message::encode_to_vec(&piece);
        self.bytes += bytes.len() as u64 + 4;
        if self.bytes > MAX_SPOOL {
            return Err(Status::resource_exhausted(format!(
                "an import is at most {} GiB of rows; split the file",
                MAX_SPOOL >> 30
            )));
        }
        let len =
            u32::try_from(bytes.len()).map_err(|_| Status::invalid_argument("piece too large"))?;
        self.file
            .write_all(&len.to_le_bytes())
            .and_then(|()| self.file.write_all(&bytes))
            .map_err(|e| spool_failed(&e))
    }

    fn finish(self) -> Result<SpooledRows, Status> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| spool_failed(e.error()))?;
        Ok(SpooledRows(file.into_temp_path()))
    }
}

fn spool_failed(e: &std::io::Error) -> Status {
    error!(error = %e, "cannot spool an import");
    Status::unavailable(format!(
        "the node cannot keep the import's rows on its disk ({e}); free some space and import again"
    ))
}

impl archive::ImportSource for SpooledRows {
    fn each_row(
        &self,
        each: &mut dyn FnMut(ImportRow) -> archive::Result<()>,
    ) -> archive::Result<()> {
        use std::io::Read as _;
        let unreadable = |e: std::io::Error| OpError::Storage(Box::new(e));
        let mut file = std::io::BufReader::new(std::fs::File::open(&self.0).map_err(unreadable)?);
        loop {
            let mut len = [0u8; 4];
            match file.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(unreadable(e)),
            }
            let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
            file.read_exact(&mut bytes).map_err(unreadable)?;
            let piece = <pb::ImportCasesRequest as prost::Message>::decode(bytes.as_slice())
                .map_err(|e| OpError::Storage(Box::new(e)))?;
            hearth_proto::archive::import_from(piece)
                .into_iter()
                .try_for_each(&mut *each)?;
        }
    }
}

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

    /// A write (to a case or the fund) under the request key `key`: the failure injection of
    /// the retry test ends the node after a keyed write committed, before it answers.
    async fn serve_keyed(
        &self,
        by: String,
        key: Option<String>,
        request: archive::Request,
    ) -> Result<archive::Reply, Status> {
        let keyed = key.is_some();
        let reply = self.serve(by, key, request).await?;
        crash_after_commit(keyed && !reply.repeated());
        Ok(reply)
    }

    /// A write to a case.
    async fn write(
        &self,
        by: String,
        key: Option<String>,
        w: Write,
    ) -> Result<Response<pb::CaseReply>, Status> {
        match self
            .serve_keyed(by, key, archive::Request::Write(Box::new(w)))
            .await?
        {
            archive::Reply::Case { written, advice } => Ok(case_reply(&written, &advice)),
            other => Err(status(unexpected(&other))),
        }
    }

    /// A write to the fund.
    async fn fund(
        &self,
        by: String,
        key: Option<String>,
        w: FundWrite,
    ) -> Result<Response<pb::LedgerReply>, Status> {
        match self.serve_keyed(by, key, archive::Request::Fund(w)).await? {
            archive::Reply::Ledger { ledger, repeated } => Ok(ledger_reply(&ledger, repeated)),
            other => Err(status(unexpected(&other))),
        }
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

fn case_reply(w: &Written, advice: &Advice) -> Response<pb::CaseReply> {
    Response::new(hearth_proto::archive::case_reply_to(w, advice))
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

/// The handlers of the RPCs that write: each request message is a write of the domain
/// (`$domain`, mapped in `hearth_proto::archive`) made by `$handler` under the request key its
/// metadata carries, answered with `$reply`.
macro_rules! writes {
    ($domain:ident, $handler:ident -> $reply:ident: $($rpc:ident($msg:ident)),+ $(,)?) => {
        $(
            // As `#[tonic::async_trait]` writes an `async fn` (it does not see into macros).
            fn $rpc<'life0, 'async_trait>(
                &'life0 self,
                request: Request<pb::$msg>,
            ) -> Pin<Box<dyn Future<Output = Result<Response<pb::$reply>, Status>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async move {
                    let by = self.caller(&request, &request.get_ref().by)?;
                    let key = request_key(&request)?;
                    self.$handler(by, key, $domain::from(request.into_inner())).await
                })
            }
        )+
    };
}

#[tonic::async_trait]
impl Archive for ArchiveService {
    writes! { Write, write -> CaseReply:
        new_case(NewCaseRequest),
        edit_case(EditCaseRequest),
        file_case(FileCaseRequest),
        record_step(RecordStepRequest),
        approve_aid(ApproveAidRequest),
        transition_case(TransitionCaseRequest),
        grade_case(GradeCaseRequest),
        escalate_case(EscalateCaseRequest),
        add_member(AddMemberRequest),
        add_assistance(AddAssistanceRequest),
        add_loan(AddLoanRequest),
        repay_loan(RepayLoanRequest),
        add_visit(AddVisitRequest),
        decide_case(DecideCaseRequest),
        add_monthly_income(AddMonthlyIncomeRequest),
        add_review(AddReviewRequest),
        void_record(VoidRecordRequest),
        correct_aid(CorrectAidRequest),
    }

    writes! { FundWrite, fund -> LedgerReply:
        fund_income(FundIncomeRequest),
        fund_budget(FundBudgetRequest),
        fund_grant(FundGrantRequest),
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::CaseReply>, Status> {
        let by = self.caller(&request, "")?;
        let case = request.into_inner().case;
        match self
            .serve(by, None, archive::Request::GetCase { case })
            .await?
        {
            archive::Reply::Case { written, advice } => Ok(case_reply(&written, &advice)),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesReply>, Status> {
        let by = self.caller(&request, "")?;
        let (filter, page) = hearth_proto::archive::list_request_from(request.into_inner());
        match self
            .serve(by, None, archive::Request::ListCases { filter, page })
            .await?
        {
            archive::Reply::Cases(page) => {
                Ok(Response::new(hearth_proto::archive::list_reply_to(page)))
            }
            other => Err(status(unexpected(&other))),
        }
    }

    async fn due_cases(
        &self,
        request: Request<pb::DueCasesRequest>,
    ) -> Result<Response<pb::DueCasesReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let page = hearth_proto::archive::page_from(r.page_size, r.page_token);
        match self.serve(by, None, archive::Request::Due { page }).await? {
            archive::Reply::Due(page) => {
                Ok(Response::new(hearth_proto::archive::due_reply_to(page)))
            }
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
            archive::Reply::Pending(page) => {
                Ok(Response::new(hearth_proto::archive::pending_reply_to(page)))
            }
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
        let year = request.into_inner().year;
        match self
            .serve(by, None, archive::Request::Stats { year })
            .await?
        {
            archive::Reply::Stats(summary) => Ok(Response::new(pb::StatsReply {
                summary: Some(hearth_proto::archive::node_summary_to(&summary)),
            })),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn list_loans(
        &self,
        request: Request<pb::ListLoansRequest>,
    ) -> Result<Response<pb::ListCasesReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let page = hearth_proto::archive::page_from(r.page_size, r.page_token);
        match self
            .serve(by, None, archive::Request::Loans { page })
            .await?
        {
            archive::Reply::Cases(page) => {
                Ok(Response::new(hearth_proto::archive::list_reply_to(page)))
            }
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

    async fn access_log(
        &self,
        request: Request<pb::AccessLogRequest>,
    ) -> Result<Response<pb::AccessLogReply>, Status> {
        let by = self.caller(&request, "")?;
        let r = request.into_inner();
        let page = hearth_proto::archive::page_from(r.page_size, r.page_token);
        match self
            .serve(by, None, archive::Request::AccessLog { page })
            .await?
        {
            archive::Reply::AccessLog(page) => {
                Ok(Response::new(hearth_proto::archive::access_log_to(page)))
            }
            other => Err(status(unexpected(&other))),
        }
    }

    async fn case_history(
        &self,
        request: Request<pb::CaseHistoryRequest>,
    ) -> Result<Response<pb::CaseHistoryReply>, Status> {
        let by = self.caller(&request, "")?;
        let case = request.into_inner().case;
        match self
            .serve(by, None, archive::Request::History { case })
            .await?
        {
            archive::Reply::History { case, changes } => Ok(Response::new(
                hearth_proto::archive::history_to(case, &changes),
            )),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn resolve_conflict(
        &self,
        request: Request<pb::ResolveConflictRequest>,
    ) -> Result<Response<pb::ConflictReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let (conflict, how) = hearth_proto::archive::resolve_from(request.into_inner())
            .ok_or_else(|| {
                Status::invalid_argument("say how to resolve it: pick a side or give a value")
            })?;
        let request = archive::Request::Resolve { conflict, how };
        match self.serve(by, None, request).await? {
            archive::Reply::Conflict(c) => Ok(conflict_reply(&c)),
            other => Err(status(unexpected(&other))),
        }
    }

    async fn accounts(
        &self,
        request: Request<pb::AccountsRequest>,
    ) -> Result<Response<pb::AccountsReply>, Status> {
        let by = self.caller(&request, &request.get_ref().by)?;
        let request = match hearth_proto::archive::accounts_from(request.into_inner()) {
            Some(w) => archive::Request::Account(w),
            None => archive::Request::Accounts,
        };
        match self.serve(by, None, request).await? {
            archive::Reply::Account(w) => Ok(Response::new(
                hearth_proto::archive::accounts_reply_to(&[w.account], w.password),
            )),
            archive::Reply::Accounts(list) => Ok(Response::new(
                hearth_proto::archive::accounts_reply_to(&list, None),
            )),
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

    async fn import_cases(
        &self,
        request: Request<tonic::Streaming<pb::ImportCasesRequest>>,
    ) -> Result<Response<pb::ImportCasesReply>, Status> {
        let (meta, extensions, mut pieces) = request.into_parts();
        let first = pieces
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the import sent no rows"))?;
        let asked = Request::from_parts(meta, extensions, ());
        let by = self.caller(&asked, &first.by)?;
        // The rows go to a file beside the store as they come, so an import of any size is
        // never held in memory; the import reads that file twice (see `hearth_ops::import`).
        let dir = self
            .node
            .local(|replica| replica.store().path().parent().map(Path::to_owned))
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?
            .unwrap_or_else(std::env::temp_dir);
        let mut spool = Spool::create(&dir)?;
        let first_by = first.by.clone();
        let mut last = first.last;
        spool.add(first)?;
        while let Some(piece) = pieces.message().await? {
            if last {
                return Err(Status::invalid_argument(
                    "the import sent rows after its last piece; nothing was imported",
                ));
            }
            if piece.by != first_by {
                return Err(Status::invalid_argument(
                    "every piece of an import must name the same `by`",
                ));
            }
            last = piece.last;
            spool.add(piece)?;
        }
        if !last {
            return Err(Status::aborted(
                "the import was cut off before its last rows came; nothing was imported",
            ));
        }
        let rows = spool.finish()?;
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
                    written: Box::new(Written::read(case)),
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
            Request::Stats { year } => Reply::Stats(Box::new(self.stats(year).await?)),
            Request::Loans { page } => Reply::Cases(self.loans(page).await?),
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
            Request::History { case } => {
                let (case, changes) = self.history(case).await?;
                Reply::History { case, changes }
            }
            Request::AccessLog { page } => Reply::AccessLog(self.access_log(page).await?),
            Request::Resolve { conflict, how } => {
                Reply::Conflict(self.resolve(conflict, how).await?)
            }
            Request::Account(w) => {
                let (mut list, password) = self.accounts(Some(w)).await?;
                let account = list
                    .pop()
                    .ok_or_else(|| Status::internal("the node answered with no account"))?;
                Reply::Account(archive::AccountWritten { account, password })
            }
            Request::Accounts => Reply::Accounts(self.accounts(None).await?.0),
        })
    }

    /// See [`archive::account_write`] and [`archive::accounts`].
    pub async fn accounts(
        &mut self,
        w: Option<archive::AccountWrite>,
    ) -> Result<(Vec<archive::AccountView>, Option<String>), Status> {
        let message = hearth_proto::archive::accounts_to(w, self.by.clone());
        let reply = self.client.accounts(message).await?.into_inner();
        hearth_proto::archive::accounts_reply_from(reply).map_err(unreadable)
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
        hearth_proto::archive::due_reply_from(reply).map_err(unreadable)
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
        hearth_proto::archive::pending_reply_from(reply).map_err(unreadable)
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

    /// See [`archive::borrowers`]: one page, overdue first.
    pub async fn loans(
        &mut self,
        page: archive::PageRequest,
    ) -> Result<archive::Page<hearth_archive::CaseSummary>, Status> {
        let (page_size, page_token) = hearth_proto::archive::page_to(page);
        let reply = self
            .client
            .list_loans(pb::ListLoansRequest {
                page_size,
                page_token,
            })
            .await?
            .into_inner();
        hearth_proto::archive::list_reply_from(reply).map_err(unreadable)
    }

    /// See [`archive::stats`].
    pub async fn stats(
        &mut self,
        year: Option<String>,
    ) -> Result<hearth_archive::summary::NodeSummary, Status> {
        let reply = self
            .client
            .stats(pb::StatsRequest { year })
            .await?
            .into_inner();
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

    /// A page of the access log.
    pub async fn access_log(
        &mut self,
        page: archive::PageRequest,
    ) -> Result<archive::Page<archive::AccessEntry>, Status> {
        let (page_size, page_token) = hearth_proto::archive::page_to(page);
        let reply = self
            .client
            .access_log(pb::AccessLogRequest {
                page_size,
                page_token,
            })
            .await?
            .into_inner();
        hearth_proto::archive::access_log_from(reply).map_err(unreadable)
    }

    /// A case's changes, oldest first.
    pub async fn history(
        &mut self,
        case: String,
    ) -> Result<(String, Vec<hearth_archive::Change>), Status> {
        let reply = self
            .client
            .case_history(pb::CaseHistoryRequest { case })
            .await?
            .into_inner();
        hearth_proto::archive::history_from(reply).map_err(unreadable)
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
        let message = hearth_proto::archive::resolve_to(id, how, self.by.clone());
        let reply = self.client.resolve_conflict(message).await?.into_inner();
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
        use hearth_proto::archive::FundMessage as M;
        let key = self.key.as_deref();
        let c = &mut self.client;
        let reply = match hearth_proto::archive::fund_to(w, self.by.clone()) {
            M::Income(m) => c.fund_income(keyed(m, key)).await,
            M::Budget(m) => c.fund_budget(keyed(m, key)).await,
            M::Grant(m) => c.fund_grant(keyed(m, key)).await,
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

    /// See [`archive::import`]: the rows sent in pieces of [`IMPORT_PIECE`].
    pub async fn import(&mut self, rows: Vec<ImportRow>) -> Result<Vec<String>, Status> {
        let by = self.by.clone();
        let mut rows = rows.into_iter().peekable();
        let mut done = false;
        let pieces = std::iter::from_fn(move || {
            if done {
                return None;
            }
            let piece: Vec<ImportRow> = rows.by_ref().take(IMPORT_PIECE).collect();
            done = rows.peek().is_none();
            Some(hearth_proto::archive::import_to(piece, by.clone(), done))
        });
        self.import_pieces(tokio_stream::iter(pieces)).await
    }

    /// See [`archive::import`]: the rows as `pieces` brings them, each of at most
    /// [`IMPORT_PIECE`] rows (made with `hearth_proto::archive::import_to` in this client's
    /// name, [`ArchiveRemote::by`]); the node writes nothing unless the last is marked so.
    pub async fn import_pieces(
        &mut self,
        pieces: impl tokio_stream::Stream<Item = pb::ImportCasesRequest> + Send + 'static,
    ) -> Result<Vec<String>, Status> {
        Ok(self.client.import_cases(pieces).await?.into_inner().ids)
    }

    /// Who this client makes changes as.
    pub fn by(&self) -> &str {
        &self.by
    }

    /// See [`archive::write`]: what it did, and what the policy says of the case.
    pub async fn write(&mut self, w: Write) -> Result<(Written, Advice), Status> {
        use hearth_proto::archive::WriteMessage as M;
        let key = self.key.as_deref();
        let c = &mut self.client;
        let reply = match hearth_proto::archive::write_to(w, self.by.clone()) {
            M::NewCase(m) => c.new_case(keyed(m, key)).await,
            M::EditCase(m) => c.edit_case(keyed(m, key)).await,
            M::FileCase(m) => c.file_case(keyed(m, key)).await,
            M::Step(m) => c.record_step(keyed(m, key)).await,
            M::ApproveAid(m) => c.approve_aid(keyed(m, key)).await,
            M::Transition(m) => c.transition_case(keyed(m, key)).await,
            M::Grade(m) => c.grade_case(keyed(m, key)).await,
            M::Escalate(m) => c.escalate_case(keyed(m, key)).await,
            M::AddMember(m) => c.add_member(keyed(m, key)).await,
            M::AddAssistance(m) => c.add_assistance(keyed(m, key)).await,
            M::AddLoan(m) => c.add_loan(keyed(m, key)).await,
            M::RepayLoan(m) => c.repay_loan(keyed(m, key)).await,
            M::AddVisit(m) => c.add_visit(keyed(m, key)).await,
            M::MonthlyIncome(m) => c.add_monthly_income(keyed(m, key)).await,
            M::Decide(m) => c.decide_case(keyed(m, key)).await,
            M::AddReview(m) => c.add_review(keyed(m, key)).await,
            M::Void(m) => c.void_record(keyed(m, key)).await,
            M::CorrectAid(m) => c.correct_aid(keyed(m, key)).await,
        };
        written(reply?.into_inner())
    }
}
