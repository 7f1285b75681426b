"""interlock-platform: Docker Enterprise (UCP / MKE) on AWS with dev, test and prod isolated.

The folders are the architecture, and dependencies run one way, top to bottom:

- `core/`: the pure core. The config contract (pydantic models in `config_models`), the derived model
  (`topology`, `teams`) and the plans (firewall, Interlock TOML, Kubernetes manifests, app
  labels, ports). It imports nothing from Pulumi.
- `stack_config`: the thin shell that reads a stack's config through Pulumi into the core.
- `aws/`, `swarm/` (with its dynamic providers), `kubernetes/`: one package of
  ComponentResources per layer, each building what the core planned.

The program (`__main__.py`) wires them together. The offline tooling (`tooling/`: the
`interlock-platform` command, also `python -m interlock_platform`) runs the program under
Pulumi's mocks; nothing above imports it.
"""

__version__ = "0.1.0"  # the release; pyproject.toml reads it (CHANGELOG.md says what each brought)
