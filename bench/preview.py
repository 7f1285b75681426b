"""Benchmark: the offline preview and the policy pack. Prints its figures from one run (the
machine is shared: medians, and every ratio measured side by side, round by round).

    python -m bench.preview [--rounds N] [--sweep 1,10,50,100] [--fast]

`--fast` is one round and a sweep of N = 1: what CI runs, so the benchmark cannot rot.

Every child runs under the interpreter's defaults (CHILD_ENV: bytecode is cached, as anywhere
PYTHONDONTWRITEBYTECODE is not set).

1. Each stack's offline preview (policy pack included), wall time, against three floors:
   - the issue's command, `python -c "import pulumi_aws.ec2, ..."`. pulumi_aws registers its
     submodules lazily, so that command does not load `pulumi_aws.ec2`, `lb` or `vpc`: it
     loads none of ec2's 182 modules (the benchmark prints the count);
   - the job floor, per stack: a process that imports exactly the Pulumi SDK modules that
     stack's preview loads (pulumi, pulumi_aws, pulumi_kubernetes, pulumi_docker; read from a
     preview's sys.modules in its order, lazily registered stubs left out, the same set
     checked), and nothing else, under the interpreter's defaults as the command runs. An env
     stack's preview reads the shared stack's outputs from the pure model (interlock_platform/tooling/shared_state.py),
     so its floor holds none of what only the shared program loads (iam, cloudwatch, kms). The
     benchmark stops if a preview loads an SDK subpackage outside JOB_SUBPACKAGES, so the floor
     cannot follow import bloat unseen;
   - the tuned job floor: the same with the preview's own process settings
     (interlock_platform/tooling/short_run.py: the cyclic collector off, and no interpreter teardown): the comparison on equal terms. The preview's own work is what
     it takes beyond this one.
   Beside them, the preview's own process's CPU apart from its policy pack's: that process runs
   on one core and ends after the pack's last verdict, so a CPU share of its floor near 1 leaves
   no room for a ratio at or below 1.0.
   The installed command, `interlock-platform preview` (the console script `pip install .` puts
   beside this interpreter; it runs the package from site-packages against this checkout), is
   timed against the same floors when it is there: its target is at most 1.2 times the job floor.
2. Where the rest goes, for the dev preview, in one process, in the order the preview runs,
   and how many streamed Analyze calls the pack had yet to answer when the program ended.
3. The policy pack alone per stack: start, configure, analyze every resource, AnalyzeStack.
4. A scaling sweep of the dev stack over N application groups and N teams: resources, wall
   time, peak memory, and the largest security-group and NACL rule counts against their quotas.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from interlock_platform.tooling.stack_files import ROOT

FLOOR = "import pulumi_aws.ec2, pulumi_aws.lb, pulumi_aws.vpc, pulumi_docker, pulumi_kubernetes.core.v1, pulumi_kubernetes.networking.v1, pulumi_kubernetes.rbac.v1"
LOADED = "pulumi_aws.ec2.Vpc, pulumi_aws.lb.LoadBalancer, pulumi_aws.vpc.SecurityGroupIngressRule"  # for the breakdown
COUNT_EC2 = "import sys; print(sum(m.startswith('pulumi_aws.ec2.') for m in sys.modules))"
SDK_PACKAGES = ("pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumi_docker")
# What a process has loaded of the SDKs: pulumi's lazily registered subpackages sit in
# sys.modules as stubs (`_LazyModule`) until first used; those are not loaded.
SDK_LOADED = (
    f"[n for n, m in list(sys.modules.items()) if n.split('.')[0] in {SDK_PACKAGES!r} and type(m).__name__ != '_LazyModule']"
)
PREVIEW_LOADS = f"""
import contextlib, io, json, sys
from interlock_platform.tooling import preview
with contextlib.redirect_stdout(io.StringIO()):
    code = preview.main(["--stack", sys.argv[1]])
assert code == 0, f"the preview of {{sys.argv[1]}} exited {{code}}"
print(json.dumps({SDK_LOADED}))
"""
JOB_FLOOR = """
import importlib, json, sys
for name in json.load(open(sys.argv[1])):
    module = importlib.import_module(name)
    if type(module).__name__ == "_LazyModule":
        getattr(module, "__all__", None)  # any attribute but the introspection ones loads it
