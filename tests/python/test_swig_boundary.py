"""What crosses the SWIG boundary: the C++ documentation as docstrings, the sample and training-report
structs as objects with named fields, positions as float64 arrays, and calls that release the GIL."""
import time

import numpy as np
import openmm.unit as unit
import pytest

import openmmbg
from openmmbg.openmmbgswig import BoltzmannGeneratorSamples, BoltzmannGeneratorTrainingReport
from test_boltzmann_generator import CHAIN_POSITIONS, chain_with_force, nm

#: FAB settings for the cheapest iterations that still run every part (buffer, AIS, updates).
CHEAP_FAB = {"batchSize": 4, "epochs": 4,
             "fab": {"bufferMinBatches": 1, "bufferMaxBatches": 2, "updatesPerIteration": 1,
                     "ais": {"numIntermediate": 1, "initialStepSize": 0.02}}}

Force = openmmbg.BoltzmannGeneratorForce
Integrator = openmmbg.BoltzmannGeneratorIntegrator


# Phrases found only in the C++ doc comments of the headers (BoltzmannGeneratorForce.h,
# BoltzmannGeneratorIntegrator.h), so each docstring must come from there (swig -doxygen).
CPP_DOC_PHRASES = [
    (Force, "Like CMMotionRemover it adds no energy"),
    (Force.__init__, "temperature of the target distribution, in Kelvin"),
    (Force.setTemperature, "in Kelvin; must be positive"),
    (Force.sample, "half of the machine's memory"),
    (Force.sample, "energies U in kJ/mol"),
    (Force.computeLogProb, "n*N positions in nm"),
    (Force.computeLogProb, "nm^-(N-1)D"),
    (Force.computeLogWeights, "log w(x) = -U(x)/kT - log q(x)"),
    (Force.computeLogWeights, "OpenMMException"),
    (Force.computeEnergies, "n energies in kJ/mol"),
    (Force.train, "prioritised replay buffer"),
    (Force.trainOnSamples, "minibatch updates, positive"),
    (Force.getWeights, "bytes for setFlow()"),
    (Force.updateParametersInContext, "keeps its trained flow"),
    (Integrator, "independence Metropolis-Hastings"),
    (Integrator.__init__, "in 1/ps"),
    (Integrator.__init__, "the time step, in ps"),
    (Integrator.setFlowMoveInterval, "number of steps between flow moves"),
    (Integrator.getRunningEss, "Reverse effective sample size"),
    (BoltzmannGeneratorSamples, "importance weights"),
    (BoltzmannGeneratorSamples.energies, "in kJ/mol"),
    (BoltzmannGeneratorSamples.positions, "n*N positions in nm"),
    (BoltzmannGeneratorTrainingReport.seconds, "wall-clock time of the call, in s"),
    (BoltzmannGeneratorTrainingReport.aisAcceptance, "HMC acceptance"),
]


@pytest.mark.parametrize("documented, phrase", CPP_DOC_PHRASES,
                         ids=["%s:%s" % (getattr(d, "__qualname__", type(d).__name__), p) for d, p in CPP_DOC_PHRASES])
def test_docstrings_carry_the_cpp_documentation(documented, phrase):
    assert phrase in " ".join((documented.__doc__ or "").split())


@pytest.mark.parametrize("method", ["sample", "computeLogProb", "computeLogWeights", "computeEnergies",
                                    "trainOnSamples"])
def test_python_wrappers_keep_the_cpp_text_and_add_the_python_forms(method):
    doc = getattr(Force, method).__doc__
    cpp = getattr(Force, "_" + method).__doc__
    assert " ".join(doc.split()).startswith(" ".join(cpp.split()))
    assert "In Python:" in doc and ("[n, N, 3]" in doc)


