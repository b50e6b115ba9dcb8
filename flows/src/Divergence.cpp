#include "bg/Divergence.h"

#include <torch/torch.h>

namespace bg {

std::pair<torch::Tensor, torch::Tensor> velocityAndExactDivergence(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t) {
    torch::AutoGradMode enable(true);
    const int64_t B = x.size(0), N = x.size(1), D = x.size(2), M = N * D;
    // Replica k of every row: [M, B, N, D]; the one-hot selector picks coordinate k of replica k.
    torch::Tensor replicas = x.detach().unsqueeze(0).expand({M, B, N, D}).contiguous().requires_grad_(true);
    torch::Tensor v = f(replicas.view({M * B, N, D}), t.detach().repeat({M})).view({M, B, M});
    torch::Tensor selector = torch::eye(M, x.options()).unsqueeze(1);   // [M, 1, M]
    torch::Tensor selected = (v * selector).sum();
    torch::Tensor gradient = torch::autograd::grad({selected}, {replicas})[0].view({M, B, M});
    torch::Tensor divergence = (gradient * selector).sum({0, 2});
    return {v.select(0, 0).view({B, N, D}).detach(), divergence.detach()};
}

std::pair<torch::Tensor, torch::Tensor> velocityAndHutchinsonDivergence(const VelocityFunction& f, const torch::Tensor& x,
                                                                         const torch::Tensor& t, const torch::Tensor& probe) {
    torch::AutoGradMode enable(true);
    torch::Tensor input = x.detach().requires_grad_(true);
    torch::Tensor v = f(input, t.detach());
    torch::Tensor vjp = torch::autograd::grad({(v * probe).sum()}, {input})[0];
    return {v.detach(), (vjp * probe).sum({1, 2}).detach()};
}

} // namespace bg
