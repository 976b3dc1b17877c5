"""gather's read sequencing under persistent failures (pure: the reads are plain functions here)."""
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import ClusterError
from ansible_collections.meshmend.multicluster.plugins.module_utils.gather import _Reader


def _fail(kind, status=None):
    def fn():
        raise ClusterError(kind, "c3: cannot list x: %s" % kind, status=status, cluster="c3", verb="list",
                           resource="x", reason=kind)
    return fn


def test_first_read_failing_with_5xx_after_retries_stops_the_cluster():
    read = _Reader(client=None)
    assert read(_fail("server", 503)) is None
    assert read.fatal is not None and read.fatal.status == 503
    assert read(lambda: "never asked") is None   # nothing else is requested
    assert read.read_errors == []                 # the fatal first error is the cluster's error, not a read error


def test_one_5xx_mid_way_is_a_read_error_two_in_a_row_stop():
    read = _Reader(client=None)
    assert read(lambda: [1]) == [1]
    assert read(_fail("server", 500)) is None and read.fatal is None
    assert read(lambda: [2]) == [2]               # a success in between resets the count
    assert read(_fail("server", 500)) is None and read.fatal is None
    assert read(_fail("server", 429)) is None and read.fatal is not None
    assert read(lambda: "never asked") is None
    assert [e["code"] for e in read.read_errors] == [500, 500, 429]


def test_forbidden_never_stops_and_not_found_is_the_default():
    read = _Reader(client=None)
    assert read(_fail("forbidden", 403)) is None
    assert read(_fail("forbidden", 403)) is None and read.fatal is None
    assert read(_fail("not_found", 404), not_found=[]) == []
    assert read(lambda: "ok") == "ok"
    assert len(read.read_errors) == 2


def test_soft_timeout_mid_way_is_recorded_not_fatal():
    read = _Reader(client=None)
    assert read(lambda: 1) == 1
    assert read(_fail("timeout"), soft=True) is None and read.fatal is None
    assert read(_fail("unreachable")) is None and read.fatal is not None
