#!/usr/bin/env python
# Copyright (c) meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render meshmend's RBAC manifests and write a kubeconfig bound to one of its ServiceAccounts.

  meshmend-rbac.py render diagnose|remediate|connectivity [--peers NAME,...]
      Print the manifests of docs/rbac/meshmend-<use>/ as one stream. For remediate, --peers (your
      inventory's host names) replaces the rule that grants get/patch on every Secret of istio-system by
      rules naming istio-remote-secret-<peer> and the reader token Secret.
      Apply with: ... | kubectl --context CTX apply -f -

  meshmend-rbac.py kubeconfig diagnose|remediate|connectivity --context CTX [--context CTX ...] --out FILE
      [--kubeconfig SRC] [--duration 1h] [--kubectl kubectl]
      For each context of SRC: a token of ServiceAccount meshmend/meshmend-<use> (kubectl create token,
      so it expires after --duration), the context's server and CA, into FILE (mode 0600) with contexts
      of the same names, so an inventory's kube_context values stay valid. No token is printed: only
      FILE holds it. Point the inventory's `kubeconfig` at FILE.

Nothing else is needed than Python 3 and kubectl; the manifests are the directories beside this script
(one object per file: `kubectl apply -f docs/rbac/meshmend-<use>/` applies them without this script).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
USES = ("diagnose", "remediate", "connectivity")
NAMESPACE = "meshmend"
READER_TOKEN_SECRET = "istio-reader-service-account-istio-remote-secret-token"
MARKER = "# meshmend-rbac: remote-secrets rule"


class Failure(Exception):
    """A message for the user; exit status 1."""


def manifest_dir(use):
    return os.path.join(HERE, "meshmend-%s" % use)


def manifest_files(use):
    """The YAML files of one use, in the order kubectl applies a directory (by name)."""
    d = manifest_dir(use)
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith((".yaml", ".yml", ".json"))]


def render(use, peers=None):
    """The manifests of one use as a multi-document stream; remediate with peers: the remote-secrets rule
    narrowed by resourceNames."""
    if use not in USES:
        raise Failure("use must be one of %s" % ", ".join(USES))
    parts = []
    for path in manifest_files(use):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        parts.append(text if text.startswith("---") else "---\n" + text)
    text = "".join(p if p.endswith("\n") else p + "\n" for p in parts)
    if not peers:
        return text
    if use != "remediate":
        raise Failure("--peers narrows the remediate manifest only")
    lines = text.splitlines(True)
    at = [i for i, line in enumerate(lines) if line.strip().startswith(MARKER)]
    if len(at) != 1:
        raise Failure("%s: the line '%s' is not there once" % (manifest_dir(use), MARKER))
    i = at[0]
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    old = [line.strip() for line in lines[i + 1:i + 4]]
    if old != ['- apiGroups: [""]', "resources: [secrets]", "verbs: [get, patch]"]:
        raise Failure("%s: the rule after '%s' is not the expected one" % (manifest_dir(use), MARKER))
    names = ["istio-remote-secret-%s" % p for p in peers]
    rule = [
        '%s- apiGroups: [""]\n' % indent,
        "%s  resources: [secrets]\n" % indent,
        "%s  resourceNames: [%s]\n" % (indent, ", ".join(names)),
        "%s  verbs: [get, patch]\n" % indent,
        "%s# remote_secrets, on a peer: read the reader ServiceAccount's token Secret\n" % indent,
        '%s- apiGroups: [""]\n' % indent,
        "%s  resources: [secrets]\n" % indent,
        "%s  resourceNames: [%s]\n" % (indent, READER_TOKEN_SECRET),
        "%s  verbs: [get]\n" % indent,
    ]
    note = "%s# narrowed by meshmend-rbac.py render --peers %s\n" % (indent, ",".join(peers))
    return "".join(lines[:i] + [note] + rule + lines[i + 4:])


def _peers(value):
    peers = [p.strip() for p in (value or "").split(",") if p.strip()]
    for p in peers:
        # a Secret name is a DNS subdomain: lower case, digits, '-' and '.'
        if not all(ch.islower() or ch.isdigit() or ch in "-." for ch in p):
            raise Failure("peer %r cannot be part of a Secret name (istio-remote-secret-<peer>)" % p)
    return peers


def _kubectl(args, kubectl, kubeconfig):
    cmd = [kubectl] + (["--kubeconfig", kubeconfig] if kubeconfig else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise Failure("kubectl %s failed: %s" % (" ".join(args[:6]), proc.stderr.strip()[:500]))
    return proc.stdout


def context_cluster(context, kubectl, kubeconfig):
    """(server, cluster entry without credentials) of one context of the source kubeconfig."""
    raw = _kubectl(["config", "view", "--raw", "--minify", "--flatten", "--context", context, "-o", "json"],
                   kubectl, kubeconfig)
    doc = json.loads(raw)
    clusters = doc.get("clusters") or []
    if not clusters:
        raise Failure("context %s names no cluster" % context)
    entry = clusters[0].get("cluster") or {}
    keep = ("server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name", "proxy-url")
    return dict((k, entry[k]) for k in keep if k in entry)


def write_kubeconfig(use, contexts, out, kubectl="kubectl", kubeconfig=None, duration="1h"):
    """Write OUT: one context per source context, authenticated as meshmend/meshmend-<use>."""
    if use not in USES:
        raise Failure("use must be one of %s" % ", ".join(USES))
    account = "meshmend-%s" % use
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": [],
           "current-context": contexts[0]}
    for ctx in contexts:
        cluster = context_cluster(ctx, kubectl, kubeconfig)
        token = _kubectl(["--context", ctx, "-n", NAMESPACE, "create", "token", account, "--duration", duration],
                         kubectl, kubeconfig).strip()
        if not token:
            raise Failure("kubectl create token %s in context %s gave no token" % (account, ctx))
        user = "%s@%s" % (account, ctx)
        doc["clusters"].append({"name": ctx, "cluster": cluster})
        doc["users"].append({"name": user, "user": {"token": token}})
        doc["contexts"].append({"name": ctx, "context": {"cluster": ctx, "user": user}})
    directory = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".meshmend-kubeconfig-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)   # JSON is YAML: kubectl and every client read it
            fh.write("\n")
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="print a manifest (remediate: --peers names the remote secrets)")
    r.add_argument("use", choices=USES)
    r.add_argument("--peers", help="comma-separated inventory host names (remediate only)")
    k = sub.add_parser("kubeconfig", help="write a kubeconfig with a token of meshmend/meshmend-<use>")
    k.add_argument("use", choices=USES)
    k.add_argument("--context", action="append", required=True, help="a context of the source kubeconfig")
    k.add_argument("--out", required=True, help="the kubeconfig to write (mode 0600)")
    k.add_argument("--kubeconfig", help="the source kubeconfig (default: kubectl's own)")
    k.add_argument("--duration", default="1h", help="token lifetime (kubectl create token --duration)")
    k.add_argument("--kubectl", default="kubectl", help="the kubectl binary")
    args = parser.parse_args(argv)
    try:
        if args.command == "render":
            sys.stdout.write(render(args.use, _peers(args.peers)))
        else:
            write_kubeconfig(args.use, args.context, args.out, kubectl=args.kubectl, kubeconfig=args.kubeconfig,
                             duration=args.duration)
            sys.stdout.write("%s: %d context(s) as ServiceAccount %s/meshmend-%s\n"
                             % (args.out, len(args.context), NAMESPACE, args.use))
    except (Failure, OSError, ValueError, subprocess.SubprocessError) as exc:
        sys.stderr.write("meshmend-rbac: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
