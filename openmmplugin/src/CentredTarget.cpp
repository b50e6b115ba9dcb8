#include "internal/CentredTarget.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

using namespace BoltzmannPlugin;

CentredTarget::CentredTarget(bg::Target& inner) : inner(inner), centre(inner.dimension(), 0.0) {
}

void CentredTarget::setCentre(const std::vector<double>& c) {
    if ((int) c.size() != inner.dimension())
        throw std::invalid_argument("CentredTarget: the centre needs " + std::to_string(inner.dimension()) + " values, got " +
                                    std::to_string(c.size()));
    for (double value : c)
        if (!std::isfinite(value))
            throw std::invalid_argument("CentredTarget: the centre must be finite");
    centre = c;
}

torch::Tensor CentredTarget::placeAtCentre(const torch::Tensor& x) const {
    torch::Tensor y = x.detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor c = torch::tensor(centre, torch::kFloat64).view({1, 1, -1});
    return y - y.mean(1, true) + c;
}

bg::EnergyEvaluation CentredTarget::evaluate(const torch::Tensor& x, bool computeForces) {
    bg::EnergyEvaluation e = inner.evaluate(placeAtCentre(x), computeForces);
    if (computeForces && e.forces.defined())
        e.forces = e.forces - e.forces.mean(1, true);   // d u(x - mean(x) + c) / dx
    return e;
}
