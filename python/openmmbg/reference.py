"""Reference samplers: Markov chains that draw configurations from exp(-U/kT) with OpenMM.

These produce the reference data sets in ``data/reference/`` (see its README and
``scripts/generate_reference_data.py``):

- DW4 and LJ13: generalised hybrid Monte Carlo (GHMC) in an ``openmm.CustomIntegrator``. Each
  integrator step partially refreshes the momenta, runs a velocity-Verlet trajectory and accepts
  or rejects it with the Metropolis rule on the total energy (a rejection restores the positions
  and negates the momenta), so the chain is exact for exp(-U/kT) whatever the step size. The
  velocities are projected onto zero total momentum (and, for DW4, zero z component), so the
  centre of mass never moves and DW4 stays in the z = 0 plane.
- Alanine dipeptide at 800 K: Langevin dynamics (``LangevinMiddleIntegrator``) from the minimised
  structure.
- Alanine dipeptide at 300 K: replica exchange, in :mod:`openmmbg.replica_exchange`.

Units: positions in nm, time in ps, energies in kJ/mol, temperatures in K. Every sampler returns a
:class:`Samples` with positions ``[n, N, D]`` (float64, nm) and the potential energy of each sample.
Runs are reproducible: the integrators' random seeds and the numpy generator are derived from the
``seed`` argument (on the Reference platform, or the CPU platform with one thread).
"""
import dataclasses
import time

import numpy as np
import openmm
import openmm.unit as unit

__all__ = ["Samples", "BOLTZ", "ghmc_integrator", "sample_ghmc", "sample_dw4", "sample_lj13",
           "random_cluster", "sample_langevin", "sample_aldp800", "make_platform"]

#: Boltzmann's constant times Avogadro's number, kJ/(mol K), as OpenMM uses it.
BOLTZ = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)


@dataclasses.dataclass
class Samples:
    """Configurations drawn by a sampler.

    Attributes
    ----------
    positions : ndarray [n, N, D]
        float64, nm.
    energies : ndarray [n]
        Potential energy of each configuration, kJ/mol.
    temperature : float
        Temperature of the target distribution, K.
    info : dict
        Sampler settings and statistics (JSON-serialisable): step size, steps, burn-in, thinning,
        seeds, acceptance, wall time, ...
    """
    positions: np.ndarray
    energies: np.ndarray
    temperature: float
    info: dict

    @property
    def reduced_energies(self):
        """U / kT for each sample (dimensionless)."""
        return self.energies / (BOLTZ * self.temperature)


def _kelvin(temperature):
    """A temperature as a float in K (accepts a Quantity or a number in K)."""
    if unit.is_quantity(temperature):
        return float(temperature.value_in_unit(unit.kelvin))
    return float(temperature)


def make_platform(name="Reference", threads=1):
    """An OpenMM platform and its properties: ``(platform, properties)``. The CPU platform gets
    ``threads`` threads (1 by default, which also makes Langevin runs reproducible)."""
    platform = openmm.Platform.getPlatformByName(name)
    properties = {"Threads": str(threads)} if name == "CPU" else {}
    return platform, properties


def _seed31(rng):
    """A positive 31-bit integrator seed drawn from a numpy generator (OpenMM treats 0 as 'random')."""
    return int(rng.integers(1, 2**31 - 1))


# ----------------------------------------------------------------------------------------------
# GHMC (DW4, LJ13)
# ----------------------------------------------------------------------------------------------

