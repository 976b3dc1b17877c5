"""The mesh_report action plugin inside a real ansible-playbook run (no cluster needed:
each host's registered result is set from fixture facts)."""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import report_fixtures as fixtures
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

PLAY = """
- name: mesh_report over fixture facts
  hosts: all
  gather_facts: false
  tasks:
    - name: Stand in for the gather task's registered result
      ansible.builtin.set_fact:
        fixture_info: "{{ lookup('ansible.builtin.file', facts_dir ~ '/' ~ inventory_hostname ~ '.json') | from_json }}"
      when: inventory_hostname != 'cluster3'
    - name: Report
      meshmend.multicluster.mesh_report:
        facts_var: fixture_info
        report_dir: "{{ report_dir }}"
        fail_on: "{{ fail_on }}"
      run_once: true
      register: rep
    - name: The filters work on registered results (Ansible's own data types)
      ansible.builtin.assert:
        that:
          - "'cluster1' in (rep.findings | meshmend.multicluster.findings_query(q))"
          - (rep | meshmend.multicluster.findings_summary).error == rep.summary.counts.error
          - (hostvars['cluster1'].fixture_info.facts | meshmend.multicluster.findings_query('gateways[].addresses[].value')) == ['172.18.1.10']
          - (rep | meshmend.multicluster.findings_by_severity('error')) | length == rep.summary.counts.error
      vars:
        q: "[?id=='remote_secret.missing' && cluster=='cluster2'].peer"
      run_once: true
    - name: Exit decision
      ansible.builtin.fail:
        msg: "{{ rep.msg }}"
      run_once: true
      when: rep.threshold_exceeded
"""


@pytest.fixture
def setup(tmp_path):
    facts = fixtures.facts_by_cluster()
    facts_dir = tmp_path / "facts"
    facts_dir.mkdir()
    for name, f in facts.items():
        (facts_dir / (name + ".json")).write_text(json.dumps({"changed": False, "facts": f}))
    inventory = tmp_path / "inventory.yml"
    hosts = "".join("    %s: {}\n" % n for n in ("cluster1", "cluster2", "cluster3", "cluster4"))
    inventory.write_text("all:\n  vars:\n    ansible_connection: local\n"
                         "    ansible_python_interpreter: '{{ ansible_playbook_python }}'\n  hosts:\n" + hosts)
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    return tmp_path, facts_dir, inventory, play


def _run(tmp_path, facts_dir, inventory, play, fail_on, report_dir):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [PLAYBOOK_BIN, str(play), "-i", str(inventory), "--limit", "cluster1,cluster2,cluster3",
           "-e", "facts_dir=%s report_dir=%s fail_on=%s" % (facts_dir, report_dir, fail_on)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_action_writes_reports_and_fails_on_errors(setup):
    tmp_path, facts_dir, inventory, play = setup
    out = tmp_path / "reports"
    proc = _run(tmp_path, facts_dir, inventory, play, "error", out)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "threshold" not in proc.stderr
    assert sorted(os.listdir(out)) == ["meshmend-junit.xml", "meshmend-report.html", "meshmend-report.json",
                                       "meshmend-report.md"]
    doc = json.loads((out / "meshmend-report.json").read_text())
    assert doc["clusters"] == {"in_play": ["cluster1", "cluster2", "cluster3"], "out_of_play": ["cluster4"]}
    keys = [f["key"] for f in doc["findings"]]
    assert "remote_secret.missing@cluster2->cluster1" in keys
    assert "eastwest_gateway.external_ip_pending@cluster2" in keys
    # cluster3 registered nothing: reported, not crashed on
    assert "cluster.unreachable@cluster3" in keys
    assert "no facts gathered" in doc["facts"]["cluster3"]["error"]
    assert doc["timing"]["areas"] and doc["timing"]["analysis_s"] >= 0
    junit = ET.parse(str(out / "meshmend-junit.xml")).getroot()
    assert {s.get("name") for s in junit.iter("testsuite")} == {"cluster1", "cluster2", "cluster3", "cluster4"}
    assert "cluster4" in (out / "meshmend-report.html").read_text()
    # Finding links point at the collection's docs/findings.md, relative to the report directory.
    link = re.search(r"\]\(([^)#]+)#remote_secret\.missing\)", (out / "meshmend-report.md").read_text()).group(1)
    assert link.endswith("docs/findings.md") and os.path.isfile(os.path.join(str(out), link))


def test_fail_on_never_passes(setup):
    tmp_path, facts_dir, inventory, play = setup
    proc = _run(tmp_path, facts_dir, inventory, play, "never", tmp_path / "r2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((tmp_path / "r2" / "meshmend-report.json").read_text())
    assert doc["failed"] is False and doc["summary"]["counts"]["error"] > 0


def test_bad_option_is_a_clear_error(setup):
    tmp_path, facts_dir, inventory, play = setup
    proc = _run(tmp_path, facts_dir, inventory, play, "sometimes", tmp_path / "r3")
    assert proc.returncode != 0
    assert "fail_on" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
