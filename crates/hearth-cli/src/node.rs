//! One node's data dir: its config file, federation salt and store, and `hearth init`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hearth_archive::Policy;
use hearth_archive::conflict::QueueEntry;
use hearth_archive::due::Due;
use hearth_archive::ledger::Disclosure;
use hearth_archive::ledger::LedgerView;
use hearth_archive::policy::Advice;
use hearth_archive::summary::NodeSummary;
use hearth_archive::{CaseSummary, CaseView, FederationSalt, Level};
pub use hearth_node::NodeConfig;
use hearth_node::archive_api::ArchiveRemote;
use hearth_node::cases::StoreCases;
use hearth_node::config::Peer;
use hearth_node::local_api::SOCKET_FILE;
use hearth_ops::{
    self as archive, Ctx, FundWrite, ImportRow, ImportSource, ListFilter, Reply, Request, Resolve,
    Write, Written,
};
use hearth_proto::v1::CompactRequest;
use hearth_proto::v1::local_client::LocalClient;
use hearth_store::{Store, StoreError};
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::BadInput;

/// Name of the node's config file inside the data dir.
pub const CONFIG_FILE: &str = "hearth.toml";
/// Name of the federation salt file inside the data dir (owner-only).
pub const SALT_FILE: &str = "federation.salt";
/// Name of the store file inside the data dir.
pub const STORE_FILE: &str = "hearth.redb";

/// An open node: config, salt, who is at the keyboard, and where its cases are — in the store,
/// or, while `hearth serve` runs on the data dir, behind the running node's Unix socket.
#[derive(Debug)]
pub struct Node {
    pub config: NodeConfig,
    pub salt: FederationSalt,
    pub operator: String,
    dir: PathBuf,
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    /// No node runs on the data dir: this process has the store.
    Store(Store),
    /// A node runs on the data dir: every read and write goes through its socket. Boxed: the
    /// clients and runtime are much larger than the store handle.
    Running(Box<Running>),
}

#[derive(Debug)]
struct Running {
    archive: ArchiveRemote,
    local: LocalClient<Channel>,
    runtime: tokio::runtime::Runtime,
}

/// The error for a refusal or failure reported by the running node.
pub fn from_status(s: Status) -> anyhow::Error {
    match hearth_proto::kind_of(s.code()) {
        Some(kind) if kind != hearth_ops::ErrorKind::Internal => {
            hearth_ops::OpError::of_kind(kind, s.message().to_owned()).into()
        }
        _ => anyhow::anyhow!("the running node could not do it: {}", s.message()),
    }
}

/// Tells that a write was answered from its request key: made before, not made again.
fn repeated_note() {
    eprintln!(
        "note: this command was carried out before (its answer was lost); nothing was written again 此命令之前已执行，未重复写入"
    );
}

/// A reply that does not say whether the write was made: the connection broke or the node
/// ended while it was under way.
fn outcome_unknown(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
    )
}

/// Where a write keeps its request key until its outcome is known, under the hash of its
/// command line: the same command run again after a lost answer reuses the key.
const REQUESTS_DIR: &str = "requests";
/// A kept request key older than this is not reused: the same command a day later is another
/// write.
const REQUEST_KEPT: Duration = Duration::from_secs(24 * 3600);

/// The request key of this command's write.
struct PendingRequest {
    /// Where it is kept until the outcome is known (`None` if it could not be kept).
    file: Option<PathBuf>,
    key: String,
}

impl PendingRequest {
    /// The key kept by an earlier run of the same command line whose outcome was unknown, or
    /// a new one, kept before the write is sent.
    fn for_this_command(dir: &Path) -> PendingRequest {
        use sha2::{Digest, Sha256};
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut hash = Sha256::new();
        for arg in std::env::args_os().skip(1) {
            hash.update(arg.as_encoded_bytes());
            hash.update([0]);
        }
        let file = dir.join(REQUESTS_DIR).join(hex(&hash.finalize()[..16]));
        let fresh = fs::metadata(&file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < REQUEST_KEPT));
        if fresh
            && let Ok(key) = fs::read_to_string(&file)
            && !key.is_empty()
            && key.len() <= archive::MAX_REQUEST_KEY
            && key.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return PendingRequest {
                file: Some(file),
                key,
            };
        }
        let key = hex(&rand::random::<[u8; 16]>());
        let kept = fs::create_dir_all(dir.join(REQUESTS_DIR))
            .and_then(|()| fs::write(&file, &key))
            .is_ok();
        PendingRequest {
            file: kept.then_some(file),
            key,
        }
    }

    /// The outcome is known (made, or refused): the key is not kept.
    fn settled(self) {
        if let Some(file) = self.file {
            let _ = fs::remove_file(file);
        }
    }
}

