#ifndef BG_ZERO_COM_GAUSSIAN_H_
#define BG_ZERO_COM_GAUSSIAN_H_

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <optional>

namespace bg {

/**
 * Standard Gaussian restricted to the subspace of configurations with zero centre of mass
 * (the mean over particles). The base distribution of x in the E-ACF:
 *
 *     log q0(x) = -1/2 |x - mean(x)|^2 - 1/2 (N - 1) D log(2 pi)
 *
 * It is normalised on the (N-1)*D dimensional zero-CoM subspace. All quantities are in reduced
 * units (the flow works in nm, densities are per nm^((N-1)D)).
 */
class ZeroCoMGaussian {
public:
    /**
     * @param numParticles  N, at least 2
     * @param dimension     D, 2 or 3
     */
    ZeroCoMGaussian(int numParticles, int dimension);
    int getNumParticles() const { return numParticles; }
    int getDimension() const { return dimension; }
    /** Number of degrees of freedom of the zero-CoM subspace, (N-1)*D. */
    int getDegreesOfFreedom() const { return (numParticles - 1) * dimension; }
    /**
     * Draw n configurations [n, N, D] with exactly zero centre of mass.
     * @param generator  explicit random generator (std::nullopt uses torch's default generator)
     */
    torch::Tensor sample(int64_t n, const torch::TensorOptions& options,
                         std::optional<at::Generator> generator = std::nullopt) const;
    /**
     * Log density of configurations x [B, N, D]; the centre of mass is removed first.
     * @return [B]
     */
    torch::Tensor logProb(const torch::Tensor& x) const;

private:
    int numParticles, dimension;
};

/** Subtract the mean over particles (dim -2) from x [..., N, D]. */
torch::Tensor removeCentreOfMass(const torch::Tensor& x);

} // namespace bg

#endif
