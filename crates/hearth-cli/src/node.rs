//! One node's data dir: its config file, federation salt and store, and `hearth init`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hearth_archive::automerge::ActorId;
use hearth_archive::{Case, Editor, FederationSalt, Level, actor_id};
pub use hearth_node::NodeConfig;
use hearth_node::config::Peer;
use hearth_store::{Store, StoreError};

use crate::BadInput;

/// Name of the node's config file inside the data dir.
pub const CONFIG_FILE: &str = "hearth.toml";
/// Name of the federation salt file inside the data dir (owner-only).
pub const SALT_FILE: &str = "federation.salt";
/// Name of the store file inside the data dir.
pub const STORE_FILE: &str = "hearth.redb";

/// An open node: config, salt, store, and who is at the keyboard.
#[derive(Debug)]
pub struct Node {
    pub config: NodeConfig,
    pub salt: FederationSalt,
    pub store: Store,
    pub operator: String,
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

impl Node {
    /// Opens an initialised data dir.
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
        let salt_path = dir.join(SALT_FILE);
        let salt_text = fs::read_to_string(&salt_path)
            .with_context(|| format!("cannot read the federation salt {}", salt_path.display()))?;
        let salt = FederationSalt::from_hex(&salt_text)
            .with_context(|| format!("federation salt {} is damaged", salt_path.display()))?;
        let store = open_store(&dir.join(STORE_FILE))?;
        Ok(Node {
            config,
            salt,
            store,
            operator,
        })
    }

    /// The Automerge actor this data dir writes as.
    pub fn actor(&self) -> ActorId {
        actor_id(&self.config.node_id, self.store.incarnation())
    }

    /// Who, where and when, for a change made now.
    pub fn editor(&self) -> Editor {
        let now = jiff::Zoned::now();
        Editor {
            node: self.config.node_id.clone(),
            by: self.operator.clone(),
            at: now.timestamp(),
            today: now.date(),
        }
    }

    /// Loads the case whose id starts with `prefix`.
    pub fn load(&self, prefix: &str) -> Result<Case> {
        let id = self.store.resolve_case_id(prefix)?;
        Ok(self.store.load_case(&id, self.actor())?)
    }

    /// Stores a changed case durably, in one transaction.
    pub fn save(&self, case: &mut Case) -> Result<()> {
        let mut batch = self.store.begin()?;
        batch.put_case(case)?;
        batch.commit()?;
        Ok(())
    }
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

/// Opens the store, waiting (with growing pauses) while another process holds it, so that
/// commands run side by side take turns instead of failing.
pub fn open_store(path: &Path) -> Result<Store> {
    let deadline = Instant::now() + lock_wait();
    let mut pause = Duration::from_millis(10);
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

/// Checks a node id: dot-separated labels of lowercase letters, digits and inner dashes, as a DNS
/// name in a certificate would be.
pub fn check_node_id(id: &str) -> Result<(), BadInput> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if id.len() > 253 || !id.split('.').all(label_ok) {
        return Err(BadInput::new(format!(
            "node id {id:?} is not valid: use lowercase letters, digits, '-' and '.', e.g. kaiyuan-power.ops.team-3"
        )));
    }
    Ok(())
}

/// `hearth init`: validates everything first, then writes salt, store and config (the config
/// last, so a data dir with a config is always complete). On failure, removes what it wrote.
pub fn init(
    dir: &Path,
    node_id: &str,
    level: &str,
    listen: Option<String>,
    salt_file: Option<&Path>,
) -> Result<(NodeConfig, bool)> {
    check_node_id(node_id)?;
    let level: Level = level.parse()?;
    if let Some(addr) = &listen {
        let port = addr.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
        if !matches!(port, Some(Ok(p)) if p > 0) {
            return Err(BadInput::new(format!(
                "listen address {addr:?} is not HOST:PORT, e.g. 0.0.0.0:7400"
            ))
            .into());
        }
    }
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
    let config = NodeConfig {
        node_id: node_id.to_owned(),
        level,
        listen,
        peers: Vec::new(),
    };
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
    Store::create(&dir.join(STORE_FILE), &rand::random::<[u8; 8]>())?;
    restrict(&dir.join(STORE_FILE), 0o600)?;
    save_config(dir, config)
}

/// Reads `<dir>/hearth.toml`.
pub fn load_config(dir: &Path) -> Result<NodeConfig> {
    NodeConfig::load(&dir.join(CONFIG_FILE)).map_err(|e| BadInput::new(e.to_string()).into())
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

/// `hearth peer add`: records a neighbour in the config.
pub fn add_peer(dir: &Path, peer: Peer) -> Result<NodeConfig> {
    let mut config = load_config(dir)?;
    check_node_id(&peer.id)?;
    if peer.id == config.node_id {
        return Err(BadInput::new("a node cannot be its own neighbour").into());
    }
    if config.peer(&peer.id).is_some() {
        return Err(BadInput::new(format!(
            "{} is already a neighbour of {}; edit {} to change it",
            peer.id,
            config.node_id,
            dir.join(CONFIG_FILE).display()
        ))
        .into());
    }
    if let Some(endpoint) = &peer.endpoint
        && hearth_node::net::endpoint_addr(endpoint).is_none()
    {
        return Err(BadInput::new(format!(
            "endpoint {endpoint:?} is not https://HOST:PORT, e.g. https://10.0.0.5:7400"
        ))
        .into());
    }
    config.peers.push(peer);
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
