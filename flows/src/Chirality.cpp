// Chirality: the handedness of chiral centres as signs of improper dihedrals, and the restriction
// of a target to one handedness.
#include "bg/Chirality.h"

#include "bg/Ramachandran.h"

#include <torch/torch.h>

#include <set>
#include <stdexcept>

namespace bg {

void checkChiralCentres(const std::vector<ChiralCentre>& centres, int numParticles, int dimension, const std::string& owner) {
    if (!centres.empty() && dimension != 3)
        throw std::invalid_argument(owner + ": chiral centres need a three-dimensional target, this one has D = " + std::to_string(dimension));
    for (size_t i = 0; i < centres.size(); i++) {
        const std::string where = owner + ": chiral centre " + std::to_string(i);
        for (int atom : centres[i])
            if (atom < 0 || atom >= numParticles)
                throw std::invalid_argument(where + " names particle " + std::to_string(atom) + ", outside 0.." + std::to_string(numParticles - 1));
        if (std::set<int>(centres[i].begin(), centres[i].end()).size() != 4)
            throw std::invalid_argument(where + " names a particle more than once");
    }
}

torch::Tensor hasNegativeImpropers(const torch::Tensor& x, const std::vector<ChiralCentre>& centres) {
    torch::Tensor negative = torch::ones({x.size(0)}, torch::kBool);
    for (const ChiralCentre& c : centres)
        negative &= dihedralAngle(x.select(1, c[0]), x.select(1, c[1]), x.select(1, c[2]), x.select(1, c[3])) < 0;
    return negative;
}

void restrictToNegativeImpropers(EnergyEvaluation& evaluation, const torch::Tensor& x, const std::vector<ChiralCentre>& centres) {
    if (centres.empty())
        return;
    torch::NoGradGuard noGrad;
    torch::Tensor inside = hasNegativeImpropers(x.detach().to(torch::kCPU), centres);
    evaluation.energy = torch::where(inside, evaluation.energy, torch::full_like(evaluation.energy, INFINITY));
    evaluation.valid = evaluation.valid.to(torch::kBool) & inside;
    if (evaluation.forces.defined())
        evaluation.forces = torch::where(inside.view({-1, 1, 1}), evaluation.forces, torch::zeros_like(evaluation.forces));
}

} // namespace bg
