"""istiod's log lines for secret-controller events, in the wording of each Istio release.

Every message is istio/istio's format string at the newest patch of the modelled minor release (the
upstream corpus tests/fixtures/upstream/istio/istiod-logs holds the same lines with their sources):
pkg/kube/secretcontroller/secretcontroller.go (<= 1.11), pkg/kube/multicluster/secretcontroller.go and
cluster.go / clusterstore.go (1.12+), pkg/kube/controllers/queue.go (scope ``controllers``),
pilot/pkg/util/informermetric (``watch error in cluster``, 1.10+), client-go's reflector through
istio's klog scope, pilot/pkg/serviceregistry/kube/controller/network.go (scope ``kube``) and
pilot/pkg/model/network.go (scope ``model``).

Lines are printed as istio's logger prints them (pkg/log): ``time<TAB>level<TAB>[scope<TAB>]message``;
the default scope, which the secret controller uses, has no scope column; labels of
``Scope.WithLabels`` follow the message after a TAB as ``k=v k=v``.
"""

import datetime
import re

QUEUE_LABELS = (("controller", "multicluster secret"),)
# k8s.io/client-go version in istio's go.mod at the newest patch of each minor, and the reflector.go line
# that names a reflector (istio builds with -trimpath)
_CLIENT_GO = {(1, 9): ("v0.20.1", 167), (1, 10): ("v0.20.5", 167), (1, 11): ("v0.21.2", 167),
              (1, 12): ("v0.22.2", 167), (1, 13): ("v0.24.1", 167), (1, 14): ("v0.24.2", 167),
              (1, 15): ("v0.24.2", 167), (1, 16): ("v0.25.2", 169), (1, 17): ("v0.26.7", 169),
              (1, 18): ("v0.27.0", 231), (1, 19): ("v0.28.1", 229), (1, 20): ("v0.28.3", 229),
              (1, 21): ("v0.29.0", 229), (1, 22): ("v0.30.0", 232), (1, 23): ("v0.30.1", 232),
              (1, 24): ("v0.31.1", 243), (1, 25): ("v0.32.2", 251)}


def multierror(*errs):
    """hashicorp/go-multierror ListFormatFunc."""
    if len(errs) == 1:
        return "1 error occurred:\n\t* %s\n\n" % errs[0]
    return "%d errors occurred:\n\t%s\n\n" % (len(errs), "\n\t".join("* %s" % e for e in errs))


def _labels(msg, pairs):
    return msg + "\t" + " ".join("%s=%s" % kv for kv in pairs) if pairs else msg


def _secret_labels(version, cid, sec):
    return (("cluster", cid), ("secret" if version < (1, 30) else "config", sec))


def _action(version):
    return "Adding" if version < (1, 22) else "Add"


def _list_error(lb):
    err = lb.get("error") or ""
    if err.startswith("Get "):
        return "failed to list *v1.Pod: %s" % err
    return 'failed to list *v1.Pod: Get "%s/api/v1/pods?limit=500&resourceVersion=0": %s' % (
        (lb.get("server") or "").rstrip("/"), err)


