"""Runs the policy pack the way the Pulumi engine does, over its own gRPC protocol, with no CLI.

It starts `python -u -m pulumi.policy <engine-address> policy`, reads the port from the pack's
first line of output, then calls GetAnalyzerInfo, Configure, Analyze for every resource (each
as it registers, with `submit`, or all at once) and AnalyzeStack with parents, dependencies and
property dependencies. The input is what the program registered under the mock runtime
(interlock_platform.tooling.mock_runtime): Analyze gets each resource's inputs, AnalyzeStack its outputs, as the
engine sends them (pulumi/pulumi pkg/resource/deploy/step_generator.go, AnalyzeResources:
"Unlike Analyze, AnalyzeStack is called on the final outputs of each resource"; commit
1b5949891b3cefcb9974752b24a5ecef0acc86c8)."""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from interlock_platform.tooling.mock_runtime import Registration
from interlock_platform.tooling.stack_files import ROOT

PACK = ROOT / "policy"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's marker for a value not known yet
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
SKIPPED_TYPES = ("pulumi:pulumi:Stack",)


class PolicyPackError(RuntimeError):
    """The pack could not run: its interpreter did not start, or it stopped answering."""


class PolicyPackDidNotStart(PolicyPackError):
    """Its interpreter printed no port: a missing requirement, or an error importing the pack."""


def _configure_request(config: Mapping[str, Mapping[str, Any]]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    levels = {v: k for k, v in LEVELS.items()}
    for name, entry in config.items():
        props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        level = levels[entry.get("enforcementLevel", "mandatory")]
        request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=_struct(props)))
    return request


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)  # protobuf's own dict conversion (lists, tuples, nesting)
    return out


