#ifndef BG_CNF_CONFIG_H_
#define BG_CNF_CONFIG_H_

#include <string>
#include <vector>

namespace bg {

/** How the E-CNF integrates its ODE (ecnf-spec 4). */
enum class OdeMethod { Dopri5, Rk4 };
/** How the E-CNF computes div v for log q (ecnf-spec 4). */
enum class DivergenceMethod { Exact, Hutchinson };

/**
 * Everything that defines an equivariant continuous normalizing flow (E-CNF FM, ecnf-spec 1, 4), as
 * data. Serialises to and from JSON (toJson/fromJson, key "model": "ecnf" names the model kind);
 * validate() throws std::invalid_argument naming the bad field. Defaults are the DW4 column of
 * ecnf-spec 1.2 with the project's EGNN (two StableMlp layers of egnnWidth per MLP, ecnf-spec 1.3)
 * and the paper's Dormand-Prince tolerances rtol = atol = 1e-5 (ecnf-spec 4).
 */
struct CnfConfig {
    int numParticles = 4;                ///< N
    int dimension = 2;                   ///< D, 2 or 3
    int egnnLayers = 3;                  ///< EGCL blocks L
    int egnnWidth = 128;                 ///< MLP width inside the EGNN
    int invariantFeatures = 64;          ///< F
    int timeEmbeddingDim = 8;            ///< E of the sinusoidal time embedding (even, >= 4)
    /**
     * s = timeScale * t enters the sinusoid (ecnf-spec 1.1: 1000). Its fastest component sin(s) then
     * oscillates with period 2 pi / timeScale in t, which an adaptive solver must resolve wherever the
     * network passes it on (an untrained field does): smaller values give smoother fields in t. The
     * system presets use 10: on DW4 it needs 92 field evaluations per Dormand-Prince solve against
     * 1010 at 1000, for a field as good (docs/ecnf.md "The time scale").
     */
    double timeScale = 1000.0;
    int numEmbeddings = 0;               ///< 0: all particles alike; else the size of a particle-type table
    int embeddingDim = 32;               ///< width of that table
    std::vector<int> particleTypes;      ///< table row per particle; empty = particle index
    double baseScale = 1.0;              ///< s, std of the zero-CoM Gaussian prior (nm)
    double sigmaMin = 0.01;              ///< sigma_min of the path x_t = (1 - (1 - sigma_min) t) x0 + t x1 (ecnf-spec 2.1)
    OdeMethod solver = OdeMethod::Dopri5;
    double rtol = 1e-5, atol = 1e-5;     ///< Dormand-Prince tolerances
    int maxSteps = 4096;                 ///< accepted + rejected Dormand-Prince steps before the solve fails
    int rk4Steps = 20;                   ///< fixed RK4 steps over t in [0, 1]
    DivergenceMethod divergence = DivergenceMethod::Exact;
    std::string dtype = "float32";       ///< "float32" or "float64"

    /** Throws std::invalid_argument ("CnfConfig: ...") naming the field if the configuration is unusable. */
    void validate() const;
    /** Degrees of freedom of the zero-CoM subspace, (N - 1) D. */
    int degreesOfFreedom() const {
        return (numParticles - 1) * dimension;
    }
    std::string toJson() const;
    /**
     * Parse JSON written by toJson(); unknown keys are rejected, missing keys keep their defaults, and
     * "model" (if present) must be "ecnf". Throws std::invalid_argument for malformed or invalid JSON.
     */
    static CnfConfig fromJson(const std::string& json);
};

const char* toString(OdeMethod method);
const char* toString(DivergenceMethod method);

} // namespace bg

#endif
