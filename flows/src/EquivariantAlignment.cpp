#include "bg/EquivariantAlignment.h"

#include "bg/Hungarian.h"
#include "bg/ZeroCoMGaussian.h"

#include <torch/torch.h>

#include <map>
#include <stdexcept>
#include <string>

namespace bg {

namespace {

/** Particle indices grouped by type (one group of all particles when types is empty). */
std::vector<std::vector<int64_t>> typeGroups(const std::vector<int>& types, int64_t n) {
    if (types.empty()) {
        std::vector<int64_t> all(n);
        for (int64_t i = 0; i < n; i++)
            all[i] = i;
        return {all};
    }
    if ((int64_t) types.size() != n)
        throw std::invalid_argument("alignPairs: particleTypes needs one entry per particle");
    std::map<int, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < n; i++)
        groups[types[i]].push_back(i);
    std::vector<std::vector<int64_t>> out;
    for (auto& entry : groups)
        out.push_back(entry.second);
    return out;
}

/**
 * For each pair p, the permutation of x0's particles (within groups) minimising the summed squared
 * distances to x1: x0.index(perm[p]) lines up with x1[p]. Returns [P, N] int64.
 */
torch::Tensor bestPermutations(const torch::Tensor& x0, const torch::Tensor& x1, const std::vector<std::vector<int64_t>>& groups) {
    const int64_t P = x0.size(0), N = x0.size(1);
    torch::Tensor distances = torch::cdist(x1, x0).square().to(torch::kCPU, torch::kFloat64).contiguous();   // [P, N(x1), N(x0)]
    const double* d = distances.data_ptr<double>();
    torch::Tensor permutation = torch::empty({P, N}, torch::kLong);
    int64_t* out = permutation.data_ptr<int64_t>();
    for (int64_t p = 0; p < P; p++)
        for (const auto& group : groups) {
            const int64_t g = group.size();
            std::vector<double> cost(g * g);
            for (int64_t a = 0; a < g; a++)
                for (int64_t b = 0; b < g; b++)
                    cost[a * g + b] = d[(p * N + group[a]) * N + group[b]];
            std::vector<int64_t> assignment = solveAssignment(cost, g);
            for (int64_t a = 0; a < g; a++)
                out[p * N + group[a]] = group[assignment[a]];   // x1's particle group[a] takes x0's group[assignment[a]]
        }
    return permutation.to(x0.device());
}

} // namespace

torch::Tensor kabschRotation(const torch::Tensor& X, const torch::Tensor& Y, bool allowReflections) {
    torch::Tensor H = removeCentreOfMass(X).transpose(1, 2).matmul(removeCentreOfMass(Y));   // [P, D, D]
    auto [U, S, Vh] = torch::linalg_svd(H, /*full_matrices=*/false);
    torch::Tensor W = Vh.transpose(1, 2);
    torch::Tensor Ut = U.transpose(1, 2);
    if (!allowReflections) {
        torch::Tensor delta = torch::sign(torch::det(W.matmul(Ut)));
        delta = torch::where(delta.eq(0), torch::ones_like(delta), delta);
        W = torch::cat({W.narrow(2, 0, W.size(2) - 1), W.narrow(2, W.size(2) - 1, 1) * delta.view({-1, 1, 1})}, 2);
    }
    return W.matmul(Ut);
}

namespace {

/** The starting orientations of alignPairs(): [k, D, D], the identity first. */
torch::Tensor startingRotations(int k, int64_t dimension, const torch::TensorOptions& options) {
    if (dimension == 2) {
        torch::Tensor angles = torch::arange(k, options) * (2 * M_PI / k);
        torch::Tensor c = torch::cos(angles), s = torch::sin(angles);
        return torch::stack({torch::stack({c, -s}, 1), torch::stack({s, c}, 1)}, 1);
    }
    torch::Generator fixed = at::detail::createCPUGenerator(20231);
    torch::Tensor eye = torch::eye(dimension, options).unsqueeze(0);
    return k == 1 ? eye : torch::cat({eye, randomRotations(k - 1, dimension, options, fixed)});
}

/** One start of alignPairs(): alternate permutation and rotation from source; returns (aligned, cost). */
std::pair<torch::Tensor, torch::Tensor> alternate(const torch::Tensor& source, const torch::Tensor& target, const AlignmentOptions& options,
                                                  const std::vector<std::vector<int64_t>>& groups) {
    torch::Tensor aligned = source;
    torch::Tensor cost = (aligned - target).square().sum({1, 2});
    for (int round = 0; round < std::max(1, options.iterations); round++) {
        torch::Tensor candidate = aligned;
        if (options.permute) {
            torch::Tensor permutation = bestPermutations(candidate, target, groups);
            candidate = torch::gather(candidate, 1, permutation.unsqueeze(-1).expand_as(candidate));
        }
        if (options.rotate)
            candidate = candidate.matmul(kabschRotation(candidate, target, options.reflections).transpose(1, 2));
        torch::Tensor newCost = (candidate - target).square().sum({1, 2});
        const bool improved = (newCost < cost * (1 - 1e-10)).any().item<bool>();
        aligned = torch::where((newCost <= cost).view({-1, 1, 1}), candidate, aligned);
        cost = torch::minimum(newCost, cost);
        if (round > 0 && !improved)
            break;
    }
    return {aligned, cost};
}

} // namespace

