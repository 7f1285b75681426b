"""What the cluster itself refuses in an environment's team namespaces, whoever asks and however
(kubectl, a pipeline, Pulumi): ValidatingAdmissionPolicies (CEL), admissionregistration.k8s.io/v1,
GA in Kubernetes 1.30. Pure data, no Pulumi.

Who owns them: each env stack owns its own policies and bindings, named
`interlock-platform-<env>-...` and bound by a namespace selector on the environment label only
the platform sets (teams have no rights on namespaces). The facts they hold are the
environment's (its domain, the Service types granted to it), `pulumi up -s dev` can change only
dev's, a policy change reaches dev before prod, and the shared stack holds no Kubernetes
credentials. One policy with per-environment parameters would have to be owned by the shared
stack, so a change to its CEL would reach every environment at once.
"""

from __future__ import annotations

from interlock_platform.core import labels
from interlock_platform.core.k8s_manifests import MANAGER, KubernetesSettings, Manifest

API = "admissionregistration.k8s.io/v1"
# One DNS label: a team's hosts are <name>.<domain>; never a wildcard, never deeper, never the domain.
HOST_LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# Gateway API routes that carry `spec.hostnames` (v1 and the earlier versions a cluster may serve).
ROUTES = ("httproutes", "grpcroutes", "tlsroutes")


def policy_name(environment: str, what: str) -> str:
    return f"{MANAGER}-{environment}-{what}"


def host_pattern(domain: str) -> str:
    """An RE2 pattern (CEL `matches`) for `<one label>.<domain>`. A domain is lower-case labels
    and dots (config validation), so `[.]` is the only escaping it needs, and no backslash has to
    survive YAML, JSON and CEL string quoting."""
    return f"^{HOST_LABEL}[.]{domain.replace('.', '[.]')}$"


def _cel_string(text: str) -> str:
    assert "'" not in text and "\\" not in text  # a pattern built by host_pattern never holds either
    return f"'{text}'"


def _rule(groups: list[str], versions: list[str], resources: list[str]) -> Manifest:
    return {"apiGroups": groups, "apiVersions": versions, "operations": ["CREATE", "UPDATE"], "resources": resources}


def _policy(environment: str, what: str, rules: list[Manifest], validations: list[Manifest]) -> Manifest:
    return {
        "apiVersion": API,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name(environment, what), "labels": {labels.K8S_MANAGED_BY: MANAGER}},
        "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": rules}, "validations": validations},
    }


def _binding(environment: str, what: str) -> Manifest:
    selector = {
        "matchLabels": {labels.ENVIRONMENT: environment},
        "matchExpressions": [{"key": labels.TEAM, "operator": "Exists"}],
    }
    return {
        "apiVersion": API,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name(environment, what), "labels": {labels.K8S_MANAGED_BY: MANAGER}},
        "spec": {
            "policyName": policy_name(environment, what),
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": selector},
        },
    }


# The Service types that take a NodePort on every node of the cluster, and may ask for which one.
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _gateway_node_ports(settings: KubernetesSettings) -> list[Manifest]:
    """Where teams may create Services with NodePorts: none may ask for a Gateway's. Whoever takes
    a NodePort first holds it on every node of the cluster, so that Gateway could not open it."""
    ports = settings.gateway_node_ports
    if not ports or not set(settings.service_types) & set(NODE_PORT_TYPES):
        return []
    listed = ", ".join(str(port) for port in ports)
    return [{
        # healthCheckNodePort (a LoadBalancer with externalTrafficPolicy: Local) is taken from the same range
        "expression": f"(!has(object.spec.ports) || object.spec.ports.all(p, !has(p.nodePort) || !(p.nodePort in [{listed}]))) && "
        f"(!has(object.spec.healthCheckNodePort) || !(object.spec.healthCheckNodePort in [{listed}]))",
        "message": f"Services in {settings.environment} team namespaces cannot ask for an environment's Gateway NodePort "
        f"({listed}) as a nodePort or healthCheckNodePort: whoever takes a NodePort first holds it on every node of the "
        "cluster, so that Gateway could not open it. Leave them out (the API server picks free ones)",
        "reason": "Forbidden",
    }]  # fmt: skip


