"""Reading trajectories for reweighting: particle positions (nm) and unit cells (nm) of every frame
from numpy arrays, ``openmm.unit.Quantity`` objects, lists of frames, ``FlowSamples``,
``mdtraj.Trajectory`` objects or trajectory files read by mdtraj (DCD without a topology, any
format ``mdtraj.load`` reads given ``top``). DCD files store Angstrom; everything returned is nm.
"""
import os

import numpy as np
from openmm import unit

__all__ = ["trajectory_positions", "read_frames", "is_flow_samples"]

#: Nanometres per Angstrom.
_NM_PER_ANGSTROM = 0.1


def is_flow_samples(trajectory):
    """Whether ``trajectory`` is a ``FlowSamples`` tuple from ``BoltzmannGeneratorForce.sample``."""
    return isinstance(trajectory, tuple) and "logWeights" in getattr(trajectory, "_fields", ())


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


def _as_boxes(values, num_frames):
    """Unit cells as float64 [T, 3, 3] (nm, rows a, b, c), or None when there are none."""
    if values is None:
        return None
    boxes = np.asarray(values, dtype=np.float64)
    if boxes.shape != (num_frames, 3, 3):
        raise ValueError("unit cells must have shape [%d, 3, 3], not %s" % (num_frames, boxes.shape))
    if not np.all(np.isfinite(boxes)) or np.any(np.einsum("tii->t", np.abs(boxes)) == 0.0):
        return None   # writers without cells store zeros
    return boxes


def _frame_values(frame):
    """One element of a list of frames with any Quantity converted to nm."""
    return _nanometres(frame) if isinstance(frame, unit.Quantity) else frame


def _mdtraj_topology(top):
    """An mdtraj Topology from an mdtraj Topology, an openmm.app.Topology or a structure file."""
    import mdtraj
    if top is None or isinstance(top, mdtraj.Topology):
        return top
    if hasattr(top, "atoms") and hasattr(top, "residues"):
        return mdtraj.Topology.from_openmm(top)
    if isinstance(top, (str, os.PathLike)):
        return mdtraj.load_topology(os.fspath(top))
    raise ValueError("top must be an mdtraj or openmm.app Topology or a structure file, not %s" % type(top).__name__)


def _read_file(path, top):
    """(positions [T, n, 3] nm, unit cells [T, 3, 3] nm or None) of a trajectory file, by mdtraj.
    A DCD file needs no topology; other formats are read by ``mdtraj.load(path, top=top)``."""
    import mdtraj
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("no trajectory file %s" % path)
    top = _mdtraj_topology(top)
    try:
        if top is None and os.path.splitext(path)[1].lower() == ".dcd":
            with mdtraj.formats.DCDTrajectoryFile(path) as handle:
                xyz, lengths, angles = handle.read()
            xyz = np.asarray(xyz, dtype=np.float64) * _NM_PER_ANGSTROM
            boxes = None
            if lengths is not None and angles is not None:
                lengths = np.asarray(lengths, dtype=np.float64) * _NM_PER_ANGSTROM
                angles = np.asarray(angles, dtype=np.float64)
                a, b, c = mdtraj.utils.lengths_and_angles_to_box_vectors(
                    lengths[:, 0], lengths[:, 1], lengths[:, 2], angles[:, 0], angles[:, 1], angles[:, 2])
                boxes = np.stack([a, b, c], axis=1)
            frames = _as_frames(xyz)
            return frames, _as_boxes(boxes, frames.shape[0])
        trajectory = mdtraj.load(path, top=top) if top is not None else mdtraj.load(path)
    except (OSError, IOError, ValueError, TypeError, RuntimeError, IndexError, KeyError) as error:
        raise ValueError("cannot read the trajectory file %s: %s" % (path, error)) from None
    frames = _as_frames(trajectory.xyz)
    return frames, _as_boxes(trajectory.unitcell_vectors, frames.shape[0])


def read_frames(trajectory, top=None):
    """(positions [T, n, 3] nm, unit cells [T, 3, 3] nm or None) of any accepted trajectory."""
    if isinstance(trajectory, (str, os.PathLike)):
        return _read_file(trajectory, top)
    if is_flow_samples(trajectory):
        trajectory = trajectory.positions
    if isinstance(trajectory, unit.Quantity):
        return _as_frames(_nanometres(trajectory)), None
    if isinstance(trajectory, np.ndarray):
        return _as_frames(trajectory), None
    if hasattr(trajectory, "xyz"):
        frames = _as_frames(trajectory.xyz)
        return frames, _as_boxes(getattr(trajectory, "unitcell_vectors", None), frames.shape[0])
    if isinstance(trajectory, (list, tuple)):
        return _as_frames([_frame_values(frame) for frame in trajectory]), None
    raise ValueError("cannot read positions from an object of type %s" % type(trajectory).__name__)


def trajectory_positions(trajectory, top=None):
    """Positions of every frame of a trajectory, in nm.

    Parameters
    ----------
    trajectory
        One of: a numpy array [T, n, 3] or [n, 3] (one frame), taken as nm; a ``FlowSamples``
        tuple (its positions); an ``openmm.unit.Quantity`` with length units wrapping such an array or a list of frames of
        ``Vec3``; an object with an ``xyz`` attribute in nm (``mdtraj.Trajectory``); a ``str`` or
        ``os.PathLike`` path to a trajectory file, read with mdtraj (a DCD file needs no
        topology; other formats are read by ``mdtraj.load(path, top=top)``); a list or tuple of
        frames, each a list of positions or a length Quantity.
    top : mdtraj.Topology, openmm.app.Topology or str, optional
        The topology for trajectory files that need one (not needed for DCD).

    Returns
    -------
    numpy.ndarray
        float64 [T, n, 3] in nm.

    Raises
    ------
    ValueError
        For any other input, an unreadable file, non-length units, or a non-rectangular shape.
    FileNotFoundError
        If a path does not exist.
    """
    return read_frames(trajectory, top)[0]
