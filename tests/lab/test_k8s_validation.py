"""Writes a real API server refuses, refused the same way by the lab: status code, reason, message, causes.

The wording is Kubernetes 1.36's (the version the lab serves): apimachinery v0.36.1
pkg/api/validate/content (label keys and values: "must be no more than 63 bytes" since 1.35),
pkg/util/validation (names, config keys), pkg/api/validation/objectmeta.go, pkg/api/errors NewInvalid;
apiextensions-apiserver + kube-openapi for custom resources against Istio's CRD schemas; istiod's
`validation.istio.io` webhook (istio/istio 1.30.3 pkg/webhooks/validation/server, pkg/config/validation)
answering through the apiserver's webhook error (apiserver pkg/admission/plugin/webhook/errors ToStatusErr).
"""
import base64
import json

import pytest
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import DynamicApiError

pytestmark = pytest.mark.slow

NS = "validation"
LONG = "x" * 64
LABEL_VALUE_RE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                  "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                  "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
CONFIG_KEY = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
              "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
CEL_NOT_RUN = ("<nil>", "Invalid value: null: some validation rules were not checked because the object was invalid; "
                        "correct the existing errors to complete validation")
NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@pytest.fixture(scope="module")
def lab(lab_for):
    lab = lab_for("healthy-mixed-sidecars")
    for ctx in ("cluster1", "cluster2"):
        lab.kubectl("create", "namespace", NS, context=ctx)
    yield lab
    for ctx in ("cluster1", "cluster2"):
        lab.kubectl("delete", "namespace", NS, "--wait=false", context=ctx)


@pytest.fixture(scope="module")
def api(lab):
    return lab.api_client("cluster1")


def apply(lab, doc, ctx="cluster1"):
    return lab.kubectl("apply", "-f", "-", context=ctx, input=json.dumps(doc))


def status(e):
    return json.loads(e.body)


def cm(name, labels=None, annotations=None, data=None):
    md = {"name": name, "namespace": NS}
    if labels is not None:
        md["labels"] = labels
    if annotations is not None:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {}}


def test_label_value_with_space_python(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map(NS, cm("spaced", labels={"topology.istio.io/network": "network 1"}))
    assert ei.value.status == 422
    st = status(ei.value)
    assert st["reason"] == "Invalid" and st["code"] == 422
    assert st["message"] == 'ConfigMap "spaced" is invalid: metadata.labels: Invalid value: "network 1": ' + LABEL_VALUE_RE
    assert st["details"] == {"name": "spaced", "kind": "ConfigMap", "causes": [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "network 1": ' + LABEL_VALUE_RE,
         "field": "metadata.labels"}]}


def test_label_on_an_existing_object_is_validated_on_patch(api):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(NS, cm("patched"))
    with pytest.raises(client.ApiException) as ei:
        v1.patch_namespaced_config_map("patched", NS, {"metadata": {"labels": {"net": LONG}}})
    assert ei.value.status == 422
    # ValidateConfigMapUpdate runs ObjectMeta validation twice: two causes, one message
    st = status(ei.value)
    assert st["message"] == 'ConfigMap "patched" is invalid: metadata.labels: Invalid value: "%s": must be no more ' \
                            'than 63 bytes' % LONG
    assert [c["field"] for c in st["details"]["causes"]] == ["metadata.labels", "metadata.labels"]
    assert v1.read_namespaced_config_map("patched", NS).metadata.labels is None


