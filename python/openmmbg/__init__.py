"""openmm-bg: Boltzmann generators (SE(3)-equivariant augmented coupling flows) inside OpenMM.

Importing this package loads the openmm-bg platform plugins into OpenMM (the Reference/CPU
kernels always, the CUDA kernels when OpenMM's CUDA platform is available) and exposes the
OpenMM-facing classes, e.g. ``openmmbg.BoltzmannGeneratorForce``.
"""
import os as _os

import openmm as _openmm

from . import _buildinfo

__version__ = _buildinfo.version

_pluginLoadFailures = []


def _packagePath(directory):
    """A directory named by _buildinfo: absolute in the build tree, relative to this package when installed."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), directory)


def getPluginDirectories():
    """(directory of libOpenMMBGReference.so, directory of libOpenMMBGCUDA.so) this import loads them from:
    the package's lib/plugins and lib/plugins-cuda when installed, the build's lib/plugins* in a build tree,
    or the environment variables OPENMMBG_PLUGIN_DIR and OPENMMBG_CUDA_PLUGIN_DIR where set."""
    return (_os.environ.get("OPENMMBG_PLUGIN_DIR", _packagePath(_buildinfo.plugin_dir)),
            _os.environ.get("OPENMMBG_CUDA_PLUGIN_DIR", _packagePath(_buildinfo.cuda_plugin_dir)))


def _loadPlugins():
    """Load this build's plugin libraries into OpenMM; remember failures instead of raising."""
    directory, cudaDirectory = getPluginDirectories()
    paths = [_os.path.join(directory, "libOpenMMBGReference.so")]
    platforms = [_openmm.Platform.getPlatform(i).getName() for i in range(_openmm.Platform.getNumPlatforms())]
    if "CUDA" in platforms and _buildinfo.has_cuda_plugin:
        paths.append(_os.path.join(cudaDirectory, "libOpenMMBGCUDA.so"))
    for path in paths:
        try:
            _openmm.Platform.loadPluginLibrary(path)
        except Exception as error:  # OpenMM reports the dlopen error text
            _pluginLoadFailures.append("%s: %s" % (path, error))


def getPluginLoadFailures():
    """Errors from loading openmm-bg's own plugin libraries (an empty list when all loaded)."""
    return list(_pluginLoadFailures)


_loadPlugins()

from .openmmbgswig import BoltzmannGeneratorForce, BoltzmannGeneratorIntegrator, FlowSamples  # noqa: E402
from .reweighting import reweight  # noqa: E402
from . import problems  # noqa: E402  (the registry of reference problems: openmmbg.problems.get("dw4"))
from . import systems  # noqa: E402  (their Systems: openmmbg.systems.dw4() etc.)

__all__ = ["BoltzmannGeneratorForce", "BoltzmannGeneratorIntegrator", "FlowSamples", "getPluginDirectories",
           "getPluginLoadFailures", "reweight", "problems", "systems", "__version__"]
