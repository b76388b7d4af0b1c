//! The standard gRPC services on each of a node's servers — `grpc.health.v1.Health` and server
//! reflection (`v1`, and `v1alpha` for clients that still ask it) — so that grpcurl,
//! grpc_health_probe and any gRPC library can talk to a node: on the mTLS port with a certificate
//! from the federation CA, and on the local socket (`grpcurl -unix`) for whoever may open it.

use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_reflection::server::{v1, v1alpha};

use crate::NodeError;

/// What every server carries besides the node's own services.
const STANDARD: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The node's own services on the mTLS port (`Local` is on the Unix socket only).
pub const ON_TLS_PORT: &[&str] = &["hearth.v1.Federation", "hearth.v1.Archive"];
/// The node's own services on the Unix socket.
pub const ON_SOCKET: &[&str] = &["hearth.v1.Local", "hearth.v1.Archive"];

/// The health service, reporting the server and each of `services` as serving.
pub async fn health(services: &[&str]) -> HealthServer<impl Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    for name in services {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    service
}

/// Server reflection listing `services` and the standard ones, v1 and v1alpha.
#[allow(clippy::type_complexity)]
pub fn reflection(
    services: &[&str],
) -> Result<
    (
        v1::ServerReflectionServer<impl v1::ServerReflection>,
        v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
    ),
    NodeError,
> {
    let builder = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(hearth_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            );
        for name in services.iter().chain(STANDARD.iter()) {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    let failed = |e: tonic_reflection::server::Error| NodeError::Reflection(e.to_string());
    Ok((
        builder().build_v1().map_err(failed)?,
        builder().build_v1alpha().map_err(failed)?,
    ))
}
