"""The API server's validation rules and wording, unit by unit (expected strings from k8s.io/apimachinery
v0.36.1 pkg/api/validate/content and pkg/util/validation, kube-openapi pkg/validation/errors, apiextensions-apiserver
kubeOpenAPIResultToFieldErrors, istio/istio 1.30.3 pkg/config/validation)."""
import pytest

from meshlab import openapi, validation
from meshlab.istio import validation as istio_validation
from meshlab.scenarios.crds import crd_for


def test_label_values():
    assert validation.is_label_value("") == []
    assert validation.is_label_value("network1") == []
    assert validation.is_label_value("x" * 63) == []
    assert validation.is_label_value("x" * 64) == ["must be no more than 63 bytes"]
    assert validation.is_label_value("-a") == [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
    assert len(validation.is_label_value("é" * 32)) == 2   # 64 bytes, and not in the alphabet


def test_label_keys():
    assert validation.is_label_key("topology.istio.io/network") == []
    assert validation.is_label_key("a/b/c")[0].startswith("a valid label key must consist of alphanumeric")
    assert validation.is_label_key("/x") == ["prefix part must be non-empty"]
    assert validation.is_label_key("x/")[0] == "name part must be non-empty"
    assert validation.is_label_key("x/")[1].startswith("name part must consist of alphanumeric characters")
    assert validation.is_label_key(("a" * 254) + "/x")[0] == "prefix part must be no more than 253 bytes"
    assert validation.is_label_key("y" * 64)[0] == "name part must be no more than 63 bytes"


def test_names_per_kind():
    from meshlab.kinds import Registry
    reg = Registry()
    svc, ns, cm = reg.resolve("services"), reg.resolve("namespaces"), reg.resolve("configmaps")
    role = reg.resolve("roles.rbac.authorization.k8s.io")
    assert validation.name_errors(cm, "a.b") == []
    assert validation.name_errors(ns, "a.b") == ["must not contain dots"]
    # Services: a DNS-1123 label since 1.36 (RelaxedServiceNameValidation), no longer DNS-1035
    assert validation.name_errors(svc, "a.b") == ["must not contain dots"]
    assert validation.name_errors(svc, "1svc") == []
    assert validation.name_errors(role, "system:controller:x") == []
    assert validation.name_errors(role, "a/b") == ["may not contain '/'"]
    assert validation.name_errors(cm, "x" * 254)[0] == "must be no more than 253 characters"
    # generateName: a trailing dash is allowed
    assert validation.name_errors(cm, "helloworld-", prefix=True) == []


def test_config_keys():
    assert validation.is_config_map_key("root-cert.pem") == []
    assert validation.is_config_map_key(".") == ["must not be '.'"]
    assert validation.is_config_map_key("..data") == ["must not start with '..'"]
    assert validation.is_config_map_key("a/b")[0].startswith("a valid config key must consist of alphanumeric")


def test_go_float_formatting():
    assert [openapi.go_v(v) for v in (65535, 65535.0, 4294967295.0, 1000000.0, 0.5, 1e-05)] == \
        ["65535", "65535", "4.294967295e+09", "1e+06", "0.5", "1e-05"]


GW_SCHEMA = crd_for("Gateway")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
DR_SCHEMA = crd_for("DestinationRule")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def gw(port, tls=None):
    srv = {"port": port, "hosts": ["*.local"]}
    if tls is not None:
        srv["tls"] = tls
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g"},
            "spec": {"selector": {"istio": "x"}, "servers": [srv]}}


def test_schema_type_required_enum():
    assert openapi.validate(GW_SCHEMA, gw({"number": 15443, "name": "tls", "protocol": "TLS"})) == []
    assert openapi.validate(GW_SCHEMA, gw({"number": "15443", "name": "tls", "protocol": "TLS"})) == [
        ("spec.servers[0].port.number", "FieldValueTypeInvalid",
         'Invalid value: "string": spec.servers[0].port.number in body must be of type integer: "string"')]
    assert openapi.validate(GW_SCHEMA, gw({"number": 1.5, "name": "tls", "protocol": "TLS"}))[0][2] == \
        'Invalid value: "number": spec.servers[0].port.number in body must be of type integer: "number"'
    assert openapi.validate(GW_SCHEMA, gw({"number": 1.0, "name": "tls", "protocol": "TLS"})) == []  # an integral float
    assert openapi.validate(GW_SCHEMA, gw({"number": -1, "name": "t", "protocol": "TLS"})) == [
        ("spec.servers[0].port.number", "FieldValueInvalid",
         "Invalid value: -1: spec.servers[0].port.number in body should be greater than or equal to 0")]
    assert openapi.validate(GW_SCHEMA, gw({"number": 5000000000, "name": "t", "protocol": "TLS"})) == [
        ("spec.servers[0].port.number", "FieldValueInvalid",
         "Invalid value: 5000000000: spec.servers[0].port.number in body should be less than or equal to 4294967295")]
    causes = openapi.validate(GW_SCHEMA, gw({"number": 1}, tls={"mode": "X"}))
    assert ("spec.servers[0].port.name", "FieldValueRequired", "Required value") in causes
    assert ("spec.servers[0].tls.mode", "FieldValueNotSupported",
            'Unsupported value: "X": supported values: "PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", '
            '"ISTIO_MUTUAL", "OPTIONAL_MUTUAL"') in causes
    assert openapi.validate(DR_SCHEMA, {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                                        "metadata": {"name": "d"}, "spec": {}}) == [
        ("spec.host", "FieldValueRequired", "Required value")]


