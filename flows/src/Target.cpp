#include "bg/Target.h"

#include <torch/torch.h>

#include <cmath>

namespace bg {

void EnergyRegularisation::apply(EnergyEvaluation& evaluation) const {
    if (!active())
        return;
    torch::Tensor u = evaluation.energy;
    // Linear below h, logarithmic above: u' = h + log(1 + u - h), derivative 1/(1 + u - h).
    torch::Tensor above = u > linearUntil;
    torch::Tensor excess = (u - linearUntil).clamp_min(0.0);
    torch::Tensor smoothed = torch::where(above, linearUntil + torch::log1p(excess), u);
    torch::Tensor slope = torch::where(above, 1.0 / (1.0 + excess), torch::ones_like(u));
    torch::Tensor capped = smoothed > cap;
    smoothed = torch::where(capped, torch::full_like(u, cap), smoothed);
    slope = torch::where(capped, torch::zeros_like(u), slope);
    evaluation.energy = torch::where(evaluation.valid, smoothed, u);
    if (evaluation.forces.defined())
        evaluation.forces = evaluation.forces * torch::where(evaluation.valid, slope, torch::zeros_like(u)).view({-1, 1, 1});
}

namespace {

// -u(x) with gradient = forces (reduced), evaluated by the target outside autograd.
class TargetLogProbFunction : public torch::autograd::Function<TargetLogProbFunction> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, Target* target) {
        EnergyEvaluation e = target->evaluate(x.detach(), true);
        // Targets may answer on another device or dtype (SystemTarget: float64 on the CPU).
        torch::Tensor valid = e.valid.to(x.device());
        torch::Tensor forces = e.forces.to(x.device(), x.scalar_type());
        forces = torch::where(valid.view({-1, 1, 1}), forces, torch::zeros_like(forces));
        ctx->save_for_backward({forces, valid});
        torch::Tensor energy = e.energy.to(x.device(), x.scalar_type());
        return torch::where(valid, -energy, torch::full_like(energy, -INFINITY));
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
        torch::autograd::variable_list saved = ctx->get_saved_variables();
        const torch::Tensor& forces = saved[0];
        const torch::Tensor& valid = saved[1];
        // Invalid rows get exactly zero gradient, even if the incoming gradient is not finite.
        torch::Tensor g = torch::where(valid, grad[0], torch::zeros_like(grad[0]));
        return {g.view({-1, 1, 1}) * forces, torch::Tensor()};
    }
};

} // namespace

torch::Tensor targetLogProb(Target& target, const torch::Tensor& x) {
    return TargetLogProbFunction::apply(x, &target);
}

} // namespace bg
