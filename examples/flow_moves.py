"""Flow moves with a trained generator: how often does the integrator accept the flow's proposals?

What it does
    Loads a trained model (model.bgflow of ``openmm-bg train``, an E-ACF or an E-CNF, with the
    flow-config.json the run wrote beside it), puts it into a BoltzmannGeneratorForce over the
    particles of its reference problem (DW4: planar, 4 particles; alanine dipeptide: all 22 atoms of
    the ff96/OBC1 System at 800 K) and runs a BoltzmannGeneratorIntegrator with a flow move
    (independence Metropolis: a flow sample against the current state) after every Langevin step,
    without training. Prints the acceptance rate, the running ESS of the proposals and the reverse
    ESS of fresh flow samples, with the wall time per step. ``--weight-draws M`` computes the
    importance weights of the moves and of the fresh samples over M augmented draws (E-ACF;
    docs/augmented-weights.md). An E-CNF integrates its ODE with the
    solver saved in the model (train with ``--set flow.solver=rk4 --set flow.rk4Steps=10`` for the
    fixed-step solver).

How to run (from the repository root, with the openmmbg package importable)
    OMP_NUM_THREADS=1 python examples/flow_moves.py --system dw4 --model runs/dw4-fm-rk4/model.bgflow [--steps 300]
    OMP_NUM_THREADS=1 python examples/flow_moves.py --system dw4 --model runs/dw4-fab-quick/model.bgflow --weight-draws 20
    OMP_NUM_THREADS=1 python examples/flow_moves.py --system aldp --model runs/aldp-warm/fab/model.bgflow --steps 2000
"""
import argparse
import json
import os
import time

import openmm
import openmm.app as app
import openmm.unit as unit

import openmmbg
from openmmbg.analysis import ALDP_CHIRALITY, reverse_ess
from dw4_fab_simulation import NUM_PARTICLES as DW4_PARTICLES, make_simulation as make_dw4_simulation


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--system", choices=["dw4", "aldp"], default="dw4", help="reference problem (default dw4)")
    parser.add_argument("--model", required=True, help="model.bgflow of a run on that system (flow-config.json beside it)")
    parser.add_argument("--steps", type=int, default=300, help="MD steps = flow moves (default 300)")
    parser.add_argument("--samples", type=int, default=1000, help="flow samples for the reverse ESS (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random number seed (positive)")
    parser.add_argument("--weight-draws", type=int, default=1,
                        help="augmented draws behind each importance weight (E-ACF; default 1, the joint weight)")
    return parser.parse_args()


def load_force(model_path, particles, temperature, seed, planar):
    """A BoltzmannGeneratorForce over the particles holding the saved model (setFlow checks the
    weights against the run's flow-config.json)."""
    with open(model_path, "rb") as handle:
        weights = handle.read()
    force = openmmbg.BoltzmannGeneratorForce(particles, temperature)
    force.setPlanar(planar)
    with open(os.path.join(os.path.dirname(os.path.abspath(model_path)), "flow-config.json")) as handle:
        force.setFlow(json.load(handle), weights)
    force.setRandomNumberSeed(seed)
    return force


def aldp_simulation(model_path, seed):
    """Alanine dipeptide at 800 K from its minimised structure: Langevin steps of 1 fs (friction
    1/ps, no constraints) with one flow move per step, keeping the L form. Returns (simulation, integrator, force)."""
    reference = openmmbg.systems.alanine_dipeptide()
    system = reference.system
    force = load_force(model_path, range(system.getNumParticles()), reference.temperature, seed, planar=False)
    # Flow moves keep L-alanine: a proposal of the other form (N-CA-C-CB positive) is rejected.
    force.setTrainingSettings({"fab": {"chiralCentres": [list(ALDP_CHIRALITY)]}})
    system.addForce(force)
    integrator = openmmbg.BoltzmannGeneratorIntegrator(1.0 / unit.picosecond, 0.001 * unit.picoseconds)
    integrator.setTrainingInterval(0)
    integrator.setFlowMoveInterval(1)
    integrator.setRandomNumberSeed(seed)
    topology = app.PDBFile(os.path.join(openmmbg.systems.data_directory(), "alanine-dipeptide.pdb")).topology
    simulation = app.Simulation(topology, system, integrator, openmm.Platform.getPlatformByName("CPU"))
    simulation.context.setPositions(reference.positions)
    simulation.context.setVelocitiesToTemperature(reference.temperature, seed)
    return simulation, integrator, force


def dw4_simulation(model_path, seed):
    """DW4 at 300 K (dw4_fab_simulation.make_simulation, no training). Returns (simulation, integrator, force)."""
    reference = openmmbg.systems.dw4()
    system = reference.system
    force = load_force(model_path, range(DW4_PARTICLES), reference.temperature, seed, planar=True)
    system.addForce(force)
    simulation, integrator = make_dw4_simulation(system, reference.temperature, seed, training_interval=0)
    return simulation, integrator, force


def main():
    args = parse_arguments()
    setup = {"dw4": dw4_simulation, "aldp": aldp_simulation}[args.system]
    simulation, integrator, force = setup(args.model, args.seed)
    integrator.setWeightDraws(args.weight_draws)
    start = time.time()
    chunk = max(1, args.steps // 10)
    for done in range(0, args.steps, chunk):
        steps = min(chunk, args.steps - done)
        simulation.step(steps)
        elapsed = time.time() - start
        print("step %5d  %7.1f s  acceptance %.4f  running ESS %.4f  ETA %.0f s" % (
            done + steps, elapsed, integrator.getAcceptanceRate(), integrator.getRunningEss(),
            elapsed / (done + steps) * (args.steps - done - steps)), flush=True)
    seconds = time.time() - start
    samples = force.sample(simulation.context, args.samples, args.weight_draws)
    print("flow moves on %s (weights over %d augmented draws): %d moves, acceptance %.4f, %.3f s per step; "
          "reverse ESS of %d flow samples %.4f"
          % (args.system, args.weight_draws, integrator.getNumFlowMoves(), integrator.getAcceptanceRate(),
             seconds / args.steps, args.samples, reverse_ess(samples.logWeights)))


if __name__ == "__main__":
    main()
