"""The ``vlagent`` command line.

Each subcommand lives in its own module under ``agent/commands`` and registers itself on :data:`app`.
Only :class:`VlagentError` is caught here and turned into an exit code with the message on stderr (as
click's ``main`` does with ``ClickException``); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import inspect
import sys

import typer

from vlagent.actions.errors import VlagentError

app = typer.Typer(
    name="vlagent",
    help="A visual-agent runtime: screenshot -> Qwen2-VL -> typed action -> click, on desktops, phones, "
    "browsers and gym envs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help: it wraps to the terminal, keeps the examples' lines (see reflow_help) and shows a
    # flag as a flag; typer's rich panels squeezed the help text into a third of an 80-column terminal.
    rich_markup_mode=None,
    context_settings={"max_content_width": 160},  # as wide as the terminal, up to 160 columns
    add_completion=False,
)


def _register_commands() -> None:
    from vlagent.actions.plugins import load_plugins

    load_plugins()  # VLAGENT_PLUGINS modules first: they register profiles, env kinds and policies
    # One import per subcommand module; each defines its command(s) with @app.command().
    from vlagent.agent.commands import (  # noqa: F401
        envs,
        evaluate,
        generate,
        parse,
        record,
        replay,
        report,
        run,
        train,
    )
    for info in app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = reflow_help(info.callback.__doc__)


def reflow_help(doc: str) -> str:
    r"""A docstring as help text: lines of a paragraph joined, indented paragraphs (examples) kept as written.

    Click re-wraps every paragraph to the terminal except one that starts with a ```` line, so each
    example paragraph gets one: a command line split with ``\`` continuations stays one line per line.

    Example:
        >>> reflow_help("Run it.\n\n    Longer text\n    on two lines.\n\n      vlagent run --x \\\n          --y")
        'Run it.\n\nLonger text on two lines.\n\n\x08\n  vlagent run --x \\\n      --y'
    """
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        "\b\n" + p if p.startswith(" ") else " ".join(line.strip() for line in p.splitlines()) for p in paragraphs
    )


def error_line(exc: BaseException) -> str:
    r"""How the CLI reports a vlagent error: one line, ``error: TYPE: message``, whatever the message holds.

    Messages can quote text from outside (a server's reply, a browser's log) with line breaks in it; a
    second line on stderr would read as a second error, so the lines are joined.

    Example:
        >>> error_line(VlagentError("first\n  second\n"))
        'error: VlagentError: first second'
    """
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"error: {type(exc).__name__}: {text}"


def main() -> None:
    """Console-script entry point."""
    try:
        _register_commands()  # after plugins: help texts name their profiles (a broken plugin is an error line)
        rc = app(standalone_mode=False)
    except VlagentError as exc:
        from vlagent.agent.secrets import mask_active

        typer.echo(mask_active(error_line(exc)), err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in standalone_mode=False
        import click

        # typer >= 0.2x raises its vendored click's exceptions (typer._click), which subclass
        # typer.TyperException, not click.ClickException; both carry show() and exit_code.
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
