"""Plug-in points through which meshlab/istio (or a test) gives the lab its behaviour."""
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class ExecRequest:
    lab: Any
    cluster: Any
    pod: dict
    container: str
    command: list
    stdin: Optional[bytes] = None
    tty: bool = False


@dataclass
class ExecResult:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


@dataclass
class Hooks:
    # f(cluster, operation, obj) -> obj : mutating admission on CREATE/UPDATE (pods: sidecar injection)
    admission: list = field(default_factory=list)
    # f(cluster, operation, obj, old) : validating admission after the API server's own validation; raise
    # store.ApiError to deny (Istio's validation webhook); optional attribute .kinds as for admission
    validating: list = field(default_factory=list)
    # f(ExecRequest) -> ExecResult | None : first non-None answer wins
    exec_handlers: list = field(default_factory=list)
    # f(cluster, pod, container) -> str | None
    log_providers: list = field(default_factory=list)
    # f(cluster, event_type, obj) : after every store change (ADDED/MODIFIED/DELETED)
    on_change: list = field(default_factory=list)
    # f(lab) : once, after the scenario is loaded and before DIR/ready is written
    on_ready: list = field(default_factory=list)
