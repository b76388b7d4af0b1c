//! Home of Hearth's multi-node scenarios (several nodes over real gRPC and mTLS on loopback).
//!
//! Single-node behaviour is tested where it lives: the archive model in `hearth-archive`, crash
//! safety in `hearth-store`, the command line in `hearth-cli`. The federation scenarios arrive
//! with the sync engine and the node daemon.
