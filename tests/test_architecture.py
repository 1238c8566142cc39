"""The house: layers that only import downwards (import-linter's contracts in pyproject.toml, shown
to fail on an injected upward import), no import circle counting function-local imports (grimp),
each facade importable without the other framework, and the repository's own rules about tests."""
import ast
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("acmix_common", "torch_ref", "ms_acmix", "ckpt_convert", "model_export")
HOUSE = PACKAGES + ("parity",)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(where: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(where))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.fixture
def house_copy(tmp_path):
    """The six packages and pyproject.toml in a scratch folder, to break on purpose."""
    for name in HOUSE:
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def _inject(path: Path, line: str) -> None:
    """Append a function whose body holds ``line``: a function-local import counts too."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"\n\ndef _injected():\n    {line}  # injected by tests/test_architecture.py\n")


LAYERS, FACADES = "Layers: a lower layer", "Facades: nothing below"


@pytest.mark.parametrize("module,line,broken,chain", [
    ("ckpt_convert/weights.py", "from ms_acmix.train import config",
     {LAYERS}, "ckpt_convert.weights -> ms_acmix.train.config"),
    ("acmix_common/registry.py", "import torch_ref.models.resnet",
     {LAYERS}, "acmix_common.registry -> torch_ref.models.resnet"),
    ("ms_acmix/models/swin.py", "from model_export import export_model",
     {LAYERS}, "ms_acmix.models.swin -> model_export"),
    ("torch_ref/_factory.py", "import torch_ref",
     {FACADES}, "torch_ref._factory -> torch_ref"),
    ("ms_acmix/models/resnet.py", "import ms_acmix",  # and through it, the factory
     {LAYERS, FACADES}, "ms_acmix.models.resnet -> ms_acmix"),
])
def test_an_upward_import_breaks_a_contract_naming_it(house_copy, module, line, broken, chain):
    _inject(house_copy / module, line)
    result = _lint_imports(house_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{2 - len(broken)} kept, {len(broken)} broken" in result.stdout
    report = result.stdout.split("Broken contracts")[1]
    assert all(name in report for name in broken) and chain in report, result.stdout


def _import_graph(packages) -> dict:
    graph = grimp.build_graph(*packages, cache_dir=None)
    return {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}


def _circles(edges: dict) -> list:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_import_circle_between_modules():
    circles = _circles(_import_graph(HOUSE))
    assert circles == [], circles


def test_the_circle_finder_finds_the_old_circle_when_it_is_put_back(house_copy, monkeypatch):
    """The circle this layout removed: the registry loading weights inside a function."""
    _inject(house_copy / "acmix_common/registry.py", "from ckpt_convert import load_weights")
    monkeypatch.syspath_prepend(str(house_copy))
    for name in [m for m in sys.modules if m.split(".")[0] in HOUSE]:
        monkeypatch.delitem(sys.modules, name)
    circles = _circles(_import_graph(HOUSE))
    assert len(circles) == 1, circles
    assert {"acmix_common.registry", "ckpt_convert", "ckpt_convert.models",
            "ms_acmix.models._registry", "torch_ref.models._registry"} <= set(circles[0])


ALONE = {
    "torch": """
import sys
sys.modules["torch"] = None  # as if torch were not installed
import numpy as np, mindspore as ms
import ms_acmix
from safetensors.numpy import save_file
net = ms_acmix.create_model("acmix_resnet26", base_planes=4, layers=(1, 1, 1, 1), num_classes=3)
ms.save_checkpoint(net, "w.ckpt")
state = {k: v for k, v in ms_acmix.read_weights("w.ckpt")[0].items()}
save_file(state, "w.safetensors")
for path in ("w.ckpt", "w.safetensors"):
    again = ms_acmix.create_model("acmix_resnet26", checkpoint_path=path, base_planes=4,
                                  layers=(1, 1, 1, 1), num_classes=3)
    assert np.array_equal(again.fc.weight.asnumpy(), net.fc.weight.asnumpy())
open("w.pth", "wb").write(b"\\x80\\x02}q\\x00.")
try:
    ms_acmix.read_weights("w.pth")
except ms_acmix.CheckpointError as err:
    assert "reading it needs torch" in str(err), err
print("ok", sorted(m for m, v in sys.modules.items() if m.split(".")[0] == "torch" and v))
""",
    "mindspore": """
import sys
sys.modules["mindspore"] = None  # as if MindSpore were not installed
import numpy as np, torch
import torch_ref
ref = torch_ref.create_model("acmix_swin_tiny", img_size=32, embed_dim=8, depths=(2, 1),
                             num_heads=(2, 4), window_size=4, num_classes=3)
torch.save({"model": ref.state_dict()}, "w.pth")
again = torch_ref.create_model("acmix_swin_tiny", checkpoint_path="w.pth", img_size=32,
                               embed_dim=8, depths=(2, 1), num_heads=(2, 4), window_size=4,
                               num_classes=3)
assert torch.equal(again.head.weight, ref.head.weight)
open("w.ckpt", "wb").write(b"not protobuf")
try:
    torch_ref.read_weights("w.ckpt")
except torch_ref.CheckpointError as err:
    assert "reading it needs MindSpore" in str(err), err
print("ok", sorted(m for m, v in sys.modules.items()
                  if m.split(".")[0] == "mindspore" and v))
""",
}


@pytest.mark.parametrize("missing", sorted(ALONE))
def test_each_facade_works_without_the_other_framework(tmp_path, missing):
    """A MindSpore-only user loads .ckpt and safetensors weights; a PyTorch-only user builds the
    reference and loads a pickle; the missing framework's files are one clear error."""
    result = subprocess.run([sys.executable, "-c", ALONE[missing]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=str(ROOT), GLOG_v="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok []"


def test_no_two_test_files_share_a_basename():
    names = Counter(p.name for top in ("tests", "parity") for p in (ROOT / top).rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def _string_constants(path: Path):
    """String literals of a module, but docstrings and the operands of comparisons (a test may
    look for a launcher's worker in a process list by its script's name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    skip |= {id(operand) for node in ast.walk(tree) if isinstance(node, ast.Compare)
             for operand in (node.left, *node.comparators)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.value


def test_tests_run_commands_by_module_never_a_script_by_path():
    """Tests call ``ms_acmix.cli.<command>.main`` or ``python -m ms_acmix.cli.<command>``; the
    shims in scripts/ are for people in a checkout (the msrun launcher is a shell script)."""
    shims = {p.name for p in (ROOT / "scripts").glob("*.py")}
    offenders = [(str(path.relative_to(ROOT)), text)
                 for top in ("tests", "parity") for path in (ROOT / top).rglob("*.py")
                 for text in _string_constants(path)
                 if text in shims or any(text.endswith("scripts/" + s) for s in shims)]
    assert offenders == []
