"""Remote-secret kubeconfigs from client-go and istio, judged as istiod of each release judges them.

The expectations in tests/fixtures/upstream/{client-go,istio}/kubeconfig/samples.yaml come from the code:
istio pkg/kube/util.go NewUntrustedRestConfig (1.21+) / pkg/kube/multicluster/secretcontroller.go
BuildClientsFromConfig (before): ``len == 0`` -> clientcmd.Load -> clientcmd.Validate -> sanitizeKubeConfig
-> ClientConfig() -> kube.NewClient; client-go tools/clientcmd (loader.go Load, validation.go Validate,
client_config.go DirectClientConfig.ClientConfig/ConfirmUsable), transport/transport.go TLSConfigFor and
rest/transport.go TransportConfig at the client-go each Istio release pins.
"""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig
import upstreamcorpus as corpus

SAMPLES = corpus.kubeconfig_samples()


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["path_in_corpus"] for s in SAMPLES])
def test_kubeconfig_judged_as_istiod_judges_it(sample):
    assert corpus.judge_kubeconfig(sample, kubeconfig) == []


def test_summaries_never_carry_the_sample_credentials():
    for s in SAMPLES:
        entry, _cfg = kubeconfig.summarize("k", s["raw"])
        text = repr(entry)
        for secret in ("service_account_token_string", "token: token"):
            assert secret not in text, s["file"]