std::pair<torch::Tensor, torch::Tensor> alignPairs(const torch::Tensor& x0, const torch::Tensor& x1, const AlignmentOptions& options) {
    torch::NoGradGuard noGrad;
    if (x0.dim() != 3 || !x0.sizes().equals(x1.sizes()))
        throw std::invalid_argument("alignPairs: expected x0 and x1 of the same shape [P, N, D]");
    const auto groups = typeGroups(options.particleTypes, x0.size(1));
    torch::Tensor source = removeCentreOfMass(x0), target = removeCentreOfMass(x1);
    const int starts = options.rotate ? std::max(1, options.rotationStarts) : 1;
    torch::Tensor rotations = startingRotations(starts, x0.size(2), source.options());
    torch::Tensor best, bestCost;
    for (int k = 0; k < starts; k++) {
        auto [aligned, cost] = alternate(k == 0 ? source : source.matmul(rotations[k].t()), target, options, groups);
        if (k == 0) {
            best = aligned;
            bestCost = cost;
            continue;
        }
        best = torch::where((cost < bestCost).view({-1, 1, 1}), aligned, best);
        bestCost = torch::minimum(cost, bestCost);
    }
    return {best, bestCost};
}

torch::Tensor equivariantOtCoupling(const torch::Tensor& x0, const torch::Tensor& x1, const AlignmentOptions& options) {
    torch::NoGradGuard noGrad;
    if (x0.dim() != 3 || !x0.sizes().equals(x1.sizes()))
        throw std::invalid_argument("equivariantOtCoupling: expected x0 and x1 of the same shape [B, N, D]");
    const int64_t B = x0.size(0), N = x0.size(1), D = x0.size(2);
    // All pairs (i noise, j data), row-major: pair i * B + j.
    torch::Tensor noise = x0.unsqueeze(1).expand({B, B, N, D}).reshape({B * B, N, D});
    torch::Tensor data = x1.unsqueeze(0).expand({B, B, N, D}).reshape({B * B, N, D});
    auto [aligned, cost] = alignPairs(noise, data, options);
    torch::Tensor assignment = solveAssignment(cost.view({B, B}));   // noise i -> data assignment[i]
    torch::Tensor pairIndex = torch::arange(B, torch::kLong) * B + assignment;
    torch::Tensor chosen = aligned.index_select(0, pairIndex.to(x0.device()));   // row i: noise i aligned to its data
    torch::Tensor out = torch::empty_like(chosen);
    out.index_copy_(0, assignment.to(x0.device()), chosen);
    return out;
}

torch::Tensor minibatchOtCoupling(const torch::Tensor& x0, const torch::Tensor& x1) {
    torch::NoGradGuard noGrad;
    const int64_t B = x0.size(0);
    torch::Tensor cost = torch::cdist(x0.reshape({B, -1}), x1.reshape({B, -1})).square();
    torch::Tensor assignment = solveAssignment(cost).to(x0.device());
    torch::Tensor out = torch::empty_like(x0);
    out.index_copy_(0, assignment, x0);
    return out;
}

torch::Tensor randomRotations(int64_t n, int dimension, const torch::TensorOptions& options, std::optional<at::Generator> generator) {
    torch::Tensor g = at::normal(0.0, 1.0, {n, dimension, dimension}, generator, options.device(torch::kCPU));
    auto [Q, R] = torch::linalg_qr(g);
    Q = Q * torch::sign(torch::diagonal(R, 0, 1, 2)).unsqueeze(1);
    torch::Tensor flip = torch::ones({n, 1, dimension}, Q.options());
    flip.select(2, 0).copy_(torch::sign(torch::det(Q)).unsqueeze(1));
    return (Q * flip).to(options.device());
}

} // namespace bg
