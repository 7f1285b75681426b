"""Which Interlock images belong to the MKE release a cluster runs, and Interlock's first config:
pure, over tomlkit.

The release is read from the running cluster, never guessed: UCP's `ucp-agent` service runs
`<org>/ucp-agent:<release>` (with the labels `com.docker.ucp.version` and
`com.docker.ucp.InstanceID`). Interlock's three images are published under the same org and tag:
Mirantis' "Update Interlock services" page (MKE 3.8) has `mirantis/ucp images --list` print every
image of the release at its tag (`mirantis/ucp-agent:3.8.10`, ...), Docker's version of that page
lists `ucp-interlock`, `ucp-interlock-extension` and `ucp-interlock-proxy` among them, and the
"Offline installation considerations" page saves `mirantis/ucp-interlock:3.3.16`,
`mirantis/ucp-interlock-extension:3.3.16` and `mirantis/ucp-interlock-proxy:3.3.16`. The org of the
running agent (`mirantis`, `docker` before MKE, or a mirror such as `registry.corp/mirantis`
for offline installs) is kept as it is.

Only Interlock's own images follow the release: an image of another name in an extension (a
custom proxy, say) is the operator's choice and is left alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import tomlkit
from tomlkit.items import Table

from interlock_platform.core import interlock_toml, labels

AGENT_SERVICE = "ucp-agent"
AGENT_IMAGE = "ucp-agent"
CORE_IMAGE, EXTENSION_IMAGE, PROXY_IMAGE = "ucp-interlock", "ucp-interlock-extension", "ucp-interlock-proxy"
# The extension keys that name images (Mirantis' "Configuration file options for layer 7 routing")
IMAGE_KEYS = ("Image", "ProxyImage", "ConfigImage")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


class ReleaseError(ValueError):
    """The release cannot be told from the cluster; the message says what was found and what to check."""


@dataclass(frozen=True)
class ImageRef:
    repository: str  # with registry and org: "registry.corp:5000/mirantis/ucp-agent"
    tag: str | None

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    @property
    def org(self) -> str:
        return self.repository.rsplit("/", 1)[0] if "/" in self.repository else ""


def parse_image(reference: str) -> ImageRef:
    """`[registry/]org/name[:tag][@digest]`; the digest is dropped (another image's digest
    cannot be known from this one's)."""
    ref = reference.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ImageRef(ref[:colon], ref[colon + 1 :])
    return ImageRef(ref, None)


def is_interlock_image(reference: str) -> bool:
    """ucp-interlock and its companions (ucp-interlock-extension, -proxy, -config)."""
    name = parse_image(reference).name
    return name == CORE_IMAGE or name.startswith(f"{CORE_IMAGE}-")


def same_image(a: str, b: str) -> bool:
    """The same repository and tag, whatever digest Swarm pinned on either."""
    return parse_image(a) == parse_image(b)


@dataclass(frozen=True)
class Release:
    org: str  # "mirantis", "docker", or a mirror's "registry.corp/mirantis"
    tag: str  # "3.9.7"
    version: str | None = None  # the agent's com.docker.ucp.version label, when it has one
    instance_id: str | None = None  # the agent's com.docker.ucp.InstanceID label

    def image(self, name: str) -> str:
        return f"{self.org}/{name}:{self.tag}" if self.org else f"{name}:{self.tag}"

    @property
    def core(self) -> str:
        return self.image(CORE_IMAGE)

    @property
    def extension(self) -> str:
        return self.image(EXTENSION_IMAGE)

    @property
    def proxy(self) -> str:
        return self.image(PROXY_IMAGE)

    def moved(self, reference: str) -> str:
        """An Interlock image, at this release; any other image as it is."""
        if not is_interlock_image(reference):
            return reference
        return self.image(parse_image(reference).name)


def release_of(agent_image: str, agent_labels: dict[str, str] | None = None) -> Release:
    """The release the cluster runs, from the `ucp-agent` service's image and labels."""
    ref = parse_image(agent_image)
    if ref.name != AGENT_IMAGE or not ref.tag or not _TAG_RE.match(ref.tag):
        raise ReleaseError(
            f"the {AGENT_SERVICE} service runs {agent_image!r}, not <org>/{AGENT_IMAGE}:<release>, so the MKE release (and with it "
            "Interlock's images) cannot be told; check `docker service inspect ucp-agent` on the cluster this stack reaches (ucpHost)"
        )
    found = agent_labels or {}
    return Release(ref.org, ref.tag, found.get("com.docker.ucp.version"), found.get(labels.UCP_INSTANCE_ID))


def _extension_tables(text: str) -> list[tuple[str, Table]]:
    ext = interlock_toml.extensions(interlock_toml.parse(text))
    return [(name, table) for name, table in (ext or {}).items() if isinstance(table, Table)]


def stale_images(text: str, core_image: str, release: Release) -> list[str]:
    """What does not run `release` yet: `ucp-interlock`'s image and each extension's Interlock images."""
    found = []
    if is_interlock_image(core_image) and not same_image(core_image, release.moved(core_image)):
        found.append(f"{labels.INTERLOCK_SERVICE} runs {core_image}")
    for name, table in _extension_tables(text):
        for key in IMAGE_KEYS:
            value = table.get(key)
            if isinstance(value, str) and value and not same_image(value, release.moved(value)):
                found.append(f"[Extensions.{name}] {key} = {value}")
    return found


def follow(text: str, release: Release) -> str:
    """The config with every extension's Interlock images at `release`; every other byte kept.
    Unchanged text when they already are."""
    doc = interlock_toml.parse(text)
    ext = interlock_toml.extensions(doc)
    changed = False
    for _name, table in list((ext or {}).items()):
        if not isinstance(table, Table):
            continue
        for key in IMAGE_KEYS:
            value = table.get(key)
            if isinstance(value, str) and value and not same_image(value, release.moved(value)):
                table[key] = release.moved(value)
                changed = True
    return tomlkit.dumps(doc) if changed else text


def default_config(release: Release, http_port: int, https_port: int) -> str:
    """The config UCP writes when Layer 7 routing is enabled (conf-1), at `release`: the default
    configuration Docker's "Deploy a layer 7 routing solution" prints, with the release's images,
    the cluster's InstanceID and the ports the UI would be given."""
    q = json.dumps  # TOML basic strings take JSON's escapes for these values
    instance = (
        "".join(
            f"    [Extensions.default.{table}]\n      {q(labels.UCP_INSTANCE_ID)} = {q(release.instance_id)}\n"
            for table in ("Labels", "ContainerLabels", "ProxyLabels", "ProxyContainerLabels")
        )
        if release.instance_id
        else ""
    )
    constraints = '["node.labels.com.docker.ucp.orchestrator.swarm==true", "node.platform.os==linux"]'
    return (
        'ListenAddr = ":8080"\n'
        'DockerURL = "unix:///var/run/docker.sock"\n'
        "AllowInsecure = false\n"
        'PollInterval = "3s"\n'
        "\n"
        "[Extensions]\n"
        "  [Extensions.default]\n"
        f"    Image = {q(release.extension)}\n"
        '    ServiceName = "ucp-interlock-extension"\n'
        "    Args = []\n"
        f"    Constraints = {constraints}\n"
        f"    ProxyImage = {q(release.proxy)}\n"
        '    ProxyServiceName = "ucp-interlock-proxy"\n'
        '    ProxyConfigPath = "/etc/nginx/nginx.conf"\n'
        "    ProxyReplicas = 2\n"
        '    ProxyStopSignal = "SIGQUIT"\n'
        '    ProxyStopGracePeriod = "5s"\n'
        f"    ProxyConstraints = {constraints}\n"
        '    PublishMode = "ingress"\n'
        f"    PublishedPort = {int(http_port)}\n"
        "    TargetPort = 80\n"
        f"    PublishedSSLPort = {int(https_port)}\n"
        "    TargetSSLPort = 443\n"
        f"{instance}"
        "    [Extensions.default.Config]\n"
        '      Version = ""\n'
        '      User = "nginx"\n'
        '      PidPath = "/var/run/proxy.pid"\n'
        "      MaxConnections = 1024\n"
        "      ConnectTimeout = 600\n"
        "      SendTimeout = 600\n"
        "      ReadTimeout = 600\n"
        "      IPHash = false\n"
        '      SSLOpts = ""\n'
        "      SSLDefaultDHParam = 1024\n"
        '      SSLDefaultDHParamPath = ""\n'
        '      SSLVerify = "required"\n'
        "      WorkerProcesses = 1\n"
        "      RLimitNoFile = 65535\n"
        '      SSLCiphers = "HIGH:!aNULL:!MD5"\n'
        '      SSLProtocols = "TLSv1.2"\n'
        '      AccessLogPath = "/dev/stdout"\n'
        '      ErrorLogPath = "/dev/stdout"\n'
        '      KeepaliveTimeout = "75s"\n'
        '      ClientMaxBodySize = "32m"\n'
        '      ClientBodyBufferSize = "8k"\n'
        '      ClientHeaderBufferSize = "1k"\n'
        '      LargeClientHeaderBuffers = "4 8k"\n'
        '      ClientBodyTimeout = "60s"\n'
        "      UnderscoresInHeaders = false\n"
        "      HideInfoHeaders = false\n"
    )
