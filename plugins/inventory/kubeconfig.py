# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kubeconfig
short_description: One inventory host per context of a kubeconfig
version_added: 1.0.0
author:
  - meshmend developers (@meshmend)
description:
  - Reads a kubeconfig (or several, merged the way C(kubectl) merges C(KUBECONFIG)) and adds one host per context,
    named after the context, with the host variables meshmend's roles and modules expect.
  - A context name that C(--limit) cannot select (an EKS ARN such as C(arn:aws:eks:us-east-1:123456789012:cluster/prod),
    with C(:) and C(/)) gives a host named after its cluster part (C(prod)), or the name with every character outside
    C([A-Za-z0-9._-]) replaced by C(-) when that is taken; C(kube_context) keeps the real context name.
  - Each host gets C(kube_context), C(kubeconfig) (absolute path, see O(set_kubeconfig_var)),
    C(ansible_connection=local) and C(ansible_python_interpreter={{ ansible_playbook_python }}),
    plus C(kube_cluster), C(kube_server) and C(kube_namespace) from the kubeconfig.
    Credentials are never copied into host variables.
  - Contexts are filtered by name, grouped by a context-name pattern and, when asked, by the
    C(topology.istio.io/network) label each cluster carries on its Istio namespace.
  - The source file name must end in C(.meshmend.yml) or C(.meshmend.yaml).
extends_documentation_fragment:
  - ansible.builtin.constructed
requirements:
  - PyYAML
  - kubernetes >= 30.1.0 (only with O(group_by_network=true))
options:
  plugin:
    description: Marks the file as a source for this plugin.
    required: true
    type: str
    choices: [meshmend.multicluster.kubeconfig]
  kubeconfig:
    description:
      - Path of the kubeconfig file. Several files may be given separated by V(:), as in E(KUBECONFIG);
        for a context defined in more than one file the first file wins, as with C(kubectl).
      - Relative paths are relative to the directory of the inventory source. V(~) is expanded.
      - When not set, E(KUBECONFIG) is used, then V(~/.kube/config).
    type: str
  set_kubeconfig_var:
    description:
      - Set the host variable C(kubeconfig) to the absolute path(s) read.
      - Set to V(false) where the kubeconfig lives at another path when playbooks run than when the inventory
        is built, as in AWX / Automation Controller, which inject a credential as a new temporary file for each
        job. The modules then use E(K8S_AUTH_KUBECONFIG), else E(KUBECONFIG), of the job.
    type: bool
    default: true
  contexts:
    description:
      - Only the contexts whose name matches one of these patterns become hosts. Default is all contexts.
      - A pattern is a shell glob (V(prod-*)), or a regular expression when it starts with V(~)
        (V(~^prod-(east|west\)$)), matched against the start of the name as Ansible host patterns are.
    type: list
    elements: str
    default: []
  exclude:
    description:
      - Contexts whose name matches one of these patterns (same syntax as O(contexts)) are left out,
        even when O(contexts) selects them.
    type: list
    elements: str
    default: []
  group_by_context_pattern:
    description:
      - A regular expression searched in each context name. When it matches, the host joins the group
        named by the named group C(group) (V((?P<group>[a-z]+\)-\\d+)), else by the first unnamed group,
        else by the whole match.
      - Group names are sanitized as Ansible requires (V(-) and V(.) become V(_)).
    type: str
  group_prefix:
    description: Prefix added to the groups made by O(group_by_context_pattern).
    type: str
    default: ''
  group_by_network:
    description:
      - Read each cluster's O(istio_namespace) Namespace and put the host in group V(network_<name>) after its
        C(topology.istio.io/network) label; the value is also set as host variable C(meshmend_discovered_network).
      - A cluster whose namespace exists without the label, or that has no such namespace, goes to group
        V(network_unlabeled).
      - A cluster that cannot be read (connection refused, TLS failure, bad credentials, forbidden, timeout) goes to
        group V(unreachable) with a warning that names the cluster and the reason; the inventory is still built.
      - One GET per cluster, clusters read in parallel. Needs the C(kubernetes) Python library on the controller.
      - This does not set C(meshmend_network), which declares the network a cluster B(should) be on.
    type: bool
    default: false
  istio_namespace:
    description: The namespace whose network label O(group_by_network) reads (where istiod runs).
    type: str
    default: istio-system
  request_timeout:
    description: Seconds to wait for each cluster's API server when O(group_by_network=true).
    type: float
    default: 5.0
  parallel:
    description: How many clusters O(group_by_network) reads at once.
    type: int
    default: 16
