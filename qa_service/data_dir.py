"""Where knowledge bases live: the data directory, whichever folder the command runs from.

The rule, first match wins:

1. `QA_DATA_DIR` (or `Settings(data_dir=...)`), when set: the user's explicit choice. A
   relative path is taken from the current folder at the time the settings are built, and
   `~` is the home folder.
2. Running from a source checkout (the folder above the `qa_service` package holds this
   project's `pyproject.toml`, `name = "qa-service"`): that checkout's `indexes/`.
3. Otherwise (an installed package): the per-user data directory,
   `platformdirs.user_data_dir("qa-service")`; on Linux `$XDG_DATA_HOME/qa-service`, by
   default `~/.local/share/qa-service`.

The result is always absolute. Nothing here runs at import time, and nothing here creates
a folder: finding the default reads one `pyproject.toml` at most.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs

__all__ = ["APP_NAME", "CHECKOUT_FOLDER", "absolute", "default_data_dir", "source_checkout"]

APP_NAME = "qa-service"  # the project's distribution name and the per-user folder's name
CHECKOUT_FOLDER = "indexes"  # the data directory inside a source checkout


def source_checkout(package_dir: Path | None = None) -> Path | None:
    """The source checkout the package runs from, or None when it is installed.

    `package_dir`: the `qa_service` package folder (default: this module's)."""
    package = package_dir or Path(__file__).resolve().parent
    root = package.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    section = project.get("project")
    if isinstance(section, dict) and section.get("name") == APP_NAME:
        return root
    return None


def default_data_dir() -> Path:
    """The data directory when `QA_DATA_DIR` is not set (rules 2 and 3 above)."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / CHECKOUT_FOLDER
    return absolute(Path(platformdirs.user_data_dir(APP_NAME)))


def absolute(path: Path) -> Path:
    """`path` with `~` expanded, made absolute against the current folder (`..` folded)."""
    return Path(os.path.abspath(path.expanduser()))
