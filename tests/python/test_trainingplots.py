"""openmmbg.trainingplots reads a training log and draws the ESS-vs-time figure."""
import os

from openmmbg import trainingplots

HEADER = "kind,step,epoch,elapsed_s,loss,grad_norm,lr,skipped,clipped,masked,samples_per_s,metric,value\n"


def write_log(path):
    with open(path, "w") as handle:
        handle.write(HEADER)
        for step in range(1, 6):
            handle.write(f"train,{step},0,{step * 2.0},{10.0 - step},1.0,1e-4,0,0,0,100,,\n")
        handle.write("eval,3,0,6.0,,,,,,,,reverse_ess,0.25\n")
        handle.write("eval,5,0,10.0,,,,,,,,reverse_ess,0.5\n")
        handle.write("eval,5,0,10.0,,,,,,,,test_nll,7.5\n")


def test_read_training_log_separates_train_and_eval_rows(tmp_path):
    log = tmp_path / "train-log.csv"
    write_log(log)
    train, evals = trainingplots.read_training_log(str(log))
    assert train["step"] == [1, 2, 3, 4, 5]
    assert train["loss"] == [9.0, 8.0, 7.0, 6.0, 5.0]
    assert sorted(evals) == ["reverse_ess", "test_nll"]
    assert evals["reverse_ess"]["value"] == [0.25, 0.5]
    assert evals["reverse_ess"]["elapsed_s"] == [6.0, 10.0]


def test_plot_writes_a_png(tmp_path):
    log = tmp_path / "train-log.csv"
    write_log(log)
    out = trainingplots.plot_ess_vs_time(str(log))
    assert out == str(tmp_path / "ess-vs-time.png")
    with open(out, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out) > 5000


def test_aldp_plots_from_a_run_directory(tmp_path):
    import numpy as np
    from openmmbg import systems
    reference = os.path.join(systems.data_directory(), "reference", "aldp800-test.npy")
    test = np.load(reference)
    np.save(tmp_path / "samples.npy", test[:50])
    np.save(tmp_path / "sample-logweights.npy", np.linspace(-3.0, 0.0, 50))
    written = trainingplots.plot_aldp_samples(str(tmp_path), reference)
    assert [os.path.basename(p) for p in written] == ["ramachandran-flow.png", "ramachandran-flow-reweighted.png",
                                                      "ramachandran-reference.png"]
    for p in written:
        assert os.path.getsize(p) > 5000
    np.save(tmp_path / "samples.npy", np.zeros((5, 4, 2)))
    try:
        trainingplots.plot_aldp_samples(str(tmp_path), reference)
    except ValueError as error:
        assert "22, 3" in str(error)
    else:
        raise AssertionError("a DW4-shaped sample file must be refused")


def test_compare_runs_from_the_command_line(tmp_path):
    import pytest
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write_log(first / "train-log.csv")
    write_log(second / "train-log.csv")
    out = tmp_path / "compare.png"
    table = tmp_path / "compare.csv"
    assert trainingplots.main([str(first / "train-log.csv"), str(second / "train-log.csv"), "--labels", "A", "B",
                               "-o", str(out), "--csv", str(table)]) == 0
    with open(table) as handle:
        rows = handle.read().splitlines()
    assert rows[0] == "run,step,elapsed_s,metric,value"
    assert rows[1:] == ["A,3,6.0,reverse_ess,0.25", "A,5,10.0,reverse_ess,0.5", "A,5,10.0,test_nll,7.5",
                        "B,3,6.0,reverse_ess,0.25", "B,5,10.0,reverse_ess,0.5", "B,5,10.0,test_nll,7.5"]
    with open(out, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    # A metric no run has, and label counts that do not match, are refused.
    with pytest.raises(ValueError, match="no log has evaluations of 'ais_ess'"):
        trainingplots.plot_runs([str(first / "train-log.csv")], ["A"], str(out), metric="ais_ess")
    with pytest.raises(ValueError, match="2 logs but 1 labels"):
        trainingplots.plot_runs([str(first / "train-log.csv"), str(second / "train-log.csv")], ["A"], str(out))
    with pytest.raises(SystemExit):
        trainingplots.main([str(first / "train-log.csv"), str(second / "train-log.csv")])   # no -o


def test_compare_runs_of_different_batch_sizes_at_equal_samples(tmp_path):
    import json
    import pytest
    runs = {"fab64": {"method": "fab", "batchSize": 64, "fab": {"bufferMinBatches": 16}}, "ml32": {"method": "ml", "batchSize": 32}}
    logs = []
    for name, config in runs.items():
        (tmp_path / name).mkdir()
        write_log(tmp_path / name / "train-log.csv")
        with open(tmp_path / name / "training-config.json", "w") as handle:
            json.dump(config, handle)
        logs.append(str(tmp_path / name / "train-log.csv"))
    # FAB draws batchSize AIS samples per iteration, the other methods batchSize rows per step.
    assert [trainingplots.samples_per_step(p) for p in logs] == [64, 32]
    out = tmp_path / "samples.png"
    assert trainingplots.main(logs + ["-o", str(out), "--x", "samples"]) == 0
    assert os.path.getsize(out) > 5000
    os.remove(tmp_path / "ml32" / "training-config.json")
    with pytest.raises(ValueError, match="training-config.json"):
        trainingplots.plot_runs(logs, ["a", "b"], str(out), x_axis="samples")
    with pytest.raises(ValueError, match="x_axis"):
        trainingplots.plot_runs(logs[:1], ["a"], str(out), x_axis="time")


def test_compare_fab_runs_at_equal_training_cpu_time(tmp_path):
    import json
    import pytest
    run = tmp_path / "fab"
    run.mkdir()
    write_log(run / "train-log.csv")
    with open(run / "train-log.csv", "a") as handle:   # per iteration: AIS 1, 3, 2 s and updates 0.5, 0.5, 4 s of CPU
        for step, ais, update in [(1, 1.0, 0.5), (2, 3.0, 0.5), (3, 2.0, 4.0)]:
            handle.write(f"method,{step},0,1.0,,,,,,,,cpu_ais_s,{ais}\n")
            handle.write(f"method,{step},0,1.0,,,,,,,,cpu_update_s,{update}\n")
    with open(run / "training-config.json", "w") as handle:
        json.dump({"method": "fab", "batchSize": 16, "fab": {"bufferMinBatches": 4}}, handle)
    log = str(run / "train-log.csv")
    # Fill: 4 + 1 AIS passes at the median pass (2 s); an iteration: the median of 1.5, 3.5 and 6 s.
    assert trainingplots.fab_cpu_seconds(log) == (10.0, 3.5)
    out = tmp_path / "cpu.png"
    assert trainingplots.main([log, log, "-o", str(out), "--x", "cpu"]) == 0
    assert os.path.getsize(out) > 5000
    (tmp_path / "ml").mkdir()
    write_log(tmp_path / "ml" / "train-log.csv")   # no CPU rows: not a FAB run
    with pytest.raises(ValueError, match="cpu_ais_s"):
        trainingplots.plot_runs([log, str(tmp_path / "ml" / "train-log.csv")], ["a", "b"], str(out), x_axis="cpu")
