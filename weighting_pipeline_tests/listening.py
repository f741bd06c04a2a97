"""Which addresses servers listen on, read from the kernel's socket tables (/proc/net/tcp, tcp6):
what the machine's network could reach, whatever a server's options claim; and a server that never answers."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _listening_table() -> dict[int, tuple[Address, int]]:
    """Socket inode -> (local address, port) of every TCP socket in the LISTEN state."""
    found = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A":  # LISTEN
                # the kernel prints each 32-bit word of the address in host (little-endian) order
                raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8))
                found[int(fields[9])] = (ipaddress.ip_address(raw), int(port, 16))
    return found


def listening_addresses(port: int) -> set[Address]:
    """The local addresses of the TCP sockets listening on ``port``."""
    return {address for address, p in _listening_table().values() if p == port}


def listening_sockets(pids: set[int]) -> set[tuple[Address, int]]:
    """(address, port) of every TCP socket a process in ``pids`` listens on."""
    table = _listening_table()
    found = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue  # gone meanwhile
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and (inode := int(target[8:-1])) in table:
                found.add(table[inode])
    return found


def with_descendants(pids: set[int]) -> set[int]:
    """``pids`` and every process descended from them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def is_loopback(address: Address) -> bool:
    """127.0.0.0/8, ::1, or an IPv4 loopback address mapped into IPv6 (how Java listens on 127.0.0.1)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def assert_listens_on_loopback_only(port: int) -> None:
    addresses = listening_addresses(port)
    assert addresses, f"nothing listens on port {port}"
    assert all(is_loopback(a) for a in addresses), addresses


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a server that accepts connections and never answers:
    the worst case for a client's timeouts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