def test_schema_max_items_and_null():
    port = {"number": 443, "name": "https", "protocol": "HTTPS"}
    causes = openapi.validate(GW_SCHEMA, gw(port, tls={"credentialNames": ["a", "b", "c"]}))
    assert causes == [("spec.servers[0].tls.credentialNames", "FieldValueTooMany",
                       "Too many: 3: must have at most 2 items")]
    assert openapi.validate(GW_SCHEMA, gw(port, tls={"httpsRedirect": None}))[0][2] == \
        'Invalid value: "null": spec.servers[0].tls.httpsRedirect in body must be of type boolean: "null"'
    assert openapi.validate(GW_SCHEMA, gw(port, tls={"insecureSkipVerify": None})) == []   # nullable


def test_one_of_errors_land_on_the_nil_field():
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}},
                  {"required": ["a"]}, {"required": ["b"]}]}}}
    assert openapi.validate(schema, {"spec": {"a": "x"}}) == []
    assert openapi.validate(schema, {"spec": {"a": "x", "b": "y"}}) == [
        (None, "FieldValueInvalid",   # field.Invalid(nil path, ...): the Status shows field "<nil>"
         'Invalid value: "": "spec" must validate one and only one schema (oneOf). Found 2 valid alternatives')]


def test_prune_and_ratchet():
    doc = gw({"number": 15443, "name": "tls", "protocol": "TLS", "extra": 1})
    doc["spec"]["unknown"] = True
    out = openapi.prune(GW_SCHEMA, doc)
    assert "unknown" not in out["spec"] and "extra" not in out["spec"]["servers"][0]["port"]
    assert out["metadata"] == {"name": "g"}
    old = gw({"number": 70000 * 100000, "name": "t", "protocol": "TLS"})
    new = gw({"number": 70000 * 100000, "name": "t", "protocol": "TLS"})
    new["metadata"]["labels"] = {"a": "b"}
    assert openapi.validate(GW_SCHEMA, new) and openapi.validate_update(GW_SCHEMA, new, old) == []


@pytest.mark.parametrize("servers,errors", [
    ([{"port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "hosts": ["*.local"],
       "tls": {"mode": "AUTO_PASSTHROUGH"}}], []),
    ([{"port": {"number": 0, "name": "tls", "protocol": "TLS"}, "hosts": ["*.local"], "tls": {}}],
     ["port number 0 must be in the range 1..65535"]),
    ([{"port": {"number": 80, "name": "http", "protocol": "FOO"}, "hosts": ["*"]}],
     ['invalid protocol "FOO", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP']),
    ([{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["foo"]}],
     ["short names (non FQDN) are not allowed"]),
    ([{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["ns/a*.com"]}],
     ['domain name "a*.com" invalid (label "a*" invalid)', 'partial wildcard "a*.com" not allowed']),
    ([{"port": {"number": 80, "name": "p", "protocol": "HTTP"}, "hosts": ["*"]},
      {"port": {"number": 81, "name": "p", "protocol": "HTTP"}, "hosts": ["*"]}],
     ["port names in servers must be unique: duplicate name p"]),
    ([], ["gateway must have at least one server"]),
])
def test_istio_gateway_rules(servers, errors):
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw"},
           "spec": {"servers": servers}}
    assert istio_validation.validate_gateway(obj) == errors


def test_istio_messages():
    assert istio_validation.multierror(["a"]) == "a"
    assert istio_validation.multierror(["a", "b"]) == "2 errors occurred:\n\t* a\n\t* b\n\n"
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "d"},
          "spec": {"host": "reviews.default.svc.cluster.local", "subsets": [{"name": "v1"}, {"name": "v1"},
                                                                             {"name": "V_2"}]}}
    assert istio_validation.check(dr) == ("configuration is invalid: 2 errors occurred:\n"
                                          "\t* duplicate subset names: v1\n\t* subset name is invalid: V_2\n\n")
    assert istio_validation.check(dict(dr, spec={"host": "*.example.com"})) is None
    e = istio_validation.denial("configuration is invalid: x")
    assert e.code == 400 and e.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": 'admission webhook "validation.istio.io" denied the request: '
                                                       'configuration is invalid: x', "code": 400}


def test_pretty_json_is_the_standard_libraries_indented_text():
    """istiod's debug and Envoy's admin answers: indented JSON, the same text with or without orjson."""
    import json
    from meshlab import server
    doc = {"cluster_statuses": [{"name": "outbound|5000||helloworld.sample.svc.cluster.local", "added_via_api": True,
                                 "host_statuses": [{"address": {"socket_address": {"address": "10.0.0.1", "port_value": 5000}},
                                                    "weight": 1, "locality": {}}], "empty": []}], "state": None}
    assert server.orjson is not None  # requirements-test.txt
    assert server.dumps_pretty(doc) == json.dumps(doc, indent=2) + "\n"
