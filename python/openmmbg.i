/* SWIG interface of the openmmbg Python module: the OpenMM-facing classes of openmm-bg.
   Our classes derive from the openmm module's own wrappers (%import), so a
   BoltzmannGeneratorForce is an openmm.Force in Python. */
%module(package="openmmbg") openmmbgswig

%import(module="openmm") "swig/OpenMMSwigHeaders.i"
%include "swig/typemaps.i"
%include <std_string.i>
%include <std_vector.i>

%{
#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "ReferenceSystems.h"
#include "OpenMM.h"
#include "openmm/RPMDIntegrator.h"
#include "openmm/RPMDMonteCarloBarostat.h"
#include "openmm/DrudeForce.h"
#include "openmm/DrudeLangevinIntegrator.h"
#include "openmm/DrudeNoseHooverIntegrator.h"
#include "openmm/DrudeSCFIntegrator.h"
#include "openmm/AmoebaGeneralizedKirkwoodForce.h"
#include "openmm/AmoebaMultipoleForce.h"
#include "openmm/AmoebaTorsionTorsionForce.h"
#include "openmm/AmoebaVdwForce.h"
#include "openmm/AmoebaWcaDispersionForce.h"
#include "openmm/HippoNonbondedForce.h"

/* Flat [n*N*3] position lists (nm) to Vec3s, and training reports to flat value lists. */
static std::vector<OpenMM::Vec3> flatToVec3(const std::vector<double>& flat) {
    std::vector<OpenMM::Vec3> positions(flat.size() / 3);
    for (size_t i = 0; i < positions.size(); i++)
        positions[i] = OpenMM::Vec3(flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]);
    return positions;
}
static std::vector<double> reportValues(const BoltzmannPlugin::BoltzmannGeneratorTrainingReport& r) {
    return {double(r.iterations), r.lastLoss, r.meanLoss, double(r.skippedUpdates), r.aisAcceptance, r.seconds,
            double(r.totalIterations)};
}
%}