notes:
  - The inventory is built on the controller; hosts use the local connection, so modules run with the Python
    that runs C(ansible-playbook) (where the C(kubernetes) library is installed).
seealso:
  - name: Istio multicluster installation
    description: Network labels and contexts the bundled playbooks expect.
    link: https://istio.io/latest/docs/setup/install/multicluster/
"""

EXAMPLES = r"""
# Three inventory sources, one per item: each item is the whole content of its own file, named as its comment says.

# clusters.meshmend.yml: every context of ~/.kube/config (or $KUBECONFIG) becomes a host
- plugin: meshmend.multicluster.kubeconfig

# prod.meshmend.yml: only the prod contexts, grouped by region from the context name
- plugin: meshmend.multicluster.kubeconfig
  kubeconfig: ~/.kube/prod-config
  contexts:
    - "prod-*"
  exclude:
    - "~.*-sandbox$"
  group_by_context_pattern: '^prod-(?P<group>[a-z]+)-\d+$'
  group_prefix: region_

# mesh.meshmend.yml: group by the network label each cluster carries, and derive more vars
- plugin: meshmend.multicluster.kubeconfig
  kubeconfig: /etc/meshmend/kubeconfig
  group_by_network: true
  compose:
    meshmend_eastwest_gateway_ip: "'203.0.113.' ~ (kube_context | regex_replace('^cluster', ''))"
  keyed_groups:
    - key: kube_cluster
      prefix: kubecluster

