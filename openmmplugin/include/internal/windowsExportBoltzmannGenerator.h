#ifndef OPENMM_WINDOWS_EXPORT_BOLTZMANN_GENERATOR_H_
#define OPENMM_WINDOWS_EXPORT_BOLTZMANN_GENERATOR_H_

// Symbol visibility for the OpenMMBG library (only meaningful on Windows).
#if defined(_MSC_VER)
    #if defined(BOLTZMANN_GENERATOR_BUILDING_SHARED_LIBRARY)
        #define OPENMM_EXPORT_BG __declspec(dllexport)
    #else
        #define OPENMM_EXPORT_BG __declspec(dllimport)
    #endif
#else
    #define OPENMM_EXPORT_BG
#endif

#endif
