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
        docs_url: "{{ docs_url | default(omit) }}"
        template_dir: "{{ template_dir | default(omit) }}"
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
    - name: The unreachable cluster is printed once, as the root cause of its peers' findings
      ansible.builtin.assert:
        that:
          - rep.lines | select('search', 'cluster.unreachable cluster3') | list | length == 1
          - rep.lines | select('search', 'cluster.unreachable cluster3.*root cause of 2 finding') | list | length == 1
          - rep.lines | select('search', '^  explains 2 x error remote_secret.missing on cluster1, cluster2 -> cluster3$') | list | length == 1
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


def _run(tmp_path, facts_dir, inventory, play, fail_on, report_dir, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [PLAYBOOK_BIN, str(play), "-i", str(inventory), "--limit", "cluster1,cluster2,cluster3",
           "-e", "facts_dir=%s report_dir=%s fail_on=%s" % (facts_dir, report_dir, fail_on)]
    for e in extra:
        cmd += ["-e", e]
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
    # Finding links point at the published catalogue by default: they work in a CI artifact (issue 18).
    link = re.search(r"\]\(([^)#]+)#remote_secret\.missing\)", (out / "meshmend-report.md").read_text()).group(1)
    assert link == "https://github.com/meshmend/multicluster/blob/main/docs/findings.md"
    # Root causes first, in the JSON report and in the lines the play prints.
    # cluster3 registered nothing: its peers' missing secrets for it are grouped under it.
    (root,) = [rc for rc in doc["root_causes"] if rc["key"] == "cluster.unreachable@cluster3"]
    assert root["dependents"] == ["cluster1", "cluster2"]
    assert [(s["id"], s["count"], s["peers"]) for s in root["symptoms"]] == [("remote_secret.missing", 2, ["cluster3"])]
    assert "The unreachable cluster is printed once" in proc.stdout and "Assertion failed" not in proc.stdout


def test_fail_on_never_passes(setup):
    """fail_on=never passes; docs_url=local links to the collection's copy, relative to the report; a
    template of template_dir replaces the built-in one of the same name."""
    tmp_path, facts_dir, inventory, play = setup
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "clusters.html.j2").write_text(
        '<section id="clusters"><h2>Our clusters</h2>{% for c in clusters %}<p class="mine">{{ c.name }}: '
        '{{ c.role }}</p>{% endfor %}</section>\n')
    proc = _run(tmp_path, facts_dir, inventory, play, "never", tmp_path / "r2", "docs_url=local",
                "template_dir=%s" % templates)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((tmp_path / "r2" / "meshmend-report.json").read_text())
    assert doc["failed"] is False and doc["summary"]["counts"]["error"] > 0
    out = tmp_path / "r2"
    link = re.search(r"\]\(([^)#]+)#remote_secret\.missing\)", (out / "meshmend-report.md").read_text()).group(1)
    assert link.endswith("docs/findings.md") and os.path.isfile(os.path.join(str(out), link))
    page = (out / "meshmend-report.html").read_text()
    assert '<p class="mine">cluster2: primary</p>' in page and "<h2>Our clusters</h2>" in page
    assert "<h2>The mesh</h2>" in page          # the other templates are the built-in ones


def test_bad_template_dir_fails_before_writing(setup):
    tmp_path, facts_dir, inventory, play = setup
    proc = _run(tmp_path, facts_dir, inventory, play, "never", tmp_path / "r4", "template_dir=%s" % (tmp_path / "nope"))
    assert proc.returncode != 0 and "template_dir" in proc.stdout and "is not a directory" in proc.stdout
    assert not (tmp_path / "r4").exists()


def test_bad_option_is_a_clear_error(setup):
    tmp_path, facts_dir, inventory, play = setup
    proc = _run(tmp_path, facts_dir, inventory, play, "sometimes", tmp_path / "r3")
    assert proc.returncode != 0
    assert "fail_on" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


CONNECTIVITY_PLAY = """
- name: connectivity results into the report of a diagnosis
  hosts: localhost
  gather_facts: false
  vars:
    tls:
      id: connectivity.tls_error
      severity: error
      cluster: cluster1
      peer: cluster2
      message: mesh traffic fails with a TLS error
    case:
      classname: connectivity.mesh
      name: cluster1 -> cluster2
      cluster: cluster1
      peer: cluster2
      status: failed
      message: TLS error
      finding: connectivity.tls_error@cluster1->cluster2
  tasks:
    - name: The old name, an action plugin over the same path
      meshmend.multicluster.connectivity_report:
        report_dir: "{{ report_dir }}"
        findings: ["{{ tls }}"]
        tests: ["{{ case }}"]
        fail_on: never
      register: old
    - name: mesh_report without analysis, as the connectivity role calls it
      meshmend.multicluster.mesh_report:
        analyze: false
        report_dir: "{{ report_dir }}"
        extra_findings: ["{{ tls }}"]
        tests: ["{{ case }}"]
        probes: {cluster3: {failed: true, msg: cannot exec}}
        fail_on: never
      register: new
    - name: In check mode no test ran, the reports are left alone
      meshmend.multicluster.mesh_report:
        analyze: false
        report_dir: "{{ report_dir }}"
        tests: ["{{ case }}"]
      check_mode: true
      register: checked
    - name: What both returned
      ansible.builtin.copy:
        content: "{{ {'old': old, 'new': new, 'checked': checked} | to_json }}"
        dest: "{{ report_dir }}/../results.json"
        mode: "0644"
"""


def test_connectivity_results_merge_into_the_report(setup):
    tmp_path, facts_dir, inventory, play = setup
    # a diagnosis first (cluster3 down): its findings stay, the connectivity ones are added
    assert _run(tmp_path, facts_dir, inventory, play, "never", tmp_path / "c").returncode == 0
    cplay = tmp_path / "connectivity.yml"
    cplay.write_text(CONNECTIVITY_PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([PLAYBOOK_BIN, str(cplay), "-e", "report_dir=%s" % (tmp_path / "c")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["old"]["merged"] is True and res["old"]["tests"] == {"failed": 1}
    assert res["old"]["lines"] == ["FAILED  connectivity.mesh cluster1 -> cluster2: TLS error"]
    assert res["new"]["connectivity"]["counts"] == {"failed": 1, "error": 1}
    assert res["checked"]["skipped"] is True and "check mode" in res["checked"]["msg"]
    doc = json.loads((tmp_path / "c" / "meshmend-report.json").read_text())
    keys = [f["key"] for f in doc["findings"]]
    assert "cluster.unreachable@cluster3" in keys and keys.count("connectivity.tls_error@cluster1->cluster2") == 1
    assert [c["name"] for c in doc["connectivity"]["tests"]] == ["cluster1 -> cluster2", "cluster3"]
    junit = ET.parse(str(tmp_path / "c" / "meshmend-junit.xml")).getroot()
    suite = [s for s in junit.iter("testsuite") if s.get("name") == "connectivity"][0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    assert '<section id="connectivity-tests">' in (tmp_path / "c" / "meshmend-report.html").read_text()
