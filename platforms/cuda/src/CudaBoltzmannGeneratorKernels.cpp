#include "CudaBoltzmannGeneratorKernels.h"
#include "CudaBoltzmannGeneratorDeviceKernels.h"
#include "ContextSelector.h"
#include "openmm/OpenMMException.h"

#include <cuda_runtime.h>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static void checkCuda(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw OpenMMException(string("CudaCalcBoltzmannGeneratorForceKernel: ") + what + " failed: " + cudaGetErrorString(status));
}

CudaCalcBoltzmannGeneratorForceKernel::~CudaCalcBoltzmannGeneratorForceKernel() {
    if (modelledSlot == nullptr)
        return;
    ContextSelector selector(cu);
    cudaFree(modelledSlot);
    cudaFree(gathered);
}

void CudaCalcBoltzmannGeneratorForceKernel::initialize(const System& system, const BoltzmannGeneratorForce& force) {
    numModelled = force.getNumParticles();
    vector<int> slot(system.getNumParticles(), -1);
    for (int i = 0; i < numModelled; i++)
        slot[force.getParticles()[i]] = i;
    ContextSelector selector(cu);
    checkCuda(cudaMalloc(&modelledSlot, slot.size() * sizeof(int)), "cudaMalloc");
    checkCuda(cudaMalloc(&gathered, 3 * numModelled * sizeof(double)), "cudaMalloc");
    checkCuda(cudaMemcpy(modelledSlot, slot.data(), slot.size() * sizeof(int), cudaMemcpyHostToDevice), "cudaMemcpy");
}

double CudaCalcBoltzmannGeneratorForceKernel::execute(ContextImpl& context, bool includeForces, bool includeEnergy) {
    return 0.0;
}

void CudaCalcBoltzmannGeneratorForceKernel::copyModelledPositions(ContextImpl& context, vector<Vec3>& positions) {
    ContextSelector selector(cu);
    const void* correction = cu.getUseMixedPrecision() ? (const void*) cu.getPosqCorrection().getDevicePointer() : nullptr;
    int status = launchGatherModelledPositions((const void*) cu.getPosq().getDevicePointer(), correction,
                                               (const int*) cu.getAtomIndexArray().getDevicePointer(), modelledSlot,
                                               cu.getNumAtoms(), cu.getUseDoublePrecision(), gathered, cu.getCurrentStream());
    checkCuda((cudaError_t) status, "gather kernel launch");
    vector<double> host(3 * numModelled);
    checkCuda(cudaStreamSynchronize((cudaStream_t) cu.getCurrentStream()), "cudaStreamSynchronize");
    checkCuda(cudaMemcpy(host.data(), gathered, host.size() * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
    positions.resize(numModelled);
    for (int i = 0; i < numModelled; i++)
        positions[i] = Vec3(host[3 * i], host[3 * i + 1], host[3 * i + 2]);
}
