//! `hearth backup` and `hearth restore`: a consistent copy of the store, and putting one back so
//! that the federation makes up what it lacks.

use std::path::{Path, PathBuf};

use anyhow::Result;
use hearth_proto::v1::BackupRequest;
use hearth_proto::v1::local_client::LocalClient;
use hearth_store::{Store, StoreError};

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
    refuse_if_running(dir, &config.node_id, "restore")?;
    let store_path = dir.join(STORE_FILE);
    if store_path.exists() {
        // Fails while another process holds it, before anything is written; a store that no
        // longer opens (damaged) is what a restore is for, and is moved aside below.
        match crate::node::open_store(&store_path) {
            Err(e)
                if e.downcast_ref::<StoreError>()
                    .is_some_and(|e| matches!(e, StoreError::Locked(_))) =>
            {
                return Err(e);
            }
            _ => {}
        }
    }
    let not_a_backup = |e: &dyn std::fmt::Display| {
        BadInput::new(format!(
            "{} is not a backup this hearth can restore ({e}); give a file written by `hearth backup`; nothing was changed",
            from.display()
        ))
    };
    let backup = Store::open(from).map_err(|e| not_a_backup(&e))?;
    // Every document of the backup is read and checked before anything is replaced.
    let report = backup.check().map_err(|e| not_a_backup(&e))?;
    if let Some((id, why)) = report.damaged.first() {
        return Err(BadInput::new(format!(
            "the backup {} is damaged: {id}: {why} ({} damaged in all); nothing was changed — restore an older backup, or `hearth check --repair` the store you have",
            from.display(),
            report.damaged.len()
        ))
        .into());
    }
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

/// Refuses what needs the store to itself (`then`: what to do once the node is stopped) while
/// node `node` runs on `dir`.
fn refuse_if_running(dir: &Path, node: &str, then: &str) -> Result<()> {
    if client_runtime()?.block_on(connect_socket(dir)).is_some() {
        return Err(BadInput::new(format!(
            "node {node} is running on {}; stop it first (e.g. `systemctl stop hearth`), then {then}",
            dir.display()
        ))
        .into());
    }
    Ok(())
}

/// Checks every document and index entry of the store of `dir` (the node must be stopped);
/// with `repair`, takes the damaged documents out, keeping their bytes in `damaged/`, so that
/// the neighbours that hold them send them again. Fails (exit 1) if anything is damaged and
/// was not repaired.
pub fn check(dir: &Path, repair: bool, json: bool) -> Result<()> {
    let config = load_config(dir)?;
    refuse_if_running(dir, &config.node_id, "check")?;
    let mut store = crate::node::open_store(&dir.join(STORE_FILE))?;
    let report = store.check()?;
    let damaged: Vec<serde_json::Value> = report
        .damaged
        .iter()
        .map(|(id, why)| serde_json::json!({ "id": id, "damage": why }))
        .collect();
    let mut kept_in = None;
    if repair && !report.damaged.is_empty() {
        let ids: Vec<String> = report.damaged.iter().map(|(id, _)| id.clone()).collect();
        let aside = dir.join("damaged");
        std::fs::create_dir_all(&aside)?;
        // The bytes are written aside before anything is removed.
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
        for id in &ids {
            // Unreadable bytes are no reason not to repair: they are kept if they can be read.
            let data = store.stored_bytes(id).unwrap_or_default();
            // A damaged id may hold any character: only safe ones go into a file name.
            let name: String = id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            std::fs::write(aside.join(format!("{name}-{stamp}.bin")), data)?;
        }
        store.remove_damaged(&ids).map_err(|e| {
            anyhow::anyhow!(
                "cannot take the damaged documents out ({e}); nothing was removed — put a backup in place with `hearth restore --from FILE`"
            )
        })?;
        kept_in = Some(aside);
    }
    let summary = format!(
        "checked 已检查 {} documents and {} index entries of node {}",
        report.documents, report.index_entries, config.node_id
    );
    // The listing orders and totals are derived from the listing index: rebuilt, nothing is
    // lost (taking damaged documents out rebuilds them too).
    if let Some(why) = report
        .derived
        .as_ref()
        .filter(|_| report.damaged.is_empty())
    {
        if !repair {
            return Err(anyhow::anyhow!(
                "{summary}: the listing orders and totals 派生索引 of node {} differ from the listing index ({why}); `hearth check --repair` rebuilds them",
                config.node_id
            ));
        }
        store.rebuild_indexes().map_err(|e| {
            anyhow::anyhow!(
                "cannot rebuild the listing orders and totals ({e}); nothing was changed"
            )
        })?;
        return done(
            json,
            serde_json::json!({
                "node_id": config.node_id, "documents": report.documents,
                "index_entries": report.index_entries, "damaged": damaged,
                "repaired": true, "indexes_rebuilt": why,
            }),
            format!(
                "{summary}: the listing orders and totals differ from the listing index ({why}); rebuilt them 已重建派生索引"
            ),
        );
    }
    let lines: Vec<String> = report
        .damaged
        .iter()
        .map(|(id, why)| format!("  damaged 损坏 {id}: {why}"))
        .collect();
    if report.damaged.is_empty() {
        return done(
            json,
            serde_json::json!({
                "node_id": config.node_id, "documents": report.documents,
                "index_entries": report.index_entries, "damaged": damaged,
            }),
            format!("{summary}: nothing is damaged 无损坏"),
        );
    }
    if let Some(aside) = kept_in {
        return done(
            json,
            serde_json::json!({
                "node_id": config.node_id, "documents": report.documents,
                "index_entries": report.index_entries, "damaged": damaged,
                "repaired": true, "kept_aside_in": aside,
            }),
            format!(
                "{summary}\n{}\ntook {} damaged documents out (their bytes are kept in {}); start the node: its neighbours send them again whole",
                lines.join("\n"),
                report.damaged.len(),
                aside.display()
            ),
        );
    }
    done(
        json,
        serde_json::json!({
            "node_id": config.node_id, "documents": report.documents,
            "index_entries": report.index_entries, "damaged": damaged, "repaired": false,
        }),
        format!("{summary}\n{}", lines.join("\n")),
    )?;
    // Damage is no bad input: exit 1.
    Err(anyhow::anyhow!(
        "{} documents of node {} are damaged; `hearth check --repair` takes them out so that the neighbours send them again, or restore a backup",
        report.damaged.len(),
        config.node_id
    ))
}