def test_label_key_prefix_and_name(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map(NS, cm("badkey", labels={"Example_Com/net": "a", "ok/-x": "b"}))
    st = status(ei.value)
    assert ei.value.status == 422
    assert [(c["field"], c["message"]) for c in st["details"]["causes"]] == [
        ("metadata.labels", 'Invalid value: "Example_Com/net": prefix part ' + SUBDOMAIN),
        ("metadata.labels", 'Invalid value: "ok/-x": ' + NAME_PART)]
    assert st["message"].startswith('ConfigMap "badkey" is invalid: [metadata.labels: Invalid value: "Example_Com/net"')


def test_empty_label_value_is_valid(api):
    v1 = client.CoreV1Api(api)
    out = v1.create_namespaced_config_map(NS, cm("empty-value", labels={"node-role.kubernetes.io/edge": ""}))
    assert out.metadata.labels == {"node-role.kubernetes.io/edge": ""}


def test_annotations_total_size(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map(NS, cm("fat", annotations={"a": "x" * (256 * 1024)}))
    st = status(ei.value)
    assert ei.value.status == 422
    assert st["message"] == 'ConfigMap "fat" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes'
    assert st["details"]["causes"][0]["reason"] == "FieldValueTooLong"


def test_deployment_template_labels(api):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tpl", "namespace": NS},
           "spec": {"selector": {"matchLabels": {"app": "tpl"}},
                    "template": {"metadata": {"labels": {"app": "tpl", "net": "a b"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    with pytest.raises(client.ApiException) as ei:
        client.AppsV1Api(api).create_namespaced_deployment(NS, dep)
    st = status(ei.value)
    assert ei.value.status == 422
    assert st["message"] == 'Deployment.apps "tpl" is invalid: spec.template.labels: Invalid value: "a b": ' + \
        LABEL_VALUE_RE
    assert st["details"]["group"] == "apps" and st["details"]["kind"] == "Deployment"


# ---- Secret and ConfigMap data keys ------------------------------------------------------------------

def test_secret_key_with_slash_python(api):
    v1 = client.CoreV1Api(api)
    body = {"metadata": {"name": "remote"}, "data": {"a/b": base64.b64encode(b"x").decode()}}
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_secret(NS, body)
    st = status(ei.value)
    assert ei.value.status == 422
    assert st["message"] == 'Secret "remote" is invalid: data[a/b]: Invalid value: "a/b": ' + CONFIG_KEY
    assert st["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": 'Invalid value: "a/b": ' + CONFIG_KEY,
                                        "field": "data[a/b]"}]



def test_secret_key_added_by_merge_patch_is_validated(api):
    """Issue 15 item 7: the remote_secrets fix now merge-patches one data key; the lab must refuse a bad one
    exactly as on create (and keep the Secret as it was)."""
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_secret(NS, {"metadata": {"name": "patched-secret"},
                                     "data": {"cluster2": base64.b64encode(b"x").decode()}})
    with pytest.raises(client.ApiException) as ei:
        v1.patch_namespaced_secret("patched-secret", NS, {"data": {"bad key": base64.b64encode(b"y").decode()}})
    assert ei.value.status == 422
    assert status(ei.value)["message"] == ('Secret "patched-secret" is invalid: data[bad key]: Invalid value: '
                                           '"bad key": ' + CONFIG_KEY)
    assert sorted(v1.read_namespaced_secret("patched-secret", NS).data) == ["cluster2"]


def test_namespace_label_over_63_characters_is_refused_on_patch(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.patch_namespace(NS, {"metadata": {"labels": {"topology.istio.io/network": "n" * 64}}})
    assert ei.value.status == 422
    assert "must be no more than 63 bytes" in status(ei.value)["message"]
    assert "topology.istio.io/network" not in (v1.read_namespace(NS).metadata.labels or {})


def test_secret_name_is_validated(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_secret(NS, {"metadata": {"name": "Istio_Remote"}, "data": {}})
    assert ei.value.status == 422
    assert 'Secret "Istio_Remote" is invalid: metadata.name: Invalid value: "Istio_Remote"' in status(ei.value)["message"]

# ---- Istio resources: the CRD schema (API server) and istiod's webhook ---------------------------------------

def gateway(name, port, servers=None, tls=True):
    srv = {"port": port, "hosts": ["*.local"]}
    if tls:
        srv["tls"] = {"mode": "AUTO_PASSTHROUGH"}
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"istio": "eastwestgateway"}, "servers": servers or [srv]}}


def test_gateway_port_as_string_is_a_schema_error(lab, api):
    doc = gateway("str-port", {"number": "15443", "name": "tls", "protocol": "TLS"})
    r = apply(lab, doc)
    assert r.returncode == 1
    body = ('spec.servers[0].port.number: Invalid value: "string": spec.servers[0].port.number in body must be of '
            'type integer: "string"')
    # Istio's CRDs carry CEL rules (x-kubernetes-validations): a blocking schema error adds the "<nil>" cause, as
    # a real 1.37 kube-apiserver answers (tests/real)
    cel = ("<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
           "correct the existing errors to complete validation")
    assert r.stderr.strip() == 'The Gateway "str-port" is invalid: \n* %s\n* %s' % (body, cel)
    with pytest.raises(client.ApiException) as ei:
        client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS, "gateways", doc)
    st = status(ei.value)
    assert ei.value.status == 422 and st["reason"] == "Invalid"
    assert st["message"] == 'Gateway.networking.istio.io "str-port" is invalid: [%s, %s]' % (body, cel)
    assert st["details"]["group"] == "networking.istio.io" and st["details"]["kind"] == "Gateway"
    assert st["details"]["causes"][0]["reason"] == "FieldValueTypeInvalid"


def test_gateway_required_and_enum_from_the_schema(api):
    doc = gateway("noproto", {"number": 15443, "name": "tls"})
    doc["spec"]["servers"][0]["tls"]["mode"] = "AUTO"
    with pytest.raises(client.ApiException) as ei:
        client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS, "gateways", doc)
    causes = status(ei.value)["details"]["causes"]
    assert {(c["field"], c["reason"], c["message"]) for c in causes} == {
        ("spec.servers[0].port.protocol", "FieldValueRequired", "Required value"),
        ("spec.servers[0].tls.mode", "FieldValueNotSupported",
         'Unsupported value: "AUTO": supported values: "PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", '
         '"ISTIO_MUTUAL", "OPTIONAL_MUTUAL"'),
        # the CRD's CEL rules did not run (a blocking schema error): field.Invalid(nil, nil, ...)
        ("<nil>", "FieldValueInvalid", "Invalid value: null: some validation rules were not checked because the "
                                       "object was invalid; correct the existing errors to complete validation")}


def test_gateway_port_out_of_range_is_refused_by_istiods_webhook(lab, api):
    doc = gateway("big-port", {"number": 70000, "name": "tls", "protocol": "TLS"})
    msg = ('admission webhook "validation.istio.io" denied the request: configuration is invalid: port number 70000 '
           'must be in the range 1..65535')
    r = apply(lab, doc)
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server: error when creating "STDIN": ' + msg
    with pytest.raises(client.ApiException) as ei:
        client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS, "gateways", doc)
    assert ei.value.status == 400
    assert status(ei.value) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": msg, "code": 400}


def test_webhook_joins_several_errors_like_go_multierror(api):
    doc = gateway("Two.Errors", {"number": 443, "name": "https", "protocol": "HTTPS"}, tls=False)
    with pytest.raises(client.ApiException) as ei:
        client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS, "gateways", doc)
    assert ei.value.status == 422   # the name is no DNS subdomain: the API server refuses before the webhook
    doc["metadata"]["name"] = "two.errors"
    with pytest.raises(client.ApiException) as ei:
        client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS, "gateways", doc)
    assert ei.value.status == 400
    assert status(ei.value)["message"] == (
        'admission webhook "validation.istio.io" denied the request: configuration is invalid: 2 errors occurred:\n'
        '\t* invalid gateway name: "two.errors"\n'
        '\t* server must have TLS settings for HTTPS/TLS protocols\n\n')


