//! Identity: the federation CA, node certificates carrying the node id, and rustls
//! configurations for mutual TLS 1.3 in which a peer is accepted only if its certificate is signed
//! by the federation CA *and* names a configured neighbour.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName as RustlsDn, RootCertStore, SignatureScheme,
};

/// File names inside a TLS folder (`<data-dir>/tls/` by default).
pub const CA_FILE: &str = "ca.pem";
/// The CA's private key, only in the folder made by `certs init-ca`.
pub const CA_KEY_FILE: &str = "ca.key";
/// The node's certificate.
pub const CERT_FILE: &str = "node.pem";
/// The node's private key.
pub const KEY_FILE: &str = "node.key";

/// Something wrong with certificates or keys.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}; create it with `hearth certs`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM data.
    #[error("{path} holds no {what}; create it with `hearth certs`")]
    Pem {
        /// The file.
        path: String,
        /// What was expected.
        what: &'static str,
    },
    /// Certificate generation failed.
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The CA certificate cannot be used as a trust root.
    #[error("federation CA certificate is not usable: {0}")]
    Verifier(String),
}

/// A certificate and its key, PEM encoded.
#[derive(Debug, Clone)]
pub struct Pem {
    /// Certificate.
    pub cert: String,
    /// Private key.
    pub key: String,
}

/// Makes a new federation CA (valid 20 years).
pub fn new_ca(name: &str) -> Result<Pem, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("Hearth federation CA {name}"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = params.not_before + std::time::Duration::from_secs(20 * 365 * 86_400);
    let cert = params.self_signed(&key)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Where a node sits in the federation, as its certificate attests it (DESIGN §4a): its level
/// and its parents (none for the top).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The node's level (`team`, `branch`, …).
    pub level: String,
    /// The nodes it reports to.
    pub parents: Vec<String>,
}

/// Issues a node certificate (valid 10 years) whose subject alternative name is the node id and,
/// with a place, whose URIs name the node's level and parents
/// (`urn:hearth:level:L`, `urn:hearth:parent:ID`): then any node can check that a node it adds
/// to a case is its neighbour. Admin certificates have no place.
pub fn issue(ca: &Pem, node_id: &str, place: Option<&Place>) -> Result<Pem, TlsError> {
    let uris = place
        .map(|p| {
            std::iter::once(format!("{}{}", hearth_sync::trust::LEVEL_URN, p.level))
                .chain(
                    p.parents
                        .iter()
                        .map(|id| format!("{}{id}", hearth_sync::trust::PARENT_URN)),
                )
                .collect()
        })
        .unwrap_or_default();
    issue_inner(ca, &[node_id], uris)
}

/// A certificate from `ca` (valid 10 years) naming every one of `names`, the first also as its
/// common name. A node certificate names one ([`issue`]); tests make ones that name two.
pub fn issue_with_names(ca: &Pem, names: &[&str]) -> Result<Pem, TlsError> {
    issue_inner(ca, names, Vec::new())
}