%pythoncode %{
import collections
import json
import numpy
import openmm
import openmm.unit as unit

FlowSamples = collections.namedtuple("FlowSamples", ["positions", "logProb", "logWeights", "energies"])
FlowSamples.__doc__ = """Samples of a BoltzmannGeneratorForce's flow: positions (Quantity, numpy [n, N, 3] in nm,
centred at the modelled particles' centre in the Context), logProb (numpy [n], joint log q(x, a)), logWeights (numpy [n],
log w = -U/kT + log pi(a|x) - log q(x, a)) and energies (Quantity, numpy [n] in kJ/mol)."""


def _flatPositions(positions, numParticles, method="BoltzmannGeneratorForce"):
    """Positions of one or more configurations of the modelled particles as a flat list in nm.

    positions: a Quantity with length units, or an array-like in nm, of shape [n, N, 3] or [N, 3]
    (one configuration), N = numParticles; anything else is refused (ValueError naming the class)
    rather than re-cut into other configurations."""
    if unit.is_quantity(positions):
        try:
            positions = positions.value_in_unit(unit.nanometer)
        except TypeError:
            raise ValueError("%s: positions must have length units, got %s" % (method, positions.unit)) from None
    if isinstance(positions, (list, tuple)) and len(positions) > 0 and unit.is_quantity(positions[0]):
        try:
            positions = [p.value_in_unit(unit.nanometer) for p in positions]   # e.g. a list of Vec3 Quantities
        except (TypeError, AttributeError):
            raise ValueError("%s: positions must have length units" % method) from None
    try:
        array = numpy.asarray(positions, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError("%s: positions must be a numeric array [n, %d, 3] or [%d, 3] (nm): %s"
                         % (method, numParticles, numParticles, error)) from None
    if array.ndim == 2:
        array = array[numpy.newaxis]
    if array.ndim != 3 or array.shape[1:] != (numParticles, 3) or array.shape[0] == 0:
        raise ValueError("%s: positions must have shape [n, %d, 3] or [%d, 3] with n > 0 (nm), got %s"
                         % (method, numParticles, numParticles, numpy.shape(positions)))
    return array.reshape(-1).tolist()


def _integer(value, name, method):
    """value as an int when it is a Python or numpy integer; TypeError naming method otherwise
    (floats are refused, even integral ones, instead of being truncated)."""
    import numbers
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError("%s: %s must be an integer, got %r (%s)" % (method, name, value, type(value).__name__))
    return int(value)


def _report(values):
    keys = ["iterations", "lastLoss", "meanLoss", "skippedUpdates", "aisAcceptance", "seconds", "totalIterations"]
    report = dict(zip(keys, values))
    for key in ["iterations", "skippedUpdates", "totalIterations"]:
        report[key] = int(report[key])
    return report
%}

/* C++ exceptions become openmm.OpenMMException, as for OpenMM's own classes. */
%exception {
    try {
        $action
    } catch (std::exception& e) {
        PyObject* openmmModule = PyImport_ImportModule("openmm");
        PyObject* exceptionType = openmmModule ? PyObject_GetAttrString(openmmModule, "OpenMMException") : NULL;
        PyErr_Clear();
        PyErr_SetString(exceptionType ? exceptionType : PyExc_Exception, e.what());
        Py_XDECREF(exceptionType);
        Py_XDECREF(openmmModule);
        SWIG_fail;
    }
}

namespace std {
    %template(IntVector) vector<int>;
}

/* Flow weights are bytes in Python (they may contain any byte value). */
%typemap(in) const std::string& weights (std::string temp) {
    char* buffer = NULL;
    Py_ssize_t length = 0;
    if (PyBytes_Check($input))
        PyBytes_AsStringAndSize($input, &buffer, &length);
    else
        SWIG_exception_fail(SWIG_TypeError, "BoltzmannGeneratorForce: flow weights must be bytes");
    temp = std::string(buffer, length);
    $1 = &temp;
}
%typemap(freearg) const std::string& weights ""
%typemap(typecheck) const std::string& weights {
    $1 = PyBytes_Check($input) ? 1 : 0;
}
%typemap(out) const std::string& BoltzmannPlugin::BoltzmannGeneratorForce::getFlowWeights {
    $result = PyBytes_FromStringAndSize($1->data(), $1->size());
}

/* Flat lists of numbers cross the boundary as Python sequences of floats. */
%typemap(in) const std::vector<double>& flat (std::vector<double> temp) {
    PyObject* sequence = PySequence_Fast($input, "expected a sequence of numbers");
    if (sequence == NULL)
        SWIG_fail;
    Py_ssize_t length = PySequence_Fast_GET_SIZE(sequence);
    temp.resize(length);
    for (Py_ssize_t i = 0; i < length; i++)
        temp[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(sequence, i));
    Py_DECREF(sequence);
    if (PyErr_Occurred())
        SWIG_fail;
    $1 = &temp;
}
%typemap(out) std::vector<double> {
    const std::vector<double>& values = $1;
    $result = PyList_New(values.size());
    for (size_t i = 0; i < values.size(); i++)
        PyList_SET_ITEM($result, i, PyFloat_FromDouble(values[i]));
}
%typemap(out) std::string BoltzmannPlugin::BoltzmannGeneratorForce::_weightsIn {
    $result = PyBytes_FromStringAndSize($1.data(), $1.size());
}

/* Lists of positions come back as lists of openmm.Vec3. */
%typemap(out, fragment="Vec3_to_PyVec3") std::vector<OpenMM::Vec3> {
    const std::vector<OpenMM::Vec3>& positions = $1;
    $result = PyList_New(positions.size());
    for (size_t i = 0; i < positions.size(); i++)
        PyList_SET_ITEM($result, i, Vec3_to_PyVec3(positions[i]));
}

namespace BoltzmannPlugin {

%pythonprepend BoltzmannGeneratorForce::BoltzmannGeneratorForce %{
    if unit.is_quantity(temperature):
        temperature = temperature.value_in_unit(unit.kelvin)
    try:
        particles = tuple(particles)
    except TypeError:
        raise TypeError("BoltzmannGeneratorForce: particles must be a sequence of particle indices, got %r" % (particles,)) from None
    particles = tuple(_integer(p, "particle indices", "BoltzmannGeneratorForce") for p in particles)
%}
%pythonprepend BoltzmannGeneratorForce::setTrainingSettings %{
    if isinstance(json, dict):
        import json as _json
        json = _json.dumps(json)
%}
%pythonprepend BoltzmannGeneratorForce::setFlow %{
    if len(args) > 0 and isinstance(args[0], dict):
        args = (json.dumps(args[0]),) + tuple(args[1:])
%}
%pythonprepend BoltzmannGeneratorForce::setTemperature %{
    if unit.is_quantity(temperature):
        temperature = temperature.value_in_unit(unit.kelvin)
%}
%pythonappend BoltzmannGeneratorForce::getTemperature %{
    val = unit.Quantity(val, unit.kelvin)
%}
%pythonappend BoltzmannGeneratorForce::getParticles %{
    val = tuple(val)
%}
%pythonappend BoltzmannGeneratorForce::getModelledPositions %{
    val = unit.Quantity(val, unit.nanometer)
%}
/* cast returns a reference into its argument: the result keeps the argument alive, so that
   BoltzmannGeneratorForce.cast(XmlSerializer.deserialize(xml)) in one expression stays valid. */
%pythonappend BoltzmannGeneratorForce::cast %{
    val._castSource = force
%}

/**
 * Adds a Boltzmann generator (a normalising flow over the modelled particles) to a System.
 * It adds no energy and no forces.
 */
class BoltzmannGeneratorForce : public OpenMM::Force {
public:
    BoltzmannGeneratorForce(const std::vector<int>& particles, double temperature);
    int getNumParticles() const;
    const std::vector<int>& getParticles() const;
    double getTemperature() const;
    void setTemperature(double temperature);
    void setFlow(const std::string& config, const std::string& weights = std::string());
    bool hasFlow() const;
    const std::string& getFlowConfig() const;
    const std::string& getFlowWeights() const;
    std::vector<OpenMM::Vec3> getModelledPositions(OpenMM::Context& context) const;
    bool usesPeriodicBoundaryConditions() const;

    bool isPlanar() const;
    void setPlanar(bool planar);
    int getDimension() const;
    void setTrainingSettings(const std::string& json);
    const std::string& getTrainingSettings() const;
    int getRandomNumberSeed() const;
    void setRandomNumberSeed(int seed);
    void updateParametersInContext(OpenMM::Context& context);

    %extend {
        /* Flat-array helpers behind the Python methods below (positions in nm, sample-major). */
        std::vector<double> _sampleFlat(OpenMM::Context& context, int numSamples) {
            BoltzmannPlugin::BoltzmannGeneratorSamples s = self->sample(context, numSamples);
            std::vector<double> out;
            for (const OpenMM::Vec3& p : s.positions)
                for (int k = 0; k < 3; k++)
                    out.push_back(p[k]);
            out.insert(out.end(), s.logProb.begin(), s.logProb.end());
            out.insert(out.end(), s.logWeights.begin(), s.logWeights.end());
            out.insert(out.end(), s.energies.begin(), s.energies.end());
            return out;
        }
        std::vector<double> _logProbFlat(OpenMM::Context& context, const std::vector<double>& flat, int numDraws) {
            std::vector<OpenMM::Vec3> positions = flatToVec3(flat);
            return self->computeLogProb(context, positions, numDraws);
        }
        std::vector<double> _logWeightsFlat(OpenMM::Context& context, const std::vector<double>& flat, int numDraws) {
            std::vector<OpenMM::Vec3> positions = flatToVec3(flat);
            return self->computeLogWeights(context, positions, numDraws);
        }
        std::vector<double> _energiesFlat(OpenMM::Context& context, const std::vector<double>& flat) {
            std::vector<OpenMM::Vec3> positions = flatToVec3(flat);
            return self->computeEnergies(context, positions);
        }
        std::vector<double> _trainFlat(OpenMM::Context& context, int iterations) {
            BoltzmannPlugin::BoltzmannGeneratorTrainingReport r = self->train(context, iterations);
            return reportValues(r);
        }
        std::vector<double> _trainOnSamplesFlat(OpenMM::Context& context, const std::vector<double>& flat, int iterations) {
            std::vector<OpenMM::Vec3> positions = flatToVec3(flat);
            BoltzmannPlugin::BoltzmannGeneratorTrainingReport r = self->trainOnSamples(context, positions, iterations);
            return reportValues(r);
        }
        std::string _weightsIn(OpenMM::Context& context) {
            return self->getWeights(context);
        }
        /** Cast an openmm.Force (e.g. from System.getForce or XmlSerializer) to a BoltzmannGeneratorForce. */
        static BoltzmannPlugin::BoltzmannGeneratorForce& cast(OpenMM::Force& force) {
            BoltzmannPlugin::BoltzmannGeneratorForce* result = dynamic_cast<BoltzmannPlugin::BoltzmannGeneratorForce*>(&force);
            if (result == NULL)
                throw OpenMM::OpenMMException("BoltzmannGeneratorForce.cast: the Force is not a BoltzmannGeneratorForce");
            return *result;
        }
        /** Whether an openmm.Force is a BoltzmannGeneratorForce. */
        static bool isinstance(OpenMM::Force& force) {
            return dynamic_cast<BoltzmannPlugin::BoltzmannGeneratorForce*>(&force) != NULL;
        }
    }
    %pythoncode %{
        def sample(self, context, numSamples):
            """Draw numSamples (a positive integer) independent configurations of the modelled particles
            from the Context's flow.

            Returns a FlowSamples tuple: positions (Quantity, numpy [n, N, 3] in nm), logProb (numpy [n],
            joint log q(x, a)), logWeights (numpy [n], the exact joint importance log-weights
            log w = -U/kT + log pi(a|x) - log q(x, a)) and energies (Quantity, numpy [n], kJ/mol).
            openmmbg.reweight(samples, force, context) uses these exact logWeights."""
            n, N = _integer(numSamples, "numSamples", "BoltzmannGeneratorForce.sample"), self.getNumParticles()
            flat = numpy.asarray(self._sampleFlat(context, n))
            positions = flat[:3 * n * N].reshape(n, N, 3)
            rest = flat[3 * n * N:].reshape(3, n)
            return FlowSamples(unit.Quantity(positions, unit.nanometer), rest[0].copy(), rest[1].copy(),
                               unit.Quantity(rest[2].copy(), unit.kilojoule_per_mole))

        def computeLogProb(self, context, positions, numDraws=20):
            """Marginal log q(x) of configurations (Quantity with length units or array in nm, shape
            [n, N, 3] or [N, 3], N = getNumParticles(), in the force's particle order) under the Context's
            flow. The augmented variables are integrated out by importance sampling over numDraws draws
            from pi(a|x): an estimate (biased for finite numDraws) unless the flow is exact. Returns numpy [n]."""
            numDraws = _integer(numDraws, "numDraws", "BoltzmannGeneratorForce.computeLogProb")
            flat = _flatPositions(positions, self.getNumParticles(), "BoltzmannGeneratorForce.computeLogProb")
            return numpy.asarray(self._logProbFlat(context, flat, numDraws))

        def computeLogWeights(self, context, positions, numDraws=20):
            """Importance log-weights log w = -U/kT - log q(x) of configurations (Quantity with length units
            or array in nm, shape [n, N, 3] or [N, 3], in the force's particle order), U in kJ/mol, T the
            force's temperature. log q(x) is the marginal *estimate* of computeLogProb (numDraws augmented
            draws per configuration): use it for configurations that are not FlowSamples (MD frames, flow
            samples read back from a file); for samples from sample(), their logWeights are exact.
            Returns numpy [n] (-inf where the energy failed)."""
            numDraws = _integer(numDraws, "numDraws", "BoltzmannGeneratorForce.computeLogWeights")
            flat = _flatPositions(positions, self.getNumParticles(), "BoltzmannGeneratorForce.computeLogWeights")
            return numpy.asarray(self._logWeightsFlat(context, flat, numDraws))

        def computeEnergies(self, context, positions):
            """Target potential energies U of configurations (Quantity with length units or array in nm,
            shape [n, N, 3] or [N, 3], in the force's particle order): every force of the System except
            those in the force's own non-zero force group. Returns a Quantity, numpy [n] in kJ/mol."""
            flat = _flatPositions(positions, self.getNumParticles(), "BoltzmannGeneratorForce.computeEnergies")
            values = self._energiesFlat(context, flat)
            return unit.Quantity(numpy.asarray(values), unit.kilojoule_per_mole)

        def train(self, context, iterations):
            """Run iterations (a positive integer) FAB iterations on the Context's flow. Returns a dict:
            iterations, lastLoss, meanLoss, skippedUpdates, aisAcceptance, seconds, totalIterations."""
            iterations = _integer(iterations, "iterations", "BoltzmannGeneratorForce.train")
            return _report(self._trainFlat(context, iterations))

        def trainOnSamples(self, context, positions, iterations):
            """Maximum-likelihood updates (iterations, a positive integer) of the Context's flow on
            configurations (Quantity with length units or array in nm, shape [n, N, 3] or [N, 3], in the
            force's particle order). Returns a dict like train()."""
            iterations = _integer(iterations, "iterations", "BoltzmannGeneratorForce.trainOnSamples")
            flat = _flatPositions(positions, self.getNumParticles(), "BoltzmannGeneratorForce.trainOnSamples")
            return _report(self._trainOnSamplesFlat(context, flat, iterations))

        def getWeights(self, context):
            """The Context's current flow as bytes, for setFlow(getFlowConfig(), weights)."""
            return self._weightsIn(context)

        def __copy__(self):
            return _forceFromXml(openmm.XmlSerializer.serialize(self))

        def __deepcopy__(self, memo):
            return self.__copy__()

        def __reduce__(self):
            return (_forceFromXml, (openmm.XmlSerializer.serialize(self),))
    %}
};

}

/* The integrator: Langevin dynamics plus flow moves and FAB iterations inside step(). */
namespace BoltzmannPlugin {

%pythonprepend BoltzmannGeneratorIntegrator::BoltzmannGeneratorIntegrator %{
    if unit.is_quantity(frictionCoeff):
        frictionCoeff = frictionCoeff.value_in_unit(unit.picosecond**-1)
    if unit.is_quantity(stepSize):
        stepSize = stepSize.value_in_unit(unit.picosecond)
%}
%pythonprepend BoltzmannGeneratorIntegrator::setFriction %{
    if unit.is_quantity(coeff):
        coeff = coeff.value_in_unit(unit.picosecond**-1)
%}
%pythonappend BoltzmannGeneratorIntegrator::getFriction %{
    val = unit.Quantity(val, unit.picosecond**-1)
%}
%pythonappend BoltzmannGeneratorIntegrator::cast %{
    val._castSource = integrator
%}

/**
 * Langevin dynamics at the BoltzmannGeneratorForce's temperature with independence
 * Metropolis-Hastings moves from the flow every flowMoveInterval steps (exact) and one FAB
 * iteration every trainingInterval steps.
 */
class BoltzmannGeneratorIntegrator : public OpenMM::Integrator {
public:
    BoltzmannGeneratorIntegrator(double frictionCoeff, double stepSize);
    double getFriction() const;
    void setFriction(double coeff);
    int getFlowMoveInterval() const;
    void setFlowMoveInterval(int steps);
    int getTrainingInterval() const;
    void setTrainingInterval(int steps);
    int getProposalBatchSize() const;
    void setProposalBatchSize(int size);
    int getEssWindow() const;
    void setEssWindow(int proposals);
    int getRandomNumberSeed() const;
    void setRandomNumberSeed(int seed);
    void step(int steps);
    long long getNumFlowMoves() const;
    long long getNumAcceptedFlowMoves() const;
    double getAcceptanceRate() const;
    double getRunningEss() const;
    double getLastLoss() const;
    long long getNumTrainingIterations() const;
    long long getStepCount() const;

    %extend {
        /** Cast an openmm.Integrator (e.g. from XmlSerializer) to a BoltzmannGeneratorIntegrator. */
        static BoltzmannPlugin::BoltzmannGeneratorIntegrator& cast(OpenMM::Integrator& integrator) {
            BoltzmannPlugin::BoltzmannGeneratorIntegrator* result = dynamic_cast<BoltzmannPlugin::BoltzmannGeneratorIntegrator*>(&integrator);
            if (result == NULL)
                throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator.cast: the Integrator is not a BoltzmannGeneratorIntegrator");
            return *result;
        }
        /** Whether an openmm.Integrator is a BoltzmannGeneratorIntegrator. */
        static bool isinstance(OpenMM::Integrator& integrator) {
            return dynamic_cast<BoltzmannPlugin::BoltzmannGeneratorIntegrator*>(&integrator) != NULL;
        }
    }
    %pythoncode %{
        def __copy__(self):
            return _integratorFromXml(openmm.XmlSerializer.serialize(self))

        def __deepcopy__(self, memo):
            return self.__copy__()

        def __reduce__(self):
            return (_integratorFromXml, (openmm.XmlSerializer.serialize(self),))
    %}
};

}

/* The reference problems (ReferenceSystems.h); openmmbg.systems builds on these. Systems are new
   objects owned by Python; temperatures, energies and positions come back as Quantities. */
namespace BoltzmannPlugin {

%newobject createDoubleWell4System;
%newobject createLennardJones13System;
%newobject createAlanineDipeptideSystem;

%pythonappend referenceSystemTemperature %{
    val = unit.Quantity(val, unit.kelvin)
%}
%pythonappend referenceSystemEnergyUnit %{
    val = unit.Quantity(val, unit.kilojoule_per_mole)
%}
%pythonappend alanineDipeptideDefaultTemperature %{
    val = unit.Quantity(val, unit.kelvin)
%}
%pythonappend alanineDipeptidePositions %{
    val = unit.Quantity(val, unit.nanometer)
%}

/** The temperature (K) at which one reduced energy unit of DW4 and LJ13 is kT (300 K). */
double referenceSystemTemperature();
/** One reduced energy unit of DW4 and LJ13: BOLTZ * 300 K, in kJ/mol. */
double referenceSystemEnergyUnit();
/** The 4-particle double well (model-spec 9.1) in reduced units (1 nm, kT at 300 K); keep z = 0. */
OpenMM::System* createDoubleWell4System();
/** The 13-particle Lennard-Jones cluster with its harmonic centre term (model-spec 9.2), reduced units. */
OpenMM::System* createLennardJones13System();
/** The default temperature of the alanine dipeptide target (800 K). */
double alanineDipeptideDefaultTemperature();
/** File names of the alanine dipeptide System (XML) and structure (PDB) inside the data directory. */
std::string alanineDipeptideSystemFile();
std::string alanineDipeptideStructureFile();
/** Alanine dipeptide, Amber ff96 + OBC1, no cutoff, no constraints, read from the data directory. */
OpenMM::System* createAlanineDipeptideSystem(const std::string& dataDirectory);
/** The energy-minimised alanine dipeptide positions (nm) from the data directory. */
std::vector<OpenMM::Vec3> alanineDipeptidePositions(const std::string& dataDirectory);

}

%pythoncode %{
def _integratorFromXml(xml):
    """Deserialize a BoltzmannGeneratorIntegrator and return it as an owning BoltzmannGeneratorIntegrator."""
    generic = openmm.XmlSerializer.deserialize(xml)
    generic.thisown = False
    integrator = BoltzmannGeneratorIntegrator.cast(generic)
    integrator.thisown = True
    return integrator


def _forceFromXml(xml):
    """Deserialize a BoltzmannGeneratorForce and return it as an owning BoltzmannGeneratorForce."""
    generic = openmm.XmlSerializer.deserialize(xml)
    generic.thisown = False
    force = BoltzmannGeneratorForce.cast(generic)
    force.thisown = True
    return force
%}