class PolicyPackProcess:
    def __init__(self, pack: Path = PACK, timeout: float = 60.0) -> None:
        """Starts the pack at once; connects on first use, so a caller can run the program while
        the pack's interpreter starts."""
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(pack)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=pack,
        )  # fmt: skip
        self.timeout = timeout
        self.pack = pack
        self.channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._pending: list[tuple[Registration, grpc.Future]] = []  # Analyze calls in flight (submit)
        # each registration's inputs, converted once for its Analyze (the registration is kept
        # with them, so its id cannot be reused while they are here)
        self._properties: dict[int, tuple[Registration, struct_pb2.Struct]] = {}
        self._configured = False
        # `stream`: the config to apply once the pack is up, what registered before then, and why it could not start
        self._deferred: analyzer_pb2.ConfigureAnalyzerRequest | None = None
        self._queued: list[Registration] = []
        self._failure: PolicyPackError | None = None
        self._lock = threading.Lock()  # the mock monitor registers resources from several threads
        self._starting = threading.Lock()  # the pack's first line (its port) is read once
        self._analysis: Future[list[dict[str, Any]]] | None = None  # the last start_analysis: a new run waits for it

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        with self._starting:
            return self._stub or self._connect()

    def _connect(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._stub is None:
            ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
            line = self.process.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]
            if not line.isdigit():
                try:
                    self.process.wait(timeout=5)  # it printed no port: let it finish dying, then read why
                    why = (self.process.stderr.read() if self.process.stderr else "").strip().splitlines()
                except subprocess.TimeoutExpired:
                    why = [f"no port on its first line within {self.timeout:.0f} s" if not line else f"it printed {line!r}"]
                self.close()
                raise PolicyPackDidNotStart(f"the policy pack in {self.pack} did not start: {why[-1] if why else 'no output'}")
            self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
            self._stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self._stub

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """`config` is a policy-config file's content: policy name -> {enforcementLevel, ...properties}."""
        request = _configure_request(config)
        self._await_last_analysis()
        with self._lock:
            self._deferred, self._queued, self._failure = None, [], None
            self._configure(request)

    def _configure(self, request: analyzer_pb2.ConfigureAnalyzerRequest) -> None:
        try:
            self.stub.Configure(request, timeout=self.timeout)
        except grpc.RpcError as err:
            why = err.details() if isinstance(err, grpc.Call) else str(err)
            raise PolicyPackError(f"the policy pack refused its config: {why}") from err
        self._pending, self._properties = [], {}  # answers given under an earlier config no longer count
        self._configured = True

    def stream(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """`configure` with `config` as soon as the pack's interpreter is up, without waiting for
        it: a program can start at once and `submit` what it registers; what registers before the
        pack is up is sent when it is. A pack that cannot start or refuses its config stops the
        streaming, and `analyze` raises why, after the program."""
        request = _configure_request(config)  # a config protobuf cannot hold fails here, not on a program's thread
        self._await_last_analysis()
        with self._lock:
            self._configured = False
            self._deferred, self._queued, self._failure = request, [], None
            self._configure_if_up(wait=False)

    def _await_last_analysis(self) -> None:
        """A run starts once the last analysis has ended: a caller that stopped reading one (an
        error of its own) may have left it running, on this pack reused."""
        if self._analysis is not None:
            with contextlib.suppress(Exception):  # its caller no longer wants it
                self._analysis.result()
            self._analysis = None

    def _configure_if_up(self, wait: bool) -> None:
        if self._deferred is None or self._failure is not None:
            return
        if self._stub is None and not wait and not select.select([self.process.stdout], [], [], 0)[0]:
            return  # not up yet (its first line, the port, is not there)
        try:
            self._configure(self._deferred)
        except PolicyPackError as err:
            self._failure = err
            return
        self._deferred, queued, self._queued = None, self._queued, []
        self._pending = [(r, self._send(r)) for r in queued]

    def submit(self, resource: Registration) -> None:
        """Send one resource's Analyze now, without waiting for the answer: the engine analyzes
        each resource as the program registers it, so the pack works while the program runs.
        After `configure` or `stream`; `analyze` collects the answers."""
        if not self._configured and self._deferred is None:
            raise RuntimeError("configure the policy pack before submitting resources")
        if not self._analyzable(resource):
            return
        with self._lock:
            if self._failure is not None:
                return
            if not self._configured:
                self._queued.append(resource)
                self._configure_if_up(wait=False)
                return
            self._pending.append((resource, self._send(resource)))

    def _send(self, r: Registration) -> grpc.Future:
        return self.stub.Analyze.future(
            analyzer_pb2.AnalyzeRequest(type=r.type, properties=self._props(r), urn=r.urn, name=r.name)
        )

    def _props(self, r: Registration) -> struct_pb2.Struct:
        kept = self._properties.get(id(r))
        if kept is None:
            kept = self._properties[id(r)] = (r, _struct(r.inputs))
        return kept[1]

    @staticmethod
    def _outputs(r: Registration) -> struct_pb2.Struct:
        return _struct(r.outputs)

    def analyze(self, resources: Iterable[Registration]) -> list[dict[str, Any]]:
        """Analyze each resource (one already submitted is not sent again), then the stack.
        Violations come in the order of `resources`, whatever order the answers arrived in."""
        return self.start_analysis(resources).result()

    def start_analysis(self, resources: Iterable[Registration]) -> Future[list[dict[str, Any]]]:
        """`analyze`, in the background: its result is the violations (or raises what `analyze`
        raises), so the caller can render its reports while the pack answers."""
        background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-pack")
        self._analysis = background.submit(self._analyze, list(resources))
        background.shutdown(wait=False)  # the thread ends with the analysis
        return self._analysis

    def _analyze(self, resources: list[Registration]) -> list[dict[str, Any]]:
        with self._lock:
            self._configure_if_up(wait=True)  # after `stream`: a pack that was not up during the program
        if self._failure is not None:
            raise self._failure
        resources = [r for r in resources if self._analyzable(r)]
        submitted = {id(r): future for r, future in self._pending}  # the registrations themselves, not equal copies
        self._pending = []
        answers = [submitted.pop(id(r)) if id(r) in submitted else self._send(r) for r in resources]
        violations: list[dict[str, Any]] = []
        try:
            for r, answer in zip(resources, answers, strict=True):
                violations += self._violations(answer.result(timeout=self.timeout), r.urn)
            stack_answer = self.stub.AnalyzeStack(self._stack_request(resources), timeout=self.timeout)
        except (grpc.RpcError, grpc.FutureTimeoutError) as err:  # a rule that raised, or a pack that died
            why = err.details() if isinstance(err, grpc.Call) else f"no answer within {self.timeout:.0f} s"
            raise PolicyPackError(f"the policy pack failed while analyzing: {why}") from err
        finally:
            self._properties = {}
        return violations + self._violations(stack_answer, "")

    def _stack_request(self, resources: list[Registration]) -> analyzer_pb2.AnalyzeStackRequest:
        return analyzer_pb2.AnalyzeStackRequest(resources=[
            analyzer_pb2.AnalyzerResource(
                type=r.type, properties=self._outputs(r), urn=r.urn, name=r.name, parent=r.parent, dependencies=r.dependencies,
                propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()},
            )
            for r in resources
        ])  # fmt: skip

    @staticmethod
    def _analyzable(resource: Registration) -> bool:
        return resource.custom and resource.type not in SKIPPED_TYPES

    @staticmethod
    def _violations(response: analyzer_pb2.AnalyzeResponse, urn: str) -> list[dict[str, Any]]:
        return [
            {"policy": d.policyName, "enforcement": LEVELS[d.enforcementLevel], "urn": d.urn or urn, "message": d.message}
            for d in response.diagnostics
        ]