def ghmc_integrator(system, temperature, timestep, n_leapfrog, persistence=0.0, planar=False,
                    remove_com=True):
    """A GHMC ``openmm.CustomIntegrator``: one ``step()`` is one Metropolised trajectory.

    Parameters
    ----------
    system : openmm.System
        Used for the particle count (the integrator holds per-particle direction masks).
    temperature : float or Quantity
        Target temperature, K.
    timestep : float
        Velocity-Verlet step, ps.
    n_leapfrog : int
        Velocity-Verlet steps per trajectory.
    persistence : float
        Momentum persistence b in [0, 1): the refresh is v <- b v + sqrt(1 - b^2) xi sqrt(kT/m);
        0 is plain HMC (full refresh).
    planar : bool
        Keep the z components of the velocities at zero (two-dimensional problems such as DW4; the
        positions must start at z = 0).
    remove_com : bool
        Project the velocities onto zero total momentum after every change, so the centre of mass
        stays where it starts. Exact when the System's forces sum to zero (pair forces).

    Its variables are prefixed ``ghmc_`` so they cannot clash with Context parameters; the
    global variables ``ghmc_naccept`` and ``ghmc_ntrials`` count accepted and attempted trajectories.
    """
    n = system.getNumParticles()
    ghmc_kT = BOLTZ * _kelvin(temperature)
    integrator = openmm.CustomIntegrator(timestep)
    integrator.addGlobalVariable("ghmc_kT", ghmc_kT)
    integrator.addGlobalVariable("ghmc_b", float(persistence))
    integrator.addGlobalVariable("ghmc_mtot", sum(system.getParticleMass(i).value_in_unit(unit.amu) for i in range(n)))
    for name in ("ghmc_ke", "ghmc_Hold", "ghmc_Hnew", "ghmc_accept", "ghmc_naccept", "ghmc_ntrials", "ghmc_px", "ghmc_py", "ghmc_pz", "ghmc_i"):
        integrator.addGlobalVariable(name, 0.0)
    integrator.addGlobalVariable("ghmc_nleap", int(n_leapfrog))
    for name in ("xold", "vold", "mask", "ex", "ey", "ez"):
        integrator.addPerDofVariable(name, 0.0)

    def project():
        """Zero the masked components and the total momentum of v."""
        integrator.addComputePerDof("v", "v*mask")
        if remove_com:
            integrator.addComputeSum("ghmc_px", "m*v*ex")
            integrator.addComputeSum("ghmc_py", "m*v*ey")
            integrator.addComputeSum("ghmc_pz", "m*v*ez")
            integrator.addComputePerDof("v", "v - (ghmc_px*ex + ghmc_py*ey + ghmc_pz*ez)/ghmc_mtot")

    # Momentum refresh, projected.
    integrator.addComputePerDof("v", "ghmc_b*v + sqrt(1 - ghmc_b*ghmc_b)*sqrt(ghmc_kT/m)*gaussian")
    project()
    integrator.addComputeSum("ghmc_ke", "0.5*m*v*v")
    integrator.addComputeGlobal("ghmc_Hold", "ghmc_ke + energy")
    integrator.addComputePerDof("xold", "x")
    integrator.addComputePerDof("vold", "v")
    # Velocity-Verlet trajectory.
    integrator.addComputeGlobal("ghmc_i", "0")
    integrator.beginWhileBlock("ghmc_i < ghmc_nleap")
    integrator.addComputePerDof("v", "v + 0.5*dt*f/m")
    project()
    integrator.addComputePerDof("x", "x + dt*v")
    integrator.addComputePerDof("v", "v + 0.5*dt*f/m")
    project()
    integrator.addComputeGlobal("ghmc_i", "ghmc_i + 1")
    integrator.endBlock()
    # Metropolis test on the total energy; a rejection restores x and negates v.
    integrator.addComputeSum("ghmc_ke", "0.5*m*v*v")
    integrator.addComputeGlobal("ghmc_Hnew", "ghmc_ke + energy")
    integrator.addComputeGlobal("ghmc_accept", "step(exp(-(ghmc_Hnew - ghmc_Hold)/ghmc_kT) - uniform)")
    integrator.addComputePerDof("x", "select(ghmc_accept, x, xold)")
    integrator.addComputePerDof("v", "select(ghmc_accept, v, -vold)")
    integrator.addComputeGlobal("ghmc_naccept", "ghmc_naccept + ghmc_accept")
    integrator.addComputeGlobal("ghmc_ntrials", "ghmc_ntrials + 1")

    mask = [openmm.Vec3(1.0, 1.0, 0.0 if planar else 1.0)] * n
    integrator.setPerDofVariableByName("mask", mask)
    integrator.setPerDofVariableByName("ex", [openmm.Vec3(1.0, 0.0, 0.0)] * n)
    integrator.setPerDofVariableByName("ey", [openmm.Vec3(0.0, 1.0, 0.0)] * n)
    integrator.setPerDofVariableByName("ez", [openmm.Vec3(0.0, 0.0, 1.0)] * n)
    return integrator




