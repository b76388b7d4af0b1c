//! `hearth backup` and `hearth restore`: a consistent copy of the store, and putting one back so
//! that the federation makes up what it lacks.

use std::path::{Path, PathBuf};

use anyhow::Result;
use hearth_proto::v1::BackupRequest;
use hearth_proto::v1::local_client::LocalClient;
use hearth_store::Store;

use crate::BadInput;
use crate::commands::done;
use crate::node::{
    STORE_FILE, client_runtime, connect_socket, from_status, load_config, running_or_store,
};

/// Writes a copy of the store of `dir` to the new file `out`, through the running node if there
/// is one.
pub fn backup(dir: &Path, out: &Path, json: bool) -> Result<()> {
    let config = load_config(dir)?;
    if out.exists() {
        return Err(BadInput::new(format!(
            "{} already exists; choose another file name or remove it first",
            out.display()
        ))
        .into());
    }
    let out = std::path::absolute(out)?;
    let runtime = client_runtime()?;
    let (bytes, documents) = match running_or_store(dir, &runtime)? {
        Ok(channel) => {
            let reply = runtime
                .block_on(LocalClient::new(channel).backup(BackupRequest {
                    out: out.display().to_string(),
                }))
                .map_err(from_status)?
                .into_inner();
            (reply.bytes, reply.documents)
        }
        Err(mut store) => {
            let bytes = store.backup_to(&out)?;
            (bytes, store.stats()?.documents)
        }
    };
    done(
        json,
        serde_json::json!({
            "file": out, "node_id": config.node_id, "bytes": bytes, "documents": documents,
        }),
        format!(
            "wrote {}: the store of {} ({documents} documents, {bytes} bytes); keep it with the node's hearth.toml, federation.salt and tls/",
            out.display(),
            config.node_id
        ),
    )
}

/// Puts the backup `from` in place of the store of `dir`. The node must be stopped. The store
/// it replaces is kept as `hearth.redb.replaced-<time>`; the restored one gets a new incarnation.
pub fn restore(dir: &Path, from: &Path, json: bool) -> Result<()> {
    let config = load_config(dir)?;
    let runtime = client_runtime()?;
    if runtime.block_on(connect_socket(dir)).is_some() {
        return Err(BadInput::new(format!(
            "node {} is running on {}; stop it first (e.g. `systemctl stop hearth`), then restore",
            config.node_id,
            dir.display()
        ))
        .into());
    }
    let store_path = dir.join(STORE_FILE);
    if store_path.exists() {
        // Fails while another process holds it, before anything is written.
        drop(crate::node::open_store(&store_path)?);
    }
    let backup = Store::open(from).map_err(|e| {
        BadInput::new(format!(
            "{} is not a backup this hearth can restore ({e}); give a file written by `hearth backup`",
            from.display()
        ))
    })?;
    let stats = backup.stats()?;
    drop(backup);

    let mut staged = tempfile::Builder::new()
        .prefix("hearth.redb.restoring")
        .tempfile_in(dir)?;
    std::io::copy(&mut std::fs::File::open(from)?, staged.as_file_mut())?;
    staged.as_file().sync_all()?;
    let mut store = Store::open(staged.path())?;
    store.reincarnate(&rand::random::<[u8; 8]>())?;
    drop(store);
    let kept = if store_path.exists() {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
        let kept: PathBuf = dir.join(format!("{STORE_FILE}.replaced-{stamp}"));
        std::fs::rename(&store_path, &kept)?;
        Some(kept)
    } else {
        None
    };
    staged
        .persist(&store_path)
        .map_err(|e| anyhow::anyhow!("cannot put the backup in place: {}", e.error))?;
    done(
        json,
        serde_json::json!({
            "node_id": config.node_id, "documents": stats.documents, "feed": stats.last_seq,
            "replaced_store_kept_as": kept,
        }),
        format!(
            "restored {} into {} ({} documents){}\nthe node has a new feed epoch: when it runs, its neighbours reconcile with it and send back what the backup lacks",
            from.display(),
            dir.display(),
            stats.documents,
            kept.map(|k| format!("; the store it replaced is kept as {}", k.display()))
                .unwrap_or_default()
        ),
    )
}
