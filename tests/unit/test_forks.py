"""plugin_utils/forks.py: what Ansible's main process loads once so that the workers it forks do not."""
import pytest

from ansible.plugins.loader import filter_loader, test_loader

from ansible_collections.meshmend.multicluster.plugins.plugin_utils.forks import load_template_plugins


def test_the_builtin_filters_and_tests_are_loaded_in_this_process():
    load_template_plugins()
    # the caches a worker fills on its first filter or test (Jinja2Loader), now inherited by every fork
    assert "ansible.builtin.default" in filter_loader._cached_non_collection_wrappers
    assert "ansible.builtin.bool" in filter_loader._cached_non_collection_wrappers
    assert "ansible.builtin.defined" in test_loader._cached_non_collection_wrappers


def test_the_default_lexer_is_built_in_this_process():
    jinja_bits = pytest.importorskip("ansible._internal._templating._jinja_bits", reason="ansible-core 2.19 and later")
    jinja_bits.AnsibleEnvironment._lexer_cache.clear()
    load_template_plugins()
    assert len(jinja_bits.AnsibleEnvironment._lexer_cache) == 1
