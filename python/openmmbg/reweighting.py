"""Importance reweighting of trajectories with a Boltzmann generator force.

A trajectory (frames of particle positions) is turned into self-normalised importance weights
towards the Boltzmann distribution exp(-U / kT_force) of the System a
``BoltzmannGeneratorForce`` belongs to, T_force being the force's temperature and U the force's
target energy (every force of the System except those in the generator's own, non-zero, force
group):

- a ``FlowSamples`` tuple returned by ``force.sample``: its exact joint log-weights
  log w = -U/kT_force + log pi(a|x) - log q(x, a) are used as they are;
- other frames sampled from the flow (arrays, files; ``temperature=None``):
  log w = -U/kT_force - log q(x), with the marginal density q(x) *estimated* by
  ``force.computeLogWeights`` from ``num_draws`` augmented draws per frame (biased for finite
  ``num_draws`` while the flow is imperfect);
- frames of molecular dynamics (or any Boltzmann sampler) at a temperature T (``temperature=T``):
  log w = -U/(kB T_force) + U_md/(kB T), U_md the energy of the forces the MD integrated
  (``md_groups``, default every force group), evaluated with the Context.

Trajectories may be numpy arrays, ``openmm.unit.Quantity`` objects, lists of frames,
``mdtraj.Trajectory`` objects or paths to trajectory files read by mdtraj (DCD, and any format
``mdtraj.load`` reads given ``top``). Frames with unit cells (NPT runs) are evaluated in their own
box.

Units: positions nm (DCD files store Angstrom), energies kJ/mol, temperatures K.
"""
import collections
import math
import numbers
import warnings

import numpy as np
from openmm import Vec3, unit

from .trajectories import is_flow_samples as _is_flow_samples
from .trajectories import read_frames as _read_frames
from .trajectories import trajectory_positions

__all__ = ["reweight", "log_weights", "from_log_weights", "trajectory_positions", "Reweighting"]

#: Result of :func:`reweight`: ``weights`` (numpy [T], sum 1) and ``ess`` (float in (0, 1]).
Reweighting = collections.namedtuple("Reweighting", ["weights", "ess"])

#: OpenMM's number of force groups (0..31).
_NUM_GROUPS = 32
_ALL_GROUPS = (1 << _NUM_GROUPS) - 1


# ----------------------------------------------------------------------------------------------
# Reweighting
# ----------------------------------------------------------------------------------------------

def _value_in(value, target_unit):
    """``value`` in ``target_unit`` when it is a Quantity, else ``value`` (already in that unit)."""
    if isinstance(value, unit.Quantity):
        return value.value_in_unit(target_unit)
    return value


def _group_mask(groups):
    """A 32-bit force-group mask from None (every group), an int bit mask or a set of groups."""
    if groups is None:
        return _ALL_GROUPS
    if isinstance(groups, (bool, np.bool_)):
        raise ValueError("md_groups must be an int bit mask or a set of force groups, not %r" % (groups,))
    if isinstance(groups, numbers.Integral):
        return int(groups) & _ALL_GROUPS     # -1 (OpenMM's "every group") included
    try:
        members = list(groups)
    except TypeError:
        raise ValueError("md_groups must be an int bit mask or a set of force groups, not %r" % (groups,)) from None
    mask = 0
    for group in members:
        if isinstance(group, (bool, np.bool_)) or not isinstance(group, numbers.Integral) or not 0 <= group < _NUM_GROUPS:
            raise ValueError("md_groups: force groups are integers 0..31, got %r" % (group,))
        mask |= 1 << int(group)
    return mask


def _groups_of(mask):
    """The set of force groups in a mask (for ``Context.getState(groups=...)``)."""
    return {group for group in range(_NUM_GROUPS) if mask & (1 << group)}


