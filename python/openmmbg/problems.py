"""The registry of openmm-bg's reference problems (DW4, LJ13, alanine dipeptide, ...).

The facts of each problem are data: one JSON file per problem, ``<data>/problems/<name>.json``
(format in the repository's ``data/problems/README.md``), read here with the json module and in
C++ by ``openmmplugin/include/ReferenceProblems.h`` (``openmm-bg problems --json`` prints what C++
reads; a test checks that both agree). The Systems come from the factories in
:data:`openmmbg.systems.FACTORIES`, looked up by the problem's name::

    import openmmbg.problems
    problem = openmmbg.problems.get("dw4")
    problem.num_particles, problem.dimension, problem.temperature   # 4, 2, 300.0 (K)
    system, positions, temperature = problem.system()

Units: temperatures in K; configurations of a problem are arrays [n, N, D] in nm.
"""
import dataclasses
import json
import os
from typing import Optional

__all__ = ["ReferenceProblem", "problems_directory", "names", "get"]

_KEYS = {"name", "description", "numParticles", "dimension", "temperature", "referenceSets", "evaluation", "flow",
         "training", "methods"}


@dataclasses.dataclass(frozen=True)
class ReferenceProblem:
    """One reference problem as its JSON file describes it.

    Attributes
    ----------
    name : str
        The problem's name (``--system`` of ``openmm-bg``), e.g. ``"dw4"``.
    description : str
    num_particles : int
        N.
    dimension : int
        D: 2 (the particles stay in the z = 0 plane) or 3.
    temperature : float
        Default target temperature, K.
    reference_sets : tuple of (str, float)
        Reference sample sets ``data/reference/<set>-<split>.npy`` and the temperature (K) each was drawn at.
    evaluation : tuple of str
        Extra evaluation figures, e.g. ``"ramachandran"``.
    presets : dict
        Per training method (``"ml"``, ``"fab"``, ``"fm"``): ``{"flow": {...}, "training": {...}}``,
        the problem's shared settings merged with the method's (JSON merge patch); the shared flow
        settings are the E-ACF's and do not apply to a method whose flow names ``"model": "ecnf"``.
    """
    name: str
    description: str
    num_particles: int
    dimension: int
    temperature: float
    reference_sets: tuple
    evaluation: tuple
    presets: dict

    def reference_set(self, temperature):
        """The reference set drawn at ``temperature`` (K, within 1e-9 K), or None."""
        for name, set_temperature in self.reference_sets:
            if abs(set_temperature - float(temperature)) < 1e-9:
                return name
        return None

    def system(self, **kwargs):
        """The problem's :class:`openmmbg.systems.ReferenceSystem` from the factory registered
        under its name; ``kwargs`` go to the factory (e.g. ``temperature``, ``data_dir`` for aldp).

        Raises
        ------
        ValueError
            If no factory is registered under the name.
        """
        from . import systems
        factory = systems.FACTORIES.get(self.name)
        if factory is None:
            raise ValueError("ReferenceProblem.system: no System factory for '%s' (factories: %s)"
                             % (self.name, ", ".join(sorted(systems.FACTORIES))))
        return factory(**kwargs)

    def to_json(self):
        """The problem as a JSON-ready dict, in the form C++'s ``ReferenceProblem::toJson`` writes."""
        return {"name": self.name, "description": self.description, "numParticles": self.num_particles,
                "dimension": self.dimension, "temperature": self.temperature,
                "referenceSets": [{"set": s, "temperature": t} for s, t in self.reference_sets],
                "evaluation": list(self.evaluation), "presets": self.presets}


def _package_data_directory():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _data_directory_candidates():
    """Where the problem files may be, in order: ``$OPENMMBG_DATA_DIR``, then the package's ``data/``."""
    candidates = []
    if os.environ.get("OPENMMBG_DATA_DIR"):
        candidates.append(os.environ["OPENMMBG_DATA_DIR"])
    candidates.append(_package_data_directory())
    return candidates


