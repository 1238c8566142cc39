"""The distribution: the wheel holds the five library packages and the recipes and nothing
generic at the top of site-packages, declares its console commands, and each command answers
--help. (A fresh virtual environment installing the wheel outside the repository: the issue 19
report's transcript.)"""
import email
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"acmix_common", "ckpt_convert", "model_export", "ms_acmix", "torch_ref"}
COMMANDS = {"acmix-train", "acmix-eval", "acmix-convert", "acmix-export", "acmix-benchmark",
            "acmix-smoke", "acmix-digits"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a copy of what the distribution is made of (nothing else there)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(out), str(src)], check=True, timeout=300)
    (path,) = out.glob("ms_acmix-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_the_library_and_nothing_generic(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == PACKAGES
    recipes = {Path(n).name for n in wheel.namelist() if n.startswith("ms_acmix/configs/")}
    assert recipes == {p.name for p in (ROOT / "ms_acmix" / "configs").glob("*.yaml")}
    assert len(recipes) >= 6


def test_the_wheel_declares_ranges_extras_and_commands(wheel):
    (info,) = {n.split("/")[0] for n in wheel.namelist() if ".dist-info/" in n}
    meta = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
    requires = meta.get_all("Requires-Dist")
    assert "mindspore<3,>=2.5" in requires and "numpy<2,>=1.22" in requires
    assert not [r for r in requires if "==" in r.split(";")[0]]  # pins: requirements.txt
    assert set(meta.get_all("Provides-Extra")) >= {"torch", "onnx", "test"}
    assert any(r.startswith("torch") and 'extra == "torch"' in r for r in requires)
    entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert {line.split(" = ")[0] for line in entry_points.splitlines() if " = " in line} \
        == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_console_command_answers_help(command, capsys):
    (entry,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == command]
    assert entry.value.startswith("ms_acmix.cli.")
    with pytest.raises(SystemExit) as done:
        entry.load()(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--help" in out
