"""A local proof-of-authority network of real geth nodes (Clique), all on 127.0.0.1.

Each node is a separate geth v1.13 process with its own data directory and its own signer
key, as if run by a different party (city, election commission, observer organisation). The
nodes find each other through static peers (no discovery), seal a block every second, and the
launcher waits until every node agrees on the head before it reports the network up.

The state of a running network (pids, ports, accounts) is kept in ``<dir>/devnet.json`` so
``ippyo devnet status|down`` can find it; ``down`` stops exactly the processes it started.
Keys here are development keys for a local network: never reuse them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from eth_account import Account

ROOT = Path(__file__).resolve().parents[1]
GETH_VERSION = "v1.13.15"
GO_TOOLCHAIN = "go1.22.12"  # Go ≥ 1.23 refuses to link geth 1.13 (fjl/memsize)
DEFAULT_CHAIN_ID = 1_300_501
GENESIS_LEAD_SECONDS = 10
BLOCK_GAS_LIMIT = 60_000_000  # ~400 ballots (≤ 145k gas each) per 1-second block
PASSWORD = "ippyo-devnet"  # development keystore password (local devnet only)


class DevnetError(RuntimeError):
    pass


def geth_path() -> Path:
    """The geth binary: $IPPYO_GETH, else the cached build in .cache/geth/<version>/geth."""
    env = os.environ.get("IPPYO_GETH")
    return Path(env) if env else ROOT / ".cache" / "geth" / GETH_VERSION / "geth"


def build_geth() -> Path:
    """Build geth through the Go module proxy once; later calls reuse the cached binary."""
    target = geth_path()
    if target.exists():
        return target
    if os.environ.get("IPPYO_GETH"):
        raise DevnetError(f"IPPYO_GETH points at {target}, which does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GOTOOLCHAIN": GO_TOOLCHAIN,
        "GOBIN": str(target.parent),
        "GOFLAGS": "-mod=mod",
    }
    proc = subprocess.run(
        ["go", "install", f"github.com/ethereum/go-ethereum/cmd/geth@{GETH_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not target.exists():
        raise DevnetError(f"building geth {GETH_VERSION} failed:\n{proc.stderr[-3000:]}")
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` different free loopback ports: all held open at once while they are chosen
    (one at a time, the kernel may hand the same port out twice — two nodes on one port, and
    the second geth cannot start)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            s = held.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


@dataclass
class NodeInfo:
    index: int
    datadir: str
    signer: str
    http_port: int
    p2p_port: int
    auth_port: int
    enode: str
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@dataclass
class DevnetState:
    directory: str
    chain_id: int
    nodes: list[NodeInfo]
    funded_keys: list[str] = field(default_factory=list)
    """Private keys (hex) of accounts funded in the genesis, for the admin, kiosks and senders."""

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def save(self) -> None:
        path = Path(self.directory) / "devnet.json"
        path.write_text(json.dumps(asdict(self), indent=1))

    @staticmethod
    def load(directory: Path) -> DevnetState:
        path = directory / "devnet.json"
        if not path.exists():
            raise DevnetError(f"no devnet in {directory} (no devnet.json)")
        raw: dict[str, Any] = json.loads(path.read_text())
        raw["nodes"] = [NodeInfo(**n) for n in raw["nodes"]]
        return DevnetState(**raw)


def _genesis(chain_id: int, signers: Sequence[str], funded: Sequence[str]) -> dict[str, Any]:
    extra = "0x" + "00" * 32 + "".join(s[2:].lower() for s in signers) + "00" * 65
    forks = {
        f"{name}Block": 0
        for name in (
            "homestead",
            "eip150",
            "eip155",
            "eip158",
            "byzantium",
            "constantinople",
            "petersburg",
            "istanbul",
            "berlin",
            "london",
        )
    }
    return {
        # No shanghaiTime: Clique sealing in geth 1.13 predates it, and the contract targets paris.
        "config": {"chainId": chain_id, **forks, "clique": {"period": 1, "epoch": 30000}},
        "difficulty": "0x1",
        # Block 1 cannot be sealed before genesis + period: a few seconds ahead, so that `up`
        # can mark every node synced (see Devnet.up) before any block exists.
        "timestamp": hex(int(time.time()) + GENESIS_LEAD_SECONDS),
        "gasLimit": hex(BLOCK_GAS_LIMIT),
        "extraData": extra,
        "alloc": {a[2:].lower(): {"balance": hex(10**24)} for a in [*signers, *funded]},
    }


class Devnet:
    """Create, start, inspect and stop a local Clique network of ``n`` geth nodes."""

    def __init__(self, directory: Path, state: DevnetState) -> None:
        self.directory = directory
        self.state = state

    # --- creation ---------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        directory: Path,
        nodes: int = 3,
        *,
        funded_accounts: int = 8,
        chain_id: int = DEFAULT_CHAIN_ID,
    ) -> Devnet:
        if nodes < 1:
            raise DevnetError("a network needs at least one node")
        geth = build_geth()
        directory = directory.resolve()
        if (directory / "devnet.json").exists():
            raise DevnetError(f"{directory} already holds a devnet: `ippyo devnet down` first")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "password.txt").write_text(PASSWORD + "\n")
        signers = [Account.create() for _ in range(nodes)]
        funded = [Account.create() for _ in range(funded_accounts)]
        genesis = _genesis(chain_id, [s.address for s in signers], [f.address for f in funded])
        (directory / "genesis.json").write_text(json.dumps(genesis, indent=1))
        infos = []
        ports = free_ports(3 * nodes)  # http, p2p, auth for each node, all different
        for i, signer in enumerate(signers):
            datadir = directory / f"node{i}"
            keystore = datadir / "keystore"
            keystore.mkdir(parents=True)
            # Light scrypt parameters: a development key, and geth unlocks it at every start.
            encrypted = Account.encrypt(signer.key, PASSWORD, kdf="scrypt", iterations=2**12)
            (keystore / f"signer-{signer.address}.json").write_text(json.dumps(encrypted))
            node_key = PrivateKey()
            (datadir / "nodekey").write_text(node_key.secret.hex())
            node_id = node_key.public_key.format(compressed=False)[1:].hex()
            http, p2p, auth = ports[3 * i : 3 * i + 3]
            infos.append(
                NodeInfo(
                    i,
                    str(datadir),
                    signer.address,
                    http,
                    p2p,
                    auth,
                    f"enode://{node_id}@127.0.0.1:{p2p}",
                )
            )
            subprocess.run(
                [str(geth), "--datadir", str(datadir), "init", str(directory / "genesis.json")],
                capture_output=True,
                check=True,
            )
        for info in infos:
            peers = ", ".join(f'"{o.enode}"' for o in infos if o is not info)
            Path(info.datadir, "config.toml").write_text(
                f"[Node.P2P]\nStaticNodes = [{peers}]\nTrustedNodes = [{peers}]\n"
            )
        state = DevnetState(str(directory), chain_id, infos, [f.key.hex() for f in funded])
        state.save()
        return cls(directory, state)

    @classmethod
    def load(cls, directory: Path) -> Devnet:
        directory = directory.resolve()
        return cls(directory, DevnetState.load(directory))

    # --- processes ----------------------------------------------------------------------------
    def _command(self, node: NodeInfo) -> list[str]:
        return [
            str(geth_path()),
            "--datadir",
            node.datadir,
            "--config",
            str(Path(node.datadir, "config.toml")),
            "--networkid",
            str(self.state.chain_id),
            "--nodekey",
            str(Path(node.datadir, "nodekey")),
            "--port",
            str(node.p2p_port),
            "--nat",
            "none",
            "--nodiscover",
            "--maxpeers",
            "16",
            "--http",
            "--http.addr",
            "127.0.0.1",
            "--http.port",
            str(node.http_port),
            "--http.api",
            "eth,net,web3,txpool,clique,miner,debug",  # debug: bench/gas_profile.py traces
            "--http.vhosts",
            "localhost,127.0.0.1",
            "--authrpc.addr",
            "127.0.0.1",
            "--authrpc.port",
            str(node.auth_port),
            "--ipcdisable",
            "--syncmode",
            "full",
            "--unlock",
            node.signer,
            "--password",
            str(Path(self.state.directory, "password.txt")),
            "--allow-insecure-unlock",
            "--miner.etherbase",
            node.signer,
            "--miner.gasprice",
            "0",
            "--txpool.pricelimit",
            "0",
            # Kiosks keep many ballots in flight: geth's defaults (16 executable and 64 queued
            # transactions per account, 5,120 in all) would queue a busy kiosk's later ballots.
            "--txpool.accountslots",
            "1024",
            "--txpool.accountqueue",
            "1024",
            "--txpool.globalslots",
            "16384",
            "--txpool.globalqueue",
            "4096",
            "--verbosity",
            "2",
        ]

    def start_node(self, index: int, *, seal: bool = True, timeout: float = 30.0) -> None:
        """Start one node; with ``seal``, let it seal blocks once it has a peer.

        Sealing starts only after peering: two signers that seal before they meet fork at
        block 1 and, with two signers, can never reconcile (each may seal only every other
        block). The miner API is on the node's loopback HTTP endpoint only.
        """
        node = self.state.nodes[index]
        if node.pid is not None and _alive(node.pid):
            return
        log = open(Path(node.datadir, "geth.log"), "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            self._command(node),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        node.pid = proc.pid
        self.state.save()
        if seal:
            self._wait_for_peers(index, min(1, len(self.state.nodes) - 1), timeout)
            _rpc(node.url, "miner_start", [])

    def _wait_for_peers(self, index: int, peers: int, timeout: float) -> None:
        node = self.state.nodes[index]
        deadline = time.monotonic() + timeout
        while True:
            try:
                if int(_rpc(node.url, "net_peerCount", []), 16) >= peers:
                    return
            except (OSError, DevnetError):
                pass  # not answering yet
            if node.pid is None or not _alive(node.pid):
                raise DevnetError(f"node {index} exited; see {node.datadir}/geth.log")
            if time.monotonic() > deadline:
                raise DevnetError(f"node {index} found fewer than {peers} peers in {timeout:.0f} s")
            time.sleep(0.2)

    def stop_node(self, index: int, *, timeout: float = 15.0) -> None:
        node = self.state.nodes[index]
        if node.pid is None:
            return
        if _is_our_geth(node.pid, node.datadir):
            os.kill(node.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(node.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(node.pid):
                os.kill(node.pid, signal.SIGKILL)
            _reap(node.pid)
        node.pid = None
        self.state.save()

    def up(self, *, timeout: float = 60.0) -> None:
        count = len(self.state.nodes)
        for i in range(count):
            self.start_node(i, seal=False)
        for i in range(count):  # the full mesh first, then sealing: no fork at block 1
            self._wait_for_peers(i, count - 1, timeout)
        # One signer seals block 1 alone and every node imports it before the others seal: when
        # all signers start at once on a loaded machine, two may each seal a block 1 of their own
        # before either hears of the other's, and with two signers that fork never heals (each
        # may seal only every other block). A geth node that has never sealed drops propagated
        # blocks until it thinks itself synced, and starting its miner is what marks it so: each
        # other node starts and at once stops its miner (the genesis timestamp lies a few seconds
        # ahead, so nothing can be sealed meanwhile), then the first seals block 1 alone.
        first, *others = self.state.nodes
        for node in others:
            _rpc(node.url, "miner_start", [])
            _rpc(node.url, "miner_stop", [])
        _rpc(first.url, "miner_start", [])
        if others:
            self._wait_all_past_genesis(timeout)
        for node in others:
            _rpc(node.url, "miner_start", [])
        self.wait_in_sync(timeout=timeout)

    def _wait_all_past_genesis(self, timeout: float) -> None:
        """Wait until every node holds a block 1 (whoever sealed it; with three or more signers
        a fork there heals once all seal, so this only has to let the first block spread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            heads = self.heads().values()
            if all(isinstance(h, tuple) and h[0] >= 1 for h in heads):
                return
            time.sleep(0.2)

    def down(self) -> None:
        for i in range(len(self.state.nodes)):
            self.stop_node(i)
        Path(self.state.directory, "devnet.json").unlink(missing_ok=True)

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.state.directory, ignore_errors=True)

    # --- status -----------------------------------------------------------------------------------
    def heads(self) -> dict[int, tuple[int, str] | str]:
        """Each node's head (number, hash), or why it did not answer."""
        out: dict[int, tuple[int, str] | str] = {}
        for node in self.state.nodes:
            try:
                block = _rpc(node.url, "eth_getBlockByNumber", ["latest", False])
                out[node.index] = (int(block["number"], 16), block["hash"])
            except (OSError, DevnetError) as exc:
                out[node.index] = f"not answering ({type(exc).__name__})"
        return out

    def txpool_status(self, index: int) -> tuple[int, int]:
        """(pending, queued) transactions in node ``index``'s pool (geth's txpool API: the
        devnet's own tooling and bench/ use it; the product never does)."""
        status = _rpc(self.state.nodes[index].url, "txpool_status", [])
        return int(status["pending"], 16), int(status["queued"], 16)

    def block_hash(self, index: int, number: int) -> str | None:
        block = _rpc(self.state.nodes[index].url, "eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    def wait_in_sync(
        self, *, min_height: int = 2, timeout: float = 60.0, nodes: Sequence[int] | None = None
    ) -> int:
        """Wait until the given nodes (default: all) have the same block at a common height."""
        indices = list(nodes) if nodes is not None else [n.index for n in self.state.nodes]
        deadline = time.monotonic() + timeout
        last: dict[int, tuple[int, str] | str] = {}
        while time.monotonic() < deadline:
            last = self.heads()
            numbers = [h[0] for i, h in last.items() if i in indices and isinstance(h, tuple)]
            # A restarted node agrees with the others about old blocks at once: require the
            # heads themselves to be within a block of each other too.
            if (
                len(numbers) == len(indices)
                and min(numbers) >= min_height
                and max(numbers) - min(numbers) <= 1
            ):
                height = min(numbers)
                try:
                    hashes = {self.block_hash(i, height) for i in indices}
                except (OSError, DevnetError):
                    hashes = set()
                if len(hashes) == 1:
                    return height
            time.sleep(0.3)
        raise DevnetError(f"nodes did not agree on a head within {timeout:.0f} s: {last}")


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise DevnetError(str(reply["error"]))
    return reply["result"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _is_our_geth(pid: int, datadir: str) -> bool:
    """Only signal a process that is geth running on this node's data directory."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(arg.endswith(b"geth") for arg in cmdline[:1]) and datadir.encode() in cmdline