def services_policy(settings: KubernetesSettings) -> Manifest:
    env, types = settings.environment, settings.service_types
    allowed = ", ".join(f"'{t}'" for t in types)
    return _policy(env, "services", [_rule([""], ["v1"], ["services"])], [
        {
            # CVE-2020-8554: whoever sets externalIPs receives the traffic for those addresses
            # from every pod and node of the cluster, every environment's included.
            "expression": "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
            "message": f"Services in {env} team namespaces cannot set externalIPs: they would intercept traffic to those "
            "addresses cluster-wide (CVE-2020-8554)",
            "reason": "Forbidden",
        },
        {
            "expression": f"!has(object.spec.type) || object.spec.type in [{allowed}]",
            "message": f"Services in {env} team namespaces may be of type {', '.join(types)} only: other types open ports "
            "on nodes or load balancers outside the namespace's NetworkPolicies (the platform grants them by "
            "kubernetes.serviceTypes)",
            "reason": "Forbidden",
        },
        *_gateway_node_ports(settings),
    ])  # fmt: skip


def ingress_policy(settings: KubernetesSettings) -> Manifest:
    env, domain = settings.environment, settings.domain
    host = _cel_string(host_pattern(domain))
    return _policy(env, "ingress-hosts", [_rule(["networking.k8s.io"], ["v1"], ["ingresses"])], [
        {
            "expression": f"has(object.spec.rules) && size(object.spec.rules) > 0 && "
            f"object.spec.rules.all(r, has(r.host) && r.host.matches({host}))",
            "message": f"every rule of an Ingress in a {env} team namespace names its host, <name>.{domain} (one label, "
            "no wildcard): the ingress controller is shared, and a rule without a host, or with another environment's, "
            "takes traffic meant for someone else",
            "reason": "Forbidden",
        },
        {
            "expression": "!has(object.spec.defaultBackend)",
            "message": f"an Ingress in a {env} team namespace cannot set defaultBackend: on the shared ingress controller it "
            "would take every request no other Ingress claims",
            "reason": "Forbidden",
        },
        {
            # ingress-nginx renders *-snippet annotations into the nginx config of the controller every
            # environment shares, which holds every environment's TLS keys (CVE-2021-25742)
            "expression": "!has(object.metadata.annotations) || "
            "!object.metadata.annotations.exists(k, k.endsWith('-snippet'))",
            "message": f"an Ingress in a {env} team namespace cannot carry *-snippet annotations: ingress-nginx would write "
            "them into the nginx config of the controller every environment shares (CVE-2021-25742)",
            "reason": "Forbidden",
        },
        {
            "expression": f"!has(object.spec.tls) || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, h.matches({host})))",
            "message": f"the TLS hosts of an Ingress in a {env} team namespace are <name>.{domain} (one label, no wildcard)",
            "reason": "Forbidden",
        },
    ])  # fmt: skip


def route_policy(settings: KubernetesSettings) -> Manifest:
    env, domain = settings.environment, settings.domain
    host = _cel_string(host_pattern(domain))
    return _policy(env, "route-hostnames", [_rule(["gateway.networking.k8s.io"], ["*"], list(ROUTES))], [
        {
            "expression": f"has(object.spec.hostnames) && size(object.spec.hostnames) > 0 && "
            f"object.spec.hostnames.all(h, h.matches({host}))",
            "message": f"a Gateway API route in a {env} team namespace lists its hostnames, each <name>.{domain} (one "
            "label, no wildcard): a route without hostnames takes every host of the Gateway it attaches to",
            "reason": "Forbidden",
        },
    ])  # fmt: skip


def token_secrets_policy(settings: KubernetesSettings) -> Manifest:
    """CIS 5.1.13 closed on its side road: whoever may create Secrets could ask the token
    controller for a long-lived token of any ServiceAccount of the namespace (the `deployer`'s
    included) with a Secret of type kubernetes.io/service-account-token. Every other type passes."""
    env = settings.environment
    return _policy(env, "token-secrets", [_rule([""], ["v1"], ["secrets"])], [
        {
            "expression": "!has(object.type) || object.type != 'kubernetes.io/service-account-token'",
            "message": f"a Secret in a {env} team namespace cannot be of type kubernetes.io/service-account-token: it would "
            "hold a long-lived token of a ServiceAccount (an admin mints short-lived ones with `kubectl create token`)",
            "reason": "Forbidden",
        },
    ])  # fmt: skip


POLICIES = {
    "services": services_policy,
    "ingress-hosts": ingress_policy,
    "route-hostnames": route_policy,
    "token-secrets": token_secrets_policy,
}


def admission(settings: KubernetesSettings) -> list[Manifest]:
    """The environment's policies, each followed by its binding; nothing before Kubernetes 1.30
    (the stack says so on every run; docs/kubernetes.md lists what is then not enforced)."""
    if not settings.admission_policies:
        return []
    if not settings.domain:
        raise ValueError("the admission policies need the environment's domain")
    return [m for what, build in POLICIES.items() for m in (build(settings), _binding(settings.environment, what))]