def _force_positions(positions, force, context, order):
    """(positions [T, n_force, 3] in the force's order, whether the frames are whole-System frames).

    Frames with one column per System particle are System-ordered (as every trajectory is) and
    the columns ``force.getParticles()`` are taken; frames with one column per force particle are
    in the force's order. When the two counts coincide, ``order`` ("system", the default, or
    "force") says which."""
    num_frame = positions.shape[1]
    num_force = int(force.getNumParticles())
    num_system = int(context.getSystem().getNumParticles())
    if order not in (None, "system", "force"):
        raise ValueError("order must be 'system' or 'force', not %r" % (order,))
    given = order
    if order is None:
        order = "system" if num_frame == num_system else "force"
    expected = num_system if order == "system" else num_force
    if num_frame != expected:
        raise ValueError("the trajectory has %d particles per frame, but the force acts on %d and the System has %d%s"
                         % (num_frame, num_force, num_system,
                            "" if given is None else " (order=%r needs %d)" % (given, expected)))
    if order == "system":
        particles = np.asarray(list(force.getParticles()), dtype=np.int64)
        if given is None and num_force == num_system and np.any(particles != np.arange(num_system)):
            warnings.warn("the frames have one column per particle and the force models every particle in another order: "
                          "they are read in the System's order (trajectories are); pass order='force' for arrays in the "
                          "force's order such as FlowSamples.positions, or pass the FlowSamples itself")
        return np.ascontiguousarray(positions[:, particles, :]), True
    return positions, False


def _set_box(context, box):
    """Set a frame's unit cell (rows a, b, c in nm) on the Context, in OpenMM's reduced form: cells
    rebuilt from a file's lengths and angles (triclinic: dodecahedron, octahedron) carry rounding
    that OpenMM's strict reduced-form check refuses, so they are rebuilt and reduced as OpenMM's
    own PDB/DCD readers do."""
    from openmm.app.internal.unitcell import computeLengthsAndAngles, computePeriodicBoxVectors
    lengths_and_angles = computeLengthsAndAngles([Vec3(*row) for row in np.asarray(box, dtype=np.float64)])
    a, b, c = computePeriodicBoxVectors(*lengths_and_angles)
    context.setPeriodicBoxVectors(a, b, c)


def _context_energy(context, groups):
    """Potential energy (kJ/mol) of the Context's forces in ``groups`` (a set) at its current state."""
    state = context.getState(getEnergy=True, groups=groups)
    return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def _evaluate(frames, positions, boxes, system_frames, force, context, evaluate, extra_groups, missing_groups):
    """Per frame t: ``evaluate(positions[t:t+1])`` (a value computed by the force) and
    delta[t] = U(extra_groups) - U(missing_groups) (kJ/mol, by the Context; 0 when both are empty),
    with the Context set to each frame's positions (when they matter: whole-System frames of a force
    over a subset, or an energy difference) and unit cell (when the frames have one and the System
    is periodic). The Context's positions and box are restored afterwards."""
    num_frames = positions.shape[0]
    num_system = int(context.getSystem().getNumParticles())
    if boxes is not None and not context.getSystem().usesPeriodicBoundaryConditions():
        boxes = None
    need_delta = bool(extra_groups or missing_groups)
    need_positions = need_delta or (system_frames and int(force.getNumParticles()) < num_system)
    delta = np.zeros(num_frames)
    if not need_positions and boxes is None:
        return np.asarray(evaluate(positions), dtype=np.float64).ravel(), delta

    values = np.empty(num_frames)
    state = context.getState(getPositions=True)
    saved_positions = state.getPositions(asNumpy=True)
    saved_box = state.getPeriodicBoxVectors() if boxes is not None else None
    try:
        if need_positions:
            particles = np.asarray(list(force.getParticles()), dtype=np.int64)
            base = np.asarray(saved_positions.value_in_unit(unit.nanometer), dtype=np.float64)
            for t in range(num_frames):
                if boxes is not None:
                    _set_box(context, boxes[t])
                if system_frames:
                    full = frames[t]
                else:
                    full = base.copy()
                    full[particles] = positions[t]
                context.setPositions(unit.Quantity(full, unit.nanometer))
                value = np.asarray(evaluate(positions[t:t + 1]), dtype=np.float64).ravel()
                if value.size != 1:
                    raise ValueError("got %d values for one frame" % value.size)
                values[t] = value[0]
                if extra_groups:
                    delta[t] += _context_energy(context, extra_groups)
                if missing_groups:
                    delta[t] -= _context_energy(context, missing_groups)
        else:
            # Only the unit cell changes between frames: one evaluation per distinct box.
            unique, inverse = np.unique(boxes.reshape(num_frames, 9), axis=0, return_inverse=True)
            inverse = np.asarray(inverse).ravel()
            for k, box in enumerate(unique):
                selected = np.flatnonzero(inverse == k)
                _set_box(context, box.reshape(3, 3))
                value = np.asarray(evaluate(positions[selected]), dtype=np.float64).ravel()
                if value.size != selected.size:
                    raise ValueError("got %d values for %d frames" % (value.size, selected.size))
                values[selected] = value
    finally:
        if saved_box is not None:
            context.setPeriodicBoxVectors(*saved_box)
        context.setPositions(saved_positions)
    return values, delta


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


