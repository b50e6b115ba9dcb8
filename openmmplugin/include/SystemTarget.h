#ifndef OPENMM_BG_SYSTEM_TARGET_H_
#define OPENMM_BG_SYSTEM_TARGET_H_

#include "bg/Target.h"
#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/System.h"
#include "openmm/Vec3.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace BoltzmannPlugin {

class ContextWorkerPool;

/**
 * A SystemTarget is the target density of a Boltzmann generator, p(x) ~ exp(-U(x)/kT), where
 * U is the potential energy of an OpenMM System evaluated by OpenMM itself.
 *
 * The flow models N particles of the System (the "modelled" particles, in a fixed order); all
 * other particles are held at fixed positions given at construction. A configuration x is a
 * tensor [N, D] in nm. For D = 3 it holds the Cartesian coordinates of the modelled particles;
 * for D = 2 (planar systems) it holds their x and y coordinates, z is set to 0 for every
 * modelled particle, and the z components of the forces are dropped.
 *
 * A batch x [B, N, D] is evaluated configuration by configuration in inner Contexts. Those
 * Contexts use a private copy of the System from which every BoltzmannGeneratorForce has been
 * removed (so evaluating the target never recurses into the flow), an integrator whose kinetic
 * energy does not require forces (energy-only evaluation computes no forces), and the platform
 * chosen at construction. With more than one worker, each worker thread of a ContextWorkerPool
 * owns one Context (created inside that thread; on the CPU platform with Threads=1 unless the
 * caller overrides it), workers claim blocks of rows of the batch (shrinking towards one row as
 * the batch runs out) until none are left, and results are written in input order. With one
 * worker, a single Context is used serially in the calling thread. Float32 and float64 inputs are
 * read as they are; evaluate() runs no parallel LibTorch operation (whose threads would spin on
 * the workers' cores).
 *
 * Outputs are reduced: u = U/kT (dimensionless) with kT = BOLTZ*T, BOLTZ = kB*NA/1000
 * kJ/(mol K), and forces -du/dx = F/kT in 1/nm, as float64 tensors on the CPU. Configurations
 * that are not finite, that make OpenMM throw, or whose energy or forces are not finite are
 * never passed on as numbers: they get energy +inf, zero force and valid = false, and the rest
 * of the batch is unaffected. An optional bg::EnergyRegularisation is applied afterwards.
 *
 * evaluate() may be called from several threads; calls are serialised.
 */
