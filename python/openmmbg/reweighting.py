"""Importance reweighting of trajectories with a Boltzmann generator force.

A trajectory (frames of particle positions) is turned into self-normalised importance weights
towards the Boltzmann distribution exp(-U / kT_force) of the System a
``BoltzmannGeneratorForce`` belongs to, T_force being the force's temperature:

- frames sampled from the flow (``temperature=None``): log w = -U/kT_force - log q(x), computed by
  ``force.computeLogWeights``;
- frames sampled from the Boltzmann distribution of the same System at another temperature T
  (e.g. molecular dynamics at T): log w = -U/(kB T_force) + U/(kB T), with U from
  ``force.computeEnergies`` (every force except the generator's own force group).

Trajectories may be numpy arrays, ``openmm.unit.Quantity`` objects, lists of frames,
``mdtraj.Trajectory`` objects or paths to DCD files; :func:`read_dcd` is a small reader of the
CHARMM/NAMD DCD format written by ``openmm.app.DCDFile``.

Units: positions nm (DCD files store Angstrom), energies kJ/mol, temperatures K.
"""
import collections
import math
import os
import warnings

import numpy as np
from openmm import unit

__all__ = ["reweight", "read_dcd", "trajectory_positions", "Reweighting"]

#: Result of :func:`reweight`: ``weights`` (numpy [T], sum 1) and ``ess`` (float in (0, 1]).
Reweighting = collections.namedtuple("Reweighting", ["weights", "ess"])

#: Nanometres per Angstrom.
_NM_PER_ANGSTROM = 0.1
#: Length in bytes of a DCD header record (the "CORD" tag and 20 control integers).
_HEADER_RECORD_BYTES = 84
#: Length in bytes of a DCD unit-cell record (6 float64).
_CELL_RECORD_BYTES = 48


# ----------------------------------------------------------------------------------------------
# DCD files
# ----------------------------------------------------------------------------------------------

def _dcd_endian(data, path):
    """The byte order prefix ('<' or '>') of a DCD file, from its first record marker (84)."""
    if len(data) < 4:
        raise ValueError("%s is not a DCD file: it is shorter than one record marker" % path)
    for endian in ("<", ">"):
        if np.frombuffer(data, dtype=endian + "i4", count=1)[0] == _HEADER_RECORD_BYTES:
            return endian
    raise ValueError("%s is not a DCD file: the first record marker is not %d in either byte order"
                     % (path, _HEADER_RECORD_BYTES))


def _read_record(data, offset, endian, path):
    """One Fortran unformatted record of ``data`` starting at byte ``offset``: its payload bytes
    and the offset just after it. The 4-byte leading and trailing length markers must agree."""
    marker = np.dtype(endian + "i4")
    if offset + 4 > len(data):
        raise ValueError("%s: truncated DCD header (record at byte %d)" % (path, offset))
    length = int(np.frombuffer(data, dtype=marker, count=1, offset=offset)[0])
    end = offset + 4 + length
    if length < 0 or end + 4 > len(data):
        raise ValueError("%s: malformed DCD record at byte %d (length %d)" % (path, offset, length))
    trailer = int(np.frombuffer(data, dtype=marker, count=1, offset=end)[0])
    if trailer != length:
        raise ValueError("%s: DCD record at byte %d has markers %d and %d" % (path, offset, length, trailer))
    return data[offset + 4:end], end + 4


