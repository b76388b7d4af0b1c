//! Hearth's gRPC protocol: the code generated from `proto/hearth/v1/*.proto`, and conversions
//! between its messages and the domain frames of `hearth-sync`. prost types stop here: the rest
//! of Hearth speaks [`hearth_sync::Frame`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use hearth_sync::frame::ChangeSig;
use hearth_sync::{DigestEntry, ErrorCode, Frame, Hello, Refusal, Resume};

/// Generated code of package `hearth.v1`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]
pub mod archive;

pub mod v1 {
    tonic::include_proto!("hearth.v1");
}

use v1::sync_frame::Kind;

/// The gRPC status code for a kind of failure of an operation (the one mapping; clients read
/// it back with [`kind_of`]).
pub fn code_of(kind: hearth_ops::ErrorKind) -> tonic::Code {
    use hearth_ops::ErrorKind as K;
    match kind {
        K::Input => tonic::Code::InvalidArgument,
        K::NotFound => tonic::Code::NotFound,
        K::Forbidden => tonic::Code::PermissionDenied,
        K::Internal => tonic::Code::Internal,
    }
}

/// The kind of failure a gRPC status code from a node says (the inverse of [`code_of`]);
/// `None` for a code no operation answers with (the connection broke, the node ended, …).
pub fn kind_of(code: tonic::Code) -> Option<hearth_ops::ErrorKind> {
    use hearth_ops::ErrorKind as K;
    match code {
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => Some(K::Input),
        tonic::Code::NotFound => Some(K::NotFound),
        tonic::Code::PermissionDenied => Some(K::Forbidden),
        tonic::Code::Internal | tonic::Code::DataLoss => Some(K::Internal),
        _ => None,
    }
}

/// The encoded descriptors of every `hearth.v1` file, for the server-reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hearth_descriptor.bin"));

/// A protobuf frame that does not make a valid domain frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame carries nothing.
    #[error("sync frame is empty")]
    Empty,
    /// A field that must be set is not.
    #[error("sync frame lacks {0}")]
    Missing(&'static str),
    /// A heads hash that is not 32 bytes.
    #[error("heads hash of {doc} has {len} bytes, not 32")]
    HeadsHash {
        /// Document id.
        doc: String,
        /// Length found.
        len: usize,
    },
    /// An enum value this version does not know.
    #[error("unknown {what} {value}")]
    Unknown {
        /// Which enum.
        what: &'static str,
        /// The number.
        value: i32,
    },
}

fn checkpoint(r: Resume) -> v1::Checkpoint {
    v1::Checkpoint {
        epoch: r.epoch,
        seq: r.seq,
    }
}

fn resume(c: v1::Checkpoint) -> Resume {
    Resume {
        epoch: c.epoch,
        seq: c.seq,
    }
}

fn sig_to(s: ChangeSig) -> v1::ChangeSignature {
    v1::ChangeSignature {
        change_hash: s.hash.0.to_vec(),
        signature: s.sig,
    }
}

fn sig_from(doc: &str, s: v1::ChangeSignature) -> Result<ChangeSig, DecodeError> {
    let len = s.change_hash.len();
    let hash =
        <[u8; 32]>::try_from(s.change_hash.as_slice()).map_err(|_| DecodeError::HeadsHash {
            doc: doc.to_owned(),
            len,
        })?;
    Ok(ChangeSig {
        hash: hearth_sync::bundle::ChangeHash(hash),
        sig: s.signature,
    })
}

fn chains_to(chains: Vec<Vec<Vec<u8>>>) -> Vec<v1::CertificateChain> {
    chains
        .into_iter()
        .map(|certificates| v1::CertificateChain { certificates })
        .collect()
}

fn chains_from(chains: Vec<v1::CertificateChain>) -> Vec<Vec<Vec<u8>>> {
    chains.into_iter().map(|c| c.certificates).collect()
}

impl From<Frame> for v1::SyncFrame {
    fn from(frame: Frame) -> Self {
        let kind = match frame {
            Frame::Hello(h) => Kind::Hello(v1::Hello {
                node_id: h.node,
                major: h.major,
                minor: h.minor,
                epoch: h.epoch,
                resume: h.resume.map(checkpoint),
                knows: h.knows,
            }),
            Frame::Sync {
                doc,
                message,
                signatures,
            } => Kind::Sync(v1::DocSync {
                doc_id: doc,
                message,
                signatures: signatures.into_iter().map(sig_to).collect(),
            }),
            Frame::Certificates(chains) => Kind::Certificates(v1::Certificates {
                chains: chains_to(chains),
            }),
            Frame::Digest { entries, upto } => Kind::Digest(v1::Digest {
                entries: entries
                    .into_iter()
                    .map(|e| v1::DigestEntry {
                        doc_id: e.doc,
                        heads_hash: e.heads.to_vec(),
                    })
                    .collect(),
                upto,
            }),
            Frame::Checkpoint(r) => Kind::Checkpoint(checkpoint(r)),
            Frame::Refused {
                doc,
                reason,
                message,
            } => Kind::Refused(v1::Refused {
                doc_id: doc,
                reason: match reason {
                    Refusal::OutOfScope => v1::RefusalReason::OutOfScope,
                    Refusal::Invalid => v1::RefusalReason::Invalid,
                    Refusal::TooLarge => v1::RefusalReason::TooLarge,
                    Refusal::Unsigned => v1::RefusalReason::Unsigned,
                    Refusal::Forbidden => v1::RefusalReason::Forbidden,
                } as i32,
                message,
            }),
            Frame::Error { code, message } => Kind::Error(v1::Error {
                code: match code {
                    ErrorCode::Version => v1::ErrorCode::Version,
                    ErrorCode::Identity => v1::ErrorCode::Identity,
                    ErrorCode::Protocol => v1::ErrorCode::Protocol,
                    ErrorCode::Storage => v1::ErrorCode::Storage,
                    ErrorCode::Limit => v1::ErrorCode::Limit,
                } as i32,
                message,
            }),
        };
        v1::SyncFrame { kind: Some(kind) }
    }
}

