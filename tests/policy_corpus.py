"""Insecure changes that nobody on this project wrote: each is code an attacker or a careless user
appends to the program (raw pulumi_aws, pulumi_docker and pulumi_kubernetes resources, no tags,
literal ids, sub-ranges, IPv6, inline rules, egress), previewed as the dev stack. Each names the
resource the pack must block and a rule that blocks it.

The registry they attack: dev 10.40.64.0/18, test 10.40.128.0/18, prod 10.40.192.0/18 (Interlock
ports prod 8080/8443, test 8081/8444), management 10.40.0.0/22."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    layer: str  # "aws", "swarm" or "kubernetes"
    resource: str  # the resource name the violation must point at
    policy: str  # a mandatory rule that must block it
    code: str  # appended to __main__.py


AWS = "import pulumi_aws as aws\n"
DOCKER = "import pulumi_docker as docker\n"
K8S = "import pulumi_kubernetes as k8s\n"
DEV_LABEL = 'labels=[docker.ServiceLabelArgs(label="com.docker.ucp.access.label", value="/dev")]'
IMAGE = 'task_spec=docker.ServiceTaskSpecArgs(container_spec=docker.ServiceTaskSpecContainerSpecArgs(image="nginx:1.25"))'
META = 'metadata={"namespace": "ledger-dev", "name": "%s"}'


def _netpol(name: str, spec: str) -> str:
    return K8S + f'k8s.networking.v1.NetworkPolicy("{name}", {META % name}, spec={spec})\n'


CORPUS: dict[str, Change] = {
    # ---------------------------------------------------------------- AWS: security groups, every form
    "sg-inline-ingress-world-ssh": Change("aws", "bastion", "sg-no-world-ingress", AWS + """
aws.ec2.SecurityGroup("bastion", vpc_id="vpc-0a1b2c3d", description="on-call ssh",
    ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"])])
"""),
    "sg-inline-ingress-prod-subrange": Change("aws", "reporting", "sg-no-cross-environment", AWS + """
aws.ec2.SecurityGroup("reporting", vpc_id="vpc-0a1b2c3d", description="reports",
    ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=["10.40.200.0/24"])])
"""),
    "sg-inline-ingress-ipv6-world": Change("aws", "v6-web", "sg-no-world-ingress", AWS + """
aws.ec2.SecurityGroup("v6-web", vpc_id="vpc-0a1b2c3d", description="web",
    ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=8082, to_port=8082, ipv6_cidr_blocks=["::/0"])])
"""),
    "sg-inline-egress-to-prod": Change("aws", "etl", "sg-no-cross-environment", AWS + """
aws.ec2.SecurityGroup("etl", vpc_id="vpc-0a1b2c3d", description="etl",
    egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=["10.40.192.0/18"])])
"""),
    "sg-inline-egress-everything": Change("aws", "debug", "sg-no-world-egress", AWS + """
aws.ec2.SecurityGroup("debug", vpc_id="vpc-0a1b2c3d", description="debugging",
    egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])])
"""),
    "sg-inline-numeric-protocol-rfc1918": Change("aws", "corp", "sg-no-cross-environment", AWS + """
aws.ec2.SecurityGroup("corp", vpc_id="vpc-0a1b2c3d", description="corporate",
    ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="6", from_port=8000, to_port=9000, cidr_blocks=["10.0.0.0/8"])])
"""),
    "sg-tagged-load-balancer-but-no-lb": Change("aws", "fake-lb", "sg-no-world-ingress", AWS + """
