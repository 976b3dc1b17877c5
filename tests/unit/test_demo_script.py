"""scripts/demo.py prints the remediate role's plan and before/after lines plainly, as the role wrote
them, although ansible.cfg prints debug results as YAML (where a line with a quote comes out quoted)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402  pylint: disable=wrong-import-position

# As ansible-playbook 2.19 prints it with callback_result_format = yaml (from `make demo --verbose`,
# trailing spaces of the `ok: [cluster1] => ` lines dropped).
OUTPUT = """
TASK [meshmend.multicluster.remediate : Show the plan] *************************
ok: [cluster1] =>
    msg:
    - 'plan: 3 action(s) for 3 finding(s) in categories network_labels, gateway_addresses,
        remote_secrets'
    - 'fix  cluster1 [remote_secrets]: create or update Secret istio-system/istio-remote-secret-cluster2
        in cluster1 from cluster2''s istio-reader-service-account (key cluster2)'
    - 'fix  cluster2 [network_labels]: label namespace istio-system with topology.istio.io/network=network2
        (values.global.network)'
    - 'fix  cluster2 [gateway_addresses]: set spec.externalIPs of Service istio-system/istio-eastwestgateway
        to [172.18.2.100]'
    - 'manual endpoints.remote_missing@cluster1->cluster2 (expected to clear with the
        planned fixes): Fix its causes (remote secrets, primary-remote layout); istiod
        then sends the remote endpoints.'

TASK [meshmend.multicluster.remediate : Show before and after] *****************
ok: [cluster1] =>
    msg:
    - 'applied 3 action(s): 3 changed, 0 unchanged, 0 failed'
    - 'changed cluster1 [remote_secrets]: create or update Secret istio-system/istio-remote-secret-cluster2
        in cluster1 from cluster2''s istio-reader-service-account (key cluster2)'
    - 'changed cluster2 [network_labels]: label namespace istio-system with topology.istio.io/network=network2
        (values.global.network)'
    - 'changed cluster2 [gateway_addresses]: set spec.externalIPs of Service istio-system/istio-eastwestgateway
        to [172.18.2.100]'
    - 'before: 4 error(s), 0 warning(s); after: 0 error(s), 0 warning(s)'
    - fixed     eastwest_gateway.external_ip_pending@cluster2
    - fixed     endpoints.remote_missing@cluster1->cluster2
    - fixed     network.namespace_label_missing@cluster2
    - fixed     remote_secret.missing@cluster1->cluster2

PLAY RECAP *********************************************************************
cluster1                   : ok=20   changed=1    unreachable=0    failed=0    skipped=7    rescued=0    ignored=0
cluster2                   : ok=10   changed=2    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0
"""


def test_debug_lines_are_read_back_as_yaml():
    lines = demo.debug_lines(OUTPUT, ("Show the plan", "Show before and after"))
    assert lines[0] == "plan: 3 action(s) for 3 finding(s) in categories network_labels, gateway_addresses, remote_secrets"
    assert ("fix  cluster1 [remote_secrets]: create or update Secret istio-system/istio-remote-secret-cluster2 in "
            "cluster1 from cluster2's istio-reader-service-account (key cluster2)") in lines
    assert "fixed     remote_secret.missing@cluster1->cluster2" in lines
    assert len(lines) == 14 and not [line for line in lines if line.startswith(("'", '"', "- ")) or "''" in line]


def test_recap_prints_no_yaml_quoting(capsys):
    demo._print_recap(OUTPUT)
    out = capsys.readouterr().out
    assert "''" not in out and "- '" not in out and "    'fix" not in out
    assert "    fix  cluster2 [gateway_addresses]: set spec.externalIPs of Service istio-system/istio-eastwestgateway to " \
           "[172.18.2.100]\n" in out
    assert out.rstrip().endswith("skipped=2    rescued=0    ignored=0")