fn issue_inner(ca: &Pem, names: &[&str], uris: Vec<String>) -> Result<Pem, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().copied().unwrap_or_default(),
    );
    params.distinguished_name = dn;
    for uri in uris {
        params
            .subject_alt_names
            .push(rcgen::SanType::URI(uri.try_into()?));
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = params.not_before + std::time::Duration::from_secs(10 * 365 * 86_400);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A node's TLS material: the federation CA, its certificate chain and key.
#[derive(Debug)]
pub struct Identity {
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn certs(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.display().to_string(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// The web console's HTTPS: the certificate chain and key in PEM files `cert` and `key`, TLS
/// 1.2 or 1.3 (browsers), HTTP/1.1, no client certificates (people log in).
pub fn console_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let chain = certs(cert, &read(cert)?)?;
    let key = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| TlsError::Pem {
        path: key.display().to_string(),
        what: "private key",
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Identity {
    /// Reads `ca.pem`, `node.pem` and `node.key` from a folder.
    pub fn load(dir: &Path) -> Result<Identity, TlsError> {
        let ca_path = dir.join(CA_FILE);
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let ca = certs(&ca_path, &read(&ca_path)?)?;
        let chain = certs(&cert_path, &read(&cert_path)?)?;
        let key = PrivateKeyDer::from_pem_slice(&read(&key_path)?).map_err(|_| TlsError::Pem {
            path: key_path.display().to_string(),
            what: "private key",
        })?;
        Ok(Identity { ca, chain, key })
    }

    /// Builds an identity from PEM text (tests and the demo make theirs in memory).
    pub fn from_pem(ca: &str, node: &Pem) -> Result<Identity, TlsError> {
        Ok(Identity {
            ca: certs(Path::new("<ca>"), ca.as_bytes())?,
            chain: certs(Path::new("<cert>"), node.cert.as_bytes())?,
            key: PrivateKeyDer::from_pem_slice(node.key.as_bytes()).map_err(|_| TlsError::Pem {
                path: "<key>".into(),
                what: "private key",
            })?,
        })
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in &self.ca {
            roots
                .add(ca.clone())
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
        }
        Ok(roots)
    }

    /// Server side: TLS 1.3, ALPN h2, client certificates required, signed by the federation CA
    /// and naming one of `allowed` (the configured neighbours and admins).
    pub fn server_config(&self, allowed: Vec<String>) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner =
            WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider.clone())
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let verifier = Arc::new(NeighbourVerifier { inner, allowed });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }

    /// Client side: TLS 1.3, ALPN h2, presenting this node's certificate, trusting only the
    /// federation CA (the server's name is checked against the neighbour dialled).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            provider.clone(),
        )
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(OneNodeServer { inner }))
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// Why a signed file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// No certificate came with it.
    #[error("it carries no certificate")]
    NoCertificate,
    /// The certificate does not chain to this federation's CA.
    #[error("its certificate is not from this federation's CA ({0})")]
    ForeignCa(String),
    /// The certificate does not name the node the file says it is from.
    #[error("its certificate is not {0}'s")]
    NotTheSigner(String),
    /// The signature does not match the content.
    #[error("its signature does not match its content (altered or damaged)")]
    Mismatch,
    /// This node's key cannot sign.
    #[error("this node's key cannot sign: {0}")]
    Key(String),
}

impl Identity {
    /// Signs `message` with this node's key: (TLS signature scheme code, signature).
    pub fn sign(&self, message: &[u8]) -> Result<(u16, Vec<u8>), SignatureError> {
        let key = rustls::crypto::ring::sign::any_supported_type(&self.key)
            .map_err(|e| SignatureError::Key(e.to_string()))?;
        let offered = [
            SignatureScheme::ED25519,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::RSA_PSS_SHA256,
        ];
        let signer = key
            .choose_scheme(&offered)
            .ok_or_else(|| SignatureError::Key("no usable signature scheme".into()))?;
        let signature = signer
            .sign(message)
            .map_err(|e| SignatureError::Key(e.to_string()))?;
        Ok((u16::from(signer.scheme()), signature))
    }

    /// The keyring this identity signs and checks changes with (DESIGN §4a), checking
    /// certificates at `now` (seconds since the Unix epoch).
    pub fn keyring(&self, now: u64) -> Result<hearth_sync::Keyring, hearth_sync::TrustError> {
        hearth_sync::Keyring::new(self.ca.iter().map(|c| c.to_vec()).collect(), now)?
            .with_key(self.chain_der(), self.key.secret_der())
    }

    /// This node's certificate chain, DER, its own first.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain.iter().map(|c| c.to_vec()).collect()
    }

    /// Checks a signature made with [`Identity::sign`] by the node `signer`: its certificate
    /// (first of `chain`) must chain to this federation's CA and name `signer`.
    pub fn verify(
        &self,
        chain: &[Vec<u8>],
        signer: &str,
        scheme: u16,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let Some((cert, intermediates)) = chain.split_first() else {
            return Err(SignatureError::NoCertificate);
        };
        let cert = CertificateDer::from(cert.as_slice());
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let provider = rustls::crypto::ring::default_provider();
        let roots = self
            .roots()
            .map_err(|e| SignatureError::ForeignCa(e.to_string()))?;
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider.clone()))
            .build()
            .map_err(|e| SignatureError::ForeignCa(e.to_string()))?
            .verify_client_cert(&cert, &intermediates, UnixTime::now())
            .map_err(|e| SignatureError::ForeignCa(e.to_string()))?;
        match node_id_of(&cert) {
            Ok(id) if id == signer => {}
            Ok(_) => return Err(SignatureError::NotTheSigner(signer.to_owned())),
            Err(why) => return Err(SignatureError::ForeignCa(why)),
        }
        let scheme = SignatureScheme::from(scheme);
        let algorithm = provider
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(s, _)| *s == scheme)
            .and_then(|(_, algs)| algs.first())
            .ok_or(SignatureError::Mismatch)?;
        webpki::EndEntityCert::try_from(&cert)
            .map_err(|e| SignatureError::ForeignCa(e.to_string()))?
            .verify_signature(*algorithm, message, signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// The one node id a node certificate names: its only DNS name, a valid node id (no wildcard),
/// beside which it may name only its place in the federation (`hearth_sync::trust::place_of`).
/// A certificate that names none, or several, identifies no node and is refused wherever it is
/// shown.
pub fn node_id_of(cert: &CertificateDer<'_>) -> Result<String, String> {
    let place = hearth_sync::trust::place_of(cert)?;
    crate::config::check_node_id(&place.node).map_err(|_| {
        format!(
            "the certificate names {:?}, which is no node id",
            place.node
        )
    })?;
    Ok(place.node)
}

/// The node id a verified peer certificate names, if it names exactly one and that one is
/// among `candidates`.
pub fn node_of_cert(cert: &CertificateDer<'_>, candidates: &[String]) -> Option<String> {
    node_id_of(cert)
        .ok()
        .filter(|id| candidates.iter().any(|c| c == id))
}

/// Accepts a client certificate only if the federation CA signed it and it names a configured
/// neighbour or admin: anything else fails the handshake.
#[derive(Debug)]
struct NeighbourVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for NeighbourVerifier {
    fn root_hint_subjects(&self) -> &[RustlsDn] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
            .inspect_err(|e| tracing::warn!(reason = %e, "peer refused: certificate not signed by the federation CA"))?;
        if let Err(why) = node_id_of(end_entity) {
            tracing::warn!(reason = %why, "peer refused: its certificate does not name exactly one node");
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        if node_of_cert(end_entity, &self.allowed).is_none() {
            tracing::warn!("peer refused: its certificate names no configured neighbour or admin");
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The server side of a dial: the federation CA's usual checks for the neighbour's name, and
/// its certificate must name exactly that one node.
#[derive(Debug)]
struct OneNodeServer {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl rustls::client::danger::ServerCertVerifier for OneNodeServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        if let Err(why) = node_id_of(end_entity) {
            tracing::warn!(reason = %why, "neighbour refused: its certificate does not name exactly one node");
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_name_their_node() {
        let ca = new_ca("test").unwrap();
        let node = issue(&ca, "demo.team-1", None).unwrap();
        let id = Identity::from_pem(&ca.cert, &node).unwrap();
        let names = vec!["demo.branch".to_owned(), "demo.team-1".to_owned()];
        assert_eq!(
            node_of_cert(&id.chain[0], &names).as_deref(),
            Some("demo.team-1")
        );
        assert_eq!(node_of_cert(&id.chain[0], &names[..1]), None);
        id.server_config(names.clone()).unwrap();
        id.client_config().unwrap();
        let two = issue_with_names(&ca, &["demo.team-1", "demo.branch"]).unwrap();
        let two = Identity::from_pem(&ca.cert, &two).unwrap();
        assert_eq!(node_of_cert(&two.chain[0], &names), None);
        let e = node_id_of(&two.chain[0]).unwrap_err();
        assert!(e.contains("names 2 node ids"), "{e}");
    }
}
