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


def _positionsArray(positions, numParticles, method="BoltzmannGeneratorForce"):
    """Positions of one or more configurations of the modelled particles as a C-contiguous float64
    numpy array [n*N, 3] in nm, sample-major (what the C++ methods take as n*N Vec3s).

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
    return numpy.ascontiguousarray(array.reshape(-1, 3), dtype=numpy.float64)


def _integer(value, name, method):
    """value as an int when it is a Python or numpy integer; TypeError naming method otherwise
    (floats are refused, even integral ones, instead of being truncated)."""
    import numbers
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError("%s: %s must be an integer, got %r (%s)" % (method, name, value, type(value).__name__))
    return int(value)


def _withCppDoc(cppMethod, pythonNote):
    """Decorator for a Python method that stands in for a wrapped C++ method: its docstring is the C++
    documentation (from the header, through SWIG -doxygen) followed by what differs in Python."""
    import inspect
    import textwrap

    def decorate(method):
        note = textwrap.fill("In Python: " + pythonNote, width=100)
        method.__doc__ = "%s\n\n%s" % (inspect.cleandoc(cppMethod.__doc__ or ""), note)
        return method
    return decorate


def _flowSamples(samples):
    """A FlowSamples tuple from a BoltzmannGeneratorSamples struct, field by field."""
    positions = samples.positions.reshape(samples.numSamples, samples.numParticles, 3)
    return FlowSamples(unit.Quantity(positions, unit.nanometer), samples.logProb, samples.logWeights,
                       unit.Quantity(samples.energies, unit.kilojoule_per_mole))
%}

%include "boundary.i"

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
%pythonprepend BoltzmannGeneratorForce::setDistributedTimeout %{
    if unit.is_quantity(seconds):
        seconds = seconds.value_in_unit(unit.second)
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

/* The classes and structs come from the C++ headers, so their doc comments become the Python
   docstrings (swig -doxygen). The header macro for symbol export means nothing to SWIG. */
#define OPENMM_EXPORT_BG
%pythonprepend BoltzmannGeneratorForce::train %{
    iterations = _integer(iterations, "iterations", "BoltzmannGeneratorForce.train")
%}
/* Python wrappers stand in for sample() (a FlowSamples tuple) and the methods that take positions
   (units, [N, 3] or [n, N, 3] input, checks); their docstrings start with the C++ documentation. */
%rename(_sample) BoltzmannGeneratorForce::sample;
%rename(_computeLogProb) BoltzmannGeneratorForce::computeLogProb;
%rename(_computeLogWeights) BoltzmannGeneratorForce::computeLogWeights;
%rename(_computeEnergies) BoltzmannGeneratorForce::computeEnergies;
%rename(_trainOnSamples) BoltzmannGeneratorForce::trainOnSamples;

}

/* The result structs' fields are read-only attributes, read by value (vectors become numpy arrays). */
%immutable;
%naturalvar;
%include "BoltzmannGeneratorForce.h"
%mutable;
%clearnaturalvar;

namespace BoltzmannPlugin {

%extend BoltzmannGeneratorForce {
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
    %pythoncode %{
        @_withCppDoc(_sample, "numSamples and weightDraws (default 1) are positive integers; returns a FlowSamples tuple: positions (Quantity, "
                     "numpy [n, N, 3] in nm), logProb and logWeights (numpy [n]), energies (Quantity, numpy [n] in "
                     "kJ/mol), converted field by field from the BoltzmannGeneratorSamples struct.")
        def sample(self, context, numSamples, weightDraws=1):
            numSamples = _integer(numSamples, "numSamples", "BoltzmannGeneratorForce.sample")
            weightDraws = _integer(weightDraws, "weightDraws", "BoltzmannGeneratorForce.sample")
            return _flowSamples(self._sample(context, numSamples, weightDraws))

        @_withCppDoc(_computeLogProb, "positions is a Quantity with length units or an array in nm, shape "
                     "[n, N, 3] or [N, 3]; returns numpy [n]; bad arguments raise ValueError/TypeError.")
        def computeLogProb(self, context, positions, numDraws=20):
            numDraws = _integer(numDraws, "numDraws", "BoltzmannGeneratorForce.computeLogProb")
            positions = _positionsArray(positions, self.getNumParticles(), "BoltzmannGeneratorForce.computeLogProb")
            return self._computeLogProb(context, positions, numDraws)

        @_withCppDoc(_computeLogWeights, "positions is a Quantity with length units or an array in nm, shape "
                     "[n, N, 3] or [N, 3]; returns numpy [n]. For samples from sample(), their logWeights are "
                     "exact; openmmbg.reweight(samples, force, context) uses them.")
        def computeLogWeights(self, context, positions, numDraws=20):
            numDraws = _integer(numDraws, "numDraws", "BoltzmannGeneratorForce.computeLogWeights")
            positions = _positionsArray(positions, self.getNumParticles(), "BoltzmannGeneratorForce.computeLogWeights")
            return self._computeLogWeights(context, positions, numDraws)

        @_withCppDoc(_computeEnergies, "positions is a Quantity with length units or an array in nm, shape "
                     "[n, N, 3] or [N, 3]; returns a Quantity, numpy [n] in kJ/mol.")
        def computeEnergies(self, context, positions):
            positions = _positionsArray(positions, self.getNumParticles(), "BoltzmannGeneratorForce.computeEnergies")
            return unit.Quantity(self._computeEnergies(context, positions), unit.kilojoule_per_mole)

        @_withCppDoc(_trainOnSamples, "positions is a Quantity with length units or an array in nm, shape "
                     "[n, N, 3] or [N, 3]; returns a BoltzmannGeneratorTrainingReport like train().")
        def trainOnSamples(self, context, positions, iterations):
            iterations = _integer(iterations, "iterations", "BoltzmannGeneratorForce.trainOnSamples")
            positions = _positionsArray(positions, self.getNumParticles(), "BoltzmannGeneratorForce.trainOnSamples")
            return self._trainOnSamples(context, positions, iterations)

        def __copy__(self):
            return _forceFromXml(openmm.XmlSerializer.serialize(self))

        def __deepcopy__(self, memo):
            return self.__copy__()

        def __reduce__(self):
            return (_forceFromXml, (openmm.XmlSerializer.serialize(self),))
    %}
}

/* The training report reads like a dict too (report["lastLoss"]), as it did before it was a struct. */
%extend BoltzmannGeneratorTrainingReport {
    %pythoncode %{
        def keys(self):
            """The names of the report's fields."""
            return [name for name in dir(type(self)) if isinstance(getattr(type(self), name), property)
                    and not name.startswith("_") and name != "thisown"]

        def __iter__(self):
            return iter(self.keys())

        def __getitem__(self, key):
            if key not in self.keys():
                raise KeyError(key)
            return getattr(self, key)

        def __repr__(self):
            return "BoltzmannGeneratorTrainingReport(%s)" % ", ".join("%s=%r" % (k, self[k]) for k in self.keys())
    %}
}

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

/* Overrides of OpenMM::Integrator's internals, not part of the Python API. */
%ignore BoltzmannGeneratorIntegrator::kineticEnergyRequiresForce;
%ignore BoltzmannGeneratorIntegrator::getVelocityTimeOffset;

}

%include "BoltzmannGeneratorIntegrator.h"

namespace BoltzmannPlugin {

%extend BoltzmannGeneratorIntegrator {
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
    %pythoncode %{
        def __copy__(self):
            return _integratorFromXml(openmm.XmlSerializer.serialize(self))

        def __deepcopy__(self, memo):
            return self.__copy__()

        def __reduce__(self):
            return (_integratorFromXml, (openmm.XmlSerializer.serialize(self),))
    %}
}

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

}

%include "ReferenceSystems.h"

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
