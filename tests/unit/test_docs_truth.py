"""What the shipped documentation says is true: it points at files that ship, and the numbers it quotes
are the ones the configuration uses. (plugins/module_utils/ docstrings are left to the module_utils refactor.)"""
import configparser
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = sorted(set(
    glob.glob(os.path.join(ROOT, "docs", "*.md")) + glob.glob(os.path.join(ROOT, "roles", "*", "README.md"))
    + glob.glob(os.path.join(ROOT, "roles", "**", "*.yml"), recursive=True)
    + glob.glob(os.path.join(ROOT, "playbooks", "*.yml")) + glob.glob(os.path.join(ROOT, "meta", "*.yml"))
    + [p for p in glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True)
       if os.sep + "module_utils" + os.sep not in p]
    + glob.glob(os.path.join(ROOT, "plugins", "**", "*.yml"), recursive=True)
    + [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "galaxy.yml")]))


def rel(path):
    return os.path.relpath(path, ROOT)


@pytest.mark.parametrize("path", SHIPPED, ids=rel)
def test_no_reference_to_the_unshipped_design_document(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert "DESIGN.md" not in text, "%s refers to DESIGN.md, which is not in the repository or the tarball" % rel(path)


def test_the_forks_the_docs_quote_are_ansible_cfgs():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "ansible.cfg"))
    forks = cfg.getint("defaults", "forks")
    quoted = []
    for name in ("docs/howto-inventory.md", "docs/howto-awx.md", "README.md"):
        with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
            text = handle.read()
        quoted += [(name, int(n)) for n in re.findall(r"`ansible\.cfg` (?:sets `forks = |uses )(\d+)", text)]
    assert quoted and all(n == forks for _name, n in quoted), (forks, quoted)
