//! `hearth certs`: the federation CA and node certificates, as PEM files.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use hearth_node::tls::{self, CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE, Pem};

use crate::BadInput;
use std::path::PathBuf;

use crate::node::check_node_id;
use clap::Subcommand;

/// Runs a `certs` subcommand.
pub fn run(command: CertsCommand) -> Result<()> {
    match command {
        CertsCommand::InitCa { out, name } => {
            refuse_existing(&out, &[CA_FILE, CA_KEY_FILE])?;
            let ca = tls::new_ca(&name)?;
            write(&out, CA_FILE, &ca.cert, 0o644)?;
            write(&out, CA_KEY_FILE, &ca.key, 0o600)?;
            crate::out!(
                "federation CA written to {}: {CA_FILE} goes to every node, {CA_KEY_FILE} stays offline with whoever issues certificates",
                out.display()
            )?;
        }
        CertsCommand::Issue {
            ca,
            node_id,
            level,
            parents,
            out,
        } => {
            check_node_id(&node_id)?;
            for parent in &parents {
                check_node_id(parent)?;
            }
            let place = match level {
                Some(level) => {
                    let level: hearth_archive::Level = level
                        .parse()
                        .map_err(|e: hearth_archive::ArchiveError| BadInput::new(e.to_string()))?;
                    Some(tls::Place {
                        level: level.code().to_owned(),
                        parents,
                    })
                }
                None => None,
            };
            let read = |file: &str| {
                fs::read_to_string(ca.join(file)).map_err(|e| {
                    BadInput::new(format!(
                        "cannot read {}: {e}; make the CA with `hearth certs init-ca --out DIR`",
                        ca.join(file).display()
                    ))
                })
            };
            let ca_pem = Pem {
                cert: read(CA_FILE)?,
                key: read(CA_KEY_FILE)?,
            };
            refuse_existing(&out, &[CERT_FILE, KEY_FILE])?;
            let node = tls::issue(&ca_pem, &node_id, place.as_ref())?;
            write(&out, CA_FILE, &ca_pem.cert, 0o644)?;
            write(&out, CERT_FILE, &node.cert, 0o644)?;
            write(&out, KEY_FILE, &node.key, 0o600)?;
            let said = match &place {
                Some(p) if p.parents.is_empty() => format!(" ({}, the top)", p.level),
                Some(p) => format!(" ({}, reporting to {})", p.level, p.parents.join(", ")),
                None => " (no place in the federation: an admin certificate)".into(),
            };
            crate::out!(
                "certificate for {node_id}{said} written to {}; put {CA_FILE}, {CERT_FILE} and {KEY_FILE} in the node's <data-dir>/tls/",
                out.display()
            )?;
        }
    }
    Ok(())
}

fn refuse_existing(dir: &Path, files: &[&str]) -> Result<()> {
    for file in files {
        if dir.join(file).exists() {
            return Err(BadInput::new(format!(
                "{} already exists; choose another --out or move it away",
                dir.join(file).display()
            ))
            .into());
        }
    }
    Ok(())
}

fn write(dir: &Path, file: &str, text: &str, mode: u32) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(file);
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
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
