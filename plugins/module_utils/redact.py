# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``AnsibleModule.exit_json`` does to a result before it leaves (``remove_values``), in time
linear in the result.

A cluster's gather holds every peer's credentials (one kubeconfig per remote secret) and returns one
entry per peer, so both the secrets and the result grow with the mesh. Ansible's ``remove_values``
tries every secret against every string: at 200 clusters that was 0.28 s of CPU per cluster, more
than the gather itself, and it grew with the square of the mesh. A string can only hold a secret no
longer than itself, and the values meshmend returns are short (names, addresses, fingerprints) while
credentials are long (tokens, keys), so almost every string is checked against no secret at all.
The result is the same as ``remove_values``'s (``tests/unit/module_utils/test_redact.py``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import datetime
import json

# remove_values's own words, so a redacted result reads the same whichever path it took
WHOLE_VALUE = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
MASK = "*" * 8


class _Secrets(object):
    def __init__(self, secrets):
        # longest first, as remove_values replaces them (a secret inside a longer one is not masked first)
        self.values = sorted(set(str(s) for s in secrets), key=len, reverse=True)
        self.exact = frozenset(self.values)
        # ascending negated lengths, so bisect finds where the secrets no longer than a string start
        self._neg_lengths = [-len(v) for v in self.values]

    def fitting(self, text):
        """The secrets no longer than ``text``, longest first: the only ones it can contain."""
        return self.values[bisect.bisect_left(self._neg_lengths, -len(text)):]

    def scalar(self, text):
        if text in self.exact:
            return WHOLE_VALUE
        for secret in self.fitting(text):
            text = text.replace(secret, MASK)
        return text

    def number(self, value):
        text = str(value)
        if text in self.exact or any(secret in text for secret in self.fitting(text)):
            return WHOLE_VALUE
        return value


def redact(value, secrets):
    """``value`` (dicts, lists, scalars) with every secret string in ``secrets`` removed, as
    ``ansible.module_utils.common.parameters.remove_values`` removes it: a string equal to a secret
    becomes ``VALUE_SPECIFIED_IN_NO_LOG_PARAMETER``, a secret inside a string ``********``, a number
    whose digits hold a secret the whole-value marker. Keys are left as they are, as there."""
    found = _Secrets(secrets)
    if not found.values:
        return value
    return _walk(value, found)


def redacted_json(value, secrets):
    """The compact JSON text of ``redact(value, secrets)``, walking ``value`` only when a secret may be in it.

    The text of ``value`` is written first. JSON escapes each character on its own, so a string (or a number's
    digits) holding a secret holds the secret's escaped spelling in the text; when no secret's spelling is
    there, redaction would change nothing. A spelling found anywhere (in a key, across two strings) only costs
    the walk. A cluster's facts are some 15,000 values, none of them a credential by design: the walk was a tenth
    of a gather's CPU at 200 clusters, and the text is written anyway."""
    found = _Secrets(secrets)
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity: spelled differently in JSON (NaN) and in the digits redact checks (nan)
        text = None
    if text is None or _spelled_in(text, found.values):
        text = json.dumps(_walk(value, found) if found.values else value, separators=(",", ":"))
    return text


# A gather holds every peer's credentials (the N-1 remote secrets'), and credentials of one kind start alike (a
# service account token's JWT header, a PEM's base64): looking for the few distinct beginnings first makes N
# searches of the text one or two, where a secret that is in the text has its beginning there too.
_PREFIX = 16


def _spelled_in(text, secrets):
    """Whether the JSON spelling of any of ``secrets`` is in ``text``."""
    by_prefix = {}
    for secret in secrets:
        spelled = json.dumps(secret)[1:-1]
        by_prefix.setdefault(spelled[:_PREFIX], []).append(spelled)
    return any(prefix in text and any(spelled in text for spelled in group) for prefix, group in by_prefix.items())


def _walk(value, found):
    # recursion depth is the result's nesting (a handful of levels), not its size
    if isinstance(value, str):
        return found.scalar(value)
    if isinstance(value, bytes):
        return found.scalar(value.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return found.number(value)
    if isinstance(value, dict):
        return dict((key, _walk(item, found)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_walk(item, found) for item in value]
    if isinstance(value, (set, frozenset)):
        return set(_walk(item, found) for item in value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value
    raise TypeError("cannot redact a value of type %s" % type(value).__name__)
