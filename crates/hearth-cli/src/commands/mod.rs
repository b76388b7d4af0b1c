//! The command line: its arguments (clap, per DESIGN §10) and what each command does. Each
//! command group — its clap definition and its handler — is one file here; the commands with no
//! group are below. Every command about cases turns its flags into a [`hearth_ops::Request`],
//! which parses and checks all of it before anything is written — in this process, or in the
//! node running on the data dir.

mod assist;
mod case;
mod conflicts;
mod fund;
mod loan;
mod member;
mod review;
mod user;
mod visit;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use hearth_node::config::{Peer, Relation};
use hearth_ops::{Write, Written};
use serde_json::json;

use crate::BadInput;
use crate::bundle::BundleCommand;
use crate::certs::CertsCommand;
use crate::node::{self, Node};
use crate::output::{policy_details, print_json, stats_table};
use crate::serve::SyncCommand;
use assist::AssistCommand;
use case::CaseCommand;
use conflicts::ConflictsCommand;
use fund::FundCommand;
use loan::LoanCommand;
use member::MemberCommand;
use review::ReviewCommand;
use user::UserCommand;
pub(crate) use user::status as account_status;
use visit::VisitCommand;

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
    /// The people of this node (the console's accounts): add, list, disable, enable, reset
    #[command(subcommand)]
    User(UserCommand),
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
        /// The year of the yearly figures (start, new, lifted, closed, end) [default: this year]
        #[arg(long, value_name = "YEAR")]
        year: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Who opened which case file, newest first (查阅记录; the account and the case id only)
    AccessLog {
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
        /// Exit once the federation has shown its work, instead of keeping it running with the
        /// branch's web console until Ctrl-C
        #[arg(long)]
        exit: bool,
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
    /// Address of the web console, on loopback (plain HTTP), e.g. 127.0.0.1:8080
    #[arg(long, value_name = "HOST:PORT")]
    pub console: Option<String>,
    /// Join an existing federation: its salt file, copied from any node of it
    #[arg(long, value_name = "FILE")]
    pub federation_salt: Option<PathBuf>,
    #[command(flatten)]
    pub out: JsonFlag,
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

/// Prints the result of a write: a line for people, or JSON.
pub(crate) fn done(json: bool, value: serde_json::Value, line: String) -> Result<()> {
    if json {
        print_json(&value)
    } else {
        crate::out!("{line}")?;
        Ok(())
    }
}

/// Runs one command line.
pub fn run(cli: Cli) -> Result<()> {
    let operator = node::operator(cli.by);
    // The demo needs no data dir, so it is resolved only for the commands that use one.
    let data_dir = cli.data_dir;
    let dir = move || node::data_dir(data_dir);
    match cli.command {
        Command::Init(a) => {
            let dir = dir()?;
            let (config, joined) = node::init(
                &dir,
                &a.node_id,
                &a.level,
                a.listen,
                (a.metrics, a.console),
                a.federation_salt.as_deref(),
            )?;
            let salt_path = dir.join(node::SALT_FILE);
            if a.out.json {
                return print_json(&json!({
                    "node_id": config.node_id,
                    "level": config.level,
                    "data_dir": dir,
                    "salt_file": salt_path,
                    "joined_federation": joined,
                }));
            }
            crate::out!(
                "initialised node {} ({}) in {}",
                config.node_id,
                config.level.label(),
                dir.display()
            )?;
            if !joined {
                crate::out!(
                    "new federation salt in {}: copy it to every other node of the federation and pass it to their `hearth init --federation-salt FILE`",
                    salt_path.display()
                )?;
            }
            Ok(())
        }
        Command::Compact(out) => {
            let (folded, chunks) = Node::open(&dir()?, operator)?.compact()?;
            done(
                out.json,
                json!({ "folded_documents": folded, "chunks_removed": chunks }),
                format!("compacted: {folded} documents folded, {chunks} change chunks removed"),
            )
        }
        Command::Escalate {
            id,
            to_level,
            reason,
            via,
            out,
        } => {
            let w = Node::open(&dir()?, operator)?.write(Write::Escalate {
                case: id,
                to_level,
                reason,
                via,
            })?;
            let v = &w.case;
            let target = v.escalation.target_level;
            let reported = match &w.reported_to {
                Some(p) => format!("reported to {p}"),
                None => "its parent already holds it".to_owned(),
            };
            done(
                out.json,
                json!({ "id": v.id, "target_level": target, "reported_to": w.reported_to }),
                format!(
                    "case {} goes up to {}; {reported}",
                    v.id,
                    target.map(|l| l.label()).unwrap_or_default()
                ),
            )
        }
        Command::Certs(c) => crate::certs::run(c),
        Command::Peer(PeerCommand::Add {
            id,
            relation,
            endpoint,
            out,
        }) => {
            let dir = dir()?;
            let relation: Relation = relation.parse().map_err(BadInput::new)?;
            let config = node::add_peer(
                &dir,
                Peer {
                    id: id.clone(),
                    relation,
                    endpoint,
                },
            )?;
            if dir.join(hearth_node::local_api::SOCKET_FILE).exists() {
                eprintln!(
                    "note: a node is running on {}; restart it (`hearth serve`) to connect to {id}",
                    dir.display()
                );
            }
            done(
                out.json,
                json!({ "node_id": config.node_id, "peers": config.neighbour_ids() }),
                format!("{id} is now a {} of {}", relation.as_str(), config.node_id),
            )
        }
        Command::Peer(PeerCommand::Admin { id, out }) => {
            let dir = dir()?;
            let config = node::add_admin(&dir, &id)?;
            if dir.join(hearth_node::local_api::SOCKET_FILE).exists() {
                eprintln!(
                    "note: a node is running on {}; restart it (`hearth serve`) to let {id} in",
                    dir.display()
                );
            }
            done(
                out.json,
                json!({ "node_id": config.node_id, "admins": config.admins }),
                format!(
                    "{id} may now use the archive API of {} on its mTLS port",
                    config.node_id
                ),
            )
        }
        Command::Peer(PeerCommand::List(out)) => {
            let config = node::load_config(&dir()?)?;
            if out.json {
                return print_json(&config.peers);
            }
            for p in &config.peers {
                crate::out!(
                    "{}\t{:?}\t{}",
                    p.id,
                    p.relation,
                    p.endpoint.as_deref().unwrap_or("(dials in)")
                )?;
            }
            for admin in &config.admins {
                crate::out!("{admin}\tAdmin\t(archive API only)")?;
            }
            Ok(())
        }
        Command::Policy(PolicyCommand::Show { date, out }) => {
            let (policy, versions) = Node::open(&dir()?, operator)?.policy(date)?;
            if out.json {
                print_json(&json!({ "in_force": policy, "versions": versions }))
            } else {
                crate::out!("{}", policy_details(&policy, versions.len()))?;
                Ok(())
            }
        }
        Command::Policy(PolicyCommand::Set { file, out }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| BadInput::new(format!("cannot read {}: {e}", file.display())))?;
            let policy = Node::open(&dir()?, operator)?.set_policy(text)?;
            done(
                out.json,
                json!({ "version": policy.version, "effective_from": policy.effective_from }),
                format!(
                    "{}; it flows down to every node of the federation",
                    policy.label()
                ),
            )
        }
        Command::Fund(c) => fund::fund(&mut Node::open(&dir()?, operator)?, c),
        Command::Conflicts(c) => conflicts::conflicts(&mut Node::open(&dir()?, operator)?, c),
        Command::Disclose { year, out, json } => {
            let d = Node::open(&dir()?, operator)?.disclose(year)?;
            let files = crate::disclose::write(&d, &out)?;
            if json.json {
                return print_json(&json!({ "files": files, "payments": d.payments.len() }));
            }
            for path in files {
                crate::out!("wrote {}", path.display())?;
            }
            Ok(())
        }
        Command::AccessLog { out } => {
            let log = Node::open(&dir()?, operator)?.access_log()?;
            if out.json {
                print_json(&log)
            } else {
                crate::out!("{}", crate::output::access_table(&log))?;
                Ok(())
            }
        }
        Command::Stats {
            by_child,
            year,
            out,
        } => {
            let summary = Node::open(&dir()?, operator)?.stats(year)?;
            if out.json {
                print_json(&summary)
            } else {
                crate::out!("{}", stats_table(&summary, by_child))?;
                Ok(())
            }
        }
        Command::Serve => crate::serve::run(&dir()?, cli.log_format),
        Command::Sync(c) => crate::serve::sync(&dir()?, c),
        Command::Bundle(c) => crate::bundle::run(&dir()?, c),
        Command::Backup { out, json } => crate::backup::backup(&dir()?, &out, json.json),
        Command::Restore { from, json } => crate::backup::restore(&dir()?, &from, json.json),
        Command::Check { repair, json } => crate::backup::check(&dir()?, repair, json.json),
        Command::Config(ConfigCommand::Check { files, json }) => {
            let mut checked = Vec::new();
            for file in &files {
                let c = node::check_config_file(file)?;
                checked.push((file.display().to_string(), c));
            }
            let lines: Vec<String> = checked
                .iter()
                .map(|(file, c)| {
                    format!(
                        "{file}: ok — node {} ({}), {}, {} neighbour(s), metrics {}",
                        c.node_id,
                        c.level.code(),
                        c.listen
                            .as_ref()
                            .map_or("does not listen".to_owned(), |l| format!("listens on {l}")),
                        c.peers.len(),
                        c.metrics.as_deref().unwrap_or("off"),
                    )
                })
                .collect();
            let value: Vec<serde_json::Value> = checked
                .iter()
                .map(|(file, c)| json!({ "file": file, "node_id": c.node_id, "ok": true }))
                .collect();
            done(json.json, json!(value), lines.join("\n"))
        }
        Command::Case(c) => case::case(&mut Node::open(&dir()?, operator)?, c),
        Command::Member(c) => member::member(&mut Node::open(&dir()?, operator)?, c),
        Command::Assist(c) => assist::assist(&mut Node::open(&dir()?, operator)?, c),
        Command::Loan(c) => loan::loan(&mut Node::open(&dir()?, operator)?, c),
        Command::Visit(c) => visit::visit(&mut Node::open(&dir()?, operator)?, c),
        Command::Review(c) => review::review(&mut Node::open(&dir()?, operator)?, c),
        Command::User(c) => user::user(&mut Node::open(&dir()?, operator)?, c),
        Command::Demo { walkthrough, exit } => {
            if walkthrough {
                crate::demo::walkthrough(operator)
            } else {
                crate::federation_demo::run(exit)
            }
        }
    }
}

/// The id of the record a write added.
fn record(w: &Written) -> &str {
    w.record.as_deref().unwrap_or_default()
}
