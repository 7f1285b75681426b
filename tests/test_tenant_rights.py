"""What a team can do with its own credentials, per environment: its RBAC (held to the rules of
Kubernetes RBAC and to CIS Kubernetes Benchmark 5.1), the Pod Security level of its namespaces,
and the admission policies the cluster enforces there, their CEL run by Google's CEL engine
(cel-expr-python) against what a careless or hostile team would submit and its benign twin,
every manifest validated against the official schemas of the Kubernetes it targets."""

from __future__ import annotations

import dataclasses
import json

import kubernetes_validate
import pytest
from cel_expr_python import cel

from interlock_platform.core import k8s_admission, k8s_manifests, labels, ports
from interlock_platform.core.k8s_manifests import KubernetesSettings, TeamSpec
from interlock_platform.core.topology import parse_environment
from interlock_platform.tooling import report
from interlock_platform.tooling.mock_runtime import run_program
from interlock_platform.tooling.policy_config import from_shared_outputs
from interlock_platform.tooling.policy_harness import PolicyPackProcess
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import ENVIRONMENTS, SHARED_REF, full_config, raw, refused_dev, shared_outputs

ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"

# --------------------------------------------------------------------------------------------
# RBAC, evaluated as the RBAC authorizer does (kubernetes.io/docs/reference/access-authn-authz/rbac):
# a rule allows a request when its apiGroups hold the group (or "*"), its resources hold the
# resource, "resource/subresource" for a subresource (or "*", or "resource/*", or "*/subresource"),
# and its verbs hold the verb (or "*"). A rule on a resource does not reach its subresources.


def allows(rules: list[dict], verb: str, resource: str, group: str = "") -> bool:
    base, _, sub = resource.partition("/")
    names = {resource, "*"} | ({f"{base}/*", f"*/{sub}"} if sub else set())
    return any(
        (group in r["apiGroups"] or "*" in r["apiGroups"]) and names & set(r["resources"]) and (verb in r["verbs"] or "*" in r["verbs"])
        for r in rules
    )


GATEWAY_API = "gateway.networking.k8s.io"
# The rows of docs/kubernetes.md's access matrix, each as the requests it stands for: (verb, resource, group)
REQUESTS = {
    "read secrets (CIS 5.1.2)": [("get", "secrets", ""), ("list", "secrets", ""), ("watch", "secrets", "")],
    "create, change, delete secrets": [("create", "secrets", ""), ("update", "secrets", ""), ("patch", "secrets", ""),
                                       ("delete", "secrets", "")],
    "create bare pods (CIS 5.1.4)": [("create", "pods", "")],
    # kubectl exec/attach/port-forward: a POST (create), or a WebSocket upgrade of a GET (get, before 1.35)
    "`kubectl exec`, `attach`, `port-forward`": [("create", "pods/exec", ""), ("get", "pods/exec", ""),
                                                 ("create", "pods/attach", ""), ("get", "pods/attach", ""),
                                                 ("create", "pods/portforward", ""), ("get", "pods/portforward", "")],
    "mint ServiceAccount tokens, `serviceaccounts/token` (CIS 5.1.13)": [("create", "serviceaccounts/token", "")],
    "create Services (the type: see admission below)": [("create", "services", "")],
    "create Ingresses (the hosts: see admission below)": [("create", "ingresses", "networking.k8s.io")],
    "create, change HTTPRoutes, GRPCRoutes (the hostnames: see admission below)": [
        ("create", "httproutes", GATEWAY_API), ("patch", "httproutes", GATEWAY_API), ("delete", "httproutes", GATEWAY_API),
        ("create", "grpcroutes", GATEWAY_API), ("update", "grpcroutes", GATEWAY_API),
    ],
    # the Gateway, grants across namespaces and TLS passthrough stay the platform's
    "create Gateways, ReferenceGrants, TLSRoutes, BackendTLSPolicies": [
        ("create", "gateways", GATEWAY_API), ("patch", "gateways", GATEWAY_API), ("create", "referencegrants", GATEWAY_API),
        ("create", "tlsroutes", GATEWAY_API), ("create", "backendtlspolicies", GATEWAY_API),
        ("create", "gatewayclasses", GATEWAY_API),
    ],
    "create, change Deployments, StatefulSets, Jobs, CronJobs, HPAs, ConfigMaps, PVCs, ServiceAccounts": [
        ("create", "deployments", "apps"), ("patch", "deployments", "apps"), ("update", "statefulsets", "apps"),
        ("create", "jobs", "batch"), ("create", "cronjobs", "batch"), ("patch", "horizontalpodautoscalers", "autoscaling"),
        ("create", "configmaps", ""), ("create", "persistentvolumeclaims", ""), ("create", "serviceaccounts", ""),
    ],
    "delete pods (a restart)": [("delete", "pods", "")],
    "read workloads, pods, Services, ConfigMaps, routes, events, pod logs": [
        ("list", "deployments", "apps"), ("get", "httproutes", GATEWAY_API), ("list", "grpcroutes", GATEWAY_API),
        ("get", "pods", ""), ("list", "services", ""), ("get", "configmaps", ""),
        ("list", "events", ""), ("get", "pods/log", ""),
    ],
    "change NetworkPolicies, Roles, RoleBindings, quotas, namespaces": [
        ("create", "networkpolicies", "networking.k8s.io"), ("patch", "roles", "rbac.authorization.k8s.io"),
        ("patch", "rolebindings", "rbac.authorization.k8s.io"), ("update", "resourcequotas", ""),
        ("delete", "limitranges", ""), ("update", "namespaces", ""),
    ],
}  # fmt: skip
LEVELS = ("develop", "view", "deploy")  # the documented table's columns, in order


