// The EGNN torso (model-spec 7) and its building blocks: initialisers, StableMlp, ConditionerHead.

#include "bg/EGNN.h"
#include "bg/StableMlp.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

using namespace bg;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

double maxAbs(const torch::Tensor& t) {
    return t.abs().max().item<double>();
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) {
    return maxAbs(a - b);
}

EGNNSettings smallSettings(int channelsIn, int vectorsOut) {
    EGNNSettings s;
    s.numChannelsIn = channelsIn;
    s.numVectorsOut = vectorsOut;
    s.numLayers = 3;
    s.mlpWidth = 16;
    s.numFeatures = 12;
    return s;
}

/** A float64 EGNN whose small-init output layers are replaced by O(1) random weights, so that the
 *  coordinate updates (and any bug in them) are not hidden under the 0.001 initialisation. */
EGNN makeNetwork(const EGNNSettings& settings, bool perturb = true) {
    EGNN net(settings);
    net->to(torch::kFloat64);
    if (perturb) {
        torch::NoGradGuard noGrad;
        for (auto& p : net->named_parameters()) {
            const std::string& name = p.key();
            if (name.find("coordOut") != std::string::npos || name.find("crossOut") != std::string::npos)
                p.value().normal_(0.0, 0.1);
        }
    }
    return net;
}

/** Uniformly random rotation in SO(D) (QR of a Gaussian matrix with the sign convention fixed). */
torch::Tensor randomRotation(int D) {
    auto qr = torch::linalg_qr(torch::randn({D, D}, f64));
    torch::Tensor Q = std::get<0>(qr) * std::get<1>(qr).diagonal().sign().unsqueeze(0);
    if (torch::det(Q).item<double>() < 0)
        Q.select(1, 0).neg_();
    return Q;
}

/** Rotate the last (spatial) axis: v -> R v for row vectors, i.e. v R^T. */
torch::Tensor rotate(const torch::Tensor& v, const torch::Tensor& R) {
    return torch::matmul(v, R.t());
}

// ------------------------------------------------------------------------------------------
// A direct transcription of model-spec 7 with explicit loops over samples, nodes, edges and
// channels, reading the network's parameters by name. It shares no code with EGNN.cpp.
// ------------------------------------------------------------------------------------------

using Params = torch::OrderedDict<std::string, torch::Tensor>;

torch::Tensor naiveLinear(const Params& p, const std::string& prefix, const torch::Tensor& x) {
    return torch::mv(p[prefix + ".weight"], x) + p[prefix + ".bias"];
}

torch::Tensor naiveLayerNorm(const Params& p, const std::string& prefix, const torch::Tensor& x) {
    torch::Tensor mean = x.mean();
    torch::Tensor var = (x - mean).square().mean();
    return (x - mean) / torch::sqrt(var + 1e-5) * p[prefix + ".weight"] + p[prefix + ".bias"];
}

/** StableMlp with widths {w, w} and a final activation. */
torch::Tensor naiveStableMlp(const Params& p, const std::string& prefix, const torch::Tensor& x) {
    torch::Tensor y = torch::silu(naiveLinear(p, prefix + ".first", x));
    return y + torch::silu(naiveLinear(p, prefix + ".linears.0", naiveLayerNorm(p, prefix + ".norms.0", y)));
}

double naiveSafeSq(const torch::Tensor& v) {
    double sq = v.square().sum().item<double>();
    return sq == 0 ? 1.0 : sq;
}

