#ifndef BG_CONDITIONAL_GAUSSIAN_H_
#define BG_CONDITIONAL_GAUSSIAN_H_

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <optional>

namespace bg {

/**
 * The augmented-variable distribution a_k ~ N(x, eta^2 I), k = 1..K, independently and in the full
 * N*D dimensions (the centre of mass of a is not removed). It is both the base distribution of a
 * given x and the augmented target pi(a|x) (model-spec section 2):
 *
 *     log q(a|x) = sum_k [ -|a_k - x|^2 / (2 eta^2) - N D (log eta + 1/2 log 2 pi) ]
 */
class ConditionalGaussian {
public:
    /** @param eta  standard deviation (nm), positive */
    explicit ConditionalGaussian(double eta);
    double getEta() const {
        return eta;
    }
    /**
     * Draw a [B, K, N, D] given x [B, N, D].
     * @param generator  explicit random generator (std::nullopt uses torch's default generator)
     */
    torch::Tensor sample(const torch::Tensor& x, int64_t numAugmented, std::optional<at::Generator> generator = std::nullopt) const;
    /** log q(a|x) for a [B, K, N, D] and x [B, N, D]; returns [B]. */
    torch::Tensor logProb(const torch::Tensor& a, const torch::Tensor& x) const;

private:
    double eta;
};

} // namespace bg

#endif
