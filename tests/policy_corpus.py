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
BENIGN: dict[str, Change] = {
    "vpc-endpoint-sg-open-to-world": Change("aws", "sts-from-dev-workers", "sg-no-world-ingress", AWS + """
aws.vpc.SecurityGroupIngressRule("sts-from-dev-workers", security_group_id="shared-endpoints-sts-sg-id",
    ip_protocol="tcp", from_port=443, to_port=443, referenced_security_group_id="dev-fw-workers-id", description="STS for dev workers")
"""),
    "vpc-endpoint-sg-admits-prod": Change("aws", "ecr-for-dev", "sg-no-cross-environment", AWS + """
aws.vpc.SecurityGroupIngressRule("ecr-for-dev", security_group_id="shared-endpoints-ecr-dkr-sg-id",
    ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4="10.40.64.0/18", description="image pulls for dev")
"""),
    "vpc-endpoint-private-dns-in-env": Change("aws", "dev-logs-own-name", "vpc-endpoints-scoped", AWS + """
aws.ec2.VpcEndpoint("dev-logs-own-name", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.logs",
    vpc_endpoint_type="Interface", private_dns_enabled=False, subnet_ids=["subnet-0a1b2c3d4e5f60718"],
    security_group_ids=["sg-0123456789abcdef0"])
"""),
    "vpc-endpoint-foreign-route-tables": Change("aws", "s3-for-dev", "vpc-endpoints-scoped", AWS + """
batch_rt = aws.ec2.RouteTable("batch-rt", vpc_id="vpc-0a1b2c3d", tags={"environment": "dev", "managed-by": "pulumi/interlock-platform"})
aws.ec2.VpcEndpoint("s3-for-dev", vpc_id="vpc-0a1b2c3d", service_name="com.amazonaws.eu-west-1.s3",
    vpc_endpoint_type="Gateway", route_table_ids=[batch_rt.id])
"""),
}  # fmt: skip