# Use it: ansible-playbook -i mesh.meshmend.yml meshmend.multicluster.diagnose
"""

import fnmatch
import os
import re

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

try:
    from ansible.template import trust_as_template

    def untrusted(value):
        """ansible-core 2.19 and later never template a string a plugin did not mark trusted."""
        return value
except ImportError:  # ansible-core < 2.19 templates every string unless it is marked unsafe
    from ansible.utils.unsafe_proxy import wrap_var

    def trust_as_template(value):
        return value

    def untrusted(value):
        return wrap_var(value)

from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL

UNREACHABLE_GROUP = "unreachable"
UNLABELED_GROUP = "network_unlabeled"
FILE_SUFFIXES = (".meshmend.yml", ".meshmend.yaml")


class KubeconfigError(Exception):
    """A kubeconfig that cannot be used, with a message naming the file."""


def kubeconfig_paths(option, env=None, base_dir=None, home_default="~/.kube/config"):
    """The kubeconfig files to read: the option, else $KUBECONFIG, else ~/.kube/config. Absolute paths."""
    env = os.environ if env is None else env
    raw = option or env.get("KUBECONFIG") or home_default
    paths = []
    for part in str(raw).split(os.pathsep):
        part = part.strip()
        if not part:
            continue
        path = os.path.expanduser(part)
        if not os.path.isabs(path) and option and base_dir:
            path = os.path.join(base_dir, path)  # relative to the inventory source, like other inventory files
        path = os.path.abspath(path)
        if path not in paths:
            paths.append(path)
    return paths


def load_kubeconfig(path):
    """Parse one kubeconfig file into a dict through kubeconfig_loader (size and YAML alias limits);
    KubeconfigError names the file and the problem, never the content."""
    from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig_loader as _loader
    if not _loader.HAS_YAML:
        raise KubeconfigError("%s: PyYAML is not installed" % path)
    try:
        return _loader.parse_document(_loader.read_limited(path), "kubeconfig %s" % path)
    except _loader.KubeconfigFileError as exc:
        raise KubeconfigError(str(exc))


def _named_entries(data, key, path):
    for entry in data.get(key) or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise KubeconfigError("kubeconfig %s: every entry of %s needs a name" % (path, key))
        yield str(entry["name"]), entry.get(key[:-1]) or {}


def merge_contexts(documents):
    """[(path, data)] -> ordered {context: {cluster, namespace, server}}; the first definition wins (kubectl)."""
    clusters = {}
    contexts = {}
    for path, data in documents:
        for name, cluster in _named_entries(data, "clusters", path):
            clusters.setdefault(name, cluster if isinstance(cluster, dict) else {})
        for name, context in _named_entries(data, "contexts", path):
            if name in contexts:
                continue
            if not isinstance(context, dict):
                raise KubeconfigError("kubeconfig %s: context %s is not a mapping" % (path, name))
            contexts[name] = {"cluster": context.get("cluster"), "namespace": context.get("namespace")}
    for info in contexts.values():
        info["server"] = clusters.get(info["cluster"], {}).get("server") if info["cluster"] else None
    return contexts


def compile_patterns(patterns, option):
    """Globs, or regular expressions when prefixed with '~'. A bad regex names the option."""
    compiled = []
    for pattern in patterns or []:
        pattern = str(pattern)
        if pattern.startswith("~"):
            try:
                compiled.append(re.compile(pattern[1:]))
            except re.error as exc:
                raise KubeconfigError("%s: %r is not a valid regular expression: %s" % (option, pattern, exc))
        else:
            compiled.append(re.compile(fnmatch.translate(pattern)))
    return compiled


def select_contexts(names, include=None, exclude=None):
    """Context names kept by the include patterns (all when none) and not dropped by the exclude ones."""
    include = compile_patterns(include, "contexts")
    exclude = compile_patterns(exclude, "exclude")
    kept = []
    for name in names:
        if include and not any(p.match(name) for p in include):
            continue
        if any(p.match(name) for p in exclude):
            continue
        kept.append(name)
    return kept


def compile_group_pattern(pattern):
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise KubeconfigError("group_by_context_pattern: %r is not a valid regular expression: %s" % (pattern, exc))


def group_from_name(regex, name):
    """The group a context name maps to: named group 'group', else group 1, else the whole match; None if no match."""
    if regex is None:
        return None
    match = regex.search(name)
    if not match:
        return None
    if "group" in regex.groupindex:
        value = match.group("group")
    elif regex.groups:
        value = match.group(1)
    else:
        value = match.group(0)
    return value or None


def network_group(label_value):
    return "network_%s" % label_value if label_value else UNLABELED_GROUP


_EKS_ARN = re.compile(r"^arn:aws[a-z-]*:eks:[^:]+:\d+:cluster/(?P<name>.+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def host_name_for(context, taken):
    """An inventory host name for ``context`` that ``--limit`` can select (host patterns split on ``:`` and ``,``
    and treat ``*?[]!&~`` specially). ``taken`` (a set) is updated."""
    name = context
    if _UNSAFE.search(context):
        arn = _EKS_ARN.match(context)
        name = _UNSAFE.sub("-", arn.group("name")).strip("-") if arn else ""
        if not name or name in taken:
            name = _UNSAFE.sub("-", context).strip("-")
    while name in taken:
        name += "-"
    taken.add(name)
    return name


def read_network_label(kubeconfig, context, namespace, timeout):
    """GET one Namespace on one cluster. Returns (label or None, error message or None); never raises."""
    # Imported here: the kubernetes library costs ~0.4 s to import and is only needed for this option.
    from ansible_collections.meshmend.multicluster.plugins.module_utils.client import (
        ClusterError, HAS_KUBERNETES, get_client)

    if not HAS_KUBERNETES:
        return None, "the kubernetes Python library is not installed on the controller"
    try:
        client = get_client({"kubeconfig": kubeconfig, "context": context, "request_timeout": timeout,
                             "retries": 0, "validate_certs": None}, cluster=context)
        namespace_obj = client.get_or_none("/api/v1/namespaces/%s" % namespace)
    except ClusterError as exc:
        return None, to_native(exc)
    except Exception as exc:  # an unexpected client failure must not abort the inventory
        return None, "%s: cannot read namespace %s: %s: %s" % (context, namespace, type(exc).__name__, exc)
    if not namespace_obj:
        return None, None
    labels = (namespace_obj.get("metadata") or {}).get("labels") or {}
    return labels.get(NETWORK_LABEL) or None, None


def read_network_labels(kubeconfig, contexts, namespace, timeout, parallel):
    """{context: (label, error)} for every context, read concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    # Import once here rather than racing in every thread.
    from ansible_collections.meshmend.multicluster.plugins.module_utils import client  # noqa: F401 pylint: disable=unused-import

    if not contexts:
        return {}
    workers = max(1, min(int(parallel or 1), len(contexts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = dict((name, pool.submit(read_network_label, kubeconfig, name, namespace, timeout))
                       for name in contexts)
        return dict((name, future.result()) for name, future in futures.items())


class InventoryModule(BaseInventoryPlugin, Constructable):
    """meshmend.multicluster.kubeconfig: hosts from kube contexts."""

    NAME = "meshmend.multicluster.kubeconfig"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(FILE_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            self._populate(os.path.dirname(os.path.abspath(path)))
        except KubeconfigError as exc:
            raise AnsibleParserError("%s: %s" % (path, to_native(exc)))

    def _populate(self, base_dir):
        paths = kubeconfig_paths(self.get_option("kubeconfig"), base_dir=base_dir)
        existing = [p for p in paths if os.path.exists(p)]
        if not existing:
            raise KubeconfigError("no kubeconfig found at %s" % os.pathsep.join(paths))
        contexts = merge_contexts([(p, load_kubeconfig(p)) for p in existing])
        names = select_contexts(list(contexts), self.get_option("contexts"), self.get_option("exclude"))
        regex = compile_group_pattern(self.get_option("group_by_context_pattern"))
        kubeconfig = os.pathsep.join(existing)

        labels = {}
        if self.get_option("group_by_network"):
            labels = read_network_labels(kubeconfig, names, self.get_option("istio_namespace"),
                                         self.get_option("request_timeout"), self.get_option("parallel"))

        strict = self.get_option("strict")
        taken = set()
        for name in names:
            info = contexts[name]
            host = self.inventory.add_host(host_name_for(name, taken))
            hostvars = {
                "kube_context": name,
                "kube_cluster": info["cluster"],
                "kube_server": info["server"],
                "kube_namespace": info["namespace"],
                "ansible_connection": "local",
                # A template on purpose: modules must run with the Python that has the kubernetes library.
                "ansible_python_interpreter": trust_as_template("{{ ansible_playbook_python }}"),
            }
            if self.get_option("set_kubeconfig_var"):
                hostvars["kubeconfig"] = kubeconfig
            group = group_from_name(regex, name)
            if group:
                self._add_to_group(self.get_option("group_prefix") + group, host)
            if name in labels:
                label, error = labels[name]
                if error:
                    # The error names the cluster and the reason (ClusterError messages carry no credentials).
                    self.display.warning("meshmend.multicluster.kubeconfig: %s (host added to group %s)"
                                         % (error, UNREACHABLE_GROUP))
                    self._add_to_group(UNREACHABLE_GROUP, host)
                else:
                    hostvars["meshmend_discovered_network"] = label
                    self._add_to_group(network_group(label), host)
            for key, value in hostvars.items():
                # Names and paths read from the kubeconfig or the cluster are data, never templates.
                self.inventory.set_variable(host, key, value if key == "ansible_python_interpreter" else untrusted(value))
            self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)

    def _add_to_group(self, group, host):
        # Always sanitized (whatever TRANSFORM_INVALID_GROUP_CHARS says): the names must be predictable for --limit.
        group = self.inventory.add_group(to_safe_group_name(group, force=True, silent=True))
        self.inventory.add_child(group, host)
