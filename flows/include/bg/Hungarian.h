#ifndef BG_HUNGARIAN_H_
#define BG_HUNGARIAN_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace bg {

/**
 * Solve the linear assignment problem min_pi sum_i cost[i][pi(i)] over permutations pi of n items
 * (the Hungarian method with row/column potentials, O(n^3); ecnf-spec 3.2, 3.5). No library for it
 * is among the project's dependencies, hence this one.
 *
 * @param cost  n x n finite costs, row-major (cost[i * n + j] = cost of row i to column j)
 * @return pi as n column indices, pi[i] = the column assigned to row i
 * @throws std::invalid_argument if cost.size() != n * n or a cost is not finite
 */
std::vector<int64_t> solveAssignment(const std::vector<double>& cost, int64_t n);

/**
 * solveAssignment() of a [n, n] tensor (any floating dtype or device; copied to the CPU as double).
 * @return [n] int64 on the CPU, column of each row
 * @throws std::invalid_argument for a non-square or non-finite cost
 */
torch::Tensor solveAssignment(const torch::Tensor& cost);

} // namespace bg

#endif
