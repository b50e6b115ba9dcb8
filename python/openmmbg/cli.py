"""The ``openmm-bg`` command of an installed openmm-bg: ``openmm-bg train ...`` or ``python -m openmmbg.cli train ...``.

pip writes an ``openmm-bg`` launcher on PATH that calls :func:`main`; it runs the C++ executable
installed inside the package (openmmbg/bin/openmm-bg) with the same arguments, after pointing
OPENMM_PLUGIN_DIR at the plugins of the installed ``openmm`` wheel (so the CPU platform is used)
unless the variable is already set. In a build tree the executable is build/bin/openmm-bg instead.
"""
import os
import sys


def executable():
    """Path of the installed command-line executable; FileNotFoundError naming it when it is missing."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "openmm-bg")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError("openmmbg.cli: no executable %s (a build tree runs build/bin/openmm-bg)" % path)
    return path


def main(argv=None):
    """Replace this process by the executable, passing argv (default: sys.argv[1:]); returns only on error."""
    import openmm.version

    arguments = sys.argv[1:] if argv is None else list(argv)
    environment = dict(os.environ)
    environment.setdefault("OPENMM_PLUGIN_DIR", os.path.join(openmm.version.openmm_library_path, "plugins"))
    # `openmm-bg reweight` runs Python: this interpreter, which has this openmmbg installed.
    environment.setdefault("OPENMMBG_PYTHON", sys.executable)
    path = executable()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(path, [path] + arguments, environment)


if __name__ == "__main__":
    main()
