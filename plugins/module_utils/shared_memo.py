# -*- coding: utf-8 -*-
# Copyright: meshmend contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Results worked out once per ansible-playbook run instead of once per cluster.

Ansible's main process imports cluster_info's action plugin, and with it this module, before it forks a
worker per cluster. The memo maps one anonymous shared memory region there, so each worker finds what the
workers before it worked out: the parsed kubeconfig file every cluster shares, and the verdict on each
remote-secret kubeconfig (N clusters hold N x (N-1) remote-secret values, but only N distinct ones).

Only pure results go in, keyed by a digest of everything they were computed from, so an entry never goes
stale and nothing is ever invalidated. The region lives in memory only, as long as the run, and is never
written to a file. Where it cannot be mapped, or a module runs in its own process, the memo is that
process's own: the same answers, just not shared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import mmap
import struct

from ansible_collections.meshmend.multicluster.plugins.module_utils import jsontext

try:
    import multiprocessing
except ImportError:  # pragma: no cover  (a Python without it)
    multiprocessing = None

REGION_BYTES = 64 * 1024 * 1024   # address space; pages are used only as entries fill them
_HEADER = struct.Struct("<Q")     # bytes used, header included
_RECORD = struct.Struct("<I")     # length of one record
LOCK_SECONDS = 2.0


def digest(*parts):
    """The key of a result: sha256 over its inputs (bytes, text, or anything with a stable repr)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            part = part.encode("utf-8")
        elif not isinstance(part, bytes):
            part = repr(part).encode("utf-8")
        h.update(_RECORD.pack(len(part)))
        h.update(part)
    return h.hexdigest()


class SharedMemo(object):
    """key -> JSON value, appended to a shared region; ``get`` returns a fresh copy, so callers may change it."""

    def __init__(self, size=REGION_BYTES):
        self._local = {}   # key -> JSON text
        self._read = _HEADER.size
        self._region = None
        self._lock = None
        if multiprocessing is None:
            return
        try:
            region = mmap.mmap(-1, size)   # anonymous and shared: forked children see the same pages
            lock = multiprocessing.get_context("fork").Lock()
        except (OSError, ValueError, ImportError, AttributeError):
            return
        region[:_HEADER.size] = _HEADER.pack(_HEADER.size)
        self._region, self._lock = region, lock

    @property
    def shared(self):
        return self._region is not None

    def get(self, key):
        text = self._local.get(key)
        if text is None and self._region is not None:
            self._catch_up()
            text = self._local.get(key)
        return None if text is None else jsontext.loads(text)

    def put(self, key, value):
        """Remember ``value`` (JSON data). A value that does not survive JSON unchanged is not kept."""
        try:
            text = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return False
        if json.loads(text) != value:
            return False
        if self._region is not None:
            self._catch_up()
            if key not in self._local:   # another worker may have put it meanwhile: the region keeps one copy
                self._append(key.encode("utf-8"), text.encode("utf-8"))
        self._local.setdefault(key, text)
        return True

    # ---- the region: [bytes used] then records [record length][key length][key][value as JSON] ---------------

    def _locked(self):
        try:
            if self._lock.acquire(True, LOCK_SECONDS):
                return True
        except (OSError, ValueError):
            pass
        # a worker killed while holding the lock: this process stops sharing rather than wait again
        self._region = None
        return False

    def _catch_up(self):
        if not self._locked():
            return
        try:
            used = _HEADER.unpack_from(self._region, 0)[0]
            chunk = self._region[self._read:used]
        finally:
            self._lock.release()
        pos = 0
        while pos < len(chunk):
            size, key_size = _RECORD.unpack_from(chunk, pos)[0], _RECORD.unpack_from(chunk, pos + _RECORD.size)[0]
            key_start = pos + 2 * _RECORD.size
            value_start = key_start + key_size
            self._local.setdefault(chunk[key_start:value_start].decode("utf-8"),
                                   chunk[value_start:pos + _RECORD.size + size].decode("utf-8"))
            pos += _RECORD.size + size
        self._read += len(chunk)

    def _append(self, key, text):
        record = _RECORD.pack(len(key)) + key + text
        if not self._locked():
            return
        try:
            used = _HEADER.unpack_from(self._region, 0)[0]
            end = used + _RECORD.size + len(record)
            if end > len(self._region):
                return   # full: later results are this process's own
            self._region[used:end] = _RECORD.pack(len(record)) + record
            _HEADER.pack_into(self._region, 0, end)
        finally:
            self._lock.release()


MEMO = SharedMemo()
