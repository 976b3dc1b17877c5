"""cluster_info's controller-side action plugin (local hosts run the gather inside Ansible's worker):
it must behave as the module does — the task's `environment:` applies, no_log values never come back,
and bad arguments fail the task with a clear message. And the diagnose role lets a play's module_defaults
for the k8s group through (it passes kubeconfig/context as arguments)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: K8S_AUTH_* from the task environment picks the context
      meshmend.multicluster.cluster_info:
        kubeconfig: "{kubeconfig}"
        sections: [istiod]
      environment:
        K8S_AUTH_CONTEXT: cluster2
      register: by_env
    - name: a no_log option's value never comes back, even inside a message
      meshmend.multicluster.cluster_info:
        kubeconfig: "{kubeconfig}"
        context: cluster1
        cluster_name: "s3cr3t-token-value"
        api_key: "s3cr3t-token-value"
        sections: [istiod]
      register: redacted
    - name: bad arguments fail the task
      meshmend.multicluster.cluster_info:
        kubeconfig: "{kubeconfig}"
        log_lines: many
      register: bad
      ignore_errors: true
    - name: results
      ansible.builtin.copy:
        dest: "{out}"
        content: "{{{{ {{'by_env': by_env, 'redacted': redacted, 'bad': bad}} | to_json }}}}"
        mode: "0600"

- name: a play's module_defaults for the k8s group reach the diagnose role
  hosts: localhost
  gather_facts: false
  vars:
    kubeconfig: "{kubeconfig}"
    kube_context: cluster1
    meshmend_report_dir: "{reports}"
    meshmend_fail_on: never
  module_defaults:
    group/meshmend.multicluster.k8s:
      api_key: "s3cr3t-token-value"
  roles:
    - meshmend.multicluster.diagnose
"""


@pytest.fixture(scope="module")
def lab(shared_lab):
    return shared_lab("healthy-multinetwork")  # only read


def test_action_plugin_matches_the_module(lab, tmp_path):
    out = tmp_path / "out.json"
    play = tmp_path / "play.yml"
    reports = tmp_path / "reports"
    play.write_text(PLAY.format(kubeconfig=lab.kubeconfig, out=out, reports=reports))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(out.read_text())
    assert res["by_env"]["facts"]["context"] == "cluster2" and res["by_env"]["reachable"]
    assert res["by_env"]["facts"]["istiod"]["cluster_id"] == "cluster2"
    # the api_key replaced the kubeconfig token: the lab refuses it, and the name that equals it is masked
    redacted = json.dumps(res["redacted"])
    assert "s3cr3t-token-value" not in redacted and "s3cr3t-token-value" not in proc.stdout
    assert res["redacted"]["reachable"] is False and res["redacted"]["facts"]["error_kind"] == "unauthorized"
    assert res["bad"]["failed"] and "log_lines" in res["bad"]["msg"]
    # the play-level api_key replaced the kubeconfig's token inside the role: the lab says 401
    report = json.loads((reports / "meshmend-report.json").read_text())
    assert [(f["id"], f["cluster"]) for f in report["findings"]] == [("cluster.unreachable", "localhost")]
    assert "401" in json.dumps(report["findings"][0]) or "nauthorized" in json.dumps(report["findings"][0])
    for path in reports.iterdir():
        assert "s3cr3t-token-value" not in path.read_text()
