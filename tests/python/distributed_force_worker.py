"""One process of the data-parallel tests of BoltzmannGeneratorForce (test_force_distributed.py): it
builds a small DW4 System with the force, trains through the Python API and writes what the test
compares into a JSON file.

    python distributed_force_worker.py ml|fab|abandon BATCH OUT.json [--distributed]

ml: trainOnSamples() on fixed configurations (ML_UPDATES updates); fab: train() (FAB_ITERATIONS
iterations), then steps of a BoltzmannGeneratorIntegrator with in-step training in a second
Context of the same process (one step; one more after a checkpoint, taken twice); abandon: rank 1
leaves after one update and rank 0 reports the error of its next call. With --distributed the force's distributed training is on, and the
launcher variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) must be set."""
import hashlib
import json
import os
import sys

import numpy as np
import openmm
import openmm.unit as unit

import openmmbg

FLOW = {"numParticles": 4, "dimension": 2, "numBlocks": 1, "egnnLayers": 1, "egnnWidth": 8,
        "invariantFeatures": 8, "headWidths": [8], "dtype": "float64"}
SCHEDULE = {"initialLr": 3e-3, "peakLr": 3e-3, "endLr": 3e-3}
FAB = {"bufferMinBatches": 2, "bufferMaxBatches": 4, "updatesPerIteration": 2,
       "ais": {"numIntermediate": 1, "initialStepSize": 0.05}}
POSITIONS = np.array([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]])   # nm
ML_UPDATES = 6
FAB_ITERATIONS = 2


def training_data():
    """64 planar DW4-like configurations [64, 4, 3] in nm, alike in every process (fixed seed)."""
    noise = 0.3 * np.random.default_rng(3).standard_normal((64, 4, 3))
    noise[:, :, 2] = 0.0
    return POSITIONS[np.newaxis] + noise


def make_context(batch_size, distributed, integrator=None):
    """A DW4 System with a planar force (seed 5, float64 flow), in a Reference Context at POSITIONS."""
    reference = openmmbg.systems.dw4()
    force = openmmbg.BoltzmannGeneratorForce(range(4), reference.temperature)
    force.setPlanar(True)
    force.setFlow(FLOW)
    force.setRandomNumberSeed(5)
    force.setTrainingSettings({"batchSize": batch_size, "epochs": 10, "schedule": SCHEDULE, "fab": FAB})
    force.setDistributedTraining(distributed)
    force.setDistributedTimeout(60 * unit.second)
    system = reference.system
    system.addForce(force)
    context = openmm.Context(system, integrator or openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(POSITIONS * unit.nanometer)
    return force, context


def digest(force, context):
    return hashlib.sha256(force.getWeights(context)).hexdigest()


def reloaded_log_prob(force, context, positions):
    """log q at positions of the Context's trained flow, reloaded into the Context (its generator
    re-seeded), so that the estimate depends on the weights alone."""
    force.setFlow(force.getFlowConfig(), force.getWeights(context))
    force.updateParametersInContext(context)
    return list(force.computeLogProb(context, positions, 4))


def run_ml(batch_size, distributed):
    force, context = make_context(batch_size, distributed)
    data = training_data()
    before = reloaded_log_prob(force, context, data[:8])
    report = force.trainOnSamples(context, data * unit.nanometer, ML_UPDATES)
    result = {"weights": digest(force, context), "lastLoss": report.lastLoss, "meanLoss": report.meanLoss}
    result.update(logq_before=before, logq_after=reloaded_log_prob(force, context, data[:8]))
    return result


def run_fab(batch_size, distributed):
    force, context = make_context(batch_size, distributed)
    report = force.train(context, FAB_ITERATIONS)
    result = {"weights": digest(force, context), "lastLoss": report.lastLoss, "meanLoss": report.meanLoss,
              "iterations": report.iterations}
    integrator = openmmbg.BoltzmannGeneratorIntegrator(1.0 / unit.picosecond, 0.005 * unit.picoseconds)
    integrator.setTrainingInterval(1)
    integrator.setFlowMoveInterval(0)
    integrator.setRandomNumberSeed(21)
    force, context = make_context(batch_size, distributed, integrator)
    integrator.step(1)
    result.update(integratorWeights=digest(force, context), integratorLoss=integrator.getLastLoss(),
                  integratorIterations=integrator.getNumTrainingIterations())
    # A checkpoint carries this rank's FAB stream: the step after it is taken twice alike.
    checkpoint = context.createCheckpoint()
    integrator.step(1)
    again = digest(force, context)
    context.loadCheckpoint(checkpoint)
    integrator.step(1)
    result.update(stepAfterCheckpoint=again, stepAfterReload=digest(force, context))
    return result


def run_abandoned(batch_size, distributed):
    """Rank 1 leaves after one update (as if it died); rank 0's next call must fail, not wait."""
    force, context = make_context(batch_size, distributed)
    data = training_data() * unit.nanometer
    force.trainOnSamples(context, data, 1)
    if os.environ.get("RANK") == "1":
        os._exit(0)
    try:
        force.trainOnSamples(context, data, 2)
        return {"error": None}
    except openmm.OpenMMException as e:
        return {"error": str(e)}


if __name__ == "__main__":
    mode, batch, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    result = {"ml": run_ml, "fab": run_fab, "abandon": run_abandoned}[mode](batch, "--distributed" in sys.argv[4:])
    with open(out, "w") as f:
        json.dump(result, f)
