"""Plots of an ``openmm-bg train`` run from its ``train-log.csv``.

The log has one row per line with the columns
``kind,step,epoch,elapsed_s,loss,grad_norm,lr,skipped,clipped,masked,samples_per_s,metric,value``:
``train`` rows carry the loss of a step, ``eval`` rows one evaluation metric each (``metric`` names
it, ``value`` holds it). Effective sample sizes are fractions in (0, 1].

Command line::

    python -m openmmbg.trainingplots RUN_DIR/train-log.csv [-o RUN_DIR/ess-vs-time.png]
    python -m openmmbg.trainingplots RUN_DIR/train-log.csv --aldp-test data/reference/aldp800-test.npy
    python -m openmmbg.trainingplots A/train-log.csv B/train-log.csv --labels A B --metric reverse_ess -o runs.png [--csv runs.csv]

The third form compares runs: one evaluation metric of each against the step (all its
evaluations), e.g. the variants of a settings study. The second form also draws Ramachandran plots of an alanine dipeptide run's flow samples
(``samples.npy``, plain and reweighted with ``sample-logweights.npy``) next to the reference set.
"""
import argparse
import csv
import json
import math
import os
from collections import defaultdict

__all__ = ["read_training_log", "plot_ess_vs_time", "plot_runs", "fab_cpu_seconds", "samples_per_step", "write_evaluations_csv", "plot_aldp_samples", "main"]


def read_training_log(path):
    """Read a train-log.csv.

    Returns
    -------
    (train, evals) : tuple
        ``train`` is a dict of lists (``step``, ``elapsed_s``, ``loss``); ``evals`` maps each
        metric name to a dict of lists (``step``, ``elapsed_s``, ``value``). Elapsed times are
        wall-clock seconds since the start of the run (continued across resumes).
    """
    train = {"step": [], "elapsed_s": [], "loss": []}
    evals = defaultdict(lambda: {"step": [], "elapsed_s": [], "value": []})
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                step = int(float(row["step"]))
                elapsed = float(row["elapsed_s"])
            except (KeyError, ValueError):
                continue
            if row.get("kind") == "train":
                train["step"].append(step)
                train["elapsed_s"].append(elapsed)
                train["loss"].append(_number(row.get("loss")))
            elif row.get("kind") == "eval" and row.get("metric"):
                series = evals[row["metric"]]
                series["step"].append(step)
                series["elapsed_s"].append(elapsed)
                series["value"].append(_number(row.get("value")))
    return train, dict(evals)


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def plot_ess_vs_time(log_path, output_path=None, title=None):
    """Plot every effective-sample-size metric of a run against wall-clock time, with the training
    loss against the step below it, and save the figure as PNG.

    Parameters
    ----------
    log_path : str
        The run's ``train-log.csv``.
    output_path : str, optional
        Where to write the PNG (default: ``ess-vs-time.png`` next to the log).
    title : str, optional
        Figure title (default: the run directory's name).

    Returns
    -------
    str
        The path of the PNG.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, evals = read_training_log(log_path)
    if output_path is None:
        output_path = os.path.join(os.path.dirname(os.path.abspath(log_path)), "ess-vs-time.png")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), constrained_layout=True)
    ess_metrics = sorted(name for name in evals if "ess" in name.lower())
    for name in ess_metrics:
        series = evals[name]
        minutes = [t / 60.0 for t in series["elapsed_s"]]
        top.plot(minutes, [100.0 * v for v in series["value"]], marker="o", label=name)
    top.set_xlabel("wall-clock time (min)")
    top.set_ylabel("effective sample size (%)")
    top.set_ylim(bottom=0)
    if ess_metrics:
        top.legend()
    else:
        top.text(0.5, 0.5, "no ESS evaluations in the log", ha="center", va="center", transform=top.transAxes)
    top.grid(alpha=0.3)
    if train["step"]:
        bottom.plot(train["step"], train["loss"], lw=0.8)
    bottom.set_xlabel("step")
    bottom.set_ylabel("training loss")
    bottom.grid(alpha=0.3)
    fig.suptitle(title or os.path.basename(os.path.dirname(os.path.abspath(log_path))))
    fig.savefig(output_path, dpi=120)
    plt.close(fig)
    return output_path


def samples_per_step(log_path):
    """Training samples one step of a run draws: ``batchSize`` (FAB: AIS samples per iteration; the
    other methods: rows per update), read from the ``training-config.json`` beside ``log_path``.

    Raises
    ------
    ValueError
        If that file is missing or names no batch size.
    """
    config = _run_config(log_path, "samples_per_step", "x = samples needs each run's configuration")
    batch = config.get("batchSize")
    if not batch:
        raise ValueError(f"samples_per_step: the training-config.json beside {log_path} names no batch size")
    return int(batch)


def _run_config(log_path, owner, purpose):
    """The run's ``training-config.json`` beside ``log_path`` as a dict; ValueError naming ``owner`` and ``purpose`` if missing."""
    path = os.path.join(os.path.dirname(os.path.abspath(log_path)), "training-config.json")
    if not os.path.exists(path):
        raise ValueError(f"{owner}: no {path} ({purpose})")
    with open(path) as handle:
        return json.load(handle)


