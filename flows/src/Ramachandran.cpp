#include "bg/Ramachandran.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace bg {

torch::Tensor dihedralAngle(const torch::Tensor& p0, const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& p3) {
    torch::Tensor b1 = (p1 - p0).to(torch::kFloat64), b2 = (p2 - p1).to(torch::kFloat64), b3 = (p3 - p2).to(torch::kFloat64);
    torch::Tensor n1 = torch::linalg_cross(b1, b2, -1), n2 = torch::linalg_cross(b2, b3, -1);
    torch::Tensor y = b2.norm(2, -1) * (b1 * n2).sum(-1);
    torch::Tensor x = (n1 * n2).sum(-1);
    return torch::atan2(y, x);
}

static void checkAldp(const torch::Tensor& x, const char* where) {
    if (x.dim() != 3 || x.size(1) != 22 || x.size(2) != 3)
        throw std::invalid_argument(std::string(where) + ": expected alanine dipeptide configurations [B, 22, 3]");
}

static torch::Tensor atoms(const torch::Tensor& x, int a, int b, int c, int d) {
    return dihedralAngle(x.select(1, a), x.select(1, b), x.select(1, c), x.select(1, d));
}

torch::Tensor alanineDipeptidePhi(const torch::Tensor& x) {
    checkAldp(x, "alanineDipeptidePhi");
    using namespace AlanineDipeptideAtoms;
    return atoms(x, AceC, N, CA, C);
}

torch::Tensor alanineDipeptidePsi(const torch::Tensor& x) {
    checkAldp(x, "alanineDipeptidePsi");
    using namespace AlanineDipeptideAtoms;
    return atoms(x, N, CA, C, NmeN);
}

torch::Tensor isLAlanine(const torch::Tensor& x) {
    checkAldp(x, "isLAlanine");
    using namespace AlanineDipeptideAtoms;
    return atoms(x, N, CA, C, CB) < 0;
}

static torch::Tensor binProbabilities(const torch::Tensor& indices, int64_t cells) {
    torch::Tensor counts = torch::zeros({cells}, torch::kFloat64);
    if (indices.numel() > 0)
        counts.index_add_(0, indices, torch::ones({indices.numel()}, torch::kFloat64));
    double total = counts.sum().item<double>();
    return total > 0 ? counts / total : counts;
}

static torch::Tensor binOf(const torch::Tensor& angles, int bins) {
    torch::Tensor t = ((angles + M_PI) / (2 * M_PI) * bins).floor().to(torch::kInt64);
    return t.clamp(0, bins - 1);
}

static double kl(const torch::Tensor& p, const torch::Tensor& q, double eps) {
    return (p * ((p + eps).log() - (q + eps).log())).sum().item<double>();
}

double angleKld(const torch::Tensor& reference, const torch::Tensor& samples, int bins, double eps) {
    if (bins < 1)
        throw std::invalid_argument("angleKld: bins must be positive");
    torch::Tensor r = reference.to(torch::kFloat64).flatten(), s = samples.to(torch::kFloat64).flatten();
    r = r.masked_select(torch::isfinite(r));
    s = s.masked_select(torch::isfinite(s));
    return kl(binProbabilities(binOf(r, bins), bins), binProbabilities(binOf(s, bins), bins), eps);
}

double ramachandranKld(const torch::Tensor& referencePhi, const torch::Tensor& referencePsi, const torch::Tensor& samplePhi,
                       const torch::Tensor& samplePsi, int bins, double eps) {
    if (bins < 1)
        throw std::invalid_argument("ramachandranKld: bins must be positive");
    auto cells = [&](const torch::Tensor& phi, const torch::Tensor& psi) {
        torch::Tensor f = phi.to(torch::kFloat64).flatten(), g = psi.to(torch::kFloat64).flatten();
        torch::Tensor ok = torch::isfinite(f) & torch::isfinite(g);
        return binOf(f.masked_select(ok), bins) * bins + binOf(g.masked_select(ok), bins);
    };
    return kl(binProbabilities(cells(referencePhi, referencePsi), int64_t(bins) * bins),
              binProbabilities(cells(samplePhi, samplePsi), int64_t(bins) * bins), eps);
}

} // namespace bg
