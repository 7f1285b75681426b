"""How the dynamic providers reach the Docker engine (UCP): from the stack's own config, the
same keys the `pulumi_docker.Provider` uses, or from the environment (`DOCKER_HOST`, as the
UCP client bundle's env.sh sets it). Never from resource inputs: those land in state."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi.dynamic as dyn

from components.topology import PROJECT

if TYPE_CHECKING:
    import docker
    import docker.tls

# docker-py (with requests and urllib3) is imported by the code that talks to the engine, not
# at module level: a program that only registers these resources, as every preview does, never
# calls it, and the import costs ~0.13 s.

HOST_KEY, CA_KEY, CERT_KEY, KEY_KEY = "ucpHost", "ucpCaCert", "ucpClientCert", "ucpClientKey"


class EngineUnreachable(RuntimeError):
    pass


@dataclass(frozen=True, repr=False)
class EngineConnection:
    host: str | None = None  # None: from the environment
    ca_pem: str | None = None
    cert_pem: str | None = None
    key_pem: str | None = None

    def __repr__(self) -> str:  # never print key material
        return f"EngineConnection(host={self.host or os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')!r}, tls={self.cert_pem is not None})"

    @classmethod
    def from_config(cls, get: object) -> EngineConnection:
        """`get(key)` reads the stack config (pulumi.dynamic.Config.get in a provider)."""
        read = get.get if hasattr(get, "get") else get  # type: ignore[attr-defined]
        # `or None`: the CLI merges Pulumi.yaml's default "" into every stack that does not set a key
        values = [read(f"{PROJECT}:{k}") or None for k in (HOST_KEY, CA_KEY, CERT_KEY, KEY_KEY)]
        return cls(*values)

    @property
    def where(self) -> str:
        return self.host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"

    def client(self, timeout: int = 60) -> docker.DockerClient:
        import docker
        from docker.errors import DockerException

        try:
            if self.host is None:
                client = docker.from_env(timeout=timeout)
            elif self.cert_pem and self.key_pem:
                client = docker.DockerClient(base_url=self.host, tls=self._tls(), timeout=timeout)
            else:
                client = docker.DockerClient(base_url=self.host, timeout=timeout)
            client.ping()
        except (DockerException, OSError) as err:
            raise EngineUnreachable(
                f"cannot reach the Docker engine at {self.where}: {err}. Check interlock-platform:ucpHost and the client bundle "
                "(ucpCaCert, ucpClientCert, ucpClientKey) in the stack config, or source the bundle's env.sh"
            ) from None
        return client

    def _tls(self) -> docker.tls.TLSConfig:
        import docker.tls

        # docker-py reads certificates from files: write them to a private directory.
        folder = Path(tempfile.mkdtemp(prefix="ucp-bundle-"))
        paths = {}
        for name, pem in (("ca.pem", self.ca_pem), ("cert.pem", self.cert_pem), ("key.pem", self.key_pem)):
            if pem:
                path = folder / name
                path.touch(mode=0o600)
                path.write_text(pem)
                paths[name] = str(path)
        return docker.tls.TLSConfig(
            client_cert=(paths["cert.pem"], paths["key.pem"]), ca_cert=paths.get("ca.pem"), verify=bool(self.ca_pem)
        )


class SwarmProvider(dyn.ResourceProvider):
    """Base of the dynamic providers: Pulumi hands them the stack config in `configure`."""

    serialize_as_secret_always = False  # it holds no secrets: the connection comes from configure()

    def __init__(self) -> None:
        self.connection = EngineConnection()

    def configure(self, req: dyn.ConfigureRequest) -> None:
        self.connection = EngineConnection.from_config(req.config)
