"""What every `qa` command shares: the consoles, `--json`, the services on the data
directory and how a `QAError` ends a command, the progress bar, `--mode`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qa_service.config import Settings
from qa_service.errors import QAError

__all__ = ["ERROR_STATUSES", "JsonFlag", "console", "errors", "exit_on_error", "on_data",
           "open_services", "print_json", "progress_bar", "requested_mode"]

console = Console()
errors = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (the API's shapes).")]
ERROR_STATUSES = ("failed", "invalid")


@contextmanager
def on_data(kb: str | None = None, *, create: bool = False,
            settings: Settings | None = None) -> Iterator[Any]:
    """The services on the configured data directory (`settings`, from the environment by
    default), whose errors name it. Unless the command may `create` it, a missing data
    directory ends the command (naming `kb`, the knowledge base it needed): reading never
    makes an empty one."""
    settings = settings or Settings()
    if not create and not settings.data_dir.is_dir():
        _no_data_directory(settings.data_dir, kb)
    with open_services(settings, settings.data_dir) as services:
        yield services


@contextmanager
def open_services(settings: Settings, data_dir: Path | None = None) -> Iterator[Any]:
    """Services built from `settings`; a QAError ends the command (`_exit_on_error`)."""
    from qa_service.services import Services

    services = Services.build(settings)
    try:
        with exit_on_error(data_dir):
            yield services
    finally:
        services.close()


@contextmanager
def exit_on_error(data_dir: Path | None = None) -> Iterator[None]:
    """A QAError ends the command with exit code 2 after printing its message in the CLI's
    words, and for the operator at the terminal its detail (paths) and the data directory
    the command worked on too."""
    try:
        yield
    except QAError as exc:
        errors.print(f"[red]error:[/red] {escape(exc.cli_message)}", highlight=False)
        if exc.detail:
            errors.print(f"  ({exc.detail})", style="dim", markup=False, highlight=False)
        if data_dir is not None:
            errors.print(f"  (data directory: {data_dir}; QA_DATA_DIR chooses another)",
                         style="dim", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _no_data_directory(data_dir: Path, kb: str | None) -> NoReturn:
    where = f"there is no data directory at {data_dir}"
    if kb:
        text = (f"knowledge base '{kb}' does not exist: {where}; create it with `qa kb create "
                f"{kb}`, or set QA_DATA_DIR to the folder that holds it")
    else:
        text = (f"{where}; create a knowledge base with `qa kb create NAME`, or set "
                "QA_DATA_DIR to the folder that holds yours")
    errors.print(f"[red]error:[/red] {escape(text)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


@contextmanager
def progress_bar() -> Iterator[Progress]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=errors, transient=True) as bar:
        yield bar


def requested_mode(value: str | None) -> Literal["extractive", "llm"] | None:
    if value is None:
        return None
    if value == "extractive":
        return "extractive"
    if value == "llm":
        return "llm"
    raise typer.BadParameter("mode must be extractive or llm", param_hint="--mode")
