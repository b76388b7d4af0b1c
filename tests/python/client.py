"""A real gRPC client of a Hearth node, written with the official grpcio packages.

It connects over mutual TLS with an admin's client certificate, checks the standard health
service, lists the services through server reflection, reads a case and the typed, paged listing through
hearth.v1.Archive using only descriptors fetched by reflection (no generated code), and checks that a client without
a certificate, or with one from another CA, is refused. Prints one JSON object with what it saw.

With --socket it also checks health and reflection on the node's local Unix socket.

Usage: client.py --addr HOST:PORT --server-name NODE_ID --ca CA.pem --cert C.pem --key C.key
                 --foreign-cert F.pem --foreign-key F.key --case ID [--socket PATH]
"""

import argparse
import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

TIMEOUT = 10


def channel(args, cert=None, key=None):
    creds = grpc.ssl_channel_credentials(
        root_certificates=open(args.ca, "rb").read(),
        private_key=open(key, "rb").read() if key else None,
        certificate_chain=open(cert, "rb").read() if cert else None,
    )
    # The node's certificate names its node id, not the loopback address dialled.
    options = [("grpc.ssl_target_name_override", args.server_name)]
    return grpc.secure_channel(args.addr, creds, options=options)


def health(ch, service=""):
    stub = health_pb2_grpc.HealthStub(ch)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def refused(ch):
    """Whether a call on the channel fails for want of an accepted certificate."""
    try:
        health(ch)
        return None
    except grpc.RpcError as e:
        return e.code().name


def main():
    p = argparse.ArgumentParser()
    for flag in ["addr", "server-name", "ca", "cert", "key", "foreign-cert", "foreign-key", "case"]:
        p.add_argument("--" + flag, required=True)
    p.add_argument("--socket")
    args = p.parse_args()
    seen = {}

    with channel(args, args.cert, args.key) as ch:
        seen["health"] = health(ch)
        seen["health_archive"] = health(ch, "hearth.v1.Archive")

        db = ProtoReflectionDescriptorDatabase(ch)
        seen["services"] = sorted(db.get_services())

        pool = descriptor_pool.DescriptorPool(db)
        archive = pool.FindServiceByName("hearth.v1.Archive")
        get = archive.FindMethodByName("GetCase")
        request_class = message_factory.GetMessageClass(get.input_type)
        reply_class = message_factory.GetMessageClass(get.output_type)
        call = ch.unary_unary(
            "/hearth.v1.Archive/GetCase",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reply_class.FromString,
        )
        request = request_class()
        json_format.ParseDict({"case": args.case}, request)
        reply = json_format.MessageToDict(call(request, timeout=TIMEOUT), preserving_proto_field_name=True)
        case = reply["case"]
        # Only what the test checks: the case itself holds personal data.
        seen["case"] = {k: case[k] for k in ["id", "home", "status", "participants"]}
        seen["case"]["grade"] = case["grading"].get("derived")
        seen["advice_policy"] = reply["advice"]["policy"]

        # The listing: typed CaseSummary messages, two a page, following the page tokens.
        list_method = archive.FindMethodByName("ListCases")
        list_request = message_factory.GetMessageClass(list_method.input_type)
        list_reply = message_factory.GetMessageClass(list_method.output_type)
        list_call = ch.unary_unary(
            "/hearth.v1.Archive/ListCases",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=list_reply.FromString,
        )
        listed, pages, token = [], 0, ""
        while True:
            page = list_call(list_request(page_size=2, page_token=token), timeout=TIMEOUT)
            pages += 1
            listed += [{"id": c.id, "home": c.home, "status": c.status} for c in page.cases]
            token = page.next_page_token
            if not token or pages > 10:
                break
        seen["listed"] = listed
        seen["list_pages"] = pages

    with channel(args) as ch:
        seen["without_certificate"] = refused(ch)
    with channel(args, args.foreign_cert, args.foreign_key) as ch:
        seen["foreign_ca"] = refused(ch)

    if args.socket:
        # The socket path is no valid :authority; name the host as the hearth CLI does.
        options = [("grpc.default_authority", "localhost")]
        with grpc.insecure_channel("unix:" + args.socket, options=options) as ch:
            seen["socket_health"] = health(ch)
            seen["socket_services"] = sorted(ProtoReflectionDescriptorDatabase(ch).get_services())

    json.dump(seen, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
