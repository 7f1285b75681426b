"""The client bundle's key material never outlives a connection to the engine, and never lands
on disk where memory files exist (Linux). Checked against a TLS endpoint on loopback that
requires a client certificate, through docker-py's own TLS path (requests and urllib3)."""

from __future__ import annotations

import datetime
import gc
import http.server
import ipaddress
import json
import os
import ssl
import tempfile
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from interlock_platform.swarm.providers.engine import EngineConnection, EngineUnreachable


def _cert(subject: str, key, issuer_key, issuer_name=None, ca=False, ip=None):
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate: a UCP client bundle."""
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("test ca", ca_key, ca_key, ca=True)
    server = _cert("ucp", server_key, ca_key, ca.subject, ip="127.0.0.1")
    client = _cert("admin", client_key, ca_key, ca.subject)
    folder = tmp_path_factory.mktemp("server")
    (folder / "server.pem").write_text(_pem(server) + _pem(server_key))
    (folder / "ca.pem").write_text(_pem(ca))
    return {"ca": _pem(ca), "cert": _pem(client), "key": _pem(client_key), "server": folder}


@pytest.fixture(scope="module")
def tls_engine(bundle):
    """Answers the two calls docker-py makes to connect (/version, /_ping), only to clients that
    present a certificate of the bundle's CA."""

    class Engine(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"ApiVersion": "1.41"}).encode() if self.path.endswith("/version") else b"OK"
            self.send_response(200)
            self.send_header("Api-Version", "1.41")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Engine)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(bundle["server"] / "server.pem")
    context.load_verify_locations(bundle["server"] / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def key_material_left() -> tuple[list[str], list[str]]:
    """Bundle directories in the temporary folder, and memory files this process holds."""
    folders = sorted(p.name for p in Path(tempfile.gettempdir()).glob("ucp-bundle-*"))
    memfds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:ucp-bundle"):
                memfds.append(fd)
        except OSError:
            pass
    return folders, memfds


def test_a_working_connection_reads_the_bundle_from_memory_and_releases_it(bundle, tls_engine):
    before = key_material_left()
    conn = EngineConnection(tls_engine, bundle["ca"], bundle["cert"], bundle["key"])
    client = conn.client()
    assert client.ping() is True  # the server verified the client certificate read from memory
    folders, memfds = key_material_left()
    assert folders == before[0], "nothing written to the temporary folder"
    assert len(memfds) == 3  # ca.pem, cert.pem, key.pem, as memory files for the connection's life
    client.close()
    assert key_material_left() == before
    for _ in range(5):  # providers do not close their clients: collection releases them too
        assert conn.client().ping() is True
    gc.collect()
    assert key_material_left() == before


def test_a_failed_connection_leaves_no_key_material(bundle):
    before = key_material_left()
    conn = EngineConnection("tcp://127.0.0.1:9", bundle["ca"], bundle["cert"], bundle["key"])
    for _ in range(5):
        with pytest.raises(EngineUnreachable):
            conn.client(timeout=5)
    assert key_material_left() == before


def test_a_wrong_bundle_is_refused_by_the_engine(bundle, tls_engine):
    stranger = ec.generate_private_key(ec.SECP256R1())
    other = _cert("stranger", stranger, stranger)
    conn = EngineConnection(tls_engine, bundle["ca"], _pem(other), _pem(stranger))
    with pytest.raises(EngineUnreachable, match="cannot reach the Docker engine"):
        conn.client(timeout=5)
    assert key_material_left()[1] == []
