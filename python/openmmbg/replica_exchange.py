"""Replica exchange (parallel tempering) for the alanine dipeptide reference set at 300 K: several
OpenMM Contexts at geometrically spaced temperatures, Langevin dynamics between Metropolis swaps
of neighbouring replicas. Units and reproducibility as in :mod:`openmmbg.reference`, whose
:class:`~openmmbg.reference.Samples` it returns.
"""
import math
import time

import numpy as np
import openmm
import openmm.unit as unit

from .reference import Samples, BOLTZ, _kelvin, _positions_nm, _seed31, make_platform

__all__ = ["geometric_temperatures", "count_round_trips", "replica_exchange", "sample_aldp300"]


def geometric_temperatures(t_min, t_max, n):
    """``n`` temperatures (K) spaced geometrically from ``t_min`` to ``t_max``."""
    if n == 1:
        return [float(t_min)]
    return [float(t_min * (t_max / t_min) ** (k / (n - 1))) for k in range(n)]


def count_round_trips(index_history, n_temperatures):
    """Round trips in a replica-exchange run.

    Parameters
    ----------
    index_history : ndarray [T, R]
        Temperature index of each replica (walker) after each exchange attempt.

    Returns
    -------
    int
        Number of completed trips lowest -> highest -> lowest temperature, summed over replicas.
    """
    trips = 0
    for walker in np.asarray(index_history).T:
        # -1: not yet at an end; 0: last end visited was the bottom; 1: the top.
        last = -1
        for index in walker:
            if index == 0:
                if last == 1:
                    trips += 1
                last = 0
            elif index == n_temperatures - 1 and last == 0:
                last = 1
    return trips


