"""What :func:`~reelpick.testing.check_plugin` accepts as a plugin, and the name it gets."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..types import PluginInfo

# A plugin class, a factory returning a plugin object, or a plugin object.
PluginSource = object


def factory_of(plugin: PluginSource) -> Callable[[], object]:
    """A function making the plugin object: the class or factory itself, or returning the object."""
    if isinstance(plugin, type) or (callable(plugin) and not _has_hookimpls(plugin)):
        return plugin
    return lambda: plugin


def _has_hookimpls(obj: object) -> bool:
    return any(
        hasattr(getattr(obj, attr, None), "reelpick_impl")
        for attr in dir(obj)
        if attr.startswith("reelpick_")
    )


def default_name(plugin: object) -> str:
    """The name a plugin is checked under when none is given: its label, slugged."""
    return _slug(_label_of(plugin))


def _label_of(plugin: object) -> str:
    info_hook = getattr(plugin, "reelpick_plugin_info", None)
    info = info_hook() if callable(info_hook) else None
    return info.label if isinstance(info, PluginInfo) else type(plugin).__name__


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "plugin"