def answer(rules: list[dict], requests: list[tuple[str, str, str]]) -> str:
    """"yes" when every request of a row is allowed, "no" when none is; anything between is a
    role the table cannot describe."""
    allowed = [allows(rules, v, r, g) for v, r, g in requests]
    return "yes" if all(allowed) else "no" if not any(allowed) else f"partly: {allowed}"


def documented_matrix() -> dict[str, dict[str, str]]:
    """docs/kubernetes.md's table: row -> level -> yes or no (bold and notes dropped)."""
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    table = text[text.index("| in a team namespace |") :].split("\n\n", 1)[0].splitlines()[2:]
    out = {}
    for line in table:
        row, *cells = [c.strip() for c in line.strip("|").split("|")]
        out[row] = {level: cell.strip("*").split()[0] for level, cell in zip(LEVELS, cells, strict=True)}
    return out


MATRIX = {level: {row for row, cells in documented_matrix().items() if cells[level] == "yes"} for level in LEVELS}


def granted(rules: list[dict]) -> set[str]:
    answers = {what: answer(rules, requests) for what, requests in REQUESTS.items()}
    assert not [a for a in answers.values() if a.startswith("partly")], answers
    return {what for what, a in answers.items() if a == "yes"}


def test_the_documented_matrix_is_what_the_roles_grant():
    documented = documented_matrix()
    assert set(documented) == set(REQUESTS)
    for level in LEVELS:
        rules = [{"apiGroups": list(g), "resources": list(r), "verbs": list(v)} for g, r, v in k8s_manifests.ACCESS_RULES[level]]
        assert {row: answer(rules, REQUESTS[row]) for row in REQUESTS} == {row: cells[level] for row, cells in documented.items()}


@pytest.mark.parametrize("access", ["develop", "view", "deploy"])
def test_each_access_level_grants_what_the_matrix_says(access):
    rules = k8s_manifests.ACCESS_RULES[access]
    manifest = [{"apiGroups": list(g), "resources": list(r), "verbs": list(v)} for g, r, v in rules]
    assert granted(manifest) == MATRIX[access]
    # CIS 5.1.3: no wildcards; CIS 5.1.8: no bind, escalate or impersonate
    assert not {x for r in manifest for x in (*r["apiGroups"], *r["resources"], *r["verbs"])} & {"*", "bind", "escalate", "impersonate"}


