#ifndef BG_CHIRALITY_H_
#define BG_CHIRALITY_H_

#include "bg/Target.h"

#include <torch/types.h>

#include <array>
#include <string>
#include <vector>

namespace bg {

/**
 * An improper dihedral a-b-c-d over particle indices whose sign fixes the handedness of a chiral
 * centre: for an L amino acid N-CA-C-CB is negative (about -122 degrees; bg::isLAlanine), for its
 * mirror image positive. The angle follows bg::dihedralAngle.
 */
using ChiralCentre = std::array<int, 4>;

/**
 * Check chiral centres against a target of `numParticles` particles in `dimension` dimensions.
 *
 * @throws std::invalid_argument "<owner>: ..." if a centre names a particle outside [0, numParticles),
 *         names one particle twice, or the target is not three-dimensional (a planar system has no handedness)
 */
void checkChiralCentres(const std::vector<ChiralCentre>& centres, int numParticles, int dimension, const std::string& owner);

/**
 * Whether every improper dihedral of `centres` is negative in each configuration.
 *
 * @param x  configurations [B, N, 3] (nm, any floating dtype)
 * @return [B] bool; all true for an empty list of centres
 */
torch::Tensor hasNegativeImpropers(const torch::Tensor& x, const std::vector<ChiralCentre>& centres);

/**
 * Restrict a target's evaluation to one handedness: configurations x [B, N, 3] with any improper
 * dihedral of `centres` not negative are outside the support (energy +inf, forces zero, valid
 * false), so that AIS replaces such flow samples by others of the batch and rejects HMC moves that
 * invert a centre. This is the L-form filter the reference FAB code applies to alanine dipeptide's
 * training samples (model-spec 15.2, 17).
 */
void restrictToNegativeImpropers(EnergyEvaluation& evaluation, const torch::Tensor& x, const std::vector<ChiralCentre>& centres);

} // namespace bg

#endif
