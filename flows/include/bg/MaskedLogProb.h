#ifndef BG_MASKEDLOGPROB_H_
#define BG_MASKEDLOGPROB_H_

#include "bg/AugmentedCouplingFlow.h"

#include <torch/types.h>

#include <limits>

namespace bg {

/** log q of a batch with the rows that fail a mask left out of the autograd graph. */
struct MaskedLogProb {
    torch::Tensor logQ;       ///< [b] log q of every row, detached (non-finite where the flow failed)
    torch::Tensor kept;       ///< [k] int64 indices of the rows with finite log q >= minLogQ
    torch::Tensor keptLogQ;   ///< [k] log q of the kept rows, with autograd graph
    torch::Tensor aux;        ///< the flow's aux loss of the pass that produced keptLogQ
};

/**
 * Evaluate log q(x, a) for training. A NaN anywhere in a pass poisons the parameter gradient even
 * where its row is given zero weight (0 * NaN = NaN), so when some rows have non-finite log q or
 * log q < minLogQ, the kept rows are evaluated again on their own and keptLogQ (and aux) come from
 * that pass; otherwise the first pass is used as it is.
 */
MaskedLogProb maskedLogProb(AugmentedCouplingFlow& flow, const torch::Tensor& x, const torch::Tensor& a,
                            double minLogQ = -std::numeric_limits<double>::infinity());

} // namespace bg

#endif
