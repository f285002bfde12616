"""Yes/no environment switches are read one way, by corebp.util.env.env_flag, everywhere."""

from __future__ import annotations

import pytest

from corebp.errors import ConfigError
from corebp.util.env import env_flag

VAR = "COREBP_TEST_SWITCH"


@pytest.mark.parametrize("value", ["1", "true", "True", "YES", "on", " 1 "])
def test_switched_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(VAR, value)
    assert env_flag(VAR) is True


@pytest.mark.parametrize("value", ["", "0", "false", "False", "NO", "off", " 0 "])
def test_switched_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(VAR, value)
    assert env_flag(VAR) is False


def test_unset_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    assert env_flag(VAR) is False


def test_another_value_is_an_error_naming_the_variable_and_the_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(VAR, "maybe")
    with pytest.raises(
        ConfigError,
        match=rf"^environment variable {VAR}='maybe' is not a yes/no value; set it to "
        r"1/true/yes/on to switch it on or 0/false/no/off to switch it off, or unset it\.$",
    ):
        env_flag(VAR)
