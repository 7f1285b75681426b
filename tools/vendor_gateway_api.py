"""Copies published CRDs at one release out of a git clone of their project, unchanged, and
records the release and its commit beside them: Gateway API's standard channel
(kubernetes-sigs/gateway-api), and Envoy Gateway's EnvoyProxy (envoyproxy/gateway), the
parameters a Gateway of the Envoy Gateway class takes. The tests hold every object the platform
renders of these kinds to them (tools/gateway_api.py).

    git clone --bare https://github.com/kubernetes-sigs/gateway-api /tmp/gateway-api.git
    python -m tools.vendor_gateway_api gateway-api /tmp/gateway-api.git v1.6.1
    git clone --bare https://github.com/envoyproxy/gateway /tmp/envoy-gateway.git
    python -m tools.vendor_gateway_api envoy-gateway /tmp/envoy-gateway.git v1.9.0
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gateway-api"
# project -> (repository, folder prefix, {saved file: path in the repository})
GATEWAY_API_KINDS = ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "referencegrants")
SOURCES = {
    "gateway-api": (
        "https://github.com/kubernetes-sigs/gateway-api",
        "",
        {f"{k}.yaml": f"config/crd/standard/gateway.networking.k8s.io_{k}.yaml" for k in GATEWAY_API_KINDS},
    ),
    "envoy-gateway": (
        "https://github.com/envoyproxy/gateway",
        "envoy-gateway-",
        {"envoyproxies.yaml": "charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_envoyproxies.yaml"},
    ),
}


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True).stdout


def main(project: str, repo: str, release: str) -> None:
    url, prefix, files = SOURCES[project]
    git_dir = str(Path(repo, ".git")) if Path(repo, ".git").exists() else repo  # a work tree, or a bare clone
    commit = _git(git_dir, "rev-parse", f"{release}^{{commit}}").strip()
    committed = _git(git_dir, "log", "-1", "--format=%cI", commit).strip()
    target = OUT / f"{prefix}{release}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for saved, path in files.items():
        (target / saved).write_text(_git(git_dir, "show", f"{commit}:{path}"))
    listing = "\n".join(f"- `{saved}`: `{path}`" for saved, path in files.items())
    (target / "README.md").write_text(
        f"# {project} CRDs, {release}\n\n"
        f"Copied unchanged from {url} by\n`python -m tools.vendor_gateway_api {project} <clone> {release}`:\n\n"
        f"- release: {release}\n- commit: {commit} (committed {committed})\n\n{listing}\n\n"
        "The tests validate every object of these kinds the platform renders against their OpenAPI schemas\n"
        "and their `x-kubernetes-validations` CEL rules (`tools/gateway_api.py`).\n"
    )
    print(f"wrote {len(files)} CRDs of {project} {release} ({commit}) to {target}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
