"""Flow moves with a trained E-CNF on DW4: how often does the integrator accept the CNF's proposals?

What it does
    Loads an E-CNF trained by flow matching (model.bgflow of ``openmm-bg train --model ecnf --method fm
    --system dw4``), puts it into a planar BoltzmannGeneratorForce over the 4 DW4 particles and runs a
    BoltzmannGeneratorIntegrator with a flow move (independence Metropolis: a CNF sample against the
    current state, log q of both by the ODE) after every Langevin step, without training. Prints the
    acceptance rate, the running ESS of the proposals and the reverse ESS of fresh flow samples, with
    the wall time per step. The ODE solver is the one saved in the model (train with
    ``--set flow.solver=rk4 --set flow.rk4Steps=10`` for the fixed-step solver).

How to run (from the repository root, with the openmmbg package importable)
    OMP_NUM_THREADS=1 python examples/dw4_ecnf_flow_moves.py --model runs/dw4-fm-rk4/model.bgflow [--steps 300] [--seed 1]
"""
import argparse
import json
import os
import time

import openmmbg
from openmmbg.analysis import reverse_ess
from dw4_fab_simulation import NUM_PARTICLES, make_simulation


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model.bgflow of an E-CNF trained on dw4 (flow-config.json beside it)")
    parser.add_argument("--steps", type=int, default=300, help="MD steps = flow moves (default 300)")
    parser.add_argument("--samples", type=int, default=1000, help="flow samples for the reverse ESS (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random number seed (positive)")
    return parser.parse_args()


def main():
    args = parse_arguments()
    reference = openmmbg.systems.dw4()
    system = reference.system
    with open(args.model, "rb") as handle:
        weights = handle.read()
    force = openmmbg.BoltzmannGeneratorForce(range(NUM_PARTICLES), reference.temperature)
    force.setPlanar(True)
    # setFlow checks the weights against the configuration: the run's flow-config.json.
    with open(os.path.join(os.path.dirname(os.path.abspath(args.model)), "flow-config.json")) as handle:
        force.setFlow(json.load(handle), weights)
    force.setRandomNumberSeed(args.seed)
    system.addForce(force)

    simulation, integrator = make_simulation(system, reference.temperature, args.seed, training_interval=0)

    start = time.time()
    for done in range(0, args.steps, max(1, args.steps // 10)):
        steps = min(max(1, args.steps // 10), args.steps - done)
        simulation.step(steps)
        elapsed = time.time() - start
        print("step %4d  %6.1f s  acceptance %.3f  running ESS %.3f  ETA %.0f s" % (
            done + steps, elapsed, integrator.getAcceptanceRate(), integrator.getRunningEss(),
            elapsed / (done + steps) * (args.steps - done - steps)), flush=True)
    seconds = time.time() - start
    samples = force.sample(simulation.context, args.samples)
    print("E-CNF flow moves on DW4: %d moves, acceptance %.4f, %.3f s per step; reverse ESS of %d flow samples %.4f"
          % (integrator.getNumFlowMoves(), integrator.getAcceptanceRate(), seconds / args.steps, args.samples,
             reverse_ess(samples.logWeights)))


if __name__ == "__main__":
    main()
