"""Yes/no environment switches (COREBP_STRICT_PLUGINS, COREBP_OFFLINE, ...), read one way."""

from __future__ import annotations

import os

from corebp.errors import ConfigError

TRUE = ("1", "true", "yes", "on")
FALSE = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """Whether environment variable `name` is switched on; unset or empty means off.

    Case and surrounding spaces do not matter; any value outside TRUE and FALSE is a
    ConfigError naming the variable and the accepted values.
    """
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(
        f"environment variable {name}={raw!r} is not a yes/no value; set it to "
        f"{'/'.join(TRUE)} to switch it on or {'/'.join(FALSE[1:])} to switch it off, or unset it."
    )