/** Reference forward pass for one sample x [N, Cin, D]. */
std::pair<torch::Tensor, torch::Tensor> naiveEgnn(const EGNN& net, const torch::Tensor& x, const std::vector<int64_t>& nodeFeatures) {
    const EGNNSettings& s = net->getSettings();
    const Params p = net->named_parameters();
    const int64_t N = x.size(0), Cin = x.size(1), D = x.size(2), C = s.numVectorsOut, rep = C / Cin;
    // 7.1: centre every channel, repeat each channel rep times consecutively, embed.
    std::vector<torch::Tensor> V(N), h(N);
    for (int64_t i = 0; i < N; i++) {
        V[i] = torch::zeros({C, D}, f64);
        for (int64_t c = 0; c < Cin; c++)
            for (int64_t t = 0; t < rep; t++)
                V[i][c * rep + t].copy_(x[i][c] - x.select(1, c).mean(0));
        torch::Tensor h0 = s.numEmbeddings == 0 ? p["scalarEmbedding"] : p["table.weight"][nodeFeatures[i]];
        h[i] = naiveLinear(p, "inputLinear", h0);
    }
    const std::vector<torch::Tensor> V0 = V;
    for (int layer = 0; layer < s.numLayers; layer++) {
        const std::string L = "layers." + std::to_string(layer) + ".";
        // Cross-channel squared lengths of every node, ordered pairs (r, s != r) r-major.
        std::vector<torch::Tensor> cross(N);
        for (int64_t i = 0; i < N; i++) {
            std::vector<double> values;
            for (int64_t r = 0; r < C; r++)
                for (int64_t q = 0; q < C; q++)
                    if (q != r)
                        values.push_back(naiveSafeSq(V[i][r] - V[i][q]));
            cross[i] = torch::tensor(values, f64);
        }
        std::vector<torch::Tensor> newV(N), newH(N);
        for (int64_t i = 0; i < N; i++) {
            torch::Tensor dV = torch::zeros({C, D}, f64);
            torch::Tensor g = torch::zeros({s.mlpWidth}, f64), gated = torch::zeros({s.mlpWidth}, f64);
            for (int64_t j = 0; j < N; j++) {
                if (j == i)
                    continue;
                torch::Tensor rij = V[i] - V[j];
                std::vector<double> sq;
                for (int64_t c = 0; c < C; c++)
                    sq.push_back(naiveSafeSq(rij[c]));
                // Edge input in the network's block order [h_j, cross_j, h_i, cross_i, l^2].
                torch::Tensor input = torch::cat({h[j], cross[j], h[i], cross[i], torch::tensor(sq, f64)});
                torch::Tensor m = naiveStableMlp(p, L + "edgeMlp", input);
                torch::Tensor a = naiveLinear(p, L + "coordOut", naiveStableMlp(p, L + "coordMlp", m));
                for (int64_t c = 0; c < C; c++)
                    dV[c].add_(a[c] * rij[c] / (1.0 + std::sqrt(sq[c])) / double(N - 1));
                g += m;
                gated += torch::sigmoid(naiveLinear(p, L + "gate", m)) * m;
            }
            if (C > 1) {
                torch::Tensor b = naiveLinear(p, L + "crossOut", naiveStableMlp(p, L + "crossMlp", g));
                int64_t k = 0;
                for (int64_t r = 0; r < C; r++)
                    for (int64_t q = 0; q < C; q++) {
                        if (q == r)
                            continue;
                        torch::Tensor rho = V[i][r] - V[i][q];
                        dV[r].add_(b[k++] * rho / (1.0 + naiveSafeSq(rho)) / double(C - 1));
                    }
            }
            torch::Tensor M = gated / std::sqrt(double(N - 1));
            newH[i] = h[i] + naiveLinear(p, L + "featureOut", naiveStableMlp(p, L + "featureMlp", torch::cat({M, h[i]})));
            newV[i] = V[i] + dV;
        }
        V = newV;
        h = newH;
    }
    std::vector<torch::Tensor> vectors(N), features(N);
    for (int64_t i = 0; i < N; i++) {
        vectors[i] = V[i] - V0[i];
        features[i] = naiveLinear(p, "outputLinear", torch::softmax(h[i], 0));
    }
    return {torch::stack(vectors), torch::stack(features)};
}

} // namespace

// ------------------------------------------------------------------------------------------
// Initialisers and MLPs
// ------------------------------------------------------------------------------------------

