// Independence Metropolis-Hastings moves with flow proposals (BoltzmannGeneratorIntegrator).

#include "internal/FlowMove.h"
#include "internal/ArchiveBlock.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

struct FlowMoveSampler::Cache {
    // Proposals [P, N, D] (zero centre), their log q(x, a) and log pi(a|x) (E-ACF) or log q(x) and 0 (E-CNF), float64;
    // with draws > 1 (E-ACF) log qhat(x) over `draws` augmented draws (bg::multiDrawLogProposal) and 0.
    torch::Tensor x, logQ, logPi;
    int64_t next = 0, version = -1;   // next unused proposal; the model's parameter version they were drawn with
    int64_t draws = 1;                // augmented draws behind logQ
    int hasVirtualSites = -1;   // whether the System has virtual sites (-1: not looked at yet)
};

FlowMoveSampler::FlowMoveSampler() : cache(new Cache()) {
}

FlowMoveSampler::~FlowMoveSampler() {
}

namespace {

/** The Context's potential energy (kJ/mol) for the groups, +inf if it cannot be evaluated or is not finite. */
double contextEnergy(ContextImpl& context, int groups) {
    try {
        const double energy = context.calcForcesAndEnergy(false, true, groups);
        return isfinite(energy) ? energy : numeric_limits<double>::infinity();
    }
    catch (const exception&) {
        return numeric_limits<double>::infinity();
    }
}

/** Whether the Context's System has virtual sites. */
bool systemHasVirtualSites(ContextImpl& context) {
    const System& system = context.getSystem();
    for (int i = 0; i < system.getNumParticles(); i++)
        if (system.isVirtualSite(i))
            return true;
    return false;
}

/** Set positions (and recompute virtual sites) in the Context. */
void setContextPositions(ContextImpl& context, const vector<Vec3>& positions, bool hasVirtualSites) {
    context.setPositions(positions);
    if (hasVirtualSites)
        context.computeVirtualSites();
}

/** Whether configurations x and y [1, N, 3] agree in the sign of every improper dihedral of `centres` (true without centres). */
bool sameHandedness(const torch::Tensor& x, const torch::Tensor& y, const vector<bg::ChiralCentre>& centres) {
    for (const bg::ChiralCentre& c : centres)
        if (bg::hasNegativeImpropers(x, {c}).item<bool>() != bg::hasNegativeImpropers(y, {c}).item<bool>())
            return false;
    return true;
}

}   // namespace

void FlowMoveSampler::drawProposals(BoltzmannGeneratorModel& model, int count, int draws) {
    BoltzmannGeneratorModel::State& state = model.getState();
    bg::ModelSample s = state.model->sample(count, state.generator);
    cache->x = s.x.to(torch::kFloat64);
    if (s.a.defined()) {   // E-ACF: log q(x, a) again by the inverse pass; log pi(a|x) of the drawn a
        cache->logQ = state.couplingFlow("the flow move")->logProb(s.x, s.a).to(torch::kFloat64);
        cache->logPi = s.logAugmented.to(torch::kFloat64);
        if (draws > 1) {   // over the proposal's own a (its inverse-pass density) and draws - 1 new ones
            bg::ModelSample own = s;
            own.logQ = cache->logQ;
            own.logAugmented = cache->logPi;
            cache->logQ = bg::multiDrawLogProposal(*state.model, own, draws, state.generator).to(torch::kFloat64);
            cache->logPi = torch::zeros_like(cache->logQ);
        }
    }
    else {   // E-CNF: log q(x) again by the ODE from t = 1 to 0, as for the current state; no a
        cache->logQ = state.model->proposalLogProb(s.x, state.generator).logQ.to(torch::kFloat64);
        cache->logPi = torch::zeros_like(cache->logQ);
    }
    cache->next = 0;
    cache->version = model.getParameterVersion();
    cache->draws = draws;
}

