#include "bg/MaskedLogProb.h"

#include <torch/torch.h>

namespace bg {

MaskedLogProb maskedLogProb(AugmentedCouplingFlow& flow, const torch::Tensor& x, const torch::Tensor& a, double minLogQ) {
    MaskedLogProb result;
    torch::Tensor logQ = flow->logProb(x, a);
    result.aux = flow->auxLoss();   // collected by the pass above; read only after it
    result.logQ = logQ.detach();
    torch::Tensor keep = torch::isfinite(result.logQ) & (result.logQ >= minLogQ);
    result.kept = keep.nonzero().squeeze(1);
    if (result.kept.numel() == logQ.size(0)) {
        result.keptLogQ = logQ;
        return result;
    }
    if (result.kept.numel() == 0) {
        result.keptLogQ = logQ.detach().narrow(0, 0, 0);
        return result;
    }
    result.keptLogQ = flow->logProb(x.index_select(0, result.kept), a.index_select(0, result.kept));
    result.aux = flow->auxLoss();
    return result;
}

} // namespace bg