def fab_cpu_seconds(log_path):
    """The thread CPU time of a FAB run's training work, as (buffer fill, per iteration) in seconds:
    the medians over the log's ``method`` rows of ``cpu_ais_s`` (one AIS pass) and of
    ``cpu_ais_s + cpu_update_s`` (one iteration), the fill being ``fab.bufferMinBatches + 1`` AIS
    passes (``training-config.json`` beside the log). Evaluations are not counted. Thread CPU time
    does not depend on the other load of the machine, so runs made side by side compare fairly.

    Raises
    ------
    ValueError
        If the log has no ``cpu_ais_s`` and ``cpu_update_s`` rows (not a FAB run, or none logged yet)
        or the configuration is missing.
    """
    import statistics
    rows = defaultdict(dict)
    with open(log_path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("kind") == "method" and row.get("metric") in ("cpu_ais_s", "cpu_update_s"):
                rows[row["step"]][row["metric"]] = _number(row.get("value"))
    both = [r for r in rows.values() if len(r) == 2 and all(math.isfinite(v) for v in r.values())]
    if not both:
        raise ValueError(f"fab_cpu_seconds: {log_path} has no cpu_ais_s and cpu_update_s rows (not a FAB run?)")
    fab = _run_config(log_path, "fab_cpu_seconds", "the buffer fill needs the run's configuration").get("fab", {})
    fill_passes = int(fab.get("bufferMinBatches", 64)) + 1
    ais = statistics.median(r["cpu_ais_s"] for r in both)
    return fill_passes * ais, statistics.median(r["cpu_ais_s"] + r["cpu_update_s"] for r in both)


def plot_runs(log_paths, labels, output_path, metric="reverse_ess", title=None, x_axis="step"):
    """Plot one evaluation metric of several runs against the step, one line per run, and save the
    figure as PNG. ESS metrics (fractions) are drawn in percent. With ``x_axis="samples"`` the x axis
    is the training samples drawn, step x ``samples_per_step`` (runs of different batch sizes
    compared at equal sampling work); with ``x_axis="cpu"`` it is the FAB runs' training CPU time in
    minutes, buffer fill + step x the median per iteration (``fab_cpu_seconds``).

    Parameters
    ----------
    log_paths : list of str
        The runs' ``train-log.csv`` files.
    labels : list of str
        One legend label per run (same length as ``log_paths``).
    output_path : str
        Where to write the PNG.
    metric : str
        The ``eval`` metric to draw (default ``reverse_ess``).

    Returns
    -------
    str
        The path of the PNG.

    Raises
    ------
    ValueError
        If the numbers of logs and labels differ, ``x_axis`` is not ``"step"``, ``"samples"`` or
        ``"cpu"``, no log has the metric, (``"samples"``, ``"cpu"``) a run has no
        ``training-config.json``, or (``"cpu"``) a run logged no CPU times.
    """
    if len(log_paths) != len(labels):
        raise ValueError(f"plot_runs: {len(log_paths)} logs but {len(labels)} labels")
    if x_axis not in ("step", "samples", "cpu"):
        raise ValueError(f"plot_runs: x_axis must be 'step', 'samples' or 'cpu', not '{x_axis}'")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = 100.0 if "ess" in metric.lower() else 1.0
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    drawn = 0
    for path, label in zip(log_paths, labels):
        series = read_training_log(path)[1].get(metric)
        if series is None:
            continue
        offset, per_step = 0.0, 1.0
        if x_axis == "samples":
            per_step = samples_per_step(path)
        elif x_axis == "cpu":
            offset, per_step = (seconds / 60.0 for seconds in fab_cpu_seconds(path))
        ax.plot([offset + per_step * s for s in series["step"]], [scale * v for v in series["value"]], marker="o", ms=3,
                label=label)
        drawn += 1
    if drawn == 0:
        plt.close(fig)
        raise ValueError(f"plot_runs: no log has evaluations of '{metric}'")
    ax.set_xlabel({"samples": "training samples drawn (steps x batch)",
                   "cpu": "training CPU time (min): buffer fill + steps x median per iteration",
                   "step": "step (FAB iteration)"}[x_axis])
    ax.set_ylabel(f"{metric} (%)" if scale != 1.0 else metric)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or metric)
    fig.savefig(output_path, dpi=120)
    plt.close(fig)
    return output_path


