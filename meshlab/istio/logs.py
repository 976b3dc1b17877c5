"""istiod's log lines for secret-controller events, in the wording of each Istio version."""

import datetime


def _lbl(labels):
    return " ".join("%s=%s" % (k, labels[k]) for k in ("cluster", "secret") if k in labels)


def render_event(event, version):
    """(level, kind, labels) -> list of (level, scope, message) in `version`'s wording."""
    level, kind, lb = event
    new = version >= (1, 16)
    cid, sec, err = lb.get("cluster"), lb.get("secret"), lb.get("error")
    if kind == "secret_event":
        if version >= (1, 30):
            return [("info", "multicluster", "processing remote config event for %s" % sec)]
        if new:
            return [("info", "multicluster", "processing secret event for secret %s" % sec)]
        return []
    if kind == "ignore_local":
        if new:
            return [("info", "multicluster", "ignoring cluster as it would overwrite the config cluster\t" + _lbl(lb))]
        return [("info", "multicluster", "ignoring cluster %s from secret %s as it would overwrite the config cluster"
                 % (cid, sec))]
    if kind == "duplicate":
        if new:
            return [("warn", "multicluster", "cluster has already been registered\t" + _lbl(lb))]
        return [("warn", "multicluster", "cluster %s from secret %s has already been registered" % (cid, sec))]
    if kind == "add":
        if new:
            return [("info", "multicluster", "Add cluster\t" + _lbl(lb))]
        if version >= (1, 10):
            return [("info", "multicluster", "Adding cluster_id=%s from secret=%s" % (cid, sec))]
        return [("info", "multicluster", "Adding new cluster member: %s" % cid)]
    if kind == "add_failed":
        if new:
            word = "error adding remote config" if version >= (1, 30) else "error adding secret"
            return [("error", "multicluster", "Add cluster: create remote cluster failed: %s\t%s" % (err, _lbl(lb))),
                    ("error", "controllers", "error handling %s, and retry budget exceeded: %s %s: %s"
                     % (sec, word, sec, err))]
        if version >= (1, 10):
            return [("error", "multicluster", "Add cluster_id=%s from secret=%s: %s" % (cid, sec, err))]
        return [("error", "multicluster", "Failed to add remote cluster from secret=%s for cluster_id=%s: %s"
                 % (sec, cid, err))]
    if kind == "list_failed":
        return [("error", "klog", "k8s.io/client-go/tools/cache/reflector.go:569: failed to list *v1.Pod: "
                 'Get "%s/api/v1/pods?limit=500&resourceVersion=0": %s'
                 % ((lb.get("server") or "").rstrip("/"), err) if not err.startswith("Get ") else
                 "k8s.io/client-go/tools/cache/reflector.go:569: failed to list *v1.Pod: %s" % err)]
    if kind == "sync_timeout":
        return [("error", "multicluster", "remote cluster %s failed to sync after 30s" % cid)]
    if kind == "count":
        return [("info", "multicluster", "Number of remote clusters: %d" % lb["count"])]
    if kind == "gateway_no_port":
        return [("warn", "kube", "service %s is labeled as gateway, but does not listen neither on port %d nor on port %d"
                 % (lb["service"], lb["port"], 15008))]
    if kind == "hostname_unresolved":
        return [("warn", "model", "could not resolve hostname %r for %d gateways" % (lb["host"], lb["count"]))]
    if kind == "hostname_unsupported":
        return [("warn", "kube", "Hostnames are not supported for gateways")]
    return []


def stamp(when=None):
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def format_line(level, scope, message, when=None):
    return "%s\t%s\t%s\t%s" % (stamp(when), level, scope, message)


def startup_lines(istiod):
    v = "%d.%d" % istiod.version
    return [("info", "default", "CLUSTER_ID=%s, version %s" % (istiod.cluster_id, v)),
            ("info", "bootstrap", "initializing mesh configuration istio"),
            ("info", "ca", "Use plugged-in cert at etc/cacerts/ca-key.pem") if istiod.world.get(
                istiod.cluster, "secrets", "istio-system", "cacerts") else
            ("info", "ca", "Use self-signed certificate as the CA certificate"),
            ("info", "multicluster", "initializing Kubernetes credential reader for cluster %s" % istiod.cluster_id)]


class IstiodLog:
    """Keeps a growing log per istiod: each recompute appends lines for what changed, like a running istiod."""

    def __init__(self):
        self.lines = []
        self.last = None
        self.started = False

    def observe(self, istiod):
        from .networks import known_gateways
        if not self.started:
            self.lines += [format_line(*l) for l in startup_lines(istiod)]
            self.started = True
        regs, events = istiod.registry()
        gw_log = []
        known_gateways(istiod.world, istiod, gw_log)
        state = (tuple((r["id"], r["secretName"], r["syncStatus"], r["error"]) for r in regs),
                 tuple(tuple(sorted((k, str(v)) for k, v in e[2].items())) + (e[1],) for e in events),
                 tuple(tuple(sorted((k, str(v)) for k, v in e[2].items())) + (e[1],) for e in gw_log))
        if state == self.last:
            return
        self.last = state
        for ev in events + gw_log:
            for line in render_event(ev, istiod.version):
                self.lines.append(format_line(*line))
        del self.lines[:-5000]

    def text(self):
        return "".join(l + "\n" for l in self.lines)
