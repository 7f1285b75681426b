"""The Kubernetes isolation layer: team namespaces pinned to their collection, with policy the
team cannot edit, the per-app ingress policy a pipeline applies, and the environment's own
Gateway API Gateway when `gateway.enabled`. The components are importable by app-team programs;
the manifests come from the pure `k8s_manifests` and `gateway`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from interlock_platform.core import gateway, k8s_admission, k8s_manifests
from interlock_platform.core.gateway import GatewaySpec
from interlock_platform.core.k8s_manifests import AppSpec, KubernetesSettings, Manifest, TeamSpec
from interlock_platform.core.topology import PROJECT


def kubernetes_provider(name: str, parent: pulumi.Resource, server_side_apply: bool) -> k8s.Provider:
    """The client bundle's kubeconfig reaches the provider only as a Pulumi secret. Server-side
    apply only where the cluster's Kubernetes has it."""
    kubeconfig = pulumi.Config(PROJECT).require_secret("kubeconfig")
    return k8s.Provider(
        name, kubeconfig=kubeconfig, enable_server_side_apply=server_side_apply, opts=pulumi.ResourceOptions(parent=parent)
    )


CUSTOM_KINDS = ("Gateway", "HTTPRoute", "EnvoyProxy")


def create(name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """One manifest -> the typed pulumi_kubernetes resource of its kind."""
    kind, meta = manifest["kind"], manifest["metadata"]
    if kind == "Namespace":
        return k8s.core.v1.Namespace(name, metadata=meta, opts=opts)
    if kind == "NamespacePatch":  # a namespace the platform labels but does not own (server-side apply)
        return k8s.core.v1.NamespacePatch(name, metadata=meta, opts=opts)
    if kind == "NetworkPolicy":
        return k8s.networking.v1.NetworkPolicy(name, metadata=meta, spec=manifest["spec"], opts=opts)
    if kind == "Role":
        return k8s.rbac.v1.Role(name, metadata=meta, rules=manifest["rules"], opts=opts)
    if kind == "RoleBinding":
        return k8s.rbac.v1.RoleBinding(
            name, metadata=meta, role_ref=manifest["roleRef"], subjects=manifest["subjects"], opts=opts
        )
    if kind == "ResourceQuota":
        return k8s.core.v1.ResourceQuota(name, metadata=meta, spec=manifest["spec"], opts=opts)
    if kind == "LimitRange":
        return k8s.core.v1.LimitRange(name, metadata=meta, spec=manifest["spec"], opts=opts)
    if kind == "ServiceAccount":
        return k8s.core.v1.ServiceAccount(
            name, metadata=meta, automount_service_account_token=manifest["automountServiceAccountToken"], opts=opts
        )
    if kind == "ValidatingAdmissionPolicy":
        return k8s.admissionregistration.v1.ValidatingAdmissionPolicy(name, metadata=meta, spec=manifest["spec"], opts=opts)
    if kind == "ValidatingAdmissionPolicyBinding":
        return k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            name, metadata=meta, spec=manifest["spec"], opts=opts
        )
    if kind == "Deployment":  # an app team's, on its environment's Gateway (GatewayApp)
        return k8s.apps.v1.Deployment(name, metadata=meta, spec=manifest["spec"], opts=opts)
    if kind == "Service":
        return k8s.core.v1.Service(name, metadata=meta, spec=manifest["spec"], opts=opts)
    if kind == "Secret":
        return k8s.core.v1.Secret(name, metadata=meta, type=manifest["type"], string_data=manifest["stringData"], opts=opts)
    if kind in CUSTOM_KINDS:  # Gateway API's and Envoy Gateway's, whose CRDs the cluster's controller installs
        return k8s.apiextensions.CustomResource(
            name, api_version=manifest["apiVersion"], kind=kind, metadata=meta, spec=manifest["spec"], opts=opts
        )
    raise ValueError(f"no resource for kind {kind}")


@dataclass
class TeamNamespaceArgs:
    team: TeamSpec
    environment: str
    collection_node_selector: str  # e.g. com.docker.ucp.collection.prod=true
    settings: KubernetesSettings = field(default_factory=KubernetesSettings)
    provider: pulumi.ProviderResource | None = None