"""

# A preview as the command runs it, reporting its own process's CPU apart from its policy pack's
# (the pack is its child, reaped when the preview closes it)
PREVIEW_CPU = """
import contextlib, io, json, os, resource, sys
from interlock_platform.tooling.short_run import tune_gc_for_a_short_run
tune_gc_for_a_short_run()
from interlock_platform.tooling.cli import run
with contextlib.redirect_stdout(io.StringIO()):
    code = run(["preview", "--stack", sys.argv[1]])
own, pack = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps([code, own.ru_utime + own.ru_stime, pack.ru_utime + pack.ru_stime]))
sys.stdout.flush()
os._exit(0)
"""


def preview_cpu(stack: str) -> tuple[float, float]:
    """CPU seconds of one preview's own process and of its policy pack."""
    code, own, pack = json.loads(_output([sys.executable, "-c", PREVIEW_CPU, stack]).strip().splitlines()[-1])
    if code != 0:
        sys.exit(f"the preview of {stack} exited {code}")
    return own, pack


def with_preview_settings(script: str) -> str:
    """`script` with the preview's own process settings: the cyclic collector off and no teardown."""
    return (
        "import os, sys; from interlock_platform.tooling import short_run; short_run.tune_gc_for_a_short_run()\n"
        f"{script}\nsys.stdout.flush(); os._exit(0)"
    )


REPORT_LOADED = f"\nprint(json.dumps({SDK_LOADED}))"
# The console script `pip install .` (or -e .) writes beside the interpreter
INSTALLED = Path(sys.executable).parent / "interlock-platform"
INSTALLED_TARGET = 1.2  # at most this many times the job floor
STACKS = ("shared", "dev", "test", "prod")
# The SDK subpackages this job's resources live in (pulumi_aws and pulumi_kubernetes load
# these lazily, whole): the list, plus iam, cloudwatch and kms (the shared stack's flow
# logs) and route53 (an environment's DNS record). The benchmark stops if a preview loads any
# other, so the job floor, read from the previews, cannot grow with import bloat unseen.
JOB_SUBPACKAGES = {
    "pulumi_aws.ec2", "pulumi_aws.lb", "pulumi_aws.vpc", "pulumi_aws.iam", "pulumi_aws.cloudwatch", "pulumi_aws.route53", "pulumi_aws.kms",
    "pulumi_kubernetes.core", "pulumi_kubernetes.networking", "pulumi_kubernetes.rbac", "pulumi_kubernetes.meta",
    "pulumi_kubernetes.admissionregistration",  # the admission policies (Kubernetes 1.30 on)
}  # fmt: skip


def _subpackages(modules: list[str]) -> set[str]:
    return {
        ".".join(m.split(".")[:2])
        for m in modules
        if m.split(".")[0] in ("pulumi_aws", "pulumi_kubernetes") and m.count(".") >= 2
    }


# Every child runs under the interpreter's defaults, bytecode caching included: Python caches a
# module's compiled code in __pycache__ on its first import, as pip did for the SDKs at install.
# A machine that sets PYTHONDONTWRITEBYTECODE (this sandbox does) would otherwise recompile the
# project's ~50 modules on every run (~0.05 s of a preview) while the floor loads compiled SDKs.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _output(args: list[str]) -> str:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True, env=CHILD_ENV).stdout


def timed_ok(name: str, args: list[str]) -> float:
    """Wall seconds of one run that must succeed: a failed run is not a fast one."""
    seconds, _, out, code = timed(args)
    if code != 0:
        sys.exit(f"{name} exited {code} while being timed:\n{out.strip()[-1000:]}")
    return seconds


