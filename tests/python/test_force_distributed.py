"""BoltzmannGeneratorForce.setDistributedTraining from Python: two processes on the loopback interface,
started the way torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each running
distributed_force_worker.py on the same small DW4 System.

(a) maximum likelihood: two ranks with batch B/2 end with the parameters of one process with batch
    B (log q at fixed configurations within a float64 tolerance), bitwise alike on both ranks;
(b) FAB: train() and a BoltzmannGeneratorIntegrator step with in-step training (a second Context of
    the same process, sharing its process group) end with identical weights on both ranks, and a
    step after a reloaded checkpoint repeats bitwise;
(c) without the launcher variables the first training call raises, naming the class and RANK, and
    a rank that dies makes the other's next training call raise instead of waiting."""
import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import openmm
import openmm.unit as unit
import pytest

import openmmbg

import distributed_force_worker as worker

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_force_worker.py")
BATCH = 16


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(mode, batch, out, rank=None, port=None):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    # The openmmbg this test imported, wherever the worker starts.
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(openmmbg.__file__)), env.get("PYTHONPATH", "")])
    arguments = [sys.executable, WORKER, mode, str(batch), str(out)]
    if rank is not None:
        env.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        arguments.append("--distributed")
    return subprocess.Popen(arguments, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(processes, outputs, seconds=240):
    """Wait for the processes (killing all of them if one outlives `seconds`); the JSON results of each."""
    try:
        logs = [p.communicate(timeout=seconds) for p in processes]
    except subprocess.TimeoutExpired:
        for p in processes:
            p.kill()
        logs = [p.communicate() for p in processes]
        pytest.fail("a process did not finish within %d s; its output:\n%s" % (seconds, "\n".join(e for _, e in logs)))
    for p, (_, stderr) in zip(processes, logs):
        assert p.returncode == 0, stderr
    results = []
    for out in outputs:
        with open(out) as f:
            results.append(json.load(f))
    return results


def two_ranks(mode, batch, tmp_path, extra=()):
    """Two ranks of `mode` with per-rank batch `batch` (plus other processes started alongside)."""
    port = free_port()
    outputs = [tmp_path / f"{mode}-rank{r}.json" for r in range(2)] + [tmp_path / f"{mode}-{i}.json" for i in range(len(extra))]
    processes = [launch(mode, batch, outputs[r], r, port) for r in range(2)]
    processes += [launch(mode, b, outputs[2 + i]) for i, b in enumerate(extra)]
    return finish(processes, outputs)


def test_maximum_likelihood_on_two_ranks_equals_one_process_with_the_global_batch(tmp_path):
    rank0, rank1, single = two_ranks("ml", BATCH // 2, tmp_path, extra=[BATCH])
    assert rank0["weights"] == rank1["weights"]
    assert rank0["logq_after"] == rank1["logq_after"]
    assert rank0["lastLoss"] == rank1["lastLoss"] and math.isfinite(rank0["lastLoss"])
    before, after = np.array(single["logq_before"]), np.array(single["logq_after"])
    assert np.max(np.abs(after - before)) > 1e-2   # the updates moved the flow far beyond the tolerance
    np.testing.assert_allclose(rank0["logq_before"], before, rtol=0, atol=0)
    np.testing.assert_allclose(rank0["logq_after"], after, rtol=0, atol=1e-9)
    # The reported loss is the mean of the ranks' losses over their halves: the global batch's loss.
    assert rank0["meanLoss"] == pytest.approx(single["meanLoss"], rel=1e-9)


def test_fab_and_the_integrators_in_step_training_keep_the_ranks_identical(tmp_path):
    rank0, rank1 = two_ranks("fab", BATCH // 2, tmp_path)
    assert rank0["iterations"] == worker.FAB_ITERATIONS
    assert rank0["weights"] == rank1["weights"]
    assert math.isfinite(rank0["lastLoss"]) and rank0["lastLoss"] == rank1["lastLoss"]
    assert rank0["integratorIterations"] == 1
    assert rank0["integratorWeights"] == rank1["integratorWeights"]
    assert math.isfinite(rank0["integratorLoss"]) and rank0["integratorLoss"] == rank1["integratorLoss"]
    # Reloading a checkpoint on both ranks repeats the next step bitwise (each rank's FAB stream travels with it).
    assert rank0["stepAfterCheckpoint"] == rank0["stepAfterReload"] == rank1["stepAfterReload"]
    assert rank0["stepAfterCheckpoint"] != rank0["integratorWeights"]


def test_a_rank_that_dies_makes_the_others_training_call_raise(tmp_path):
    port = free_port()
    out = tmp_path / "abandon-rank0.json"
    (rank0,) = finish([launch("abandon", BATCH // 2, out, 0, port), launch("abandon", BATCH // 2, tmp_path / "unused.json", 1, port)],
                      [out])
    assert rank0["error"] is not None and "BoltzmannGeneratorForce" in rank0["error"], rank0
    assert "rank 0" in rank0["error"] and "peer rank died" in rank0["error"], rank0


def test_distributed_training_without_a_launcher_raises(monkeypatch):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    force, context = worker.make_context(BATCH, distributed=True)
    assert force.getDistributedTraining() and force.getDistributedTimeout() == 60.0
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*RANK"):
        force.trainOnSamples(context, worker.training_data() * unit.nanometer, 1)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*RANK"):
        force.train(context, 1)
    # Turned off, the same Context trains as one process.
    force.setDistributedTraining(False)
    force.updateParametersInContext(context)
    assert math.isfinite(force.trainOnSamples(context, worker.training_data() * unit.nanometer, 1).lastLoss)


def test_distributed_settings_round_trip_through_xml():
    force, _ = worker.make_context(BATCH, distributed=True)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*timeout"):
        force.setDistributedTimeout(0)
    force.setDistributedTimeout(12.5)
    xml = openmm.XmlSerializer.serialize(force)
    restored = openmmbg.BoltzmannGeneratorForce.cast(openmm.XmlSerializer.deserialize(xml))
    assert restored.getDistributedTraining() and restored.getDistributedTimeout() == 12.5
    # XML written before the setting existed loads with it off.
    older = xml.replace(' distributedTraining="1"', "").replace(' distributedTimeout="12.5"', "")
    assert "distributed" not in older
    old = openmmbg.BoltzmannGeneratorForce.cast(openmm.XmlSerializer.deserialize(older))
    assert not old.getDistributedTraining() and old.getDistributedTimeout() == 300.0