class TeamNamespace(pulumi.ComponentResource):
    """On-boarding: the namespace, deny-all, the allows, and a Role without policy rights."""

    namespace: k8s.core.v1.Namespace

    def __init__(self, name: str, args: TeamNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:kubernetes:TeamNamespace", name, None, opts)
        manifests = k8s_manifests.onboarding(args.team, args.environment, args.collection_node_selector, args.settings)
        on = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespace = create(f"{name}-namespace", manifests[0], on)  # type: ignore[assignment]
        in_ns = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.namespace])
        for manifest in manifests[1:]:
            create(f"{name}-{manifest['kind'].lower()}-{manifest['metadata']['name']}", manifest, in_ns)
        self.register_outputs({"namespace": args.team.namespace})


@dataclass
class AppIngressPolicyArgs:
    namespace: pulumi.Input[str]  # the team namespace, e.g. from the env stack's teamNamespaces output
    app: AppSpec
    # the env stack's `ingressControllerNamespaceSelector` output; the default suits UCP 3.x (before Kubernetes 1.21)
    ingress_namespace_selector: pulumi.Input[Mapping[str, str]] = field(
        default_factory=lambda: KubernetesSettings().ingress_selector
    )
    provider: pulumi.ProviderResource | None = None
    depends_on: list[Any] = field(default_factory=list)


class AppIngressPolicy(pulumi.ComponentResource):
    """`allow-ingress-<app>`: the ingress controller's namespace to the app's pods, on its ports."""

    def __init__(self, name: str, args: AppIngressPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:kubernetes:AppIngressPolicy", name, None, opts)
        manifest = k8s_manifests.app_ingress_policy(args.namespace, args.app, args.ingress_namespace_selector)  # type: ignore[arg-type]
        create(
            f"{name}-policy", manifest, pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on)
        )
        self.register_outputs({"policy": manifest["metadata"]["name"]})


@dataclass
class EnvironmentGatewayArgs:
    spec: GatewaySpec
    provider: pulumi.ProviderResource | None = None


class EnvironmentGateway(pulumi.ComponentResource):
    """The environment's own Gateway: its namespace (deny-all), its wildcard certificate (from the
    stack's secret config), the EnvoyProxy its proxies follow, the Gateway, and in an HTTPS-only
    environment the redirect to HTTPS."""

    gateway: pulumi.CustomResource

    def __init__(self, name: str, args: EnvironmentGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:kubernetes:EnvironmentGateway", name, None, opts)
        spec = args.spec
        namespace_manifest, deny_all, proxy, gateway_manifest, *routes = gateway.manifests(spec)
        on = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ns = create(f"{name}-namespace", namespace_manifest, on)
        in_ns = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[ns])
        create(f"{name}-networkpolicy-deny-all", deny_all, in_ns)
        first = [create(f"{name}-envoyproxy", proxy, in_ns)]  # before the Gateway that names it (Envoy Gateway's advice)
        if spec.tls:
            cfg = pulumi.Config(PROJECT)
            manifest = gateway.certificate_secret(spec, cfg.require_secret("tlsCertificate"), cfg.require_secret("tlsKey"))
            first.append(create(f"{name}-certificate", manifest, in_ns))
        self.gateway = create(
            f"{name}-gateway", gateway_manifest, pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=first)
        )
        after = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.gateway])
        for route in routes:
            create(f"{name}-{route['metadata']['name']}", route, after)
        self.register_outputs({"gateway": spec.name, "namespace": spec.namespace})


@dataclass
class EnvironmentKubernetesArgs:
    teams: tuple[TeamSpec, ...]
    environment: str
    collection_node_selector: str
    settings: KubernetesSettings
    gateway: GatewaySpec | None = None  # the environment's own Gateway, when gateway.enabled


