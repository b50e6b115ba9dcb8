"""``openmm-bg reweight``: importance weights of a trajectory towards the Boltzmann distribution
of a trained ``BoltzmannGeneratorForce``, from the command line.

Run as ``openmm-bg reweight ...`` (the C++ command line hands the subcommand to this module) or
``python -m openmmbg.cli_reweight ...``::

    openmm-bg reweight system.xml md.dcd --temperature 300 --out weights.csv
    openmm-bg reweight system.xml flow-samples.xtc --top aldp.pdb --draws 50 --seed 1

``system.xml`` is a System serialized with ``openmm.XmlSerializer`` that holds one trained
``BoltzmannGeneratorForce`` (its flow weights are inside the XML). The trajectory is anything
mdtraj reads (DCD needs no topology; other formats take ``--top``). The log-weights and weights are
those of :func:`openmmbg.reweighting.log_weights` and :func:`openmmbg.reweight`: MD frames at a
temperature (``--temperature``, K, and ``--md-groups``), or flow samples (no ``--temperature``;
the marginal density is estimated from ``--draws`` augmented draws per frame).

Output: the number of frames and the ESS fraction on stdout; with ``--out`` a CSV file with one
row per frame: ``frame`` (0-based), ``log_weight`` (unnormalised), ``weight`` (normalised, sum 1).
Exit codes: 0 on success, 2 for bad arguments or input files.
"""
import argparse
import collections
import csv
import sys

__all__ = ["main", "parse_arguments"]

#: Frames in the form ``openmmbg.reweighting.log_weights`` accepts (positions [T, n, 3] nm, cells [T, 3, 3] nm or None).
_Frames = collections.namedtuple("_Frames", ["xyz", "unitcell_vectors"])


def parse_arguments(argv):
    """The parsed arguments of ``openmm-bg reweight`` (argparse exits with code 2 on bad ones)."""
    parser = argparse.ArgumentParser(
        prog="openmm-bg reweight",
        description="importance weights of trajectory frames towards the Boltzmann distribution of the trained "
                    "BoltzmannGeneratorForce in a serialized System")
    parser.add_argument("system", help="System XML (openmm.XmlSerializer) with one trained BoltzmannGeneratorForce")
    parser.add_argument("trajectory", help="trajectory file read by mdtraj (DCD, XTC, H5, PDB, ...)")
    parser.add_argument("--top", help="topology or structure file for trajectory formats that need one (not DCD)")
    parser.add_argument("--temperature", type=float,
                        help="the frames are MD (Boltzmann) samples at this temperature, K; default: flow samples")
    parser.add_argument("--md-groups",
                        help="with --temperature: the force groups the MD integrated, comma-separated (default: all)")
    parser.add_argument("--draws", type=int, default=20,
                        help="flow samples only: augmented draws per frame for the marginal density (default 20)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the augmented draws (default 0: the force's own seed)")
    parser.add_argument("--platform", default="CPU", help="OpenMM platform (default CPU)")
    parser.add_argument("--out", help="CSV file for frame, log_weight, weight")
    return parser.parse_args(argv)


def _md_groups(text):
    """A set of force groups from "0,2,5" (None for None)."""
    if text is None:
        return None
    try:
        return {int(group) for group in text.split(",") if group.strip()}
    except ValueError:
        raise ValueError("--md-groups takes comma-separated force groups (0..31), got %r" % text) from None


def _generator_in(system):
    """The one BoltzmannGeneratorForce of a System."""
    import openmmbg
    forces = [openmmbg.BoltzmannGeneratorForce.cast(force) for force in system.getForces()
              if openmmbg.BoltzmannGeneratorForce.isinstance(force)]
    if len(forces) != 1:
        raise ValueError("the System holds %d BoltzmannGeneratorForce objects; reweight needs exactly one" % len(forces))
    return forces[0]


def _read_system(path):
    import openmm
    with open(path) as handle:
        text = handle.read()
    try:
        system = openmm.XmlSerializer.deserialize(text)
    except Exception as error:   # OpenMM raises its own exception type for malformed XML
        raise ValueError("cannot read %s as a serialized System: %s" % (path, error)) from None
    if not isinstance(system, openmm.System):
        raise ValueError("%s holds a %s, not a System" % (path, type(system).__name__))
    return system


def _context(system, force, frames, platform_name, seed):
    """A Context of the System (Verlet, unused) at the first frame when frames are whole-System frames."""
    import numpy as np
    import openmm
    if seed:
        force.setRandomNumberSeed(seed)
    try:
        platform = openmm.Platform.getPlatformByName(platform_name)
    except Exception:
        raise ValueError("no OpenMM platform %r" % platform_name) from None
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
    num_particles = system.getNumParticles()
    start = frames.xyz[0] if frames.xyz.shape[1] == num_particles else np.zeros((num_particles, 3))
    context.setPositions(openmm.unit.Quantity(start, openmm.unit.nanometer))
    return context


def _write_csv(path, log_weights, weights):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "log_weight", "weight"])
        for frame, (log_weight, weight) in enumerate(zip(log_weights, weights)):
            writer.writerow([frame, repr(float(log_weight)), repr(float(weight))])


def _reweight(args):
    from . import reweighting, trajectories
    system = _read_system(args.system)
    force = _generator_in(system)
    positions, boxes = trajectories.read_frames(args.trajectory, args.top)
    frames = _Frames(positions, boxes)
    context = _context(system, force, frames, args.platform, args.seed)
    log_weights = reweighting.log_weights(frames, force, context, temperature=args.temperature, num_draws=args.draws,
                                          md_groups=_md_groups(args.md_groups))
    result = reweighting.from_log_weights(log_weights)
    if args.out:
        _write_csv(args.out, log_weights, result.weights)
    print("openmm-bg reweight: %d frames of %s, ESS fraction %.6g (%.1f effective frames)%s"
          % (log_weights.size, args.trajectory, result.ess, result.ess * log_weights.size,
             ", weights in " + args.out if args.out else ""))
    return 0


def main(argv=None):
    """Run ``openmm-bg reweight`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    import openmm
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        return _reweight(args)
    except (ValueError, TypeError, OSError, openmm.OpenMMException) as error:
        print("openmm-bg reweight: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