def test_destination_rule_host_checked_by_the_webhook(api):
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
          "metadata": {"name": "badhost", "namespace": NS}, "spec": {"host": "bad_host"}}
    with pytest.raises(client.ApiException) as ei:
        client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS,
                                                                     "destinationrules", dr)
    assert ei.value.status == 400
    assert status(ei.value)["message"] == ('admission webhook "validation.istio.io" denied the request: configuration '
                                           'is invalid: domain name "bad_host" invalid (label "bad_host" invalid)')


def test_no_webhook_without_a_running_istiod(lab):
    """The webhook is istiod's: with istiod scaled to zero (failurePolicy Ignore) the schema alone decides."""
    doc = gateway("big-port-2", {"number": 70000, "name": "tls", "protocol": "TLS"})
    try:
        r = lab.kubectl("-n", "istio-system", "scale", "deploy/istiod", "--replicas=0", context="cluster2")
        assert r.returncode == 0, r.stderr
        r = apply(lab, doc, "cluster2")
        assert r.returncode == 0 and r.stdout.strip() == "gateway.networking.istio.io/big-port-2 created", r.stderr
        r = apply(lab, gateway("str-port-2", {"number": "1", "name": "tls", "protocol": "TLS"}), "cluster2")
        assert r.returncode == 1 and "must be of type integer" in r.stderr
    finally:
        lab.kubectl("-n", "istio-system", "scale", "deploy/istiod", "--replicas=1", context="cluster2")
        lab.kubectl("-n", NS, "delete", "gateways.networking.istio.io", "big-port-2", context="cluster2")


