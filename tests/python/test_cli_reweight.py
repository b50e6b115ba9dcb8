"""openmm-bg reweight: the Python entry openmmbg.cli_reweight (a DW4 System XML with a tiny
BoltzmannGeneratorForce, a DCD of planar frames; its CSV and ESS against openmmbg.reweight) and
the C++ dispatcher build/bin/openmm-bg handing the subcommand to it."""
import csv
import os
import subprocess

import numpy as np
import openmm
import pytest
from openmm import app, unit

import openmmbg
from openmmbg import _buildinfo, cli_reweight

OPENMM_BG = os.path.join(_buildinfo.bin_dir, "openmm-bg")
needs_cli = pytest.mark.skipif(not os.path.exists(OPENMM_BG), reason="openmm-bg is not built")


@pytest.fixture(scope="module")
def dw4_files(tmp_path_factory):
    """(system.xml with DW4 + a tiny 2D flow over its 4 particles, frames.dcd with 12 planar frames)."""
    directory = tmp_path_factory.mktemp("reweight")
    system = openmmbg.systems.dw4().system
    force = openmmbg.BoltzmannGeneratorForce([0, 1, 2, 3], 300.0 * unit.kelvin)
    force.setPlanar(True)
    force.setFlow({"numParticles": 4, "dimension": 2, "numBlocks": 1, "egnnLayers": 1, "egnnWidth": 8,
                   "invariantFeatures": 8, "headWidths": [8], "dtype": "float64", "identityInit": False})
    force.setRandomNumberSeed(3)
    force.setForceGroup(1)
    system.addForce(force)
    xml = directory / "system.xml"
    xml.write_text(openmm.XmlSerializer.serialize(system))
    rng = np.random.default_rng(0)
    frames = np.zeros((12, 4, 3))
    frames[:, :, :2] = rng.normal(scale=1.5, size=(12, 4, 2))
    topology = app.Topology()
    residue = topology.addResidue("DW", topology.addChain())
    for _ in range(4):
        topology.addAtom("Ar", app.element.argon, residue)
    dcd = directory / "frames.dcd"
    with open(dcd, "wb") as handle:
        writer = app.DCDFile(handle, topology, 0.001 * unit.picoseconds)
        for frame in frames:
            writer.writeModel(frame * unit.nanometer)
    return str(xml), str(dcd)


def direct(xml, dcd, seed=0, **kwargs):
    """openmmbg.reweight on a fresh Context of the deserialized System."""
    with open(xml) as handle:
        system = openmm.XmlSerializer.deserialize(handle.read())
    force = cli_reweight._generator_in(system)
    if seed:
        force.setRandomNumberSeed(seed)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(np.zeros((4, 3)))
    return openmmbg.reweight(dcd, force, context, **kwargs)


def read_csv(path):
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    return (np.array([int(r["frame"]) for r in rows]), np.array([float(r["log_weight"]) for r in rows]),
            np.array([float(r["weight"]) for r in rows]))


def test_md_frames_match_reweight(dw4_files, tmp_path, capsys):
    xml, dcd = dw4_files
    out = tmp_path / "weights.csv"
    assert cli_reweight.main([xml, dcd, "--temperature", "400", "--md-groups", "0", "--platform", "Reference",
                              "--out", str(out)]) == 0
    frames, log_weights, weights = read_csv(out)
    expected = direct(xml, dcd, temperature=400.0, md_groups={0})
    np.testing.assert_array_equal(frames, np.arange(12))
    np.testing.assert_allclose(weights, expected.weights, rtol=1e-12, atol=1e-300)
    assert weights.sum() == pytest.approx(1.0)
    assert 0.0 < expected.ess < 0.99   # 300 K target, 400 K frames: weights are not uniform
    # The log-weights normalise to the weights; the ESS printed is openmmbg.reweight's.
    shifted = np.exp(log_weights - log_weights.max())
    np.testing.assert_allclose(shifted / shifted.sum(), weights, rtol=1e-12)
    assert "ESS fraction %.6g" % expected.ess in capsys.readouterr().out


def test_flow_frames_with_a_seed_match_reweight(dw4_files, tmp_path):
    xml, dcd = dw4_files
    out = tmp_path / "flow.csv"
    assert cli_reweight.main([xml, dcd, "--draws", "4", "--seed", "11", "--platform", "Reference", "--out", str(out)]) == 0
    expected = direct(xml, dcd, seed=11, num_draws=4)
    np.testing.assert_allclose(read_csv(out)[2], expected.weights, rtol=1e-10, atol=1e-300)


def test_bad_input_gives_exit_code_2(dw4_files, tmp_path, capsys):
    xml, dcd = dw4_files
    assert cli_reweight.main([xml, str(tmp_path / "missing.dcd")]) == 2
    assert "no trajectory file" in capsys.readouterr().err
    plain = tmp_path / "plain.xml"
    plain.write_text(openmm.XmlSerializer.serialize(openmmbg.systems.dw4().system))
    assert cli_reweight.main([str(plain), dcd]) == 2
    assert "holds 0 BoltzmannGeneratorForce" in capsys.readouterr().err
    assert cli_reweight.main([xml, dcd, "--md-groups", "0"]) == 2   # MD groups without --temperature
    assert cli_reweight.main([xml, dcd, "--temperature", "300", "--md-groups", "x"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        cli_reweight.main([xml])   # argparse: missing trajectory
    assert exit_info.value.code == 2


@needs_cli
def test_openmm_bg_dispatches_reweight(dw4_files, tmp_path):
    xml, dcd = dw4_files
    result = subprocess.run([OPENMM_BG, "reweight", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: openmm-bg reweight" in result.stdout
    out = tmp_path / "weights.csv"
    result = subprocess.run([OPENMM_BG, "reweight", xml, dcd, "--temperature", "400", "--platform", "Reference",
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = direct(xml, dcd, temperature=400.0)
    assert "ESS fraction %.6g" % expected.ess in result.stdout
    np.testing.assert_allclose(read_csv(out)[2], expected.weights, rtol=1e-12, atol=1e-300)
    assert "reweight" in subprocess.run([OPENMM_BG, "--help"], capture_output=True, text=True, timeout=60).stdout


@needs_cli
def test_openmm_bg_reweight_without_python(tmp_path):
    env = dict(os.environ, OPENMMBG_PYTHON=str(tmp_path / "no-python"))
    result = subprocess.run([OPENMM_BG, "reweight", "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "no Python interpreter at" in result.stderr and "OPENMMBG_PYTHON" in result.stderr
    # An interpreter without openmmbg on its path (isolated, no site-packages): the import failure is named.
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\nexec %s -I -S \"$@\"\n" % _buildinfo.python_executable)
    script.chmod(0o755)
    env = dict(os.environ, OPENMMBG_PYTHON=str(script))
    result = subprocess.run([OPENMM_BG, "reweight", "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "cannot import openmmbg.cli_reweight" in result.stderr