def _parse_dcd_header(data, endian, path):
    """(number of atoms, unit-cell flag, byte offset of the first frame) of a DCD file."""
    header, offset = _read_record(data, 0, endian, path)
    if header[:4] != b"CORD":
        raise ValueError("%s is not a DCD coordinate file: tag %r instead of b'CORD'" % (path, header[:4]))
    control = np.frombuffer(header, dtype=endian + "i4", count=20, offset=4)
    if control[8] != 0:
        raise ValueError("%s: DCD files with fixed atoms are not supported" % path)
    if control[11] != 0:
        raise ValueError("%s: DCD files with a fourth dimension are not supported" % path)
    _, offset = _read_record(data, offset, endian, path)          # title lines
    atoms, offset = _read_record(data, offset, endian, path)
    if len(atoms) != 4:
        raise ValueError("%s: the DCD atom-count record has %d bytes instead of 4" % (path, len(atoms)))
    num_atoms = int(np.frombuffer(atoms, dtype=endian + "i4", count=1)[0])
    if num_atoms <= 0:
        raise ValueError("%s: the DCD header gives %d atoms" % (path, num_atoms))
    return num_atoms, bool(control[10]), offset


def _dcd_frame_dtype(num_atoms, has_cell, endian):
    """numpy structured dtype of one DCD frame: optional unit-cell record, then X, Y, Z records
    (each float32 Angstrom), all with their 4-byte length markers."""
    marker = endian + "i4"
    fields = []
    if has_cell:
        fields += [("cell_head", marker), ("cell", endian + "f8", (6,)), ("cell_tail", marker)]
    for axis in "xyz":
        fields += [(axis + "_head", marker), (axis, endian + "f4", (num_atoms,)), (axis + "_tail", marker)]
    return np.dtype(fields)


def _check_frame_markers(frames, num_atoms, has_cell, path):
    """Raise ValueError unless every record marker of every frame has the expected length."""
    expected = {axis: 4 * num_atoms for axis in "xyz"}
    if has_cell:
        expected["cell"] = _CELL_RECORD_BYTES
    for name, length in expected.items():
        for marker in (name + "_head", name + "_tail"):
            if np.any(frames[marker] != length):
                raise ValueError("%s: malformed DCD frame: a %s record marker is not %d" % (path, name, length))


def read_dcd(path):
    """Read the coordinates of a CHARMM/NAMD DCD file as written by ``openmm.app.DCDFile``.

    Parameters
    ----------
    path : str or os.PathLike
        The DCD file. Either byte order is accepted (detected from the first record marker);
        unit-cell records, when the header flags them, are skipped.

    Returns
    -------
    numpy.ndarray
        float64 [T, n_atoms, 3], positions in nm (the file stores float32 Angstrom).

    Raises
    ------
    ValueError
        If the file is not a DCD coordinate file, is truncated, or uses fixed atoms or four
        dimensions.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    endian = _dcd_endian(data, path)
    num_atoms, has_cell, offset = _parse_dcd_header(data, endian, path)
    frame_dtype = _dcd_frame_dtype(num_atoms, has_cell, endian)
    body = len(data) - offset
    if body % frame_dtype.itemsize != 0:
        raise ValueError("%s: truncated DCD file: %d bytes of frames is not a multiple of the frame size %d"
                         % (path, body, frame_dtype.itemsize))
    frames = np.frombuffer(data, dtype=frame_dtype, offset=offset)
    _check_frame_markers(frames, num_atoms, has_cell, path)
    xyz = np.stack([frames["x"], frames["y"], frames["z"]], axis=-1).astype(np.float64)
    return xyz.reshape(len(frames), num_atoms, 3) * _NM_PER_ANGSTROM


# ----------------------------------------------------------------------------------------------
# Trajectories
# ----------------------------------------------------------------------------------------------

def _nanometres(quantity):
    """The value of a length ``openmm.unit.Quantity`` in nm (ValueError for other dimensions)."""
    try:
        return quantity.value_in_unit(unit.nanometer)
    except TypeError as error:
        raise ValueError("positions must have length units: %s" % error) from None


def _as_frames(values):
    """A float64 array [T, n, 3] from an array-like [T, n, 3] or [n, 3] (one frame), in nm."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError("positions are not a rectangular numeric array: %s" % error) from None
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("positions must have shape [T, n, 3] or [n, 3] with T, n > 0, not %s"
                         % (array.shape,))
    return array


