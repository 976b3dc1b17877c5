"""Envoy admin output from envoyproxy/envoy's admin tests and istioctl's test data, read as upstream reads it.

Expectations: the protos (envoy api/envoy/admin/v3/clusters.proto HostStatus; endpoint_components.proto
Endpoint.additional_addresses, Envoy 1.26+) and istioctl's own goldens: istioctl 1.5.0
istioctl/pkg/writer/envoy/clusters/clusters.go PrintEndpointsSummary (clustersummary.txt) and istioctl
1.30.3 istioctl/pkg/writer/envoy/configdump/endpoint.go PrintEndpointsSummary / retrieveEndpointAddresses
(emptyfilter_output.txt: every address of an endpoint in the NAME column).
"""
import json
import re

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import envoy
import upstreamcorpus as corpus

SAMPLES = corpus.envoy_samples()


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["path_in_corpus"] for s in SAMPLES])
def test_envoy_output_read_as_upstream(sample):
    assert corpus.judge_envoy(sample, envoy) == []


def _camel(obj):
    """protojson's lowerCamelCase (istioctl -o json) of Envoy's snake_case."""
    if isinstance(obj, dict):
        return dict((re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k) if not k.startswith("@") else k, _camel(v))
                    for k, v in obj.items())
    if isinstance(obj, list):
        return [_camel(x) for x in obj]
    return obj


@pytest.mark.parametrize("sample", [s for s in SAMPLES if "additional" in s["text"]], ids=lambda s: s["file"])
def test_additional_addresses_kept_in_both_spellings(sample):
    snake = envoy.parse_endpoints(sample["text"])
    camel = envoy.parse_endpoints(json.dumps(_camel(json.loads(sample["text"]))))
    assert [r["addresses"] for r in snake] == [r["addresses"] for r in camel]
    assert any(len(r["additional_addresses"]) == 1 for r in camel)
