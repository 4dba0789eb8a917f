"""Test doubles for outbound calls: a DNS stub whose answers the test scripts, and a local
HTTPS server with a certificate for a name of the test's choosing. Nothing leaves loopback."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webapp.services.credentials import url_guard

REAL_RESOLVER = url_guard.system_resolver


class StubDNS:
    """Answers names from a script: each lookup of a name takes its next answer (the last
    one repeats). Literal addresses resolve as usual; any other name fails."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[tuple[str, int]] = []

    def set(self, name: str, *answers: list[str]) -> StubDNS:
        """``name`` answers ``answers[0]`` first, then ``answers[1]`` …"""
        self.answers[name] = list(answers)
        return self

    def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            return REAL_RESOLVER(host, port)  # literals only: the tests never reach DNS
        self.lookups.append((host, port))
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def certificates(host: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, leaf certificate, leaf key) in PEM, the leaf valid for ``host``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Switchboard test CA"))
        .issuer_name(_name("Switchboard test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), leaf.public_bytes(pem), key_pem


class _Hello(BaseHTTPRequestHandler):
    """Answers every GET with a small JSON body, keeping the connection open."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        self.server.peers.append(self.client_address[1])  # type: ignore[attr-defined]
        body = b'{"hello": "world"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        """A streamed chat completion (chunked SSE up to ``data: [DONE]``); the server's
        ``after_done`` bytes follow it, then ``stall_s`` seconds before the body ends."""
        self.server.peers.append(self.client_address[1])  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        events = [
            {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
        ]
        body = b"".join(b"data: %s\n\n" % json.dumps(e).encode() for e in events)
        body += b"data: [DONE]\n\n" + self.server.after_done  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
        self.wfile.flush()
        if stall := self.server.stall_s:  # type: ignore[attr-defined]
            time.sleep(stall)
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def http_server(tls: ssl.SSLContext | None = None) -> Iterator[Any]:
    """A keep-alive server on 127.0.0.1; yields it with ``.port``, ``.hosts`` (the Host
    headers received), ``.peers`` (the client port of each request) and ``.sni``. A GET gets
    a small JSON body, a POST a streamed chat completion (see ``_Hello.do_POST``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    server.hosts, server.peers, server.sni = [], [], []  # type: ignore[attr-defined]
    server.after_done, server.stall_s = b"", 0.0  # type: ignore[attr-defined]
    if tls is not None:
        tls.sni_callback = lambda sock, name, ctx: server.sni.append(name)  # type: ignore[attr-defined]
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.port = server.server_address[1]  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def https_server(tmp_path: Any, certificate_for: str) -> Iterator[Any]:
    """``http_server`` over TLS with a certificate for ``certificate_for``, issued by a CA
    whose PEM is ``server.ca``."""
    ca, leaf, key = certificates(certificate_for)
    (tmp_path / "leaf.pem").write_bytes(leaf)
    (tmp_path / "leaf.key").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    with http_server(context) as server:
        server.ca = ca
        yield server