def sample_ghmc(system, positions, temperature, n_samples, timestep, n_leapfrog, thin, burn_in,
                seed, persistence=0.0, dimensions=3, platform="Reference"):
    """Draw ``n_samples`` zero-centre-of-mass configurations from exp(-U/kT) with GHMC.

    Parameters
    ----------
    system : openmm.System
    positions : ndarray [N, D]
        Start, nm (D = 2 places the particles in the z = 0 plane and keeps them there).
    temperature : float
        K.
    n_samples : int
    timestep : float
        ps.
    n_leapfrog : int
        Velocity-Verlet steps per GHMC trajectory.
    thin : int
        GHMC trajectories between stored samples.
    burn_in : int
        GHMC trajectories discarded first.
    seed : int
        Seeds the integrator (through numpy's generator).
    persistence : float
        Momentum persistence, see :func:`ghmc_integrator`.
    dimensions : int
        2 or 3; the returned positions have this many columns.

    Returns
    -------
    Samples
        Positions minus their (unweighted) centre, which only removes rounding drift. ``info``
        holds the acceptance rate.
    """
    start = time.process_time()
    wall = time.time()
    rng = np.random.default_rng(seed)
    temperature = _kelvin(temperature)
    x0 = np.zeros((system.getNumParticles(), 3))
    x0[:, :dimensions] = np.asarray(positions)[:, :dimensions]
    x0 -= x0.mean(axis=0)
    integrator = ghmc_integrator(system, temperature, timestep, n_leapfrog, persistence, planar=dimensions == 2)
    integrator_seed = _seed31(rng)
    integrator.setRandomNumberSeed(integrator_seed)
    plat, props = make_platform(platform)
    context = openmm.Context(system, integrator, plat, props)
    context.setPositions(x0)
    context.setVelocities(np.zeros_like(x0))
    integrator.step(int(burn_in))
    burn_accept = integrator.getGlobalVariableByName("ghmc_naccept")
    positions_out = np.empty((n_samples, system.getNumParticles(), dimensions))
    energies = np.empty(n_samples)
    for k in range(n_samples):
        integrator.step(int(thin))
        state = context.getState(getPositions=True, getEnergy=True)
        x = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        positions_out[k] = x[:, :dimensions]
        energies[k] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    positions_out -= positions_out.mean(axis=1, keepdims=True)
    trials = integrator.getGlobalVariableByName("ghmc_ntrials") - burn_in
    accepted = integrator.getGlobalVariableByName("ghmc_naccept") - burn_accept
    info = {"sampler": "GHMC (openmm.CustomIntegrator, Metropolised velocity Verlet, momentum flip on rejection)",
            "platform": platform, "temperature_K": temperature, "timestep_ps": timestep,
            "leapfrog_steps": int(n_leapfrog), "momentum_persistence": persistence,
            "burn_in_trajectories": int(burn_in), "thin_trajectories": int(thin),
            "trajectories": int(burn_in + thin * n_samples), "seed": int(seed),
            "integrator_seed": integrator_seed,
            "acceptance": float(accepted / trials) if trials > 0 else float("nan"),
            "cpu_seconds": time.process_time() - start, "wall_seconds": time.time() - wall}
    return Samples(positions_out, energies, temperature, info)


def random_cluster(rng, n, dimensions, spread, minimum):
    """``n`` random points in a cube of half-width ``spread`` (nm), at least ``minimum`` nm apart,
    centred at the origin: ndarray [n, dimensions]."""
    points = []
    while len(points) < n:
        candidate = rng.uniform(-spread, spread, dimensions)
        if all(np.linalg.norm(candidate - p) >= minimum for p in points):
            points.append(candidate)
    points = np.array(points)
    return points - points.mean(axis=0)


#: Default GHMC settings (tuned with scripts/generate_reference_data.py; ps, trajectories).
DW4_SETTINGS = dict(timestep=0.05, n_leapfrog=20, persistence=0.5, thin=150, burn_in=2000)
LJ13_SETTINGS = dict(timestep=0.015, n_leapfrog=20, persistence=0.0, thin=25, burn_in=2000)


def _sample_cluster(reference, defaults, spread, minimum, n_samples, seed, settings):
    """GHMC samples of a cluster problem from a random start (:func:`random_cluster` with ``spread``
    and ``minimum``, nm); ``settings`` override ``defaults`` (see :func:`sample_ghmc`)."""
    start = random_cluster(np.random.default_rng(seed + 7919), reference.system.getNumParticles(), reference.dimensions,
                           spread, minimum)
    return sample_ghmc(reference.system, start, reference.temperature, n_samples, seed=seed,
                       dimensions=reference.dimensions, **dict(defaults, **settings))