TEST(EGNNInit, MakeLinearIsTruncatedNormalWithZeroBias) {
    torch::manual_seed(1);
    const int fanIn = 400, fanOut = 300;
    torch::nn::Linear layer = makeLinear(fanIn, fanOut);
    const double sigma = 1.0 / std::sqrt(double(fanIn));
    torch::Tensor w = layer->weight.to(torch::kFloat64);
    EXPECT_EQ(maxAbs(layer->bias), 0.0);
    // Nominal std 1/sqrt(fan_in), truncated at 2 sigma: the realised std is 0.8796 sigma
    // (haiku's TruncatedNormal), every |w| <= 2 sigma, and the tails reach close to 2 sigma.
    EXPECT_NEAR(w.std().item<double>() / sigma, 0.8796, 0.01);
    EXPECT_NEAR(w.mean().item<double>() / sigma, 0.0, 0.01);
    EXPECT_LE(maxAbs(w), 2.0 * sigma * (1 + 1e-6));
    EXPECT_GT(maxAbs(w), 1.99 * sigma);
    // Fraction beyond 1 sigma for a standard normal truncated at 2: (2(Phi(2)-Phi(1)))/(2 Phi(2)-1) = 0.2858.
    double beyondOne = (w.abs() > sigma).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(beyondOne, 0.2858, 0.01);
}

TEST(EGNNInit, VarianceScalingRespectsItsBounds) {
    torch::manual_seed(2);
    torch::nn::Linear layer = makeLinear(200, 50);
    const double scale = 0.5;
    varianceScalingInit(layer, scale);
    const double limit = std::sqrt(3.0 * scale / ((200 + 50) / 2.0));
    torch::Tensor w = layer->weight.to(torch::kFloat64);
    EXPECT_EQ(maxAbs(layer->bias), 0.0);
    EXPECT_LE(maxAbs(w), limit);
    EXPECT_GT(maxAbs(w), 0.99 * limit);
    EXPECT_NEAR(w.std().item<double>(), limit / std::sqrt(3.0), 0.02 * limit);
}

TEST(StableMlp, MatchesItsDefinition) {
    torch::manual_seed(3);
    const int inputs = 5, width = 7;
    torch::Tensor x = torch::randn({4, inputs}, f64);
    auto layerNorm = [](const torch::Tensor& v, const torch::nn::LayerNorm& ln) {
        torch::Tensor mean = v.mean(-1, true);
        torch::Tensor var = (v - mean).square().mean(-1, true);
        return (v - mean) / torch::sqrt(var + 1e-5) * ln->weight + ln->bias;
    };
    for (bool activateFinal : {true, false}) {
        StableMlp mlp(inputs, std::vector<int>{width, width, width}, activateFinal);
        mlp->to(torch::kFloat64);
        EXPECT_EQ(mlp->outputs(), width);
        // Non-trivial LayerNorm parameters, so that scale and offset are both exercised.
        for (auto& p : mlp->named_parameters())
            if (p.key().find("norms") != std::string::npos)
                p.value().data().normal_();
        auto params = mlp->named_parameters();
        auto ln = [&](int k) {
            torch::nn::LayerNorm n(torch::nn::LayerNormOptions({width}));
            n->to(torch::kFloat64);
            n->weight.data().copy_(params["norms." + std::to_string(k) + ".weight"]);
            n->bias.data().copy_(params["norms." + std::to_string(k) + ".bias"]);
            return n;
        };
        auto lin = [&](const std::string& name, const torch::Tensor& v) {
            return torch::linear(v, params[name + ".weight"], params[name + ".bias"]);
        };
        torch::Tensor y = torch::silu(lin("first", x));
        y = y + torch::silu(lin("linears.0", layerNorm(y, ln(0))));
        torch::Tensor last = lin("linears.1", layerNorm(y, ln(1)));
        y = y + (activateFinal ? torch::silu(last) : last);
        EXPECT_LT(maxDiff(mlp(x), y), 1e-12) << "activateFinal " << activateFinal;
        EXPECT_LT(maxDiff(mlp->forwardFromFirst(mlp->firstLayer()(x)), y), 1e-12);
    }
}

TEST(StableMlp, RejectsUnequalOrEmptyWidths) {
    EXPECT_THROW(StableMlp(3, std::vector<int>{}), std::invalid_argument);
    EXPECT_THROW(StableMlp(3, std::vector<int>{8, 16}), std::invalid_argument);
    EXPECT_THROW(ConditionerHead(3, std::vector<int>{}, 4, true), std::invalid_argument);
    EXPECT_NO_THROW(StableMlp(3, std::vector<int>{8, 8, 8}));
}