class EnvironmentKubernetes(pulumi.ComponentResource):
    """An environment's teams: each on-boarded, each ingress app given its ingress policy."""

    gateway: pulumi.CustomResource | None = None  # the environment's Gateway, when gateway.enabled
    load_balancer_waits_for: list[pulumi.Resource]  # the Gateway once it has the load balancer, else nothing

    def __init__(self, name: str, args: EnvironmentKubernetesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:kubernetes:EnvironmentKubernetes", name, None, opts)
        provider = kubernetes_provider(f"{name}-cluster", self, args.settings.server_side_apply)
        # From Kubernetes 1.21 (MKE 3.7, 3.8, 3.9) team policies select kube-system and the ingress
        # controller's namespace by the name the API server sets: nothing is labelled or patched.
        # Before 1.21 they get the platform's label. With server-side apply (1.18 to 1.20) each env
        # stack applies it with its own field manager: removing one stack leaves the others' hold.
        # Before server-side apply (UCP 3.2 ships 1.14) nothing can patch a namespace the stack
        # does not own: an admin labels it once, and every run says how.
        labelled = []
        for ns in args.settings.platform_namespaces:
            if args.settings.server_side_apply:
                labelled.append(
                    create(
                        f"{name}-label-{ns}",
                        {**k8s_manifests.platform_label(ns), "kind": "NamespacePatch"},
                        pulumi.ResourceOptions(parent=self, provider=provider),
                    )
                )
            else:
                pulumi.log.warn(
                    f"Kubernetes {'.'.join(map(str, args.settings.kubernetes_version))} cannot apply a patch: the team policies "
                    f"select namespace {ns} by a label a cluster admin puts on it once: {k8s_manifests.label_command(ns)}",
                    resource=self,
                )
        # The cluster's own refusals in this environment's team namespaces (see k8s_admission on
        # why each env stack owns its own). Each policy before its binding.
        version = ".".join(map(str, args.settings.kubernetes_version))
        policies: dict[str, pulumi.CustomResource] = {}
        for manifest in k8s_admission.admission(args.settings):
            after = [policies[manifest["spec"]["policyName"]]] if "policyName" in manifest["spec"] else []
            created = create(
                f"{name}-{manifest['kind'].lower()}-{manifest['metadata']['name']}",
                manifest,
                pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
            )
            policies.setdefault(manifest["metadata"]["name"], created)
        if not args.settings.admission_policies:
            pulumi.log.warn(
                f"Kubernetes {version} has no ValidatingAdmissionPolicy (GA in 1.30, MKE 3.8 and later): the cluster does not "
                "refuse NodePort, LoadBalancer or externalIPs Services, Ingress or route hosts outside this environment's "
                "domain, or service-account-token Secrets, in team namespaces (docs/kubernetes.md)",
                resource=self,
            )
        if not args.settings.pod_security_enforced:
            pulumi.log.warn(
                f"Kubernetes {version} has no Pod Security admission (from 1.25): team namespaces get no Pod Security level, "
                "so privileged pods, host namespaces and hostPath volumes are not refused there (docs/kubernetes.md)",
                resource=self,
            )
        self.load_balancer_waits_for = []
        if args.gateway is not None:
            self.gateway = EnvironmentGateway(
                f"{name}-gateway", EnvironmentGatewayArgs(args.gateway, provider), pulumi.ResourceOptions(parent=self)
            ).gateway
            if args.gateway.load_balancer:
                self.load_balancer_waits_for.append(self.gateway)
        for team in args.teams:
            child = pulumi.ResourceOptions(parent=self)
            ns = TeamNamespace(
                f"{name}-{team.name}",
                TeamNamespaceArgs(team, args.environment, args.collection_node_selector, args.settings, provider),
                child,
            )
            for app in team.apps:
                if app.ingress and args.gateway is not None:  # the environment's Gateway's proxies, on the app's ports
                    create(
                        f"{name}-{team.name}-{app.name}-gateway-policy",
                        gateway.app_gateway_policy(team.namespace, app, args.gateway),
                        pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns.namespace]),
                    )
                if app.ingress:
                    AppIngressPolicy(
                        f"{name}-{team.name}-{app.name}",
                        AppIngressPolicyArgs(
                            team.namespace, app, args.settings.ingress_selector, provider, [ns.namespace, *labelled]
                        ),
                        child,
                    )
        self.register_outputs({"namespaces": [t.namespace for t in args.teams]})