FlowMoveResult FlowMoveSampler::move(BoltzmannGeneratorModel& model, ContextImpl& context, int proposalBatch, int weightDraws, int groups) {
    torch::NoGradGuard noGrad;
    BoltzmannGeneratorModel::State& state = model.getState();
    const vector<int>& particles = model.getParticles();
    const int n = particles.size(), d = model.getDimension();
    const double inf = numeric_limits<double>::infinity(), kT = model.getKT();
    vector<Vec3> positions;
    context.getPositions(positions);
    if (cache->hasVirtualSites < 0)   // looked up once, not on every move (large solvated Systems)
        cache->hasVirtualSites = systemHasVirtualSites(context) ? 1 : 0;
    const bool virtualSites = cache->hasVirtualSites != 0;

    // The current state, centred; for the E-ACF a ~ pi(a|x) is drawn afresh (a Gibbs step on a),
    // or with M > 1 weight draws all M of them (then log qhat(x), the flow's marginal estimate).
    vector<Vec3> current(n);
    for (int i = 0; i < n; i++)
        current[i] = positions[particles[i]];
    torch::Tensor x = positionsToTensor(current, n, d);
    torch::Tensor centre = x.mean(1, true);
    torch::Tensor xc = (x - centre).to(state.dtype());
    const bool multiDraw = weightDraws > 1 && state.model->augmented();
    double logQ = 0.0, logPi = 0.0;
    if (multiDraw) {
        logQ = state.model->marginalLogProb(xc, weightDraws, state.generator).item<double>();
    }
    else {
        bg::ModelDensity density = state.model->proposalLogProb(xc, state.generator);
        logQ = density.logQ.item<double>();
        logPi = density.logAugmented.defined() ? density.logAugmented.item<double>() : 0.0;
    }

    // The proposal, from a cache of flow samples drawn with the current parameters. Their log q is
    // evaluated in the same (inverse) direction as the current state's, so both sides of the
    // acceptance ratio carry the same rounding.
    if (cache->version != model.getParameterVersion() || cache->next >= cache->x.size(0) || cache->draws != weightDraws)
        drawProposals(model, max(1, proposalBatch), weightDraws);
    const int64_t k = cache->next++;
    torch::Tensor proposal = (cache->x.slice(0, k, k + 1) + centre).contiguous();
    const double proposalLogQ = cache->logQ[k].item<double>();
    const double proposalLogPi = cache->logPi[k].item<double>();
    FlowMoveResult result;
    if (!sameHandedness(x, proposal, state.chiralCentres)) {   // outside the support that the training keeps to
        result.proposalLogWeight = -inf;
        return result;
    }

    // Energies from the Context itself (its box, parameters and the integration force groups), so
    // the move leaves exactly the distribution that the dynamics sample invariant.
    const double energy = contextEnergy(context, groups);
    vector<Vec3> proposed = positions;
    const double* data = proposal.data_ptr<double>();
    bool finite = true;
    for (int i = 0; i < n; i++) {
        proposed[particles[i]] = Vec3(data[i * d], data[i * d + 1], d == 3 ? data[i * d + 2] : 0.0);
        for (int c = 0; c < 3; c++)
            finite &= isfinite(proposed[particles[i]][c]);
    }
    double proposalEnergy = inf;
    if (finite) {
        setContextPositions(context, proposed, virtualSites);
        proposalEnergy = contextEnergy(context, groups);
    }
    const double logW = -energy / kT + logPi - logQ;
    const double logWProposal = -proposalEnergy / kT + proposalLogPi - proposalLogQ;
    const double logUniform = log(torch::rand({1}, state.generator, torch::kFloat64).item<double>());
    const bool proposalValid = isfinite(logWProposal), currentValid = isfinite(logW);
    result.proposalLogWeight = proposalValid ? logWProposal : -inf;
    result.accepted = proposalValid && (!currentValid || logUniform < logWProposal - logW);
    if (!result.accepted && finite)
        setContextPositions(context, positions, virtualSites);   // restore
    return result;
}

void FlowMoveSampler::save(BoltzmannGeneratorModel& model, ostream& stream) const {
    torch::serialize::OutputArchive archive;
    const bool valid = cache->version == model.getParameterVersion() && cache->x.defined();
    archive.write("counters", torch::tensor({cache->next, int64_t(valid ? 1 : 0), cache->draws}, torch::kInt64));
    if (valid) {
        archive.write("x", cache->x);
        archive.write("logQ", cache->logQ);
        archive.write("logPi", cache->logPi);
    }
    writeArchiveBlock(stream, archive);
}

void FlowMoveSampler::load(BoltzmannGeneratorModel& model, istream& stream) {
    readArchiveBlock(stream, "flow-move proposals", [&](torch::serialize::InputArchive& archive, const string&) {
        torch::Tensor counters;
        archive.read("counters", counters);
        cache.reset(new Cache());
        if (counters[1].item<int64_t>() != 0) {
            archive.read("x", cache->x);
            archive.read("logQ", cache->logQ);
            archive.read("logPi", cache->logPi);
            cache->next = counters[0].item<int64_t>();
            cache->version = model.getParameterVersion();
            cache->draws = counters.numel() > 2 ? counters[2].item<int64_t>() : 1;   // checkpoints before weight draws: 1
        }
    });
}
