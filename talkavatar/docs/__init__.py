"""Generated documentation: the man pages and shell completions, rebuilt from the code by ``python -m talkavatar.docs``.

A test regenerates every artifact and fails when the committed copy has drifted.
"""

from talkavatar.docs import bundle_spec, completions, manpage


def artifacts() -> dict[str, str]:
    """Every generated file, by repository-relative path."""
    files = {"man/talkavatar.1": manpage.build(), "man/talkavatar-bundle.5": bundle_spec.build()}
    for shell, name in completions.SHELLS.items():
        files[f"completions/{name}"] = completions.build(shell)
    return files