def _frame_values(frame):
    """One element of a list of frames with any Quantity converted to nm."""
    return _nanometres(frame) if isinstance(frame, unit.Quantity) else frame


def trajectory_positions(trajectory):
    """Positions of every frame of a trajectory, in nm.

    Parameters
    ----------
    trajectory
        One of: a numpy array [T, n, 3] or [n, 3] (one frame), taken as nm; an
        ``openmm.unit.Quantity`` with length units wrapping such an array or a list of frames of
        ``Vec3``; an object with an ``xyz`` attribute in nm (``mdtraj.Trajectory``); a ``str`` or
        ``os.PathLike`` path to a ``.dcd`` file (:func:`read_dcd`); a list or tuple of frames, each
        a list of positions or a length Quantity.

    Returns
    -------
    numpy.ndarray
        float64 [T, n, 3] in nm.

    Raises
    ------
    ValueError
        For any other input, a path that is not a ``.dcd`` file, non-length units, or a
        non-rectangular shape.
    """
    if isinstance(trajectory, (str, os.PathLike)):
        if os.path.splitext(os.fspath(trajectory))[1].lower() != ".dcd":
            raise ValueError("only DCD trajectory files are supported, not %s" % os.fspath(trajectory))
        return _as_frames(read_dcd(trajectory))
    if isinstance(trajectory, unit.Quantity):
        return _as_frames(_nanometres(trajectory))
    if isinstance(trajectory, np.ndarray):
        return _as_frames(trajectory)
    if hasattr(trajectory, "xyz"):
        return _as_frames(trajectory.xyz)
    if isinstance(trajectory, (list, tuple)):
        return _as_frames([_frame_values(frame) for frame in trajectory])
    raise ValueError("cannot read positions from an object of type %s" % type(trajectory).__name__)


# ----------------------------------------------------------------------------------------------
# Reweighting
# ----------------------------------------------------------------------------------------------

def _value_in(value, target_unit):
    """``value`` in ``target_unit`` when it is a Quantity, else ``value`` (already in that unit)."""
    if isinstance(value, unit.Quantity):
        return value.value_in_unit(target_unit)
    return value


def _force_positions(positions, force, context):
    """The positions [T, n_force, 3] the force acts on: unchanged when the trajectory has one
    column per force particle, the force's particle columns when it has one per System particle."""
    num_frame = positions.shape[1]
    num_force = int(force.getNumParticles())
    num_system = int(context.getSystem().getNumParticles())
    if num_frame == num_force:
        return positions
    if num_frame == num_system:
        particles = np.asarray(list(force.getParticles()), dtype=np.int64)
        return np.ascontiguousarray(positions[:, particles, :])
    raise ValueError("the trajectory has %d particles per frame, but the force acts on %d and the "
                     "System has %d" % (num_frame, num_force, num_system))


def _boltzmann_log_weights(force, context, positions, temperature):
    """log w = -U/(kB T_force) + U/(kB T) of frames sampled at ``temperature`` (K or Quantity),
    U the potential energies (kJ/mol) from ``force.computeEnergies``."""
    kb = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
    sample_temperature = float(_value_in(temperature, unit.kelvin))
    force_temperature = float(_value_in(force.getTemperature(), unit.kelvin))
    if not (sample_temperature > 0.0 and force_temperature > 0.0):
        raise ValueError("temperatures must be positive, got %g K (samples) and %g K (force)"
                         % (sample_temperature, force_temperature))
    energies = np.asarray(_value_in(force.computeEnergies(context, positions), unit.kilojoule_per_mole),
                          dtype=np.float64)
    return energies / kb * (1.0 / sample_temperature - 1.0 / force_temperature)


def _per_frame(frames, positions, context, evaluate):
    """evaluate(positions[t:t+1]) for each frame t with the Context's positions set to frames[t]."""
    saved = context.getState(getPositions=True).getPositions(asNumpy=True)
    log_weights = np.empty(frames.shape[0])
    try:
        for t in range(frames.shape[0]):
            context.setPositions(unit.Quantity(frames[t], unit.nanometer))
            values = evaluate(positions[t:t + 1])
            if values.size != 1:
                raise ValueError("got %d log-weights for one frame" % values.size)
            log_weights[t] = values[0]
    finally:
        context.setPositions(saved)
    return log_weights


