"""`talkavatar demo`: run the whole pipeline on the bundled sample photo and speech."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import DeviceOpt, ForceOpt, JsonOpt, emit, log, report_errors, shows_progress, warn

NAME = "demo"
HELP = ("Run the whole pipeline on the bundled sample photo and speech: fit an avatar, drive it with the speech, "
        "render demo.mp4 (with audio) and preview.png.")
EPILOG = "Examples:  talkavatar demo ; talkavatar demo --preset tiny -o demo/ ; talkavatar demo --json"
NO_ARGS_IS_HELP = False


@report_errors
def command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the demo's bundle, video and "
                                         "preview. (default: talkavatar-demo)", show_default=False)
                      ] = Path("talkavatar-demo"),
    preset: Annotated[Optional[str], typer.Option(
        "--preset", help="tiny (CPU, a few minutes, 256x256), fast (GPU, 1024x1024) or auto: fast where the demo "
                         "runs on a GPU, else tiny. (default: auto)", show_default=False)] = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from talkavatar import api

    result = api.demo(output, preset, device=device, force=force, log=log, warn=warn,
                      show_progress=shows_progress())
    log(f"demo done in {sum(result.stage_seconds.values()):.0f} s ({result.preset} preset on {result.device}): "
        f"watch {result.video}, look at {result.preview}")
    emit(result.as_dict(), as_json, human=f"{result.video}\n{result.preview}\n{result.bundle}")
