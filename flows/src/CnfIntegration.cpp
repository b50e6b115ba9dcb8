#include "bg/CnfIntegration.h"

#include <torch/torch.h>

namespace bg {

CnfTransform integrateCnf(const VelocityFunction& f, const torch::Tensor& x, double t0, double t1, const OdeOptions& options,
                          bool withDivergence, const torch::Tensor& probe, const torch::Tensor& particleBasis) {
    const int64_t B = x.size(0), N = x.size(1), D = x.size(2), M = N * D;
    OdeFunction rhs = [&](double t, const torch::Tensor& y) -> torch::Tensor {
        torch::Tensor xs = y.narrow(1, 0, M).reshape({B, N, D});
        torch::Tensor ts = torch::full({B}, t, y.options());
        if (!withDivergence) {
            torch::NoGradGuard noGrad;
            return f(xs, ts).reshape({B, M});
        }
        auto [v, div] = probe.defined() ? velocityAndHutchinsonDivergence(f, xs, ts, probe) : velocityAndExactDivergence(f, xs, ts, particleBasis);
        return torch::cat({v.reshape({B, M}), div.unsqueeze(1)}, 1);
    };
    torch::Tensor y0 = x.detach().reshape({B, M});
    if (withDivergence)
        y0 = torch::cat({y0, torch::zeros({B, 1}, y0.options())}, 1);
    OdeResult r = integrateOde(rhs, y0, t0, t1, options);
    CnfTransform out;
    out.x = r.y.narrow(1, 0, M).reshape({B, N, D});
    if (withDivergence)
        out.divergenceIntegral = r.y.select(1, M);
    out.evaluations = r.evaluations;
    return out;
}

} // namespace bg
