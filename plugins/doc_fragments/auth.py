# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options: the names and K8S_AUTH_* variables of kubernetes.core, plus
    # request_timeout and retries. Kept identical to client.AUTH_ARG_SPEC.
    DOCUMENTATION = r"""
options:
  cluster_name:
    description:
      - Name of this cluster in facts, findings and messages (usually the inventory hostname). Defaults to the
        context.
    type: str
  host:
    description:
      - URL of the Kubernetes API server. Overrides the server of the kubeconfig.
      - Falls back to the environment variable E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token to authenticate with the API server.
      - Falls back to the environment variable E(K8S_AUTH_API_KEY).
    type: str
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig itself as a dictionary.
      - Defaults to E(KUBECONFIG), then C(~/.kube/config), when O(host) is not given.
      - The credentials of a kubeconfig given as a dictionary are hidden from output (no_log).
      - Falls back to the environment variable E(K8S_AUTH_KUBECONFIG).
    type: raw
  context:
    description:
      - The kube context to use; one client per context, the process-wide default is never touched.
      - Falls back to the environment variable E(K8S_AUTH_CONTEXT).
    type: str
  username:
    description:
      - Username for basic authentication.
      - Falls back to the environment variable E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Password for basic authentication.
      - Falls back to the environment variable E(K8S_AUTH_PASSWORD).
    type: str
  client_cert:
    description:
      - Path to a client certificate file.
      - Falls back to the environment variables E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the client certificate's key file.
      - Falls back to the environment variables E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  ca_cert:
    description:
      - Path to a CA bundle that verifies the API server's certificate.
      - Falls back to the environment variables E(K8S_AUTH_CA_CERT) or E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Verify the API server's TLS certificate. Setting V(false) skips verification and warns.
      - Falls back to the environment variables E(K8S_AUTH_VALIDATE_CERTS) or E(K8S_AUTH_VERIFY_SSL).
    type: bool
    default: true
    aliases: [verify_ssl]
  proxy:
    description:
      - HTTP proxy URL for the connection to the API server.
      - Falls back to the environment variable E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains, IP addresses or CIDRs reached without the proxy.
      - Falls back to the environment variable E(K8S_AUTH_NO_PROXY).
    type: str
  proxy_headers:
    description:
      - Headers sent to the proxy.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - C(user:password) for the proxy.
          - Falls back to the environment variable E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH).
        type: str
      basic_auth:
        description:
          - C(user:password) for basic authentication.
          - Falls back to the environment variable E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH).
        type: str
      user_agent:
        description:
          - User-Agent header.
          - Falls back to the environment variable E(K8S_AUTH_PROXY_HEADERS_USER_AGENT).
        type: str
  persist_config:
    description:
      - Write refreshed tokens back to the kubeconfig file (kubernetes.core behaviour).
      - Falls back to the environment variable E(K8S_AUTH_PERSIST_CONFIG).
    type: bool
    default: false
  impersonate_user:
    description:
      - User to impersonate (header C(Impersonate-User)).
      - Falls back to the environment variable E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate (one C(Impersonate-Group) header each).
      - Falls back to the environment variable E(K8S_AUTH_IMPERSONATE_GROUPS).
    type: list
    elements: str
  request_timeout:
    description:
      - Seconds before one API request gives up.
      - Falls back to the environment variable E(K8S_AUTH_REQUEST_TIMEOUT).
    type: float
    default: 10.0
  retries:
    description:
      - How many times a request is retried after HTTP 429 (honouring C(Retry-After)), a 5xx on a read,
        or a read timeout. Refused connections are never retried.
      - Falls back to the environment variable E(K8S_AUTH_RETRIES).
    type: int
    default: 2
notes:
  - The connection options are those of C(kubernetes.core) (same names, same C(K8S_AUTH_*) variables),
    and a play's C(module_defaults) for C(group/kubernetes.core.k8s) reach this module too (its connection
    options only, with the lowest precedence). C(group/meshmend.multicluster.k8s) holds every cluster module
    and extends kubernetes.core's C(k8s) group when that collection is installed.
requirements:
  - kubernetes >= 30.1.0
  - PyYAML
"""
