//! The node's config file, `<data-dir>/hearth.toml`: who the node is and who its neighbours are.

use std::path::Path;

use hearth_archive::Level;
use serde::{Deserialize, Serialize};

/// Name of the config file inside the data dir.
pub const CONFIG_FILE: &str = "hearth.toml";

/// How a neighbour relates to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// The neighbour is a level above: this node reports cases to it.
    Parent,
    /// The neighbour is a level below.
    Child,
}

impl Relation {
    /// `parent` or `child`, as in the config file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Parent => "parent",
            Relation::Child => "child",
        }
    }
}

impl std::str::FromStr for Relation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "parent" => Ok(Relation::Parent),
            "child" => Ok(Relation::Child),
            other => Err(format!("relation {other:?} is not parent or child")),
        }
    }
}

/// A neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its node id (the name in its certificate).
    pub id: String,
    /// Parent or child.
    pub relation: Relation,
    /// Where to dial it, `https://HOST:PORT`; without one this node waits for it to dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `[trust]` of the config file: the upgrade window for a federation moving from a Hearth
/// without signatures (DESIGN §4a). Leave it out otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trust {
    /// Until this day (inclusive) this node takes from its neighbours changes without a
    /// signature, cases whose id is not bound to their home and places no certificate attests
    /// — all still checked against every other rule; a wrong signature is refused always.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_unsigned_until: Option<hearth_archive::jiff::civil::Date>,
}

impl Trust {
    fn is_default(&self) -> bool {
        *self == Trust::default()
    }

    /// Whether the window is open on `today`.
    pub fn open_on(&self, today: hearth_archive::jiff::civil::Date) -> bool {
        self.accept_unsigned_until
            .is_some_and(|until| today <= until)
    }
}

/// The web console's HTTPS certificate and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleTls {
    /// The certificate chain, PEM.
    pub cert: String,
    /// Its private key, PEM.
    pub key: String,
}

/// The config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Stable node id; the federation CA puts it in the node's certificate.
    pub node_id: String,
    /// Level in the federation.
    pub level: Level,
    /// Address to listen on for peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Address of the plain-HTTP Prometheus endpoint (`/metrics`, and `/healthz` for probes);
    /// none if absent. Keep it on loopback or a management network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// Address of the web console; none if absent. Plain HTTP on loopback (`127.0.0.1:PORT`);
    /// with `console_tls`, HTTPS on any address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<String>,
    /// `console_tls = { cert = "/etc/hearth/console.pem", key = "/etc/hearth/console.key" }`:
    /// the console's HTTPS certificate chain and key (PEM files, absolute paths), e.g. from the
    /// office's own certificate authority for the name people type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_tls: Option<ConsoleTls>,
    /// Neighbours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<Peer>,
    /// Certificates (by the node id in them) allowed to use the `Archive` API on the mTLS port:
    /// remote admin tools. They may not sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
    /// Bounds on what peers may hold of this node; the defaults suit every node.
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    /// `[trust]`: the upgrade window of DESIGN §4a.
    #[serde(default, skip_serializing_if = "Trust::is_default")]
    pub trust: Trust,
}

/// What one peer, or all of them together, may hold of a node (DESIGN §4a, isolation): each
/// bound has a default that suits every node, so the config names only what it changes
/// (`[limits]` in `hearth.toml`). A peer past a bound is refused or its session ended, counted
/// in `hearth_peers_refused_total` by reason; honest neighbours go on meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connections open at once, all peers and admin tools together (TLS handshakes under way
    /// count too).
    pub connections: usize,
    /// Connections open at once with one certificate.
    pub connections_per_peer: usize,
    /// Seconds a TLS handshake may take.
    pub handshake_secs: u64,
    /// Seconds from the TLS handshake to the first HTTP/2 bytes.
    pub preface_secs: u64,
    /// Seconds a connection may send nothing at all (not even the answer to a keep-alive
    /// ping, sent every 20 s) before it is closed.
    pub idle_secs: u64,
    /// Documents new to this node one session may have under way at once.
    pub session_new_documents: usize,
    /// MiB of documents new to this node, not yet complete, one session may hold.
    pub session_new_mib: usize,
    /// Entries of one peer's reconciliation digest queued at once (the rest waits for the next
    /// session).
    pub session_digest_entries: usize,
    /// MiB of one connection's frames waiting for the core at once.
    pub session_in_flight_mib: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 256,
            connections_per_peer: 4,
            handshake_secs: 10,
            preface_secs: 10,
            idle_secs: 120,
            session_new_documents: 2048,
            session_new_mib: 24,
            session_digest_entries: 100_000,
            session_in_flight_mib: 20,
        }
    }
}