TEST(ConditionerHead, IdentityInitOutputsExactlyZero) {
    torch::manual_seed(4);
    ConditionerHead head(10, std::vector<int>{16, 16}, 25, true);
    head->to(torch::kFloat64);
    torch::Tensor out = head(torch::randn({3, 7, 10}, f64));
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 7, 25}));
    EXPECT_EQ(maxAbs(out), 0.0);
    // Still trainable: the zero output layer receives a gradient.
    out.sum().backward();
    bool anyGradient = false;
    for (auto& p : head->named_parameters())
        if (p.key().rfind("out.", 0) == 0 && p.value().grad().defined())
            anyGradient = anyGradient || maxAbs(p.value().grad()) > 0;
    EXPECT_TRUE(anyGradient);
}

TEST(ConditionerHead, DefaultInitIsSmallButNonzero) {
    torch::manual_seed(5);
    const int width = 64, outputs = 25;
    ConditionerHead head(10, std::vector<int>{width, width}, outputs, false);
    head->to(torch::kFloat64);
    auto params = head->named_parameters();
    const double limit = std::sqrt(3.0 * 0.1 / ((width + outputs) / 2.0));
    EXPECT_LE(maxAbs(params["out.weight"]), limit);
    EXPECT_EQ(maxAbs(params["out.bias"]), 0.0);
    torch::Tensor x = torch::randn({50, 10}, f64);
    torch::Tensor out = head(x);
    EXPECT_GT(maxAbs(out), 1e-3);
    // Smaller than a default-initialised output layer on the same hidden features would give.
    torch::nn::Linear reference = makeLinear(width, outputs);
    reference->to(torch::kFloat64);
    torch::Tensor hidden = x;
    for (auto& child : head->named_children())
        if (child.key() == "mlp")
            hidden = child.value()->as<StableMlp>()->forward(x);
    EXPECT_LT(out.std().item<double>(), 0.7 * reference(hidden).std().item<double>());
}

// ------------------------------------------------------------------------------------------
// EGNN
// ------------------------------------------------------------------------------------------

TEST(EGNN, OutputShapes) {
    torch::manual_seed(6);
    for (int D : {2, 3})
        for (int channelsIn : {1, 2})
            for (int multiplicity : {2, 3}) {
                EGNNSettings s = smallSettings(channelsIn, multiplicity * channelsIn);
                s.numLayers = 2;
                EGNN net = makeNetwork(s, false);
                torch::Tensor x = torch::randn({3, 5, channelsIn, D}, f64);
                auto [vectors, features] = net(x, torch::Tensor());
                EXPECT_EQ(vectors.sizes(), (std::vector<int64_t>{3, 5, multiplicity * channelsIn, D}));
                EXPECT_EQ(features.sizes(), (std::vector<int64_t>{3, 5, s.numFeatures}));
                EXPECT_EQ(vectors.scalar_type(), torch::kFloat64);
                EXPECT_TRUE(torch::isfinite(vectors).all().item<bool>());
                EXPECT_TRUE(torch::isfinite(features).all().item<bool>());
            }
}

TEST(EGNN, MatchesALoopTranscriptionOfTheSpec) {
    torch::manual_seed(7);
    struct Case {
        int channelsIn, vectorsOut, D, numEmbeddings;
    };
    for (Case c : {Case{2, 4, 3, 0}, Case{1, 3, 2, 5}}) {
        EGNNSettings s = smallSettings(c.channelsIn, c.vectorsOut);
        s.numLayers = 2;
        s.mlpWidth = 8;
        s.numFeatures = 6;
        s.numEmbeddings = c.numEmbeddings;
        s.embeddingDim = 4;
        EGNN net = makeNetwork(s);
        const int N = 4;
        std::vector<int64_t> nodes = {3, 0, 4, 1};
        torch::Tensor x = torch::randn({2, N, c.channelsIn, c.D}, f64) + 0.7;
        auto [vectors, features] = net(x, torch::tensor(nodes));
        EXPECT_GT(maxAbs(vectors), 1e-2);   // the updates are not negligible
        for (int b = 0; b < 2; b++) {
            auto [naiveVectors, naiveFeatures] = naiveEgnn(net, x[b], nodes);
            EXPECT_LT(maxDiff(vectors[b], naiveVectors), 1e-12) << "C " << c.vectorsOut << " D " << c.D;
            EXPECT_LT(maxDiff(features[b], naiveFeatures), 1e-12) << "C " << c.vectorsOut << " D " << c.D;
        }
    }
}

