"""FAB training of a Boltzmann generator on DW4 inside an ordinary openmm.app.Simulation.

What it does
    The 4-particle double well (DW4, reduced units: 1 nm, kT at 300 K, masses 1 amu) gets a
    planar BoltzmannGeneratorForce with the small flow of examples/dw4-fab-quick/flow.json. A
    BoltzmannGeneratorIntegrator runs Langevin dynamics and, at every step, one flow Metropolis
    move and one FAB iteration, so ``simulation.step(N)`` trains the flow for N FAB iterations
    while the chain samples the Boltzmann distribution exactly. At the end it draws 4000 flow
    samples and prints the reverse ESS of their importance weights, saves the trained System and
    checks that the saved System reproduces the flow's densities.

How to run (from the repository root, with the openmmbg package importable)
    OMP_NUM_THREADS=1 python examples/dw4_fab_simulation.py [--iterations 300] [--out runs/dw4-fab-simulation] [--seed 1]

Runtime with the defaults: 440 s wall (7.3 min) on the development machine (2 shared CPU cores,
OMP_NUM_THREADS=1), about 1.4 s per step (one FAB iteration with batch 128 dominates).

Output (in --out)
    system.xml    the DW4 System with the BoltzmannGeneratorForce holding the trained flow
    samples.npy   4000 flow samples, float64 [4000, 4, 3] in nm (z = 0)
    progress.png  running ESS and flow-move acceptance against the MD step
"""
import argparse
import json
import os
import time

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

import openmmbg
from openmmbg.analysis import reverse_ess

EXAMPLE_DIR = os.path.dirname(os.path.abspath(__file__))
NUM_PARTICLES = 4
NUM_SAMPLES = 4000


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=300,
                        help="MD steps = FAB iterations = flow moves (default 300)")
    parser.add_argument("--out", default="runs/dw4-fab-simulation", help="output directory")
    parser.add_argument("--seed", type=int, default=1, help="random number seed (positive)")
    return parser.parse_args()


def flow_config():
    """The small flow of examples/dw4-fab-quick, for 4 particles in 2D."""
    with open(os.path.join(EXAMPLE_DIR, "dw4-fab-quick", "flow.json")) as handle:
        config = json.load(handle)
    config.update(numParticles=NUM_PARTICLES, dimension=2)
    return config


def training_settings(iterations, seed):
    """FAB settings: batches of 128 and the learning-rate schedule of dw4-fab-quick, planned over
    the number of FAB iterations this run does (one per MD step)."""
    with open(os.path.join(EXAMPLE_DIR, "dw4-fab-quick", "training.json")) as handle:
        schedule = json.load(handle)["schedule"]
    schedule["warmupEpochs"] = max(1, iterations // 10)
    return {"method": "fab", "batchSize": 128, "epochs": iterations, "schedule": schedule, "seed": seed,
            # Start training once the replay buffer holds 16 batches (the default waits longer).
            "fab": {"evalAisSamples": 256, "bufferMinBatches": 16}}


def add_generator(system, temperature, iterations, seed):
    """Add a planar BoltzmannGeneratorForce over the 4 DW4 particles at the target temperature."""
    force = openmmbg.BoltzmannGeneratorForce(range(NUM_PARTICLES), temperature)
    force.setPlanar(True)
    force.setFlow(flow_config())
    force.setTrainingSettings(training_settings(iterations, seed))
    force.setRandomNumberSeed(seed)
    system.addForce(force)
    return force


def make_topology():
    """A minimal Topology (4 unbonded pseudo-atoms) so that openmm.app.Simulation can be used."""
    topology = app.Topology()
    residue = topology.addResidue("DW4", topology.addChain())
    for i in range(NUM_PARTICLES):
        topology.addAtom("P%d" % (i + 1), None, residue)
    return topology


def starting_positions(seed):
    """Four particles near the corners of a square of side d0 = 4 nm, in the z = 0 plane."""
    rng = np.random.default_rng(seed)
    square = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]])
    positions = np.zeros((NUM_PARTICLES, 3))
    positions[:, :2] = square + 0.1 * rng.standard_normal((NUM_PARTICLES, 2))
    return positions * unit.nanometer


def make_simulation(system, temperature, seed, training_interval):
    """A Simulation of the DW4 System with a BoltzmannGeneratorIntegrator: Langevin steps of 0.01 ps
    with one flow move per step and a FAB iteration every training_interval steps (0: none),
    started near the square and at the temperature. Returns (simulation, integrator)."""
    # Masses are 1 amu and the wells have curvatures of 40-120 kJ/mol/nm^2, i.e. vibrational periods
    # of 0.6-1 ps: 0.01 ps steps (~60 per period) are well inside the stable range.
    integrator = openmmbg.BoltzmannGeneratorIntegrator(1.0 / unit.picosecond, 0.01 * unit.picoseconds)
    integrator.setTrainingInterval(training_interval)
    integrator.setFlowMoveInterval(1)
    integrator.setRandomNumberSeed(seed)
    simulation = app.Simulation(make_topology(), system, integrator, openmm.Platform.getPlatformByName("CPU"))
    simulation.context.setPositions(starting_positions(seed))
    simulation.context.setVelocitiesToTemperature(temperature, seed)
    return simulation, integrator


