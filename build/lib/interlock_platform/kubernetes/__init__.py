"""The Kubernetes layer: team namespaces, default-deny and allow policies, quotas, RBAC."""
