"""`ippyo` — the single console script.

Each component owns its subcommands (``card_reader/cli.py`` defines ``ippyo card``, and so on).
They are imported lazily, so ``ippyo --help`` stays fast and a component's heavy dependencies
(web3, Qt, pyscard) load only when its command runs.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# subcommand name -> (module, attribute, one-line help shown in `ippyo --help`)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("ippyo.demo", "demo", "Run a whole demo election and verify it."),
    "verify": ("ippyo.verify", "verify", "Verify an exported election record."),
    "card": ("card_reader.cli", "card", "Test PKI, card images and the virtual card."),
    "devnet": ("devnet.cli", "devnet", "Start, inspect and stop a local PoA network."),
    "contract": ("contracts.cli", "contract", "Deploy and drive the BallotBox contract."),
    "registrar": ("registrar.cli", "registrar", "Eligibility service and its keys."),
    "trustee": ("ippyo.trustee", "trustee", "Trustees: key ceremony and decryption."),
    "tally": ("tally_server.cli", "tally", "Tally server: observer pages, API, indexer."),
    "kiosk": ("kiosk.cli", "kiosk", "Run the voting kiosk (full-screen window)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (mod, _, _) in SUBCOMMANDS.items() if _available(mod))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1])
        if not isinstance(command, click.Command):  # pragma: no cover - programming error
            raise TypeError(f"{entry[0]}.{entry[1]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the registry's help lines so `ippyo --help` imports no component.
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the component's package is not there (yet)
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ippyo")
def main() -> None:
    """ippyo（一票）— 検証可能なインターネット投票 / verifiable internet voting."""