def sample_dw4(n_samples, seed, **settings):
    """DW4 samples at 300 K (reduced units), positions [n, 4, 2] with zero centre of mass.
    ``settings`` override :data:`DW4_SETTINGS` (see :func:`sample_ghmc`)."""
    from . import systems
    return _sample_cluster(systems.dw4(), DW4_SETTINGS, 3.0, 2.5, n_samples, seed, settings)


def sample_lj13(n_samples, seed, **settings):
    """LJ13 samples at 300 K (reduced units), positions [n, 13, 3] with zero centre of mass.
    ``settings`` override :data:`LJ13_SETTINGS` (see :func:`sample_ghmc`)."""
    from . import systems
    return _sample_cluster(systems.lj13(), LJ13_SETTINGS, 1.3, 0.9, n_samples, seed, settings)


# ----------------------------------------------------------------------------------------------
# Langevin (ALDP 800 K)
# ----------------------------------------------------------------------------------------------

def _positions_nm(positions):
    """Positions (Quantity list of Vec3 or array) as an ndarray [N, 3] in nm."""
    if unit.is_quantity(positions):
        positions = positions.value_in_unit(unit.nanometer)
    return np.array([[p[0], p[1], p[2]] for p in positions], dtype=float)


def sample_langevin(system, positions, temperature, n_samples, thin, burn_in, seed, timestep=0.001,
                    friction=1.0, minimise=True, platform="CPU"):
    """Draw ``n_samples`` configurations with Langevin dynamics (``LangevinMiddleIntegrator``).

    Parameters
    ----------
    positions : Quantity or ndarray [N, 3]
        Start, nm; minimised first when ``minimise``.
    temperature : float
        K.
    thin, burn_in : int
        Integration steps between samples, and discarded first.
    timestep : float
        ps (default 1 fs).
    friction : float
        1/ps.
    seed : int
        Seeds the initial velocities and the integrator.

    Returns
    -------
    Samples
        Raw Cartesian positions [n, N, 3] (not centred).
    """
    start = time.process_time()
    wall = time.time()
    rng = np.random.default_rng(seed)
    temperature = _kelvin(temperature)
    integrator = openmm.LangevinMiddleIntegrator(temperature, friction, timestep)
    integrator_seed = _seed31(rng)
    velocity_seed = _seed31(rng)
    integrator.setRandomNumberSeed(integrator_seed)
    plat, props = make_platform(platform)
    context = openmm.Context(system, integrator, plat, props)
    context.setPositions(_positions_nm(positions))
    if minimise:
        openmm.LocalEnergyMinimizer.minimize(context, 1.0, 1000)
    context.setVelocitiesToTemperature(temperature, velocity_seed)
    integrator.step(int(burn_in))
    n = system.getNumParticles()
    positions_out = np.empty((n_samples, n, 3))
    energies = np.empty(n_samples)
    for k in range(n_samples):
        integrator.step(int(thin))
        state = context.getState(getPositions=True, getEnergy=True)
        positions_out[k] = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        energies[k] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    info = {"sampler": "Langevin dynamics (openmm.LangevinMiddleIntegrator)", "platform": platform,
            "temperature_K": temperature, "timestep_ps": timestep, "friction_per_ps": friction,
            "minimised_start": bool(minimise), "burn_in_steps": int(burn_in), "thin_steps": int(thin),
            "steps": int(burn_in + thin * n_samples), "seed": int(seed), "integrator_seed": integrator_seed,
            "velocity_seed": velocity_seed, "cpu_seconds": time.process_time() - start,
            "wall_seconds": time.time() - wall}
    return Samples(positions_out, energies, temperature, info)


def sample_aldp800(n_samples, seed, thin=600, burn_in=10000, **settings):
    """Alanine dipeptide at 800 K by Langevin dynamics (1 fs, 1/ps) from the minimised structure;
    positions [n, 22, 3] in nm, raw Cartesian."""
    from . import systems
    reference = systems.alanine_dipeptide(temperature=800.0)
    return sample_langevin(reference.system, reference.positions, reference.temperature, n_samples,
                           thin=thin, burn_in=burn_in, seed=seed, **settings)
