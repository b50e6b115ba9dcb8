#ifndef OPENMM_CUDA_BOLTZMANN_GENERATOR_DEVICE_KERNELS_H_
#define OPENMM_CUDA_BOLTZMANN_GENERATOR_DEVICE_KERNELS_H_

// Host entry points of the nvcc-compiled device code in platforms/cuda/kernels/.

namespace BoltzmannPlugin {

/**
 * Gather the positions of the modelled particles from OpenMM's posq array into out[numModelled*3]
 * (nm, double), in modelled order.
 *
 * @param posq            OpenMM's posq (float4 or double4 per atom slot, in OpenMM's atom order)
 * @param posqCorrection  mixed-precision correction (float4) or nullptr
 * @param atomIndex       OpenMM's atom index array: original particle index of each slot
 * @param modelledSlot    original particle index -> modelled index, or -1
 * @param numAtoms        number of atoms in the System
 * @param doublePrecision whether posq holds double4
 * @param stream          the CUDA stream to launch on (OpenMM's current stream)
 * @return the cudaError_t of the launch
 */
int launchGatherModelledPositions(const void* posq, const void* posqCorrection, const int* atomIndex,
                                  const int* modelledSlot, int numAtoms, bool doublePrecision, double* out,
                                  void* stream);

} // namespace BoltzmannPlugin

#endif
