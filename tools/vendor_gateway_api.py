"""Copies the Gateway API project's published CRDs (standard channel) at one release out of a
git clone of kubernetes-sigs/gateway-api, and records the release and its commit beside them.
The tests hold every Gateway API object the platform renders to these (tools/gateway_api.py).

    git clone --bare https://github.com/kubernetes-sigs/gateway-api /tmp/gateway-api.git
    python -m tools.vendor_gateway_api /tmp/gateway-api.git v1.6.1
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# The standard channel's CRDs of the kinds the platform renders or its policy reasons about.
CRDS = ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "referencegrants")
CHANNEL = "standard"
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gateway-api"


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", repo, *args], check=True, capture_output=True, text=True).stdout


def main(repo: str, release: str) -> None:
    git_dir = str(Path(repo, ".git")) if Path(repo, ".git").exists() else repo  # a work tree, or a bare clone
    commit = _git(git_dir, "rev-parse", f"{release}^{{commit}}").strip()
    committed = _git(git_dir, "log", "-1", "--format=%cI", commit).strip()
    target = OUT / release
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for crd in CRDS:
        path = f"config/crd/{CHANNEL}/gateway.networking.k8s.io_{crd}.yaml"
        (target / f"{crd}.yaml").write_text(_git(git_dir, "show", f"{commit}:{path}"))
    (target / "README.md").write_text(
        f"# Gateway API CRDs, {release} ({CHANNEL} channel)\n\n"
        "Copied unchanged by `python -m tools.vendor_gateway_api <clone> <release>` from\n"
        "https://github.com/kubernetes-sigs/gateway-api:\n\n"
        f"- release: {release}\n- commit: {commit} (committed {committed})\n"
        f"- files: `config/crd/{CHANNEL}/gateway.networking.k8s.io_<kind>.yaml`, saved as `<kind>.yaml`\n\n"
        "The tests validate every Gateway API object the platform renders against these schemas and\n"
        "their `x-kubernetes-validations` CEL rules (`tools/gateway_api.py`).\n"
    )
    print(f"wrote {len(CRDS)} CRDs of {release} ({commit}) to {target}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
