"""GitHubClient against servers on 127.0.0.1 that misbehave: one that dribbles its answer a byte at a time
(each byte inside the socket's read timeout, so only a deadline on the whole answer ends it), and one whose
answer is larger than any the API gives. Both must end in a GitHubError, promptly, without the token."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from kalibra_action.github.client import GitHubClient, GitHubError
from tests.contract.conftest import TOKEN


class RawServer:
    """Accepts connections and answers each with `handler(conn)`, one thread per connection."""

    def __init__(self, handler) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.handler = handler
        self.stop = threading.Event()
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)  # the request (small: a GET)
                self.handler(conn, self.stop)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def dribble(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 whose 60-byte body comes one byte every 0.5 s: 30 s in all, never 2 s without a byte."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n")
    for byte in b"[" + b" " * 58 + b"]":
        if stop.wait(0.5):
            return
        conn.sendall(bytes([byte]))


def flood(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 with a chunked JSON array of 8 MiB (no Content-Length to refuse it by)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b'"' + b"x" * 65_000 + b'",'
    conn.sendall(b"%x\r\n[\r\n" % 1)
    for _ in range(128):
        if stop.is_set():
            return
        conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.sendall(b"2\r\n0]\r\n0\r\n\r\n")


@pytest.fixture
def server(request):
    srv = RawServer(request.param)
    yield srv
    srv.close()


@pytest.mark.parametrize("server", [dribble], indirect=True)
def test_a_dribbling_server_is_cut_off_at_the_deadline(server):
    client = GitHubClient(TOKEN, server.url, timeout=(2.0, 2.0), max_wait=0, sleep=lambda _s: None)
    client.deadline = 1.5
    start = time.monotonic()
    with pytest.raises(GitHubError) as info:
        client.json("GET", "/repos/octo/demo/issues/1/comments")
    assert time.monotonic() - start < 8  # not the 30 s the answer takes
    assert info.value.status is None and "1.5 s" in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("server", [dribble], indirect=True)
def test_time_lost_to_a_dribbling_server_counts_against_the_wait_budget(server):
    """Retries of an attempt that ran into the deadline stop once the budget is spent: 6 attempts would
    otherwise take 6 deadlines plus the waits."""
    sleeps: list[float] = []
    client = GitHubClient(TOKEN, server.url, timeout=(2.0, 2.0), max_wait=2.5, sleep=sleeps.append)
    client.deadline = 1.0
    start = time.monotonic()
    with pytest.raises(GitHubError):
        client.json("GET", "/repos/octo/demo")
    assert time.monotonic() - start < 6
    assert len(sleeps) <= 1


@pytest.mark.parametrize("server", [flood], indirect=True)
def test_an_oversized_answer_is_refused(server):
    client = GitHubClient(TOKEN, server.url, timeout=(5.0, 5.0), max_wait=0, sleep=lambda _s: None)
    client.max_bytes = 1 << 20
    with pytest.raises(GitHubError) as info:
        list(client.paginate("/repos/octo/demo/issues/1/comments"))
    assert "larger than 1,048,576 bytes" in str(info.value)


def cut_off(conn: socket.socket, stop: threading.Event) -> None:
    """A chunked answer that announces a chunk and closes the connection in the middle of it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"100\r\n[1,2")


def bad_gzip(conn: socket.socket, stop: threading.Event) -> None:
    # Connection: close: the retry opens a new connection (and is counted), no race with this one's close
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                 b"Connection: close\r\nContent-Length: 10\r\n\r\nnot gzip!!")


@pytest.mark.parametrize("server", [cut_off, bad_gzip], indirect=True)
def test_an_answer_broken_off_is_a_github_error(server):
    """requests raised ChunkedEncodingError / ContentDecodingError, which are neither ConnectionError nor
    Timeout: they escaped the client as bare exceptions (an internal error in the action)."""
    client = GitHubClient(TOKEN, server.url, timeout=(2.0, 2.0), max_wait=1, sleep=lambda _s: None)
    with pytest.raises(GitHubError) as info:
        client.json("GET", "/repos/octo/demo/issues/1/comments")
    assert info.value.status is None and TOKEN not in str(info.value)
    assert server.accepted == 2  # retried once within the 1 s budget
