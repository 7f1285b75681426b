#!/usr/bin/env bash
# The project's test command: installs what the tests need, starts a Docker engine in Swarm
# mode for the Swarm-layer tests, then runs lint and the whole suite. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# The CloudFormation scanners the tests run: Checkov in its own venv, cfn-guard from npm (.scanners/)
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
python3 -m tools.scan --install

# A real Docker engine (Debian's docker.io) and a static busybox for the test image.
if ! command -v dockerd >/dev/null || ! command -v busybox >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io busybox-static >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  # No iptables or bridge inside a sandbox: Swarm services, configs and overlays still work.
  nohup dockerd --iptables=false --bridge=none >/tmp/interlock-platform-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/interlock-platform-dockerd.log" >&2; exit 1; }
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
fi

python3 -m ruff check .
python3 -m pytest "$@"
