"""How the dynamic providers reach the Docker engine (UCP): from the stack's own config, the
same keys the `pulumi_docker.Provider` uses, or from the environment (`DOCKER_HOST`, as the
UCP client bundle's env.sh sets it). Never from resource inputs: those land in state."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi.dynamic as dyn

from interlock_platform.core.topology import PROJECT

if TYPE_CHECKING:
    import docker
    import docker.tls

# docker-py (with requests and urllib3) is imported by the code that talks to the engine, not
# at module level: a program that only registers these resources, as every preview does, never
# calls it, and the import costs ~0.13 s.

HOST_KEY, CA_KEY, CERT_KEY, KEY_KEY = "ucpHost", "ucpCaCert", "ucpClientCert", "ucpClientKey"


def _client_trusting_the_bundle(host: str, tls: docker.tls.TLSConfig, timeout: int) -> docker.DockerClient:
    """A client that verifies UCP against the bundle's CA, whatever the environment says.
    requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (set on many corporate machines) replace
    a session's CA, so UCP's own CA would be ignored and the connection refused; the client
    keeps the environment's proxies and the rest."""
    import docker

    class BundleApiClient(docker.APIClient):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            settings = super().merge_environment_settings(*args, **kwargs)
            if isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = BundleApiClient(base_url=host, tls=tls, timeout=timeout)  # what DockerClient.__init__ does
    return client


def _nothing_to_release() -> None:
    """A connection without a client bundle writes nothing."""


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

        release: Callable[[], None] = _nothing_to_release
        try:
            if self.host is None:
                client = docker.from_env(timeout=timeout)
            elif self.cert_pem and self.key_pem:
                tls, release = self._tls()
                client = _client_trusting_the_bundle(self.host, tls, timeout)
            else:
                client = docker.DockerClient(base_url=self.host, timeout=timeout)
            client.ping()
        except (DockerException, OSError) as err:
            release()  # no key material outlives a failed connection
            raise EngineUnreachable(
                f"cannot reach the Docker engine at {self.where}: {err}. Check interlock-platform:ucpHost and the client bundle "
                "(ucpCaCert, ucpClientCert, ucpClientKey) in the stack config, or source the bundle's env.sh"
            ) from None
        # the bundle lives as long as the client: closed, or collected when the provider call returns
        weakref.finalize(client, release)
        close = client.close

        def close_and_release() -> None:
            close()
            release()

        client.close = close_and_release  # type: ignore[method-assign]
        return client

    def _tls(self) -> tuple[docker.tls.TLSConfig, Callable[[], None]]:
        """docker-py reads the client bundle from files, at every new connection (`bundle_files`)."""
        import docker.tls

        paths, release = self.bundle_files()
        try:
            tls = docker.tls.TLSConfig(
                client_cert=(paths["cert.pem"], paths["key.pem"]), ca_cert=paths.get("ca.pem"), verify=bool(self.ca_pem)
            )
        except Exception:
            release()
            raise
        return tls, release

    def bundle_files(self) -> tuple[dict[str, str], Callable[[], None]]:
        """The client bundle as files, for clients that read it from files (docker-py, requests).
        On Linux they are memory files (memfd), reached as /proc/self/fd/N: nothing touches a
        disk. Elsewhere a private temporary directory. Either way the returned `release` removes
        them; the caller calls it when its client is closed or collected."""
        pems = {
            name: pem for name, pem in (("ca.pem", self.ca_pem), ("cert.pem", self.cert_pem), ("key.pem", self.key_pem)) if pem
        }
        paths: dict[str, str] = {}
        if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
            fds = []
            for name, pem in pems.items():
                fd = os.memfd_create(f"ucp-bundle-{name}", os.MFD_CLOEXEC)
                os.write(fd, pem.encode())
                fds.append(fd)
                paths[name] = f"/proc/self/fd/{fd}"

            def release() -> None:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                fds.clear()
        else:
            folder = Path(tempfile.mkdtemp(prefix="ucp-bundle-"))
            for name, pem in pems.items():
                path = folder / name
                path.touch(mode=0o600)
                path.write_text(pem)
                paths[name] = str(path)

            def release() -> None:
                shutil.rmtree(folder, ignore_errors=True)

        return paths, release


class SwarmProvider(dyn.ResourceProvider):
    """Base of the dynamic providers: Pulumi hands them the stack config in `configure`."""

    serialize_as_secret_always = False  # it holds no secrets: the connection comes from configure()

    def __init__(self) -> None:
        self.connection = EngineConnection()

    def configure(self, req: dyn.ConfigureRequest) -> None:
        self.connection = EngineConnection.from_config(req.config)
