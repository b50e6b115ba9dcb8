#include "bg/OdeSolver.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace bg {

namespace {

// Dormand-Prince 5(4) tableau: nodes c, stage weights a, 5th-order weights b (= the last row of
// a, FSAL), and b - b* (5th minus 4th order) for the error estimate.
constexpr std::array<double, 7> c = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
const std::array<std::array<double, 6>, 7> a = {{{},
                                                  {1.0 / 5},
                                                  {3.0 / 40, 9.0 / 40},
                                                  {44.0 / 45, -56.0 / 15, 32.0 / 9},
                                                  {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
                                                  {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
                                                  {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}}};
constexpr std::array<double, 7> errorWeights = {71.0 / 57600,      0.0,          -71.0 / 16695, 71.0 / 1920,
                                                -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

/** f(t, y), checked for shape and finiteness. */
torch::Tensor evaluate(const OdeFunction& f, double t, const torch::Tensor& y, int64_t& count) {
    torch::Tensor dy = f(t, y);
    count++;
    if (!dy.defined() || !dy.sizes().equals(y.sizes()))
        throw std::runtime_error("integrateOde: the right-hand side returned a tensor of the wrong shape");
    if (!torch::isfinite(dy).all().item<bool>())
        throw std::runtime_error("integrateOde: the right-hand side is not finite at t = " + std::to_string(t));
    return dy;
}

/** The largest over rows of the RMS of v / scale, a scaled error norm. */
double scaledNorm(const torch::Tensor& v, const torch::Tensor& scale) {
    return (v / scale).square().mean(1).sqrt().max().item<double>();
}

/** Hairer, Norsett & Wanner's starting step for an order-5 method (signed like t1 - t0). */
double initialStep(const OdeFunction& f, double t0, const torch::Tensor& y0, const torch::Tensor& f0, double span,
                   const OdeOptions& o, int64_t& count) {
    torch::Tensor scale = o.atol + o.rtol * y0.abs();
    double d0 = scaledNorm(y0, scale), d1 = scaledNorm(f0, scale);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min(h0, std::abs(span));
    const double direction = span > 0 ? 1.0 : -1.0;
    torch::Tensor f1 = evaluate(f, t0 + direction * h0, y0 + direction * h0 * f0, count);
    double d2 = scaledNorm(f1 - f0, scale) / h0;
    double h1 = std::max(d1, d2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / std::max(d1, d2), 1.0 / 5);
    return direction * std::min({100 * h0, h1, std::abs(span)});
}

OdeResult dopri5(const OdeFunction& f, const torch::Tensor& y0, double t0, double t1, const OdeOptions& o) {
    OdeResult r;
    const double span = t1 - t0;
    torch::Tensor y = y0, k1 = evaluate(f, t0, y0, r.evaluations);
    double t = t0, h = initialStep(f, t0, y0, k1, span, o, r.evaluations);
    while ((t1 - t) * span > 0) {
        if (r.accepted + r.rejected >= o.maxSteps)
            throw std::runtime_error("integrateOde: Dormand-Prince exceeded maxSteps = " + std::to_string(o.maxSteps) + " steps");
        if (std::abs(h) < 1e-12 * std::abs(span))
            throw std::runtime_error("integrateOde: the Dormand-Prince step size underflowed at t = " + std::to_string(t));
        if ((t + h - t1) * span > 0)
            h = t1 - t;
        std::array<torch::Tensor, 7> k;
        torch::Tensor yNew;   // the 5th-order solution, the last stage's point (FSAL)
        k[0] = k1;
        for (int s = 1; s < 7; s++) {
            torch::Tensor stage = y;
            for (int j = 0; j < s; j++)
                if (a[s][j] != 0.0)
                    stage = stage + (h * a[s][j]) * k[j];
            if (s == 6)
                yNew = stage;
            k[s] = evaluate(f, t + c[s] * h, stage, r.evaluations);
        }
        torch::Tensor error = torch::zeros_like(y);
        for (int s = 0; s < 7; s++)
            if (errorWeights[s] != 0.0)
                error = error + (h * errorWeights[s]) * k[s];
        double norm = scaledNorm(error, o.atol + o.rtol * torch::maximum(y.abs(), yNew.abs()));
        double factor = norm == 0 ? 10.0 : std::clamp(0.9 * std::pow(norm, -0.2), 0.2, 10.0);
        if (norm <= 1.0) {
            t += h;
            y = yNew;
            k1 = k[6];
            r.accepted++;
        }
        else {
            r.rejected++;
            factor = std::min(factor, 1.0);
        }
        h *= factor;
    }
    r.y = y;
    return r;
}

OdeResult rk4(const OdeFunction& f, const torch::Tensor& y0, double t0, double t1, int steps) {
    OdeResult r;
    const double h = (t1 - t0) / steps;
    torch::Tensor y = y0;
    for (int n = 0; n < steps; n++) {
        const double t = t0 + n * h;
        torch::Tensor k1 = evaluate(f, t, y, r.evaluations);
        torch::Tensor k2 = evaluate(f, t + h / 2, y + (h / 2) * k1, r.evaluations);
        torch::Tensor k3 = evaluate(f, t + h / 2, y + (h / 2) * k2, r.evaluations);
        torch::Tensor k4 = evaluate(f, t + h, y + h * k3, r.evaluations);
        y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4);
        r.accepted++;
    }
    r.y = y;
    return r;
}

} // namespace

OdeResult integrateOde(const OdeFunction& f, const torch::Tensor& y0, double t0, double t1, const OdeOptions& options) {
    if (!y0.defined() || y0.dim() != 2)
        throw std::runtime_error("integrateOde: expected states of shape [B, M]");
    if (t0 == t1 || y0.size(0) == 0) {
        OdeResult r;
        r.y = y0;
        return r;
    }
    if (options.method == OdeMethod::Rk4)
        return rk4(f, y0, t0, t1, options.rk4Steps);
    return dopri5(f, y0, t0, t1, options);
}

} // namespace bg
