#include "CudaBoltzmannGeneratorDeviceKernels.h"

#include <cuda_runtime.h>

namespace {

// posq holds four Real per atom slot (x, y, z, charge); posqCorrection four floats (mixed precision).
template <class Real>
__global__ void gatherModelledPositions(const Real* __restrict__ posq, const float* __restrict__ posqCorrection,
                                        const int* __restrict__ atomIndex, const int* __restrict__ modelledSlot,
                                        int numAtoms, double* __restrict__ out) {
    for (int slot = blockIdx.x * blockDim.x + threadIdx.x; slot < numAtoms; slot += blockDim.x * gridDim.x) {
        int k = modelledSlot[atomIndex[slot]];
        if (k < 0)
            continue;
        for (int d = 0; d < 3; d++) {
            double value = posq[4 * slot + d];
            if (posqCorrection != nullptr)
                value += posqCorrection[4 * slot + d];
            out[3 * k + d] = value;
        }
    }
}

} // namespace

namespace BoltzmannPlugin {

int launchGatherModelledPositions(const void* posq, const void* posqCorrection, const int* atomIndex,
                                  const int* modelledSlot, int numAtoms, bool doublePrecision, double* out,
                                  void* stream) {
    const int block = 128;
    const int grid = (numAtoms + block - 1) / block;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (doublePrecision)
        gatherModelledPositions<double><<<grid, block, 0, s>>>(static_cast<const double*>(posq), nullptr, atomIndex,
                                                                modelledSlot, numAtoms, out);
    else
        gatherModelledPositions<float><<<grid, block, 0, s>>>(static_cast<const float*>(posq),
                                                               static_cast<const float*>(posqCorrection), atomIndex,
                                                               modelledSlot, numAtoms, out);
    return static_cast<int>(cudaGetLastError());
}

} // namespace BoltzmannPlugin
