#include "bg/Hungarian.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace bg {

std::vector<int64_t> solveAssignment(const std::vector<double>& cost, int64_t n) {
    if (n < 0 || (int64_t) cost.size() != n * n)
        throw std::invalid_argument("solveAssignment: expected n * n costs");
    for (double c : cost)
        if (!std::isfinite(c))
            throw std::invalid_argument("solveAssignment: costs must be finite");
    // Shortest augmenting paths with potentials u (rows) and v (columns), 1-based with a virtual
    // column 0; match[j] = row matched to column j.
    const double infinity = std::numeric_limits<double>::infinity();
    std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0);
    std::vector<int64_t> match(n + 1, 0), way(n + 1, 0);
    for (int64_t i = 1; i <= n; i++) {
        match[0] = i;
        int64_t j0 = 0;
        std::vector<double> minSlack(n + 1, infinity);
        std::vector<char> used(n + 1, 0);
        do {
            used[j0] = 1;
            const int64_t i0 = match[j0];
            double delta = infinity;
            int64_t j1 = 0;
            for (int64_t j = 1; j <= n; j++) {
                if (used[j])
                    continue;
                const double slack = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (slack < minSlack[j]) {
                    minSlack[j] = slack;
                    way[j] = j0;
                }
                if (minSlack[j] < delta) {
                    delta = minSlack[j];
                    j1 = j;
                }
            }
            for (int64_t j = 0; j <= n; j++) {
                if (used[j]) {
                    u[match[j]] += delta;
                    v[j] -= delta;
                }
                else
                    minSlack[j] -= delta;
            }
            j0 = j1;
        } while (match[j0] != 0);
        do {   // augment along the path back to the virtual column
            const int64_t j1 = way[j0];
            match[j0] = match[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<int64_t> assignment(n);
    for (int64_t j = 1; j <= n; j++)
        assignment[match[j] - 1] = j - 1;
    return assignment;
}

torch::Tensor solveAssignment(const torch::Tensor& cost) {
    if (!cost.defined() || cost.dim() != 2 || cost.size(0) != cost.size(1))
        throw std::invalid_argument("solveAssignment: expected a square [n, n] cost matrix");
    torch::Tensor c = cost.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const int64_t n = c.size(0);
    std::vector<double> values(c.data_ptr<double>(), c.data_ptr<double>() + n * n);
    return torch::tensor(solveAssignment(values, n), torch::kLong);
}

} // namespace bg
