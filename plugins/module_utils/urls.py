# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API server URLs, compared one way everywhere.

A remote secret's server is matched to a cluster by comparing URLs: the kubeconfig of the
inventory host and the kubeconfig inside the secret often spell one server differently
(trailing slash, upper-case host, default port left out).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # noqa: F401


def normalize_server(url):
    """``scheme://host:port/path``: host lower-cased, the scheme's default port filled in, no trailing
    slash, IPv6 in brackets. A path stays (proxies such as Rancher serve clusters under one host).
    None for an empty or unparsable value."""
    if not url or not isinstance(url, str):
        return None
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = (parts.scheme or "https").lower()
    if port is None:
        port = 80 if scheme == "http" else 443
    if ":" in host:
        host = "[%s]" % host
    path = parts.path.rstrip("/")
    return "%s://%s:%d%s" % (scheme, host, port, path)


def server_host(url):
    """Host of an API server URL: lower-cased, without port or IPv6 brackets; None if unparsable."""
    norm = normalize_server(url)
    if norm is None:
        return None
    try:
        return urlsplit(norm).hostname
    except ValueError:
        return None
