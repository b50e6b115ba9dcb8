"""Report whether openmm-bg is installed and working: ``python -m openmmbg.testInstallation``.

Prints the versions of OpenMM and torch, the C++ ABI each was built with, CUDA availability,
where openmm-bg's libraries were loaded from (an installed package must load its own copies, from
inside the package directory, and never a build tree's), plugin-load status, and, for every OpenMM
platform, whether a Context with a BoltzmannGeneratorForce leaves the System's energy unchanged and
whether the force's flow samples there (finite samples whose energies are the Context's).
Exits with status 1 if anything that should work does not.
"""
import math
import os
import sys
import time

# openmm-bg's shared libraries (the SWIG extension is matched by its prefix).
_LIBRARIES = ("libbgflows.so", "libOpenMMBG.so", "libOpenMMBGReference.so", "libOpenMMBGCUDA.so")
_EXTENSION_PREFIX = "_openmmbgswig"


def _platformNames(openmm):
    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def _loadedLibraries():
    """{file name: set of real paths} of openmm-bg's libraries mapped into this process (/proc/self/maps)."""
    found = {}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) < 6:
                continue
            path = fields[5].strip()
            name = os.path.basename(path)
            if name in _LIBRARIES or name.startswith(_EXTENSION_PREFIX):
                found.setdefault(name, set()).add(os.path.realpath(path))
    return found


def _checkLibraries(openmmbg, buildinfo):
    """Problems with where the libraries came from: each loaded once, from inside the package when installed
    (from the build directory in a build tree), the Reference plugin from getPluginDirectories(); (root, problems)."""
    package = os.path.dirname(os.path.realpath(openmmbg.__file__))
    root = package if buildinfo.installed else os.path.dirname(os.path.realpath(buildinfo.library_dir))
    pluginDir = os.path.realpath(openmmbg.getPluginDirectories()[0])
    loaded = _loadedLibraries()
    problems = []
    for name in ("libbgflows.so", "libOpenMMBG.so", "libOpenMMBGReference.so"):
        if name not in loaded:
            problems.append("%s is not loaded" % name)
    for name, paths in sorted(loaded.items()):
        if len(paths) > 1:
            problems.append("%s is loaded from %d places: %s" % (name, len(paths), ", ".join(sorted(paths))))
        for path in paths:
            expected = pluginDir if name == "libOpenMMBGReference.so" else root
            if os.path.commonpath([path, expected]) != expected:
                problems.append("%s was loaded from %s, outside %s" % (name, path, expected))
    return root, problems


def _threeParticleSystem(openmm):
    """Three particles joined by two harmonic bonds (0.1 nm, 1000 kJ/mol/nm^2) and positions in nm."""
    system = openmm.System()
    for _ in range(3):
        system.addParticle(1.0)
    bond = openmm.HarmonicBondForce()
    bond.addBond(0, 1, 0.1, 1000.0)
    bond.addBond(1, 2, 0.1, 1000.0)
    system.addForce(bond)
    return system, [openmm.Vec3(0, 0, 0), openmm.Vec3(0.12, 0, 0), openmm.Vec3(0.12, 0.09, 0)]