def run_training(simulation, integrator, iterations):
    """Step the Simulation in chunks, printing a line every ~10 % and recording the running ESS
    and the flow-move acceptance rate (so far) for the progress plot."""
    chunk = max(1, iterations // 50)
    print_every = max(1, iterations // 10)
    history = {"step": [], "running_ess": [], "acceptance": []}
    start = time.time()
    done, next_print = 0, print_every
    while done < iterations:
        steps = min(chunk, iterations - done)
        simulation.step(steps)
        done += steps
        history["step"].append(done)
        history["running_ess"].append(integrator.getRunningEss())
        history["acceptance"].append(integrator.getAcceptanceRate())
        if done >= next_print or done == iterations:
            print("step %5d  %7.1f s  loss %9.4f  acceptance %.3f  running ESS %.3f"
                  % (done, time.time() - start, integrator.getLastLoss(), integrator.getAcceptanceRate(),
                     integrator.getRunningEss()), flush=True)
            next_print += print_every
    return history


def plot_progress(history, path):
    """Running ESS and flow-move acceptance rate against the MD step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["step"], history["running_ess"], label="running ESS (last proposals)")
    ax.plot(history["step"], history["acceptance"], label="flow-move acceptance rate (so far)")
    ax.set_xlabel("MD step = FAB iteration")
    ax.set_ylim(0.0, 1.0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_trained_system(system, force, context, path):
    """Store the Context's trained weights in the force and serialize the System with it."""
    force.setFlow(force.getFlowConfig(), force.getWeights(context))
    with open(path, "w") as handle:
        handle.write(openmm.XmlSerializer.serialize(system))


def generator_in(system):
    """The BoltzmannGeneratorForce of a System (e.g. one read back with XmlSerializer)."""
    return next(openmmbg.BoltzmannGeneratorForce.cast(f) for f in system.getForces()
                if openmmbg.BoltzmannGeneratorForce.isinstance(f))


def log_q_in_new_context(system, positions, seed, num_draws):
    """log q of configurations in a fresh Context of the System, with a given random number seed.
    log q(x) is an importance-sampled estimate over random augmented draws, so it is reproducible
    bit for bit only between Contexts that start from the same seed."""
    force = generator_in(system)
    force.setRandomNumberSeed(seed)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    return force.computeLogProb(context, positions, num_draws)


def check_reload(path, system, force, context, positions, seed, num_draws=500):
    """Reload system.xml into a new Context and check that it reproduces log q of a few samples:
    exactly against a new Context of the in-memory trained System with the same seed, and to within
    the Monte Carlo noise of the estimate against the training Context."""
    with open(path) as handle:
        reloaded = openmm.XmlSerializer.deserialize(handle.read())
    from_file = log_q_in_new_context(reloaded, positions, seed, num_draws)
    in_memory = log_q_in_new_context(system, positions, seed, num_draws)
    training = force.computeLogProb(context, positions, num_draws)
    print("reload check (log q of %d samples, %d augmented draws each):" % (len(positions), num_draws))
    print("  reloaded system.xml    %s" % np.array2string(from_file, precision=4))
    print("  trained System         %s  (same seed: max |difference| %.2g)"
          % (np.array2string(in_memory, precision=4), np.max(np.abs(from_file - in_memory))))
    print("  training Context       %s  (other draws: max |difference| %.2g)"
          % (np.array2string(training, precision=4), np.max(np.abs(from_file - training))))
    if not np.array_equal(from_file, in_memory):
        raise RuntimeError("the reloaded System does not reproduce the trained flow's log q")


def main():
    args = parse_arguments()
    os.makedirs(args.out, exist_ok=True)
    start = time.time()

    reference = openmmbg.systems.dw4()
    system = reference.system
    force = add_generator(system, reference.temperature, args.iterations, args.seed)

    simulation, integrator = make_simulation(system, reference.temperature, args.seed, training_interval=1)

    history = run_training(simulation, integrator, args.iterations)
    print("\nafter %d steps (%d FAB iterations, %d flow moves):"
          % (integrator.getStepCount(), integrator.getNumTrainingIterations(), integrator.getNumFlowMoves()))
    print("  flow-move acceptance rate  %.4f" % integrator.getAcceptanceRate())
    print("  running ESS                %.4f" % integrator.getRunningEss())

    samples = force.sample(simulation.context, NUM_SAMPLES)
    print("  reverse ESS of %d flow samples  %.4f" % (NUM_SAMPLES, reverse_ess(samples.logWeights)))

    positions = samples.positions.value_in_unit(unit.nanometer)
    np.save(os.path.join(args.out, "samples.npy"), positions)
    system_path = os.path.join(args.out, "system.xml")
    save_trained_system(system, force, simulation.context, system_path)
    plot_progress(history, os.path.join(args.out, "progress.png"))
    check_reload(system_path, system, force, simulation.context, positions[:5], args.seed)
    print("wrote %s, samples.npy, progress.png in %s (%.1f s in total)" % (system_path, args.out, time.time() - start))


if __name__ == "__main__":
    main()
