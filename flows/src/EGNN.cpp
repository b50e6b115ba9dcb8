#include "bg/EGNN.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

// Layout conventions (model-spec 7). Ordered pairs i != j of the fully connected graph are stored
// densely as [B, N, N-1, ...]: row i is the receiver, and entry k of the row is the sender
// j = k + (k >= i), i.e. the N-1 other nodes in increasing order. Sums over a receiver's edges are
// then plain reductions over dimension 2 and the diagonal (i == j) is never formed, which is what
// masking a [B, N, N, ...] tensor would achieve at N/(N-1) times the cost. Ordered channel pairs
// r != s of one node use the same scheme: [B, N, C, C-1, ...].

namespace bg {

namespace {

/** For n items, the flat [n(n-1)] list of "senders" j != i, receiver-major (see above). */
torch::Tensor offDiagonalSenders(int64_t n, const torch::Device& device) {
    auto options = torch::TensorOptions().dtype(torch::kLong).device(device);
    torch::Tensor k = torch::arange(n - 1, options).unsqueeze(0);   // [1, n-1]
    torch::Tensor i = torch::arange(n, options).unsqueeze(1);       // [n, 1]
    return (k + k.ge(i).to(torch::kLong)).flatten();                 // [n(n-1)]
}

/** |v|^2 over the last dimension with an exactly-zero vector given 1 (the square of safeNorm). */
torch::Tensor safeSquaredNorm(const torch::Tensor& v, bool keepdim = false) {
    torch::Tensor sq = v.square().sum(-1, keepdim);
    return sq.masked_fill(sq.eq(0), 1.0);
}

std::string shapeString(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); d++)
        s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

} // namespace

torch::Tensor safeNorm(const torch::Tensor& v, bool keepdim) {
    return safeSquaredNorm(v, keepdim).sqrt();
}

// ---------------------------------------------------------------------------------------------
// One EGCL layer (model-spec 7.2)
// ---------------------------------------------------------------------------------------------

EGNNImpl::Layer::Layer(int numFeatures, int numChannels, int width)
    : numFeatures(numFeatures), numChannels(numChannels), width(width) {
    const int numCross = numChannels * (numChannels - 1);   // ordered channel pairs per node
    const int nodeInputs = numFeatures + numCross;           // [h, cross squared lengths] of one node
    const std::vector<int> widths = {width, width};
    // phi_e acts on [h_j, cross_j, h_i, cross_i, l_ij^2]. (The order of the blocks is a permutation of
    // the reference's [h_j, h_i, l^2, cross_j, cross_i]: equivalent, since the first Linear's columns
    // start random, and it lets the node blocks be applied per node rather than per edge.)
    edgeMlp = register_module("edgeMlp", StableMlp(2 * nodeInputs + numChannels, widths, true));
    coordMlp = register_module("coordMlp", StableMlp(width, widths, true));
    coordOut = register_module("coordOut", makeLinear(width, numChannels));
    varianceScalingInit(coordOut, 0.001);
    if (numChannels > 1) {
        crossMlp = register_module("crossMlp", StableMlp(width, widths, true));
        crossOut = register_module("crossOut", makeLinear(width, numCross));
        varianceScalingInit(crossOut, 0.001);
    }
    gate = register_module("gate", makeLinear(width, 1));
    // phi_h = StableMlp(w, w) -> Linear(F) with the default init and no activation after it.
    featureMlp = register_module("featureMlp", StableMlp(width + numFeatures, widths, true));
    featureOut = register_module("featureOut", makeLinear(width, numFeatures));
}