TEST(EGNN, RotationEquivariantAndInvariant) {
    torch::manual_seed(8);
    for (int D : {2, 3})
        for (auto [channelsIn, vectorsOut] : std::vector<std::pair<int, int>>{{1, 3}, {2, 4}}) {
            EGNN net = makeNetwork(smallSettings(channelsIn, vectorsOut));
            torch::Tensor x = torch::randn({4, 6, channelsIn, D}, f64);
            torch::Tensor R = randomRotation(D);
            auto [vectors, features] = net(x, torch::Tensor());
            auto [rotatedVectors, rotatedFeatures] = net(rotate(x, R), torch::Tensor());
            ASSERT_GT(maxAbs(vectors), 1e-2);
            EXPECT_LT(maxDiff(rotatedVectors, rotate(vectors, R)), 1e-10) << "D " << D << " C " << vectorsOut;
            EXPECT_LT(maxDiff(rotatedFeatures, features), 1e-10) << "D " << D << " C " << vectorsOut;
            // Sanity: the rotation is not (close to) the identity, so the check has teeth.
            EXPECT_GT(maxDiff(rotatedVectors, vectors), 1e-3);
        }
}

TEST(EGNN, TranslationInvariantPerChannel) {
    torch::manual_seed(9);
    for (int D : {2, 3}) {
        EGNN net = makeNetwork(smallSettings(2, 6));
        torch::Tensor x = torch::randn({3, 5, 2, D}, f64);
        auto [vectors, features] = net(x, torch::Tensor());
        // A common shift and a different shift for every channel (centring is per channel).
        for (torch::Tensor shift : {torch::randn({1, 1, 1, D}, f64) * 5, torch::randn({1, 1, 2, D}, f64) * 5}) {
            auto [shiftedVectors, shiftedFeatures] = net(x + shift, torch::Tensor());
            EXPECT_LT(maxDiff(shiftedVectors, vectors), 1e-10);
            EXPECT_LT(maxDiff(shiftedFeatures, features), 1e-10);
        }
        // A shift of one node only is a different configuration: the outputs change.
        torch::Tensor moved = x.clone();
        moved.select(1, 2).add_(0.5);
        EXPECT_GT(maxDiff(net(moved, torch::Tensor()).first, vectors), 1e-4);
    }
}

TEST(EGNN, PermutationEquivariant) {
    torch::manual_seed(10);
    const int N = 7;
    torch::Tensor perm = torch::randperm(N, torch::kLong);
    // Shared scalar embedding.
    {
        EGNN net = makeNetwork(smallSettings(2, 4));
        torch::Tensor x = torch::randn({3, N, 2, 3}, f64);
        auto [vectors, features] = net(x, torch::Tensor());
        auto [pv, pf] = net(x.index_select(1, perm), torch::Tensor());
        EXPECT_LT(maxDiff(pv, vectors.index_select(1, perm)), 1e-10);
        EXPECT_LT(maxDiff(pf, features.index_select(1, perm)), 1e-10);
    }
    // Embedding table: equivariant when the node features are permuted along with the positions,
    // and the table matters when they are not.
    {
        EGNNSettings s = smallSettings(1, 3);
        s.numEmbeddings = 5;
        s.embeddingDim = 4;
        EGNN net = makeNetwork(s);
        torch::Tensor nodes = torch::tensor(std::vector<int64_t>{0, 1, 2, 3, 4, 0, 2});
        torch::Tensor x = torch::randn({3, N, 1, 2}, f64);
        auto [vectors, features] = net(x, nodes);
        auto [pv, pf] = net(x.index_select(1, perm), nodes.index_select(0, perm));
        EXPECT_LT(maxDiff(pv, vectors.index_select(1, perm)), 1e-10);
        EXPECT_LT(maxDiff(pf, features.index_select(1, perm)), 1e-10);
        auto [qv, qf] = net(x.index_select(1, perm), nodes);
        EXPECT_GT(maxDiff(qf, features.index_select(1, perm)), 1e-4);
    }
}