/// A channel to the node running on `dir`, through its Unix socket; `None` if none runs.
pub async fn connect_socket(dir: &Path) -> Option<Channel> {
    let socket = dir.join(SOCKET_FILE);
    if !socket.exists() {
        return None;
    }
    Endpoint::try_from("http://localhost")
        .ok()?
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .ok()
}

/// The running node's socket (`Ok`) or, if no node runs, the store (`Err`). A node that is
/// starting holds the store before its socket answers, and another command may hold the store
/// for a moment: this waits for either, as [`open_store`] does.
pub fn running_or_store(
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
) -> Result<std::result::Result<Channel, Store>> {
    let deadline = Instant::now() + lock_wait();
    let mut pause = Duration::from_millis(10);
    let mut turn = false;
    loop {
        if let Some(channel) = runtime.block_on(connect_socket(dir)) {
            return Ok(Ok(channel));
        }
        if !turn {
            take_turn(dir, deadline)?;
            turn = true;
            continue;
        }
        match Store::open(&dir.join(STORE_FILE)) {
            Err(StoreError::Locked(_)) if Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return Ok(Err(other?)),
        }
    }
}

/// A small runtime for talking to the running node.
pub fn client_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The data dir named on the command line, in the environment, or the platform default.
pub fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    directories::ProjectDirs::from("org", "hearth", "hearth")
        .map(|d| d.data_dir().to_owned())
        .ok_or_else(|| {
            BadInput::new("no home directory to put data in; pass --data-dir DIR").into()
        })
}