std::pair<torch::Tensor, torch::Tensor> EGNNImpl::Layer::forward(const torch::Tensor& V, const torch::Tensor& h,
                                                                 const torch::Tensor& senders,
                                                                 const torch::Tensor& channelSenders) {
    const int64_t B = V.size(0), N = V.size(1), C = numChannels, D = V.size(3);
    const int64_t F = numFeatures, X = C * (C - 1);

    // Edge geometry: r_ij^c = V_i^c - V_j^c, l_ij^c = safe_norm(r_ij^c).          [B, N, N-1, C(, D)]
    torch::Tensor r = V.unsqueeze(2) - V.index_select(1, senders).view({B, N, N - 1, C, D});
    torch::Tensor edgeSq = safeSquaredNorm(r);
    torch::Tensor edgeLength = edgeSq.sqrt();

    // Cross-channel geometry: rho_i^{rs} = V_i^r - V_i^s for s != r; its squared safe norm is a
    // node feature.                                                                [B, N, C, C-1(, D)]
    torch::Tensor rho, crossSq, nodeInput = h;
    if (C > 1) {
        rho = V.unsqueeze(3) - V.index_select(2, channelSenders).view({B, N, C, C - 1, D});
        crossSq = safeSquaredNorm(rho);
        nodeInput = torch::cat({h, crossSq.view({B, N, X})}, -1);   // [B, N, F+X]
    }

    // Messages m_ij = phi_e([h_j, cross_j, h_i, cross_i, l_ij^2]). The first Linear is split into
    // its column blocks: the node blocks are applied once per node and gathered/broadcast to the
    // edges, the edge block once per edge.
    const torch::Tensor& W = edgeMlp->firstLayer()->weight;   // [w, 2(F+X)+C]
    const torch::Tensor& bias = edgeMlp->firstLayer()->bias;
    const int64_t nodeInputs = F + X;
    torch::Tensor senderPart = torch::linear(nodeInput, W.narrow(1, 0, nodeInputs));                  // [B, N, w]
    torch::Tensor receiverPart = torch::linear(nodeInput, W.narrow(1, nodeInputs, nodeInputs), bias);  // [B, N, w]
    torch::Tensor edgePart = torch::linear(edgeSq, W.narrow(1, 2 * nodeInputs, C));                   // [B, N, N-1, w]
    torch::Tensor firstOutput = edgePart + receiverPart.unsqueeze(2) +
                                senderPart.index_select(1, senders).view({B, N, N - 1, width});
    torch::Tensor m = edgeMlp->forwardFromFirst(firstOutput);   // [B, N, N-1, w]

    // Coordinate update: dV_i^c = 1/(N-1) sum_j a_ij^c r_ij^c / (1 + l_ij^c), a_ij = Linear_C(phi_x(m_ij)).
    torch::Tensor a = coordOut(coordMlp(m));                                          // [B, N, N-1, C]
    torch::Tensor coefficient = a / ((1.0 + edgeLength) * static_cast<double>(N - 1));
    torch::Tensor dV = (coefficient.unsqueeze(-1) * r).sum(2);                        // [B, N, C, D]

    // Cross-channel update: g_i = sum of the messages i receives (the later reference choice; the
    // original summed the messages i sends, equally equivariant), b_i = Linear_{C(C-1)}(phi_xc(g_i)),
    // dV_i^r += 1/(C-1) sum_s b_i^{rs} rho_i^{rs} / (1 + |rho_i^{rs}|^2).
    if (C > 1) {
        torch::Tensor g = m.sum(2);                                                   // [B, N, w]
        torch::Tensor b = crossOut(crossMlp(g)).view({B, N, C, C - 1});
        torch::Tensor crossCoefficient = b / ((1.0 + crossSq) * static_cast<double>(C - 1));
        dV = dV + (crossCoefficient.unsqueeze(-1) * rho).sum(3);
    }

    // Feature update: e_ij = sigmoid(Linear_1(m_ij)), M_i = sum_j e_ij m_ij / sqrt(N-1),
    // h_i <- h_i + phi_h([M_i, h_i]).
    torch::Tensor e = torch::sigmoid(gate(m));                                        // [B, N, N-1, 1]
    torch::Tensor M = (e * m).sum(2) / std::sqrt(static_cast<double>(N - 1));        // [B, N, w]
    torch::Tensor hOut = h + featureOut(featureMlp(torch::cat({M, h}, -1)));
    return {V + dV, hOut};
}

// ---------------------------------------------------------------------------------------------
// The network (model-spec 7.1 and 7.3)
// ---------------------------------------------------------------------------------------------

EGNNImpl::EGNNImpl(const EGNNSettings& settings) : settings(settings) {
    const EGNNSettings& s = settings;
    if (s.numChannelsIn < 1)
        throw std::invalid_argument("EGNN: numChannelsIn must be at least 1, got " + std::to_string(s.numChannelsIn));
    if (s.numVectorsOut < 1 || s.numVectorsOut % s.numChannelsIn != 0)
        throw std::invalid_argument("EGNN: numVectorsOut (" + std::to_string(s.numVectorsOut) +
                                    ") must be a positive multiple of numChannelsIn (" + std::to_string(s.numChannelsIn) + ")");
    if (s.numLayers < 1)
        throw std::invalid_argument("EGNN: numLayers must be at least 1, got " + std::to_string(s.numLayers));
    if (s.mlpWidth < 1)
        throw std::invalid_argument("EGNN: mlpWidth must be at least 1, got " + std::to_string(s.mlpWidth));
    if (s.numFeatures < 1)
        throw std::invalid_argument("EGNN: numFeatures must be at least 1, got " + std::to_string(s.numFeatures));
    if (s.numEmbeddings < 0)
        throw std::invalid_argument("EGNN: numEmbeddings must be non-negative, got " + std::to_string(s.numEmbeddings));
    if (s.numConditioning < 0)
        throw std::invalid_argument("EGNN: numConditioning must be non-negative, got " + std::to_string(s.numConditioning));
    if (s.numEmbeddings > 0 && s.embeddingDim < 1)
        throw std::invalid_argument("EGNN: embeddingDim must be at least 1, got " + std::to_string(s.embeddingDim));

    // h0: one learned N(0,1) scalar shared by every node, or an N(0,1) table indexed by node feature.
    if (s.numEmbeddings == 0) {
        scalarEmbedding = register_parameter("scalarEmbedding", torch::randn({1}));
        inputLinear = register_module("inputLinear", makeLinear(1, s.numFeatures));
    }
    else {
        table = register_module("table", torch::nn::Embedding(s.numEmbeddings, s.embeddingDim));
        torch::NoGradGuard noGrad;
        table->weight.normal_(0.0, 1.0);
        inputLinear = register_module("inputLinear", makeLinear(s.embeddingDim, s.numFeatures));
    }
    layerList = register_module("layers", torch::nn::ModuleList());
    for (int k = 0; k < s.numLayers; k++) {
        layers.push_back(std::make_shared<Layer>(s.numFeatures, s.numVectorsOut, s.mlpWidth));
        layerList->push_back(layers.back());
    }
    if (s.numConditioning > 0) {
        conditioningList = register_module("conditioning", torch::nn::ModuleList());
        for (int k = 0; k < s.numLayers; k++)
            conditioningList->push_back(makeLinear(s.numConditioning, s.numFeatures));
    }
    outputLinear = register_module("outputLinear", makeLinear(s.numFeatures, s.numFeatures));
}

