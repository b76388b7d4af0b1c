//! Command-line arguments (clap), per DESIGN §10.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Hearth keeps trade-union hardship case archives (困难职工档案) in sync across the levels of a
/// union federation. This is one node's command line.
#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    propagate_version = true,
    allow_negative_numbers = true
)]
pub struct Cli {
    /// The node's data dir [default: $HEARTH_DATA_DIR, else the platform data dir]
    #[arg(long, global = true, env = "HEARTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Who is making changes, recorded with each one [default: $HEARTH_OPERATOR, else $USER]
    #[arg(long, global = true, value_name = "NAME")]
    pub by: Option<String>,

    /// How `hearth serve` writes its log on stderr: text for people, json (one object a line)
    /// for log collectors
    #[arg(long, global = true, env = "HEARTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The parsed command line lives once per process, so variant sizes do not matter.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Set up a node's data dir: config, federation salt and store
    Init(InitArgs),
    /// Open, show, list, edit, file and import hardship cases
    #[command(subcommand)]
    Case(CaseCommand),
    /// Household members
    #[command(subcommand)]
    Member(MemberCommand),
    /// Assistance payments (帮扶记录)
    #[command(subcommand)]
    Assist(AssistCommand),
    /// Loans and their repayments
    #[command(subcommand)]
    Loan(LoanCommand),
    /// Visits (走访 / 回访)
    #[command(subcommand)]
    Visit(VisitCommand),
    /// Annual reviews (年审)
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Report a case up the federation until it reaches a level (逐级上报)
    Escalate {
        /// Case id (a unique prefix is enough)
        id: String,
        /// The level the case must reach
        #[arg(long, value_name = "LEVEL")]
        to_level: String,
        /// Why
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Which parent to report to, when the node has several
        #[arg(long, value_name = "NODE")]
        via: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// The federation CA and node certificates
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Neighbours of this node
    #[command(subcommand)]
    Peer(PeerCommand),
    /// The conflict queue: fields concurrent edits left with several values
    #[command(subcommand)]
    Conflicts(ConflictsCommand),
    /// The node's fund (帮扶资金): budget, income, aid paid, grants, balance
    #[command(subcommand)]
    Fund(FundCommand),
    /// Write this node's fund income and aid paid for a year as Markdown and CSV, names masked (公示)
    Disclose {
        /// The year, YYYY
        #[arg(long, value_name = "YEAR")]
        year: String,
        /// Folder to write to (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Totals of this node's cases and everything below it (from the children's summaries)
    Stats {
        /// One column per child
        #[arg(long)]
        by_child: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// The federation policy: subsistence lines, aid caps, authority, escalation thresholds
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run the node: sync with neighbours until stopped (Ctrl-C or SIGTERM)
    Serve,
    /// Ask the running node about its neighbours, or make it sync now
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Fold change chunks into snapshots and give free space back to the disk
    Compact(JsonFlag),
    /// Write a consistent copy of the node's store to a new file, even while the node runs
    Backup {
        /// The file to write (must not exist yet)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Put a backup back in place of the node's store (the node must be stopped); the replaced
    /// store is kept beside it, and the neighbours send back what the backup lacks
    Restore {
        /// A file written by `hearth backup`
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Read every document and index entry of the node's store and report what is damaged (the
    /// node must be stopped); with --repair, take damaged documents out so that the neighbours
    /// send them again whole
    Check {
        /// Take damaged documents out (kept aside in damaged/ of the data dir) and forget the
        /// neighbours' checkpoints, so that the next sync fetches them again
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check node config files (hearth.toml) before a node uses them
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Offline bundles: carry what a neighbour is missing in a file, where no network reaches
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// A five-node federation on loopback: escalation, a node cut off, edits on both sides, healing
    Demo {
        /// Instead: a caseworker's day on one node, as the commands a person would type
        #[arg(long)]
        walkthrough: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Make the federation CA: ca.pem and ca.key (keep ca.key offline)
    InitCa {
        /// Folder to write to
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Name of the federation, written into the CA certificate
        #[arg(long, value_name = "NAME", default_value = "hearth")]
        name: String,
    },
    /// Issue a node certificate: ca.pem, node.pem and node.key (copy them to <data-dir>/tls/)
    Issue {
        /// Folder made by `certs init-ca`
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The node id to certify
        #[arg(long, value_name = "ID")]
        node_id: String,
        /// The node's level (team, branch, enterprise, municipal, provincial, national): with
        /// its parents, its place in the federation, which other nodes check (DESIGN §4a).
        /// Leave it out only for an admin certificate
        #[arg(long, value_name = "LEVEL")]
        level: Option<String>,
        /// A node the certified node reports to (repeat for several; none for the top)
        #[arg(long = "parent", value_name = "ID", requires = "level")]
        parents: Vec<String>,
        /// Folder to write to
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and check config files: node ids, addresses, endpoints, neighbours
    Check {
        /// The files (e.g. deploy/federation/*/hearth.toml)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write a signed file of everything a neighbour is missing of what the two share
    Export {
        /// The neighbour the bundle is for
        #[arg(long = "for", value_name = "ID")]
        for_node: String,
        /// The file to write (must not exist yet)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Every shared document whole, not only what the neighbour is missing (for a neighbour
        /// restored from an old backup, or when an import says so)
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check a neighbour's bundle (signature, sender, scope) and apply it; a second import of
    /// the same file changes nothing
    Import {
        /// The bundle file
        file: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Neighbours: connected, last heard, backlog, frames, refusals
    Status(JsonFlag),
    /// Dial disconnected neighbours now and offer pending changes
    Now {
        /// Only this neighbour
        #[arg(long, value_name = "ID")]
        peer: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Record a neighbour in the node's config
    Add {
        /// Its node id
        #[arg(long, value_name = "ID")]
        id: String,
        /// parent or child
        #[arg(long, value_name = "RELATION")]
        relation: String,
        /// Where to dial it, https://HOST:PORT (children usually dial their parents)
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List the neighbours in the node's config
    List(JsonFlag),
    /// Let a certificate use the archive API (get, list, writes) on the mTLS port: a remote
    /// admin tool. It may not sync.
    Admin {
        /// The node id in its certificate (`hearth certs issue --node-id ID`)
        #[arg(long, value_name = "ID")]
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Stable node id, e.g. kaiyuan-power.ops.team-3 (lowercase letters, digits, '-' and '.')
    #[arg(long, value_name = "ID")]
    pub node_id: String,
    /// Federation level: team, branch, enterprise, municipal, provincial or national
    #[arg(long, value_name = "LEVEL")]
    pub level: String,
    /// Address to listen on for peers, e.g. 0.0.0.0:7400
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Address for the Prometheus endpoint (plain HTTP: /metrics and /healthz), e.g.
    /// 127.0.0.1:9464; keep it off public networks
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,
    /// Join an existing federation: its salt file, copied from any node of it
    #[arg(long, value_name = "FILE")]
    pub federation_salt: Option<PathBuf>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum CaseCommand {
    /// Open a new case (a draft) for a worker in hardship
    #[command(allow_negative_numbers = true)]
    New {
        #[command(flatten)]
        fields: CaseFieldArgs,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Show one case in full
    Show {
        /// Case id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List cases, optionally filtered
    List {
        /// Only cases with this status
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only cases with this grade
        #[arg(long, value_name = "GRADE")]
        grade: Option<String>,
        /// Only cases with this primary or secondary cause (code or number)
        #[arg(long, value_name = "CAUSE")]
        cause: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change fields of a case; the grade is derived again
    #[command(allow_negative_numbers = true)]
    Edit {
        /// Case id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        fields: CaseFieldArgs,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Put a case on file (建档) once it has what a file needs, and report it to the parent
    File {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Which parent to report to, when the node has several
        #[arg(long, value_name = "NODE")]
        via: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Move a case to another status, with a reason
    Transition {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Target status
        #[arg(long, value_name = "STATUS")]
        to: String,
        /// Why
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Override the derived grade by hand (with a reason), or remove the override
    Grade {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Grade to set
        #[arg(
            long,
            value_name = "GRADE",
            required_unless_present = "clear",
            requires = "reason"
        )]
        set: Option<String>,
        /// Why the derived grade is wrong
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Remove the override and go back to the derived grade
        #[arg(long, conflicts_with = "set")]
        clear: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Import cases from a CSV file: all lines or none (layout in README)
    Import {
        /// The CSV file
        file: PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Decide on a case reported here (审批): approve, return it down with the reason, or reject
    Decide {
        /// Case id (a unique prefix is enough)
        id: String,
        /// approve, return or reject
        #[arg(long, value_name = "DECISION")]
        decision: String,
        /// Why (needed to return or reject)
        #[arg(long, value_name = "TEXT", default_value = "")]
        note: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Cases the policy sends higher than anyone has escalated them, with why
    Pending(JsonFlag),
    /// Dynamic management (动态管理): reviews due, cases eligible to be lifted, loans overdue
    Due(JsonFlag),
    /// Record the household's income for a month (for lifting: six months above the line)
    Income {
        /// Case id (a unique prefix is enough)
        id: String,
        /// YYYY-MM
        #[arg(long, value_name = "MONTH")]
        month: String,
        /// The household's income that month, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Open conflicts, newest first
    List {
        /// Resolved ones too
        #[arg(long)]
        all: bool,
        /// Instead: the open conflicts to be resolved here or at any node below (from the
        /// summaries), including those whose cases this node does not hold
        #[arg(long, conflicts_with = "all")]
        below: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// One conflict: every side with its value, node, actor and time
    Show {
        /// Conflict id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Resolve a conflict with a normal change; it closes at every node once that arrives
    #[command(group(clap::ArgGroup::new("how").required(true).args(["pick", "value", "acknowledge", "merge_into"])))]
    Resolve {
        /// Conflict id (a unique prefix is enough)
        id: String,
        /// Keep this side (from 1, as `conflicts show` lists them)
        #[arg(long, value_name = "N")]
        pick: Option<usize>,
        /// Write this value instead (yuan for money, a code for coded fields)
        #[arg(long, value_name = "VALUE")]
        value: Option<String>,
        /// A broken rule that needs no data change: acknowledge it (with --note)
        #[arg(long, requires = "note")]
        acknowledge: bool,
        /// Why no change is needed
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Duplicate archives: the case that keeps every record; the others close as merged
        #[arg(long, value_name = "CASE")]
        merge_into: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum FundCommand {
    /// The ledger for a year: this node's, or a child's (held for audit)
    Show {
        /// A child node [default: this node]
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// YYYY [default: this year]
        #[arg(long, value_name = "YEAR")]
        year: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Record money received: budget (预算拨款), donation (社会捐赠) or grant (上级补助)
    Income {
        /// budget, donation or grant
        #[arg(long, value_name = "SOURCE")]
        source: String,
        /// Amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date received, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Note, e.g. the donor
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set the budget planned for a year
    Budget {
        /// YYYY
        #[arg(long, value_name = "YEAR")]
        year: String,
        /// Amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Pay a grant from this node's fund into a child's
    Grant {
        /// The child node
        #[arg(long, value_name = "NODE")]
        to: String,
        /// Amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date paid, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The policy in force (today, or on --date), and which version it is
    Show {
        /// YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set a new policy version from a TOML file (only at the top node; it flows down)
    Set {
        /// The policy file (layout in README, "Policy")
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
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
    /// Rigid annual spending (medical, education), yuan
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
    /// This year's medical costs of the household, yuan
    #[arg(long, value_name = "YUAN")]
    pub medical_costs: Option<String>,
    /// The largest single hospital stay this year, yuan
    #[arg(long, value_name = "YUAN")]
    pub largest_stay: Option<String>,
    /// Aid the household asks for, yuan (decides which level must approve it)
    #[arg(long, value_name = "YUAN")]
    pub aid_request: Option<String>,
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

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a household member
    #[command(allow_negative_numbers = true)]
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Relation to the worker: spouse, child, parent, …
        #[arg(long, value_name = "TEXT")]
        relation: String,
        /// Age
        #[arg(long, value_name = "YEARS")]
        age: Option<String>,
        /// Health
        #[arg(long, value_name = "TEXT")]
        health: Option<String>,
        /// Work or school status
        #[arg(long, value_name = "TEXT")]
        occupation: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssistCommand {
    /// Record an assistance payment
    #[command(allow_negative_numbers = true)]
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// living, medical, education, holiday, one_off, pairing, job or legal
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Amount paid, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date paid, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Node whose fund paid [default: this node]
        #[arg(long, value_name = "NODE")]
        paying_node: Option<String>,
        /// Node that approved the payment
        #[arg(long, value_name = "NODE")]
        approving_node: Option<String>,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum LoanCommand {
    /// Record a loan
    #[command(allow_negative_numbers = true)]
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Principal, yuan
        #[arg(long, alias = "principal", value_name = "YUAN")]
        amount: String,
        /// Date lent, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Date due, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        due: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Record a repayment
    #[command(allow_negative_numbers = true)]
    Repay {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Loan id (a prefix is enough) [default: the case's only open loan]
        #[arg(long, value_name = "LOAN")]
        loan: Option<String>,
        /// Amount repaid, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date repaid, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum VisitCommand {
    /// Record a visit
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Date of the visit, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// home, follow_up or holiday
        #[arg(long, value_name = "KIND", default_value = "home")]
        kind: String,
        /// Who visited
        #[arg(long, value_name = "NAME")]
        visitor: Option<String>,
        /// What was found
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
        /// The household consented to the visit and to its findings being filed (入户核实同意)
        #[arg(long)]
        consent: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Record an annual review
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Date of the review, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// confirmed, improved, lift_recommended or close_recommended
        #[arg(long, value_name = "RESULT")]
        result: String,
        /// Who reviewed
        #[arg(long, value_name = "NAME")]
        reviewer: Option<String>,
        /// Notes
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}
