"""jsontext.loads: the standard library's values and errors, parsed by orjson when it can."""
import json
import random

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import jsontext

TEXTS = [
    '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
    '[1.5, -0, 1e300, "\\u00e9t\\u00e9", "\\ud83d\\ude00", "x\\/y"]',
    '{"dup": 1, "dup": 2}',                      # the last key wins in both
    '  {"padded": "yes"}\n',
    '"just a string"', '42', 'null',
    '[NaN, Infinity, -Infinity]',                # only the standard library accepts these
    '[18446744073709551615, -9223372036854775808]',   # the 64-bit bounds (Envoy's uint64, Kubernetes' int64)
    '["\\ud800"]',                               # a lone surrogate: only the standard library
]


@pytest.mark.parametrize("text", TEXTS)
def test_same_values_as_the_standard_library(text):
    want = json.loads(text)
    for given in (text, text.encode("utf-8")):
        got = jsontext.loads(given)
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
        assert type(got) is type(want)


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", "[1,]", "tru", b"\xff\xfe{"])
def test_the_standard_library_error_for_what_is_not_json(text):
    with pytest.raises(ValueError):
        jsontext.loads(text)


def test_an_integer_beyond_64_bits_is_at_least_the_same_number():
    """The one documented difference: orjson reads it as a float."""
    assert jsontext.loads("[123456789012345678901234567890]")[0] == pytest.approx(123456789012345678901234567890)


def test_without_orjson_the_standard_library_parses(monkeypatch):
    monkeypatch.setattr(jsontext, "orjson", None)
    assert jsontext.loads(TEXTS[0]) == json.loads(TEXTS[0])
    with pytest.raises(ValueError):
        jsontext.loads("{")


def test_random_documents():
    rnd = random.Random(7)

    def value(depth):
        kind = rnd.randrange(7 if depth < 4 else 4)
        if kind == 0:
            return rnd.randrange(-10 ** 12, 10 ** 12)
        if kind == 1:
            return rnd.random() * 10 ** rnd.randrange(-5, 5)
        if kind == 2:
            return "".join(chr(rnd.choice([rnd.randrange(32, 127), rnd.randrange(160, 0x2FFF)])) for _n in range(rnd.randrange(8)))
        if kind == 3:
            return rnd.choice([True, False, None])
        if kind in (4, 5):
            return [value(depth + 1) for _n in range(rnd.randrange(4))]
        return dict(("k%d" % rnd.randrange(10), value(depth + 1)) for _n in range(rnd.randrange(4)))

    for _n in range(300):
        text = json.dumps(value(0), ensure_ascii=rnd.random() < 0.5)
        assert jsontext.loads(text) == json.loads(text)