def render_event(event, version):
    """(level, kind, labels) -> list of (level, scope, message) in `version`'s wording (scope None: default).

    ``version`` is (major, minor[, patch]); without a patch the minor's .0 release is modelled (the wording
    changed inside 1.9: 1.9.0-1.9.3 and 1.9.4+)."""
    level, kind, lb = event
    cid, sec, err = lb.get("cluster"), lb.get("secret"), lb.get("error")
    if kind == "secret_event":
        if version >= (1, 30):
            return [("info", None, "processing remote config event for %s" % sec)]
        if version >= (1, 11):
            return [("info", None, "processing secret event for secret %s" % sec)]
        return [("info", None, "Processing add: %s" % sec)]
    if kind == "ignore_local":
        if version >= (1, 16):
            return [("info", None, _labels("ignoring cluster as it would overwrite the config cluster",
                                           _secret_labels(version, cid, sec)))]
        if version >= (1, 15):
            return [("info", None, "ignoring cluster %s from secret %s as it would overwrite the config cluster"
                     % (cid, sec))]
        if version >= (1, 13):
            return [("info", None, "ignoring cluster %s from secret %s as it would overwrite the local cluster"
                     % (cid, sec))]
        if version >= (1, 12):
            return [("info", None, "ignoring Adding cluster %s from secret %s as it would overwrite the local cluster"
                     % (cid, sec))]
        return []       # before 1.12 istiod had no such check
    if kind == "duplicate":
        if version >= (1, 16):
            return [("warn", None, _labels("cluster has already been registered", _secret_labels(version, cid, sec)))]
        if version >= (1, 13):
            # log.Warnf("cluster %d from secret %s ...", clusterID, ...): Go prints a string given to %d so
            return [("warn", None, "cluster %%!d(string=%s) from secret %s has already been registered" % (cid, sec))]
        if version < (1, 11):
            return [("error", None, "ClusterID reused in two different secrets: %s and %s. ClusterID must be unique "
                     "across all secrets" % (lb.get("other_secret") or sec, sec))]
        return []
    if kind == "add":
        if version >= (1, 16):
            return [("info", None, _labels("%s cluster" % _action(version), _secret_labels(version, cid, sec)))]
        if version >= (1, 9, 4):
            return [("info", None, "Adding cluster %s from secret %s" % (cid, sec))]
        return [("info", None, "Adding cluster_id=%s from secret=%s" % (cid, sec))]
    if kind == "add_failed":
        if version >= (1, 16):
            out = [("error", None, _labels("%s cluster: create remote cluster failed: %s" % (_action(version), err),
                                           _secret_labels(version, cid, sec)))]
            wrap = ("error adding secret %s: %s" if version < (1, 30) else "error adding remote config %s: %s") % (
                sec, multierror(err))
            if version < (1, 19):
                out.append(("error", "controllers", _labels("error handling %s, retrying (retry count: 1): %s"
                                                            % (sec, wrap), QUEUE_LABELS)))
            out.append(("error", "controllers", _labels("error handling %s, and retry budget exceeded: %s"
                                                        % (sec, wrap), QUEUE_LABELS)))
            return out
        if version >= (1, 9, 4):
            return [("error", None, "Adding cluster_id=%s from secret=%s: %s" % (cid, sec, err))]
        return [("error", None, "Failed to add remote cluster from secret=%s for cluster_id=%s: %s" % (sec, cid, err))]
    if kind == "list_failed":
        failed = _list_error(lb)
        cg = _CLIENT_GO.get(tuple(version[:2]))
        name = "k8s.io/client-go@%s/tools/cache/reflector.go:%d" % cg if cg else None
        if version < (1, 10):
            return [("error", "klog", "%s: Failed to watch *v1.Pod: %s" % (name, failed))]
        out = []
        if name and version >= (1, 13):
            out.append(("info", "klog", "%s: %s" % (name, failed)))      # klog.Warningf arrives as Info
        out.append(("error", None, "watch error in cluster %s: %s" % (cid, failed)))
        return out
    if kind == "sync_timeout":
        if version >= (1, 15):
            out = [("error", None, "remote cluster %s failed to sync after 30s" % cid)]
            if version >= (1, 30):
                out.append(("warn", None, "remote cluster %s is closed or timed out, omitting it from the clusters "
                            "collection" % cid))
            return out
        if version >= (1, 9, 4):
            return [("error", None, "remote clusters failed to sync after 30s")]
        return []
    if kind == "count":
        return [("info", None, "Number of remote clusters: %d" % lb["count"])]
    if kind == "gateway_no_port":
        if version < (1, 29):
            return []   # before 1.29 istiod used the labelled Service without checking its ports
        return [("warn", "kube", "service %s is labeled as gateway, but does not listen neither on port %d nor on "
                 "port %d" % (lb["service"], lb["port"], 15008))]
    if kind == "hostname_unresolved":
        return [("warn", "model", "could not resolve hostname %s for %d gateways" % (_go_quote(lb["host"]),
                                                                                     lb["count"]))]
    if kind == "hostname_unsupported":
        return [("warn", "model", "Failed parsing gateway address %s from Service Registry. Hostnames are not "
                 "supported for gateways" % lb.get("host", ""))]
    return []


def _go_quote(text):
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"')


def stamp(when=None):
    """pkg/log/config.go formatDate: UTC, microseconds, Z."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def format_line(level, scope, message, when=None):
    """zap's console encoder as istio configures it: no scope column for the default scope."""
    if scope in (None, "", "default"):
        return "%s\t%s\t%s" % (stamp(when), level, message)
    return "%s\t%s\t%s\t%s" % (stamp(when), level, scope, message)


def startup_lines(istiod):
    """A few lines istiod prints at start (pilot/pkg/bootstrap, default scope)."""
    plugged = istiod.world.get(istiod.cluster, "secrets", "istio-system", "cacerts")
    if not plugged:
        ca = "Use self-signed certificate as the CA certificate"
    elif istiod.version >= (1, 20):
        ca = "Using istiod file format for signing ca files"
    else:
        ca = "Use plugged-in cert at ./etc/cacerts/ca-key.pem"
    return [("info", None, "initializing mesh configuration ./etc/istio/config/mesh"),
            ("info", None, ca)]


def full_version(istiod):
    """(major, minor, patch) from the istiod image tag when it has one, else the lab's (major, minor)."""
    tag = (getattr(istiod, "image", None) or "").rsplit("/", 1)[-1]
    m = re.search(r":v?(\d+)\.(\d+)\.(\d+)", tag)
    return tuple(int(x) for x in m.groups()) if m else tuple(istiod.version)


class IstiodLog:
    """Keeps a growing log per istiod: each recompute appends lines for what changed, like a running istiod."""

    def __init__(self):
        self.lines = []
        self.last = None
        self.started = False

    def observe(self, istiod):
        if not self.started:
            self.lines += [format_line(*line) for line in startup_lines(istiod)]
            self.started = True
        regs, events = istiod.registry()
        _, gw_log = istiod.gateways()
        state = (tuple((r["id"], r["secretName"], r["syncStatus"], r["error"]) for r in regs),
                 tuple(tuple(sorted((k, str(v)) for k, v in e[2].items())) + (e[1],) for e in events),
                 tuple(tuple(sorted((k, str(v)) for k, v in e[2].items())) + (e[1],) for e in gw_log))
        if state == self.last:
            return
        self.last = state
        version = full_version(istiod)
        for ev in events + gw_log:
            for line in render_event(ev, version):
                self.lines.append(format_line(*line))
        del self.lines[:-5000]

    def text(self):
        return "".join(line + "\n" for line in self.lines)