def problems_directory():
    """The directory of the problem files: ``problems/`` in the first of ``$OPENMMBG_DATA_DIR`` and
    the package's ``data/`` that holds a ``.json`` file.

    Raises
    ------
    FileNotFoundError
        Listing the places tried, if there is none.
    """
    tried = []
    for candidate in _data_directory_candidates():
        directory = os.path.join(candidate, "problems")
        if os.path.isdir(directory) and any(name.endswith(".json") for name in os.listdir(directory)):
            return directory
        tried.append(directory)
    raise FileNotFoundError("problems_directory: no problem files (problems/*.json) in %s" % ", ".join(tried))


def names():
    """The names of the reference problems (the problem files), sorted."""
    return sorted(name[:-len(".json")] for name in os.listdir(problems_directory()) if name.endswith(".json"))


def _merge_patch(target, patch):
    """RFC 7386 JSON merge patch of dicts: a copy of ``target`` with ``patch`` applied (null deletes)."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = _merge_patch(result.get(key) if isinstance(result.get(key), dict) else {}, value)
        else:
            result[key] = value
    return result


def _refuse_duplicates(pairs):
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError("duplicate key '%s'" % key)
    return dict(pairs)


def _field(data, key, types, path, default=None):
    if key not in data:
        if default is None:
            raise ValueError("get: %s: missing key '%s'" % (path, key))
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, types):
        raise ValueError("get: %s: '%s' has the wrong type" % (path, key))
    return value


def _presets(data, path):
    shared_flow = _field(data, "flow", dict, path, {})
    shared_training = _field(data, "training", dict, path, {})
    presets = {}
    for method, settings in _field(data, "methods", dict, path).items():
        if not isinstance(settings, dict) or any(k not in ("flow", "training") or not isinstance(v, dict)
                                                 for k, v in settings.items()):
            raise ValueError("get: %s: methods.%s: expected the objects 'flow' and 'training'" % (path, method))
        # The shared flow settings are the E-ACF's: a method whose flow names another model
        # ("model": "ecnf") starts from that model's defaults alone.
        method_flow = settings.get("flow", {})
        base_flow = shared_flow if method_flow.get("model", "eacf") == "eacf" else {}
        presets[method] = {"flow": _merge_patch(base_flow, method_flow),
                           "training": _merge_patch(shared_training, settings.get("training", {}))}
    return presets


def _parse(data, name, path):
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValueError("get: %s: unknown key '%s'" % (path, unknown[0]))
    if _field(data, "name", str, path) != name:
        raise ValueError("get: %s: name '%s' differs from the file name" % (path, data["name"]))
    num_particles = _field(data, "numParticles", int, path)
    dimension = _field(data, "dimension", int, path)
    temperature = float(_field(data, "temperature", (int, float), path))
    if num_particles < 1 or dimension not in (2, 3) or not 0.0 < temperature < float("inf"):
        raise ValueError("get: %s: numParticles must be positive, dimension 2 or 3, temperature positive and finite (K)" % path)
    sets = []
    for entry in _field(data, "referenceSets", list, path, []):
        if not isinstance(entry, dict):
            raise ValueError("get: %s: referenceSets holds objects {\"set\", \"temperature\"}" % path)
        sets.append((_field(entry, "set", str, path), float(_field(entry, "temperature", (int, float), path))))
    evaluation = _field(data, "evaluation", list, path, [])
    if not all(isinstance(extra, str) for extra in evaluation):
        raise ValueError("get: %s: evaluation holds names" % path)
    return ReferenceProblem(name, _field(data, "description", str, path, ""), num_particles, dimension, temperature,
                            tuple(sets), tuple(evaluation), _presets(data, path))


def get(name):
    """The reference problem ``name``, read from its file.

    Raises
    ------
    ValueError
        For an unknown name (listing the known ones) or a malformed problem file.
    """
    known = names()
    if name not in known:
        raise ValueError("get: unknown problem '%s' (known: %s)" % (name, ", ".join(known)))
    path = os.path.join(problems_directory(), name + ".json")
    with open(path) as handle:
        try:
            data = json.load(handle, object_pairs_hook=_refuse_duplicates)
        except ValueError as error:
            raise ValueError("get: %s: %s" % (path, error)) from None
    if not isinstance(data, dict):
        raise ValueError("get: %s: not a JSON object" % path)
    return _parse(data, name, path)
