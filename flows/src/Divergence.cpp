#include "bg/Divergence.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace bg {

torch::Tensor zeroCentreOfMassBasis(int64_t numParticles, const torch::TensorOptions& options) {
    if (numParticles < 2)
        throw std::invalid_argument("zeroCentreOfMassBasis: need at least 2 particles, got " + std::to_string(numParticles));
    // Helmert columns: column k - 1 (k = 1 .. N-1) is (1, ..., 1, -k, 0, ..., 0) / sqrt(k (k + 1)),
    // with k ones: unit length, orthogonal to each other and to (1, ..., 1).
    torch::Tensor basis = torch::zeros({numParticles, numParticles - 1}, options.dtype(torch::kFloat64));
    for (int64_t k = 1; k < numParticles; k++) {
        const double scale = 1.0 / std::sqrt(static_cast<double>(k * (k + 1)));
        basis.select(1, k - 1).narrow(0, 0, k).fill_(scale);
        basis[k][k - 1] = -k * scale;
    }
    return options.has_dtype() ? basis.to(options.dtype()) : basis;
}

namespace {

/**
 * Few rows: x replicated once per direction u_r = q_k (x) e_d ([R, N, D]), one forward of R B rows and
 * one backward pass; replica r's gradient of u_r . v along u_r.
 */
torch::Tensor replicatedTrace(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& directions,
                              torch::Tensor& velocity) {
    const int64_t B = x.size(0), N = x.size(1), D = x.size(2), R = directions.size(0);
    torch::Tensor replicas = x.detach().unsqueeze(0).expand({R, B, N, D}).contiguous().requires_grad_(true);
    torch::Tensor v = f(replicas.view({R * B, N, D}), t.detach().repeat({R})).view({R, B, N, D});
    torch::Tensor u = directions.unsqueeze(1);   // [R, 1, N, D]
    torch::Tensor gradient = torch::autograd::grad({(v * u).sum()}, {replicas})[0];
    velocity = v.select(0, 0);
    return (gradient * u).sum({0, 2, 3});
}

/** Many rows: one forward of the B rows, then one backward pass per direction through the same graph. */
torch::Tensor sequentialTrace(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& directions,
                              torch::Tensor& velocity) {
    torch::Tensor input = x.detach().requires_grad_(true);
    velocity = f(input, t.detach());
    torch::Tensor divergence = torch::zeros({x.size(0)}, x.options());
    const int64_t R = directions.size(0);
    for (int64_t r = 0; r < R; r++) {
        const torch::Tensor u = directions[r];
        torch::Tensor g = torch::autograd::grad({(velocity * u).sum()}, {input}, {}, /*retain_graph=*/r < R - 1)[0];
        divergence += (g * u).sum({1, 2});
    }
    return divergence;
}

/** Rows times directions up to which replicating beats one backward pass per direction (measured on CPU). */
constexpr int64_t kReplicatedRows = 64;

/**
 * Ordered particle pairs (EGNN edges) per pass of the sequential trace on the CPU. The cost per row
 * is flat up to about 2e4 edges and doubles by 8e4 (LJ13: 47-55 s per 1024 rows at 8-128 rows,
 * 100 s at 512; BenchmarkCnfSampling, docs/ecnf.md "Rows per pass"), as the graph kept for the
 * backward passes outgrows the caches.
 */
constexpr int64_t kSequentialEdgesPerPass = 8192;

/** Rows per pass of the sequential trace: rowsPerPass if positive, else by kSequentialEdgesPerPass on the CPU, all elsewhere. */
int64_t sequentialRowsPerPass(const torch::Tensor& x, int64_t rowsPerPass) {
    if (rowsPerPass > 0)
        return rowsPerPass;
    const int64_t N = x.size(1), edges = std::max<int64_t>(1, N * (N - 1));
    return x.is_cpu() ? std::max<int64_t>(1, kSequentialEdgesPerPass / edges) : std::max<int64_t>(1, x.size(0));
}

/** sequentialTrace in passes of at most rows rows (the rows are independent: same values to rounding). */
torch::Tensor sequentialTraceByPasses(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t,
                                      const torch::Tensor& directions, int64_t rows, torch::Tensor& velocity) {
    const int64_t B = x.size(0);
    if (B <= rows)
        return sequentialTrace(f, x, t, directions, velocity);
    std::vector<torch::Tensor> velocities, divergences;
    for (int64_t start = 0; start < B; start += rows) {
        const int64_t length = std::min(rows, B - start);
        torch::Tensor v;
        divergences.push_back(sequentialTrace(f, x.narrow(0, start, length), t.narrow(0, start, length), directions, v).detach());
        velocities.push_back(v.detach());
    }
    velocity = torch::cat(velocities);
    return torch::cat(divergences);
}

} // namespace

std::pair<torch::Tensor, torch::Tensor> velocityAndExactDivergence(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t,
                                                                   const torch::Tensor& particleBasis, ExactDivergenceStrategy strategy,
                                                                   int64_t rowsPerPass) {
    torch::AutoGradMode enable(true);
    const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
    torch::Tensor Q = particleBasis.defined() ? particleBasis.to(x.options()) : torch::eye(N, x.options());   // [N, K]
    if (Q.dim() != 2 || Q.size(0) != N)
        throw std::invalid_argument("velocityAndExactDivergence: particleBasis must be [" + std::to_string(N) + ", K]");
    if (rowsPerPass < 0)
        throw std::invalid_argument("velocityAndExactDivergence: rowsPerPass must be 0 (automatic) or positive, got " + std::to_string(rowsPerPass));
    // The directions u = q_k (x) e_d, [K D, N, D]; the trace on their span is sum_u u^T (dv/dx) u.
    torch::Tensor directions = torch::einsum("nk,de->kdne", {Q, torch::eye(D, x.options())}).reshape({-1, N, D});
    torch::Tensor velocity;
    if (strategy == ExactDivergenceStrategy::Automatic)
        strategy = B * directions.size(0) <= kReplicatedRows ? ExactDivergenceStrategy::Replicated : ExactDivergenceStrategy::Sequential;
    torch::Tensor divergence = strategy == ExactDivergenceStrategy::Replicated ? replicatedTrace(f, x, t, directions, velocity)
                                                                               : sequentialTraceByPasses(f, x, t, directions,
                                                                                                         sequentialRowsPerPass(x, rowsPerPass), velocity);
    return {velocity.detach(), divergence.detach()};
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
