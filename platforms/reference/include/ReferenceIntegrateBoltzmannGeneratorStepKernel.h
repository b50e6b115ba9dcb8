#ifndef OPENMM_REFERENCE_INTEGRATE_BOLTZMANN_GENERATOR_STEP_KERNEL_H_
#define OPENMM_REFERENCE_INTEGRATE_BOLTZMANN_GENERATOR_STEP_KERNEL_H_

#include "BoltzmannGeneratorKernels.h"

#include <deque>
#include <random>
#include <vector>

namespace BoltzmannPlugin {

/**
 * Reference/CPU implementation of IntegrateBoltzmannGeneratorStepKernel (Systems without
 * constraints). Langevin dynamics with
 * the LangevinMiddle splitting on host arrays read and written through ContextImpl (kick with the
 * forces, half drift, Ornstein-Uhlenbeck velocity update, half drift), then the flow moves and FAB
 * iterations due at this step through the force's BoltzmannGeneratorModel.
 */
class ReferenceIntegrateBoltzmannGeneratorStepKernel : public IntegrateBoltzmannGeneratorStepKernel {
public:
    ReferenceIntegrateBoltzmannGeneratorStepKernel(std::string name, const OpenMM::Platform& platform)
            : IntegrateBoltzmannGeneratorStepKernel(name, platform) {
    }
    void initialize(const OpenMM::System& system, const BoltzmannGeneratorIntegrator& integrator, BoltzmannGeneratorModel& model) override;
    void execute(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) override;
    double computeKineticEnergy(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) override;
    long long getNumFlowMoves() const override {
        return flowMoves;
    }
    long long getNumAcceptedFlowMoves() const override {
        return acceptedFlowMoves;
    }
    double getRunningEss() const override;
    double getLastLoss() const override {
        return lastLoss;
    }
    long long getNumTrainingIterations() const override {
        return trainingIterations;
    }
    long long getStepCount() const override {
        return steps;
    }
    void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const override;
    void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream) override;

private:
    /** One LangevinMiddle step; x receives the new positions (nm) it set in the Context. */
    void langevinStep(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator, std::vector<OpenMM::Vec3>& x);
    BoltzmannGeneratorModel* model = nullptr;
    std::vector<double> inverseMasses;
    std::vector<bool> planarParticle;   // z is held at 0
    bool hasVirtualSites = false;
    std::mt19937_64 random;
    std::normal_distribution<double> gaussian;
    long long steps = 0, flowMoves = 0, acceptedFlowMoves = 0, trainingIterations = 0;
    double lastLoss;
    std::deque<double> proposalLogWeights;
};

} // namespace BoltzmannPlugin

#endif
