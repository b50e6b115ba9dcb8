#ifndef BG_JOINT_DENSITY_H_
#define BG_JOINT_DENSITY_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/Target.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <optional>

namespace bg {

/**
 * The two densities that annealed importance sampling moves between, evaluated together at points
 * of the joint space z = (x, a) flattened to [B, M] (M = N*D*(K+1): x first, then a), float64:
 * the flow q(z) and the unnormalised target p~(z) = p~(x) * pi(a|x).
 */
struct JointEvaluation {
    torch::Tensor logQ;      ///< [B] float64, log q(x, a)
    torch::Tensor logP;      ///< [B] float64, log p~(x) + log pi(a|x) = -u(x) + log pi(a|x)
    torch::Tensor gradLogQ;  ///< [B, M] float64 (undefined if gradients were not requested)
    torch::Tensor gradLogP;  ///< [B, M] float64 (undefined if gradients were not requested)
    torch::Tensor valid;     ///< [B] bool: all of the above finite
};

/** A pair of joint densities (q, p~) over flat points z [B, M]; see JointEvaluation. */
class JointDensity {
public:
    virtual ~JointDensity() = default;
    /** M, the length of a flat joint point. */
    virtual int64_t dimension() const = 0;
    /** Draw n points from q with their log q ([n, M] float64, [n] float64). */
    virtual std::pair<torch::Tensor, torch::Tensor> sample(int64_t n, at::Generator& generator) = 0;
    /** Evaluate log q, log p~ (and their gradients with respect to z) at z [B, M]. */
    virtual JointEvaluation evaluate(const torch::Tensor& z, bool computeGradients) = 0;
};

/**
 * The joint density of an AugmentedCouplingFlow and a Target: q is the flow's log q(x, a); p~ is
 * the target's -u(x) plus the augmented target log pi(a|x). Gradients with respect to (x, a) come
 * from autograd through the flow (the flow's parameter gradients are left untouched) and from the
 * target's forces. Rows whose flow or target values are not finite are marked invalid. Batches are
 * evaluated in chunks of at most maxBatch rows (0 = no limit) to bound memory; the flow's
 * gradient-checkpointing setting is honoured.
 */
class FlowTargetDensity : public JointDensity {
public:
    FlowTargetDensity(AugmentedCouplingFlow flow, Target& target, int64_t maxBatch = 0);
    int64_t dimension() const override;
    std::pair<torch::Tensor, torch::Tensor> sample(int64_t n, at::Generator& generator) override;
    JointEvaluation evaluate(const torch::Tensor& z, bool computeGradients) override;
    /** Split flat points [B, M] into x [B, N, D] and a [B, K, N, D] in the flow's dtype. */
    std::pair<torch::Tensor, torch::Tensor> unflatten(const torch::Tensor& z) const;
    /** Join x [B, N, D] and a [B, K, N, D] into flat float64 points [B, M]. */
    static torch::Tensor flatten(const torch::Tensor& x, const torch::Tensor& a);

private:
    JointEvaluation evaluateChunk(const torch::Tensor& z, bool computeGradients);
    AugmentedCouplingFlow flow;
    Target& target;
    int64_t maxBatch;
};

} // namespace bg

#endif