/// Who is making changes: `--by`, else `$HEARTH_OPERATOR`, else the login name.
pub fn operator(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("HEARTH_OPERATOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "operator".to_owned())
}

/// Carries out a request on a node and takes the reply of the kind it answers with.
macro_rules! ask {
    ($node:expr, $request:expr, $reply:pat => $out:expr) => {
        match $node.execute($request)? {
            $reply => Ok($out),
            other => Err(anyhow::anyhow!(
                "the node answered with {} where another answer was due",
                other.kind()
            )),
        }
    };
}

impl Node {
    /// Opens an initialised data dir: through the running node if there is one, else the store.
    pub fn open(dir: &Path, operator: String) -> Result<Node> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(BadInput::new(format!(
                "{} is not a hearth data dir; run `hearth init --data-dir {} --node-id ID --level LEVEL` first",
                dir.display(),
                dir.display()
            ))
            .into());
        }
        let config = load_config(dir)?;
        let salt = load_salt(dir)?;
        let runtime = client_runtime()?;
        let backend = match running_or_store(dir, &runtime)? {
            Ok(channel) => Backend::Running(Box::new(Running {
                archive: ArchiveRemote::new(channel.clone(), &operator),
                local: LocalClient::new(channel),
                runtime,
            })),
            Err(mut store) => {
                check_identity(&mut store, &config, &salt)?;
                Backend::Store(store)
            }
        };
        Ok(Node {
            config,
            salt,
            operator,
            dir: dir.to_owned(),
            backend,
        })
    }

    /// Runs `f` with who asks, now, beside where the cases are.
    fn with_parts<R>(&mut self, f: impl FnOnce(&Ctx<'_>, &mut Backend) -> R) -> R {
        let backend = &mut self.backend;
        hearth_node::cases::with_ctx(&self.config, &self.salt, &self.operator, |ctx| {
            f(ctx, backend)
        })
    }

    /// Carries out `request` where the cases are: on the store, or on the running node. A
    /// request that writes goes under a request key (see [`Node::keyed`]).
    pub fn execute(&mut self, request: Request) -> Result<Reply> {
        let reply = if request.keyed() {
            self.keyed(request)?
        } else {
            self.with_parts(|ctx, backend| match backend {
                Backend::Store(store) => Ok(archive::execute(
                    &mut StoreCases::new(store, &ctx.place.node_id, ctx.now.date()),
                    ctx,
                    None,
                    request,
                )?),
                Backend::Running(r) => r
                    .runtime
                    .block_on(r.archive.execute(request))
                    .map_err(from_status),
            })?
        };
        if reply.repeated() {
            repeated_note();
        }
        Ok(reply)
    }

    /// Carries out a write under a request key (see [`archive::write_keyed`]): if the node's
    /// answer is lost, the outcome is unknown, and the same command run again reuses the key,
    /// so the write is not made twice.
    fn keyed(&mut self, request: Request) -> Result<Reply> {
        let pending = PendingRequest::for_this_command(&self.dir);
        let key = pending.key.clone();
        self.with_parts(|ctx, backend| match backend {
            Backend::Store(store) => {
                let cases = &mut StoreCases::new(store, &ctx.place.node_id, ctx.now.date());
                let done = archive::execute(cases, ctx, Some(&key), request);
                pending.settled();
                Ok(done?)
            }
            Backend::Running(r) => {
                r.archive.set_request_key(Some(key));
                let reply = r.runtime.block_on(r.archive.execute(request));
                r.archive.set_request_key(None);
                match reply {
                    Err(s) if outcome_unknown(&s) => Err(anyhow::anyhow!(
                        "the node did not answer ({}): the outcome is unknown; run the same command again to find out — it is not carried out twice",
                        s.message()
                    )),
                    reply => {
                        pending.settled();
                        reply.map_err(from_status)
                    }
                }
            }
        })
    }

    /// Carries out one write on a case (see [`archive::write`]).
    pub fn write(&mut self, w: Write) -> Result<Written> {
        ask!(self, Request::Write(Box::new(w)), Reply::Case { written, .. } => *written)
    }

    /// The case whose id starts with `prefix`, and what the policy in force says of it.
    pub fn get(&mut self, prefix: &str) -> Result<(CaseView, Advice)> {
        let case = prefix.to_owned();
        ask!(self, Request::GetCase { case }, Reply::Case { written, advice } => (written.case, advice))
    }

    /// The id of the case `prefix` names, and every change made to it.
    pub fn history(&mut self, prefix: &str) -> Result<(String, Vec<hearth_archive::Change>)> {
        let case = prefix.to_owned();
        ask!(self, Request::History { case }, Reply::History { case, changes } => (case, changes))
    }

    /// The access log, newest first, fetched page by page.
    pub fn access_log(&mut self) -> Result<Vec<hearth_ops::AccessEntry>> {
        self.all_pages(|page| {
            (Request::AccessLog { page }, |r| match r {
                Reply::AccessLog(p) => Ok(p),
                other => Err(other.kind()),
            })
        })
    }

    /// The conflict queue (open, or all), fetched page by page.
    pub fn conflicts(&mut self, all: bool) -> Result<Vec<QueueEntry>> {
        self.all_pages(|page| {
            (Request::Conflicts { all, page }, |r| match r {
                Reply::Conflicts(p) => Ok(p),
                other => Err(other.kind()),
            })
        })
    }

    /// One conflict.
    pub fn conflict(&mut self, id: &str) -> Result<QueueEntry> {
        let id = id.to_owned();
        ask!(self, Request::Conflict { id }, Reply::Conflict(c) => c)
    }

    /// Resolves a conflict.
    pub fn resolve(&mut self, id: &str, how: Resolve) -> Result<QueueEntry> {
        let conflict = id.to_owned();
        ask!(self, Request::Resolve { conflict, how }, Reply::Conflict(c) => c)
    }

    /// What is due among the cases held here, fetched page by page.
    pub fn due(&mut self) -> Result<Due> {
        let items = self.all_pages(|page| {
            (Request::Due { page }, |r| match r {
                Reply::Due(p) => Ok(p),
                other => Err(other.kind()),
            })
        })?;
        Ok(Due::from_items(items))
    }

    /// Cases the policy sends higher than anyone has escalated them, handed to `each` a page
    /// at a time as they come.
    pub fn pending_pages(
        &mut self,
        each: impl FnMut(Vec<(CaseSummary, Advice)>) -> Result<()>,
    ) -> Result<()> {
        self.each_page(
            |page| {
                (Request::Pending { page }, |r| match r {
                    Reply::Pending(p) => Ok(p),
                    other => Err(other.kind()),
                })
            },
            each,
        )
    }

    /// The policy version in force on `date` (today if `None`), and every version held.
    pub fn policy(&mut self, date: Option<String>) -> Result<(Policy, Vec<Policy>)> {
        ask!(self, Request::ShowPolicy { date }, Reply::Policy { in_force, versions } => (in_force, versions))
    }

    /// A fund ledger for a year (this node's, or a child's).
    pub fn fund_show(&mut self, node: Option<String>, year: Option<String>) -> Result<LedgerView> {
        ask!(self, Request::FundShow { node, year }, Reply::Ledger { ledger, .. } => ledger)
    }

    /// Writes to this node's fund.
    pub fn fund_write(&mut self, w: FundWrite) -> Result<LedgerView> {
        ask!(self, Request::Fund(w), Reply::Ledger { ledger, .. } => ledger)
    }

    /// What this node discloses for a year.
    pub fn disclose(&mut self, year: String) -> Result<Disclosure> {
        ask!(self, Request::Disclose { year }, Reply::Disclosure(d) => d)
    }

    /// This node's summary now, with the yearly figures of `year` (this year when `None`).
    pub fn stats(&mut self, year: Option<String>) -> Result<NodeSummary> {
        ask!(self, Request::Stats { year }, Reply::Stats(s) => *s)
    }

    /// Changes an account (see [`archive::account_write`]).
    pub fn account(&mut self, w: archive::AccountWrite) -> Result<archive::AccountWritten> {
        ask!(self, Request::Account(w), Reply::Account(a) => a)
    }

    /// The node's accounts.
    pub fn accounts(&mut self) -> Result<Vec<archive::AccountView>> {
        ask!(self, Request::Accounts, Reply::Accounts(a) => a)
    }

    /// Cases with loans outstanding, overdue first, fetched page by page.
    pub fn loans(&mut self) -> Result<Vec<CaseSummary>> {
        self.all_pages(|page| {
            (Request::Loans { page }, |r| match r {
                Reply::Cases(p) => Ok(p),
                other => Err(other.kind()),
            })
        })
    }

    /// Sets a new policy version from TOML text.
    pub fn set_policy(&mut self, toml: String) -> Result<Policy> {
        ask!(self, Request::SetPolicy { toml }, Reply::PolicySet(p) => p)
    }

    /// The cases held, in the filter's order, fetched page by page.
    pub fn list(&mut self, filter: ListFilter) -> Result<Vec<CaseSummary>> {
        let mut all = Vec::new();
        self.list_pages(filter, |page| {
            all.extend(page);
            Ok(())
        })?;
        Ok(all)
    }

    /// The cases held, in the filter's order, handed to `each` a page at a time as they come:
    /// the first page shows at once however many there are, and memory holds one page.
    pub fn list_pages(
        &mut self,
        filter: ListFilter,
        each: impl FnMut(Vec<CaseSummary>) -> Result<()>,
    ) -> Result<()> {
        self.each_page(
            |page| {
                let filter = filter.clone();
                (Request::ListCases { filter, page }, |r| match r {
                    Reply::Cases(p) => Ok(p),
                    other => Err(other.kind()),
                })
            },
            each,
        )
    }

    /// Every page of a listing: `ask` makes the request for a page and says how to take the
    /// page out of its reply (or names the kind of reply it got instead).
    fn all_pages<T>(
        &mut self,
        ask: impl Fn(
            archive::PageRequest,
        ) -> (Request, fn(Reply) -> Result<archive::Page<T>, &'static str>),
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        self.each_page(ask, |page| {
            all.extend(page);
            Ok(())
        })?;
        Ok(all)
    }

    /// [`Self::all_pages`], handing each page to `each` as it comes.
    fn each_page<T>(
        &mut self,
        ask: impl Fn(
            archive::PageRequest,
        ) -> (Request, fn(Reply) -> Result<archive::Page<T>, &'static str>),
        mut each: impl FnMut(Vec<T>) -> Result<()>,
    ) -> Result<()> {
        let mut token = None;
        loop {
            let (request, take) = ask(archive::PageRequest {
                size: Some(archive::PAGE_MAX),
                token,
            });
            let page = take(self.execute(request)?).map_err(|other| {
                anyhow::anyhow!("the node answered with {other} where a page was due")
            })?;
            each(page.items)?;
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Imports the cases `source` reads, all or none (see [`archive::import`]). `progress`
    /// is told of each case written (here) or sent (to a running node).
    pub fn import(
        &mut self,
        source: &dyn ImportSource,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<String>> {
        self.with_parts(|ctx, backend| match backend {
            Backend::Store(store) => Ok(archive::import(
                &mut StoreCases::new(store, &ctx.place.node_id, ctx.now.date()),
                ctx,
                source,
                progress,
            )?),
            Backend::Running(r) => send_import(r, source, progress),
        })
    }

    /// Folds change chunks into snapshots: (documents folded, chunks removed).
    pub fn compact(&mut self) -> Result<(u64, u64)> {
        match &mut self.backend {
            Backend::Store(store) => {
                let stats = store.compact()?;
                Ok((stats.folded, stats.chunks))
            }
            Backend::Running(r) => {
                let reply = r
                    .runtime
                    .block_on(r.local.compact(CompactRequest {}))
                    .map_err(from_status)?
                    .into_inner();
                Ok((reply.folded_documents, reply.chunks_removed))
            }
        }
    }
}

/// Sends the rows `source` reads to the running node in pieces, as they are read: the last
/// piece is marked, so a read that fails half-way leaves the node with nothing to write.
fn send_import(
    r: &mut Running,
    source: &dyn ImportSource,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<String>> {
    use hearth_node::archive_api::IMPORT_PIECE;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let by = r.archive.by().to_owned();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut piece = Vec::with_capacity(IMPORT_PIECE);
            let send = |piece: Vec<ImportRow>, last: bool| {
                let n = piece.len();
                tx.blocking_send(hearth_proto::archive::import_to(piece, by.clone(), last))
                    .map_err(|_| {
                        archive::OpError::Input("the node stopped taking the import".into())
                    })?;
                (0..n).for_each(|_| progress());
                Ok::<(), archive::OpError>(())
            };
            source.each_row(&mut |row| {
                piece.push(row);
                if piece.len() == IMPORT_PIECE {
                    send(std::mem::take(&mut piece), false)?;
                }
                Ok(())
            })?;
            send(piece, true)
        });
        let sent = r.runtime.block_on(
            r.archive
                .import_pieces(tokio_stream::wrappers::ReceiverStream::new(rx)),
        );
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the import's reader failed"))?;
        // A failed read explains a cut-off import better than the node's answer does.
        read?;
        sent.map_err(from_status)
    })
}

/// The node's certificates and key from `<dir>/tls/`.
pub fn load_identity(dir: &Path) -> Result<hearth_node::Identity> {
    let tls = dir.join("tls");
    hearth_node::Identity::load(&tls).map_err(|e| {
        BadInput::new(format!(
            "{e} (the node reads its certificates from {})",
            tls.display()
        ))
        .into()
    })
}

/// Reads `<dir>/federation.salt`.
pub fn load_salt(dir: &Path) -> Result<FederationSalt> {
    let path = dir.join(SALT_FILE);
    let text = fs::read_to_string(&path)
        .with_context(|| format!("cannot read the federation salt {}", path.display()))?;
    FederationSalt::from_hex(&text)
        .with_context(|| format!("federation salt {} is damaged", path.display()))
}

/// How long a command waits for another `hearth` process to finish with the store:
/// `$HEARTH_LOCK_WAIT_MS`, default 5 seconds.
fn lock_wait() -> Duration {
    let ms = std::env::var("HEARTH_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    Duration::from_millis(ms)
}

/// The file commands that open the store directly queue on (see [`take_turn`]).
const TURN_FILE: &str = "hearth.turn";

/// This process's turn on its data dir, held until it exits (or [`release_turn`]).
static TURN: std::sync::Mutex<Option<fs::File>> = std::sync::Mutex::new(None);

/// Waits, until `deadline`, for this process's turn among the commands that open the store of
/// `dir` directly: a blocking lock on `hearth.turn`, so that waiting commands are woken as soon
/// as the one before them ends instead of polling and missing their chance (four writers side by
/// side never time out while each is served in turn). Where the file cannot be made or locked,
/// commands fall back to polling the store's own lock.
fn take_turn(dir: &Path, deadline: Instant) -> Result<()> {
    if TURN.lock().is_ok_and(|t| t.is_some()) {
        return Ok(());
    }
    let Ok(file) = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(TURN_FILE))
    else {
        return Ok(());
    };
    let (tx, rx) = std::sync::mpsc::channel();
    // A blocking lock has no timeout: it is taken on a thread, and left behind if the wait ends.
    std::thread::spawn(move || {
        let _ = tx.send(file.lock().map(|()| file));
    });
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(file)) => {
            if let Ok(mut turn) = TURN.lock() {
                *turn = Some(file);
            }
            Ok(())
        }
        Ok(Err(_)) => Ok(()),
        Err(_) => Err(StoreError::Locked(dir.join(STORE_FILE)).into()),
    }
}