TEST(EGNN, OutputsAreNotTriviallyConstant) {
    // Default (unperturbed) initialisation: small coordinate updates, but nonzero and input-dependent.
    torch::manual_seed(11);
    for (int channelsIn : {1, 2}) {
        EGNN net = makeNetwork(smallSettings(channelsIn, 2 * channelsIn), false);
        torch::Tensor x = torch::randn({2, 5, channelsIn, 3}, f64);
        torch::Tensor y = torch::randn({2, 5, channelsIn, 3}, f64);
        auto [vx, fx] = net(x, torch::Tensor());
        auto [vy, fy] = net(y, torch::Tensor());
        EXPECT_GT(maxAbs(vx), 1e-6);
        EXPECT_LT(maxAbs(vx), 1.0);   // the 0.001 output initialisation keeps them small
        EXPECT_GT(maxDiff(vx, vy), 1e-6);
        EXPECT_GT(maxDiff(fx, fy), 1e-6);
        // The features differ between nodes (they see different geometry) and between samples.
        EXPECT_GT(maxDiff(fx.select(1, 0), fx.select(1, 1)), 1e-6);
        // Every output channel moves (the repeated channels separate).
        EXPECT_GT(vx.abs().amax({0, 1, 3}).min().item<double>(), 0.0);
    }
}

TEST(EGNN, GradientsAreFiniteAtCoincidentChannels) {
    // At input, repeated channels coincide (zero cross vectors): safe_norm must keep gradients finite.
    torch::manual_seed(12);
    EGNN net = makeNetwork(smallSettings(1, 3));
    torch::Tensor x = torch::randn({2, 5, 1, 3}, f64).requires_grad_(true);
    auto [vectors, features] = net(x, torch::Tensor());
    (vectors.square().sum() + features.sum()).backward();
    EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
    EXPECT_GT(maxAbs(x.grad()), 0.0);
    for (auto& p : net->named_parameters()) {
        ASSERT_TRUE(p.value().grad().defined()) << p.key();
        EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    }
}

TEST(EGNN, ParametersAreRegisteredConvertedAndSerialised) {
    torch::manual_seed(13);
    EGNNSettings s = smallSettings(2, 4);
    EGNN net(s);
    auto params = net->named_parameters();
    for (int k = 0; k < s.numLayers; k++)
        for (const char* name : {"edgeMlp.first.weight", "edgeMlp.linears.0.weight", "edgeMlp.norms.0.bias",
                                 "coordOut.weight", "crossMlp.first.weight", "crossOut.weight", "gate.weight",
                                 "featureMlp.first.weight", "featureOut.bias"})
            EXPECT_TRUE(params.contains("layers." + std::to_string(k) + "." + name)) << name;
    EXPECT_TRUE(params.contains("scalarEmbedding"));
    EXPECT_TRUE(params.contains("inputLinear.weight"));
    EXPECT_TRUE(params.contains("outputLinear.weight"));

    // float32 forward, then the same weights in float64: to(dtype) reaches every parameter.
    torch::Tensor x = torch::randn({2, 6, 2, 3});
    auto [v32, f32] = net(x, torch::Tensor());
    EXPECT_EQ(v32.scalar_type(), torch::kFloat32);
    net->to(torch::kFloat64);
    for (auto& p : net->parameters())
        EXPECT_EQ(p.scalar_type(), torch::kFloat64);
    auto [v64, f64out] = net(x.to(torch::kFloat64), torch::Tensor());
    EXPECT_LT(maxDiff(v32.to(torch::kFloat64), v64), 1e-5 * (1 + maxAbs(v64)));
    EXPECT_LT(maxDiff(f32.to(torch::kFloat64), f64out), 1e-4);
    EXPECT_THROW(net(x, torch::Tensor()), std::invalid_argument);   // dtype mismatch

    // Save and load into a differently initialised network: identical outputs.
    std::stringstream stream;
    torch::save(net, stream);
    torch::manual_seed(99);
    EGNN other(s);
    other->to(torch::kFloat64);
    EXPECT_GT(maxDiff(other(x.to(torch::kFloat64), torch::Tensor()).second, f64out), 1e-6);
    torch::load(other, stream);
    auto [vLoaded, fLoaded] = other(x.to(torch::kFloat64), torch::Tensor());
    EXPECT_EQ(maxDiff(vLoaded, v64), 0.0);
    EXPECT_EQ(maxDiff(fLoaded, f64out), 0.0);
}

