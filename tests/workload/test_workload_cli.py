"""``desim workloads`` and ``desim workloads show``: output, JSON export, one-line errors."""

from __future__ import annotations

import pytest

from desim.cli import main
from desim.workload import load_workload


def test_list_shows_zoo_and_synthetic(capsys):
    assert main(["workloads"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(rows) == {"autoencoder", "dscnn", "mobilenetv1_vww", "mobilenetv2", "resnet8",
                         "tiles", "tiles_membound"}
    assert rows["mobilenetv2"][1:4] == ["zoo", "300,774,272", "3,487,816"]
    tiles = load_workload("tiles")
    assert rows["tiles"][1:3] == ["synthetic", f"{tiles.total_macs:,}"]
    default = [line for line in out if line.endswith("(default)")]
    assert len(default) == 1 and default[0].split()[0] == "resnet8"


def test_show_zoo_table(capsys):
    assert main(["workloads", "show", "autoencoder"]) == 0
    out = capsys.readouterr().out
    assert "fully_connected_9" in out and "640x128" in out
    assert out.rstrip().endswith("(topological order)")
    assert "10 ops, 265,864 params, 264,192 MACs, weights 270,880 B" in out


def test_show_synthetic(capsys):
    assert main(["workloads", "show", "tiles_membound"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("tiles_membound  (synthetic: ")
    macs = next(line.split() for line in out if line.split()[0] == "macs")
    assert macs[1:3] == [str(load_workload("tiles_membound").macs), "MAC"]


def test_show_tflite_and_write_json(shared_dir, tmp_path, capsys):
    model = shared_dir / "models" / "mlperf_tiny" / "kws_ref_model.tflite"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    out_json = tmp_path / "kws.json"
    assert main(["workloads", "show", str(model), "--json", str(out_json), "--weights"]) == 0
    out = capsys.readouterr().out
    assert "conv_2d_0" in out and "4,5,1,1" in out and f"wrote {out_json}" in out
    assert load_workload(str(out_json)) == load_workload(str(model))


@pytest.mark.parametrize("argv, message", [
    (["workloads", "show", "resnet"], "unknown workload 'resnet': did you mean 'resnet8'?"),
    (["workloads", "show", "missing/model.onnx"], "workload file missing/model.onnx does not "
                                                  "exist"),
    (["workloads", "show", "tiles", "--json", "x.json"], "'tiles' is a synthetic workload"),
])
def test_errors_are_one_line_with_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("desim: error: ") and message in err and err.count("\n") == 1


def test_run_with_an_unknown_workload_is_one_line(tmp_path, capsys):
    assert main(["run", "-w", "nonet", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "unknown workload 'nonet'" in err and err.count("\n") == 1


def test_empty_model_is_one_line(tmp_path, capsys):
    bad = tmp_path / "half.tflite"
    bad.write_bytes(b"\x18\x00\x00\x00TFL3" + b"\x00" * 40)
    assert main(["workloads", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: TFLite model has no subgraph" in err and err.count("\n") == 1
