"""Report whether openmm-bg is installed and working: ``python -m openmmbg.testInstallation``.

Prints the versions of OpenMM and torch, the C++ ABI each was built with, CUDA availability,
plugin-load status, and, for every OpenMM platform, whether a Context with a
BoltzmannGeneratorForce can be created and leaves the System's energy unchanged.
Exits with status 1 if anything that should work does not.
"""
import sys
import time


def _platformNames(openmm):
    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def _checkPlatform(openmm, openmmbg, name):
    """Create a Context with and without the force on one platform; return (ok, message)."""
    unit = openmm.unit
    system = openmm.System()
    for _ in range(3):
        system.addParticle(1.0)
    bond = openmm.HarmonicBondForce()
    bond.addBond(0, 1, 0.1, 1000.0)
    bond.addBond(1, 2, 0.1, 1000.0)
    system.addForce(bond)
    positions = [openmm.Vec3(0, 0, 0), openmm.Vec3(0.12, 0, 0), openmm.Vec3(0.12, 0.09, 0)] * unit.nanometer
    energies = []
    for withForce in (False, True):
        if withForce:
            force = openmmbg.BoltzmannGeneratorForce([0, 1, 2], 300 * unit.kelvin)
            system.addForce(force)
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(name))
        context.setPositions(positions)
        energies.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        if withForce:
            read = force.getModelledPositions(context).value_in_unit(unit.nanometer)
            error = max(abs(a - b) for p, q in zip(read, positions.value_in_unit(unit.nanometer)) for a, b in zip(p, q))
        del context
    ok = abs(energies[0] - energies[1]) <= 1e-9 * max(1.0, abs(energies[0])) and error < 1e-6
    return ok, "energy %.6f kJ/mol with the force, %.6f without; modelled positions read back to %.1e nm" % (
        energies[1], energies[0], error)


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
    others = [f for f in openmm.Platform.getPluginLoadFailures()]
    if others:
        print("  (OpenMM's own plugins that did not load here, e.g. GPU platforms without a driver:)")
        for f in others:
            print("    " + f)
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
