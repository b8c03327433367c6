"""Provider presets callhook knows (`callhook.presets`): what a channel of that provider starts from.

The presets live in the shared layer (the webhook path applies them); this module only lists and shows them.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from callhook_cli.context import state
from callhook_cli.errors import CliError

preset_app = typer.Typer(help="Provider presets: field mapping, signature scheme and answers per provider.",
                         no_args_is_help=True)
NO_PRESETS = "no presets available in this callhook version (callhook.presets is not installed)"


def register(app: typer.Typer) -> None:
    app.add_typer(preset_app, name="preset")


def _presets_module() -> Any:
    try:
        return importlib.import_module("callhook.presets")
    except ModuleNotFoundError as exc:
        if exc.name not in ("callhook.presets", "callhook"):
            raise
        raise CliError(NO_PRESETS) from exc


def _dump(preset: Any) -> dict[str, Any]:
    return preset.model_dump(mode="json", exclude_none=True) if hasattr(preset, "model_dump") else dict(preset)


@preset_app.command("list")
def preset_list(ctx: typer.Context) -> None:
    """The presets, by name."""
    st = state(ctx)
    presets = [_dump(p) for p in _presets_module().list_presets()]
    st.out.emit(presets, lambda: st.out.table(
        f"{len(presets)} preset(s): use one with advanced_config.preset", ["name", "title", "signature", "docs"],
        [(p.get("name"), p.get("title"), (p.get("signature") or {}).get("scheme"), p.get("docs_url"))
         for p in presets]))


@preset_app.command("show")
def preset_show(ctx: typer.Context, name: str) -> None:
    """One preset: the channel fragment it stands for."""
    st = state(ctx)
    module = _presets_module()
    preset = module.get_preset(name)
    if preset is None:
        known = ", ".join(sorted(str(_dump(p).get("name")) for p in module.list_presets()))
        raise CliError(f"no preset {name!r}; known: {known or 'none'}")
    st.out.emit(_dump(preset))
