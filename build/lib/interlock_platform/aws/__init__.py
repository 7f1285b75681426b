"""The AWS layer: VPC pieces, firewalls (security groups and NACLs) and the ingress load balancer."""
