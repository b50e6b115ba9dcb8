#ifndef BG_CNF_VECTOR_FIELD_H_
#define BG_CNF_VECTOR_FIELD_H_

#include "bg/CnfConfig.h"
#include "bg/EGNN.h"

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace bg {

/**
 * The E-CNF's velocity field v(x, t) (ecnf-spec 1.1): the project's EGNN with one vector channel,
 * the sinusoidal time embedding as per-sample conditioning re-injected before every layer, and an
 * optional particle-type embedding; the output u = V_L - V_0 is projected to zero centre of mass
 * and multiplied by one learned scalar c (initialised to 1). v is rotation-equivariant,
 * translation-invariant and permutation-equivariant among particles of the same type, and starts
 * close to 0 (the EGNN's coordinate heads are initialised at scale 0.001).
 */
class CnfVectorFieldImpl : public torch::nn::Module {
public:
    /** @throws std::invalid_argument for an invalid configuration (CnfConfig::validate()). */
    explicit CnfVectorFieldImpl(const CnfConfig& config);
    /**
     * @param x  [B, N, D] positions (nm), in the parameters' dtype; the centre of mass is irrelevant
     * @param t  [B] times in [0, 1] (t = 0 noise, t = 1 data)
     * @return v [B, N, D] (nm per unit time), zero centre of mass
     * @throws std::invalid_argument for wrong shapes or dtypes
     */
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);

private:
    CnfConfig config;
    EGNN egnn{nullptr};
    torch::Tensor outputScale;    // c
    torch::Tensor nodeFeatures;   // [N] int64 embedding rows (undefined without a table)
};
TORCH_MODULE(CnfVectorField);

/**
 * The Fairseq/VDM sinusoid of ecnf-spec 1.1 step 3: s = scale t (the spec: 1000),
 * f_k = exp(-k ln(10^4) / (E/2 - 1)), emb = [sin(s f_0..), cos(s f_0..)].
 * @param t  [B]; @param dim  E, even and >= 4; @param scale  the factor of t
 * @return [B, E] in t's dtype
 */
torch::Tensor sinusoidalTimeEmbedding(const torch::Tensor& t, int dim, double scale = 1000.0);

} // namespace bg

#endif
