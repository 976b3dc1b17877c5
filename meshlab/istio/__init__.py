"""Istio's behaviour in meshlab: injection, istiod, EDS, Envoy admin, data plane, logs (as lab hooks).

The model is pure functions over a World (meshlab/istio/world.py); `install(lab)` plugs it into a
running lab through the hooks of meshlab/hooks.py.
"""


def install(lab):
    """Register Istio's hooks on `lab` (meshlab.lab.Lab); returns the IstioBehaviour for tests."""
    from .labhooks import IstioBehaviour
    b = IstioBehaviour(lab)
    admission = b.admission
    lab.hooks.admission.append(_kinds(admission, {"pods", "secrets", "endpoints", "configmaps"}))
    if hasattr(lab.hooks, "validating"):
        lab.hooks.validating.append(b.validate)
    lab.hooks.exec_handlers.append(b.exec)
    lab.hooks.log_providers.append(b.logs_for)
    lab.hooks.on_change.append(b.on_change)
    if hasattr(lab.hooks, "on_ready"):
        lab.hooks.on_ready.append(b.on_ready)
    lab.istio = b
    return b


def _kinds(fn, kinds):
    def hook(cluster, op, obj):
        return fn(cluster, op, obj)
    hook.kinds = kinds
    return hook