def write_evaluations_csv(log_paths, labels, output_path):
    """Write every evaluation of several runs into one small CSV with the columns
    ``run,step,elapsed_s,metric,value`` (``run`` is the run's label), e.g. the evidence of a
    settings study. Returns ``output_path``.

    Raises
    ------
    ValueError
        If the numbers of logs and labels differ.
    """
    if len(log_paths) != len(labels):
        raise ValueError(f"write_evaluations_csv: {len(log_paths)} logs but {len(labels)} labels")
    with open(output_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "step", "elapsed_s", "metric", "value"])
        for path, label in zip(log_paths, labels):
            for metric, series in sorted(read_training_log(path)[1].items()):
                for step, elapsed, value in zip(series["step"], series["elapsed_s"], series["value"]):
                    writer.writerow([label, step, f"{elapsed:.1f}", metric, f"{value:.6g}"])
    return output_path


def plot_aldp_samples(run_dir, test_path):
    """Ramachandran plots of an alanine dipeptide run: the flow samples of the final evaluation
    (``samples.npy``, nm), the same reweighted to the target with ``sample-logweights.npy``
    (log w = log p~ - log q; omitted if that file is missing), and the reference set.

    Returns the list of PNG paths written into ``run_dir``.
    """
    import numpy as np
    from . import analysis

    samples = np.load(os.path.join(run_dir, "samples.npy"))
    if samples.ndim != 3 or samples.shape[1:] != (22, 3):
        raise ValueError(f"samples.npy holds {samples.shape}, not alanine dipeptide configurations [n, 22, 3]")
    phi, psi = analysis.aldp_phi_psi(samples)
    written = [analysis.plot_ramachandran(phi, psi, os.path.join(run_dir, "ramachandran-flow.png"),
                                          title=f"flow samples (n = {len(phi)})")]
    weights_path = os.path.join(run_dir, "sample-logweights.npy")
    if os.path.exists(weights_path):
        log_w = np.asarray(np.load(weights_path), dtype=float).reshape(-1)
        finite = np.isfinite(log_w)
        w = np.zeros_like(log_w)
        w[finite] = np.exp(log_w[finite] - log_w[finite].max())
        written.append(analysis.plot_ramachandran(phi, psi, os.path.join(run_dir, "ramachandran-flow-reweighted.png"),
                                                  weights=w, title="flow samples reweighted to the target"))
    test = np.load(test_path)
    tphi, tpsi = analysis.aldp_phi_psi(test)
    written.append(analysis.plot_ramachandran(tphi, tpsi, os.path.join(run_dir, "ramachandran-reference.png"),
                                              title=f"reference ({os.path.basename(test_path)}, n = {len(tphi)})"))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plot ESS against time from an openmm-bg train-log.csv.")
    parser.add_argument("log", nargs="+", help="path of train-log.csv (several: compare the runs' --metric)")
    parser.add_argument("-o", "--output", help="PNG to write (default: ess-vs-time.png beside the log)")
    parser.add_argument("--labels", nargs="+", help="legend labels of the compared runs (default: their directories)")
    parser.add_argument("--metric", default="reverse_ess", help="metric of the compared runs (default reverse_ess)")
    parser.add_argument("--csv", help="also write every evaluation of the compared runs to this CSV")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--x", choices=["step", "samples", "cpu"], default="step",
                        help="x axis of compared runs: step, training samples drawn (step x the run's batch size), "
                             "or FAB training CPU time (buffer fill + step x median CPU per iteration)")
    parser.add_argument("--aldp-test", help="reference set (.npy, nm) for Ramachandran plots of an alanine dipeptide run")
    args = parser.parse_args(argv)
    if len(args.log) > 1:
        if not args.output:
            parser.error("comparing runs needs -o/--output")
        labels = args.labels or [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in args.log]
        try:
            print(plot_runs(args.log, labels, args.output, args.metric, args.title, args.x))
            if args.csv:
                print(write_evaluations_csv(args.log, labels, args.csv))
        except ValueError as error:
            parser.error(str(error))
        return 0
    path = plot_ess_vs_time(args.log[0], args.output, args.title)
    print(path)
    if args.aldp_test:
        for png in plot_aldp_samples(os.path.dirname(os.path.abspath(args.log[0])), args.aldp_test):
            print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