def test_unknown_fields_are_pruned_when_not_strict(api):
    doc = gateway("pruned", {"number": 15443, "name": "tls", "protocol": "TLS"})
    doc["spec"]["servers"][0]["portt"] = 1
    out = client.CustomObjectsApi(api).create_namespaced_custom_object("networking.istio.io", "v1", NS, "gateways",
                                                                       doc)
    assert "portt" not in out["spec"]["servers"][0] and out["spec"]["servers"][0]["port"]["number"] == 15443


def test_valid_istio_samples_still_apply(lab):
    r = apply(lab, gateway("good", {"number": 15443, "name": "tls", "protocol": "TLS"}))
    assert r.returncode == 0 and r.stdout.strip() == "gateway.networking.istio.io/good created", r.stderr


# ---- every rejection, through both clients ---------------------------------------------------------------

def _dr(name, spec):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def _secret(name, typ="Opaque", **fields):
    return dict({"apiVersion": "v1", "kind": "Secret", "type": typ, "metadata": {"name": name, "namespace": NS}},
                **fields)


def _dep(name, labels):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": dict(labels, app=name)},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


SCHEMA_TYPE = ('Invalid value: "string": spec.servers[0].port.number in body must be of type integer: "string"')
WEBHOOK = 'admission webhook "validation.istio.io" denied the request: configuration is invalid: '
# (document, HTTP code, [(field, message)] for a 422 / the message for a webhook's 400)
REJECTED = {
    "label-too-long": (cm("r-long", labels={"net": LONG}), 422,
                       [("metadata.labels", 'Invalid value: "%s": must be no more than 63 bytes' % LONG)]),
    "label-space": (cm("r-space", labels={"net": "network 1"}), 422,
                    [("metadata.labels", 'Invalid value: "network 1": ' + LABEL_VALUE_RE)]),
    "label-key": (cm("r-key", labels={"ok/-x": "b"}), 422, [("metadata.labels", 'Invalid value: "ok/-x": ' + NAME_PART)]),
    "annotations-size": (cm("r-fat", annotations={"a": "x" * (256 * 1024)}), 422,
                         [("metadata.annotations", "Too long: may not be more than 262144 bytes")]),
    "configmap-name": (cm("Bad_Name"), 422, [("metadata.name", 'Invalid value: "Bad_Name": ' + SUBDOMAIN)]),
    # 1.36+ (RelaxedServiceNameValidation): a Service name is a DNS-1123 label, "1svc" is accepted (checked
    # against a real 1.37 kube-apiserver by tests/real)
    "service-name": ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc.a", "namespace": NS},
                      "spec": {"ports": [{"port": 80}]}}, 422, [("metadata.name", 'Invalid value: "svc.a": must not contain dots')]),
    "namespace-name": ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}, 422,
                       [("metadata.name", 'Invalid value: "a.b": must not contain dots')]),
    "template-label": (_dep("r-tpl", {"net": "a b"}), 422,
                       [("spec.template.labels", 'Invalid value: "a b": ' + LABEL_VALUE_RE)]),
    "secret-key": (_secret("r-slash", data={"a/b": base64.b64encode(b"x").decode()}), 422,
                   [("data[a/b]", 'Invalid value: "a/b": ' + CONFIG_KEY)]),
    "secret-stringdata-key": (_secret("r-url", stringData={"https://api.example.com": "kubeconfig"}), 422,
                              [("data[https://api.example.com]", 'Invalid value: "https://api.example.com": '
                                + CONFIG_KEY)]),
    "secret-tls-keys": (_secret("r-tls", "kubernetes.io/tls", data={}), 422,
                        [("data[tls.crt]", "Required value"), ("data[tls.key]", "Required value")]),
    "configmap-keys": (cm("r-keys", data={"a b": "c", "..x": "y"}), 422,
                       [("data[..x]", 'Invalid value: "..x": must not start with \'..\''),
                        ("data[a b]", 'Invalid value: "a b": ' + CONFIG_KEY)]),
    # Istio's CRDs have CEL rules: a blocking schema error adds the "<nil>" cause (real 1.37, tests/real)
    "gateway-port-string": (gateway("r-str", {"number": "15443", "name": "tls", "protocol": "TLS"}), 422,
                            [("spec.servers[0].port.number", SCHEMA_TYPE), CEL_NOT_RUN]),
    "gateway-port-protocol": (gateway("r-noproto", {"number": 15443, "name": "tls"}), 422,
                              [("spec.servers[0].port.protocol", "Required value"), CEL_NOT_RUN]),
    "destination-rule-host": (_dr("r-nohost", {"trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}), 422,
                              [("spec.host", "Required value"), CEL_NOT_RUN]),
    "webhook-port-range": (gateway("r-big", {"number": 70000, "name": "tls", "protocol": "TLS"}), 400,
                           WEBHOOK + "port number 70000 must be in the range 1..65535"),
    "webhook-dr-host": (_dr("r-badhost", {"host": "bad_host"}), 400,
                        WEBHOOK + 'domain name "bad_host" invalid (label "bad_host" invalid)'),
    "webhook-two-errors": (gateway("two.errors", {"number": 443, "name": "https", "protocol": "HTTPS"}, tls=False),
                           400, WEBHOOK + '2 errors occurred:\n\t* invalid gateway name: "two.errors"\n'
                           '\t* server must have TLS settings for HTTPS/TLS protocols\n\n'),
}


def _kubectl_text(doc, code, expected):
    """What kubectl prints for the Status (kubectl cmdutil StandardErrorMessage: an Invalid Status becomes
    `The <kind> "<name>" is invalid: ...` built from details.causes; any other `Error from server ...`)."""
    if code == 400:
        return 'Error from server: error when creating "STDIN": ' + expected
    head = 'The %s "%s" is invalid: ' % (doc["kind"], doc["metadata"]["name"])
    if len(expected) == 1:
        return head + "%s: %s" % expected[0]
    return head + "\n" + "\n".join("* %s: %s" % fm for fm in expected)


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_every_rejection_through_kubectl_and_the_python_client(lab, api, case):
    doc, code, expected = REJECTED[case]
    r = lab.kubectl("apply", "-f", "-", context="cluster1", input=json.dumps(doc))
    assert r.returncode == 1
    assert r.stderr.strip() == _kubectl_text(doc, code, expected).strip()
    # the Python client's generic (dynamic) client: discovery, then a POST of the document as it is
    res = dynamic.DynamicClient(api).resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    with pytest.raises(DynamicApiError) as ei:
        res.create(body=doc, namespace=doc["metadata"].get("namespace"))
    assert ei.value.status == code
    st = json.loads(ei.value.body)
    assert st["code"] == code and st["status"] == "Failure"
    if code == 422:
        kind = doc["kind"] + ("." + doc["apiVersion"].rsplit("/", 1)[0] if "/" in doc["apiVersion"] else "")
        joined = "%s: %s" % expected[0] if len(expected) == 1 else "[%s]" % ", ".join("%s: %s" % fm for fm in expected)
        assert st["reason"] == "Invalid"
        assert st["message"] == '%s "%s" is invalid: %s' % (kind, doc["metadata"]["name"], joined)
        assert [(c["field"], c["message"]) for c in st["details"]["causes"]] == expected
    else:
        assert "reason" not in st and "details" not in st and st["message"] == expected