impl Limits {
    fn is_default(&self) -> bool {
        *self == Limits::default()
    }

    /// The session bounds, on top of `base`.
    pub fn session(&self, base: hearth_sync::SessionConfig) -> hearth_sync::SessionConfig {
        hearth_sync::SessionConfig {
            max_new_docs: self.session_new_documents,
            max_new_bytes: self.session_new_mib << 20,
            max_digest_queue: self.session_digest_entries,
            ..base
        }
    }

    /// What is wrong with these bounds, if anything.
    pub fn check(&self) -> Result<(), String> {
        let zero = [
            ("connections", self.connections),
            ("connections_per_peer", self.connections_per_peer),
            ("session_new_documents", self.session_new_documents),
            ("session_new_mib", self.session_new_mib),
            ("session_digest_entries", self.session_digest_entries),
            ("session_in_flight_mib", self.session_in_flight_mib),
        ]
        .into_iter()
        .chain([
            ("handshake_secs", self.handshake_secs as usize),
            ("preface_secs", self.preface_secs as usize),
            ("idle_secs", self.idle_secs as usize),
        ])
        .find(|(_, v)| *v == 0);
        if let Some((name, _)) = zero {
            return Err(format!("limits.{name} must be more than 0"));
        }
        if self.session_in_flight_mib < 17 {
            return Err(
                "limits.session_in_flight_mib must be at least 17: one frame may carry 16 MiB"
                    .into(),
            );
        }
        if self.idle_secs < 30 {
            return Err(
                "limits.idle_secs must be at least 30: keep-alive pings come every 20 s".into(),
            );
        }
        Ok(())
    }
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML for a node config.
    #[error("{path} is not a valid config: {message}")]
    Parse {
        /// File.
        path: String,
        /// What is wrong, from the parser.
        message: String,
    },
}

