# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clean-up guard of connectivity_workload: when the controller dies before the clean-up ran, the
test namespace it created is deleted anyway (only that namespace: its uid is a precondition)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import kubeconfig_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig_loader import KubeconfigFileError, load_option

# The guard: a detached process (its own session, no inherited descriptors) that deletes the test
# namespace when the controller process is gone before the clean-up ran. Self-contained: the
# module's files are removed when the module exits. Its configuration comes on stdin.
GUARD_SOURCE = r"""
import json, os, sys, time
cfg = json.loads(sys.stdin.read())
# Detach: double fork into a new session, report the guard's pid, then drop the module's pipes.
if os.fork():
    raise SystemExit(0)
os.setsid()
if os.fork():
    os._exit(0)
sys.stdout.write("%d\n" % os.getpid())
sys.stdout.flush()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
os.chdir("/")
try:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    conf = client.Configuration()
    if isinstance(cfg.get("kubeconfig"), dict):
        config.load_kube_config_from_dict(cfg["kubeconfig"], context=cfg.get("context"), client_configuration=conf)
    else:
        config.load_kube_config(config_file=cfg.get("kubeconfig"), context=cfg.get("context"), client_configuration=conf)
    if cfg.get("validate_certs") is False:
        conf.verify_ssl = False
    api = client.CoreV1Api(client.ApiClient(conf))
except Exception:
    raise SystemExit(0)

def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True

def ours():
    try:
        ns = api.read_namespace(cfg["namespace"], _request_timeout=10)
    except ApiException as e:
        return False if e.status == 404 else None
    except Exception:
        return None
    return ns.metadata.uid == cfg["uid"] and not ns.metadata.deletion_timestamp

start = time.time()
last_api, errors = 0.0, 0
while time.time() - start < cfg["max_life"]:
    if not alive(cfg["pid"]):
        if ours():
            try:
                api.delete_namespace(cfg["namespace"], body=client.V1DeleteOptions(
                    preconditions=client.V1Preconditions(uid=cfg["uid"]), propagation_policy="Background"),
                    _request_timeout=10)
            except Exception:
                pass
        raise SystemExit(0)
    if time.time() - last_api >= 5:
        last_api = time.time()
        state = ours()
        if state is False:
            raise SystemExit(0)
        errors = errors + 1 if state is None else 0
        if errors >= 60:
            raise SystemExit(0)
    time.sleep(0.5)
"""


def ancestors():
    """(pid, argv) from the parent upwards, read from /proc (Linux)."""
    chain, pid = [], os.getppid()
    for _i in range(64):
        if pid <= 1:
            break
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        chain.append((pid, argv))
        pid = ppid
    return chain


def start_guard(module, namespace, uid, watch):
    """Start the guard for ``watch`` (the controller pid); returns {"pid", "watches"} or None."""
    p = module.params
    kubeconfig = p.get("kubeconfig")
    if p.get("host") or p.get("api_key"):
        module.warn("connectivity_workload: no clean-up guard with host/api_key connection options; an interrupted "
                    "run leaves namespace %s behind until the next run" % namespace)
        return None
    if watch is None:
        return None
    if not isinstance(kubeconfig, dict):
        # the guard gets the document read through kubeconfig_loader's limits, not a path it would parse again
        try:
            kubeconfig = load_option(kubeconfig)[0]
        except KubeconfigFileError:
            kubeconfig = kubeconfig_path(kubeconfig)
    cfg = {"kubeconfig": kubeconfig, "context": p.get("context"), "validate_certs": p.get("validate_certs"),
           "namespace": namespace, "uid": uid, "pid": watch, "max_life": p["guard_max_life"]}
    # The launcher forks the guard away and returns at once; the configuration travels on stdin.
    rc, out, err = module.run_command([sys.executable, "-c", GUARD_SOURCE], data=json.dumps(cfg),
                                      binary_data=True)
    try:
        pid = int(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pid = None
    if rc != 0 or pid is None:
        module.warn("connectivity_workload: could not start the clean-up guard (rc %s): %s" % (rc, err.strip()[:300]))
        return None
    return {"pid": pid, "watches": watch}
