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
        torch::Tensor forces = torch::where(e.valid.view({-1, 1, 1}), e.forces, torch::zeros_like(e.forces));
        ctx->save_for_backward({forces.to(x.scalar_type())});
        torch::Tensor logProb = torch::where(e.valid, -e.energy, torch::full_like(e.energy, -INFINITY));
        return logProb.to(x.scalar_type());
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
        torch::Tensor forces = ctx->get_saved_variables()[0];
        return {grad[0].view({-1, 1, 1}) * forces, torch::Tensor()};
    }
};

} // namespace

torch::Tensor targetLogProb(Target& target, const torch::Tensor& x) {
    return TargetLogProbFunction::apply(x, &target);
}

} // namespace bg