/// Gives up this process's turn (a node, once it holds the store, lets commands queue on it).
pub fn release_turn() {
    if let Ok(mut turn) = TURN.lock() {
        *turn = None;
    }
}

/// Opens the store, in turn with other commands (see [`take_turn`]) and waiting (with growing
/// pauses) while a node holds it, so that commands run side by side take turns instead of
/// failing.
pub fn open_store(path: &Path) -> Result<Store> {
    let deadline = Instant::now() + lock_wait();
    let mut pause = Duration::from_millis(10);
    if let Some(dir) = path.parent() {
        take_turn(dir, deadline)?;
    }
    loop {
        match Store::open(path) {
            Err(StoreError::Locked(_)) if Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return Ok(other?),
        }
    }
}

/// Refuses a store whose recorded node id or federation salt is not the config's and the salt
/// file's (recorded at its first use): new writes would carry another node's id, or the same
/// household would get another identity key and be filed twice.
pub fn check_identity(store: &mut Store, config: &NodeConfig, salt: &FederationSalt) -> Result<()> {
    let fingerprint = salt.fingerprint();
    let Some((node, recorded)) = store.bind_identity(&config.node_id, &fingerprint)? else {
        return Ok(());
    };
    if node != config.node_id {
        return Err(BadInput::new(format!(
            "this data dir's store belongs to node {node}, but {CONFIG_FILE} says node_id = \"{}\"; put node_id = \"{node}\" back (a node id changes only with a new data dir)",
            config.node_id
        ))
        .into());
    }
    Err(BadInput::new(format!(
        "{SALT_FILE} is not the federation salt this store was made with (fingerprint {fingerprint}, the store's {recorded}); copy the federation's salt back into {SALT_FILE}"
    ))
    .into())
}

