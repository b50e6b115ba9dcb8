#ifndef BG_RATIONAL_QUADRATIC_SPLINE_H_
#define BG_RATIONAL_QUADRATIC_SPLINE_H_

#include <torch/types.h>

namespace bg {

/** An elementwise transform's output and its elementwise log|derivative|. */
struct ElementwiseResult {
    torch::Tensor y;       ///< transformed values, same shape as the input
    torch::Tensor logDet;  ///< log |dy/dx| per element (for the inverse: log |d x_out / d y_in|), same shape
};

/** Settings of one family of rational-quadratic splines (the range and the bins it is split into). */
struct SplineSettings {
    int numBins = 8;          ///< K, at least 2
    double rangeMin = -10.0;  ///< lower end of the spline's interval
    double rangeMax = 10.0;   ///< upper end
    bool circular = false;    ///< the last knot slope equals the first (for angles)
    /** Number of parameters per transformed element: 3K+1 (also for circular splines, whose last slope entry is unused). */
    int numParameters() const {
        return 3 * numBins + 1;
    }
    /** Minimum bin width and height: (rangeMax - rangeMin) * 1e-4. */
    double minBinSize() const {
        return (rangeMax - rangeMin) * 1e-4;
    }
};

/**
 * Monotone rational-quadratic spline (Durkan et al. 2019) applied elementwise, with the parameter
 * semantics of model-spec section 5:
 *  - params[..., 3K+1] = [K width logits | K height logits | K+1 slope logits];
 *  - widths/heights = softmax(logits) * (range - K*minBin) + minBin, knots start at rangeMin;
 *  - slopes = softplus(s + log(e^(1-d) - 1)) + d with d = 1e-4, so a zero logit gives slope 1;
 *    circular splines drop the last slope and reuse the first;
 *  - all-zero parameters give exactly the identity;
 *  - outside [rangeMin, rangeMax] the spline extrapolates linearly with the boundary knot's slope;
 *  - the inverse uses the numerically stable root of the quadratic.
 *
 * @param x        input [...]
 * @param params   [..., 3K+1], broadcast-compatible with x on the leading dimensions
 * @param inverse  evaluate the inverse map instead of the forward one
 */
ElementwiseResult rationalQuadraticSpline(const torch::Tensor& x, const torch::Tensor& params,
                                          const SplineSettings& settings, bool inverse);

/**
 * RealNVP-style affine transform applied elementwise: y = softplus(s + softplus^-1(1)) * x + t,
 * with params[..., 2] = (s, t). Zero parameters give the identity.
 */
ElementwiseResult affineTransform(const torch::Tensor& x, const torch::Tensor& params, bool inverse);

} // namespace bg

#endif
