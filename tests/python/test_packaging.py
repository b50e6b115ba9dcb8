"""Packaging: pyproject.toml's pins agree with requirements.lock, and `cmake --install` of this build gives the
package layout of cmake/OpenMMBGInstall.cmake with RUNPATHs that hold only $ORIGIN-relative entries.
(scripts/check-wheel.sh builds and installs the real wheel; these checks are the fast part.)"""
import os
import re
import shutil
import subprocess
import tomllib

import pytest

import openmmbg
from openmmbg import _buildinfo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _lockPins():
    pins = {}
    with open(os.path.join(ROOT, "requirements.lock")) as lock:
        for line in lock:
            if "==" in line and not line.startswith("#"):
                name, version = line.strip().split("==")
                pins[name.lower()] = version
    return pins


def _pins(requirements):
    """{lower-case name: version} of the exact (==) pins in a list of requirement strings."""
    found = {}
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^;\s]+)", requirement)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_pyproject_pins_are_those_of_requirements_lock():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        pyproject = tomllib.load(f)
    lock = _lockPins()
    runtime = _pins(pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["cuda"])
    build = _pins(pyproject["build-system"]["requires"])
    assert {"openmm", "torch", "openmm-cuda-13"} <= runtime.keys()
    assert {"openmm", "torch", "swig", "scikit-build-core"} <= build.keys()
    for name, version in list(runtime.items()) + list(build.items()):
        if name != "scikit-build-core":   # the build backend is not part of the test environment
            assert lock[name] == version, "%s: pyproject.toml pins %s, requirements.lock %s" % (name, version, lock[name])


def test_version_comes_from_cmakelists():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        regex = tomllib.load(f)["tool"]["scikit-build"]["metadata"]["version"]["regex"]
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        assert re.search(regex, f.read()).group("value") == openmmbg.__version__


def _runpath(path):
    out = subprocess.run(["readelf", "-d", path], check=True, capture_output=True, text=True).stdout
    match = re.search(r"\(RUNPATH\).*\[(.*)\]", out)
    return match.group(1).split(":") if match else []


@pytest.mark.skipif(_buildinfo.installed or shutil.which("cmake") is None or shutil.which("readelf") is None,
                    reason="needs a build tree, cmake and readelf")
def test_install_tree_is_the_package_with_origin_relative_runpaths(tmp_path):
    build = os.path.dirname(_buildinfo.library_dir)
    subprocess.run(["cmake", "--install", build, "--prefix", str(tmp_path)], check=True, capture_output=True)
    packages = [os.path.join(d, "openmmbg") for d, dirs, _ in os.walk(tmp_path) if "openmmbg" in dirs]
    assert len(packages) == 1
    package = packages[0]
    for relative in ("__init__.py", "cli.py", "openmmbgswig.py", "lib/libbgflows.so", "lib/libOpenMMBG.so",
                     "lib/plugins/libOpenMMBGReference.so", "bin/openmm-bg", "include/BoltzmannGeneratorForce.h",
                     "include/BoltzmannGeneratorForceProxy.h", "include/bg/FlowConfig.h",
                     "data/alanine-dipeptide.pdb", "data/reference/dw4-test.npy"):
        assert os.path.isfile(os.path.join(package, relative)), relative
    namespace = {}
    exec(open(os.path.join(package, "_buildinfo.py")).read(), namespace)
    assert namespace["installed"] is True and namespace["plugin_dir"] == "lib/plugins"
    site = os.path.dirname(package)
    binaries = [os.path.join(d, f) for d, _, files in os.walk(package) for f in files
                if f.endswith(".so") or f == "openmm-bg"]
    assert len(binaries) >= 5
    for binary in binaries:
        entries = _runpath(binary)
        assert entries and all(e.startswith("$ORIGIN") for e in entries), (binary, entries)
        resolved = {os.path.relpath(os.path.normpath(e.replace("$ORIGIN", os.path.dirname(binary))), site)
                    for e in entries}
        assert {"openmmbg/lib", "torch/lib", "OpenMM.libs/lib"} <= resolved, (binary, resolved)