def from_log_weights(log_weights):
    """The :class:`Reweighting` of importance log-weights [T] (e.g. from :func:`log_weights`):
    self-normalised weights (non-finite log-weights get weight 0, with a warning) and the ESS
    fraction (sum w)^2 / (T sum w^2).

    Raises
    ------
    ValueError
        If every log-weight is non-finite.
    """
    log_weights = np.asarray(log_weights, dtype=np.float64).ravel()
    weights = _normalised_weights(log_weights)
    ess = min(1.0, float(np.sum(weights))**2 / (log_weights.size * float(np.sum(weights**2))))
    return Reweighting(weights, ess)


def _temperatures(force, temperature):
    sample_temperature = float(_value_in(temperature, unit.kelvin))
    force_temperature = float(_value_in(force.getTemperature(), unit.kelvin))
    if not (sample_temperature > 0.0 and force_temperature > 0.0):
        raise ValueError("temperatures must be positive, got %g K (samples) and %g K (force)"
                         % (sample_temperature, force_temperature))
    return sample_temperature, force_temperature


def reweight(trajectory, force, context, temperature=None, num_draws=20, md_groups=None, order=None, top=None):
    """Importance weights of trajectory frames towards the force's Boltzmann distribution: the
    self-normalised :func:`log_weights` and their effective sample size.

    The target is exp(-U/kT) with T the force's temperature (K) and U (kJ/mol) the force's target
    energy: every force of the System except those sharing the force's own force group when that
    group is not 0, evaluated with the Context's current global parameters, in each frame's own
    unit cell when the frames carry one (otherwise the Context's current box), the particles the
    force does not model taken from each whole-System frame (otherwise from the Context).

    Parameters
    ----------
    trajectory
        One of:

        - a ``FlowSamples`` tuple from ``force.sample(context, n)``: its exact joint log-weights
          log w = -U/kT + log pi(a|x) - log q(x, a) are used unchanged (no estimate, no Context
          evaluation; ``temperature``, ``num_draws``, ``md_groups``, ``order`` must be left unset);
        - frames in any form :func:`trajectory_positions` accepts (arrays and Quantities in nm,
          ``mdtraj.Trajectory``, a DCD or other trajectory file). A frame holds either every
          particle of the System, in the System's order, or only the force's particles, in the
          force's order (``force.getParticles()``); see ``order``. Unit cells of an
          ``mdtraj.Trajectory`` or a file (NPT runs) are set on the Context frame by frame
          (``Context.setPeriodicBoxVectors``) before evaluating; the Context's positions and box
          are restored afterwards.
    force : openmmbg.BoltzmannGeneratorForce
        The generator; its temperature (K) defines the target distribution.
    context : openmm.Context
        A Context of the System the force belongs to.
    temperature : float or openmm.unit.Quantity, optional
        None: the frames are samples of the flow (e.g. flow samples written to a DCD), and
        log w = -U/kT - log q(x) from ``force.computeLogWeights(context, positions, num_draws)``,
        whose marginal density q(x) is an importance-sampled *estimate* over ``num_draws`` draws
        of the augmented variables (biased while the flow is imperfect; pass the ``FlowSamples``
        themselves for exact weights). Otherwise the frames are Boltzmann samples (e.g. MD) at this
        temperature (K) of the forces in ``md_groups``, and log w = -U/(kB T_force) + U_md/(kB T)
        with U from ``force.computeEnergies`` and U_md the energy of the ``md_groups`` forces:
        U_md = U + U(md groups the target leaves out) - U(target groups the MD left out), both
        differences evaluated by the Context at each frame (so restraints used only in the MD,
        in the force's own group, are accounted for).
    num_draws : int
        Draws of the augmented variables per frame for ``computeLogWeights`` (flow frames only).
    md_groups : int or set of int, optional
        The force groups the MD integrated (``temperature`` given only): an int bit mask or a
        set of group numbers, as ``Context.getState(groups=...)``; default every group (the
        Context's whole potential energy, as OpenMM's integrators integrate by default).
    order : {"system", "force"}, optional
        The column order of array frames: "system" (one column per System particle, the force's
        particles taken at ``force.getParticles()``) or "force" (one column per force particle, in
        the force's order). Default: "system" when the frames have one column per System particle
        (also when that equals the force's particle count), else "force".
    top : mdtraj.Topology, openmm.app.Topology or str, optional
        The topology of a trajectory file that needs one (not DCD).

    Returns
    -------
    Reweighting
        ``weights``: numpy float64 [T], non-negative, summing to 1 (frames with non-finite
        log-weights get 0, with a warning); ``ess``: the effective sample size fraction
        (sum w)^2 / (T sum w^2), in (0, 1].

    Raises
    ------
    TypeError
        If ``num_draws`` is not an integer.
    ValueError
        If the frames' particle count matches neither the force nor the System (or not ``order``),
        an argument is invalid, the log-weights do not have one entry per frame, or all
        log-weights are non-finite.
    """
    return from_log_weights(log_weights(trajectory, force, context, temperature, num_draws, md_groups, order, top))


