"""What cluster_info lets out: redact.redact gives what Ansible's remove_values gives, on every shape a result
takes, and a read cluster's facts stay off the console when the task asks."""
import json
import random
import string

import pytest
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.meshmend.multicluster.plugins.module_utils import redact as redact_module
from ansible_collections.meshmend.multicluster.plugins.module_utils.redact import redact, redacted_json

TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InJlYWRlciJ9." + "x" * 40
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n"


@pytest.mark.parametrize("value, secrets", [
    ({"token": TOKEN, "msg": "cannot use %s here" % TOKEN, "ok": "cluster2"}, [TOKEN]),
    ({"pem": KEY, "in": ["x" + KEY + "y", KEY[:10]]}, [KEY, KEY[:10]]),
    # a secret inside a longer one: the longer is masked first, as remove_values does
    ({"a": "abcdef-abcd-ab"}, ["abcd", "abcdef"]),
    # numbers whose digits hold a secret become the whole-value marker
    ({"port": 15443, "ratio": 0.12345, "n": 7, "flag": True, "none": None}, ["1544", "12345"]),
    ([("tuple", TOKEN), {"nested": [[TOKEN + TOKEN]]}], [TOKEN]),
    ({"short": "tok", "exact": "tok1"}, ["tok1", "toke"]),
    ({"bytes": b"x" + TOKEN.encode()}, [TOKEN]),
    ({"keys stay": {TOKEN: 1}}, [TOKEN]),
    ({"no secrets": "anything"}, []),
    # characters JSON escapes (the check before the walk reads the result's JSON text)
    ({"q": 'say "sec\\ret"\n now', "u": "cl\u00e9-\u2713-\x01ctl!", "n": float("nan")},
     ['"sec\\ret"\n', "\u00e9-\u2713-\x01ctl"]),
    ({"not here": "nothing to see", "n": 12}, ['"sec\\ret"', "\u2713\u2713\u2713\u2713"]),
])
def test_same_result_as_remove_values(value, secrets):
    assert redact(value, set(secrets)) == remove_values(value, set(secrets))


def test_random_results_match_remove_values():
    rng = random.Random(17)
    alphabet = string.ascii_letters + string.digits + "-_." + '"\\\n\u00e9\u2713\x01'

    def word(lo, hi):
        return "".join(rng.choice(alphabet) for _i in range(rng.randint(lo, hi)))

    secrets = set(word(4, 60) for _i in range(40)) | set(str(rng.randint(1000, 99999)) for _i in range(5))
    pool = sorted(secrets)

    def text():
        parts = [word(0, 20)]
        for _i in range(rng.randint(0, 3)):
            parts.append(rng.choice(pool) if rng.random() < 0.5 else word(1, 30))
        return "".join(parts) if rng.random() < 0.8 else rng.choice(pool)

    def value(depth):
        kind = rng.random()
        if depth > 3 or kind < 0.5:
            return rng.choice([text(), text(), rng.randint(0, 10 ** 6), rng.random() * 1e5, None, True])
        if kind < 0.75:
            return [value(depth + 1) for _i in range(rng.randint(0, 5))]
        return dict((word(1, 8), value(depth + 1)) for _i in range(rng.randint(0, 5)))

    absent = set(word(8, 40) for _i in range(5))
    for _i in range(200):
        result = value(0)
        assert redact(result, secrets) == remove_values(result, secrets)
        for chosen in (secrets, absent, set(rng.sample(pool, 2))):
            assert json.loads(redacted_json(result, chosen)) == json.loads(_text(remove_values(result, chosen)))


def _text(value):
    return json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("value, secrets", [
    ({"token": TOKEN, "msg": "cannot use %s here" % TOKEN, "ok": "cluster2"}, [TOKEN]),
    ({"pem": KEY, "in": ["x" + KEY + "y", KEY[:10]]}, [KEY, KEY[:10]]),
    ({"port": 15443, "ratio": 0.12345, "n": 7, "flag": True, "none": None}, ["1544", "12345"]),
    ({"q": 'say "sec\\ret"\n now', "u": "cl\u00e9-\u2713-\x01ctl!"}, ['"sec\\ret"\n', "\u00e9-\u2713-\x01ctl"]),
    ({"n": float("nan"), "s": "nan"}, ["nan"]),
    ({"not here": "nothing to see", "n": 12, "t": [("tuple", 1)]}, ['"sec\\ret"', "\u2713\u2713\u2713\u2713", TOKEN]),
    ({"no secrets": "anything"}, []),
])
def test_json_text_is_that_of_the_redacted_value(value, secrets):
    expected = json.dumps(remove_values(value, set(secrets)), separators=(",", ":"))
    assert redacted_json(value, set(secrets)) == expected


def test_json_text_walks_only_when_a_secret_is_spelled_in_it(monkeypatch):
    walked = []
    real_walk = redact_module._walk
    monkeypatch.setattr(redact_module, "_walk", lambda value, found: walked.append(1) or real_walk(value, found))
    facts = {"entries": [{"server": "https://10.0.0.%d:6443" % i, "auth": "token"} for i in range(50)]}
    assert redacted_json(facts, {TOKEN, KEY}) == _text(facts) and not walked
    # a secret's JSON spelling (a PEM key's newlines escaped) is found, and the walk masks it
    facts["entries"][7]["note"] = "leaked " + KEY
    assert "BEGIN EC" not in redacted_json(facts, {TOKEN, KEY}) and walked


def test_leaves_the_input_alone():
    result = {"msg": "token %s" % TOKEN}
    assert redact(result, {TOKEN}) == {"msg": "token ********"}
    assert result == {"msg": "token %s" % TOKEN}


@pytest.mark.parametrize("args, result, censored", [
    ({"facts_on_console": False}, {"reachable": True, "facts": {}}, True),
    ({"facts_on_console": "no"}, {"reachable": True, "facts": {}}, True),
    # a cluster that cannot be read, or a failed task, keeps its result on the console: the reason matters
    ({"facts_on_console": False}, {"reachable": False, "facts": {}}, False),
    ({"facts_on_console": False}, {"failed": True, "msg": "bad peers"}, False),
    ({}, {"reachable": True, "facts": {}}, False),
])
def test_facts_off_console_only_when_asked_and_read(args, result, censored):
    from ansible_collections.meshmend.multicluster.plugins.action.cluster_info import off_console
    assert bool(off_console(dict(result), args).get("_ansible_no_log")) is censored


def test_secrets_that_begin_alike_are_each_found():
    """Many secrets sharing a beginning (service account tokens: one JWT header) are looked for by that
    beginning first; each one of them, and only those in the text, still makes the walk mask it."""
    tokens = ["eyJhbGciOiJSUzI1NiIsImtpZCI6I" + "%04d" % i + "x" * 30 for i in range(300)]
    facts = {"entries": [{"server": "https://10.0.%d.1:6443" % i} for i in range(300)]}
    assert redacted_json(facts, set(tokens)) == _text(facts)
    for leaked in (tokens[0], tokens[157], tokens[-1], "short"):
        value = dict(facts, note="see " + leaked)
        assert redacted_json(value, set(tokens) | {"short"}) == _text(remove_values(value, set(tokens) | {"short"}))
        assert leaked not in redacted_json(value, set(tokens) | {"short"})
