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
import openmm
import openmm.unit as unit
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
    particles = tuple(int(p) for p in particles)
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
    void setFlow(const std::string& config, const std::string& weights);
    bool hasFlow() const;
    const std::string& getFlowConfig() const;
    const std::string& getFlowWeights() const;
    std::vector<OpenMM::Vec3> getModelledPositions(OpenMM::Context& context) const;
    bool usesPeriodicBoundaryConditions() const;

    %extend {
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
        def __copy__(self):
            return _forceFromXml(openmm.XmlSerializer.serialize(self))

        def __deepcopy__(self, memo):
            return self.__copy__()

        def __reduce__(self):
            return (_forceFromXml, (openmm.XmlSerializer.serialize(self),))
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
def _forceFromXml(xml):
    """Deserialize a BoltzmannGeneratorForce and return it as an owning BoltzmannGeneratorForce."""
    generic = openmm.XmlSerializer.deserialize(xml)
    generic.thisown = False
    force = BoltzmannGeneratorForce.cast(generic)
    force.thisown = True
    return force
%}
