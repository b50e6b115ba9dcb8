#ifndef BG_RAMACHANDRAN_H_
#define BG_RAMACHANDRAN_H_

#include <torch/types.h>

namespace bg {

/**
 * Dihedral angles of four points, in radians in (-pi, pi]: the angle between the planes (p0, p1,
 * p2) and (p1, p2, p3), positive for a clockwise rotation of the bond p0-p1 onto p2-p3 seen along
 * p1 -> p2 (the IUPAC convention used for backbone angles).
 *
 * @param p0, p1, p2, p3  points [..., 3] in any length unit
 * @return [...] float64
 */
torch::Tensor dihedralAngle(const torch::Tensor& p0, const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& p3);

/** Alanine dipeptide atom indices (22 atoms, Amber prmtop order: ACE-ALA-NME). */
namespace AlanineDipeptideAtoms {
constexpr int AceC = 4, N = 6, CA = 8, CB = 10, C = 14, NmeN = 16;
}

/** Backbone angle phi = C(4)-N(6)-CA(8)-C(14) of alanine dipeptide configurations x [B, 22, 3]; returns [B] (rad). */
torch::Tensor alanineDipeptidePhi(const torch::Tensor& x);
/** Backbone angle psi = N(6)-CA(8)-C(14)-N(16) of alanine dipeptide configurations x [B, 22, 3]; returns [B] (rad). */
torch::Tensor alanineDipeptidePsi(const torch::Tensor& x);

/**
 * Whether each alanine dipeptide configuration x [B, 22, 3] has the L form at the alpha carbon:
 * the improper dihedral N(6)-CA(8)-C(14)-CB(10) is negative for L-alanine (about -122 degrees in
 * the reference structure data/alanine-dipeptide.pdb) and positive for its mirror image, D-alanine.
 *
 * @return [B] bool
 */
torch::Tensor isLAlanine(const torch::Tensor& x);

/**
 * Kullback-Leibler divergence KL(p || q) = sum_b p_b [log(p_b + eps) - log(q_b + eps)] between the
 * histograms of two sets of angles on [-pi, pi] with `bins` equal bins, each normalised to
 * probabilities (model-spec 13: 200 bins, eps 1e-10). p comes from the reference (test) angles.
 *
 * @param reference, samples  angles [n] in radians (non-finite entries are ignored)
 */
double angleKld(const torch::Tensor& reference, const torch::Tensor& samples, int bins = 200, double eps = 1e-10);

/**
 * KL(p || q) between 2D histograms of (phi, psi) pairs on [-pi, pi]^2 with bins x bins cells
 * (model-spec 13: 64 x 64, eps 1e-10); p from the reference pairs.
 *
 * @param referencePhi, referencePsi  reference angles [n] (rad)
 * @param samplePhi, samplePsi        sample angles [m] (rad)
 */
double ramachandranKld(const torch::Tensor& referencePhi, const torch::Tensor& referencePsi, const torch::Tensor& samplePhi,
                       const torch::Tensor& samplePsi, int bins = 64, double eps = 1e-10);

} // namespace bg

#endif
