//! The keys and certificates behind authorship (DESIGN §4a): a node signs its changes with the
//! key of its TLS certificate, and every receiver checks a signature against the signer's
//! certificate, which must chain to the federation CA.
//!
//! A [`Keyring`] holds the federation CA, the node's own key and certificate, and every
//! certificate the node has checked — its neighbours' from the handshake or a session, and
//! those of nodes further away, which sessions and bundles carry along (`Frame::Certificates`)
//! so that changes relayed from a node that is not a neighbour can be checked too. It keeps up
//! to [`MAX_CERTS_PER_NODE`] certificates per node, so a renewed certificate does not void
//! what the old one signed.
//!
//! **The topology is attested by the CA**: a node certificate names the node's id (its one DNS
//! name) and, as URIs, its level (`urn:hearth:level:branch`) and each of its parents
//! (`urn:hearth:parent:ID`); a certificate with a level and no parent is the top's. Any node
//! can so check that a node added to a case is a neighbour of the node that added it
//! ([`hearth_archive::rules`]). Children are not listed: that A is B's child is read from A's
//! certificate.
//!
//! Signatures are ECDSA P-256 with SHA-256 (the key rcgen makes for node certificates), via
//! ring, and certificates are checked with rustls-webpki, as the TLS handshake does.

use std::collections::HashMap;

use hearth_archive::automerge::ChangeHash;
use hearth_archive::signed::{ChangeSig, MAX_SIG_BYTES, signed_bytes};
use pki_types::{CertificateDer, UnixTime};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

/// Most certificates kept per node.
pub const MAX_CERTS_PER_NODE: usize = 8;
/// Largest certificate chain taken from outside.
pub const MAX_CHAIN_BYTES: usize = 64 << 10;
/// URI prefix of a certificate's level.
pub const LEVEL_URN: &str = "urn:hearth:level:";
/// URI prefix of each of a certificate's parents.
pub const PARENT_URN: &str = "urn:hearth:parent:";

/// Why a key, certificate or signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// The federation CA certificate cannot be used.
    #[error("the federation CA certificate is not usable ({0})")]
    Ca(String),
    /// The node's key cannot sign.
    #[error("this node's key cannot sign ({0}); use the key `hearth certs issue` made")]
    Key(String),
    /// A certificate does not chain to the federation CA or cannot be read.
    #[error("the certificate is not from this federation's CA ({0})")]
    ForeignCa(String),
    /// A certificate's names are not a node's.
    #[error("{0}")]
    Names(String),
    /// No certificate of the signer is known.
    #[error("no certificate of {0} is known here, so its signature cannot be checked")]
    Unknown(String),
    /// A signature does not match.
    #[error("the signature of {node} over its change to {doc} does not match (forged or altered)")]
    Mismatch {
        /// The signer.
        node: String,
        /// The document.
        doc: String,
    },
}

/// What a node certificate says of its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The node id (the one DNS name).
    pub node: String,
    /// The level, if the certificate names one.
    pub level: Option<String>,
    /// The parents it names.
    pub parents: Vec<String>,
}

/// Reads a node certificate's names: exactly one DNS name (the node id) and, as URIs, at most
/// one level and any number of parents; no other URI.
pub fn place_of(cert: &[u8]) -> Result<Place, String> {
    let der = CertificateDer::from(cert);
    let ee = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| format!("the certificate cannot be read ({e})"))?;
    let names: Vec<&str> = ee.valid_dns_names().collect();
    let node = match names.as_slice() {
        [one] => (*one).to_owned(),
        [] => return Err("the certificate names no node id".into()),
        many => {
            return Err(format!(
                "the certificate names {} node ids ({}); a node certificate names exactly one",
                many.len(),
                many.join(", ")
            ));
        }
    };
    let mut level = None;
    let mut parents = Vec::new();
    for uri in ee.valid_uri_names() {
        if let Some(l) = uri.strip_prefix(LEVEL_URN) {
            if level.replace(l.to_owned()).is_some() {
                return Err("the certificate names two levels".into());
            }
        } else if let Some(p) = uri.strip_prefix(PARENT_URN) {
            parents.push(p.to_owned());
        } else {
            return Err(format!(
                "the certificate names the URI {uri:?}, which is no place in the federation"
            ));
        }
    }
    if level.is_none() && !parents.is_empty() {
        return Err("the certificate names parents but no level".into());
    }
    Ok(Place {
        node,
        level,
        parents,
    })
}

#[derive(Debug)]
struct Known {
    chain: Vec<Vec<u8>>,
    place: Place,
}

/// A certificate chain as bytes, for storage: each certificate as a 4-byte length and its DER.
pub fn encode_chain(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for cert in chain {
        out.extend_from_slice(&(cert.len() as u32).to_be_bytes());
        out.extend_from_slice(cert);
    }
    out
}