def _normalised_weights(log_weights):
    """Self-normalised weights (sum 1) from log-weights; non-finite entries get weight 0."""
    finite = np.isfinite(log_weights)
    if not finite.any():
        raise ValueError("all %d log-weights are non-finite" % log_weights.size)
    if not finite.all():
        warnings.warn("%d of %d log-weights are non-finite and get weight 0"
                      % (log_weights.size - int(finite.sum()), log_weights.size))
    shifted = log_weights[finite] - np.max(log_weights[finite])
    log_norm = math.log(np.sum(np.exp(shifted)))
    weights = np.zeros(log_weights.size)
    weights[finite] = np.exp(shifted - log_norm)
    return weights


def reweight(trajectory, force, context, temperature=None, num_draws=20):
    """Importance weights of trajectory frames towards the force's Boltzmann distribution.

    Parameters
    ----------
    trajectory
        Frames in any form :func:`trajectory_positions` accepts, nm. Each frame holds either the
        force's particles (in the force's order) or every particle of the System; in the latter
        case the columns ``force.getParticles()`` are used, and if the force models only part of
        the System, each frame is evaluated with the Context set to that frame (the other
        particles belong to the target), then the Context's positions are restored. Frames with
        one column per force particle are taken in the force's order.
    force : openmmbg.BoltzmannGeneratorForce
        The generator; its temperature (K) defines the target distribution.
    context : openmm.Context
        A Context of the System the force belongs to.
    temperature : float or openmm.unit.Quantity, optional
        None: the frames are samples of the flow, and log w = -U/kT_force - log q comes from
        ``force.computeLogWeights(context, positions, num_draws)``. Otherwise the frames are
        Boltzmann samples of the same System at this temperature (K), and
        log w = -U/(kB T_force) + U/(kB T) with U (kJ/mol) from ``force.computeEnergies``.
    num_draws : int
        Draws of the augmented variables per frame for ``computeLogWeights`` (flow samples only).

    Returns
    -------
    Reweighting
        ``weights``: numpy float64 [T], non-negative, summing to 1 (frames with non-finite
        log-weights get 0, with a warning); ``ess``: the effective sample size fraction
        (sum w)^2 / (T sum w^2), in (0, 1].

    Raises
    ------
    ValueError
        If the frames' particle count matches neither the force nor the System, the log-weights
        do not have one entry per frame, or all log-weights are non-finite.
    """
    frames = trajectory_positions(trajectory)
    positions = _force_positions(frames, force, context)
    num_frames = positions.shape[0]
    if temperature is None and int(num_draws) < 1:
        raise ValueError("num_draws must be at least 1, got %r" % (num_draws,))

    def evaluate(selected):
        if temperature is None:
            return np.asarray(force.computeLogWeights(context, selected, int(num_draws)), dtype=np.float64).ravel()
        return np.asarray(_boltzmann_log_weights(force, context, selected, temperature), dtype=np.float64).ravel()

    num_system = int(context.getSystem().getNumParticles())
    if frames.shape[1] == num_system and int(force.getNumParticles()) < num_system:
        # The force models a subset: the other particles of each frame are part of its target, so
        # every frame is evaluated with the Context set to that frame (restored afterwards).
        log_weights = _per_frame(frames, positions, context, evaluate)
    else:
        log_weights = evaluate(positions)
    if log_weights.size != num_frames:
        raise ValueError("got %d log-weights for %d frames" % (log_weights.size, num_frames))
    weights = _normalised_weights(log_weights)
    ess = min(1.0, float(np.sum(weights))**2 / (num_frames * float(np.sum(weights**2))))
    return Reweighting(weights, ess)
