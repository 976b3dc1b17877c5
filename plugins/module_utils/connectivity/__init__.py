# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guide's active traffic tests, as pure functions (issue 7).

Section "cross-cluster traffic should still succeed ... without Istio" of the troubleshooting
guide: uninjected sleep -> a peer's helloworld pod IP, every ordered pair; a reachability probe of
each peer's east-west gateway on 15443; then mesh traffic from the injected sleep to
``helloworld.sample:5000/hello``, counting which versions answer.

Everything here is I/O free: the modules exec curl and hand the outputs in. By concern:

- ``outcomes``: the curl command and its output read as an outcome; one test case record;
- ``workload``: what a cluster offers the tests (a *site*: network, test pods, east-west gateway addresses
  as gateways.py derives them, the mesh's instances) and the samples placed in the test namespace;
- ``plan``: which probes each cluster runs against which peer;
- ``judge``: per-pair results -> test cases and the ``connectivity.*`` findings, with the exact curl output
  as evidence. Putting them into the report files is ``report/connectivity.py``'s.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.outcomes import (  # noqa: F401
    CLOSED, CONNECTED, CURL_EXIT, ConnectivityError, DNS_ERROR, ERROR, EXEC_ERROR, HANDSHAKE, HTTP_ANSWER,
    KINDS, KIND_CUSTOM, KIND_GATEWAY, KIND_MESH, KIND_POD_TO_POD, OK, REFUSED, TIMEOUT, TLS_ERROR,
    UPSTREAM_ERROR, combined_output, count_by, curl_command, parse_curl, test_case,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.workload import (  # noqa: F401
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, build_site, controller_pid, deployment_readiness, expand_lists,
    os_basename, select_manifests, version_for,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.plan import (  # noqa: F401
    multi_network, normalize_peers, plan_probes, validate_site,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.judge import (  # noqa: F401
    attribute_answer, custom_cases, judge, judge_gateway, judge_mesh, judge_pod_to_pod, link_causes,
    summarize,
)
