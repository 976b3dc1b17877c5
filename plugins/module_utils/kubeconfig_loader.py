# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one loader for every kubeconfig and Istio YAML meshmend reads, with size and alias limits.

:func:`safe_load` is ``yaml.safe_load`` that refuses what is too large or whose aliases expand into a huge
tree (a remote secret's value, a ConfigMap, an annotation); :func:`load_option` reads a kubeconfig option
(file, KUBECONFIG list, inline text or dict) as kubectl would, through the same limits. What the loaded
document means is judged in :mod:`.kubeconfig`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.meshmend.multicluster.plugins.module_utils.shared_memo import MEMO, digest

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

# Limits for YAML read out of a cluster (remote secrets, ConfigMaps, annotations): a kubeconfig is a
# few KiB, so anything far larger, or one whose aliases expand into a huge tree ("billion laughs"),
# is refused before it can eat the controller's memory or CPU.
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 100000
MAX_YAML_ALIASES = 1000


class YamlLimitError(ValueError):
    """A YAML document over the size, alias or expansion limits."""


if HAS_YAML:
    class _LimitedLoader(yaml.SafeLoader):
        """SafeLoader that counts aliases and measures the expanded tree before constructing it."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                self._meshmend_aliases = getattr(self, "_meshmend_aliases", 0) + 1
                if self._meshmend_aliases > MAX_YAML_ALIASES:
                    raise YamlLimitError("more than %d YAML aliases" % MAX_YAML_ALIASES)
            return super(_LimitedLoader, self).compose_node(parent, index)

        def compose_document(self):
            node = super(_LimitedLoader, self).compose_document()
            _expanded_size(node)
            return node


_FAST_LOADER = getattr(yaml, "CSafeLoader", None) if HAS_YAML else None


def _expanded_size(root):
    """Nodes in the tree once every alias is expanded (memoized per node: no expansion happens)."""
    sizes = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [x for pair in node.value for x in pair]
        if not done:
            sizes[key] = None   # in progress (a recursive alias refers back here)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        if any(sizes.get(id(c)) is None for c in children):
            raise YamlLimitError("a YAML alias refers to its own ancestor (a recursive document)")
        total = 1 + sum(sizes[id(c)] for c in children)
        if total > MAX_YAML_NODES:
            raise YamlLimitError("YAML aliases expand to more than %d nodes (an alias bomb)" % MAX_YAML_NODES)
        sizes[key] = total
    return sizes.get(id(root)) or 0


def safe_load(text, max_bytes=None):
    """``yaml.safe_load`` with limits: raises YamlLimitError (size, aliases, depth) or yaml.YAMLError."""
    limit = MAX_YAML_BYTES if max_bytes is None else max_bytes
    if isinstance(text, bytes):
        size = len(text)
    else:
        size = len(text.encode("utf-8", "replace"))
    if size > limit:
        raise YamlLimitError("%d bytes, more than the %d a kubeconfig or Istio ConfigMap value can be"
                             % (size, limit))
    if _FAST_LOADER is not None and ("&" not in text if isinstance(text, str) else b"&" not in text):
        # No anchor, so no alias and no alias bomb: libyaml parses it ~8x faster, which matters at scale
        # (N clusters hold N x (N-1) remote-secret kubeconfigs, docs/performance.md). Errors are worded by
        # the counting loader below, so every message stays the same.
        try:
            return yaml.load(text, Loader=_FAST_LOADER)  # nosec: libyaml's SafeLoader
        except (yaml.YAMLError, RecursionError):
            pass
    try:
        return yaml.load(text, Loader=_LimitedLoader)  # nosec: a SafeLoader subclass
    except RecursionError:
        raise YamlLimitError("YAML nested too deeply")


# --------------------------------------------------------------------------- the one loader for files

# A kubeconfig file holds every context of a user (certificates embedded): far larger than a remote secret,
# still far below what an alias bomb expands to. The node and alias limits are those of safe_load.
MAX_KUBECONFIG_FILE_BYTES = 4 * 1024 * 1024


class KubeconfigFileError(ValueError):
    """A kubeconfig that cannot be used; the message names the file (or "inline kubeconfig"), never its content."""


def read_limited(path, limit=MAX_KUBECONFIG_FILE_BYTES):
    """The bytes of ``path``, refusing a file over ``limit`` without reading it all."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except (IOError, OSError) as exc:
        raise KubeconfigFileError("kubeconfig %s cannot be read: %s" % (path, getattr(exc, "strerror", None) or exc))
    if len(data) > limit:
        raise KubeconfigFileError("kubeconfig %s is refused: more than %d bytes" % (path, limit))
    return data


def parse_document(data, where):
    """YAML/JSON text of a kubeconfig -> dict, with the size and alias limits. ``where`` names it in errors."""
    if not HAS_YAML:
        raise KubeconfigFileError("%s: PyYAML is not installed on the controller" % where)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KubeconfigFileError("%s is not UTF-8 text" % where)
    limit = max(MAX_YAML_BYTES, MAX_KUBECONFIG_FILE_BYTES)
    if len(data.encode("utf-8", "replace")) > limit:
        raise KubeconfigFileError("%s is refused: more than %d bytes" % (where, limit))
    try:
        doc = safe_load(data, max_bytes=limit)
    except YamlLimitError as exc:
        raise KubeconfigFileError("%s is refused: %s" % (where, exc))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = " at line %d" % (mark.line + 1) if mark is not None else ""
        raise KubeconfigFileError("%s is not valid YAML%s: %s" % (where, at, getattr(exc, "problem", None) or
                                                                  "parse error"))
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigFileError("%s is not a mapping (kind: Config)" % where)
    for key in ("clusters", "contexts", "users"):
        if doc.get(key) is not None and not isinstance(doc.get(key), list):
            raise KubeconfigFileError("%s: %s must be a list" % (where, key))
    return doc


def load_file(path):
    """One kubeconfig file through the limits. Relative file references are made absolute against the
    file's folder, as client-go's ResolveLocalPaths does (certificate-authority, client-certificate,
    client-key, tokenFile, an exec command holding a path separator)."""
    data = read_limited(path)
    # Every cluster of an inventory usually reads the same file (one context each): parsed once per run.
    key = digest("kubeconfig file", data)
    doc = MEMO.get(key)
    if doc is None:
        doc = parse_document(data, "kubeconfig %s" % path)
        MEMO.put(key, doc)
    base = os.path.dirname(os.path.abspath(path))
    for key, inner, fields in (("clusters", "cluster", ("certificate-authority",)),
                               ("users", "user", ("client-certificate", "client-key", "tokenFile"))):
        for item in doc.get(key) or []:
            body = item.get(inner) if isinstance(item, dict) else None
            if not isinstance(body, dict):
                continue
            for field in fields:
                value = body.get(field)
                if isinstance(value, str) and value and not os.path.isabs(value):
                    body[field] = os.path.join(base, value)
            ex = body.get("exec") if inner == "user" else None
            if isinstance(ex, dict) and isinstance(ex.get("command"), str) and os.sep in ex["command"] \
                    and not os.path.isabs(ex["command"]):
                ex["command"] = os.path.join(base, ex["command"])
    return doc


def merge(documents):
    """kubectl's merge of several files (KUBECONFIG): for each name the first file wins; the first
    current-context set wins."""
    out = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": [], "preferences": {}}
    seen = {"clusters": set(), "contexts": set(), "users": set()}
    for doc in documents:
        for key in ("clusters", "contexts", "users"):
            for item in doc.get(key) or []:
                if not isinstance(item, dict):
                    continue
                name = item.get("name")
                if name in seen[key]:
                    continue
                seen[key].add(name)
                out[key].append(item)
        if not out.get("current-context") and doc.get("current-context"):
            out["current-context"] = doc["current-context"]
    return out


def option_paths(kubeconfig, env=None):
    """The files a kubeconfig option names: a path, a KUBECONFIG-style list, or None ($KUBECONFIG, ~/.kube/config)."""
    env = os.environ if env is None else env
    if isinstance(kubeconfig, (list, tuple)):
        raw = os.pathsep.join(str(x) for x in kubeconfig)
    else:
        raw = kubeconfig or env.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(x) for x in str(raw).split(os.pathsep) if x]


def load_option(kubeconfig, env=None):
    """THE loader for a kubeconfig option (file, KUBECONFIG list, inline YAML text or dict). Returns
    (document, where). Raises KubeconfigFileError naming the file (or "inline kubeconfig"), never content."""
    if isinstance(kubeconfig, dict):
        return kubeconfig, "inline kubeconfig"
    if isinstance(kubeconfig, str) and "\n" in kubeconfig:
        return parse_document(kubeconfig, "inline kubeconfig"), "inline kubeconfig"
    paths = option_paths(kubeconfig, env)
    existing = [x for x in paths if os.path.exists(x)]
    if not existing:
        raise KubeconfigFileError("kubeconfig file %s does not exist" % os.pathsep.join(paths))
    docs = [load_file(x) for x in existing]
    return (docs[0] if len(docs) == 1 else merge(docs)), os.pathsep.join(existing)
