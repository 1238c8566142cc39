"""--parity-device / --parity-precision: choices, the one-line reason for an absent device, and
the arithmetic each choice bounds."""
import pytest

from parity.error_model import DEVICES
from parity import device


def test_unknown_values_are_errors_naming_option_and_value():
    with pytest.raises(ValueError, match=r"--parity-device='TPU' is not one of CPU, GPU, Ascend"):
        device.check_choice("TPU", "float32")
    with pytest.raises(ValueError, match=r"--parity-precision='fp8'"):
        device.check_choice("CPU", "fp8")


def test_every_device_has_a_reasoned_policy_entry():
    assert set(DEVICES) == {"CPU", "GPU", "Ascend"}
    for name, policy in DEVICES.items():
        assert len(policy.reasoning) > 80, name
    assert DEVICES["GPU"].native_arithmetic == "tf32"
    assert DEVICES["Ascend"].native_arithmetic == "float16"


@pytest.mark.parametrize("name", ["GPU", "Ascend"])
def test_an_absent_device_gives_one_line(name):
    reason = device.unavailable(name)
    if reason is None:
        pytest.skip(f"{name} is present here")
    assert "\n" not in reason and f"--parity-device {name}" in reason


@pytest.mark.parametrize("name, precision, expected", [
    ("CPU", "native", "float32"), ("GPU", "float32", "float32"), ("GPU", "native", "tf32"),
    ("Ascend", "native", "float16")])
def test_the_bound_follows_the_device_arithmetic(monkeypatch, name, precision, expected):
    monkeypatch.setitem(device._state, "device", name)
    monkeypatch.setitem(device._state, "precision", precision)
    assert device.arithmetic() == expected