/// Checks a node id (see [`hearth_node::config::check_node_id`]).
pub fn check_node_id(id: &str) -> Result<(), BadInput> {
    hearth_node::config::check_node_id(id).map_err(BadInput::new)
}

/// `hearth init`: validates everything first, then writes salt, store and config (the config
/// last, so a data dir with a config is always complete). On failure, removes what it wrote.
pub fn init(
    dir: &Path,
    node_id: &str,
    level: &str,
    listen: Option<String>,
    (metrics, console): (Option<String>, Option<String>),
    salt_file: Option<&Path>,
) -> Result<(NodeConfig, bool)> {
    let level: Level = level.parse()?;
    let config = NodeConfig {
        node_id: node_id.to_owned(),
        level,
        listen,
        peers: Vec::new(),
        admins: Vec::new(),
        metrics,
        console,
        console_tls: None,
        limits: Default::default(),
        trust: Default::default(),
    };
    config.check().map_err(BadInput::new)?;
    let joined = salt_file.is_some();
    let salt = match salt_file {
        Some(path) => {
            let text = fs::read_to_string(path).map_err(|e| {
                BadInput::new(format!(
                    "cannot read federation salt {}: {e}",
                    path.display()
                ))
            })?;
            FederationSalt::from_hex(&text)?
        }
        None => FederationSalt::from_bytes(rand::random()),
    };
    if dir.join(CONFIG_FILE).exists() {
        return Err(BadInput::new(format!(
            "{} is already a hearth data dir (node {}); choose another --data-dir",
            dir.display(),
            fs::read_to_string(dir.join(CONFIG_FILE))
                .ok()
                .and_then(|t| NodeConfig::parse(&t).ok())
                .map(|c| c.node_id)
                .unwrap_or_else(|| "unknown".into())
        ))
        .into());
    }
    for leftover in [SALT_FILE, STORE_FILE] {
        if dir.join(leftover).exists() {
            return Err(BadInput::new(format!(
                "{} already holds {leftover} but no {CONFIG_FILE}; move it away or choose another --data-dir",
                dir.display()
            ))
            .into());
        }
    }
    let created_dir = !dir.exists();
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = write_node(dir, &config, &salt);
    if result.is_err() {
        let _ = fs::remove_file(dir.join(SALT_FILE));
        let _ = fs::remove_file(dir.join(STORE_FILE));
        if created_dir {
            let _ = fs::remove_dir(dir);
        }
    }
    result.map(|()| (config, joined))
}

