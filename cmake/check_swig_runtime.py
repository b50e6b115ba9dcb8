"""Configure-time check that our SWIG writes the SWIG runtime version the openmm module uses.

Usage: check_swig_runtime.py <swig executable>. Prints a one-line report; exits 1 on a mismatch.
Wrappers only share types (so a BoltzmannGeneratorForce is accepted where openmm expects a
Force) when both modules register in the same "swig_runtime_data<N>" table.
"""
import glob
import os
import re
import subprocess
import sys

import openmm


def openmm_runtime_version():
    directory = os.path.dirname(openmm.__file__)
    for library in glob.glob(os.path.join(directory, "_openmm*.so")):
        with open(library, "rb") as f:
            found = re.search(rb"swig_runtime_data(\d+)", f.read())
        if found:
            return found.group(1).decode()
    raise SystemExit("could not read the SWIG runtime version of the openmm module in %s" % directory)


def swig_runtime_version(swig):
    library = subprocess.run([swig, "-swiglib"], capture_output=True, text=True, check=True).stdout.split()[0]
    with open(os.path.join(library, "swigrun.swg")) as f:
        found = re.search(r'#define SWIG_RUNTIME_VERSION "(\d+)"', f.read())
    version = subprocess.run([swig, "-version"], capture_output=True, text=True).stdout
    number = re.search(r"SWIG Version (\S+)", version)
    return found.group(1), number.group(1) if number else "?"


def main():
    ours, swig_version = swig_runtime_version(sys.argv[1])
    theirs = openmm_runtime_version()
    ok = ours == theirs
    print("%s (SWIG %s) writes SWIG runtime %s, the openmm module uses runtime %s%s" % (
        sys.argv[1], swig_version, ours, theirs, "" if ok else ": MISMATCH; install the swig pinned in requirements.lock"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
