"""openmm-bg train --distributed: two ranks of the real executable on the loopback interface (a tiny
DW4 FAB run) finish together and rank 0 alone writes the run directory; the driver's checkpoint
compares the ranks' parameter checksums, so a finished run also means the ranks kept one model."""
import os
import socket
import subprocess

import pytest

from openmmbg import _buildinfo

OPENMM_BG = os.path.join(_buildinfo.bin_dir, "openmm-bg")
needs_cli = pytest.mark.skipif(not os.path.exists(OPENMM_BG), reason="openmm-bg is not built")

TINY_FAB = ["--system", "dw4", "--method", "fab", "--threads", "1", "--seed", "4", "--quiet",
            "--set", "flow.numBlocks=1", "--set", "flow.egnnLayers=1", "--set", "flow.egnnWidth=8",
            "--set", "flow.invariantFeatures=8", "--set", "flow.headWidths=[8,8]", "--set", "epochs=3",
            "--set", "batchSize=16", "--set", "fab.bufferMinBatches=2", "--set", "fab.bufferMaxBatches=4",
            "--set", "fab.updatesPerIteration=2",
            "--set", "evalFlowSamples=64", "--set", "fab.evalAisSamples=32", "--eval-every", "0",
            "--distributed", "--distributed-timeout", "60"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(rank, out, port):
    env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    return subprocess.Popen([OPENMM_BG, "train", "--out", str(out)] + TINY_FAB, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@needs_cli
def test_two_ranks_train_one_model(tmp_path):
    port = free_port()
    out0, out1 = tmp_path / "rank0", tmp_path / "rank1"
    ranks = [launch(0, out0, port), launch(1, out1, port)]
    results = [p.communicate(timeout=600) for p in ranks]
    for p, (stdout, stderr) in zip(ranks, results):
        assert p.returncode == 0, stderr
    assert (out0 / "model.bgflow").exists() and (out0 / "checkpoint.pt").exists()
    assert "final evaluation" in results[0][0]
    # Rank 1 writes nothing of its own: the run directory belongs to rank 0.
    assert not (out1 / "model.bgflow").exists() and not (out1 / "flow-config.json").exists()
    assert "final evaluation" not in results[1][0]


@needs_cli
def test_distributed_without_a_launcher_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    result = subprocess.run([OPENMM_BG, "train", "--out", str(tmp_path / "run")] + TINY_FAB, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "RANK" in result.stderr
