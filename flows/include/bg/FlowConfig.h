#ifndef BG_FLOW_CONFIG_H_
#define BG_FLOW_CONFIG_H_

#include <string>
#include <vector>

namespace bg {

/** How a coupling layer maps points into a local invariant frame (model-spec section 4). */
enum class Projection { Vector, Cartesian, Spherical };
/** The elementwise transform applied in the local frame. */
enum class InnerTransform { Affine, Spline };

/**
 * Everything that defines an SE(3)-equivariant augmented coupling flow, as data. Serialises to and
 * from JSON (toJson/fromJson); validate() throws std::invalid_argument naming the bad field.
 * Defaults are the paper's DW4 configuration (model-spec section 14).
 */
struct FlowConfig {
    int numParticles = 4;                      ///< N
    int dimension = 2;                         ///< D, 2 or 3
    int numAugmented = 1;                      ///< K augmented sets (odd)
    Projection projection = Projection::Spherical;
    InnerTransform innerTransform = InnerTransform::Spline;  ///< Affine only with the Cartesian projection
    int splineBins = 8;                        ///< bins per rational-quadratic spline
    double radiusMax = 10.0;                   ///< upper end of the radial spline range [0, radiusMax] (nm)
    double cartesianRange = 10.0;              ///< Cartesian-projection splines act on [-range, range] (nm)
    /**
     * Cartesian projection: eps * e_k is added to frame candidate k before Gram-Schmidt (the reference
     * code uses 1e-6). Any eps > 0 breaks rotation equivariance, and badly while the EGNN's frame
     * vectors are short (about 1e-3 nm at initialisation), so the default is 0: exact equivariance,
     * with safe norms keeping a degenerate frame finite.
     */
    double frameRegulariser = 0.0;
    int numBlocks = 12;                        ///< blocks of two coupling layers
    int numInnerTransforms = 0;                ///< per coupling; 0 = default (D for Vector, 1 otherwise)
    int egnnLayers = 3;
    int egnnWidth = 64;                        ///< MLP width inside the EGNN
    int invariantFeatures = 128;               ///< F
    std::vector<int> headWidths = {64, 64};    ///< conditioner-head MLP widths
    double eta = 0.1;                          ///< std of the augmented noise a ~ N(x, eta^2 I) (nm)
    double auxLossWeight = 0.0;                ///< weight of the collinearity aux loss in training
    int numEmbeddings = 0;                     ///< 0: all particles alike; else the size of a learned embedding table
    int embeddingDim = 32;
    /** Row of the embedding table for each particle (e.g. an atom type); empty = particle index. */
    std::vector<int> particleTypes;
    bool identityInit = true;                  ///< zero-initialised heads: the flow starts as the identity
    /**
     * A ScalingBlock (CoM-scale and shrink, model-spec 6) at the head of every block, as in the
     * alanine dipeptide flow; off by default (and for flows saved before the field existed).
     */
    bool scalingBlock = false;
    std::string dtype = "float32";             ///< "float32" or "float64"

    /** Throws std::invalid_argument with a message naming the field if the configuration is unusable. */
    void validate() const;
    /** Inner transforms per coupling layer after resolving the default. */
    int resolvedInnerTransforms() const;
    std::string toJson() const;
    /** Parse JSON written by toJson(); unknown keys are rejected, missing keys keep their defaults. */
    static FlowConfig fromJson(const std::string& json);
};

const char* toString(Projection projection);
const char* toString(InnerTransform transform);

} // namespace bg

#endif
