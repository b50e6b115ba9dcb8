#ifndef OPENMM_BOLTZMANN_REFERENCE_PROBLEMS_H_
#define OPENMM_BOLTZMANN_REFERENCE_PROBLEMS_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/System.h"
#include "openmm/Vec3.h"

#include <map>
#include <string>
#include <vector>

/**
 * The registry of openmm-bg's reference problems (DW4, LJ13, alanine dipeptide, ...): the facts
 * of each problem are data, one JSON file per problem in <data>/problems/<name>.json (format in
 * data/problems/README.md), read here and by the Python registry openmmbg.problems. The Systems
 * come from the factories of ReferenceSystems.h, looked up by the problem's name.
 */

namespace BoltzmannPlugin {

class SystemTarget;

/** A set of reference configurations, <data>/reference/<set>-<split>.npy, drawn at a temperature. */
struct ReferenceDataSet {
    std::string set;            ///< e.g. "aldp800"
    double temperature = 0.0;   ///< K
};

/** One reference problem as its JSON file describes it. */
struct OPENMM_EXPORT_BG ReferenceProblem {
    std::string name;                           ///< e.g. "dw4" (the file name without .json)
    std::string description;
    int numParticles = 0;                       ///< N
    int dimension = 3;                          ///< D: 2 (particles in the z = 0 plane) or 3
    double temperature = 0.0;                   ///< default target temperature, K
    std::vector<ReferenceDataSet> referenceSets;
    std::vector<std::string> evaluation;        ///< extra evaluation figures, e.g. "ramachandran"
    /**
     * Per training method ("ml", "fab", "fm"): model settings (JSON object text), the shared ones merged with the
     * method's; the shared ones are the E-ACF's and are left out for a method whose settings name "model": "ecnf".
     */
    std::map<std::string, std::string> flowPresets;
    /** Per training method: training settings (JSON object text), the shared ones merged with the method's. */
    std::map<std::string, std::string> trainingPresets;

    /** The reference set drawn at `temperature` (K, within 1e-9 K); "" if there is none. */
    std::string referenceSet(double temperature) const;
    /** The training methods with presets, sorted. */
    std::vector<std::string> methodNames() const;
    /** Whether `name` is one of the extra evaluations. */
    bool hasEvaluation(const std::string& name) const;
    /** The problem as JSON text (the file's facts, with the presets merged per method); equals Python's ReferenceProblem.to_json(). */
    std::string toJson() const;
};

/**
 * The directories searched for openmm-bg's data files, in order: $OPENMMBG_DATA_DIR; relative to
 * the OpenMMBG library (<lib>/../share/openmm-bg/data); relative to the running executable
 * (<bin>/../../data, <bin>/../data, <bin>/../share/openmm-bg/data); the source tree's data/ this
 * was built from. This is the one place that knows where data is installed.
 */
OPENMM_EXPORT_BG std::vector<std::string> dataDirectoryCandidates();

/**
 * The data directory of openmm-bg: `requested` if not empty, else the first of
 * dataDirectoryCandidates() holding reference/ or the alanine dipeptide structure.
 *
 * @throws OpenMM::OpenMMException if `requested` is not a directory, or listing the places tried if none exists
 */
OPENMM_EXPORT_BG std::string findDataDirectory(const std::string& requested = "");

/**
 * The directory of the problem files: the first of dataDirectoryCandidates() with a problems/
 * folder holding a .json file, plus "/problems".
 *
 * @throws OpenMM::OpenMMException listing the places tried if there is none
 */
OPENMM_EXPORT_BG std::string referenceProblemsDirectory();

/** The names of the reference problems (the problem files), sorted. @throws OpenMM::OpenMMException as referenceProblemsDirectory() */
OPENMM_EXPORT_BG std::vector<std::string> referenceProblemNames();

/**
 * Read the problem `name` from its file.
 *
 * @throws OpenMM::OpenMMException naming ReferenceProblems for an unknown name (listing the known
 *         ones), or naming the file and key for a malformed file
 */
OPENMM_EXPORT_BG ReferenceProblem referenceProblem(const std::string& name);

/**
 * Create the System of a reference problem with the factory registered under its name
 * (ReferenceSystems.h), and its starting positions (nm; zeros where the problem has no canonical
 * structure).
 *
 * @param dataDirectory  where files of the System are read from (alanine dipeptide)
 * @return a new System owned by the caller
 * @throws OpenMM::OpenMMException if no factory is registered under the name, or the factory fails
 */
OPENMM_EXPORT_BG OpenMM::System* createReferenceProblemSystem(const ReferenceProblem& problem, const std::string& dataDirectory,
                                                              std::vector<OpenMM::Vec3>& positions);

/**
 * The target density of a reference problem at a temperature: a SystemTarget (SystemTarget.h) of
 * its System (createReferenceProblemSystem()) that models all particles, in the System's order,
 * with D = problem.dimension and workers not pinned to CPUs.
 *
 * @param dataDirectory  where files of the System are read from (alanine dipeptide)
 * @param temperature    K, positive
 * @param platformName   the OpenMM platform of the inner Contexts ("Reference", "CPU", ...)
 * @param workers        the number of OpenMM Contexts evaluating energies (SystemTarget's numWorkers)
 * @return a new SystemTarget owned by the caller
 * @throws OpenMM::OpenMMException as createReferenceProblemSystem() and the SystemTarget constructor
 */
OPENMM_EXPORT_BG SystemTarget* createReferenceProblemTarget(const ReferenceProblem& problem, const std::string& dataDirectory,
                                                            double temperature, const std::string& platformName, int workers);

} // namespace BoltzmannPlugin

#endif