impl TryFrom<v1::SyncFrame> for Frame {
    type Error = DecodeError;

    fn try_from(frame: v1::SyncFrame) -> Result<Self, DecodeError> {
        Ok(match frame.kind.ok_or(DecodeError::Empty)? {
            Kind::Hello(h) => Frame::Hello(Hello {
                node: h.node_id,
                major: h.major,
                minor: h.minor,
                epoch: h.epoch,
                resume: h.resume.map(resume),
                knows: h.knows,
            }),
            Kind::Sync(s) => Frame::Sync {
                signatures: s
                    .signatures
                    .into_iter()
                    .map(|x| sig_from(&s.doc_id, x))
                    .collect::<Result<_, _>>()?,
                doc: s.doc_id,
                message: s.message,
            },
            Kind::Certificates(c) => Frame::Certificates(chains_from(c.chains)),
            Kind::Digest(d) => Frame::Digest {
                entries: d
                    .entries
                    .into_iter()
                    .map(|e| {
                        let len = e.heads_hash.len();
                        let heads =
                            e.heads_hash
                                .try_into()
                                .map_err(|_| DecodeError::HeadsHash {
                                    doc: e.doc_id.clone(),
                                    len,
                                })?;
                        Ok(DigestEntry {
                            doc: e.doc_id,
                            heads,
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?,
                upto: d.upto,
            },
            Kind::Checkpoint(c) => Frame::Checkpoint(resume(c)),
            Kind::Refused(r) => Frame::Refused {
                reason: match v1::RefusalReason::try_from(r.reason) {
                    Ok(v1::RefusalReason::OutOfScope) => Refusal::OutOfScope,
                    Ok(v1::RefusalReason::Invalid) => Refusal::Invalid,
                    Ok(v1::RefusalReason::TooLarge) => Refusal::TooLarge,
                    Ok(v1::RefusalReason::Unsigned) => Refusal::Unsigned,
                    Ok(v1::RefusalReason::Forbidden) => Refusal::Forbidden,
                    _ => {
                        return Err(DecodeError::Unknown {
                            what: "refusal reason",
                            value: r.reason,
                        });
                    }
                },
                doc: r.doc_id,
                message: r.message,
            },
            Kind::Error(e) => Frame::Error {
                code: match v1::ErrorCode::try_from(e.code) {
                    Ok(v1::ErrorCode::Version) => ErrorCode::Version,
                    Ok(v1::ErrorCode::Identity) => ErrorCode::Identity,
                    Ok(v1::ErrorCode::Protocol) => ErrorCode::Protocol,
                    Ok(v1::ErrorCode::Storage) => ErrorCode::Storage,
                    Ok(v1::ErrorCode::Limit) => ErrorCode::Limit,
                    _ => {
                        return Err(DecodeError::Unknown {
                            what: "error code",
                            value: e.code,
                        });
                    }
                },
                message: e.message,
            },
        })
    }
}

impl v1::BundlePayload {
    /// The payload of a bundle made at `created_unix`.
    pub fn of(bundle: &hearth_sync::Bundle, created_unix: i64) -> Self {
        v1::BundlePayload {
            from: bundle.from.clone(),
            to: bundle.to.clone(),
            epoch: bundle.epoch,
            since: bundle.since,
            upto: bundle.upto,
            created_unix,
            recipient_feed: bundle.has_yours.map(checkpoint),
            documents: bundle
                .docs
                .iter()
                .map(|d| v1::BundleDocument {
                    id: d.id.clone(),
                    heads: d.heads.iter().map(|h| h.0.to_vec()).collect(),
                    data: d.data.clone(),
                    signatures: d.signatures.iter().cloned().map(sig_to).collect(),
                })
                .collect(),
            certificates: chains_to(bundle.certificates.clone()),
        }
    }
}

impl TryFrom<v1::BundlePayload> for hearth_sync::Bundle {
    type Error = DecodeError;

    fn try_from(p: v1::BundlePayload) -> Result<Self, DecodeError> {
        let docs = p
            .documents
            .into_iter()
            .map(|d| {
                let heads = d
                    .heads
                    .iter()
                    .map(|h| {
                        <[u8; 32]>::try_from(h.as_slice())
                            .map(hearth_sync::bundle::ChangeHash)
                            .map_err(|_| DecodeError::HeadsHash {
                                doc: d.id.clone(),
                                len: h.len(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let signatures = d
                    .signatures
                    .into_iter()
                    .map(|s| sig_from(&d.id, s))
                    .collect::<Result<_, _>>()?;
                Ok(hearth_sync::BundleDoc {
                    id: d.id,
                    heads,
                    data: d.data,
                    signatures,
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        Ok(hearth_sync::Bundle {
            from: p.from,
            to: p.to,
            epoch: p.epoch,
            since: p.since,
            upto: p.upto,
            has_yours: p.recipient_feed.map(resume),
            docs,
            certificates: chains_from(p.certificates),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    #[test]
    fn every_kind_of_failure_survives_the_trip_through_a_status_code() {
        for kind in hearth_ops::ErrorKind::ALL {
            assert_eq!(kind_of(code_of(kind)), Some(kind), "{kind:?}");
        }
        assert_eq!(kind_of(tonic::Code::Unavailable), None);
    }

    fn frame() -> impl Strategy<Value = Frame> {
        let resume = (any::<u64>(), any::<u64>()).prop_map(|(epoch, seq)| Resume { epoch, seq });
        prop_oneof![
            (
                ".{0,20}",
                any::<u32>(),
                any::<u32>(),
                any::<u64>(),
                proptest::option::of(resume.clone()),
                proptest::collection::vec(any::<u8>(), 0..33)
            )
                .prop_map(|(node, major, minor, epoch, resume, knows)| Frame::Hello(
                    Hello {
                        node,
                        major,
                        minor,
                        epoch,
                        resume,
                        knows
                    }
                )),
            (
                ".{0,20}",
                proptest::collection::vec(any::<u8>(), 0..64),
                proptest::collection::vec(
                    (
                        any::<[u8; 32]>(),
                        proptest::collection::vec(any::<u8>(), 0..72)
                    ),
                    0..3
                )
            )
                .prop_map(|(doc, message, sigs)| Frame::Sync {
                    doc,
                    message,
                    signatures: sigs
                        .into_iter()
                        .map(|(hash, sig)| ChangeSig {
                            hash: hearth_sync::bundle::ChangeHash(hash),
                            sig
                        })
                        .collect(),
                }),
            proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..3),
                0..3
            )
            .prop_map(Frame::Certificates),
            (
                proptest::collection::vec((".{0,12}", any::<[u8; 32]>()), 0..5),
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(entries, upto)| Frame::Digest {
                    entries: entries
                        .into_iter()
                        .map(|(doc, heads)| DigestEntry { doc, heads })
                        .collect(),
                    upto,
                }),
            resume.prop_map(Frame::Checkpoint),
            (
                ".{0,12}",
                prop_oneof![
                    Just(Refusal::OutOfScope),
                    Just(Refusal::Invalid),
                    Just(Refusal::TooLarge),
                    Just(Refusal::Unsigned),
                    Just(Refusal::Forbidden)
                ],
                ".{0,30}"
            )
                .prop_map(|(doc, reason, message)| Frame::Refused {
                    doc,
                    reason,
                    message
                }),
            (
                prop_oneof![
                    Just(ErrorCode::Version),
                    Just(ErrorCode::Identity),
                    Just(ErrorCode::Protocol),
                    Just(ErrorCode::Storage),
                    Just(ErrorCode::Limit)
                ],
                ".{0,30}"
            )
                .prop_map(|(code, message)| Frame::Error { code, message }),
        ]
    }

    proptest! {
        /// Frame → protobuf → bytes → protobuf → frame gives the frame back.
        #[test]
        fn frames_round_trip_through_the_wire(f in frame()) {
            let bytes = v1::SyncFrame::from(f.clone()).encode_to_vec();
            let back = Frame::try_from(v1::SyncFrame::decode(bytes.as_slice()).unwrap()).unwrap();
            prop_assert_eq!(back, f);
        }

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(pb) = v1::SyncFrame::decode(bytes.as_slice()) {
                let _ = Frame::try_from(pb);
            }
        }
    }

    #[test]
    fn invalid_frames_are_refused_with_a_reason() {
        assert_eq!(
            Frame::try_from(v1::SyncFrame { kind: None }),
            Err(DecodeError::Empty)
        );
        let short = v1::SyncFrame {
            kind: Some(Kind::Digest(v1::Digest {
                entries: vec![v1::DigestEntry {
                    doc_id: "c".into(),
                    heads_hash: vec![1, 2],
                }],
                upto: None,
            })),
        };
        assert_eq!(
            Frame::try_from(short),
            Err(DecodeError::HeadsHash {
                doc: "c".into(),
                len: 2
            })
        );
        let unknown = v1::SyncFrame {
            kind: Some(Kind::Error(v1::Error {
                code: 99,
                message: String::new(),
            })),
        };
        assert!(matches!(
            Frame::try_from(unknown),
            Err(DecodeError::Unknown { .. })
        ));
    }
}
