"""The reference problems of openmm-bg as OpenMM Systems (model-spec section 9).

Each function returns a :class:`ReferenceSystem`: the ``openmm.System``, starting positions (or
``None``), the temperature of the target distribution, and the number of spatial dimensions the
problem uses. It unpacks like a tuple::

    import openmmbg.systems
    system, positions, temperature = openmmbg.systems.alanine_dipeptide()

The Systems come from the C++ factories in ``openmmplugin/include/ReferenceSystems.h`` (through
SWIG), which are the source of truth; :data:`FACTORIES` registers them under the problem names of
:mod:`openmmbg.problems`, whose problem files give each problem's dimension and temperature.

Reduced units of DW4 and LJ13: one reduced length is 1 nm and one reduced energy is kT at
300 K (``openmmbg.systems.REFERENCE_TEMPERATURE``), i.e. BOLTZ * 300 K = 2.4943... kJ/mol. The
Systems' energy expressions are multiplied by that kT, so ``U / (BOLTZ * 300 K)`` is the reduced
energy E(x) of the literature and the target density is exp(-E(x)). Their particles have mass
1 amu. DW4 is two-dimensional: keep every particle at z = 0.

Alanine dipeptide (ACE-ALA-NME, 22 atoms in Amber prmtop order, Amber ff96 + OBC1 implicit
solvent, no cutoff, no constraints) is read from the package's ``data/`` directory; its
temperature is a property of the target (default 800 K; 300 K for the FAB comparison; any
positive temperature is accepted).
"""
import dataclasses
import os
from typing import Optional

import openmm
import openmm.unit as unit

from . import openmmbgswig as _swig
from . import problems as _problems

__all__ = ["ReferenceSystem", "dw4", "lj13", "alanine_dipeptide", "data_directory", "FACTORIES",
           "REFERENCE_TEMPERATURE", "REDUCED_ENERGY_UNIT", "ALANINE_DIPEPTIDE_DEFAULT_TEMPERATURE"]

#: The temperature at which one reduced energy unit of DW4 and LJ13 equals kT (300 K).
REFERENCE_TEMPERATURE = _swig.referenceSystemTemperature()
#: One reduced energy unit of DW4 and LJ13: BOLTZ * 300 K, in kJ/mol.
REDUCED_ENERGY_UNIT = _swig.referenceSystemEnergyUnit()
#: The default temperature of the alanine dipeptide target (800 K).
ALANINE_DIPEPTIDE_DEFAULT_TEMPERATURE = _swig.alanineDipeptideDefaultTemperature()


@dataclasses.dataclass
class ReferenceSystem:
    """A reference problem: the System, its target temperature and, where there is one, a
    starting configuration.

    Attributes
    ----------
    name : str
        ``"dw4"``, ``"lj13"`` or ``"alanine-dipeptide"``.
    system : openmm.System
        The System (owned by Python).
    positions : Quantity or None
        Starting positions (list of Vec3, nm), or None where the problem has no canonical
        structure (DW4, LJ13).
    temperature : Quantity
        The temperature of the target distribution exp(-U / kT), in K.
    dimensions : int
        2 for DW4 (particles stay in the z = 0 plane), 3 otherwise.
    """
    name: str
    system: openmm.System
    positions: Optional[unit.Quantity]
    temperature: unit.Quantity
    dimensions: int = 3

    def __iter__(self):
        """Unpack as ``system, positions, temperature``."""
        return iter((self.system, self.positions, self.temperature))


def data_directory():
    """The directory holding openmm-bg's data files: ``$OPENMMBG_DATA_DIR`` if set, otherwise
    the ``data/`` folder of this package (the build copies the repository's ``data/`` there)."""
    return os.environ.get("OPENMMBG_DATA_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))


def dw4():
    """The 4-particle double well (model-spec 9.1) in reduced units, at 300 K, 2D (keep z = 0)."""
    return ReferenceSystem("dw4", _swig.createDoubleWell4System(), None, REFERENCE_TEMPERATURE, _problems.get("dw4").dimension)


def lj13():
    """The 13-particle Lennard-Jones cluster with its harmonic centre term (model-spec 9.2) in
    reduced units, at 300 K."""
    return ReferenceSystem("lj13", _swig.createLennardJones13System(), None, REFERENCE_TEMPERATURE, _problems.get("lj13").dimension)


def alanine_dipeptide(temperature=ALANINE_DIPEPTIDE_DEFAULT_TEMPERATURE, data_dir=None):
    """Alanine dipeptide in implicit solvent (model-spec 9.3) with its energy-minimised structure.

    Parameters
    ----------
    temperature : Quantity or float
        Temperature of the target (K if a plain number); default 800 K. Must be positive.
    data_dir : str, optional
        Where the data files are; default :func:`data_directory`.

    Raises
    ------
    openmm.OpenMMException
        If the data files are missing or the temperature is not positive.
    """
    if unit.is_quantity(temperature):
        temperature = temperature.value_in_unit(unit.kelvin)
    temperature = float(temperature)
    if not temperature > 0.0 or temperature == float("inf"):
        raise openmm.OpenMMException("alanine_dipeptide: the temperature must be positive and finite (K), got %r"
                                     % temperature)
    directory = data_directory() if data_dir is None else data_dir
    system = _swig.createAlanineDipeptideSystem(directory)
    positions = _swig.alanineDipeptidePositions(directory)
    return ReferenceSystem("alanine-dipeptide", system, positions, temperature * unit.kelvin, _problems.get("aldp").dimension)


#: The System factories of the reference problems, by problem name (:func:`openmmbg.problems.get`).
FACTORIES = {"dw4": dw4, "lj13": lj13, "aldp": alanine_dipeptide}
