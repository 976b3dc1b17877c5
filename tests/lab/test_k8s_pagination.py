"""LIST with limit/continue, as kube-apiserver 1.36 pages (k8s.io/apiserver pkg/storage continue.go,
interfaces.go ValidateListOptions, cacher/cacher.go GetList and computeListLimit, etcd3/errors.go): pages of one
list are a consistent snapshot at the first page's resourceVersion, remainingItemCount only without selectors,
resourceVersion=0 is served whole, a bad token is 400, a compacted one 410 with a token to carry on."""
import base64
import json
import re

import pytest
from kubernetes import client

NS = "paging"
N = 7


@pytest.fixture(scope="module")
def v1(plain_lab):
    api = client.CoreV1Api(plain_lab.api_client("cluster3"))
    api.create_namespace({"metadata": {"name": NS}})
    for i in range(1, N + 1):
        api.create_namespaced_config_map(NS, {"metadata": {"name": "cm-%02d" % i, "labels": {"odd": str(i % 2)}},
                                              "data": {"v": "1"}})
    yield api
    api.delete_namespace(NS)


def names(lst):
    return [i.metadata.name for i in lst.items]


def all_names(v1):
    return names(v1.list_namespaced_config_map(NS))


def token(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_pages_with_continue_and_remaining_count(v1):
    every = all_names(v1)
    assert every == sorted(every) and len(every) >= N
    first = v1.list_namespaced_config_map(NS, limit=3)
    assert names(first) == every[:3]
    assert first.metadata.remaining_item_count == len(every) - 3
    decoded = json.loads(base64.urlsafe_b64decode(first.metadata._continue + "=="))
    assert decoded == {"v": "meta.k8s.io/v1", "rv": int(first.metadata.resource_version), "start": every[2] + "\x00"}
    seen, cont, rvs = names(first), first.metadata._continue, {first.metadata.resource_version}
    while cont:
        page = v1.list_namespaced_config_map(NS, limit=3, _continue=cont)
        seen += names(page)
        rvs.add(page.metadata.resource_version)
        cont = page.metadata._continue
    assert seen == every and len(rvs) == 1
    assert page.metadata.remaining_item_count is None


def test_later_pages_show_the_list_as_it_was(v1):
    first = v1.list_namespaced_config_map(NS, limit=2)
    before = all_names(v1)
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "cm-99"}})
    v1.patch_namespaced_config_map("cm-05", NS, {"data": {"v": "2"}})
    v1.delete_namespaced_config_map("cm-06", NS)
    try:
        rest = v1.list_namespaced_config_map(NS, limit=100, _continue=first.metadata._continue)
        assert names(first) + names(rest) == before
        assert {i.metadata.name: i.data for i in rest.items}["cm-05"] == {"v": "1"}
        assert rest.metadata.resource_version == first.metadata.resource_version
        now = all_names(v1)
        assert "cm-99" in now and "cm-06" not in now
    finally:
        v1.delete_namespaced_config_map("cm-99", NS)
        v1.patch_namespaced_config_map("cm-05", NS, {"data": {"v": "1"}})
        v1.create_namespaced_config_map(NS, {"metadata": {"name": "cm-06", "labels": {"odd": "0"}}, "data": {"v": "1"}})


def test_selector_pages_carry_no_remaining_count(v1):
    page = v1.list_namespaced_config_map(NS, limit=2, label_selector="odd=1")
    assert names(page) == ["cm-01", "cm-03"]
    assert page.metadata._continue and page.metadata.remaining_item_count is None
    rest = v1.list_namespaced_config_map(NS, limit=10, label_selector="odd=1", _continue=page.metadata._continue)
    assert names(rest) == ["cm-05", "cm-07"] and not rest.metadata._continue


def test_resource_version_zero_ignores_limit(v1):
    out = v1.list_namespaced_config_map(NS, limit=2, resource_version="0")
    assert len(out.items) == len(all_names(v1)) and not out.metadata._continue


@pytest.mark.parametrize("tok,message", [
    ("!!!", None),
    (token(0, "cm-01\x00"), "invalid continue token: continue key is not valid: incorrect encoded start "
                            "resourceVersion (version meta.k8s.io/v1)"),
    (token(5, ""), "invalid continue token: continue key is not valid: encoded start key empty (version "
                   "meta.k8s.io/v1)"),
])
def test_bad_tokens_are_400(v1, tok, message):
    with pytest.raises(client.ApiException) as ei:
        v1.list_namespaced_config_map(NS, limit=2, _continue=tok)
    st = json.loads(ei.value.body)
    assert ei.value.status == 400 and st["reason"] == "BadRequest"
    if message:
        assert st["message"] == message
    else:
        assert st["message"].startswith("invalid continue token: continue key is not valid: ")


def test_continue_with_a_resource_version_is_400(v1):
    first = v1.list_namespaced_config_map(NS, limit=2)
    with pytest.raises(client.ApiException) as ei:
        v1.list_namespaced_config_map(NS, limit=2, _continue=first.metadata._continue, resource_version="5")
    assert ei.value.status == 400
    assert json.loads(ei.value.body)["message"] == "specifying resource version is not allowed when using continue"


def test_compacted_token_is_410_with_a_fresh_token(plain_lab, v1):
    first = v1.list_namespaced_config_map(NS, limit=2)
    v1.patch_namespaced_config_map("cm-07", NS, {"data": {"v": "compacted"}})
    plain_lab.ctl("fault", "cluster3", "compact")
    with pytest.raises(client.ApiException) as ei:
        v1.list_namespaced_config_map(NS, limit=2, _continue=first.metadata._continue)
    assert ei.value.status == 410
    st = json.loads(ei.value.body)
    assert st["reason"] == "Expired"
    assert st["message"].startswith("The provided continue parameter is too old to display a consistent list result. "
                                    "You can start a new list without the continue parameter, or use the continue "
                                    "token in this response to retrieve the remainder of the results.")
    fresh = json.loads(base64.urlsafe_b64decode(st["metadata"]["continue"] + "=="))
    assert fresh == {"v": "meta.k8s.io/v1", "rv": -1, "start": names(first)[-1] + "\x00"}
    rest = v1.list_namespaced_config_map(NS, limit=100, _continue=st["metadata"]["continue"])
    assert names(first) + names(rest) == all_names(v1)
    assert {i.metadata.name: i.data for i in rest.items}["cm-07"] == {"v": "compacted"}   # the latest state
    # any token minted before the compaction names a revision that is gone
    with pytest.raises(client.ApiException) as ei:
        v1.list_namespaced_config_map(NS, limit=2, _continue=token(int(first.metadata.resource_version), "cm-01\x00"))
    assert ei.value.status == 410


def test_kubectl_pages_with_chunk_size(plain_lab, v1):
    r = plain_lab.kubectl("get", "configmaps", "-n", NS, "--chunk-size=3", "-v=6", context="cluster3")
    assert r.returncode == 0, r.stderr
    rows = [ln.split()[0] for ln in r.stdout.splitlines()[1:]]
    assert rows == all_names(v1)
    urls = re.findall(r'url="([^"]+/configmaps[^"]*)"', r.stderr)
    assert len(urls) == -(-len(rows) // 3) and all("limit=3" in u for u in urls)
    assert all("continue=" in u for u in urls[1:])
    # kubectl's default chunk is 500: one request
    r = plain_lab.kubectl("get", "configmaps", "-n", NS, "-v=6", context="cluster3")
    assert [u for u in re.findall(r'url="([^"]+)"', r.stderr) if "/configmaps" in u] == [
        re.findall(r'url="([^"]+/configmaps\?limit=500)"', r.stderr)[0]]
