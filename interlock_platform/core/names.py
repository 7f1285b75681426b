"""Who owns a name that more than one environment could use: Kubernetes namespaces and Swarm
overlay networks live in one cluster that dev, test and prod share, and a real `pulumi up -s dev`
cannot read prod's stack file. So a name carries its environment, by a rule every env stack can
check with only its own config and the shared stack's registry (the registered environment
names): each name has at most one owner, whatever the other stacks hold. The cluster's own names
are reserved. Pure; used by `topology` and `teams`.

- A namespace belongs to the environment whose name ends it after a '-' (`payments-prod` is
  prod's); the longest registered name wins, so `ledger-eu-prod` is eu-prod's, not prod's.
- An overlay network belongs to the environment named by its first or its last '_'-separated
  word (`ingress_prod`, `prod_backend`); environment names hold no '_', so the words are exact. A
  name whose two words name two environments belongs to neither.
"""

from __future__ import annotations

from collections.abc import Collection

# Kubernetes' own (kube-*, default) and those of the controllers MKE installs or a cluster commonly
# runs for every environment: the ingress controller, Envoy Gateway (MKE 3.9, MKE 4). The stack's
# kubernetes.ingressControllerNamespace and dnsNamespace are reserved too (`namespace_problem`).
RESERVED_NAMESPACES = ("default", "ingress-nginx", "envoy-gateway-system", "envoy-gateway")
RESERVED_NAMESPACE_PREFIXES = ("kube-",)  # Kubernetes reserves the prefix for its system namespaces
# Docker's and Swarm's own networks (`ingress` is the routing mesh), and UCP's (ucp-hrm, ucp-interlock...)
RESERVED_NETWORKS = ("ingress", "docker_gwbridge", "bridge", "host", "none")
RESERVED_NETWORK_PREFIXES = ("ucp-", "ucp_")


def namespace_owner(namespace: str, environments: Collection[str]) -> str | None:
    """The registered environment a namespace belongs to, or None."""
    owners = [e for e in environments if namespace.endswith(f"-{e}") and len(namespace) > len(e) + 1]
    return max(owners, key=len, default=None)


def network_owners(network: str, environments: Collection[str]) -> set[str]:
    """The registered environments a network's first and last '_'-separated words name."""
    words = network.split("_")
    if len(words) < 2:
        return set()
    return {w for w in (words[0], words[-1]) if w in environments}


def reserved_namespace(namespace: str, platform: Collection[str] = ()) -> str | None:
    """Why a namespace is the cluster's, or None. `platform`: the namespaces this stack's config
    names for the ingress controller and the cluster DNS."""
    if namespace in platform:
        return "the namespace of the ingress controller or the cluster DNS that every environment's teams reach (kubernetes.ingressControllerNamespace or dnsNamespace)"
    if namespace in RESERVED_NAMESPACES:
        return "one of the cluster's own namespaces"
    if namespace.startswith(RESERVED_NAMESPACE_PREFIXES):
        return "in kube-*, which Kubernetes reserves for its system namespaces"
    return None


def namespace_problem(
    namespace: str, env: str, environments: Collection[str], platform: Collection[str] = ()
) -> tuple[str, str] | None:
    """(message, fix) when `env` may not own `namespace`; None when it may. `environments`: every
    registered environment name (the registry), `env` among them."""
    fix = f"name it <team>-{env}, e.g. payments-{env} (the default when namespace is not set)"
    why = reserved_namespace(namespace, platform)
    if why:
        return f"{namespace} is {why}, shared by every environment", fix
    owner = namespace_owner(namespace, {*environments, env})
    if owner is None:
        return f"{namespace} does not end in -{env}: a namespace carries its environment, so no other stack can take it", fix
    if owner != env:
        return f"{namespace} belongs to environment '{owner}' (it ends in -{owner})", fix
    return None


def network_problem(network: str, env: str, environments: Collection[str]) -> tuple[str, str] | None:
    """(message, fix) when `env` may not own overlay network `network`; None when it may."""
    fix = f"name it {env}_<purpose> or <purpose>_{env}, e.g. {env}_backend"
    if network in RESERVED_NETWORKS or network.startswith(RESERVED_NETWORK_PREFIXES):
        return f"{network} is one of Docker's, Swarm's or UCP's own networks, shared by every environment", fix
    owners = network_owners(network, {*environments, env})
    others = sorted(owners - {env})
    if others:
        return f"{network} names environment '{others[0]}' (its first or last '_'-separated word)", fix
    if env not in owners:
        return (
            f"{network} does not start with {env}_ or end in _{env}: an overlay network carries its environment, so no other "
            "stack can take it",
            fix,
        )
    return None
