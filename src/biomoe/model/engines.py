"""The inference engines' names, importable without torch (the params schema uses them)."""

from __future__ import annotations

from typing import Literal, get_args

Engine = Literal["eager", "fast", "threaded"]
ENGINES: tuple[Engine, ...] = get_args(Engine)