/// Reads [`encode_chain`]'s bytes.
pub fn decode_chain(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut chain = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        chain.push(bytes.get(4..4 + len)?.to_vec());
        bytes = &bytes[4 + len..];
    }
    Some(chain)
}

struct Own {
    node: String,
    key: EcdsaKeyPair,
    chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Own {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Own").field("node", &self.node).finish()
    }
}

/// The federation CA, this node's key, and the certificates it has checked.
#[derive(Debug)]
pub struct Keyring {
    ca: Vec<Vec<u8>>,
    now: UnixTime,
    own: Option<Own>,
    known: HashMap<String, Vec<Known>>,
    legacy: bool,
    /// Chains learned since [`Keyring::take_learned`] last ran, for the caller to store.
    learned: Vec<Vec<Vec<u8>>>,
    /// Signatures found good lately (see [`Keyring::verify`]), by [`verified_key`].
    verified: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

/// Signatures remembered as good; beyond, they are forgotten and checked again when seen.
const VERIFIED_KEPT: usize = 65_536;

/// Signatures of one frame checked ahead at most: an honest frame carries one per author of
/// the document; the rest (a peer's padding) are left to the full check where it is applied.
const PREVERIFY_PER_FRAME: usize = 16;

/// What identifies a signature check: the document, the node, the change and the signature.
fn verified_key(doc: &str, node: &str, sig: &ChangeSig) -> [u8; 32] {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [doc.as_bytes(), node.as_bytes(), &sig.hash.0, &sig.sig] {
        h.update(&(part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(h.finish().as_ref());
    key
}

impl Keyring {
    /// A keyring that trusts the federation CA `ca` (DER), checking validity at `now` (seconds
    /// since the Unix epoch: the caller's clock).
    pub fn new(ca: Vec<Vec<u8>>, now: u64) -> Result<Keyring, TrustError> {
        if ca.is_empty() {
            return Err(TrustError::Ca("none given".into()));
        }
        for c in &ca {
            let der = CertificateDer::from(c.as_slice());
            webpki::anchor_from_trusted_cert(&der).map_err(|e| TrustError::Ca(e.to_string()))?;
        }
        Ok(Keyring {
            ca,
            now: UnixTime::since_unix_epoch(std::time::Duration::from_secs(now)),
            own: None,
            known: HashMap::new(),
            legacy: false,
            learned: Vec::new(),
            verified: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// This node's certificate chain (its own first) and private key (PKCS#8 DER): it signs with
    /// them from now on. The chain must check against the CA and the key must be its key.
    pub fn with_key(mut self, chain: Vec<Vec<u8>>, pkcs8: &[u8]) -> Result<Keyring, TrustError> {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
                .map_err(|e| TrustError::Key(e.to_string()))?;
        let node = self.learn(&chain)?;
        let own = Own { node, key, chain };
        // The key must be the certificate's: a signature it makes must check.
        let probe = ChangeHash([0; 32]);
        self.own = Some(own);
        let sig = self.sign("key-check", &probe)?;
        let node = self.node().unwrap_or_default().to_owned();
        self.verify("key-check", &node, &sig)
            .map_err(|_| TrustError::Key("it is not the key of the node certificate".into()))?;
        Ok(self)
    }

    /// The node whose key this is, if it has one.
    pub fn node(&self) -> Option<&str> {
        self.own.as_ref().map(|o| o.node.as_str())
    }

    /// Sets the upgrade window: while it is open, changes without a signature, cases whose id
    /// is not bound and places no certificate attests are let through (a wrong signature never
    /// is). The caller decides it from its clock and configuration.
    pub fn set_legacy(&mut self, open: bool) {
        self.legacy = open;
    }

    /// Whether the upgrade window is open.
    pub fn legacy(&self) -> bool {
        self.legacy
    }

    /// Checks a certificate chain (the node's certificate first) against the CA and keeps it;
    /// returns the node it names.
    pub fn learn(&mut self, chain: &[Vec<u8>]) -> Result<String, TrustError> {
        let Some((cert, rest)) = chain.split_first() else {
            return Err(TrustError::ForeignCa("no certificate".into()));
        };
        if chain.iter().map(Vec::len).sum::<usize>() > MAX_CHAIN_BYTES {
            return Err(TrustError::ForeignCa("the chain is too large".into()));
        }
        if let Some(known) = self.known.values().flatten().find(|k| k.chain == chain) {
            return Ok(known.place.node.clone());
        }
        let ca: Vec<CertificateDer<'_>> = self
            .ca
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let anchors = ca
            .iter()
            .map(webpki::anchor_from_trusted_cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TrustError::Ca(e.to_string()))?;
        let der = CertificateDer::from(cert.as_slice());
        let intermediates: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let ee = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| TrustError::ForeignCa(e.to_string()))?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            self.now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(|e| TrustError::ForeignCa(e.to_string()))?;
        let place = place_of(cert).map_err(TrustError::Names)?;
        let node = place.node.clone();
        let kept = self.known.entry(node.clone()).or_default();
        if kept.len() >= MAX_CERTS_PER_NODE {
            kept.remove(0);
        }
        kept.push(Known {
            chain: chain.to_vec(),
            place,
        });
        self.learned.push(chain.to_vec());
        Ok(node)
    }

    /// Whether chains were learned since [`Keyring::take_learned`] last ran.
    pub fn has_learned(&self) -> bool {
        !self.learned.is_empty()
    }

    /// The chains learned since the last call (for the caller to keep).
    pub fn take_learned(&mut self) -> Vec<Vec<Vec<u8>>> {
        std::mem::take(&mut self.learned)
    }

    /// Signs this node's change `hash` to document `doc`.
    pub fn sign(&self, doc: &str, hash: &ChangeHash) -> Result<ChangeSig, TrustError> {
        let own = self
            .own
            .as_ref()
            .ok_or_else(|| TrustError::Key("this node has no key loaded".into()))?;
        let sig = own
            .key
            .sign(&SystemRandom::new(), &signed_bytes(doc, hash))
            .map_err(|e| TrustError::Key(e.to_string()))?;
        Ok(ChangeSig {
            hash: *hash,
            sig: sig.as_ref().to_vec(),
        })
    }

    /// Checks `node`'s signature over its change to `doc` against every certificate of `node`
    /// known here.
    ///
    /// A signature found good is remembered (the same check gives the same answer: certificates
    /// are only ever added), so that one checked ahead ([`Keyring::preverify`]) or relayed again
    /// costs a hash, not an ECDSA verification.
    pub fn verify(&self, doc: &str, node: &str, sig: &ChangeSig) -> Result<(), TrustError> {
        let key = verified_key(doc, node, sig);
        if self.verified.lock().is_ok_and(|v| v.contains(&key)) {
            return Ok(());
        }
        self.verify_now(doc, node, sig)?;
        if let Ok(mut v) = self.verified.lock() {
            if v.len() >= VERIFIED_KEPT {
                v.clear();
            }
            v.insert(key);
        }
        Ok(())
    }

    /// Checks the signatures a sync message for `doc` came with against the authors of the
    /// changes it carries, ahead of the one who applies it (on another thread: the network's),
    /// remembering the good ones. Nothing is decided here: what is applied is checked in full
    /// where it is applied, and a signature checked here only saves that check its ECDSA work.
    pub fn preverify(&self, doc: &str, message: &[u8], sigs: &[ChangeSig]) {
        if sigs.is_empty() {
            return;
        }
        let Some(authors) = hearth_archive::untrusted::change_authors(message) else {
            return;
        };
        for sig in sigs.iter().take(PREVERIFY_PER_FRAME) {
            let node = authors
                .iter()
                .find(|(hash, _)| *hash == sig.hash)
                .and_then(|(_, actor)| hearth_archive::node_of_actor(actor));
            if let Some(node) = node {
                let _ = self.verify(doc, &node, sig);
            }
        }
    }

    fn verify_now(&self, doc: &str, node: &str, sig: &ChangeSig) -> Result<(), TrustError> {
        let known = self
            .known
            .get(node)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| TrustError::Unknown(node.to_owned()))?;
        let mismatch = || TrustError::Mismatch {
            node: node.to_owned(),
            doc: doc.to_owned(),
        };
        if sig.sig.len() > MAX_SIG_BYTES {
            return Err(mismatch());
        }
        let message = signed_bytes(doc, &sig.hash);
        for k in known {
            let der = CertificateDer::from(k.chain[0].as_slice());
            let Ok(ee) = webpki::EndEntityCert::try_from(&der) else {
                continue;
            };
            if ee
                .verify_signature(webpki::ring::ECDSA_P256_SHA256, &message, &sig.sig)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(mismatch())
    }

    /// Every certificate chain of `node` known here, oldest first.
    pub fn chains(&self, node: &str) -> Vec<Vec<Vec<u8>>> {
        self.known
            .get(node)
            .map(|k| k.iter().map(|k| k.chain.clone()).collect())
            .unwrap_or_default()
    }

    /// This node's own chain.
    pub fn own_chain(&self) -> Option<&[Vec<u8>]> {
        self.own.as_ref().map(|o| o.chain.as_slice())
    }

    /// The place `node`'s newest certificate attests, if one is known.
    pub fn place(&self, node: &str) -> Option<&Place> {
        self.known
            .get(node)
            .and_then(|k| k.last())
            .map(|k| &k.place)
    }
}

impl hearth_archive::rules::Topology for Keyring {
    fn parents(&self, node: &str) -> Option<Vec<String>> {
        self.place(node)
            .filter(|p| p.level.is_some())
            .map(|p| p.parents.clone())
    }
}

/// A keyring shared by a node's sessions and bundle imports (they learn certificates as they
/// go).
pub type SharedKeyring = std::sync::Arc<std::sync::RwLock<Keyring>>;
