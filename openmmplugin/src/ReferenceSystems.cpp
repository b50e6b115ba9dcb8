#include "ReferenceSystems.h"
#include "openmm/CustomBondForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/XmlSerializer.h"
#include "SimTKOpenMMRealType.h"

#include <fstream>
#include <memory>
#include <sstream>

using namespace OpenMM;
using namespace std;

namespace {

const double ReferenceTemperature = 300.0;   // K
const int AlanineDipeptideAtoms = 22;

string joinPath(const string& directory, const string& name) {
    if (directory.empty())
        return name;
    if (directory.back() == '/')
        return directory + name;
    return directory + "/" + name;
}

// A CustomBondForce over all pairs i < j of a System's particles (no per-bond parameters): its
// name, its energy expression in the pair distance r and its global parameters (name, value).
struct PairForce {
    const char* name;
    const char* energy;
    vector<pair<const char*, double>> parameters;
};

// A System of n particles of mass 1 with these pair forces, in this order.
System* createPairSystem(int n, const vector<PairForce>& forces) {
    unique_ptr<System> system(new System());
    for (int i = 0; i < n; i++)
        system->addParticle(1.0);
    for (const PairForce& pairForce : forces) {
        CustomBondForce* force = new CustomBondForce(pairForce.energy);
        system->addForce(force);
        force->setName(pairForce.name);
        for (const auto& [name, value] : pairForce.parameters)
            force->addGlobalParameter(name, value);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                force->addBond(i, j);
    }
    return system.release();
}

} // namespace

namespace BoltzmannPlugin {

double referenceSystemTemperature() {
    return ReferenceTemperature;
}

double referenceSystemEnergyUnit() {
    return BOLTZ * ReferenceTemperature;
}

System* createDoubleWell4System() {
    // The energy of one pair, in kJ/mol: kT_ref times the reduced pair energy. s = d - d0 in nm.
    const PairForce doubleWell = {"DoubleWell",
                                  "dw4_kT*(dw4_a*s + dw4_b*s^2 + dw4_c*s^4); s = r - dw4_d0",
                                  {{"dw4_kT", referenceSystemEnergyUnit()},   // kJ/mol
                                   {"dw4_a", 0.0},                             // reduced energy / nm
                                   {"dw4_b", -4.0},                            // reduced energy / nm^2
                                   {"dw4_c", 0.9},                             // reduced energy / nm^4
                                   {"dw4_d0", 4.0}}};                          // nm
    return createPairSystem(4, {doubleWell});
}

System* createLennardJones13System() {
    const int n = 13;
    // Lennard-Jones over all pairs, written as eps * q * (q - 2) with q = (r_m / r)^6, which equals
    // eps * [(r_m/r)^12 - 2 (r_m/r)^6] and avoids forming the two large powers separately.
    const PairForce lennardJones = {"LennardJones",
                                    "lj13_kT*lj13_epsilon*q*(q - 2); q = (lj13_rm/r)^6",
                                    {{"lj13_kT", referenceSystemEnergyUnit()},   // kJ/mol
                                     {"lj13_epsilon", 1.0},                      // reduced energy
                                     {"lj13_rm", 1.0}}};                         // nm
    // The harmonic term k_h * sum_i |x_i - xbar|^2 about the unweighted centre xbar of all particles.
    // Since sum_i |x_i - xbar|^2 = (1/N) sum_{i<j} |x_i - x_j|^2 (expand both sides), it is a pair
    // sum, and a CustomBondForce over all pairs computes it exactly. This form was chosen over the
    // alternatives because
    //  - it is exact for the unweighted centre whatever the particle masses (a CustomCentroidBondForce
    //    with a group of all particles would need explicit equal weights to avoid mass weighting, and
    //    one more group per particle);
    //  - CustomBondForce is evaluated in double precision on both the Reference and the CPU platform,
    //    and needs no 13-particle expression (CustomCompoundBondForce) or 13-body sets
    //    (CustomManyParticleForce);
    //  - every term is non-negative, so there is no cancellation, and its gradient
    //    (2 k_h / N) sum_j (x_i - x_j) = 2 k_h (x_i - xbar) is exactly the gradient of the original.
    // Both forces declare lj13_kT with the same value; a Context holds one parameter of that name.
    const PairForce centre = {"CentreHarmonic",
                              "lj13_kT*lj13_kh*r^2/lj13_n",
                              {{"lj13_kT", referenceSystemEnergyUnit()},   // kJ/mol
                               {"lj13_kh", 0.5},                           // reduced energy / nm^2
                               {"lj13_n", n}}};                            // number of particles
    return createPairSystem(n, {lennardJones, centre});
}

double alanineDipeptideDefaultTemperature() {
    return 800.0;
}

string alanineDipeptideSystemFile() {
    return "alanine-dipeptide-ff96-obc1.xml";
}

string alanineDipeptideStructureFile() {
    return "alanine-dipeptide.pdb";
}

System* createAlanineDipeptideSystem(const string& dataDirectory) {
    const string path = joinPath(dataDirectory, alanineDipeptideSystemFile());
    ifstream input(path);
    if (!input)
        throw OpenMMException("createAlanineDipeptideSystem: cannot open the System file " + path);
    unique_ptr<System> system;
    try {
        system.reset(XmlSerializer::deserialize<System>(input));
    }
    catch (const exception& e) {
        throw OpenMMException("createAlanineDipeptideSystem: cannot read a System from " + path + ": " + e.what());
    }
    if (!system || system->getNumParticles() != AlanineDipeptideAtoms)
        throw OpenMMException("createAlanineDipeptideSystem: " + path + " does not hold a System of " +
                              to_string(AlanineDipeptideAtoms) + " particles");
    return system.release();
}

vector<Vec3> alanineDipeptidePositions(const string& dataDirectory) {
    const string path = joinPath(dataDirectory, alanineDipeptideStructureFile());
    ifstream input(path);
    if (!input)
        throw OpenMMException("alanineDipeptidePositions: cannot open the structure file " + path);
    vector<Vec3> positions;
    string line;
    int lineNumber = 0;
    while (getline(input, line)) {
        lineNumber++;
        const string record = line.substr(0, 6);
        if (record == "ENDMDL" || record == "END" || record == "END   ")
            break;
        if (record != "ATOM  " && record != "HETATM")
            continue;
        // PDB fixed columns 31-38, 39-46, 47-54: x, y, z in Angstrom.
        if (line.size() < 54)
            throw OpenMMException("alanineDipeptidePositions: " + path + " line " + to_string(lineNumber) +
                                  " is too short for an atom record");
        double x[3];
        for (int k = 0; k < 3; k++) {
            istringstream field(line.substr(30 + 8 * k, 8));
            if (!(field >> x[k]))
                throw OpenMMException("alanineDipeptidePositions: " + path + " line " + to_string(lineNumber) +
                                      " has an unreadable coordinate");
        }
        positions.push_back(Vec3(x[0], x[1], x[2]) * 0.1);   // Angstrom -> nm
    }
    if (positions.size() != AlanineDipeptideAtoms)
        throw OpenMMException("alanineDipeptidePositions: " + path + " holds " + to_string(positions.size()) +
                              " atoms, expected " + to_string(AlanineDipeptideAtoms));
    return positions;
}

} // namespace BoltzmannPlugin
