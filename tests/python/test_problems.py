"""openmmbg.problems: the registry of reference problems read from data/problems/*.json, its
agreement with the C++ registry (openmm-bg problems --json) and with the System factories, and
its refusals (unknown names, malformed files, problems without a factory)."""
import json
import os
import shutil
import subprocess

import pytest

import openmmbg
from openmmbg import _buildinfo, problems, systems

OPENMM_BG = os.path.join(_buildinfo.bin_dir, "openmm-bg")


def test_names_and_facts():
    assert problems.names() == ["aldp", "dw4", "lj13"]
    dw4 = problems.get("dw4")
    assert (dw4.num_particles, dw4.dimension, dw4.temperature) == (4, 2, 300.0)
    assert dw4.reference_set(300.0) == "dw4" and dw4.reference_set(400.0) is None
    aldp = problems.get("aldp")
    assert aldp.reference_set(800) == "aldp800" and aldp.reference_set(300) == "aldp300"
    assert aldp.evaluation == ("ramachandran",)
    # The method presets merge the shared settings with the method's (JSON merge patch).
    assert aldp.presets["ml"]["flow"]["numBlocks"] == 20 and aldp.presets["fab"]["flow"]["numBlocks"] == 6
    assert aldp.presets["fab"]["flow"]["scalingBlock"] and aldp.presets["ml"]["flow"]["scalingBlock"]
    assert aldp.presets["fab"]["training"]["batchSize"] == 32
    assert aldp.presets["fab"]["training"]["fab"]["ais"]["initialStepSize"] == 0.001
    assert aldp.presets["ml"]["training"]["schedule"]["peakLr"] == 1e-4
    assert problems.get("lj13").presets["ml"]["flow"]["auxLossWeight"] == 10.0
    # The shared flow settings are the E-ACF's: the E-CNF's preset ("model": "ecnf") starts without them.
    assert aldp.presets["fm"]["flow"]["model"] == "ecnf" and "numBlocks" not in aldp.presets["fm"]["flow"]
    assert aldp.presets["fm"]["training"]["ignoreFactor"] == 20.0


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown problem 'dw5' \(known: aldp, dw4, lj13\)"):
        problems.get("dw5")


@pytest.mark.skipif(not os.path.exists(OPENMM_BG), reason="openmm-bg is not built")
def test_python_and_cpp_registries_agree():
    result = subprocess.run([OPENMM_BG, "problems", "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    cpp = json.loads(result.stdout)
    assert cpp == [problems.get(name).to_json() for name in problems.names()]


@pytest.mark.skipif(not os.path.exists(OPENMM_BG), reason="openmm-bg is not built")
def test_cpp_refuses_unknown_problems():
    result = subprocess.run([OPENMM_BG, "evaluate", "--model", "none.bgflow", "--system", "dw5"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown problem 'dw5' (known: aldp, dw4, lj13)" in result.stderr


@pytest.mark.parametrize("name", ["dw4", "lj13", "aldp"])
def test_problems_match_their_systems(name):
    problem = problems.get(name)
    reference = problem.system()
    assert reference.system.getNumParticles() == problem.num_particles
    assert reference.dimensions == problem.dimension
    assert reference.temperature.value_in_unit(openmmbg.systems.unit.kelvin) == pytest.approx(problem.temperature)
    assert systems.FACTORIES[name] is not None


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of the package's problem files in a directory that OPENMMBG_DATA_DIR points to."""
    shutil.copytree(problems.problems_directory(), tmp_path / "problems")
    monkeypatch.setenv("OPENMMBG_DATA_DIR", str(tmp_path))
    return tmp_path / "problems"


def test_adding_a_problem_is_adding_a_file(data_copy):
    (data_copy / "toy.json").write_text(json.dumps({
        "name": "toy", "numParticles": 3, "dimension": 3, "temperature": 250,
        "flow": {"eta": 0.2}, "methods": {"ml": {"training": {"epochs": 5}}}}))
    assert problems.problems_directory() == str(data_copy)
    assert problems.names() == ["aldp", "dw4", "lj13", "toy"]
    toy = problems.get("toy")
    assert toy.presets == {"ml": {"flow": {"eta": 0.2}, "training": {"epochs": 5}}}
    assert toy.reference_sets == () and toy.temperature == 250.0
    with pytest.raises(ValueError, match="no System factory for 'toy'"):
        toy.system()
    if os.path.exists(OPENMM_BG):   # C++ reads the new file too, in the same form
        result = subprocess.run([OPENMM_BG, "problems", "--json"], capture_output=True, text=True, timeout=60)
        assert json.loads(result.stdout)[-1] == toy.to_json()


@pytest.mark.parametrize("text, message", [
    ('{"name": "bad", "name": "bad"}', "duplicate key 'name'"),
    ('{"name": "bad", "numParticles": 3, "dimension": 3, "temperature": 300, "methods": {}, "colour": 1}',
     "unknown key 'colour'"),
    ('{"name": "other", "numParticles": 3, "dimension": 3, "temperature": 300, "methods": {}}', "differs from the file name"),
    ('{"name": "bad", "numParticles": 3, "dimension": 4, "temperature": 300, "methods": {}}', "dimension 2 or 3"),
    ('{"name": "bad", "numParticles": 3, "dimension": 3, "temperature": 300}', "missing key 'methods'"),
    ('[1, 2]', "not a JSON object"),
])
def test_malformed_problem_files_are_refused(data_copy, text, message):
    (data_copy / "bad.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        problems.get("bad")
