// Elementwise rational-quadratic spline and affine transforms (model-spec sections 4.1 and 5).

#include "bg/RationalQuadraticSpline.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bg {

namespace {

/** delta: the smallest knot slope. */
const double MinSlope = 1e-4;

std::string shapeString(const torch::Tensor& t) {
    std::ostringstream out;
    out << t.sizes();
    return out.str();
}

/**
 * Checks the tensors of an elementwise transform: x floating point, params of the same dtype and
 * device with last dimension numParameters, and params' leading dimensions broadcastable to x's shape.
 */
void checkInputs(const char* function, const torch::Tensor& x, const torch::Tensor& params, int64_t numParameters) {
    const std::string name(function);
    if (!x.defined() || !params.defined())
        throw std::invalid_argument(name + ": x and params must be defined tensors");
    if (!x.is_floating_point())
        throw std::invalid_argument(name + ": x must be a floating-point tensor");
    if (params.scalar_type() != x.scalar_type())
        throw std::invalid_argument(name + ": params must have the same dtype as x");
    if (params.device() != x.device())
        throw std::invalid_argument(name + ": params must be on the same device as x");
    if (params.dim() < 1 || params.size(-1) != numParameters)
        throw std::invalid_argument(name + ": params must have last dimension " + std::to_string(numParameters) +
                                    ", got shape " + shapeString(params));
    const int64_t numLeading = params.dim() - 1;
    bool compatible = numLeading <= x.dim();
    for (int64_t i = 1; compatible && i <= numLeading; i++) {
        const int64_t p = params.size(numLeading - i);
        compatible = (p == 1 || p == x.size(x.dim() - i));
    }
    if (!compatible)
        throw std::invalid_argument(name + ": the leading dimensions of params " + shapeString(params) +
                                    " do not broadcast to the shape of x " + shapeString(x));
}

void checkSettings(const SplineSettings& settings) {
    if (settings.numBins < 2)
        throw std::invalid_argument("rationalQuadraticSpline: numBins must be at least 2, got " +
                                    std::to_string(settings.numBins));
    if (!std::isfinite(settings.rangeMin) || !std::isfinite(settings.rangeMax) ||
        !(settings.rangeMax > settings.rangeMin))
        throw std::invalid_argument("rationalQuadraticSpline: need finite rangeMin < rangeMax, got [" +
                                    std::to_string(settings.rangeMin) + ", " + std::to_string(settings.rangeMax) + "]");
}

} // namespace