aws.ec2.SecurityGroup("fake-lb", vpc_id="vpc-0a1b2c3d", description="calls itself the load balancer",
    tags={"role": "load-balancer", "environment": "dev", "managed-by": "pulumi/interlock-platform"},
    ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"])])
"""),
    "legacy-rule-ingress-world-swarm": Change("aws", "swarm-join", "sg-no-world-ingress", AWS + """
aws.ec2.SecurityGroupRule("swarm-join", type="ingress", security_group_id="sg-0123456789abcdef0",
    protocol="tcp", from_port=2377, to_port=2377, cidr_blocks=["0.0.0.0/0"])
"""),
    "legacy-rule-egress-test-and-prod": Change("aws", "to-upper-half", "sg-no-cross-environment", AWS + """
aws.ec2.SecurityGroupRule("to-upper-half", type="egress", security_group_id="sg-0123456789abcdef0",
    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["10.40.128.0/17"])
"""),
    "legacy-rule-all-protocols": Change("aws", "all-dev", "sg-no-all-protocols", AWS + """
aws.ec2.SecurityGroupRule("all-dev", type="ingress", security_group_id="sg-0123456789abcdef0",
    protocol="-1", from_port=0, to_port=0, cidr_blocks=["10.40.64.0/18"])
"""),
    # ---------------------------------------------------------------- AWS: VPC endpoints and their groups
    # (the shared stack's endpoint groups, as the registry gives their ids: shared-endpoints-<service>-sg-id)
    "vpc-endpoint-sg-open-to-world": Change("aws", "sts-from-anywhere", "sg-no-world-ingress", AWS + """
aws.vpc.SecurityGroupIngressRule("sts-from-anywhere", security_group_id="shared-endpoints-sts-sg-id",
    ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4="0.0.0.0/0", description="STS for everyone")
"""),
    "vpc-endpoint-sg-admits-prod": Change("aws", "ecr-for-prod", "sg-no-cross-environment", AWS + """
aws.vpc.SecurityGroupIngressRule("ecr-for-prod", security_group_id="shared-endpoints-ecr-dkr-sg-id",
    ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4="10.40.192.0/18", description="image pulls for prod, from dev")
"""),
    "vpc-endpoint-private-dns-in-env": Change("aws", "dev-logs", "vpc-endpoints-scoped", AWS + """
aws.ec2.VpcEndpoint("dev-logs", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.logs", vpc_endpoint_type="Interface",
    private_dns_enabled=True, subnet_ids=["subnet-0a1b2c3d4e5f60718"], security_group_ids=["sg-0123456789abcdef0"])
"""),
    "vpc-endpoint-foreign-route-tables": Change("aws", "s3-for-prod-too", "vpc-endpoints-scoped", AWS + """
aws.ec2.VpcEndpoint("s3-for-prod-too", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.s3",
    vpc_endpoint_type="Gateway", route_table_ids=["rtb-0a1b2c3d4e5f60718"],
    policy='{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}')
"""),
    "vpc-rule-world-halves": Change("aws", "kubelet-half", "sg-no-world-ingress", AWS + """
aws.vpc.SecurityGroupIngressRule("kubelet-half", security_group_id="sg-0123456789abcdef0",
    ip_protocol="tcp", from_port=10250, to_port=10250, cidr_ipv4="0.0.0.0/1")
"""),
    "vpc-rule-ipv6-global-unicast": Change("aws", "v6-ucp", "sg-no-world-ingress", AWS + """
aws.vpc.SecurityGroupIngressRule("v6-ucp", security_group_id="sg-0123456789abcdef0",
    ip_protocol="tcp", from_port=12376, to_port=12376, cidr_ipv6="2000::/3")
"""),
    "vpc-rule-egress-all-tcp-world": Change("aws", "anything-out", "sg-no-world-egress", AWS + """
aws.vpc.SecurityGroupEgressRule("anything-out", security_group_id="sg-0123456789abcdef0",
    ip_protocol="tcp", from_port=0, to_port=65535, cidr_ipv4="0.0.0.0/0")
"""),
    "vpc-rule-prod-host": Change("aws", "prod-db-host", "sg-no-cross-environment", AWS + """
aws.vpc.SecurityGroupIngressRule("prod-db-host", security_group_id="sg-0123456789abcdef0",
    ip_protocol="tcp", from_port=5432, to_port=5432, cidr_ipv4="10.40.192.10/32")
"""),
    "vpc-rule-through-prefix-list": Change("aws", "partners-in", "sg-no-cross-environment", AWS + """
pl = aws.ec2.ManagedPrefixList("partners", address_family="IPv4", max_entries=5,
    entries=[aws.ec2.ManagedPrefixListEntryArgs(cidr="10.40.192.0/20")])
aws.vpc.SecurityGroupIngressRule("partners-in", security_group_id="sg-0123456789abcdef0",
    ip_protocol="tcp", from_port=443, to_port=443, prefix_list_id=pl.id)
"""),
    "vpc-rule-esp-from-vpc": Change("aws", "esp-vpc", "sg-encapsulation-scoped", AWS + """
aws.vpc.SecurityGroupIngressRule("esp-vpc", security_group_id="sg-0123456789abcdef0",
    ip_protocol="50", cidr_ipv4="10.40.0.0/16")
"""),
    "ipip-between-groups-tagged-as-platform": Change("aws", "tunnel-in", "sg-encapsulation-scoped", AWS + """
mgmt = aws.ec2.SecurityGroup("fake-mgmt", vpc_id="vpc-0a1b2c3d", description="looks like ours", tags={"role": "management"})
work = aws.ec2.SecurityGroup("fake-workers", vpc_id="vpc-0a1b2c3d", description="looks like ours", tags={"role": "workers"})
aws.vpc.SecurityGroupIngressRule("tunnel-in", security_group_id=work.id, ip_protocol="4",
    referenced_security_group_id=mgmt.id, description="IP-in-IP from the managers")
"""),
    "default-sg-with-rules": Change("aws", "default-open", "vpc-baseline", AWS + """
aws.ec2.DefaultSecurityGroup("default-open", vpc_id="vpc-0a1b2c3d",
    ingress=[aws.ec2.DefaultSecurityGroupIngressArgs(protocol="-1", self=True, from_port=0, to_port=0)])
"""),
    # ---------------------------------------------------------------- AWS: NACLs, any NACL
    "nacl-inline-allow-all-untagged": Change("aws", "quick-acl", "nacl-environment-isolation", AWS + """
aws.ec2.NetworkAcl("quick-acl", vpc_id="vpc-0a1b2c3d",
    ingress=[aws.ec2.NetworkAclIngressArgs(rule_no=10, action="allow", protocol="-1", cidr_block="0.0.0.0/0", from_port=0, to_port=0)])
"""),
    "nacl-rule-foreign-acl-test-subrange": Change("aws", "test-https", "sg-no-cross-environment", AWS + """
aws.ec2.NetworkAclRule("test-https", network_acl_id="acl-0f00ba40000000001", rule_number=5, egress=False,
    protocol="tcp", rule_action="allow", cidr_block="10.40.130.0/24", from_port=443, to_port=443)
"""),
    "nacl-rule-world-first": Change("aws", "first-wins", "nacl-environment-isolation", AWS + """
aws.ec2.NetworkAclRule("first-wins", network_acl_id="acl-0f00ba40000000001", rule_number=1, egress=True,
    protocol="-1", rule_action="allow", cidr_block="0.0.0.0/0")
"""),
    "default-nacl-allow-all": Change("aws", "default-acl", "nacl-environment-isolation", AWS + """
aws.ec2.DefaultNetworkAcl("default-acl", default_network_acl_id="acl-0defa0000000000001",
    ingress=[aws.ec2.DefaultNetworkAclIngressArgs(rule_no=100, action="allow", protocol="-1", cidr_block="0.0.0.0/0", from_port=0, to_port=0)],
    egress=[aws.ec2.DefaultNetworkAclEgressArgs(rule_no=100, action="allow", protocol="-1", cidr_block="0.0.0.0/0", from_port=0, to_port=0)])
"""),
    "nacl-partial-deny-then-allow": Change("aws", "half-deny", "nacl-environment-isolation", AWS + """
aws.ec2.NetworkAcl("half-deny", vpc_id="vpc-0a1b2c3d",
    ingress=[aws.ec2.NetworkAclIngressArgs(rule_no=10, action="deny", protocol="-1", cidr_block="10.40.192.0/19", from_port=0, to_port=0),
             aws.ec2.NetworkAclIngressArgs(rule_no=11, action="deny", protocol="-1", cidr_block="10.40.128.0/18", from_port=0, to_port=0),
             aws.ec2.NetworkAclIngressArgs(rule_no=20, action="allow", protocol="tcp", cidr_block="10.40.0.0/16", from_port=443, to_port=443)])
"""),
    "nacl-inline-ipip-world": Change("aws", "tunnel-acl", "sg-encapsulation-scoped", AWS + """
aws.ec2.NetworkAcl("tunnel-acl", vpc_id="vpc-0a1b2c3d",
    egress=[aws.ec2.NetworkAclEgressArgs(rule_no=900, action="allow", protocol="4", cidr_block="0.0.0.0/0", from_port=0, to_port=0)])
"""),
    # ---------------------------------------------------------------- AWS: between application groups
    # dev isolates its groups (ingress 10.40.64.0/24 x3, payments 10.40.68.0/22 x3, ledger
    # 10.40.80.0/22 x3) and declares one flow: payments -> ledger on TCP 8443.
    "group-undeclared-port-from-payments-cidr": Change("aws", "ledger-ssh", "group-flows-declared", AWS + """
aws.vpc.SecurityGroupIngressRule("ledger-ssh", security_group_id="sg-0123456789abcdef0", ip_protocol="tcp",
    from_port=22, to_port=22, cidr_ipv4="10.40.68.0/22", description="ssh from the payments jump host")
"""),
    "group-port-next-to-the-declared-one": Change("aws", "ledger-admin", "group-flows-declared", AWS + """
ledger = aws.ec2.SecurityGroup("ledger-extra", vpc_id="vpc-0a1b2c3d", description="ledger", tags={"application-group": "ledger"})
payments = aws.ec2.SecurityGroup("payments-extra", vpc_id="vpc-0a1b2c3d", description="payments", tags={"application-group": "payments"})
aws.vpc.SecurityGroupIngressRule("ledger-admin", security_group_id=ledger.id, ip_protocol="tcp", from_port=8443, to_port=8444,
    referenced_security_group_id=payments.id, description="the ledger API and its admin port")
"""),
    "group-declared-port-other-protocol": Change("aws", "ledger-quic", "group-flows-declared", AWS + """
ledger = aws.ec2.SecurityGroup("ledger-extra", vpc_id="vpc-0a1b2c3d", description="ledger", tags={"application-group": "ledger"})
aws.vpc.SecurityGroupIngressRule("ledger-quic", security_group_id=ledger.id, ip_protocol="udp", from_port=8443, to_port=8443,
    cidr_ipv4="10.40.72.0/22", description="QUIC from payments")
"""),
    "group-declared-flow-reversed": Change("aws", "payments-callback", "group-flows-declared", AWS + """
payments = aws.ec2.SecurityGroup("payments-extra", vpc_id="vpc-0a1b2c3d", description="payments", tags={"application-group": "payments"})
aws.vpc.SecurityGroupIngressRule("payments-callback", security_group_id=payments.id, ip_protocol="tcp", from_port=8443, to_port=8443,
    cidr_ipv4="10.40.80.0/21", description="callbacks from the ledger")
"""),
    "group-flow-from-a-group-not-named": Change("aws", "ledger-from-ingress", "group-flows-declared", AWS + """
ledger = aws.ec2.SecurityGroup("ledger-extra", vpc_id="vpc-0a1b2c3d", description="ledger", tags={"application-group": "ledger"})
aws.vpc.SecurityGroupIngressRule("ledger-from-ingress", security_group_id=ledger.id, ip_protocol="tcp", from_port=8443, to_port=8443,
    cidr_ipv4="10.40.64.0/24", description="the proxies call the ledger directly")
"""),
    "group-all-protocols-between-group-sgs": Change("aws", "payments-ledger-all", "group-flows-declared", AWS + """
ledger = aws.ec2.SecurityGroup("ledger-extra", vpc_id="vpc-0a1b2c3d", description="ledger", tags={"application-group": "ledger"})
payments = aws.ec2.SecurityGroup("payments-extra", vpc_id="vpc-0a1b2c3d", description="payments", tags={"application-group": "payments"})
aws.vpc.SecurityGroupEgressRule("payments-ledger-all", security_group_id=payments.id, ip_protocol="-1",
    referenced_security_group_id=ledger.id, description="payments may call anything on the ledger")
"""),
    "group-untagged-sg-to-itself-on-a-port": Change("aws", "shared-db", "group-flows-declared", AWS + """
db = aws.ec2.SecurityGroup("db-clients", vpc_id="vpc-0a1b2c3d", description="every worker that uses the shared database")
aws.vpc.SecurityGroupIngressRule("shared-db", security_group_id=db.id, ip_protocol="tcp", from_port=5432, to_port=5432,
    referenced_security_group_id=db.id, description="the shared database")
"""),
    "group-egress-to-the-environment-range": Change("aws", "payments-out", "group-flows-declared", AWS + """
payments = aws.ec2.SecurityGroup("payments-extra", vpc_id="vpc-0a1b2c3d", description="payments", tags={"application-group": "payments"})
aws.vpc.SecurityGroupEgressRule("payments-out", security_group_id=payments.id, ip_protocol="tcp", from_port=5432, to_port=5432,
    cidr_ipv4="10.40.64.0/18", description="databases anywhere in dev")
"""),
    "group-nacl-entry-admits-another-group": Change("aws", "ledger-from-payments", "group-flows-declared", AWS + """
aws.ec2.NetworkAclRule("ledger-from-payments", network_acl_id="acl-0f00ba40000000001", rule_number=900, egress=False,
    protocol="tcp", rule_action="allow", cidr_block="10.40.68.0/22", from_port=5432, to_port=5432)
"""),
    "group-nacl-inline-allows-the-environment": Change("aws", "flat-dev", "group-flows-declared", AWS + """
acl = aws.ec2.NetworkAcl("flat-dev", vpc_id="vpc-0a1b2c3d",
    ingress=[aws.ec2.NetworkAclIngressArgs(rule_no=100, action="deny", protocol="-1", cidr_block="10.40.128.0/17", from_port=0, to_port=0),
             aws.ec2.NetworkAclIngressArgs(rule_no=200, action="allow", protocol="-1", cidr_block="10.40.64.0/18", from_port=0, to_port=0)])
sn = aws.ec2.Subnet("dev-spare", vpc_id="vpc-0a1b2c3d", cidr_block="10.40.92.0/24")
aws.ec2.NetworkAclAssociation("flat-dev-spare", network_acl_id=acl.id, subnet_id=sn.id)
"""),
    # ---------------------------------------------------------------- AWS: subnets
    "subnet-public-ips-in-dev": Change("aws", "scratch", "subnet-no-public-addresses", AWS + """
aws.ec2.Subnet("scratch", vpc_id="vpc-0a1b2c3d", cidr_block="10.40.100.0/24", map_public_ip_on_launch=True)
"""),
    "subnet-in-prod-range": Change("aws", "borrowed", "subnet-no-public-addresses", AWS + """
aws.ec2.Subnet("borrowed", vpc_id="vpc-0a1b2c3d", cidr_block="10.40.250.0/24")
"""),
    "subnet-public-ipv6": Change("aws", "v6-subnet", "subnet-no-public-addresses", AWS + """
aws.ec2.Subnet("v6-subnet", vpc_id="vpc-0a1b2c3d", cidr_block="10.40.101.0/24",
    ipv6_cidr_block="2001:db8:1::/64", assign_ipv6_address_on_creation=True)
"""),
    # ---------------------------------------------------------------- AWS: load balancers
    "tg-on-prod-port": Change("aws", "prod-port", "lb-ports-match-service-cluster", AWS + """
aws.lb.TargetGroup("prod-port", port=8080, protocol="TCP", vpc_id="vpc-0a1b2c3d")
"""),
    "alb-listener-extra-port": Change("aws", "admin-listener", "lb-ports-match-service-cluster", AWS + """
aws.alb.Listener("admin-listener", load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/x/1",
    port=8443, protocol="TCP", default_actions=[aws.alb.ListenerDefaultActionArgs(type="forward",
    target_group_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/1")])
"""),
    "alb-tg-ssh": Change("aws", "ssh-tg", "lb-ports-match-service-cluster", AWS + """
aws.alb.TargetGroup("ssh-tg", port=22, protocol="TCP", vpc_id="vpc-0a1b2c3d")
"""),
    "tg-attachment-prod-ip": Change("aws", "prod-ip", "lb-ports-match-service-cluster", AWS + """
aws.lb.TargetGroupAttachment("prod-ip", target_group_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/1",
    target_id="10.40.192.15", port=8445)
"""),
    # ---------------------------------------------------------------- Swarm
    "service-routing-mesh-port": Change("swarm", "web", "swarm-service-in-collection", DOCKER + f"""
docker.Service("web", name="web", {IMAGE}, {DEV_LABEL},
    endpoint_spec=docker.ServiceEndpointSpecArgs(ports=[docker.ServiceEndpointSpecPortArgs(target_port=80, published_port=8088)]))
"""),
    "service-no-collection": Change("swarm", "worker", "swarm-service-in-collection", DOCKER + f"""
docker.Service("worker", name="worker", {IMAGE})
"""),
    "service-host-port-of-prod": Change("swarm", "tls-proxy", "swarm-service-in-collection", DOCKER + f"""
docker.Service("tls-proxy", name="tls-proxy", {IMAGE}, {DEV_LABEL},
    endpoint_spec=docker.ServiceEndpointSpecArgs(ports=[docker.ServiceEndpointSpecPortArgs(target_port=443, published_port=8443, publish_mode="host")]))
"""),
    "service-on-prod-network": Change("swarm", "sidecar", "swarm-service-in-collection", DOCKER + f"""
docker.Service("sidecar", name="sidecar", {DEV_LABEL}, task_spec=docker.ServiceTaskSpecArgs(
    container_spec=docker.ServiceTaskSpecContainerSpecArgs(image="busybox"),
    networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name="prod_backend")]))
"""),
    "service-routed-by-prod": Change("swarm", "shop", "swarm-service-in-collection", DOCKER + f"""
docker.Service("shop", name="shop", {IMAGE}, labels=[
    docker.ServiceLabelArgs(label="com.docker.ucp.access.label", value="/dev"),
    docker.ServiceLabelArgs(label="com.docker.lb.hosts", value="shop.example.com"),
    docker.ServiceLabelArgs(label="com.docker.lb.service_cluster", value="prod")])
"""),
    "service-on-prod-nodes": Change("swarm", "batch", "swarm-service-in-collection", DOCKER + f"""
docker.Service("batch", name="batch", {DEV_LABEL}, task_spec=docker.ServiceTaskSpecArgs(
    container_spec=docker.ServiceTaskSpecContainerSpecArgs(image="busybox"),
    placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.labels.com.docker.ucp.collection.prod==true"])))
"""),
    "service-lb-network-of-prod": Change("swarm", "api", "swarm-service-in-collection", DOCKER + f"""
docker.Service("api", name="api", {IMAGE}, labels=[
    docker.ServiceLabelArgs(label="com.docker.ucp.access.label", value="/dev"),
    docker.ServiceLabelArgs(label="com.docker.lb.network", value="ingress_prod")])
"""),
    "network-routing-mesh": Change("swarm", "mesh", "swarm-network-in-collection", DOCKER + """
docker.Network("mesh", name="mesh", driver="overlay", ingress=True,
    labels=[docker.NetworkLabelArgs(label="com.docker.ucp.access.label", value="/dev")])
"""),
    "network-in-prod-collection": Change("swarm", "shared-data", "swarm-network-in-collection", DOCKER + """
docker.Network("shared-data", name="shared_data", driver="overlay", attachable=True,
    labels=[docker.NetworkLabelArgs(label="com.docker.ucp.access.label", value="/prod")])
"""),
    "network-bridge-unlabelled": Change("swarm", "local-br", "swarm-network-in-collection", DOCKER + """
docker.Network("local-br", name="local_br", driver="bridge")
"""),
    "container-published-port": Change("swarm", "debug-daemon", "swarm-service-in-collection", DOCKER + """
docker.Container("debug-daemon", image="docker:dind", ports=[docker.ContainerPortArgs(internal=2375, external=2376)])
"""),
    "container-host-network": Change("swarm", "sniffer", "swarm-service-in-collection", DOCKER + """
docker.Container("sniffer", image="nicolaka/netshoot", network_mode="host")
"""),
    # ---------------------------------------------------------------- Kubernetes
    "netpol-egress-world": Change("kubernetes", "allow-internet", "k8s-no-wide-peers", _netpol("allow-internet",
        '{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}')),
    "netpol-egress-prod-subrange": Change("kubernetes", "to-prod-db", "k8s-no-cross-environment", _netpol("to-prod-db",
        '{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "10.40.200.0/24"}}], '
        '"ports": [{"protocol": "TCP", "port": 5432}]}]}')),
    "netpol-egress-rfc1918": Change("kubernetes", "to-corp", "k8s-no-cross-environment", _netpol("to-corp",
        '{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.40.128.0/18"]}}]}]}')),
    "netpol-egress-ports-only": Change("kubernetes", "https-out", "k8s-no-wide-peers", _netpol("https-out",
        '{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}]}')),
    "netpol-ingress-empty-rule": Change("kubernetes", "open-door", "k8s-no-wide-peers", _netpol("open-door",
        '{"podSelector": {"matchLabels": {"app": "ledger"}}, "policyTypes": ["Ingress"], "ingress": [{}]}')),
    "netpol-ingress-ipv6-world": Change("kubernetes", "v6-in", "k8s-no-wide-peers", _netpol("v6-in",
        '{"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"ipBlock": {"cidr": "::/0"}}]}]}')),
    "netpol-egress-all-namespaces": Change("kubernetes", "to-everyone", "k8s-no-wide-peers", _netpol("to-everyone",
        '{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {}}]}]}')),
    "netpol-namespace-exists": Change("kubernetes", "any-platform-ns", "k8s-no-wide-peers", _netpol("any-platform-ns",
        '{"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": '
        '{"matchExpressions": [{"key": "ns-id", "operator": "Exists"}]}}]}]}')),
    "netpol-patch-egress-world": Change("kubernetes", "patch-open", "k8s-no-wide-peers", K8S + """
k8s.networking.v1.NetworkPolicyPatch("patch-open", metadata={"namespace": "ledger-dev", "name": "allow-internal"},
    spec={"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})
"""),
    "clusterrole-writes-netpol": Change("kubernetes", "netpol-editor", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.ClusterRole("netpol-editor", metadata={"name": "netpol-editor"},
    rules=[{"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "update", "patch"]}])
"""),
    "clusterrole-calico-global": Change("kubernetes", "calico-admin", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.ClusterRole("calico-admin", metadata={"name": "calico-admin"},
    rules=[{"apiGroups": ["crd.projectcalico.org"], "resources": ["globalnetworkpolicies"], "verbs": ["create", "delete"]}])
"""),
    "clusterrolebinding-cluster-admin": Change("kubernetes", "ledger-cluster-admin", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.ClusterRoleBinding("ledger-cluster-admin", metadata={"name": "ledger-cluster-admin"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ledger-developers"}])
"""),
    "clusterrolebinding-custom-role": Change("kubernetes", "ledger-pods-everywhere", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.ClusterRoleBinding("ledger-pods-everywhere", metadata={"name": "ledger-pods-everywhere"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pod-manager"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ledger-developers"}])
"""),
    "role-wildcards": Change("kubernetes", "ledger-everything", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.Role("ledger-everything", metadata={"namespace": "ledger-dev", "name": "everything"},
    rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
"""),
    "role-escalate": Change("kubernetes", "ledger-escalate", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.Role("ledger-escalate", metadata={"namespace": "ledger-dev", "name": "escalate"},
    rules=[{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["get", "escalate"]}])
"""),
    "rolebinding-admin": Change("kubernetes", "ledger-admin", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.RoleBinding("ledger-admin", metadata={"namespace": "ledger-dev", "name": "ledger-admin"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ledger-developers"}])
"""),
    "rolebinding-everyone": Change("kubernetes", "everyone-deploys", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.RoleBinding("everyone-deploys", metadata={"namespace": "ledger-dev", "name": "everyone-deploys"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "team-workloads"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}])
"""),
    "role-v1beta1-writes-netpol": Change("kubernetes", "old-api-role", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1beta1.Role("old-api-role", metadata={"namespace": "ledger-dev", "name": "old-api-role"},
    rules=[{"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["delete"]}])
"""),
    "namespace-without-deny-all": Change("kubernetes", "scratch-ns", "k8s-namespace-default-deny", K8S + """
k8s.core.v1.Namespace("scratch-ns", metadata={"name": "scratch",
    "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "com.docker.ucp.collection.dev=true"}})
"""),
}  # fmt: skip


# The benign twin of each VPC-endpoint entry above: the same resource, done as the platform does it.
# Each must pass every mandatory rule: a rule that refuses these bans endpoints, not the hostile case.
ENDPOINT_TWINS: dict[str, Change] = {
    "vpc-endpoint-sg-open-to-world": Change("aws", "sts-from-dev-workers", "sg-no-world-ingress", AWS + """
batch = aws.ec2.SecurityGroup("dev-batch-workers", vpc_id="vpc-0a1b2c3d", description="dev batch workers",
    tags={"environment": "dev", "managed-by": "pulumi/interlock-platform"})
aws.vpc.SecurityGroupIngressRule("sts-from-dev-workers", security_group_id="shared-endpoints-sts-sg-id",
    ip_protocol="tcp", from_port=443, to_port=443, referenced_security_group_id=batch.id, description="STS for dev workers")
"""),
    "vpc-endpoint-sg-admits-prod": Change("aws", "ecr-for-dev", "sg-no-cross-environment", AWS + """
aws.vpc.SecurityGroupIngressRule("ecr-for-dev", security_group_id="shared-endpoints-ecr-dkr-sg-id",
    ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4="10.40.64.0/18", description="image pulls for dev")
"""),
    "vpc-endpoint-private-dns-in-env": Change("aws", "dev-logs-own-name", "vpc-endpoints-scoped", AWS + """
own_subnet = aws.ec2.Subnet("logs-subnet", vpc_id="vpc-0a1b2c3d", cidr_block="10.40.96.0/24")
own_sg = aws.ec2.SecurityGroup("logs-sg", vpc_id="vpc-0a1b2c3d", description="the log shippers")
aws.ec2.VpcEndpoint("dev-logs-own-name", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.logs",
    vpc_endpoint_type="Interface", private_dns_enabled=False, subnet_ids=[own_subnet.id], security_group_ids=[own_sg.id])
"""),
    "vpc-endpoint-foreign-route-tables": Change("aws", "s3-for-dev", "vpc-endpoints-scoped", AWS + """
batch_rt = aws.ec2.RouteTable("batch-rt", vpc_id="vpc-0a1b2c3d", tags={"environment": "dev", "managed-by": "pulumi/interlock-platform"})
aws.ec2.VpcEndpoint("s3-for-dev", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.s3",
    vpc_endpoint_type="Gateway", route_table_ids=[batch_rt.id])
"""),
}  # fmt: skip

# ==================================================================================================
# What a change can reach (issue 21): classes a hostile pull request used that the pack did not
# read. Each entry names its benign twin in BENIGN, a change of the same shape that must pass: a
# rule that bans the resource type is as wrong as one that misses it.
# Dev's own: namespaces ledger-dev and payments-dev, overlay networks ingress_dev and dev_backend,
# ingress nodes ip-10-40-64-10 and ip-10-40-65-10; prod's: payments-prod, prod_backend, ip-10-40-192-10.

SHARED = 'platform = pulumi.StackReference("platform-%s", stack_name="acme/interlock-platform/shared")\n'
DEV_SUBNET = 'own_subnet = aws.ec2.Subnet("%s-subnet", vpc_id="vpc-0a1b2c3d", cidr_block="10.40.96.0/24")\n'
DEV_SG = 'own_sg = aws.ec2.SecurityGroup("%s-sg", vpc_id="vpc-0a1b2c3d", description="the batch hosts")\n'
AMI = 'ami="ami-0c55b159cbfafe1f0", instance_type="t3.small"'
DEV_NET = 'own_net = docker.Network("%s-net", name="dev_%s", driver="overlay", labels=[docker.NetworkLabelArgs(label="com.docker.ucp.access.label", value="/dev")])\n'
NS = 'metadata={"namespace": "%s", "name": "%s"}'
POD = '{"containers": [{"name": "app", "image": "registry.example.com/ledger:1.4"%s}]%s}'
TEMPLATE = '{"metadata": {"labels": {"app": "%s"}}, "spec": %s}'


def _deployment(name: str, pod: str, namespace: str = "ledger-dev") -> str:
    return K8S + (f'k8s.apps.v1.Deployment("{name}", {NS % (namespace, name)}, spec={{"selector": {{"matchLabels": {{"app": "{name}"}}}}, '
                  f'"template": {TEMPLATE % (name, pod)}}})\n')  # fmt: skip


def _service(name: str, spec: str) -> str:
    return K8S + f'k8s.core.v1.Service("{name}", {NS % ("ledger-dev", name)}, spec={spec})\n'


def _calico(name: str, kind: str, spec: str, namespace: str | None = "ledger-dev") -> str:
    meta = NS % (namespace, name) if namespace else f'metadata={{"name": "{name}"}}'
    return K8S + f'k8s.apiextensions.CustomResource("{name}", api_version="crd.projectcalico.org/v1", kind="{kind}", {meta}, spec={spec})\n'


def _swarm_service(name: str, container: str = "", task: str = "", head: str = "") -> str:
    return DOCKER + head + (f'docker.Service("{name}", name="{name}", {DEV_LABEL}, task_spec=docker.ServiceTaskSpecArgs('
                            f'container_spec=docker.ServiceTaskSpecContainerSpecArgs(image="registry.example.com/{name}:2"{container}){task}))\n')  # fmt: skip


JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW06ZGVmYXVsdCJ9.c2lnbmF0dXJlLW5vdC1yZWFs"
PEM_KEY = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\\n-----END RSA PRIVATE KEY-----\\n"

REACH: dict[str, Change] = {
    # ---------------------------------------------------------------- AWS: placement and literal ids
    "instance-in-management-vlan": Change("aws", "jumpbox", "instances-in-environment", AWS + SHARED % "jump" + DEV_SG % "jump" + f"""
aws.ec2.Instance("jumpbox", {AMI}, subnet_id=platform.get_output("managementSubnetIds").apply(lambda ids: ids[0]),
    vpc_security_group_ids=[own_sg.id])
"""),
    "eni-with-managers-group": Change("aws", "ops-nic", "instances-in-environment", AWS + SHARED % "nic" + DEV_SUBNET % "nic" + """
aws.ec2.NetworkInterface("ops-nic", subnet_id=own_subnet.id, security_groups=[platform.get_output("managementSecurityGroupId")])
"""),
    "instance-literal-managers-group": Change("aws", "metrics", "instances-in-environment", AWS + DEV_SUBNET % "metrics" + f"""
aws.ec2.Instance("metrics", {AMI}, subnet_id=own_subnet.id, vpc_security_group_ids=["shared-fw-management-id"])
"""),
    "eni-address-in-management-vlan": Change("aws", "vip-nic", "instances-in-environment", AWS + DEV_SG % "vip" + """
aws.ec2.NetworkInterface("vip-nic", subnet_id="subnet-0a1b2c3d4e5f60001", private_ips=["10.40.1.20"], security_groups=[own_sg.id])
"""),
    "sg-rule-peer-literal-prod-group": Change("aws", "from-prod-workers", "sg-no-cross-environment", AWS + DEV_SG % "api" + """
aws.vpc.SecurityGroupIngressRule("from-prod-workers", security_group_id=own_sg.id, ip_protocol="tcp", from_port=8443, to_port=8443,
    referenced_security_group_id="sg-0c1d2e3f4a5b6c7d8", description="prod's workers call the dev API")
"""),
    "sg-rule-on-a-literal-group": Change("aws", "into-prod-db", "sg-no-cross-environment", AWS + """
aws.ec2.SecurityGroupRule("into-prod-db", type="ingress", security_group_id="sg-0d2e3f4a5b6c7d8e9", protocol="tcp",
    from_port=5432, to_port=5432, cidr_blocks=["10.40.96.0/24"], description="dev batch reads the prod database")
"""),
    "vpc-endpoint-in-management-vlan": Change("aws", "ops-logs", "instances-in-environment", AWS + SHARED % "vpce" + """
aws.ec2.VpcEndpoint("ops-logs", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.logs", vpc_endpoint_type="Interface",
    private_dns_enabled=False, subnet_ids=platform.get_output("managementSubnetIds"),
    security_group_ids=[platform.get_output("managementSecurityGroupId")])
"""),
    "subnet-moved-to-foreign-nacl": Change("aws", "batch-on-open-acl", "nacl-environment-isolation", AWS + DEV_SUBNET % "acl" + """
aws.ec2.NetworkAclAssociation("batch-on-open-acl", network_acl_id="acl-0c0ffee0000000001", subnet_id=own_subnet.id)
"""),
    # ---------------------------------------------------------------- Swarm: what a service reaches
    "service-pinned-to-prod-node": Change("swarm", "pinned-batch", "swarm-service-in-collection", _swarm_service("pinned-batch",
        task=', placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.hostname == ip-10-40-192-10.eu-west-1.compute.internal"])')),
    "service-on-managers": Change("swarm", "ops-agent", "swarm-service-in-collection", _swarm_service("ops-agent",
        task=', placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.role==manager"])')),
    "service-mounts-docker-socket": Change("swarm", "ci-runner", "swarm-no-host-access", _swarm_service("ci-runner",
        container=', mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source="/var/run/docker.sock", target="/var/run/docker.sock")]')),
    "service-mounts-host-root": Change("swarm", "node-exporter", "swarm-no-host-access", _swarm_service("node-exporter",
        container=', mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source="/", target="/host", read_only=True)]')),
    "service-adds-all-capabilities": Change("swarm", "debugger", "swarm-no-host-access", _swarm_service("debugger",
        container=', cap_adds=["ALL"]')),
    "container-privileged": Change("swarm", "dind", "swarm-no-host-access", DOCKER + """
docker.Container("dind", image="docker:24-dind", privileged=True)
"""),
    "service-uses-prod-secret": Change("swarm", "report-job", "swarm-service-in-collection", _swarm_service("report-job",
        container=', secrets=[docker.ServiceTaskSpecContainerSpecSecretArgs(secret_id="prod_db_password", secret_name="prod_db_password", file_name="/run/secrets/db")]')),
    "service-joins-prod-network-beside-own": Change("swarm", "bridge-svc", "swarm-service-in-collection", _swarm_service("bridge-svc",
        task=", networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=own_net.name), docker.ServiceTaskSpecNetworksAdvancedArgs(name=\"prod_backend\")]",
        head=DEV_NET % ("bridge", "bridge"))),
    # ---------------------------------------------------------------- Kubernetes: Services and pod specs
    "k8s-service-nodeport": Change("kubernetes", "ledger-debug", "k8s-service-cluster-ip", _service("ledger-debug",
        '{"type": "NodePort", "selector": {"app": "ledger"}, "ports": [{"port": 8080, "nodePort": 30080}]}')),
    "k8s-service-loadbalancer": Change("kubernetes", "ledger-public", "k8s-service-cluster-ip", _service("ledger-public",
        '{"type": "LoadBalancer", "selector": {"app": "ledger"}, "ports": [{"port": 443, "targetPort": 8443}]}')),
    "k8s-service-external-ips": Change("kubernetes", "ledger-vip", "k8s-service-cluster-ip", _service("ledger-vip",
        '{"selector": {"app": "ledger"}, "ports": [{"port": 5432}], "externalIPs": ["10.40.192.30"]}')),
    "k8s-deployment-privileged": Change("kubernetes", "ledger-tuner", "k8s-pod-keeps-to-namespace", _deployment("ledger-tuner",
        POD % (', "securityContext": {"privileged": True}', ""))),
    "k8s-daemonset-host-root": Change("kubernetes", "log-shipper", "k8s-pod-keeps-to-namespace", K8S + """
k8s.apps.v1.DaemonSet("log-shipper", metadata={"namespace": "ledger-dev", "name": "log-shipper"}, spec={
    "selector": {"matchLabels": {"app": "log-shipper"}}, "template": {"metadata": {"labels": {"app": "log-shipper"}}, "spec": {
        "containers": [{"name": "ship", "image": "fluent/fluent-bit:2.2", "volumeMounts": [{"name": "host", "mountPath": "/host"}]}],
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}]}}})
"""),
    "k8s-statefulset-host-network": Change("kubernetes", "ledger-cache", "k8s-pod-keeps-to-namespace", K8S + f"""
k8s.apps.v1.StatefulSet("ledger-cache", {NS % ("ledger-dev", "ledger-cache")}, spec={{"serviceName": "ledger-cache",
    "selector": {{"matchLabels": {{"app": "ledger-cache"}}}}, "template": {TEMPLATE % ("ledger-cache", POD % ("", ', "hostNetwork": True'))}}})
"""),
    "k8s-cronjob-host-pid": Change("kubernetes", "ledger-audit", "k8s-pod-keeps-to-namespace", K8S + f"""
k8s.batch.v1.CronJob("ledger-audit", {NS % ("ledger-dev", "ledger-audit")}, spec={{"schedule": "0 3 * * *", "jobTemplate": {{"spec": {{
    "template": {{"spec": {POD % ("", ', "hostPID": True, "restartPolicy": "OnFailure"')}}}}}}}}})
"""),
    "k8s-pod-docker-socket": Change("kubernetes", "image-builder", "k8s-pod-keeps-to-namespace", K8S + f"""
k8s.core.v1.Pod("image-builder", {NS % ("ledger-dev", "image-builder")}, spec={POD % (', "volumeMounts": [{"name": "sock", "mountPath": "/var/run/docker.sock"}]',
    ', "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}]')})
"""),
    "k8s-deployment-on-prod-nodes": Change("kubernetes", "ledger-fast", "k8s-pod-on-own-nodes", _deployment("ledger-fast",
        POD % ("", ', "nodeSelector": {"com.docker.ucp.collection.prod": "true"}'))),
    "k8s-pod-bound-to-prod-node": Change("kubernetes", "ledger-probe", "k8s-pod-on-own-nodes", K8S + f"""
k8s.core.v1.Pod("ledger-probe", {NS % ("ledger-dev", "ledger-probe")}, spec={POD % ("", ', "nodeName": "ip-10-40-192-10.eu-west-1.compute.internal"')})
"""),
    "k8s-job-in-prod-namespace": Change("kubernetes", "backfill", "k8s-own-namespaces", K8S + f"""
k8s.batch.v1.Job("backfill", {NS % ("payments-prod", "backfill")}, spec={{"template": {{"spec": {POD % ("", ', "restartPolicy": "Never"')}}}}})
"""),
    # ---------------------------------------------------------------- Kubernetes: selectors, RBAC, Calico, namespaces
    "netpol-selects-prod-namespace": Change("kubernetes", "from-prod-payments", "k8s-selectors-in-environment", _netpol("from-prod-payments",
        '{"podSelector": {"matchLabels": {"app": "ledger"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": '
        '{"matchLabels": {"ns-id": "payments-prod"}}}], "ports": [{"protocol": "TCP", "port": 8443}]}]}')),
    "netpol-selects-by-team-label": Change("kubernetes", "from-payments-team", "k8s-selectors-in-environment", _netpol("from-payments-team",
        '{"podSelector": {"matchLabels": {"app": "ledger"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": '
        '{"matchLabels": {"interlock-platform/team": "payments"}}}], "ports": [{"protocol": "TCP", "port": 8443}]}]}')),
    "rolebinding-into-prod-namespace": Change("kubernetes", "ledger-in-payments-prod", "k8s-own-namespaces", K8S + """
k8s.rbac.v1.RoleBinding("ledger-in-payments-prod", metadata={"namespace": "payments-prod", "name": "ledger-helpers"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ledger-developers"}])
"""),
    "rolebinding-aggregated-clusterrole": Change("kubernetes", "ledger-aggregate-edit", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.RoleBinding("ledger-aggregate-edit", metadata={"namespace": "ledger-dev", "name": "ledger-aggregate-edit"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:aggregate-to-edit"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ledger-developers"}])
"""),
    "clusterrole-aggregates-into-view": Change("kubernetes", "secret-peek", "k8s-team-cannot-edit-policy", K8S + """
k8s.rbac.v1.ClusterRole("secret-peek", metadata={"name": "ledger-secret-peek", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
    rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])
"""),
    "calico-global-allow": Change("kubernetes", "allow-everything", "k8s-calico-policy-scoped", _calico("allow-everything", "GlobalNetworkPolicy",
        '{"order": 10, "selector": "all()", "types": ["Ingress", "Egress"], "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}', None)),
    "calico-egress-to-prod": Change("kubernetes", "ledger-to-prod", "k8s-calico-policy-scoped", _calico("ledger-to-prod", "NetworkPolicy",
        '{"order": 100, "selector": "app == \'ledger\'", "types": ["Egress"], "egress": [{"action": "Allow", "protocol": "TCP", '
        '"destination": {"nets": ["10.40.192.0/18"], "ports": [5432]}}]}')),
    "calico-any-namespace": Change("kubernetes", "ledger-from-all", "k8s-calico-policy-scoped", _calico("ledger-from-all", "NetworkPolicy",
        '{"order": 100, "selector": "app == \'ledger\'", "types": ["Ingress"], "ingress": [{"action": "Allow", "protocol": "TCP", '
        '"source": {"namespaceSelector": "all()"}, "destination": {"ports": [8443]}}]}')),
    "namespace-patch-moves-to-prod-nodes": Change("kubernetes", "ledger-to-prod-nodes", "k8s-namespace-in-collection", K8S + """
k8s.core.v1.NamespacePatch("ledger-to-prod-nodes", metadata={"name": "ledger-dev",
    "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "com.docker.ucp.collection.prod=true"}})
"""),
    # ---------------------------------------------------------------- Credentials in plain text
    "configmap-bearer-token": Change("kubernetes", "ledger-client", "secrets-are-secret", K8S + f"""
k8s.core.v1.ConfigMap("ledger-client", {NS % ("ledger-dev", "ledger-client")}, data={{"client.env": "LEDGER_AUTH=Bearer {JWT}"}})
"""),
    "configmap-registry-password": Change("kubernetes", "builder-docker-config", "secrets-are-secret", K8S + """
import base64, json
k8s.core.v1.ConfigMap("builder-docker-config", metadata={"namespace": "ledger-dev", "name": "builder-docker-config"},
    data={"config.json": json.dumps({"auths": {"registry.example.com": {"auth": base64.b64encode(b"ci:Hunter2-Registry").decode()}}})})
"""),
    "deployment-aws-keys": Change("kubernetes", "ledger-exporter", "secrets-are-secret", _deployment("ledger-exporter",
        POD % (', "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"}, '
               '{"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}]', ""))),
    "configmap-base64-key": Change("kubernetes", "ledger-tls", "secrets-are-secret", K8S + f"""
import base64
k8s.core.v1.ConfigMap("ledger-tls", {NS % ("ledger-dev", "ledger-tls")}, binary_data={{"tls.key": base64.b64encode("{PEM_KEY}".encode()).decode()}})
"""),
}  # fmt: skip

# The benign twin of each REACH entry: the same resource types, written as a careful team would.
# Each must preview with no mandatory violation.
BENIGN_CODE: dict[str, str] = {
    "instance-in-own-subnet": AWS + DEV_SUBNET % "app" + DEV_SG % "app" + f"""
aws.ec2.Instance("app-host", {AMI}, subnet_id=own_subnet.id, vpc_security_group_ids=[own_sg.id], private_ip="10.40.96.10")
""",
    "eni-in-own-subnet": AWS + DEV_SUBNET % "eni" + DEV_SG % "eni" + """
aws.ec2.NetworkInterface("app-nic", subnet_id=own_subnet.id, private_ips=["10.40.96.20"], security_groups=[own_sg.id])
""",
    "vpc-endpoint-in-own-subnet": AWS + DEV_SUBNET % "vpce" + DEV_SG % "vpce" + """
aws.ec2.VpcEndpoint("batch-logs", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.logs", vpc_endpoint_type="Interface",
    private_dns_enabled=False, subnet_ids=[own_subnet.id], security_group_ids=[own_sg.id])
""",
    "sg-rule-peer-own-group": AWS + """
own_sg = aws.ec2.SecurityGroup("peer-ledger", vpc_id="vpc-0a1b2c3d", description="the ledger API", tags={"application-group": "ledger"})
callers = aws.ec2.SecurityGroup("peer-callers", vpc_id="vpc-0a1b2c3d", description="the API's callers", tags={"application-group": "payments"})
aws.vpc.SecurityGroupIngressRule("from-own-callers", security_group_id=own_sg.id, ip_protocol="tcp", from_port=8443, to_port=8443,
    referenced_security_group_id=callers.id, description="dev's callers call the dev API")
aws.ec2.SecurityGroupRule("legacy-from-callers", type="ingress", security_group_id=own_sg.id, protocol="tcp", from_port=8443,
    to_port=8443, source_security_group_id=callers.id, description="the same, in the older rule resource")
aws.vpc.SecurityGroupIngressRule("from-managers", security_group_id=own_sg.id, ip_protocol="tcp", from_port=12376, to_port=12376,
    referenced_security_group_id="shared-fw-management-id", description="the managers reach the engine")
""",
    "subnet-on-own-nacl": AWS + DEV_SUBNET % "ownacl" + """
acl = aws.ec2.NetworkAcl("batch-acl", vpc_id="vpc-0a1b2c3d",
    ingress=[aws.ec2.NetworkAclIngressArgs(rule_no=10, action="deny", protocol="-1", cidr_block="10.40.128.0/17", from_port=0, to_port=0)],
    egress=[aws.ec2.NetworkAclEgressArgs(rule_no=10, action="deny", protocol="-1", cidr_block="10.40.128.0/17", from_port=0, to_port=0)])
aws.ec2.NetworkAclAssociation("batch-on-own-acl", network_acl_id=acl.id, subnet_id=own_subnet.id)
""",
    "service-pinned-to-own-node": _swarm_service("own-node-batch",
        task=', placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.hostname==ip-10-40-64-10.eu-west-1.compute.internal", "node.role==worker"])'),
    "service-with-volume-and-data-bind": _swarm_service("ledger-store",
        container=', cap_adds=["NET_BIND_SERVICE"], mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(type="volume", source="ledger-data", target="/data"), '
                  'docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source="/srv/ledger/config", target="/config", read_only=True)]'),
    "container-unprivileged": DOCKER + """
docker.Container("builder", image="docker:24-cli", privileged=False, capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]))
""",
    "service-uses-own-secret": DOCKER + """
import pulumi
db = docker.Secret("dev-db-password", name="dev_db_password", data=pulumi.Output.secret("aHVudGVyMg=="),
    labels=[docker.SecretLabelArgs(label="com.docker.ucp.access.label", value="/dev")])
""" + _swarm_service("report-job-dev",
        container=', secrets=[docker.ServiceTaskSpecContainerSpecSecretArgs(secret_id=db.id, secret_name=db.name, file_name="/run/secrets/db")]'),
    "service-on-own-networks": _swarm_service("api-svc",
        task=", networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=own_net.name), docker.ServiceTaskSpecNetworksAdvancedArgs(name=\"dev_backend\")]",
        head=DEV_NET % ("api", "api")),
    "k8s-service-cluster-ip": _service("ledger-internal", '{"type": "ClusterIP", "selector": {"app": "ledger"}, "ports": [{"port": 8080}]}'),
    "k8s-deployment-restricted": _deployment("ledger-api", POD % (', "securityContext": {"privileged": False, "allowPrivilegeEscalation": False, '
        '"runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}, "ports": [{"containerPort": 8443}]', "")) + f"""
k8s.apps.v1.StatefulSet("ledger-kv", {NS % ("ledger-dev", "ledger-kv")}, spec={{"serviceName": "ledger-kv",
    "selector": {{"matchLabels": {{"app": "ledger-kv"}}}}, "template": {TEMPLATE % ("ledger-kv", POD % ("", ', "hostNetwork": False'))}}})
""",
    "k8s-daemonset-config-volume": K8S + """
k8s.apps.v1.DaemonSet("ledger-agent", metadata={"namespace": "ledger-dev", "name": "ledger-agent"}, spec={
    "selector": {"matchLabels": {"app": "ledger-agent"}}, "template": {"metadata": {"labels": {"app": "ledger-agent"}}, "spec": {
        "containers": [{"name": "agent", "image": "registry.example.com/agent:1", "volumeMounts": [{"name": "conf", "mountPath": "/etc/agent"}]}],
        "volumes": [{"name": "conf", "configMap": {"name": "ledger-agent"}}, {"name": "scratch", "emptyDir": {}}]}}})
""",
    "k8s-cronjob-and-job-in-own-namespace": K8S + f"""
k8s.batch.v1.CronJob("ledger-nightly", {NS % ("ledger-dev", "ledger-nightly")}, spec={{"schedule": "0 3 * * *", "jobTemplate": {{"spec": {{
    "template": {{"spec": {POD % ("", ', "restartPolicy": "OnFailure"')}}}}}}}}})
k8s.batch.v1.Job("ledger-backfill", {NS % ("ledger-dev", "ledger-backfill")}, spec={{"template": {{"spec": {POD % ("", ', "restartPolicy": "Never"')}}}}})
k8s.core.v1.Pod("ledger-debug-pod", {NS % ("ledger-dev", "ledger-debug-pod")}, spec={POD % ("", "")})
""",
    "netpol-selects-own-namespace": _netpol("from-dev-payments",
        '{"podSelector": {"matchLabels": {"app": "ledger"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": '
        '{"matchLabels": {"ns-id": "payments-dev"}}}, {"namespaceSelector": {"matchLabels": {"interlock-platform/team": "payments", '
        '"interlock-platform/environment": "dev"}}}], "ports": [{"protocol": "TCP", "port": 8443}]}]}'),
    "rolebinding-in-own-namespace": K8S + """
k8s.rbac.v1.RoleBinding("ledger-readers", metadata={"namespace": "ledger-dev", "name": "ledger-readers"},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    subjects=[{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ledger-auditors"}])
k8s.rbac.v1.ClusterRole("pod-reader", metadata={"name": "ledger-pod-reader", "labels": {"team": "ledger"}},
    rules=[{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}])
""",
    "calico-policy-in-own-namespace": _calico("ledger-from-web", "NetworkPolicy",
        '{"order": 100, "selector": "app == \'ledger\'", "types": ["Ingress", "Egress"], "ingress": [{"action": "Allow", "protocol": "TCP", '
        '"source": {"selector": "app == \'payments-web\'", "namespaceSelector": "ns-id == \'payments-dev\'"}, "destination": {"ports": [8443]}}], '
        '"egress": [{"action": "Allow", "protocol": "TCP", "destination": {"nets": ["192.0.2.128/28"], "ports": [5432]}}, {"action": "Deny"}]}'),
    "namespace-patch-labels-only": K8S + """
k8s.core.v1.NamespacePatch("ledger-contact", metadata={"name": "ledger-dev", "annotations": {"example.com/contact": "ledger@example.com"}})
""",
    "credentials-as-secrets": K8S + """
import pulumi
k8s.core.v1.ConfigMap("ledger-settings", metadata={"namespace": "ledger-dev", "name": "ledger-settings"},
    data={"client.env": "LEDGER_URL=https://ledger.dev.apps.example.com\\nLEDGER_AUTH_HEADER=Authorization", "AWS_REGION": "eu-west-1"},
    binary_data={"ca.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSkFOCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"})
k8s.core.v1.Secret("ledger-pull", metadata={"namespace": "ledger-dev", "name": "ledger-pull"}, type="kubernetes.io/dockerconfigjson",
    string_data={".dockerconfigjson": pulumi.Output.secret('{"auths": {"registry.example.com": {"auth": "Y2k6aHVudGVyMg=="}}}')})
""" + _deployment("ledger-uploader", POD % (', "env": [{"name": "AWS_REGION", "value": "eu-west-1"}, {"name": "AWS_SECRET_ACCESS_KEY", '
    '"valueFrom": {"secretKeyRef": {"name": "ledger-aws", "key": "secret"}}}, {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}]', "")),
}  # fmt: skip

# hostile entry -> its benign twin
BENIGN: dict[str, str] = {
    "instance-in-management-vlan": "instance-in-own-subnet", "instance-literal-managers-group": "instance-in-own-subnet",
    "eni-with-managers-group": "eni-in-own-subnet", "eni-address-in-management-vlan": "eni-in-own-subnet",
    "vpc-endpoint-in-management-vlan": "vpc-endpoint-in-own-subnet",
    "sg-rule-peer-literal-prod-group": "sg-rule-peer-own-group", "sg-rule-on-a-literal-group": "sg-rule-peer-own-group",
    "subnet-moved-to-foreign-nacl": "subnet-on-own-nacl",
    "service-pinned-to-prod-node": "service-pinned-to-own-node", "service-on-managers": "service-pinned-to-own-node",
    "service-mounts-docker-socket": "service-with-volume-and-data-bind", "service-mounts-host-root": "service-with-volume-and-data-bind",
    "service-adds-all-capabilities": "service-with-volume-and-data-bind", "container-privileged": "container-unprivileged",
    "service-uses-prod-secret": "service-uses-own-secret", "service-joins-prod-network-beside-own": "service-on-own-networks",
    "k8s-service-nodeport": "k8s-service-cluster-ip", "k8s-service-loadbalancer": "k8s-service-cluster-ip",
    "k8s-service-external-ips": "k8s-service-cluster-ip", "k8s-deployment-privileged": "k8s-deployment-restricted",
    "k8s-daemonset-host-root": "k8s-daemonset-config-volume", "k8s-statefulset-host-network": "k8s-deployment-restricted",
    "k8s-cronjob-host-pid": "k8s-cronjob-and-job-in-own-namespace", "k8s-pod-docker-socket": "k8s-cronjob-and-job-in-own-namespace",
    "k8s-job-in-prod-namespace": "k8s-cronjob-and-job-in-own-namespace",
    "k8s-deployment-on-prod-nodes": "k8s-deployment-restricted", "k8s-pod-bound-to-prod-node": "k8s-cronjob-and-job-in-own-namespace",
    "netpol-selects-prod-namespace": "netpol-selects-own-namespace", "netpol-selects-by-team-label": "netpol-selects-own-namespace",
    "rolebinding-into-prod-namespace": "rolebinding-in-own-namespace", "rolebinding-aggregated-clusterrole": "rolebinding-in-own-namespace",
    "clusterrole-aggregates-into-view": "rolebinding-in-own-namespace",
    "calico-global-allow": "calico-policy-in-own-namespace", "calico-egress-to-prod": "calico-policy-in-own-namespace",
    "calico-any-namespace": "calico-policy-in-own-namespace", "namespace-patch-moves-to-prod-nodes": "namespace-patch-labels-only",
    "configmap-bearer-token": "credentials-as-secrets", "configmap-registry-password": "credentials-as-secrets",
    "deployment-aws-keys": "credentials-as-secrets", "configmap-base64-key": "credentials-as-secrets",
}  # fmt: skip

CORPUS.update(REACH)


# UCP grants (item 4 of the isolation issue): a team's grants written by hand, past the program's
# validation. Each hostile entry has a benign twin (GRANT_TWINS) of the same resource.
GRANTS = "from interlock_platform.swarm.providers.ucp_grants import UcpGrants\nfrom interlock_platform.core.ucp_grants import UcpGrantSpec\n"
CORPUS.update({
    "ucp-grant-on-prod-collection": Change("swarm", "payments-ci-grants", "swarm-ucp-grants-in-collection", GRANTS + """
UcpGrants("payments-ci-grants", environment="dev", collection="/dev",
          grants=[UcpGrantSpec("docker-datacenter", "payments-ci", "restrictedcontrol", "/prod")])
"""),
    "ucp-grant-on-shared": Change("swarm", "ops-grants", "swarm-ucp-grants-in-collection", GRANTS + """
UcpGrants("ops-grants", environment="dev", collection="/dev",
          grants=[UcpGrantSpec("docker-datacenter", "payments-developers", "restrictedcontrol", "/Shared")])
"""),
    "ucp-grant-full-control": Change("swarm", "debug-grants", "swarm-ucp-grants-in-collection", GRANTS + """
UcpGrants("debug-grants", environment="dev", collection="/dev",
          grants=[UcpGrantSpec("docker-datacenter", "payments-developers", "fullcontrol", "/dev/payments")])
"""),
})  # fmt: skip
GRANT_TWINS: dict[str, Change] = {
    "ucp-grant-on-prod-collection": Change("swarm", "payments-ci-grants", "swarm-ucp-grants-in-collection", GRANTS + """
UcpGrants("payments-ci-grants", environment="dev", collection="/dev",
          grants=[UcpGrantSpec("docker-datacenter", "payments-ci", "restrictedcontrol", "/dev/payments")])
"""),
    "ucp-grant-full-control": Change("swarm", "debug-grants", "swarm-ucp-grants-in-collection", GRANTS + """
UcpGrants("debug-grants", environment="dev", collection="/dev",
          grants=[UcpGrantSpec("docker-datacenter", "payments-developers", "restrictedcontrol", "/dev")])
"""),
}  # fmt: skip


# Namespaces a stack creates carry its environment (the benign twins: the reference stacks' own
# team namespaces, payments-dev and ledger-dev, which every reference preview passes).
CORPUS.update({
    "namespace-named-for-prod": Change("kubernetes", "cards-ns", "k8s-own-namespaces", K8S + """
k8s.core.v1.Namespace("cards-ns", metadata={"name": "cards-prod",
    "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "com.docker.ucp.collection.dev=true"}})
"""),
    "namespace-in-kube-reserved": Change("kubernetes", "tools-ns", "k8s-own-namespaces", K8S + """
k8s.core.v1.Namespace("tools-ns", metadata={"name": "kube-tools",
    "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "com.docker.ucp.collection.dev=true"}})
"""),
})  # fmt: skip


# Gateway API (issue 23): routes attach only to their own environment's Gateway, with hostnames in
# its domain; no ReferenceGrant crosses environments; no Gateway listens for another environment's
# domain. Each hostile entry has a benign twin (ROUTE_TWINS) of the same resource. Domains: dev
# dev.apps.example.com, prod prod.apps.example.com; dev's Gateway is dev in gateway-dev.
CR = K8S + 'k8s.apiextensions.CustomResource("%s", api_version="gateway.networking.k8s.io/%s", kind="%s",\n    metadata={"namespace": "%s", "name": "%s"}, spec=%s)\n'
BACKEND = '"rules": [{"backendRefs": [{"name": "shop", "port": 8080}]}]'


def _cr(name: str, kind: str, namespace: str, spec: str, version: str = "v1") -> str:
    return CR % (name, version, kind, namespace, name, spec)


def _listener(host: str) -> str:
    hostname = f', "hostname": "{host}"' if host else ""
    return ('{"gatewayClassName": "envoy-gatewayingress", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80' + hostname +
            ', "allowedRoutes": {"namespaces": {"from": "Same"}}}]}')  # fmt: skip


ROUTES: dict[str, Change] = {
    "httproute-on-prod-gateway": Change("kubernetes", "shop-route", "k8s-routes-own-gateway", _cr("shop-route", "HTTPRoute", "payments-dev",
        '{"parentRefs": [{"name": "prod", "namespace": "gateway-prod"}], "hostnames": ["shop.dev.apps.example.com"], ' + BACKEND + "}")),
    "grpcroute-for-prod-hostname": Change("kubernetes", "ledger-api", "k8s-routes-own-gateway", _cr("ledger-api", "GRPCRoute", "ledger-dev",
        '{"parentRefs": [{"name": "dev", "namespace": "gateway-dev"}], "hostnames": ["ledger.prod.apps.example.com"], ' + BACKEND + "}")),
    "tlsroute-on-test-gateway": Change("kubernetes", "ledger-tls", "k8s-routes-own-gateway", _cr("ledger-tls", "TLSRoute", "ledger-dev",
        '{"parentRefs": [{"name": "test", "namespace": "gateway-test", "sectionName": "tls"}], "hostnames": ["ledger.dev.apps.example.com"], '
        + BACKEND + "}")),
    "referencegrant-from-prod": Change("kubernetes", "let-prod-in", "k8s-reference-grant-in-environment", _cr("let-prod-in", "ReferenceGrant",
        "payments-dev", '{"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "payments-prod"}], '
        '"to": [{"group": "", "kind": "Service"}]}', "v1beta1")),
    "gateway-for-prod-domain": Change("kubernetes", "shadow-gw", "k8s-gateway-own-domain",
                                      _cr("shadow-gw", "Gateway", "payments-dev", _listener("*.prod.apps.example.com"))),
    "gateway-for-every-host": Change("kubernetes", "catch-all-gw", "k8s-gateway-own-domain",
                                     _cr("catch-all-gw", "Gateway", "payments-dev", _listener(""))),
}  # fmt: skip
ROUTE_TWINS: dict[str, Change] = {
    "httproute-on-prod-gateway": Change("kubernetes", "shop-route", "k8s-routes-own-gateway", _cr("shop-route", "HTTPRoute", "payments-dev",
        '{"parentRefs": [{"name": "dev", "namespace": "gateway-dev"}], "hostnames": ["shop.dev.apps.example.com"], ' + BACKEND + "}")),
    "grpcroute-for-prod-hostname": Change("kubernetes", "ledger-api", "k8s-routes-own-gateway", _cr("ledger-api", "GRPCRoute", "ledger-dev",
        '{"parentRefs": [{"name": "dev", "namespace": "gateway-dev"}], "hostnames": ["ledger.dev.apps.example.com"], ' + BACKEND + "}")),
    "tlsroute-on-test-gateway": Change("kubernetes", "ledger-tls", "k8s-routes-own-gateway", _cr("ledger-tls", "TLSRoute", "ledger-dev",
        '{"parentRefs": [{"name": "dev", "namespace": "gateway-dev", "sectionName": "tls"}], "hostnames": ["ledger.dev.apps.example.com"], '
        + BACKEND + "}")),
    "referencegrant-from-prod": Change("kubernetes", "let-prod-in", "k8s-reference-grant-in-environment", _cr("let-prod-in", "ReferenceGrant",
        "payments-dev", '{"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "ledger-dev"}], '
        '"to": [{"group": "", "kind": "Service"}]}', "v1beta1")),
    "gateway-for-prod-domain": Change("kubernetes", "shadow-gw", "k8s-gateway-own-domain",
                                      _cr("shadow-gw", "Gateway", "payments-dev", _listener("*.dev.apps.example.com"))),
    "gateway-for-every-host": Change("kubernetes", "catch-all-gw", "k8s-gateway-own-domain",
                                     _cr("catch-all-gw", "Gateway", "payments-dev", _listener("shop.dev.apps.example.com"))),
}  # fmt: skip


# Gateway listeners admit routes only from the environment's team namespaces, by the name the API
# server sets (a tenant sets any other label on its own namespaces, in every environment).
def _admits(routes: str) -> str:
    return ('{"gatewayClassName": "envoy-gatewayingress", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80, '
            '"hostname": "*.dev.apps.example.com", "allowedRoutes": {"namespaces": ' + routes + "}}]}")  # fmt: skip


NAME_IN = '{"from": "Selector", "selector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": %s}]}}'
ROUTES.update({
    "gateway-admits-all-namespaces": Change("kubernetes", "open-gw", "k8s-gateway-own-domain",
                                            _cr("open-gw", "Gateway", "payments-dev", _admits('{"from": "All"}'))),
    "gateway-admits-by-team-label": Change("kubernetes", "team-gw", "k8s-gateway-own-domain", _cr("team-gw", "Gateway", "payments-dev",
        _admits('{"from": "Selector", "selector": {"matchLabels": {"interlock-platform/team": "payments"}}}'))),
    "gateway-admits-prod-namespace": Change("kubernetes", "wide-gw", "k8s-gateway-own-domain", _cr("wide-gw", "Gateway", "payments-dev",
        _admits(NAME_IN % '["payments-dev", "payments-prod"]'))),
})  # fmt: skip
ROUTE_TWINS.update({
    "gateway-admits-all-namespaces": Change("kubernetes", "open-gw", "k8s-gateway-own-domain",
                                            _cr("open-gw", "Gateway", "payments-dev", _admits('{"from": "Same"}'))),
    "gateway-admits-by-team-label": Change("kubernetes", "team-gw", "k8s-gateway-own-domain", _cr("team-gw", "Gateway", "payments-dev",
        _admits('{"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "payments-dev"}}}'))),
    "gateway-admits-prod-namespace": Change("kubernetes", "wide-gw", "k8s-gateway-own-domain", _cr("wide-gw", "Gateway", "payments-dev",
        _admits(NAME_IN % '["ledger-dev", "payments-dev"]'))),
})  # fmt: skip


# Envoy Gateway's EnvoyProxy: the controller runs its proxies in its own namespace, outside the
# team namespaces' pinning and Pod Security, so the EnvoyProxy is held to the platform's shape
# (interlock_platform/core/gateway.py). Dev's gateway is off in its stack file: its Gateway
# namespace is gateway-dev and its Gateway NodePorts the defaults, 32852 and 32785 (prod's 32850
# and 32783). Each snippet creates dev's Gateway namespace as the platform does (deny-all, pinned).
GATEWAY_NS = K8S + """
k8s.core.v1.Namespace("gateway-dev-ns", metadata={"name": "gateway-dev",
    "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "com.docker.ucp.collection.dev=true"}})
k8s.networking.v1.NetworkPolicy("gateway-dev-deny-all", metadata={"namespace": "gateway-dev", "name": "deny-all"},
    spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
"""
DEV_NODES = ('{"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": ['
             '{"key": "kubernetes.io/hostname", "operator": "In", "values": ["ip-10-40-64-10.eu-west-1.compute.internal", '
             '"ip-10-40-65-10.eu-west-1.compute.internal"]}, {"key": "com.docker.ucp.collection.dev", "operator": "In", "values": ["true"]}, '
             '{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}}%s}')  # fmt: skip
NODE_PORT_SERVICE = ('{"type": "NodePort", "externalTrafficPolicy": "Local", "patch": {"type": "StrategicMerge", "value": {"spec": '
                     '{%s"ports": [{"port": 80, "nodePort": %s}]}}}}')  # fmt: skip


def _envoy_proxy(name: str, workload: str, service: str = NODE_PORT_SERVICE % ("", 32852), namespace: str = "gateway-dev") -> str:
    """An EnvoyProxy `name`: `workload` is its envoyDaemonSet (or the key and value of another)."""
    body = workload if workload.startswith('"') else f'"envoyDaemonSet": {workload}'
    spec = '{"provider": {"type": "Kubernetes", "kubernetes": {' + body + (f', "envoyService": {service}' if service else "") + "}}}"
    return (GATEWAY_NS if namespace == "gateway-dev" else K8S) + (
        f'k8s.apiextensions.CustomResource("{name}", api_version="gateway.envoyproxy.io/v1alpha1", kind="EnvoyProxy",\n'
        f'    metadata={{"namespace": "{namespace}", "name": "{name}"}}, spec={spec})\n'
    )


PLATFORM_PODS = '{"pod": ' + DEV_NODES % "" + "}"
ENVOY: dict[str, Change] = {
    "envoyproxy-on-prod-nodes": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", '{"pod": {"nodeSelector": {"com.docker.ucp.collection.prod": "true"}}}')),
    "envoyproxy-host-path": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment", _envoy_proxy("dev-proxy",
        '{"pod": ' + DEV_NODES % ', "volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]'
        + ', "container": {"volumeMounts": [{"name": "docker", "mountPath": "/var/run/docker.sock"}]}}')),
    "envoyproxy-privileged-image": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment", _envoy_proxy("dev-proxy",
        '{"pod": ' + DEV_NODES % "" + ', "container": {"image": "registry.example.com/toolbox:1", "securityContext": {"privileged": True}}}')),
    "envoyproxy-host-network-patch": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment", _envoy_proxy("dev-proxy",
        '{"pod": ' + DEV_NODES % "" + ', "patch": {"type": "StrategicMerge", "value": {"spec": {"template": {"spec": '
        '{"hostNetwork": True, "hostPID": True}}}}}}')),
    "envoyproxy-external-ips": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment", _envoy_proxy("dev-proxy", PLATFORM_PODS,
        NODE_PORT_SERVICE % ('"externalIPs": ["10.40.192.10"], ', 32852))),
    "envoyproxy-load-balancer": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS, '{"externalTrafficPolicy": "Local"}')),
    "envoyproxy-takes-prod-node-port": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS, NODE_PORT_SERVICE % ("", 32850))),
    "envoyproxy-default-deployment": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", '"envoyDeployment": {"replicas": 2}', NODE_PORT_SERVICE % ("", 32852))),
    "envoyproxy-in-team-namespace": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS, namespace="ledger-dev")),
}  # fmt: skip
# Each twin: the platform's own shape, or a variation of it that keeps the proxies dev's
ENVOY_TWINS: dict[str, Change] = {
    "envoyproxy-on-prod-nodes": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", '{"pod": {"nodeSelector": {"com.docker.ucp.collection.dev": "true", "kubernetes.io/os": "linux"}}}')),
    "envoyproxy-host-path": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment", _envoy_proxy("dev-proxy",
        '{"pod": ' + DEV_NODES % ', "volumes": [{"name": "scratch", "emptyDir": {}}]'
        + ', "container": {"volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}]}}')),
    "envoyproxy-privileged-image": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment", _envoy_proxy("dev-proxy",
        '{"pod": ' + DEV_NODES % "" + ', "container": {"resources": {"limits": {"cpu": "1", "memory": "512Mi"}}, '
        '"securityContext": {"privileged": False, "allowPrivilegeEscalation": False}}}')),
    "envoyproxy-host-network-patch": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", '{"pod": ' + DEV_NODES % "" + ', "strategy": {"type": "RollingUpdate"}}')),
    "envoyproxy-external-ips": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS, NODE_PORT_SERVICE % ("", 32852))),
    "envoyproxy-load-balancer": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS, '{"type": "ClusterIP"}')),
    "envoyproxy-takes-prod-node-port": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS, NODE_PORT_SERVICE % ("", 32785))),
    "envoyproxy-default-deployment": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", '"envoyDeployment": {"replicas": 2, "pod": ' + DEV_NODES % "" + "}", NODE_PORT_SERVICE % ("", 32852))),
    "envoyproxy-in-team-namespace": Change("kubernetes", "dev-proxy", "k8s-envoy-proxy-in-environment",
        _envoy_proxy("dev-proxy", PLATFORM_PODS)),
}  # fmt: skip
ROUTES.update(ENVOY)
ROUTE_TWINS.update(ENVOY_TWINS)
CORPUS.update(ROUTES)