def replica_exchange(system, positions, temperatures, n_samples, steps_per_exchange, exchanges_per_sample,
                     burn_in_exchanges, seed, timestep=0.001, friction=1.0, minimise=True, platform="CPU",
                     progress=None):
    """Parallel tempering over OpenMM Contexts; samples are taken at the lowest temperature.

    One Context per temperature runs Langevin dynamics (``LangevinMiddleIntegrator``) for
    ``steps_per_exchange`` steps; then neighbouring pairs (even pairs and odd pairs on alternate
    attempts) swap configurations with probability min(1, exp((1/kT_i - 1/kT_j)(U_i - U_j))), the
    velocities rescaled by sqrt(T_new / T_old).

    Parameters
    ----------
    temperatures : sequence of float
        K, increasing; the first is the target temperature.
    n_samples : int
        Samples stored from the lowest temperature.
    steps_per_exchange : int
        Langevin steps between exchange attempts.
    exchanges_per_sample : int
        Exchange attempts between stored samples (the thinning).
    burn_in_exchanges : int
        Exchange attempts discarded first.
    seed : int
        Seeds every integrator, the initial velocities and the Metropolis swaps.
    progress : callable, optional
        Called as ``progress(k, n_samples)`` after each stored sample.

    Returns
    -------
    Samples
        Lowest-temperature positions [n, N, 3] (nm, raw Cartesian) and energies; ``info`` holds
        per-pair acceptance, round trips and the settings.
    """
    start = time.process_time()
    wall = time.time()
    rng = np.random.default_rng(seed)
    temperatures = [_kelvin(t) for t in temperatures]
    n_replicas = len(temperatures)
    betas = np.array([1.0 / (BOLTZ * t) for t in temperatures])
    plat, props = make_platform(platform)
    x0 = _positions_nm(positions)
    contexts, integrators, integrator_seeds = [], [], []
    for t in temperatures:
        integrator = openmm.LangevinMiddleIntegrator(t, friction, timestep)
        integrator_seeds.append(_seed31(rng))
        integrator.setRandomNumberSeed(integrator_seeds[-1])
        context = openmm.Context(system, integrator, plat, props)
        context.setPositions(x0)
        if minimise:
            openmm.LocalEnergyMinimizer.minimize(context, 1.0, 1000)
        context.setVelocitiesToTemperature(t, _seed31(rng))
        contexts.append(context)
        integrators.append(integrator)
    # walker_at[k]: which walker (replica) is at temperature index k.
    walker_at = np.arange(n_replicas)
    attempts = np.zeros(n_replicas - 1)
    accepts = np.zeros(n_replicas - 1)
    history = []
    n_exchanges = int(burn_in_exchanges + exchanges_per_sample * n_samples)
    n = system.getNumParticles()
    positions_out = np.empty((n_samples, n, 3))
    energies_out = np.empty(n_samples)
    stored = 0
    for exchange in range(n_exchanges):
        for integrator in integrators:
            integrator.step(int(steps_per_exchange))
        states = [c.getState(getPositions=True, getVelocities=True, getEnergy=True) for c in contexts]
        energies = np.array([s.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) for s in states])
        for k in range(exchange % 2, n_replicas - 1, 2):
            attempts[k] += 1
            log_ratio = (betas[k] - betas[k + 1]) * (energies[k] - energies[k + 1])
            if log_ratio >= 0.0 or rng.random() < math.exp(log_ratio):
                accepts[k] += 1
                states[k], states[k + 1] = states[k + 1], states[k]
                energies[k], energies[k + 1] = energies[k + 1], energies[k]
                walker_at[k], walker_at[k + 1] = walker_at[k + 1], walker_at[k]
                for target, source in ((k, k + 1), (k + 1, k)):
                    scale = math.sqrt(temperatures[target] / temperatures[source])
                    contexts[target].setPositions(states[target].getPositions(asNumpy=True))
                    contexts[target].setVelocities(states[target].getVelocities(asNumpy=True) * scale)
        index_of_walker = np.empty(n_replicas, dtype=int)
        index_of_walker[walker_at] = np.arange(n_replicas)
        history.append(index_of_walker)
        done = exchange + 1 - burn_in_exchanges
        if done > 0 and done % exchanges_per_sample == 0:
            positions_out[stored] = states[0].getPositions(asNumpy=True).value_in_unit(unit.nanometer)
            energies_out[stored] = energies[0]
            stored += 1
            if progress is not None:
                progress(stored, n_samples)
    history = np.array(history)
    info = {"sampler": "replica exchange (parallel tempering) of Langevin dynamics (openmm.LangevinMiddleIntegrator), "
                       "neighbour swaps alternating even/odd pairs",
            "platform": platform, "temperature_K": temperatures[0], "temperatures_K": temperatures,
            "timestep_ps": timestep, "friction_per_ps": friction, "minimised_start": bool(minimise),
            "steps_per_exchange": int(steps_per_exchange), "exchanges_per_sample": int(exchanges_per_sample),
            "burn_in_exchanges": int(burn_in_exchanges), "exchanges": n_exchanges,
            "steps_per_replica": int(n_exchanges * steps_per_exchange), "seed": int(seed),
            "integrator_seeds": integrator_seeds,
            "pair_acceptance": [float(a / t) if t else float("nan") for a, t in zip(accepts, attempts)],
            "round_trips": count_round_trips(history, n_replicas),
            "round_trips_after_burn_in": count_round_trips(history[int(burn_in_exchanges):], n_replicas),
            "cpu_seconds": time.process_time() - start, "wall_seconds": time.time() - wall}
    return Samples(positions_out, energies_out, temperatures[0], info)


def sample_aldp300(n_samples, seed, n_replicas=6, t_max=1300.0, steps_per_exchange=300, exchanges_per_sample=1,
                   burn_in_exchanges=40, **settings):
    """Alanine dipeptide at 300 K by replica exchange over ``n_replicas`` geometric temperatures
    300 K .. ``t_max``; positions [n, 22, 3] in nm, raw Cartesian."""
    from . import systems
    reference = systems.alanine_dipeptide(temperature=300.0)
    temperatures = geometric_temperatures(300.0, t_max, n_replicas)
    return replica_exchange(reference.system, reference.positions, temperatures, n_samples,
                            steps_per_exchange, exchanges_per_sample, burn_in_exchanges, seed, **settings)