class OPENMM_EXPORT_BG SystemTarget : public bg::Target {
public:
    /**
     * Create a SystemTarget. This creates the inner Contexts (one per worker), so it may take a
     * while for large Systems or GPU platforms.
     *
     * @param system       the System whose potential energy defines the target; it is copied
     *                     (with any BoltzmannGeneratorForce removed), so it need not outlive this
     *                     object. Every Force in it needs a registered serialization proxy.
     * @param temperature  the temperature of the target distribution, in Kelvin; positive, finite
     * @param particles    indices of the modelled particles in the System, in the order of the
     *                     flow's N particles; non-empty, in range, no duplicates, no virtual sites
     * @param positions    positions of all System particles, in nm (getNumParticles() of them,
     *                     all finite); the non-modelled particles are held at these positions
     * @param platformName the OpenMM platform of the inner Contexts ("Reference", "CPU", ...)
     * @param numWorkers   the number of worker threads, each with its own Context; 0 means the
     *                     number of hardware threads; 1 means one Context used serially in the
     *                     calling thread
     * @param dimension    D, the number of coordinates per modelled particle: 3, or 2 for
     *                     planar systems (modelled particles at z = 0)
     * @param properties   extra platform properties for every inner Context (name to value); on
     *                     the CPU platform "Threads" defaults to "1" unless given here
     * @param pinWorkers   with more than one worker and at least as many CPUs available to the
     *                     process as workers, bind worker k (and the threads its Context starts,
     *                     such as the CPU platform's own thread) to the k-th available CPU (Linux;
     *                     ignored elsewhere). This keeps each worker's hand-offs to its Context's
     *                     thread on one core; pass false when other work shares these CPUs.
     * @throws OpenMM::OpenMMException (message starting "SystemTarget:") for invalid input, an
     *         unknown platform, or an inner Context that cannot be created
     */
    SystemTarget(const OpenMM::System& system, double temperature, const std::vector<int>& particles,
                 const std::vector<OpenMM::Vec3>& positions, const std::string& platformName = "CPU",
                 int numWorkers = 0, int dimension = 3,
                 const std::map<std::string, std::string>& properties = std::map<std::string, std::string>(),
                 bool pinWorkers = true);
    /** Stops the worker threads and destroys the inner Contexts. */
    ~SystemTarget() override;
    SystemTarget(const SystemTarget&) = delete;
    SystemTarget& operator=(const SystemTarget&) = delete;
    /** Get N, the number of modelled particles. */
    int numParticles() const override;
    /** Get D, the number of coordinates per modelled particle (2 or 3). */
    int dimension() const override;
    /**
     * Evaluate reduced energies (and optionally reduced forces) for a batch of configurations.
     * Bad configurations (non-finite coordinates, an OpenMM exception, a non-finite energy or
     * force) never throw: they give energy +inf, zero force and valid = false.
     *
     * @param x              configurations [B, N, D] in nm, any floating dtype and device (they
     *                       are copied to the CPU and evaluated in float64); B may be 0
     * @param computeForces  whether to compute forces; if false, EnergyEvaluation::forces is
     *                       left undefined and OpenMM computes energies only
     * @return energy [B] (u = U/kT, dimensionless), forces [B, N, D] (F/kT, in 1/nm) and valid
     *         [B] (bool), float64/bool tensors on the CPU, regularised if a regularisation is set
     * @throws OpenMM::OpenMMException if x is not a floating-point tensor of shape [B, N, D]
     */
    bg::EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override;
    /** Get the temperature of the target distribution, in Kelvin. */
    double getTemperature() const {
        return temperature;
    }
    /** Get kT = BOLTZ*T, the energy unit of the reduced energies, in kJ/mol. */
    double getKT() const {
        return kT;
    }
    /** Get the indices of the modelled particles in the System, in the flow's order. */
    const std::vector<int>& getParticles() const {
        return particles;
    }
    /** Get the positions of all System particles (nm) at which non-modelled particles are held. */
    const std::vector<OpenMM::Vec3>& getPositions() const {
        return positions;
    }
    /**
     * Move the particles that are not modelled: later evaluations hold them at these positions.
     * The entries of modelled particles are ignored.
     *
     * @param positions  positions of all System particles, in nm, all finite
     * @throws OpenMM::OpenMMException for a wrong count or a non-finite position
     */
    void setHeldPositions(const std::vector<OpenMM::Vec3>& positions);
    /**
     * Set the periodic box vectors of every inner Context for later evaluations (as
     * Context::setPeriodicBoxVectors(): a reduced, right-handed triclinic box), e.g. the current
     * box of a simulation under a barostat. Until called, the System's default box is used.
     *
     * @param a, b, c  the box vectors, in nm, finite
     * @throws OpenMM::OpenMMException for a non-finite vector; an invalid box makes later
     *         evaluations invalid (energy +inf) rather than throwing
     */
    void setPeriodicBoxVectors(const OpenMM::Vec3& a, const OpenMM::Vec3& b, const OpenMM::Vec3& c);
    /**
     * Set global parameter values of the inner Contexts for later evaluations, e.g. all of
     * ContextImpl::getParameters() of a simulation. Names the inner Contexts do not define (those
     * of forces left out of the target) are ignored; parameters not named keep their values.
     *
     * @param values  parameter name to value (in the parameter's own units)
     */
    void setParameters(const std::map<std::string, double>& values);
    /** Get the name of the platform the inner Contexts use. */
    const std::string& getPlatformName() const {
        return platformName;
    }
    /** Get the number of workers (inner Contexts); 1 means the serial single-Context path. */
    int getNumWorkers() const {
        return numWorkers;
    }
    /**
     * Get the System the inner Contexts evaluate: a copy of the constructor's System without
     * any BoltzmannGeneratorForce.
     */
    const OpenMM::System& getSystem() const;
    /**
     * Set the regularisation applied to every later evaluation (reduced units: linearUntil and
     * cap are dimensionless, in units of kT). The default regularisation does nothing.
     */
    void setEnergyRegularisation(const bg::EnergyRegularisation& regularisation);
    /** Get the regularisation applied to evaluations (reduced units, kT). */
    const bg::EnergyRegularisation& getEnergyRegularisation() const {
        return regularisation;
    }

private:
    class Evaluator;
    double temperature, kT;
    std::vector<int> particles;
    std::vector<OpenMM::Vec3> positions;
    std::string platformName;
    int numWorkers, dim;
    int64_t heldVersion = 0;   // incremented whenever held positions, box or parameters change
    OpenMM::Vec3 box[3];
    bool hasBox = false;
    std::map<std::string, double> parameters;
    bg::EnergyRegularisation regularisation;
    std::unique_ptr<OpenMM::System> innerSystem;
    std::vector<std::unique_ptr<Evaluator>> evaluators;   // one per worker
    std::unique_ptr<ContextWorkerPool> pool;              // null for the serial path (one worker)
    std::mutex evaluateMutex;
};

} // namespace BoltzmannPlugin

#endif