TEST(EGNN, SafeNorm) {
    torch::Tensor v = torch::tensor({0.0, 0.0, 0.0, 3.0, 4.0, 0.0}, f64).view({2, 3});
    torch::Tensor n = safeNorm(v);
    EXPECT_EQ(n.sizes(), (std::vector<int64_t>{2}));
    EXPECT_DOUBLE_EQ(n[0].item<double>(), 1.0);
    EXPECT_DOUBLE_EQ(n[1].item<double>(), 5.0);
    EXPECT_EQ(safeNorm(v, true).sizes(), (std::vector<int64_t>{2, 1}));
}

TEST(EGNN, RejectsBadSettingsAndShapes) {
    auto make = [](auto modify) {
        EGNNSettings s = smallSettings(2, 4);
        modify(s);
        return EGNN(s);
    };
    EXPECT_THROW(make([](EGNNSettings& s) { s.numVectorsOut = 3; }), std::invalid_argument);
    EXPECT_THROW(make([](EGNNSettings& s) { s.numVectorsOut = 0; }), std::invalid_argument);
    EXPECT_THROW(make([](EGNNSettings& s) { s.numChannelsIn = 0; }), std::invalid_argument);
    EXPECT_THROW(make([](EGNNSettings& s) { s.numLayers = 0; }), std::invalid_argument);
    EXPECT_THROW(make([](EGNNSettings& s) { s.mlpWidth = 0; }), std::invalid_argument);
    EXPECT_THROW(make([](EGNNSettings& s) { s.numFeatures = 0; }), std::invalid_argument);
    try {
        make([](EGNNSettings& s) { s.numLayers = 0; });
        FAIL() << "no exception";
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("EGNN"), std::string::npos);
    }
    EGNN net = make([](EGNNSettings&) {});
    net->to(torch::kFloat64);
    EXPECT_THROW(net(torch::zeros({2, 5, 3, 3}, f64), torch::Tensor()), std::invalid_argument);   // C_in
    EXPECT_THROW(net(torch::zeros({5, 2, 3}, f64), torch::Tensor()), std::invalid_argument);      // rank
    EXPECT_THROW(net(torch::zeros({2, 1, 2, 3}, f64), torch::Tensor()), std::invalid_argument);   // N = 1
    EXPECT_NO_THROW(net(torch::zeros({2, 5, 2, 3}, f64), torch::Tensor()));
    EGNN table = make([](EGNNSettings& s) { s.numEmbeddings = 3; });
    table->to(torch::kFloat64);
    torch::Tensor x = torch::randn({2, 4, 2, 3}, f64);
    EXPECT_THROW(table(x, torch::Tensor()), std::invalid_argument);
    EXPECT_THROW(table(x, torch::zeros({3}, torch::kLong)), std::invalid_argument);
    EXPECT_NO_THROW(table(x, torch::tensor(std::vector<int64_t>{0, 1, 2, 0})));
}

TEST(EGNN, RunsOnCudaLikeOnCpu) {
    if (!torch::cuda::is_available())
        GTEST_SKIP() << "no CUDA device";
    torch::manual_seed(14);
    EGNN net = makeNetwork(smallSettings(2, 4));
    torch::Tensor x = torch::randn({3, 6, 2, 3}, f64);
    auto [vectors, features] = net(x, torch::Tensor());
    net->to(torch::kCUDA);
    auto [cudaVectors, cudaFeatures] = net(x.to(torch::kCUDA), torch::Tensor());
    EXPECT_LT(maxDiff(cudaVectors.cpu(), vectors), 1e-10);
    EXPECT_LT(maxDiff(cudaFeatures.cpu(), features), 1e-10);
}
