"""The plugin manager: selection by COREBP_PLUGINS, broken plugins, strict mode, name clashes."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from corebp.errors import ConfigError, PluginError
from corebp.plugins import load_registry

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py

BROKEN = "raise RuntimeError('boom at import')\n"
TWIN_LAYER = """
    import corebp

    class Twin(corebp.Layer):
        pass

    @corebp.hookimpl
    def corebp_register_layers():
        return {"twin": Twin}
"""


def test_first_party_plugins_are_registered_through_the_entry_point_group() -> None:
    reg = load_registry()
    names = {p.name for p in reg.plugins}
    assert {"core", "optim", "metrics"} <= names
    assert {"sgd", "adam", "adamw"} <= set(reg.names("optimizers"))
    assert {"loss", "accuracy", "top_k_accuracy"} <= set(reg.names("metrics"))
    assert reg.components["optimizers"]["sgd"].plugin == "optim"


def test_no_plugins_leaves_only_the_core_components(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COREBP_PLUGINS", "none")
    reg = load_registry()
    assert [p.name for p in reg.plugins] == ["core"]
    assert {"linear", "sigmoid"} <= set(reg.names("layers"))
    assert {c.plugin for kind in reg.components.values() for c in kind.values()} == {"core"}
    assert reg.names("optimizers") == reg.names("metrics") == reg.names("schedules") == []
    with pytest.raises(ConfigError, match=r"'sgd' is not a registered optimizer; expected one "):
        reg.get("optimizers", "sgd")


def test_core_trains_with_zero_plugins_and_imports_none() -> None:
    code = (
        "import sys, torch, corebp\n"
        "from corebp.plugins import registry\n"
        "reg = registry()\n"
        "model = corebp.Sequential(reg.get('layers', 'linear')(4, 3, dtype=torch.float64),"
        " reg.get('layers', 'sigmoid')())\n"
        "loss = reg.get('losses', 'mse')()\n"
        "x, t = torch.randn(8, 4, dtype=torch.float64), torch.rand(8, 3, dtype=torch.float64)\n"
        "before = loss.forward(model.forward(x), t)\n"
        "for _ in range(50):\n"
        "    model.zero_grad(); loss.forward(model.forward(x), t)\n"
        "    model.backward(loss.backward())\n"
        "    for name, p in model.params.items(): p.sub_(0.5 * model.grads[name])\n"
        "after = loss.forward(model.forward(x), t)\n"
        "assert after < before, (before, after)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('corebp_'))\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "COREBP_PLUGINS": "none"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_corebp_imports_no_plugin() -> None:
    code = "import sys, corebp; assert not [m for m in sys.modules if m.startswith('corebp_')]"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_corebp_plugins_env_limits_the_loaded_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COREBP_PLUGINS", "optim")
    reg = load_registry()
    assert [p.name for p in reg.plugins] == ["core", "optim"]
    assert "sgd" in reg.names("optimizers")
    assert reg.names("metrics") == []


def test_corebp_plugins_env_naming_an_unknown_plugin_is_an_error_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COREBP_PLUGINS", "optim,metrix")
    with pytest.raises(PluginError, match=r"names 'metrix'.*Did you mean 'metrics'\?"):
        load_registry()


def test_broken_plugin_warns_naming_it_and_the_others_still_load(make_plugin: MakePlugin) -> None:
    make_plugin("broken", BROKEN)
    with pytest.warns(RuntimeWarning) as caught:
        reg = load_registry()
    message = (
        "plugin 'broken' from corebp-test-broken (corebp_test_broken) failed to load: "
        "RuntimeError: boom at import"
    )
    assert [str(w.message) for w in caught] == [message]
    broken = next(p for p in reg.plugins if p.name == "broken")
    assert broken.error == message
    assert "sgd" in reg.names("optimizers")


@pytest.mark.parametrize("switch", ["argument", "environment"])
def test_strict_mode_turns_a_broken_plugin_into_an_error_with_the_same_message(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    make_plugin("broken", BROKEN)
    if switch == "environment":
        monkeypatch.setenv("COREBP_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as caught:
        load_registry(strict=True if switch == "argument" else None)
    assert str(caught.value).startswith(
        "plugin 'broken' from corebp-test-broken (corebp_test_broken) failed to load: "
        "RuntimeError: boom at import (strict mode:"
    )


@pytest.mark.parametrize("value", ["off", "False", "0"])
def test_strict_mode_switched_off_in_any_spelling_only_warns(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    make_plugin("broken", BROKEN)
    monkeypatch.setenv("COREBP_STRICT_PLUGINS", value)
    with pytest.warns(RuntimeWarning, match="plugin 'broken'"):
        load_registry()


def test_a_registration_hook_returning_a_non_class_counts_as_a_broken_plugin(
    make_plugin: MakePlugin,
) -> None:
    make_plugin(
        "notaclass",
        """
        import corebp

        @corebp.hookimpl
        def corebp_register_optimizers():
            return {"bad": 42}
        """,
    )
    with pytest.raises(PluginError, match=r"registers 'bad' as 42; expected a subclass of "):
        load_registry(strict=True)


def test_two_plugins_registering_the_same_name_is_an_error_naming_both(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plugin("first", TWIN_LAYER)
    make_plugin("second", TWIN_LAYER)
    monkeypatch.setenv("COREBP_PLUGINS", "first,second")
    with pytest.raises(
        PluginError,
        match=r"layer name 'twin' is registered by both plugin 'first' and plugin 'second'",
    ):
        load_registry()


def test_a_plugin_reusing_a_first_party_name_is_an_error_naming_both(
    make_plugin: MakePlugin,
) -> None:
    make_plugin(
        "rival",
        """
        import corebp

        class Rival(corebp.Optimizer):
            pass

        @corebp.hookimpl
        def corebp_register_optimizers():
            return {"sgd": Rival}
        """,
    )
    with pytest.raises(
        PluginError, match=r"'sgd' is registered by both plugin 'optim' and plugin "
    ):
        load_registry()


def test_registry_get_suggests_the_nearest_name() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reg = load_registry()
    with pytest.raises(ConfigError, match=r"optimizer.name: 'adamm' .*Did you mean 'adam'\?"):
        reg.get("optimizers", "adamm", key="optimizer.name")
