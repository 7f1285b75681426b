"""Every label key the platform reads or writes on Swarm objects: one table."""

from __future__ import annotations

# UCP / Interlock's own keys
UCP_ACCESS = "com.docker.ucp.access.label"  # collection of a node, network or service
UCP_INSTANCE_ID = "com.docker.ucp.InstanceID"  # cluster specific, kept in every extension
SERVICE_CLUSTER_NODE = "com.docker.interlock.service.cluster"  # which service cluster's proxies a node runs

# Ours: which stack made a Swarm object
MANAGED_BY_STACK = "com.docker.interlock-platform.stack"
# On ucp-interlock: the config objects it ran healthily, newest first; pruning never removes them
KNOWN_GOOD_CONFIGS = "com.docker.interlock-platform.known-good-configs"

# Interlock's config objects and services
INTERLOCK_SERVICE = "ucp-interlock"
INTERLOCK_CONFIG_PREFIX = "com.docker.ucp.interlock.conf-"
INTERLOCK_CONFIG_PATH = "/config.toml"


def extension_service(cluster: str | None) -> str:
    return "ucp-interlock-extension" + (f"-{cluster}" if cluster else "")


def proxy_service(cluster: str | None) -> str:
    return "ucp-interlock-proxy" + (f"-{cluster}" if cluster else "")


def node_constraint(cluster: str) -> str:
    return f"node.labels.{SERVICE_CLUSTER_NODE}=={cluster}"


# Kubernetes
K8S_NAMESPACE_NAME = "kubernetes.io/metadata.name"  # set by Kubernetes itself from 1.21
NS_ID = "ns-id"  # ours on every team namespace, as in the runbook: works on clusters before 1.21
TEAM = "interlock-platform/team"
ENVIRONMENT = "interlock-platform/environment"
K8S_MANAGED_BY = "app.kubernetes.io/managed-by"
NODE_SELECTOR_ANNOTATION = "scheduler.alpha.kubernetes.io/node-selector"  # PodNodeSelector admission
K8S_OS = "kubernetes.io/os"  # set by the kubelet on every node (linux, windows)
K8S_HOSTNAME = "kubernetes.io/hostname"  # set by the kubelet on every node: its name
# Envoy Gateway's labels on the proxies (pods, Service) of one Gateway, which it selects them by
ENVOY_OWNING_GATEWAY_NAME = "gateway.envoyproxy.io/owning-gateway-name"
ENVOY_OWNING_GATEWAY_NAMESPACE = "gateway.envoyproxy.io/owning-gateway-namespace"
DNS_POD = {"k8s-app": "kube-dns"}
POD_SECURITY = "pod-security.kubernetes.io"  # Pod Security admission's label prefix (enforce, warn, audit)

# Service labels Interlock reads (com.docker.lb.*)
LB_HOSTS = "com.docker.lb.hosts"
LB_PORT = "com.docker.lb.port"
LB_NETWORK = "com.docker.lb.network"
LB_SERVICE_CLUSTER = "com.docker.lb.service_cluster"
LB_SSL_CERT = "com.docker.lb.ssl_cert"
LB_SSL_KEY = "com.docker.lb.ssl_key"
LB_WEBSOCKETS = "com.docker.lb.websocket_endpoints"
LB_STICKY_COOKIE = "com.docker.lb.sticky_session_cookie"
LB_IP_HASH = "com.docker.lb.ip_hash"
LB_SSL_PASSTHROUGH = "com.docker.lb.ssl_passthrough"
LB_BACKEND_MODE = "com.docker.lb.backend_mode"
LB_REDIRECTS = "com.docker.lb.redirects"
LB_CONTEXT_ROOT = "com.docker.lb.context_root"
LB_CONTEXT_ROOT_REWRITE = "com.docker.lb.context_root_rewrite"
