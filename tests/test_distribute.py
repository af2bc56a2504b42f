"""Strategies: Mirrored over 2 logical CPUs vs one device; MultiWorkerMirrored with 2 local processes."""
import json
import socket
import subprocess
import sys

import numpy as np
import pytest

import kerastl
from kerastl.distribute import NoAcceleratorError, get_strategy
from tests.conftest import ROOT

SCRIPTS = ROOT / "tests" / "scripts"


@pytest.mark.e2e
def test_mirrored_over_two_logical_cpus_matches_one_device():
    out = subprocess.run([sys.executable, str(SCRIPTS / "mirrored.py")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.splitlines()[-1])
    assert (result["default"]["replicas"], result["mirrored"]["replicas"]) == (1, 2)
    assert max(result["default"]["loss"]) - min(result["default"]["loss"]) > 0.1  # it really trains
    # all-reduce sums in another order: float32 round-off that Adam amplifies a little per step
    np.testing.assert_allclose(result["mirrored"]["loss"], result["default"]["loss"], rtol=1e-3)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [str(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.e2e
def test_multi_worker_mirrored_two_local_workers_end_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, str(SCRIPTS / "multi_worker.py"), str(i), *ports, str(outs[i])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        errors = [w.communicate(timeout=240)[1] for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers), errors[0][-1500:] + errors[1][-1500:]
    first, second = (json.loads(o.read_text()) for o in outs)
    assert first["replicas"] == second["replicas"] == 2
    assert first["checksum"] == second["checksum"] and first["first"] == second["first"]
    assert first["losses"] == second["losses"] and np.isfinite(first["losses"]).all()


def test_strategy_names_and_errors():
    assert get_strategy("default").num_replicas_in_sync == 1
    assert get_strategy("one_device").num_replicas_in_sync == 1
    with pytest.raises(kerastl.InvalidArgumentError, match="strategy must be one of"):
        get_strategy("horovod")
    with pytest.raises(NoAcceleratorError, match="found no TPU"):
        get_strategy("tpu")
