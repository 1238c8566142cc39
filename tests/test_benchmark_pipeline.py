"""acmix-benchmark --pipeline: its cases run (in process here, tiny) and report what the
table says."""

import pytest

from ms_acmix.train.throughput import photo_folder

def _benchmark():
    from ms_acmix.cli import benchmark
    return benchmark


@pytest.mark.parametrize("impl", ["plain", "mindspore.dataset"])
def test_pipeline_case(tmp_path, impl):
    paths = [p for p, _ in photo_folder(str(tmp_path), 5)]
    row = _benchmark().run_pipeline_case(dict(kind="pipeline", recipe="swin", impl=impl,
                                              workers=1, paths=paths, repeats=1, threads=1))
    assert row["paths"] == 5 and row["images_per_s"] > 0
    assert row["per_worker"] == row["images_per_s"] and row["startup_s"] >= 0


def test_pipeline_arguments_checked():
    bench = _benchmark()
    with pytest.raises(SystemExit):
        bench.parse_args(["--pipeline", "--pipeline-workers", "0"])
    args = bench.parse_args(["--pipeline", "--pipeline-workers", "1,4"])
    assert args.pipeline_workers == [1, 4] and args.pipeline_recipes == ["swin", "resnet"]
