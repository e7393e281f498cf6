"""The one way to load a file from resources/: the source tree, an installed wheel and the bundle alike."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def resource(name: str) -> Traversable:
    """A file of resources/ (shipped as the package ``hmi_resources``), e.g. ``resource("plant.toml")``."""
    return files("hmi_resources").joinpath(name)


def resource_text(name: str) -> str:
    """The text of a file of resources/."""
    return resource(name).read_text(encoding="utf-8")
