"""Configure-time check that OpenMM and torch were built with the same libstdc++ ABI.

Usage: check_abi.py <path to libOpenMM.so>. Prints a one-line report; exits 1 on a mismatch.
torch reports its flag directly; OpenMM's is read from how its exported OpenMMException
constructor mangles std::string (std::__cxx11::basic_string in the new ABI).
"""
import sys

import torch


def openmm_uses_cxx11_abi(library):
    with open(library, "rb") as f:
        data = f.read()
    new = data.find(b"_ZN6OpenMM15OpenMMExceptionC1ERKNSt7__cxx1112basic_string") >= 0
    old = data.find(b"_ZN6OpenMM15OpenMMExceptionC1ERKSs") >= 0
    if new == old:
        raise SystemExit("could not read the ABI of %s" % library)
    return new


def main():
    openmm_abi = openmm_uses_cxx11_abi(sys.argv[1])
    torch_abi = bool(torch.compiled_with_cxx11_abi())
    report = "OpenMM _GLIBCXX_USE_CXX11_ABI=%d, torch %s _GLIBCXX_USE_CXX11_ABI=%d" % (
        openmm_abi, torch.__version__, torch_abi)
    print(report + (": compatible" if openmm_abi == torch_abi else ": INCOMPATIBLE"))
    return 0 if openmm_abi == torch_abi else 1


if __name__ == "__main__":
    sys.exit(main())
