"""A client that keeps sending a request body until the server answers, on a raw socket:
what httpx cannot do (it sends the whole body before it reads any answer)."""

from __future__ import annotations

import socket
import time

__all__ = ["read_response", "send_until_answered"]


def send_until_answered(port: int, head: bytes, blocks: list[bytes], total: int,
                        timeout: float = 60.0) -> tuple[bytes, int]:
    """Send `head`, then `blocks` in turn (the last one repeated) until `total` bytes went
    or the server answered; return (the server's response, body bytes sent)."""
    sent, reply, pending, index = 0, b"", b"", 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sock.settimeout(0.005)
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in reply and time.monotonic() < deadline:
            try:
                reply += sock.recv(65536)
            except TimeoutError:
                pass
            except OSError:
                break
            if sent >= total:
                continue
            if not pending:
                pending, index = blocks[index], min(index + 1, len(blocks) - 1)
            try:
                done = sock.send(pending)
            except TimeoutError:
                continue
            except OSError:
                break
            sent, pending = sent + done, pending[done:]
        sock.settimeout(5)
        return read_response(sock, reply), sent


def read_response(sock: socket.socket, start: bytes = b"") -> bytes:
    """One response: its head, then its body by Content-Length (the server may keep the
    connection open), or until the server closes."""
    reply = start
    while b"\r\n\r\n" not in reply and (chunk := _recv(sock)):
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
               if line.lower().startswith(b"content-length:")]
    while (not lengths or len(body) < lengths[0]) and (chunk := _recv(sock)):
        body += chunk
    return head + b"\r\n\r\n" + body if head else reply


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""