def timed(args: list[str], cwd: Path = ROOT) -> tuple[float, int, str, int]:
    """Wall seconds, peak RSS in MiB (of this child alone, from wait4), output and exit code of one child."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=CHILD_ENV)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves: Popen.wait would discard the rusage
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss // 1024, out, proc.returncode


BREAKDOWN = """
import json, sys, time
t = [time.perf_counter()]
from interlock_platform.tooling import short_run, policy_harness
short_run.tune_gc_for_a_short_run()
pack = policy_harness.PolicyPackProcess(); t.append(time.perf_counter())
exec(sys.argv[1]); t.append(time.perf_counter())
exec(sys.argv[2]); t.append(time.perf_counter())
import interlock_platform.tooling.preview; t.append(time.perf_counter())
from interlock_platform.tooling.mock_runtime import run_program
from interlock_platform.tooling.shared_state import shared_state
from interlock_platform.tooling.stack_files import offline_config
shared = shared_state("shared", offline_config("shared")[0]); t.append(time.perf_counter())
pack.stream(interlock_platform.tooling.preview.policy_configuration(shared.outputs)); t.append(time.perf_counter())
config, secrets, _ = offline_config("dev")
ref = config["interlock-platform:sharedStack"]
run = run_program("dev", config, {ref: shared.outputs}, secret_keys=secrets, on_register=pack.submit, secret_outputs={ref: shared.secret_outputs})
t.append(time.perf_counter())
held = len(pack._queued)  # registered before the pack was up, not sent yet
outstanding = [held + sum(not answer.done() for _, answer in pack._pending), held + len(pack._pending)]  # does the pack keep up?
pack.start_analysis(run.resources).result(); t.append(time.perf_counter())
pack.close()
print(json.dumps([[b - a for a, b in zip(t, t[1:])], outstanding]))
"""
PHASES = (
    "import pulumi and grpc, spawn the policy pack (it starts alongside)",
    "the issue's command's imports",
    "load pulumi_aws.ec2, lb and vpc (named by the command, not loaded by it)",
    "the preview's own imports (yaml, tomlkit, the interlock_platform package)",
    "the shared stack's outputs, from its stack file through the pure model",
    "stream to the pack (configured once its interpreter is up; nothing waits for it)",
    "dev program, streaming each resource to the pack",
    "the pack's last answers and AnalyzeStack (the preview renders its reports meanwhile)",
)


def breakdown() -> tuple[dict[str, float], list[int]]:
    """Phases of the dev preview, in one fresh process (python's start-up and exit not included),
    and how many of the streamed Analyze calls were still unanswered when the program ended."""
    out = subprocess.run(
        [sys.executable, "-c", BREAKDOWN, FLOOR, LOADED], cwd=ROOT, capture_output=True, text=True, check=True, env=CHILD_ENV
    ).stdout
    phases, outstanding = json.loads(out.strip().splitlines()[-1])
    return dict(zip(PHASES, phases, strict=True)), outstanding


PACK_ALONE = """
import json, sys, time
from interlock_platform.tooling.preview import policy_configuration, run_preview
from interlock_platform.tooling.policy_harness import PolicyPackProcess
p = run_preview(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    with PolicyPackProcess() as pack:
        pack.configure(policy_configuration(p.shared.outputs))
        pack.analyze(p.run.resources)
    times.append(time.perf_counter() - start)
print(json.dumps([len(p.run.resources), times]))
"""


def pack_alone(stack: str, rounds: int) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, "-c", PACK_ALONE, stack, str(rounds)], cwd=ROOT, capture_output=True, text=True, check=True, env=CHILD_ENV
    ).stdout
    resources, times = json.loads(out.strip().splitlines()[-1])
    return resources, statistics.median(times)


def sweep_project(n: int) -> Path:
    """A copy of the project whose dev stack has n application groups and n teams. The VPC's
    subnet quota is raised to fit (AWS raises it on request); the dev block is a /17 of /28s."""
    dest = Path(tempfile.mkdtemp(prefix=f"sweep-{n}-")) / "project"
    shutil.copytree(
        ROOT, dest, ignore=shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "venv", ".scanners", "out")
    )
    shared_path, dev_path = dest / "stacks" / "Pulumi.shared.yaml", dest / "stacks" / "Pulumi.dev.yaml"
    shared, dev = yaml.safe_load(shared_path.read_text()), yaml.safe_load(dev_path.read_text())
    envs = shared["config"]["interlock-platform:environments"]
    envs["dev"]["cidr"] = "10.40.0.0/17"
    envs["dev"]["maxSubnets"] = 3 * n + 6
    envs["test"]["cidr"], envs["prod"]["cidr"] = "10.40.128.0/18", "10.40.192.0/18"
    shared["config"]["interlock-platform:managementCidrs"] = ["10.41.0.0/24", "10.41.1.0/24", "10.41.2.0/24"]
    shared["config"]["interlock-platform:edgeCidrs"] = ["10.41.4.0/24", "10.41.5.0/24", "10.41.6.0/24"]
    shared["config"]["interlock-platform:vpcCidr"] = "10.40.0.0/15"
    shared["config"]["interlock-platform:awsQuotas"] = {"subnetsPerVpc": 3 * n + 200}
    # the vpc is a /15 here only to give the sweep room: AWS VPCs are /16 at most, so relax that check in the copy
    topology = dest / "interlock_platform" / "core" / "topology.py"
    topology.write_text(topology.read_text().replace("AWS_LARGEST_VPC = 16", "AWS_LARGEST_VPC = 15"))
    dev["config"]["interlock-platform:applicationGroups"] = [
        {"name": f"group{i}", "prefixLength": 28, "firstSubnet": 3 * i + 3} for i in range(n)
    ]
    # the sweep measures the environment layout, comparable across releases (bench/group_quotas.py the per-group one)
    dev["config"]["interlock-platform:isolation"] = "environment"
    dev["config"]["interlock-platform:ingressNodes"] = [
        {
            "hostname": "ip-10-40-0-4.eu-west-1.compute.internal",
            "instanceId": "i-0a1b2c3d4e5f6a001",
            "availabilityZone": "eu-west-1a",
        },
        {
            "hostname": "ip-10-40-0-20.eu-west-1.compute.internal",
            "instanceId": "i-0a1b2c3d4e5f6a002",
            "availabilityZone": "eu-west-1b",
        },
    ]
    dev["config"]["interlock-platform:applicationGroups"].insert(0, {"name": "ingress", "prefixLength": 28, "firstSubnet": 0})
    dev["config"]["interlock-platform:teams"] = [
        {
            "name": f"team{i}",
            "groups": [f"team{i}-developers"],
            "apps": [{"name": "web", "podSelector": {"app": "web"}, "ports": [8080], "ingress": True}],
        }
        for i in range(n)
    ]
    shared_path.write_text(yaml.safe_dump(shared, sort_keys=False))
    dev_path.write_text(yaml.safe_dump(dev, sort_keys=False))
    return dest


def largest_counts(preview_json: Path) -> tuple[int, int]:
    doc = json.loads(preview_json.read_text())
    sg: dict[tuple[str, str], int] = {}
    nacl: dict[tuple[str, bool], int] = {}
    for r in doc["resources"]:
        if r["type"].startswith("aws:vpc/securityGroup"):
            key = (r["inputs"]["securityGroupId"], r["type"])
            sg[key] = sg.get(key, 0) + 1
        elif r["type"] == "aws:ec2/networkAclRule:NetworkAclRule":
            key2 = (r["inputs"]["networkAclId"], bool(r["inputs"]["egress"]))
            nacl[key2] = nacl.get(key2, 0) + 1
    return max(sg.values()), max(nacl.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sweep", default="1,10,50,100")
    parser.add_argument("--fast", action="store_true", help="one round, a sweep of N = 1: CI's check that the benchmark runs")
    args = parser.parse_args()
    if args.fast:
        args.rounds, args.sweep = 1, "1"
    py = sys.executable

    workdir = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    modules_file: dict[str, Path] = {}  # per stack: the SDK modules its preview loads, as JSON
    loaded: dict[str, list[str]] = {}
    for stack in STACKS:  # what each stack's preview loads of the SDKs, and the floor that loads exactly that
        loads = json.loads(_output([py, "-c", PREVIEW_LOADS, stack]).splitlines()[-1])
        modules = workdir / f"{stack}.json"
        modules.write_text(json.dumps(loads))
        beyond = _subpackages(loads) - JOB_SUBPACKAGES
        if beyond:
            sys.exit(f"the {stack} preview loads SDK subpackages its resources do not live in: {sorted(beyond)}")
        for floor_name, check in (
            ("job floor", JOB_FLOOR + REPORT_LOADED),
            ("tuned job floor", with_preview_settings(JOB_FLOOR + REPORT_LOADED)),
        ):
            floor_loads = json.loads(_output([py, "-c", check, str(modules)]))
            if sorted(floor_loads) != sorted(loads):
                sys.exit(
                    f"the {floor_name} of {stack} does not load what its preview loads: {sorted(set(floor_loads) ^ set(loads))[:5]}"
                )
        modules_file[stack], loaded[stack] = modules, loads

    commands = {"command": [py, "-c", FLOOR]}
    for stack in STACKS:
        commands[f"{stack} floor"] = [py, "-c", JOB_FLOOR, str(modules_file[stack])]
        commands[f"{stack} tuned"] = [py, "-c", with_preview_settings(JOB_FLOOR), str(modules_file[stack])]
        commands[stack] = [py, "-m", "interlock_platform", "preview", "--stack", stack]
        if INSTALLED.is_file():
            commands[f"{stack} installed"] = [str(INSTALLED), "preview", "--stack", stack]
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[tuple[float, float]]] = {stack: [] for stack in STACKS}
    for _ in range(args.rounds):  # round by round, so drift in the machine's load hits every figure alike
        for name, command in commands.items():
            times[name].append(timed_ok(name, command))
        for stack in STACKS:
            cpu[stack].append(preview_cpu(stack))
    median = {name: statistics.median(t) for name, t in times.items()}
    ec2 = _output([py, "-c", f"{FLOOR}; {COUNT_EC2}"]).strip()
    print(f"the issue's command: python -c '{FLOOR}'")
    print(f"  median {median['command']:.2f} s of {args.rounds} rounds; pulumi_aws.ec2 modules it loads: {ec2}")
    print("job floor: import exactly the Pulumi SDK modules the stack's preview loads (checked: the same set)")
    for stack in STACKS:
        print(
            f"  {stack}: {len(loaded[stack])} modules; lazily loaded subpackages: {', '.join(sorted(_subpackages(loaded[stack])))}"
        )
    print("tuned job floor: the same with the preview's own settings (no cyclic collector, no teardown)")
    print("offline preview per stack, policy pack included (medians):")
    print(
        f"  {'stack':<7} {'SDK modules':>11} {'preview':>8} {'job floor':>10} {'tuned':>6}   ratio to: {'command':>7} {'job floor':>9} {'tuned':>6}"
    )
    for stack in STACKS:
        t, floor, tuned = median[stack], median[f"{stack} floor"], median[f"{stack} tuned"]
        print(
            f"  {stack:<7} {len(loaded[stack]):>11} {t:>7.2f}s {floor:>9.2f}s {tuned:>5.2f}s             "
            f"{t / median['command']:>7.2f} {t / floor:>9.2f} {t / tuned:>6.2f}"
        )
    print(f"the installed command, `interlock-platform preview` (target: at most {INSTALLED_TARGET} times the job floor):")
    if not INSTALLED.is_file():
        print(f"  not installed beside {py}: `pip install .` to measure it")
    for stack in STACKS if INSTALLED.is_file() else ():
        t, floor, tuned = median[f"{stack} installed"], median[f"{stack} floor"], median[f"{stack} tuned"]
        verdict = "within" if t / floor <= INSTALLED_TARGET else "OVER"
        print(f"  {stack:<7} {t:>5.2f}s  {t / floor:.2f} x the job floor ({verdict} {INSTALLED_TARGET}), {t / tuned:.2f} x the tuned floor")
    print("the preview's own process against the job floor: its CPU (on one core, its threads share one interpreter lock;")
    print("it ends after the pack's last verdict) and its policy pack's (medians):")
    print(f"  {'stack':<7} {'own CPU':>8} {'/ job floor':>11} {'pack CPU':>9}")
    for stack in STACKS:
        own, pack = (statistics.median(c) for c in zip(*cpu[stack], strict=True))
        print(f"  {stack:<7} {own:>7.2f}s {own / median[f'{stack} floor']:>11.2f} {pack:>8.2f}s")
    print("the imports alone, as ratios to the issue's command (job floor, tuned job floor):")
    for stack in STACKS:
        print(
            f"  {stack:<7} {median[f'{stack} floor'] / median['command']:.2f}  {median[f'{stack} tuned'] / median['command']:.2f}"
        )
    shutil.rmtree(workdir, ignore_errors=True)

    print("where the dev preview's time goes (one process, in order):")
    phases, (unanswered, streamed) = breakdown()
    for phase, seconds in phases.items():
        print(f"  {phase:<86} {seconds:5.2f} s")
    print(f"  Analyze calls still unanswered when the dev program ended: {unanswered} of {streamed} streamed")

    print("the policy pack alone: start, configure, Analyze per resource, AnalyzeStack (median):")
    for stack in STACKS:
        resources, seconds = pack_alone(stack, args.rounds)
        print(f"  {stack:<7} {seconds:5.2f} s for {resources} resources")

    print("scaling sweep of the dev stack (application groups = teams = N):")
    print(f"  {'N':>4} {'resources':>9} {'wall s':>7} {'peak MiB':>8} {'max SG rules':>12} {'max NACL entries':>16}")
    for n in (int(x) for x in args.sweep.split(",")):
        project = sweep_project(n)
        out = project / "preview.json"
        seconds, peak, stdout, code = timed([py, "-m", "interlock_platform", "preview", "--stack", "dev", "--json", str(out)], cwd=project)
        if code != 0 or not out.exists():
            print(f"  {n:>4} the preview failed: {stdout.strip()[-300:]}")
            continue
        resources = sum(1 for r in json.loads(out.read_text())["resources"] if r["custom"])
        sg, nacl = largest_counts(out)
        print(f"  {n:>4} {resources:>9} {seconds:>7.2f} {peak:>8} {sg:>9}/60 {nacl:>13}/20")
        shutil.rmtree(project.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
