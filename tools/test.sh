#!/usr/bin/env bash
# The project's test command: installs what the tests need, starts a private Docker engine in
# Swarm mode for the Swarm-layer tests, then runs lint and the whole suite. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# The CloudFormation scanners the tests run: Checkov in its own venv, cfn-guard from npm (.scanners/)
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
python3 -m interlock_platform scan --install

# A real Docker engine (Debian's docker.io) and a static busybox for the test image.
if ! command -v dockerd >/dev/null || ! command -v busybox >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io busybox-static >/dev/null
fi
# The tests' own engine on a private socket (tools/test_engine.py): never the one DOCKER_HOST names,
# which after a runbook's `source env.sh` is a real cluster.
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT
python3 -m tools.test_engine start

python3 -m ruff check .
python3 -m pytest "$@"
