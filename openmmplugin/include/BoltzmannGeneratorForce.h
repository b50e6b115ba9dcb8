#ifndef OPENMM_BOLTZMANN_GENERATOR_FORCE_H_
#define OPENMM_BOLTZMANN_GENERATOR_FORCE_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/Context.h"
#include "openmm/Force.h"
#include "openmm/Vec3.h"

#include <string>
#include <vector>

namespace BoltzmannPlugin {

/**
 * A BoltzmannGeneratorForce turns the System it belongs to into the target of a Boltzmann
 * generator: a normalising flow over the Cartesian coordinates of a set of modelled particles,
 * trained so that its samples follow exp(-U/kT) of the rest of the System.
 *
 * Like CMMotionRemover it adds no energy and no forces; it is a home for per-Context work
 * (sampling, density evaluation, training) done by its kernel. The flow is stored as a
 * configuration (JSON text) plus weights (bytes), both serialized with the System.
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorForce : public OpenMM::Force {
public:
    /**
     * Create a BoltzmannGeneratorForce.
     *
     * @param particles    indices of the modelled particles in the System; must be non-empty,
     *                     non-negative and free of duplicates (their upper bound is checked when
     *                     a Context is created)
     * @param temperature  the temperature of the target distribution, in Kelvin; must be positive
     */
    BoltzmannGeneratorForce(const std::vector<int>& particles, double temperature);
    /** Get the number of modelled particles. */
    int getNumParticles() const {
        return particles.size();
    }
    /** Get the indices of the modelled particles, in the order the flow sees them. */
    const std::vector<int>& getParticles() const {
        return particles;
    }
    /** Get the temperature of the target distribution, in Kelvin. */
    double getTemperature() const {
        return temperature;
    }
    /**
     * Set the temperature of the target distribution.
     *
     * @param temperature  the temperature, in Kelvin; must be positive
     */
    void setTemperature(double temperature);
    /**
     * Store a flow in the force.
     *
     * @param config   the flow configuration as JSON text (the model's FlowConfig)
     * @param weights  the serialized model weights (opaque bytes; may contain NUL characters)
     */
    void setFlow(const std::string& config, const std::string& weights);
    /** Whether a flow has been stored with setFlow(). */
    bool hasFlow() const {
        return !flowConfig.empty();
    }
    /** Get the flow configuration (JSON text), or an empty string if none was set. */
    const std::string& getFlowConfig() const {
        return flowConfig;
    }
    /** Get the serialized flow weights (bytes), or an empty string if none were set. */
    const std::string& getFlowWeights() const {
        return flowWeights;
    }
    /**
     * Get the current positions of the modelled particles in a Context, in the order of
     * getParticles(), as the platform's kernel reads them (the data path the flow uses).
     *
     * @param context  a Context whose System contains this force
     * @return positions in nm
     */
    std::vector<OpenMM::Vec3> getModelledPositions(OpenMM::Context& context) const;
    /** This force does not depend on periodic boundary conditions. */
    bool usesPeriodicBoundaryConditions() const override {
        return false;
    }

protected:
    OpenMM::ForceImpl* createImpl() const override;

private:
    std::vector<int> particles;
    double temperature;
    std::string flowConfig, flowWeights;
};

} // namespace BoltzmannPlugin

#endif
