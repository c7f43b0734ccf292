"""`ippyo devnet up|status|down`: a local proof-of-authority network of real geth nodes."""

from __future__ import annotations

from pathlib import Path

import click

from devnet.network import Devnet, DevnetError

DEFAULT_DIR = Path("var/devnet")


@click.group()
def devnet() -> None:
    """Local Clique network of geth v1.13 nodes on 127.0.0.1 / ローカルのPoAネットワーク."""


@devnet.command()
@click.option("--nodes", default=3, show_default=True, help="Signer nodes to start.")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True
)
def up(nodes: int, directory: Path) -> None:
    """Create (if needed) and start the network; wait until all nodes agree on the head."""
    try:
        net = (
            Devnet.load(directory)
            if (directory / "devnet.json").exists()
            else Devnet.create(directory, nodes)
        )
        net.up()
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"chain id {net.state.chain_id}; {len(net.state.nodes)} nodes in sync")
    for node in net.state.nodes:
        click.echo(f"  node {node.index}: {node.url}  signer {node.signer}  pid {node.pid}")
    click.echo(f"state and development keys: {directory / 'devnet.json'}")


@devnet.command()
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True
)
def status(directory: Path) -> None:
    """Each node's head block, or why it does not answer."""
    try:
        net = Devnet.load(directory)
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from exc
    for index, head in net.heads().items():
        node = net.state.nodes[index]
        text = f"block {head[0]} {head[1][:18]}…" if isinstance(head, tuple) else head
        click.echo(f"node {index} {node.url} pid {node.pid}: {text}")


@devnet.command()
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True
)
@click.option("--delete", is_flag=True, help="Also delete the chain data.")
def down(directory: Path, delete: bool) -> None:
    """Stop exactly the nodes this devnet started."""
    try:
        net = Devnet.load(directory)
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from exc
    if delete:
        net.destroy()
    else:
        net.down()
    click.echo("stopped")