fn write_node(dir: &Path, config: &NodeConfig, salt: &FederationSalt) -> Result<()> {
    restrict(dir, 0o700)?;
    write_private(
        &dir.join(SALT_FILE),
        format!("{}\n", salt.to_hex()).as_bytes(),
    )?;
    let mut store = Store::create(&dir.join(STORE_FILE), &rand::random::<[u8; 8]>())?;
    store.bind_identity(&config.node_id, &salt.fingerprint())?;
    drop(store);
    restrict(&dir.join(STORE_FILE), 0o600)?;
    save_config(dir, config)
}

/// Reads `<dir>/hearth.toml`.
pub fn load_config(dir: &Path) -> Result<NodeConfig> {
    check_config_file(&dir.join(CONFIG_FILE))
}

/// Reads and checks a config file (`hearth config check`, and every command's own config).
pub fn check_config_file(path: &Path) -> Result<NodeConfig> {
    let config = NodeConfig::load(path).map_err(|e| BadInput::new(e.to_string()))?;
    config
        .check()
        .map_err(|e| BadInput::new(format!("{}: {e}", path.display())))?;
    Ok(config)
}

/// Writes `<dir>/hearth.toml` atomically (a temporary file renamed over the old one).
pub fn save_config(dir: &Path, config: &NodeConfig) -> Result<()> {
    let text = config.to_toml().context("cannot write the config")?;
    let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
    let _ = fs::remove_file(&tmp);
    write_private(&tmp, text.as_bytes())?;
    fs::rename(&tmp, dir.join(CONFIG_FILE)).context("cannot write the config")?;
    Ok(())
}

/// `hearth peer add`: records a neighbour in the config, if the config with it still passes
/// [`NodeConfig::check`].
pub fn add_peer(dir: &Path, peer: Peer) -> Result<NodeConfig> {
    let mut config = load_config(dir)?;
    config.peers.push(peer);
    checked_save(dir, config)
}

/// `hearth peer admin`: names a certificate as an admin in the config, if the config with it
/// still passes [`NodeConfig::check`].
pub fn add_admin(dir: &Path, id: &str) -> Result<NodeConfig> {
    let mut config = load_config(dir)?;
    config.admins.push(id.to_owned());
    checked_save(dir, config)
}

/// Saves a changed config once it passes [`NodeConfig::check`] (the one check of a config).
fn checked_save(dir: &Path, config: NodeConfig) -> Result<NodeConfig> {
    config.check().map_err(BadInput::new)?;
    save_config(dir, &config)?;
    Ok(config)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn restrict(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot restrict permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