ElementwiseResult rationalQuadraticSpline(const torch::Tensor& x, const torch::Tensor& params,
                                          const SplineSettings& settings, bool inverse) {
    checkSettings(settings);
    const int64_t numBins = settings.numBins;
    checkInputs("rationalQuadraticSpline", x, params, settings.numParameters());
    const double lower = settings.rangeMin, upper = settings.rangeMax;
    const double minBin = settings.minBinSize();

    // Widths (row 0) and heights (row 1) together: softmax * (range - K*minBin) + minBin, [..., 2, K].
    torch::Tensor sizes = params.narrow(-1, 0, 2 * numBins).unflatten(-1, {2, numBins}).softmax(-1);
    sizes = sizes * ((upper - lower) - numBins * minBin) + minBin;

    // Knots [..., 2, K+1]: cumulative sums from rangeMin, the last knot pinned exactly to rangeMax so
    // that both ends of the range are fixed points and the tails join continuously.
    torch::Tensor interior = sizes.narrow(-1, 0, numBins - 1).cumsum(-1) + lower;
    std::vector<int64_t> endShape = interior.sizes().vec();
    endShape.back() = 1;
    torch::Tensor knots = torch::cat({torch::full(endShape, lower, interior.options()), interior,
                                      torch::full(endShape, upper, interior.options())}, -1);

    // Knot slopes [..., K+1]: softplus(s + log(e^(1-d) - 1)) + d, so s = 0 gives slope 1.
    // Circular splines drop the last logit and reuse the first.
    torch::Tensor slopeLogits = params.narrow(-1, 2 * numBins, numBins + 1);
    if (settings.circular)
        slopeLogits = torch::cat({slopeLogits.narrow(-1, 0, numBins), slopeLogits.narrow(-1, 0, 1)}, -1);
    torch::Tensor slopes = torch::softplus(slopeLogits + std::log(std::expm1(1.0 - MinSlope))) + MinSlope;

    // Table [..., 3, K+1] of x knots, y knots and slopes, from which one gather picks each element's bin.
    torch::Tensor table = torch::cat({knots, slopes.unsqueeze(-2)}, -2);

    // The input of the map (x forward, y inverse), clamped into the range for the spline branch.
    // Clamping keeps that branch finite outside the range, so torch::where has finite gradients.
    torch::Tensor clamped = x.clamp(lower, upper);

    // Bin index = number of interior knots at or below the input (masks, no search).
    torch::Tensor searchKnots = knots.select(-2, inverse ? 1 : 0).narrow(-1, 1, numBins - 1);
    torch::Tensor bin = (clamped.unsqueeze(-1) >= searchKnots).sum(-1);

    std::vector<int64_t> gatherShape = x.sizes().vec();
    gatherShape.push_back(3);
    gatherShape.push_back(2);
    std::vector<int64_t> tableShape = x.sizes().vec();
    tableShape.push_back(3);
    tableShape.push_back(numBins + 1);
    torch::Tensor index = torch::stack({bin, bin + 1}, -1).unsqueeze(-2).expand(gatherShape);
    torch::Tensor binParams = table.expand(tableShape).gather(-1, index);   // [..., 3, 2]: (lower, upper) per row
    torch::Tensor xLow = binParams.select(-2, 0).select(-1, 0);
    torch::Tensor yLow = binParams.select(-2, 1).select(-1, 0);
    torch::Tensor slopeLow = binParams.select(-2, 2).select(-1, 0);
    torch::Tensor slopeHigh = binParams.select(-2, 2).select(-1, 1);
    torch::Tensor width = binParams.select(-2, 0).select(-1, 1) - xLow;
    torch::Tensor height = binParams.select(-2, 1).select(-1, 1) - yLow;
    torch::Tensor binSlope = height / width;   // s = h/w
    torch::Tensor curvature = slopeLow + slopeHigh - 2 * binSlope;   // d0 + d1 - 2s

    // Inside the bin, z = (x - x0) / w is the normalised position (clamped to [0, 1]), theta = z(1-z) and
    //   y = y0 + h (s z^2 + d0 theta) / (s + (d0 + d1 - 2s) theta).
    torch::Tensor z;
    if (!inverse)
        z = ((clamped - xLow) / width).clamp(0.0, 1.0);
    else {
        // Solving for z gives a z^2 + b z + c = 0 with xi = y - y0:
        //   a = h (s - d0) + xi (d0 + d1 - 2s),  b = h d0 - xi (d0 + d1 - 2s),  c = -s xi,
        // and the stable root z = 2c / (-b - sqrt(b^2 - 4ac)).
        torch::Tensor xi = clamped - yLow;
        torch::Tensor a = height * (binSlope - slopeLow) + xi * curvature;
        torch::Tensor b = height * slopeLow - xi * curvature;
        torch::Tensor c = -binSlope * xi;
        const double tiny = (x.scalar_type() == torch::kFloat64) ? std::numeric_limits<double>::min()
                                                                 : std::numeric_limits<float>::min();
        torch::Tensor discriminant = (b.square() - 4 * a * c).clamp_min(tiny);
        z = (2 * c / (-b - discriminant.sqrt())).clamp(0.0, 1.0);
    }
    torch::Tensor theta = z * (1 - z);
    torch::Tensor denominator = binSlope + curvature * theta;
    torch::Tensor output = inverse ? xLow + z * width
                                   : yLow + height * (binSlope * z.square() + slopeLow * theta) / denominator;
    // dy/dx = s^2 (d1 z^2 + 2 s theta + d0 (1-z)^2) / (s + (d0 + d1 - 2s) theta)^2.
    torch::Tensor derivative = (binSlope / denominator).square() *
                               (slopeHigh * z.square() + 2 * binSlope * theta + slopeLow * (1 - z).square());

    // Outside the range: linear tails through the boundary knot with its slope. The clamped input
    // fell into the first bin below the range and into the last above it, so the boundary slope is
    // slopeLow or slopeHigh.
    torch::Tensor below = x < lower;
    torch::Tensor outside = below | (x > upper);
    torch::Tensor tailSlope = torch::where(below, slopeLow, slopeHigh);
    torch::Tensor tail = inverse ? clamped + (x - clamped) / tailSlope : clamped + tailSlope * (x - clamped);

    ElementwiseResult result;
    result.y = torch::where(outside, tail, output);
    torch::Tensor logDerivative = torch::where(outside, tailSlope, derivative).log();
    result.logDet = inverse ? -logDerivative : logDerivative;
    return result;
}

ElementwiseResult affineTransform(const torch::Tensor& x, const torch::Tensor& params, bool inverse) {
    checkInputs("affineTransform", x, params, 2);
    // scale = softplus(s + softplus^-1(1)) with softplus^-1(1) = log(e - 1).
    torch::Tensor scale = torch::softplus(params.select(-1, 0) + std::log(std::expm1(1.0)));
    torch::Tensor shift = params.select(-1, 1);
    torch::Tensor logScale = scale.log();
    ElementwiseResult result;
    if (!inverse) {
        result.y = torch::addcmul(shift, scale, x);   // scale * x + t
        result.logDet = logScale;
    }
    else {
        result.y = (x - shift) / scale;
        result.logDet = -logScale;
    }
    // y has the shape of x; params may broadcast over x, so give logDet that shape too.
    if (result.logDet.sizes() != x.sizes())
        result.logDet = result.logDet.expand(x.sizes()).contiguous();
    return result;
}

} // namespace bg
