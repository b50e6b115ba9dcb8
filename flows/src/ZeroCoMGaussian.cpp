#include "bg/ZeroCoMGaussian.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace bg {

torch::Tensor removeCentreOfMass(const torch::Tensor& x) {
    return x - x.mean(-2, /*keepdim=*/true);
}

ZeroCoMGaussian::ZeroCoMGaussian(int numParticles, int dimension) : numParticles(numParticles), dimension(dimension) {
    if (numParticles < 2)
        throw std::invalid_argument("ZeroCoMGaussian: needs at least 2 particles, got " + std::to_string(numParticles));
    if (dimension != 2 && dimension != 3)
        throw std::invalid_argument("ZeroCoMGaussian: dimension must be 2 or 3, got " + std::to_string(dimension));
}

torch::Tensor ZeroCoMGaussian::sample(int64_t n, const torch::TensorOptions& options,
                                      std::optional<at::Generator> generator) const {
    // Drawn on the CPU generator, then moved: the same random stream on every device.
    torch::Tensor eps = at::normal(0.0, 1.0, {n, numParticles, dimension}, generator, options.device(torch::kCPU)).to(options.device());
    return removeCentreOfMass(eps);
}

torch::Tensor ZeroCoMGaussian::logProb(const torch::Tensor& x) const {
    if (x.dim() != 3 || x.size(1) != numParticles || x.size(2) != dimension)
        throw std::invalid_argument("ZeroCoMGaussian::logProb: expected x of shape [B, " + std::to_string(numParticles) +
                                    ", " + std::to_string(dimension) + "]");
    torch::Tensor centred = removeCentreOfMass(x);
    double logNormaliser = -0.5 * getDegreesOfFreedom() * std::log(2.0 * M_PI);
    return -0.5 * centred.square().sum({1, 2}) + logNormaliser;
}

} // namespace bg
