//! `hearth bundle export|import`: offline bundles, through the running node when there is one,
//! else on the store directly.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use hearth_node::bundle::{self, BundleFileError, MAX_FILE};
use hearth_proto::v1::local_client::LocalClient;
use hearth_proto::v1::{ExportBundleRequest, ImportBundleReply, ImportBundleRequest};

use crate::BadInput;
use std::path::PathBuf;

use clap::Subcommand;

use crate::commands::JsonFlag;
use crate::commands::done;
use crate::node::{
    NodeConfig, client_runtime, from_status, load_config, load_identity, running_or_store,
};

/// Runs a `hearth bundle` command on the node of `dir`.
pub fn run(dir: &Path, command: BundleCommand) -> Result<()> {
    let config = load_config(dir)?;
    match command {
        BundleCommand::Export {
            for_node,
            out,
            full,
            json,
        } => {
            if out.exists() {
                return Err(BadInput::new(format!(
                    "{} already exists; choose another file name or remove it first",
                    out.display()
                ))
                .into());
            }
            let (file, documents, since, upto) = export(dir, &config, &for_node, full)?;
            write_new(&out, &file)?;
            let span = if since == 0 {
                format!("everything shared, up to feed {upto}")
            } else {
                format!("feed {since}..{upto}")
            };
            done(
                json.json,
                serde_json::json!({
                    "file": out.display().to_string(), "for": for_node, "from": config.node_id,
                    "documents": documents, "since": since, "upto": upto, "bytes": file.len(),
                }),
                format!(
                    "wrote {}: {documents} document(s) for {for_node} ({span}), {} bytes, signed by {}\ncarry it to {for_node} and run `hearth bundle import {}` there",
                    out.display(),
                    file.len(),
                    config.node_id,
                    out.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
            )
        }
        BundleCommand::Import { file, json } => {
            let bytes = read_bundle(&file)?;
            let r = import(dir, &config, bytes)?;
            let value = serde_json::json!({
                "from": r.from, "created_unix": r.created_unix, "added": r.added,
                "changed": r.changed, "unchanged": r.unchanged, "checkpoint": r.checkpoint,
                "conflicts_before": r.conflicts_before, "conflicts_after": r.conflicts_after,
            });
            done(json.json, value, import_lines(&r))
        }
    }
}

/// What an import prints.
fn import_lines(r: &ImportBundleReply) -> String {
    let made = crate::output::when(r.created_unix);
    let mut lines = vec![format!(
        "bundle from {} made {made}: {} new 新增, {} updated 更新, {} already here 无变化",
        r.from,
        r.added.len(),
        r.changed.len(),
        r.unchanged
    )];
    let list = |ids: &[String]| {
        let mut shown = ids.iter().take(20).cloned().collect::<Vec<_>>().join(", ");
        if ids.len() > 20 {
            shown.push_str(&format!(" and {} more", ids.len() - 20));
        }
        shown
    };
    if !r.added.is_empty() {
        lines.push(format!("  new: {}", list(&r.added)));
    }
    if !r.changed.is_empty() {
        lines.push(format!("  updated: {}", list(&r.changed)));
    }
    if r.added.is_empty() && r.changed.is_empty() {
        lines.push("  nothing changed: this node already had everything in it".into());
    }
    if r.conflicts_after != r.conflicts_before {
        lines.push(format!(
            "  open conflicts 待处理冲突: {} → {} (see `hearth conflicts list`)",
            r.conflicts_before, r.conflicts_after
        ));
    }
    if r.checkpoint {
        lines.push(format!(
            "  the next network sync with {} starts after this bundle",
            r.from
        ));
    }
    lines.join("\n")
}

fn file_error(e: BundleFileError) -> anyhow::Error {
    match e {
        BundleFileError::Replica(e) => anyhow::anyhow!("cannot read or write the store: {e}"),
        e => BadInput::new(e.to_string()).into(),
    }
}

/// The bundle's bytes, its documents and feed span.
fn export(
    dir: &Path,
    config: &NodeConfig,
    for_node: &str,
    full: bool,
) -> Result<(Vec<u8>, u64, u64, u64)> {
    let runtime = client_runtime()?;
    let store = match running_or_store(dir, &runtime)? {
        Err(store) => store,
        Ok(channel) => {
            let reply = runtime
                .block_on(
                    LocalClient::new(channel)
                        .max_decoding_message_size(MAX_FILE)
                        .export_bundle(ExportBundleRequest {
                            for_node: for_node.to_owned(),
                            full,
                        }),
                )
                .map_err(from_status)?
                .into_inner();
            return Ok((reply.file, reply.documents, reply.since, reply.upto));
        }
    };
    let identity = load_identity(dir)?;
    let mut replica = hearth_node::replica_for(config, &identity, store)?;
    let e = bundle::export(&mut replica, &identity, config, for_node, full).map_err(file_error)?;
    Ok((e.file, e.documents as u64, e.since, e.upto))
}

fn import(dir: &Path, config: &NodeConfig, file: Vec<u8>) -> Result<ImportBundleReply> {
    let runtime = client_runtime()?;
    let store = match running_or_store(dir, &runtime)? {
        Err(store) => store,
        Ok(channel) => {
            return Ok(runtime
                .block_on(
                    LocalClient::new(channel)
                        .max_encoding_message_size(MAX_FILE)
                        .import_bundle(ImportBundleRequest { file }),
                )
                .map_err(from_status)?
                .into_inner());
        }
    };
    let identity = load_identity(dir)?;
    let mut replica = hearth_node::replica_for(config, &identity, store)?;
    let report = bundle::import(&mut replica, &identity, config, &file).map_err(file_error)?;
    Ok(report.into())
}

fn read_bundle(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| BadInput::new(format!("cannot read the bundle {}: {e}", path.display())))?;
    if meta.len() > MAX_FILE as u64 {
        return Err(BadInput::new(format!(
            "{} has {} bytes, more than the {MAX_FILE} a bundle may have; export it again in parts or sync over the network",
            path.display(),
            meta.len()
        ))
        .into());
    }
    std::fs::read(path).map_err(|e| {
        BadInput::new(format!("cannot read the bundle {}: {e}", path.display())).into()
    })
}

/// Writes a new file durably: a temporary file beside it, synced, then renamed into place.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(folder).map_err(|e| {
        BadInput::new(format!(
            "cannot write in {}: {e}; choose a folder you can write to",
            folder.display()
        ))
    })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist_noclobber(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
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
