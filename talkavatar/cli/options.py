"""A command's settings as Typer options, built from its stage config: each setting is declared once, on its
config field (:mod:`talkavatar.config`), and becomes ``--<field-name>`` with the field's help.

Public Typer API only: the options are ``Annotated[..., typer.Option(...)]`` parameters of the command's
signature; the command itself receives the resolved config objects.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional

import typer

from talkavatar.config import Option, options, resolve


@dataclass(frozen=True)
class Settings:
    """The settings of one command parameter: ``config`` (a stage config class) read from the ``section`` table of
    ``--config FILE``; ``only``: expose just these settings; ``prefix``: put before their help text."""
    config: type
    section: str
    only: tuple[str, ...] | None = None
    prefix: str = ""

    def options(self) -> list[Option]:
        return options(self.config, self.only)


def _parameter(option: Option, prefix: str) -> inspect.Parameter:
    annotation = Annotated[Optional[option.kind.base], typer.Option(option.flag, help=prefix + option.help,
                                                                    show_default=False)]
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _signature(command: Callable, groups: dict[str, Settings]) -> inspect.Signature:
    """``command``'s signature with each settings parameter replaced by one option per setting."""
    params, seen = [], set()
    for p in inspect.signature(command, eval_str=True).parameters.values():
        if p.name not in groups:
            params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        for option in groups[p.name].options():
            if option.name in seen:
                raise TypeError(f"{command.__module__}: two settings named {option.name!r}")
            seen.add(option.name)
            params.append(_parameter(option, groups[p.name].prefix))
    return inspect.Signature(params)


def with_settings(**groups: Settings) -> Callable[[Callable], Callable]:
    """Turn each parameter of a command named in ``groups`` into the options of its settings.

    The command also takes ``config`` (``--config FILE``); it receives each group as its resolved config object::

        @with_settings(settings=Settings(TrackConfig, "track"))
        def command(input: ..., settings: TrackConfig, config: ConfigOpt = None, ...): ...
    """
    def decorate(command: Callable) -> Callable:
        if "config" not in inspect.signature(command).parameters:
            raise TypeError(f"{command.__module__}: a command with settings takes config: ConfigOpt")
        signature = _signature(command, groups)

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            for name, group in groups.items():
                flags = {o.name: kwargs.pop(o.name, None) for o in group.options()}
                kwargs[name] = resolve(group.config, group.section, kwargs.get("config"), flags, group.only)
            return command(**kwargs)

        del wrapper.__wrapped__
        wrapper.__signature__ = signature
        wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        wrapper.settings = groups
        return wrapper
    return decorate