def _energy(context, unit):
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def _checkPlatform(openmm, openmmbg, name):
    """On one platform: the force leaves the energy unchanged, reads positions back, and its (untrained) flow
    draws finite samples whose energies are those the Context computes for them; return (ok, message)."""
    unit = openmm.unit
    system, positions = _threeParticleSystem(openmm)
    platform = openmm.Platform.getPlatformByName(name)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
    context.setPositions(positions)
    without = _energy(context, unit)
    del context
    force = openmmbg.BoltzmannGeneratorForce([0, 1, 2], 300 * unit.kelvin)
    force.setFlow({"numParticles": 3, "dimension": 3, "numBlocks": 1, "egnnLayers": 1, "egnnWidth": 8,
                   "invariantFeatures": 4, "headWidths": [8], "dtype": "float64"})
    system.addForce(force)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
    context.setPositions(positions)
    withForce = _energy(context, unit)
    read = force.getModelledPositions(context).value_in_unit(unit.nanometer)
    error = max(abs(a - b) for p, q in zip(read, positions) for a, b in zip(p, q))
    samples = force.sample(context, 8)
    drawn = samples.positions.value_in_unit(unit.nanometer)
    energies = samples.energies.value_in_unit(unit.kilojoule_per_mole)
    context.setPositions(drawn[0] * unit.nanometer)
    energyError = abs(_energy(context, unit) - energies[0])
    finite = all(math.isfinite(v) for v in list(drawn.ravel()) + list(energies) + list(samples.logWeights))
    ok = (abs(without - withForce) <= 1e-9 * max(1.0, abs(without)) and error < 1e-6 and drawn.shape == (8, 3, 3)
          and finite and energyError <= 1e-6 * max(1.0, abs(energies[0])))
    return ok, ("energy %.6f kJ/mol with the force, %.6f without; positions read back to %.1e nm; 8 flow samples %s, "
                "energy of the first %.4g kJ/mol (Context: %.1e off)" % (
                    withForce, without, error, "finite" if finite else "NOT finite", energies[0], energyError))


def main():
    start = time.time()
    failures = []
    import openmm
    import torch

    import openmmbg
    from openmmbg import _buildinfo

    print("openmm-bg %s" % openmmbg.__version__)
    print("  OpenMM      %s (%s)" % (openmm.version.full_version, openmm.version.openmm_library_path))
    print("  torch       %s (CUDA build %s)" % (torch.__version__, torch.version.cuda))
    print("  C++ ABI     torch _GLIBCXX_USE_CXX11_ABI=%d, openmm-bg built with %d" % (
        torch.compiled_with_cxx11_abi(), _buildinfo.cxx11_abi))
    if int(torch.compiled_with_cxx11_abi()) != _buildinfo.cxx11_abi:
        failures.append("torch's C++ ABI differs from the one openmm-bg was built with")
    if torch.__version__.split("+")[0] != _buildinfo.torch_version:
        failures.append("openmm-bg was built against torch %s but torch %s is installed" % (
            _buildinfo.torch_version, torch.__version__))
    print("  CUDA        torch sees a GPU: %s; openmm-bg CUDA plugin built: %s" % (
        torch.cuda.is_available(), _buildinfo.has_cuda_plugin))
    platforms = _platformNames(openmm)
    print("  platforms   %s" % ", ".join(platforms))
    ours = openmmbg.getPluginLoadFailures()
    print("  plugins     %s" % ("openmm-bg plugins loaded" if not ours else "FAILED: " + "; ".join(ours)))
    failures += ours
    root, problems = _checkLibraries(openmmbg, _buildinfo)
    print("  libraries   %s from %s%s" % ("installed package" if _buildinfo.installed else "build tree", root,
                                          "" if not problems else ": FAILED: " + "; ".join(problems)))
    failures += problems
    others = [f for f in openmm.Platform.getPluginLoadFailures()]
    if others:
        print("  (OpenMM's own plugins that did not load here, e.g. GPU platforms without a driver:)")
        for f in others:
            print("    " + f)
    if "CPU" not in platforms:
        failures.append("OpenMM's CPU platform is not available (its plugin did not load)")
    for name in platforms:
        if name not in ("Reference", "CPU", "CUDA"):
            continue
        try:
            ok, message = _checkPlatform(openmm, openmmbg, name)
        except Exception as error:
            ok, message = False, str(error)
        print("  %-9s   %s  %s" % (name, "ok    " if ok else "FAILED", message))
        if not ok:
            failures.append("%s platform: %s" % (name, message))
    print("%s in %.1f s" % ("Installation works" if not failures else "Installation has problems", time.time() - start))
    for f in failures:
        print("  problem: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
