"""The transport dials the vetted address yet keeps the host's name for Host and TLS."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.webhooks.ssrf import AddressPolicy, Dial
from chalicelib.webhooks.transport import Transport
from tests.functional.webhooks.receiver import Receiver


def certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """Write a self-signed certificate for ``name`` and its key; return both paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsReceiver:
    """An https server on 127.0.0.1 that records the SNI name and Host header."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.hosts.append(str(self.headers.get("host")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[TlsReceiver, Path]]:
    cert, key = certificate(tmp_path, "hooks.example")
    receiver = TlsReceiver(cert, key)
    yield receiver, cert
    receiver.stop()


def dial(url: str) -> Dial:
    loopback = ipaddress.ip_address("127.0.0.1")
    policy = AddressPolicy(True, True, resolver=lambda host, port: [loopback])
    return policy.vet(url)


def test_https_is_pinned_to_the_vetted_address_with_the_hosts_sni_and_host(
    tls: tuple[TlsReceiver, Path],
) -> None:
    receiver, cert = tls
    transport = Transport(5.0, ca_certs=str(cert))
    reply = transport.post(
        dial(f"https://hooks.example:{receiver.port}/hook"), {}, b"{}"
    )
    assert reply.status_code == 200, reply.error
    assert receiver.server_names == ["hooks.example"]
    assert receiver.hosts == [f"hooks.example:{receiver.port}"]


def test_https_refuses_a_certificate_for_another_name(
    tls: tuple[TlsReceiver, Path], tmp_path: Path
) -> None:
    receiver, cert = tls
    transport = Transport(5.0, ca_certs=str(cert))
    reply = transport.post(
        dial(f"https://other.example:{receiver.port}/hook"), {}, b"{}"
    )
    assert reply.status_code is None
    assert reply.error is not None
    assert "SSLError" in reply.error or "certificate" in reply.error.lower()


def test_an_untrusted_certificate_is_an_error(tls: tuple[TlsReceiver, Path]) -> None:
    receiver, _ = tls
    reply = Transport(5.0).post(
        dial(f"https://hooks.example:{receiver.port}/hook"), {}, b"{}"
    )
    assert reply.status_code is None
    assert reply.error is not None


def test_http_sends_the_hosts_name_in_the_host_header() -> None:
    receiver = Receiver().start()
    try:
        port = receiver.url.split(":")[2].split("/")[0]
        reply = Transport(5.0).post(
            dial(f"http://hooks.example:{port}/path?x=1"), {"x-test": "1"}, b"{}"
        )
        assert reply.status_code == 204
        (request,) = receiver.received
        assert request.headers["host"] == f"hooks.example:{port}"
        assert request.path == "/path?x=1"
        assert request.headers["x-test"] == "1"
    finally:
        receiver.stop()


def test_a_slow_receiver_times_out_within_the_attempt_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        port = listener.getsockname()[1]
        started = time.monotonic()
        reply = Transport(0.5).post(dial(f"http://hooks.example:{port}/"), {}, b"{}")
        assert reply.status_code is None
        assert reply.error == "timed out"
        assert time.monotonic() - started < 3
    finally:
        listener.close()


def test_a_closed_port_is_a_connection_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    reply = Transport(1.0).post(dial(f"http://hooks.example:{port}/"), {}, b"{}")
    assert reply.status_code is None
    assert reply.error == "connection refused or unreachable"


def test_consecutive_posts_reuse_one_pooled_connection() -> None:
    receiver = Receiver(default=200).start()
    try:
        port = receiver.url.split(":")[2].split("/")[0]
        transport = Transport(5.0)
        for _ in range(3):
            reply = transport.post(dial(f"http://hooks.example:{port}/"), {}, b"{}")
            assert reply.status_code == 200
            assert reply.excerpt == "ok"
        assert len(transport._pools) == 1
        transport.close()
    finally:
        receiver.stop()