def test_the_matrix_tells_a_right_from_a_wrong():
    """The evaluator is the referee of the matrix: it must see a subresource granted by name or
    wildcard, and not through its resource."""
    on_pods = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "create"]}]
    assert allows(on_pods, "create", "pods") and not allows(on_pods, "create", "pods/exec")
    assert allows([{"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]}], "get", "pods/exec")
    assert allows([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "create", "serviceaccounts/token")
    assert not allows(on_pods, "create", "pods", "apps")


def _subjects(run, namespace: str) -> dict[str, set[tuple[str, str]]]:
    """Role name -> the (kind, name) subjects bound to it in `namespace`, as registered."""
    out: dict[str, set[tuple[str, str]]] = {}
    for b in run.of_type(BINDING):
        if b.inputs["metadata"]["namespace"] == namespace:
            out.setdefault(b.inputs["roleRef"]["name"], set()).update((s["kind"], s["name"]) for s in b.inputs["subjects"])
    return out


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_people_and_the_pipeline_get_their_environments_rights(preview, env):
    """In the registered program: people (the team's groups) get develop in dev and test, view in
    prod; the deployer ServiceAccount and the pipeline groups get deploy everywhere."""
    run = preview(env).run
    topo = parse_environment(env, raw(env), shared_outputs())
    people = "view" if env == "prod" else "develop"
    assert topo.kubernetes.team_access == people
    for team in topo.teams:
        roles = {r.inputs["metadata"]["name"]: r.inputs["rules"] for r in run.of_type(ROLE)
                 if r.inputs["metadata"]["namespace"] == team.namespace}  # fmt: skip
        assert granted(roles["team-workloads"]) == MATRIX[people]
        assert granted(roles["team-deploy"]) == MATRIX["deploy"]
        subjects = _subjects(run, team.namespace)
        assert subjects["team-workloads"] == {("Group", g) for g in team.groups}
        assert subjects["team-deploy"] == {("ServiceAccount", "deployer")} | {("Group", g) for g in team.pipeline_groups}
        (account,) = [a for a in run.of_type("kubernetes:core/v1:ServiceAccount") if a.inputs["metadata"]["namespace"] == team.namespace]
        assert account.inputs["automountServiceAccountToken"] is False  # its token is in no pod


def test_a_person_in_prod_cannot_reach_a_secret_any_other_way():
    """Prod's people: no secret reads, no pod of their own to mount one, no way into a running pod
    that has one mounted, no token of the pipeline that may read them."""
    rules = [{"apiGroups": list(g), "resources": list(r), "verbs": list(v)} for g, r, v in k8s_manifests.ACCESS_RULES["view"]]
    for verb, resource, group in [
        ("get", "secrets", ""), ("list", "secrets", ""), ("create", "pods", ""), ("create", "pods/exec", ""),
        ("get", "pods/exec", ""), ("create", "serviceaccounts/token", ""), ("patch", "deployments", "apps"),
        ("create", "jobs", "batch"), ("create", "cronjobs", "batch"), ("update", "serviceaccounts", ""),
        ("create", "pods/ephemeralcontainers", ""), ("patch", "pods/ephemeralcontainers", ""),
    ]:  # fmt: skip
        assert not allows(rules, verb, resource, group), (verb, resource)


@pytest.mark.parametrize(("key", "value", "access"), [("teamAccess", "develop", "develop"), ("teamAccess", "view", "view")])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_team_access_is_config_per_environment(env, key, value, access):
    cfg = raw(env)
    cfg["kubernetes"] = {**cfg.get("kubernetes", {}), key: value}
    topo = parse_environment(env, cfg, shared_outputs())
    assert topo.kubernetes.team_access == access
    role = next(m for m in k8s_manifests.onboarding(topo.teams[0], env, "x=y", topo.kubernetes) if m["kind"] == "Role")
    assert granted(role["rules"]) == MATRIX[access]


@pytest.mark.parametrize(
    ("mutate", "key", "fragment"),
    [
        (lambda c: c["kubernetes"].update(teamAccess="admin"), "kubernetes.teamAccess", "not a team access level"),
        (lambda c: c["kubernetes"].update(podSecurity="privileged"), "kubernetes.podSecurity", "privileged is never given"),
        (lambda c: c["kubernetes"].update(serviceTypes=["ExternalName"]), "kubernetes.serviceTypes[0]", "not a Service type"),
        (
            lambda c: c["teams"][0].update(pipelineGroups=[c["teams"][0]["groups"][0]]),
            "teams[0].pipelineGroups",
            "would get the pipeline's deploy rights",
        ),
    ],
)
def test_access_config_errors_name_the_key(mutate, key, fragment):
    cfg = raw("dev")
    mutate(cfg)
    problems = refused_dev(cfg)
    assert key in problems and fragment in problems[key], problems


def test_pipeline_groups_of_their_own_are_bound_to_deploy():
    cfg = raw("prod")
    cfg["teams"][0]["pipelineGroups"] = ["payments-ci"]
    topo = parse_environment("prod", cfg, shared_outputs())
    binding = next(m for m in k8s_manifests.onboarding(topo.teams[0], "prod", "x=y", topo.kubernetes)
                   if m["kind"] == "RoleBinding" and m["metadata"]["name"] == "team-deploy")  # fmt: skip
    assert {(s["kind"], s["name"]) for s in binding["subjects"]} == {("ServiceAccount", "deployer"), ("Group", "payments-ci")}


# --------------------------------------------------------------------------------------------
# Pod Security admission


def _settings(env: str, version: tuple[int, int], **extra) -> KubernetesSettings:
    cfg = raw(env)
    cfg["kubernetes"] = {**cfg.get("kubernetes", {}), **extra}
    topo = parse_environment(env, cfg, shared_outputs())
    return dataclasses.replace(topo.kubernetes, kubernetes_version=version)


@pytest.mark.parametrize(("env", "level"), [("dev", "baseline"), ("test", "baseline"), ("prod", "restricted")])
def test_every_team_namespace_gets_its_environments_pod_security_level(env, level):
    settings = _settings(env, (1, 31))
    for team in parse_environment(env, raw(env), shared_outputs()).teams:
        ns = k8s_manifests.namespace(team, env, "x=y", settings)
        got = {k: v for k, v in ns["metadata"]["labels"].items() if k.startswith(labels.POD_SECURITY)}
        assert got == {
            "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "v1.31",
            "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "v1.31",
            "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/audit-version": "v1.31",
        }  # fmt: skip
        kubernetes_validate.validate(ns, "1.31.0", strict=True)


def test_pod_security_is_config_and_never_privileged():
    assert _settings("dev", (1, 31), podSecurity="restricted").pod_security == "restricted"
    assert _settings("prod", (1, 31), podSecurity="baseline").pod_security == "baseline"


@pytest.mark.parametrize(("version", "enforced"), [((1, 14), False), ((1, 24), False), ((1, 25), True), ((1, 27), True)])
def test_pod_security_labels_only_where_pod_security_admission_exists(version, enforced):
    team = TeamSpec("payments", "payments-prod", ("payments-developers",))
    ns = k8s_manifests.namespace(team, "prod", "x=y", KubernetesSettings(kubernetes_version=version, pod_security="restricted"))
    assert (f"{labels.POD_SECURITY}/enforce" in ns["metadata"]["labels"]) is enforced


# --------------------------------------------------------------------------------------------
# Admission policies: the manifests


def _policies(env: str, version=(1, 31), **extra) -> list[dict]:
    return k8s_admission.admission(_settings(env, version, **extra))


@pytest.mark.parametrize(("version", "present"), [((1, 29), False), ((1, 30), True), ((1, 31), True)])
def test_admission_policies_only_where_the_v1_api_exists(version, present):
    rendered = _policies("dev", version)
    assert bool(rendered) is present
    if present:
        assert [m["kind"] for m in rendered] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"] * 4
        for manifest in rendered:
            kubernetes_validate.validate(manifest, "{}.{}.0".format(*version), strict=True)


def test_kubernetes_1_29_has_no_v1_admission_policy():
    """Why nothing is rendered before 1.30: the v1 API is not there (beta, off by default, in 1.28 and 1.29)."""
    (policy, *_) = _policies("dev", (1, 31))
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(policy, "1.29.0", strict=True)
    kubernetes_validate.validate(policy, "1.30.0", strict=True)


@pytest.mark.parametrize("version", ["1.30.0", "1.31.0", kubernetes_validate.latest_version()])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_onboarding_manifest_validates_on_current_kubernetes(env, version):
    settings = _settings(env, tuple(int(x) for x in version.split(".")[:2]))
    rendered = k8s_admission.admission(settings)
    for team in parse_environment(env, raw(env), shared_outputs()).teams:
        rendered += k8s_manifests.onboarding(team, env, "com.docker.ucp.collection.dev=true", settings)
    assert {"ServiceAccount", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} <= {m["kind"] for m in rendered}
    for manifest in rendered:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_each_environment_owns_policies_named_for_it():
    names = {env: {m["metadata"]["name"] for m in _policies(env)} for env in ENVIRONMENTS}
    for env, own in names.items():
        assert all(n.startswith(f"interlock-platform-{env}-") for n in own)
        for other, theirs in names.items():
            assert other == env or not own & theirs


# A label selector as the API server reads one (matchLabels AND matchExpressions In/NotIn/Exists/DoesNotExist)
def selects(selector: dict, ns_labels: dict[str, str]) -> bool:
    ok = all(ns_labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        ok &= {"In": key in ns_labels and ns_labels[key] in values, "NotIn": ns_labels.get(key) not in values,
               "Exists": key in ns_labels, "DoesNotExist": key not in ns_labels}[op]  # fmt: skip
    return ok


def test_bindings_select_their_environments_team_namespaces_only():
    namespaces = {}
    for env in ENVIRONMENTS:
        for team in parse_environment(env, raw(env), shared_outputs()).teams:
            namespaces[team.namespace] = (env, k8s_manifests.namespace(team, env, "x=y", _settings(env, (1, 31)))["metadata"]["labels"])
    namespaces["kube-system"] = (None, {labels.K8S_NAMESPACE_NAME: "kube-system", labels.NS_ID: "kube-system"})
    namespaces["ingress-nginx"] = (None, {labels.K8S_NAMESPACE_NAME: "ingress-nginx"})
    for env in ENVIRONMENTS:
        for binding in (m for m in _policies(env) if m["kind"] == "ValidatingAdmissionPolicyBinding"):
            selector = binding["spec"]["matchResources"]["namespaceSelector"]
            chosen = {ns for ns, (_, ns_labels) in namespaces.items() if selects(selector, ns_labels)}
            assert chosen == {ns for ns, (owner, _) in namespaces.items() if owner == env}


# --------------------------------------------------------------------------------------------
# Admission policies: their CEL, run by a real CEL engine

CEL = cel.NewEnv(variables={"object": cel.Type.DYN, "oldObject": cel.Type.DYN, "request": cel.Type.DYN})


def _resource(policy: dict, group: str, resource: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and "CREATE" in r["operations"]
        for r in policy["spec"]["matchConstraints"]["resourceRules"]
    )


def admit(policies: list[dict], group: str, resource: str, obj: dict) -> list[str]:
    """The messages of the validations that refuse `obj` (a CREATE); [] when it is admitted. An
    expression that errors counts as a refusal (failurePolicy: Fail) and fails the test: a
    policy must answer every object."""
    refused = []
    for policy in (p for p in policies if p["kind"] == "ValidatingAdmissionPolicy" and _resource(p, group, resource)):
        assert policy["spec"]["failurePolicy"] == "Fail"
        for v in policy["spec"]["validations"]:
            result = CEL.compile(v["expression"]).eval(data={"object": obj, "oldObject": None, "request": {"operation": "CREATE"}})
            assert result.type() == cel.Type.BOOL, f"{v['expression']} on {obj}: {result.value()}"
            if not result.value():
                refused.append(v["message"])
    return refused


def service(**spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}], **spec}}  # fmt: skip


SERVICES = [  # (what, spec, admitted with ClusterIP only)
    ("no type (the API server's default)", {}, True),
    ("ClusterIP", {"type": "ClusterIP"}, True),
    ("headless", {"type": "ClusterIP", "clusterIP": "None"}, True),
    ("ClusterIP, externalIPs empty", {"type": "ClusterIP", "externalIPs": []}, True),
    ("NodePort", {"type": "NodePort"}, False),
    ("LoadBalancer", {"type": "LoadBalancer"}, False),
    ("ExternalName", {"type": "ExternalName", "externalName": "db.prod.internal"}, False),
    ("ClusterIP with externalIPs (CVE-2020-8554)", {"type": "ClusterIP", "externalIPs": ["10.40.192.10"]}, False),
    ("no type, externalIPs", {"externalIPs": ["8.8.8.8"]}, False),
]


@pytest.mark.parametrize(("what", "spec", "admitted"), SERVICES, ids=[s[0] for s in SERVICES])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_services_are_cluster_ip_only_without_external_ips(env, what, spec, admitted):
    refused = admit(_policies(env), "", "services", service(**spec))
    assert (not refused) is admitted, refused


@pytest.mark.parametrize(
    ("spec", "admitted"),
    [
        ({"type": "NodePort"}, True),
        ({"type": "ClusterIP"}, True),
        ({"type": "LoadBalancer"}, False),
        ({"type": "NodePort", "externalIPs": ["10.40.192.10"]}, False),  # never, whatever is granted
    ],
)
def test_the_platform_grants_more_service_types_by_config(spec, admitted):
    policies = _policies("dev", serviceTypes=["NodePort"])
    assert (not admit(policies, "", "services", service(**spec))) is admitted


def node_port(*ports: int) -> list[dict]:
    return [{"name": f"p{port}", "port": 80 + i, "targetPort": 8080, "nodePort": port} for i, port in enumerate(ports)]


@pytest.mark.parametrize(
    ("types", "spec", "admitted"),
    [
        # prod's Gateway HTTPS NodePort (its default), asked for by a dev team before or after prod's Gateway
        (["NodePort"], {"type": "NodePort", "ports": node_port(32783)}, False),
        (["LoadBalancer"], {"type": "LoadBalancer", "ports": node_port(32900, 32851)}, False),  # test's HTTP, second
        # the health check's NodePort comes from the same range (a LoadBalancer with externalTrafficPolicy: Local)
        (["LoadBalancer"], {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32850}, False),
        # the benign twins: a free port of the band, one above it, or none (the API server picks)
        (["NodePort"], {"type": "NodePort", "ports": node_port(32800)}, True),
        (["NodePort"], {"type": "NodePort", "ports": node_port(34000)}, True),
        (["LoadBalancer"], {"type": "LoadBalancer"}, True),
        (["LoadBalancer"], {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 34000}, True),
    ],
)
def test_a_team_cannot_take_an_environments_gateway_node_port(types, spec, admitted):
    """A NodePort is the cluster's: the first Service to ask for one holds it on every node, so a
    team that takes another environment's Gateway NodePort keeps that Gateway from opening it."""
    policies = _policies("dev", serviceTypes=types)
    refused = admit(policies, "", "services", service(**spec))
    assert (not refused) is admitted, refused
    if not admitted:
        assert refused == [next(v["message"] for v in policies[0]["spec"]["validations"] if "Gateway" in v["message"])]


def test_the_gateway_node_ports_are_every_environments_and_the_stacks_own():
    """Each registered environment's defaults, and this stack's own Gateway's configured ones;
    with ClusterIP alone granted no Service can ask for a NodePort, and there is no rule to keep."""
    cfg = raw("dev")
    cfg["gateway"] = {"enabled": True, "httpNodePort": 32800}
    settings = dataclasses.replace(
        parse_environment("dev", cfg, shared_outputs()).kubernetes, kubernetes_version=(1, 31), service_types=("ClusterIP", "NodePort")
    )
    # dev's own default 32852 stays out of teams' reach too, as in the pack's set (no Gateway takes it now)
    assert settings.gateway_node_ports == (32783, 32784, 32785, 32800, 32850, 32851, 32852)
    rendered = k8s_admission.admission(settings)
    assert admit(rendered, "", "services", service(type="NodePort", ports=node_port(32800)))
    for manifest in rendered:
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)
    assert not any("Gateway" in v["message"] for v in _policies("dev")[0]["spec"]["validations"])


def ingress(*hosts, tls_hosts=None, default_backend=False, rules=True, annotations=None) -> dict:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    spec: dict = {}
    if rules:
        spec["rules"] = [({"host": h} if h is not None else {}) | {"http": {"paths": [path]}} for h in hosts]
    if tls_hosts is not None:
        spec["tls"] = [{"hosts": list(tls_hosts), "secretName": "web-tls"}]
    if default_backend:
        spec["defaultBackend"] = backend
    meta = {"name": "web", **({"annotations": annotations} if annotations is not None else {})}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


# The reference domains, from the registry: dev.apps.example.com, test.apps.example.com, prod.apps.example.com
DEV, PROD = (raw("shared")["environments"][env]["domain"] for env in ("dev", "prod"))
INGRESSES = [  # (what, Ingress from a dev team namespace, admitted)
    ("its own host", ingress(f"shop.{DEV}"), True),
    ("two hosts of its own, with TLS", ingress(f"shop.{DEV}", f"api.{DEV}", tls_hosts=[f"shop.{DEV}", f"api.{DEV}"]), True),
    ("TLS without hosts (the controller's default certificate)", ingress(f"shop.{DEV}", tls_hosts=[]), True),
    ("a prod host", ingress(f"shop.{PROD}"), False),
    ("a host under prod's domain that ends in 'dev.' + prod's", ingress(f"xdev.{PROD}"), False),
    ("a host that ends in the domain without its dot", ingress(f"shop-{DEV}"), False),
    ("a wildcard host", ingress(f"*.{DEV}"), False),
    ("a host two labels deep", ingress(f"a.shop.{DEV}"), False),
    ("the domain itself", ingress(DEV), False),
    ("a rule without a host (every host)", ingress(None), False),
    ("one good rule and one without a host", ingress(f"shop.{DEV}", None), False),
    ("a default backend only", ingress(rules=False, default_backend=True), False),
    ("a good host and a default backend", ingress(f"shop.{DEV}", default_backend=True), False),
    ("no rules at all", ingress(rules=False), False),
    ("a TLS host of prod's", ingress(f"shop.{DEV}", tls_hosts=[f"shop.{PROD}"]), False),
    ("a host of another site entirely", ingress("login.example.org"), False),
    ("an ordinary annotation", ingress(f"shop.{DEV}", annotations={"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}), True),
    ("a server snippet (CVE-2021-25742)", ingress(f"shop.{DEV}", annotations={
        "nginx.ingress.kubernetes.io/server-snippet": "location /k { alias /etc/ingress-controller/ssl/; }"}), False),
    ("a configuration snippet", ingress(f"shop.{DEV}", annotations={
        "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers 'X: y';"}), False),
]


@pytest.mark.parametrize(("what", "obj", "admitted"), INGRESSES, ids=[i[0] for i in INGRESSES])
def test_ingress_hosts_only_under_the_environments_domain(what, obj, admitted):
    refused = admit(_policies("dev"), "networking.k8s.io", "ingresses", obj)
    assert (not refused) is admitted, refused
    kubernetes_validate.validate(obj, "1.31.0", strict=True)  # each is an Ingress the API server would take


def test_a_prod_team_cannot_take_dev_hosts():
    policies = _policies("prod")
    assert not admit(policies, "networking.k8s.io", "ingresses", ingress(f"shop.{PROD}"))
    assert admit(policies, "networking.k8s.io", "ingresses", ingress(f"shop.{DEV}"))  # two labels under prod's domain


def route(kind: str, hostnames: list[str] | None) -> dict:
    spec: dict = {"parentRefs": [{"name": "gateway", "namespace": "gateway-system"}]}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind, "metadata": {"name": "web"}, "spec": spec}


ROUTES = [
    ("its own hostname", [f"shop.{DEV}"], True),
    ("no hostnames (every host of the Gateway)", None, False),
    ("an empty list", [], False),
    ("a wildcard", [f"*.{DEV}"], False),
    ("a prod hostname", [f"shop.{PROD}"], False),
    ("one of its own and one of prod's", [f"shop.{DEV}", f"shop.{PROD}"], False),
]


@pytest.mark.parametrize(("what", "hostnames", "admitted"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize(("kind", "resource"), [("HTTPRoute", "httproutes"), ("GRPCRoute", "grpcroutes"), ("TLSRoute", "tlsroutes")])
def test_route_hostnames_only_under_the_environments_domain(kind, resource, what, hostnames, admitted):
    refused = admit(_policies("dev"), "gateway.networking.k8s.io", resource, route(kind, hostnames))
    assert (not refused) is admitted, refused


SECRETS = [
    ("Opaque", {"type": "Opaque", "stringData": {"password": "x"}}, True),
    ("no type (Opaque)", {"stringData": {"password": "x"}}, True),
    ("TLS", {"type": "kubernetes.io/tls", "stringData": {"tls.crt": "c", "tls.key": "k"}}, True),
    ("registry credentials", {"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{}"}}, True),
    ("a token of the deployer (CIS 5.1.13 by the side road)", {"type": "kubernetes.io/service-account-token"}, False),
]


@pytest.mark.parametrize(("what", "body", "admitted"), SECRETS, ids=[s[0] for s in SECRETS])
def test_no_long_lived_service_account_token_secrets(what, body, admitted):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, **body}
    if not admitted:
        secret["metadata"]["annotations"] = {"kubernetes.io/service-account.name": "deployer"}
    assert (not admit(_policies("prod"), "", "secrets", secret)) is admitted
    kubernetes_validate.validate(secret, "1.31.0", strict=True)


def test_the_policies_leave_other_resources_alone():
    """A rule that bans a resource type is as wrong as one that misses it: deployments, config
    maps and pods match no policy (and the ones above admit their benign twins)."""
    policies = _policies("prod")
    for group, resource in [("apps", "deployments"), ("", "configmaps"), ("", "pods"), ("batch", "jobs")]:
        assert not any(_resource(p, group, resource) for p in policies if p["kind"] == "ValidatingAdmissionPolicy")


def test_the_host_pattern_is_the_domain_and_nothing_else():
    pattern = k8s_admission.host_pattern("dev.apps.example.com")
    assert pattern == "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?[.]dev[.]apps[.]example[.]com$"
    assert json.loads(json.dumps(pattern)) == pattern and "\\" not in pattern


# --------------------------------------------------------------------------------------------
# The program: what a release on Kubernetes 1.30 or later registers, and the preview writes


def _on_kubernetes(monkeypatch, version: tuple[int, int]) -> str:
    """A release of the table that ships `version` or later; until the table has one, the newest
    release is given that Kubernetes for this test."""
    newer = [r for r, v in ports.KUBERNETES_VERSIONS.items() if v >= version]
    if newer:
        return newer[0]
    release = list(ports.KUBERNETES_VERSIONS)[-1]
    monkeypatch.setitem(ports.KUBERNETES_VERSIONS, release, version)
    return release


def test_the_program_registers_the_policies_and_the_preview_writes_them(preview, monkeypatch):
    outputs = json.loads(json.dumps(preview("shared").run.outputs))
    outputs["ucpVersion"] = _on_kubernetes(monkeypatch, (1, 31))
    run = run_program("prod", full_config("prod"), {SHARED_REF: outputs})
    written = report.kubernetes_manifests(run)
    cluster = {p: m for p, m in written.items() if p.startswith(f"{report.CLUSTER_FOLDER}/")}
    assert sorted(cluster) == sorted(
        f"_cluster/{kind}-interlock-platform-prod-{what}.yaml"
        for what in k8s_admission.POLICIES
        for kind in ("validatingadmissionpolicy", "validatingadmissionpolicybinding")
    )
    expected = k8s_admission.admission(parse_environment("prod", raw("prod"), outputs).kubernetes)
    assert sorted(cluster.values(), key=json.dumps) == sorted(expected, key=json.dumps)
    for manifest in written.values():
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)
    namespaces = [m for p, m in written.items() if m["kind"] == "Namespace" and "/namespacepatch-" not in p]
    assert namespaces and all(n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted" for n in namespaces)
    # and the policy pack, over its own protocol, finds nothing wrong with any of it
    with PolicyPackProcess() as pack:
        pack.configure(from_shared_outputs(outputs))
        assert pack.analyze(run.resources) == []


@pytest.mark.parametrize(
    ("release", "version", "unenforced"),
    [("3.2", None, {"ValidatingAdmissionPolicy", "Pod Security"}), ("3.7", None, {"ValidatingAdmissionPolicy"}), (None, (1, 30), set())],
)
def test_every_run_says_what_the_cluster_does_not_enforce(preview, monkeypatch, caplog, release, version, unenforced):
    outputs = json.loads(json.dumps(preview("shared").run.outputs))
    outputs["ucpVersion"] = release or _on_kubernetes(monkeypatch, version)
    with caplog.at_level("WARNING"):
        run = run_program("dev", full_config("dev"), {SHARED_REF: outputs})
    said = {what for what in ("ValidatingAdmissionPolicy", "Pod Security") if any(f"has no {what}" in r.message for r in caplog.records)}
    assert said == unenforced
    policies = run.of_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")
    assert bool(policies) is ("ValidatingAdmissionPolicy" not in unenforced)