def log_weights(trajectory, force, context, temperature=None, num_draws=20, md_groups=None, order=None, top=None):
    """The unnormalised importance log-weights of trajectory frames towards the force's Boltzmann
    distribution, one per frame (float64 [T]; non-finite where a frame's energy or density is):
    the joint log-weights of ``FlowSamples``, log w = -U/kT - log q(x) for flow frames, or
    log w = -U/(kB T_force) + U_md/(kB T) for MD frames. Arguments and errors as :func:`reweight`
    (except that non-finite values are returned, not refused)."""
    if _is_flow_samples(trajectory):
        if temperature is not None or md_groups is not None or order is not None:
            raise ValueError("reweight: FlowSamples carry their exact log-weights; temperature, md_groups and order "
                             "do not apply")
        values = np.asarray(trajectory.logWeights, dtype=np.float64).ravel()
        if values.size == 0:
            raise ValueError("reweight: the FlowSamples hold no samples")
        return values

    if temperature is None:
        if md_groups is not None:
            raise ValueError("reweight: md_groups applies to MD frames (temperature=...) only")
        if isinstance(num_draws, (bool, np.bool_)) or not isinstance(num_draws, numbers.Integral):
            raise TypeError("reweight: num_draws must be an integer, got %r" % (num_draws,))
        if int(num_draws) < 1:
            raise ValueError("num_draws must be at least 1, got %r" % (num_draws,))
    md_mask = _group_mask(md_groups)

    frames, boxes = _read_frames(trajectory, top)
    positions, system_frames = _force_positions(frames, force, context, order)
    num_frames = positions.shape[0]

    if temperature is None:
        def evaluate(selected):
            return force.computeLogWeights(context, selected, int(num_draws))
        values, _ = _evaluate(frames, positions, boxes, system_frames, force, context, evaluate, set(), set())
    else:
        sample_temperature, force_temperature = _temperatures(force, temperature)
        group = int(force.getForceGroup()) if hasattr(force, "getForceGroup") else 0
        target_mask = _ALL_GROUPS & ~((1 << group) if group != 0 else 0)
        # Only groups that hold forces can differ (the generator itself adds no energy).
        system = context.getSystem()
        present = 0
        for i in range(system.getNumForces()):
            present |= 1 << int(system.getForce(i).getForceGroup())
        extra = _groups_of(md_mask & ~target_mask & present)
        missing = _groups_of(target_mask & ~md_mask & present)

        def evaluate(selected):
            return _value_in(force.computeEnergies(context, selected), unit.kilojoule_per_mole)
        energies, delta = _evaluate(frames, positions, boxes, system_frames, force, context, evaluate, extra, missing)
        kb = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
        values = -energies / (kb * force_temperature) + (energies + delta) / (kb * sample_temperature)
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size != num_frames:
        raise ValueError("got %d log-weights for %d frames" % (values.size, num_frames))
    return values
