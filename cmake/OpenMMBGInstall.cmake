# Install rules. The installed tree is the Python package's, whoever installs it: `pip install .`
# (scikit-build-core installs into site-packages) or `cmake --install build --prefix <environment>`
# (into <environment>/lib/pythonX.Y/site-packages, the environment whose openmm and torch wheels the
# build used). Inside site-packages:
#   openmmbg/                    Python modules, the SWIG extension, _buildinfo.py (installed flavour)
#   openmmbg/lib/                libbgflows.so, libOpenMMBG.so (serialization included)
#   openmmbg/lib/plugins/        libOpenMMBGReference.so (Reference and CPU platforms)
#   openmmbg/lib/plugins-cuda/   libOpenMMBGCUDA.so (built only where the CUDA toolkit was found)
#   openmmbg/include/            public headers (OpenMM layer, serialization, bg/ flows)
#   openmmbg/bin/openmm-bg       the command line; pip also writes the launcher `openmm-bg` on PATH
#   openmmbg/data/               the data files the package and the command line read
# Every installed binary finds its libraries through $ORIGIN-relative RUNPATHs: its own libraries in
# openmmbg/lib/, LibTorch in the sibling torch/lib/ and OpenMM in the sibling OpenMM.libs/lib/, i.e.
# the pinned wheels installed next to the package. Nothing points into the build tree.

if(SKBUILD)
    set(_defaultPythonDir "")   # scikit-build-core's install prefix is site-packages itself
else()
    execute_process(
        COMMAND ${Python3_EXECUTABLE} -c "import sysconfig; print(sysconfig.get_path('platlib', vars={'base': '', 'platbase': ''}).lstrip('/'))"
        OUTPUT_VARIABLE _defaultPythonDir OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
set(OPENMMBG_INSTALL_PYTHONDIR "${_defaultPythonDir}" CACHE STRING
    "site-packages relative to the install prefix (empty: the prefix is site-packages)")
if(OPENMMBG_INSTALL_PYTHONDIR)
    set(OPENMMBG_INSTALL_PACKAGEDIR "${OPENMMBG_INSTALL_PYTHONDIR}/openmmbg")
else()
    set(OPENMMBG_INSTALL_PACKAGEDIR "openmmbg")
endif()
# Where LibTorch and OpenMM live relative to the site-packages holding torch: torch/lib and
# OpenMM.libs/lib for the wheels. A library outside that site-packages (e.g. OPENMM_DIR given by
# hand) is referenced by its absolute path instead.
get_filename_component(_sitePackages "${TORCH_INSTALL_PREFIX}/.." ABSOLUTE)
function(_openmmbgSiteRelative result directory)
    file(RELATIVE_PATH _rel "${_sitePackages}" "${directory}")
    if(_rel MATCHES "^\\.\\./")
        set(_rel "${directory}")
    endif()
    set(${result} "${_rel}" PARENT_SCOPE)
endfunction()
_openmmbgSiteRelative(_torchLibDir "${TORCH_INSTALL_PREFIX}/lib")
_openmmbgSiteRelative(_openmmLibDir "${OPENMM_DIR}/lib")
_openmmbgSiteRelative(_openmmPluginDir "${OPENMM_PLUGIN_DIR}")

# openmmbg_install(<target> <directory> [OPENMM_PLUGINS]): installs one binary (library, plugin,
# Python extension or executable) into <directory> of the package ("" for the package itself, "lib",
# "lib/plugins", "bin", ...) with a RUNPATH of $ORIGIN-relative entries for openmmbg/lib, torch/lib
# and OpenMM.libs/lib (and OpenMM's lib/plugins with OPENMM_PLUGINS, for libraries that link an
# OpenMM platform library).
function(openmmbg_install target directory)
    cmake_parse_arguments(_arg "OPENMM_PLUGINS" "" "" ${ARGN})
    set(_dirs openmmbg/lib ${_torchLibDir} ${_openmmLibDir})
    if(_arg_OPENMM_PLUGINS)
        list(APPEND _dirs ${_openmmPluginDir})
    endif()
    set(_rpath "")
    foreach(_dir ${_dirs})
        if(NOT IS_ABSOLUTE "${_dir}")
            file(RELATIVE_PATH _rel "/site/openmmbg/${directory}" "/site/${_dir}")
            string(REGEX REPLACE "/$" "" _rel "${_rel}")
            set(_dir "$ORIGIN/${_rel}")
            if(_rel STREQUAL "")
                set(_dir "$ORIGIN")
            endif()
        endif()
        list(APPEND _rpath "${_dir}")
    endforeach()
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "${_rpath}")
    install(TARGETS ${target} LIBRARY DESTINATION ${OPENMMBG_INSTALL_PACKAGEDIR}/${directory}
                              RUNTIME DESTINATION ${OPENMMBG_INSTALL_PACKAGEDIR}/${directory})
endfunction()

# The public headers: the OpenMM layer, its serialization proxies and the flows library (bg/).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/openmmplugin/include/ ${PROJECT_SOURCE_DIR}/serialization/include/
                  ${PROJECT_SOURCE_DIR}/flows/include/
        DESTINATION ${OPENMMBG_INSTALL_PACKAGEDIR}/include FILES_MATCHING PATTERN "*.h")
