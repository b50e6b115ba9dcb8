# Locates OpenMM (from the `openmm` wheel's OpenMM.libs/ unless OPENMM_DIR is given), LibTorch (from
# the `torch` wheel), checks that both use the same libstdc++ ABI, and decides whether the CUDA
# platform library can be built.

# ---- OpenMM ------------------------------------------------------------------------------------
if(NOT OPENMM_DIR)
    execute_process(
        COMMAND ${Python3_EXECUTABLE} -c "import os, openmm.version as v; print(os.path.dirname(v.openmm_library_path))"
        OUTPUT_VARIABLE _openmmDir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_QUIET)
    if(NOT _rc EQUAL 0 OR NOT EXISTS "${_openmmDir}/include/OpenMM.h")
        message(FATAL_ERROR "openmm-bg: could not find OpenMM through ${Python3_EXECUTABLE}. "
                            "Install the `openmm` wheel (scripts/bootstrap.sh does) or pass -DOPENMM_DIR=<prefix>.")
    endif()
    set(OPENMM_DIR "${_openmmDir}" CACHE PATH "OpenMM installation prefix (include/, lib/, lib/plugins/)")
endif()
execute_process(COMMAND ${Python3_EXECUTABLE} -c "import openmm.version as v; print(v.short_version)"
                OUTPUT_VARIABLE OPENMM_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
set(OPENMM_PLUGIN_DIR "${OPENMM_DIR}/lib/plugins")

find_library(OPENMM_LIBRARY OpenMM PATHS ${OPENMM_DIR}/lib NO_DEFAULT_PATH REQUIRED)
add_library(OpenMM::OpenMM SHARED IMPORTED)
set_target_properties(OpenMM::OpenMM PROPERTIES
    IMPORTED_LOCATION ${OPENMM_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES "${OPENMM_DIR}/include;${OPENMM_DIR}/include/openmm/reference")

# ---- LibTorch ----------------------------------------------------------------------------------
if(NOT Torch_DIR)
    execute_process(COMMAND ${Python3_EXECUTABLE} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                    OUTPUT_VARIABLE _torchPrefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_QUIET)
    if(_rc EQUAL 0)
        list(APPEND CMAKE_PREFIX_PATH "${_torchPrefix}")
    endif()
endif()
# The torch wheel's CMake package probes the CUDA toolkit; keep its optional extras quiet.
set(CAFFE2_USE_CUDNN OFF CACHE BOOL "")
set(TORCH_CUDA_ARCH_LIST "8.0;9.0" CACHE STRING "GPU architectures for LibTorch's CUDA flags")
find_package(Torch REQUIRED)
# Consumers link torch_cpu + c10 only. Linking ${TORCH_LIBRARIES} would pull libtorch_cuda and the
# system CUDA runtime/NCCL into every executable (and resolve NCCL against the wrong copy); the CUDA
# side of LibTorch is added only where GPU code needs it.
add_library(OpenMMBG::Torch INTERFACE IMPORTED)
set_target_properties(OpenMMBG::Torch PROPERTIES
    INTERFACE_LINK_LIBRARIES "torch_cpu;c10"
    INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}"
    # LibTorch >= 2.10 headers require C++20; everything that includes them compiles as C++20
    # (the project's own code stays within C++17).
    INTERFACE_COMPILE_FEATURES cxx_std_20)

find_package(nlohmann_json 3 REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)

# ---- ABI check ---------------------------------------------------------------------------------
execute_process(
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/check_abi.py ${OPENMM_LIBRARY}
    OUTPUT_VARIABLE _abiReport OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _abiRc)
if(NOT _abiRc EQUAL 0)
    message(FATAL_ERROR "openmm-bg: C++ ABI mismatch between OpenMM and torch.\n${_abiReport}\n"
                        "Pin an OpenMM/torch pair built with the same _GLIBCXX_USE_CXX11_ABI (see requirements.lock).")
endif()
message(STATUS "openmm-bg ABI check: ${_abiReport}")
set(OPENMMBG_CXX11_ABI 1)

# ---- CUDA --------------------------------------------------------------------------------------
find_package(CUDAToolkit QUIET)
set(_cudaDefault OFF)
if(CUDAToolkit_FOUND AND EXISTS "${OPENMM_DIR}/include/openmm/cuda/CudaContext.h"
   AND EXISTS "${OPENMM_PLUGIN_DIR}/libOpenMMCUDA.so")
    set(_cudaDefault ON)
endif()
option(OPENMMBG_BUILD_CUDA "Build the CUDA platform library OpenMMBGCUDA" ${_cudaDefault})
if(OPENMMBG_BUILD_CUDA)
    add_library(OpenMM::CUDA SHARED IMPORTED)
    set_target_properties(OpenMM::CUDA PROPERTIES
        IMPORTED_LOCATION ${OPENMM_PLUGIN_DIR}/libOpenMMCUDA.so
        IMPORTED_NO_SONAME ON
        INTERFACE_INCLUDE_DIRECTORIES "${OPENMM_DIR}/include/openmm/cuda;${OPENMM_DIR}/include/openmm/common;${CUDAToolkit_INCLUDE_DIRS}")
endif()