std::pair<torch::Tensor, torch::Tensor> EGNNImpl::forward(const torch::Tensor& x, const torch::Tensor& nodeFeatures) {
    return forwardConditioned(x, nodeFeatures, torch::Tensor());
}

std::pair<torch::Tensor, torch::Tensor> EGNNImpl::forwardConditioned(const torch::Tensor& x, const torch::Tensor& nodeFeatures,
                                                                     const torch::Tensor& conditioning) {
    const EGNNSettings& s = settings;
    if (!x.defined() || x.dim() != 4 || x.size(2) != s.numChannelsIn || x.size(1) < 2 || x.size(3) < 1)
        throw std::invalid_argument("EGNN: expected positions of shape [B, N >= 2, " + std::to_string(s.numChannelsIn) +
                                    ", D], got " + (x.defined() ? shapeString(x) : std::string("an undefined tensor")));
    if (x.scalar_type() != inputLinear->weight.scalar_type())
        throw std::invalid_argument("EGNN: positions have dtype " + std::string(c10::toString(x.scalar_type())) +
                                    " but the parameters " + std::string(c10::toString(inputLinear->weight.scalar_type())));
    const int64_t B = x.size(0), N = x.size(1), Cin = s.numChannelsIn, D = x.size(3);
    const int64_t C = s.numVectorsOut, repeats = C / Cin, F = s.numFeatures;

    // Centre each channel separately, then repeat each channel `repeats` times consecutively:
    // channel c becomes channels c*repeats ... c*repeats + repeats-1.
    torch::Tensor centred = x - x.mean(1, /*keepdim=*/true);
    torch::Tensor V0 = repeats == 1 ? centred : centred.unsqueeze(3).expand({B, N, Cin, repeats, D}).reshape({B, N, C, D});

    // Initial features h = Linear_F(h0), identical for every sample of the batch.
    torch::Tensor h;
    if (s.numEmbeddings == 0)
        h = inputLinear(scalarEmbedding.view({1, 1})).expand({B, N, F});
    else {
        if (!nodeFeatures.defined() || nodeFeatures.dim() != 1 || nodeFeatures.size(0) != N ||
            !c10::isIntegralType(nodeFeatures.scalar_type(), /*includeBool=*/false))
            throw std::invalid_argument("EGNN: expected integer node features of shape [" + std::to_string(N) + "], got " +
                                        (nodeFeatures.defined() ? shapeString(nodeFeatures) : std::string("an undefined tensor")));
        torch::Tensor indices = nodeFeatures.to(x.device(), torch::kLong);
        h = inputLinear(table(indices)).unsqueeze(0).expand({B, N, F});
    }

    torch::Tensor senders = offDiagonalSenders(N, x.device());
    torch::Tensor channelSenders = C > 1 ? offDiagonalSenders(C, x.device()) : torch::Tensor();
    if (conditioning.defined() != (s.numConditioning > 0) ||
        (conditioning.defined() && (conditioning.dim() != 2 || conditioning.size(0) != B || conditioning.size(1) != s.numConditioning)))
        throw std::invalid_argument("EGNN: expected conditioning of shape [" + std::to_string(B) + ", " + std::to_string(s.numConditioning) +
                                    "], got " + (conditioning.defined() ? shapeString(conditioning) : std::string("none")));
    torch::Tensor V = V0;
    for (size_t k = 0; k < layers.size(); k++) {
        if (s.numConditioning > 0)
            h = h + conditioningList[k]->as<torch::nn::Linear>()->forward(conditioning).unsqueeze(1);
        std::tie(V, h) = layers[k]->forward(V, h, senders, channelSenders);
    }

    // Outputs: displacements from the initial vectors (translation-invariant) and Linear_F(softmax(h)).
    return {V - V0, outputLinear(torch::softmax(h, -1))};
}

} // namespace bg