impl NodeConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        NodeConfig::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses config text.
    pub fn parse(text: &str) -> Result<NodeConfig, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    /// The config as TOML, with a heading comment.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        Ok(format!(
            "# Hearth node configuration. `hearth init` and `hearth peer add` write it.\n{}",
            toml::to_string(self)?
        ))
    }

    /// Checks what the parser cannot: node ids, addresses, endpoints, neighbours named once and
    /// never the node itself. Says what is wrong and how to write it.
    pub fn check(&self) -> Result<(), String> {
        check_node_id(&self.node_id)?;
        if let Some(addr) = &self.listen {
            check_host_port("listen", addr)?;
        }
        if let Some(addr) = &self.metrics {
            check_host_port("metrics", addr)?;
        }
        if let Some(addr) = &self.console {
            check_host_port("console", addr)?;
            let loopback = addr
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback())
                || addr.starts_with("localhost:");
            if !loopback && self.console_tls.is_none() {
                return Err(format!(
                    "console address {addr:?} is not on loopback: off loopback the console serves HTTPS only; give console_tls = {{ cert = \"/path/console.pem\", key = \"/path/console.key\" }}, or use 127.0.0.1:PORT"
                ));
            }
        }
        if let Some(tls) = &self.console_tls {
            if self.console.is_none() {
                return Err(
                    "console_tls is set but console is not: give the console's address too".into(),
                );
            }
            for (what, path) in [("cert", &tls.cert), ("key", &tls.key)] {
                if !std::path::Path::new(path).is_absolute() {
                    return Err(format!(
                        "console_tls {what} {path:?} is not an absolute path; write it from the root, e.g. /etc/hearth/console.pem"
                    ));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.peers {
            check_node_id(&p.id)?;
            if p.id == self.node_id {
                return Err(format!(
                    "peer {} is this node itself: a node cannot be its own neighbour",
                    p.id
                ));
            }
            if !seen.insert(p.id.as_str()) {
                return Err(format!(
                    "peer {} is listed twice: it is already a neighbour of {}",
                    p.id, self.node_id
                ));
            }
            if let Some(e) = &p.endpoint
                && crate::net::endpoint_addr(e).is_none()
            {
                return Err(format!(
                    "endpoint {e:?} of peer {} is not https://HOST:PORT, e.g. https://branch.example:7400",
                    p.id
                ));
            }
        }
        self.limits.check()?;
        let mut admins = std::collections::HashSet::new();
        for a in &self.admins {
            check_node_id(a)?;
            if seen.contains(a.as_str()) {
                return Err(format!(
                    "{a} is both a peer and an admin; it may be only one (each needs a name of its own)"
                ));
            }
            if !admins.insert(a.as_str()) {
                return Err(format!(
                    "{a} is listed twice: it is already an admin of {}",
                    self.node_id
                ));
            }
        }
        Ok(())
    }

    /// Ids of all neighbours.
    pub fn neighbour_ids(&self) -> Vec<String> {
        self.peers.iter().map(|p| p.id.clone()).collect()
    }

    /// The neighbour with this id.
    pub fn peer(&self, id: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.id == id)
    }

    /// Parents of this node.
    pub fn parents(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter().filter(|p| p.relation == Relation::Parent)
    }

    /// Where this node sits, as the operations need it.
    pub fn place(&self) -> hearth_ops::Place {
        let of = |relation| {
            self.peers
                .iter()
                .filter(|p| p.relation == relation)
                .map(|p| p.id.clone())
                .collect()
        };
        hearth_ops::Place {
            node_id: self.node_id.clone(),
            level: self.level,
            parents: of(Relation::Parent),
            children: of(Relation::Child),
        }
    }
}

/// Checks a node id: dot-separated labels of lowercase letters, digits and inner dashes, as a DNS
/// name in a certificate would be.
pub fn check_node_id(id: &str) -> Result<(), String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if id.len() > 253 || !id.split('.').all(label_ok) {
        return Err(format!(
            "node id {id:?} is not valid: use lowercase letters, digits, '-' and '.', e.g. kaiyuan-power.ops.team-3"
        ));
    }
    Ok(())
}

/// Checks a `HOST:PORT` address (port 1–65535).
pub fn check_host_port(what: &str, addr: &str) -> Result<(), String> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(())
        }
        _ => Err(format!(
            "{what} address {addr:?} is not HOST:PORT, e.g. 0.0.0.0:7400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_refuses_unknown_keys() {
        let config = NodeConfig {
            node_id: "demo.branch".into(),
            level: Level::Branch,
            listen: Some("127.0.0.1:7400".into()),
            metrics: Some("127.0.0.1:9464".into()),
            console: None,
            console_tls: None,
            peers: vec![
                Peer {
                    id: "demo.enterprise".into(),
                    relation: Relation::Parent,
                    endpoint: Some("https://127.0.0.1:7401".into()),
                },
                Peer {
                    id: "demo.team-1".into(),
                    relation: Relation::Child,
                    endpoint: None,
                },
            ],
            admins: vec!["console.ops".into()],
            limits: Limits::default(),
            trust: Default::default(),
        };
        let text = config.to_toml().unwrap();
        assert_eq!(NodeConfig::parse(&text).unwrap(), config);
        assert!(NodeConfig::parse("node_id = \"x\"\nlevel = \"team\"\ncolour = 1\n").is_err());
        config.check().unwrap();
        let mut bad = config.clone();
        bad.metrics = Some("9464".into());
        assert!(bad.check().unwrap_err().contains("metrics address"));
        let mut bad = config.clone();
        bad.peers[1].endpoint = Some("http://x:1".into());
        assert!(bad.check().unwrap_err().contains("https://HOST:PORT"));
        let mut bad = config.clone();
        bad.admins.push("demo.team-1".into());
        assert!(bad.check().is_err());
        assert_eq!(config.parents().count(), 1);
    }
}