def test_sample_struct_fields_become_the_flow_samples_by_name():
    _, force, context = chain_with_force("Reference", identity=True, seed=3)
    struct = force._sample(context, 5)
    assert isinstance(struct, BoltzmannGeneratorSamples)
    assert (struct.numSamples, struct.numParticles) == (5, 4)
    assert struct.positions.shape == (20, 3) and struct.positions.dtype == np.float64
    for name in ("logProb", "logWeights", "energies"):
        assert getattr(struct, name).shape == (5,)
    with pytest.raises(AttributeError):
        struct.numSamples = 6   # results are read-only
    # The FlowSamples tuple of the same seeded draw, field by field.
    _, force2, context2 = chain_with_force("Reference", identity=True, seed=3)
    samples = force2.sample(context2, 5)
    np.testing.assert_array_equal(nm(samples.positions), struct.positions.reshape(5, 4, 3))
    np.testing.assert_array_equal(samples.logProb, struct.logProb)
    np.testing.assert_array_equal(samples.logWeights, struct.logWeights)
    np.testing.assert_array_equal(samples.energies.value_in_unit(unit.kilojoule_per_mole), struct.energies)
    # A second path to the energies: the force evaluates the sampled positions again.
    np.testing.assert_allclose(force2.computeEnergies(context2, samples.positions).value_in_unit(
        unit.kilojoule_per_mole), struct.energies, rtol=1e-10)


def test_every_training_report_field_arrives_by_name():
    # Two Contexts with the same seed: context A trains in two calls of one iteration, context B in
    # one call of two; B's report must agree, field by field, with what A's calls reported.
    _, forceA, contextA = chain_with_force("CPU", identity=True, seed=7)
    _, forceB, contextB = chain_with_force("CPU", identity=True, seed=7)
    for force, context in ((forceA, contextA), (forceB, contextB)):
        force.setTrainingSettings(CHEAP_FAB)
        force.updateParametersInContext(context)
    first, second = forceA.train(contextA, 1), forceA.train(contextA, 1)
    start = time.perf_counter()
    report = forceB.train(contextB, 2)
    elapsed = time.perf_counter() - start
    assert isinstance(report, BoltzmannGeneratorTrainingReport)
    assert report.iterations == 2 and isinstance(report.iterations, int)
    assert (first.totalIterations, second.totalIterations, report.totalIterations) == (1, 2, 2)
    assert report.lastLoss == second.lastLoss
    assert report.meanLoss == pytest.approx((first.lastLoss + second.lastLoss) / 2, rel=1e-12)
    assert report.meanLoss != report.lastLoss
    assert report.aisAcceptance == second.aisAcceptance and 0.0 < report.aisAcceptance <= 1.0
    assert report.skippedUpdates == first.skippedUpdates + second.skippedUpdates
    assert isinstance(report.skippedUpdates, int)
    assert 0.0 < report.seconds <= elapsed
    # The dict-style reading of earlier versions still works.
    assert set(report.keys()) == {"iterations", "lastLoss", "meanLoss", "skippedUpdates", "aisAcceptance",
                                  "seconds", "totalIterations"}
    assert dict(report)["lastLoss"] == report["lastLoss"] == report.lastLoss
    with pytest.raises(KeyError):
        report["noSuchField"]
    # Maximum likelihood fills the same struct: no AIS, so its acceptance is exactly 0.
    data = nm(forceB.sample(contextB, 4).positions)
    ml = forceB.trainOnSamples(contextB, data * unit.nanometer, 1)
    assert (ml.iterations, ml.totalIterations, ml.aisAcceptance) == (1, 1, 0.0)


def test_no_flat_helpers_remain_across_the_boundary():
    for cls in (Force, Integrator):
        assert not [name for name in dir(cls) if "Flat" in name]
    assert not hasattr(openmmbg.openmmbgswig, "_report")


def test_positions_enter_only_as_float64_arrays_of_vec3_rows():
    _, force, context = chain_with_force("Reference")
    rows = np.asarray(nm(CHAIN_POSITIONS), dtype=np.float64)
    assert force._computeEnergies(context, rows).shape == (1,)
    for bad in (rows.astype(np.float32), rows[:, :2].copy(), rows.reshape(-1), rows.T):
        with pytest.raises(TypeError, match="BoltzmannGeneratorForce.*float64 array"):
            force._computeEnergies(context, bad)


def test_training_works_with_torch_imported():
    # LibTorch refuses autograd (here the backward pass of maximum likelihood) on a thread that holds
    # the GIL once the torch module is loaded in the process.
    torch = pytest.importorskip("torch")
    assert torch.__version__
    _, force, context = chain_with_force("Reference", identity=True, seed=5)
    force.setTrainingSettings(CHEAP_FAB)
    force.updateParametersInContext(context)
    data = nm(force.sample(context, 4).positions)
    assert force.trainOnSamples(context, data, 1).iterations == 1
