"""Fixtures of the check catalogue tests (the builders live in checks_facts.py, a unique module name)."""
import pytest

from checks_facts import build_mesh


@pytest.fixture
def multinetwork():
    return build_mesh("multinetwork")


@pytest.fixture
def single():
    return build_mesh("single")


@pytest.fixture
def primary_remote():
    return build_mesh("primary_remote")


@pytest.fixture
def primary_remote_local_istiod():
    return build_mesh("primary_remote_local_istiod")
