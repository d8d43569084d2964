"""Issue 21 (10): the real llama-server as a team reaches it, over LSP, on loopback only: behind a TLS endpoint whose
certificate a private CA signed (tests/fixtures/tlsproxy.py makes both with `openssl` at test time), and through
an HTTP proxy. With the CA named (infill.engine.caFile, or SSL_CERT_FILE) completions come through TLS; without it
the user gets one message naming the host and what to set; HTTPS_PROXY is used and NO_PROXY bypasses it; a proxy
that cannot be reached is one message naming it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llamaserver import LlamaServer
from tlsproxy import ConnectProxy, Pki, TlsForwarder, make_pki

from ..e2e.conftest import open_doc, wait_status
from .test_remote_lsp import DOC, ask, ready, session, shown

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ssl_cert_file", "ssl_cert_dir")


def environment(**chosen: str) -> dict[str, str]:
    """The server's proxy and certificate variables: those `chosen` (upper-case names; the lower-case ones, which
    win where both are set, alike), the others empty."""
    env = {name: "" for lower in PROXY_VARIABLES for name in (lower, lower.upper())}
    return {**env, **chosen, **{name.lower(): value for name, value in chosen.items()}}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    made = make_pki(tmp_path_factory.mktemp("pki"))
    if made is None:
        pytest.skip("no openssl command to make a test CA with")
    return made


@pytest.fixture
def tls(llama_server: LlamaServer, pki: Pki) -> Iterator[TlsForwarder]:
    forwarder = TlsForwarder(pki, llama_server.port)
    yield forwarder
    forwarder.stop()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("trust", [pytest.param("caFile", id="infill.engine.caFile"),
                                   pytest.param("SSL_CERT_FILE", id="SSL_CERT_FILE")])
async def test_completes_through_tls_with_the_private_ca(tls: TlsForwarder, pki: Pki, trust: str) -> None:
    engine: dict[str, Any] = {"url": tls.url, **({"caFile": str(pki.ca)} if trust == "caFile" else {})}
    env = environment(**({"SSL_CERT_FILE": str(pki.ca)} if trust == "SSL_CERT_FILE" else {}))
    async with session(engine, env=env) as client:
        status = await ready(client)
        answer = await ask(client, open_doc(client, DOC))
        messages = shown(client)
    assert status["engine"]["host"] == f"127.0.0.1:{tls.port}"
    assert (answer, messages) == (" 42", [])


@pytest.mark.parametrize(
    ("ca_file", "message"),
    [
        pytest.param(None, "the certificate of 127.0.0.1:{port} is not trusted (unable to get local issuer "
                     "certificate): set infill.engine.caFile to your CA's PEM file (or SSL_CERT_FILE)",
                     id="no-ca-file"),
        pytest.param("not-a-pem", "infill.engine.caFile: cannot read certificates from {ca_file}", id="not-a-pem"),
        pytest.param("missing", "infill.engine.caFile: cannot read certificates from {ca_file}: No such file",
                     id="missing"),
    ],
)
async def test_an_untrusted_certificate_is_one_message(tls: TlsForwarder, tmp_path: Path, ca_file: str | None,
                                                       message: str) -> None:
    engine: dict[str, Any] = {"url": tls.url}
    if ca_file is not None:
        engine["caFile"] = str(tmp_path / ca_file)
        if ca_file == "not-a-pem":
            (tmp_path / ca_file).write_text("not a certificate\n")
    async with session(engine, env=environment()) as client:
        status = await wait_status(client, lambda s: s["state"] == "error")
        assert await ask(client, open_doc(client, DOC)) == ""
        messages = shown(client)
    expected = message.format(port=tls.port, ca_file=engine.get("caFile"))
    assert expected in status["message"], status
    assert len(messages) == 1 and expected in messages[0], messages


async def test_completes_through_the_https_proxy(tls: TlsForwarder, pki: Pki, proxy: ConnectProxy) -> None:
    """HTTPS_PROXY is honoured: the proxy is asked to connect to the server, and the answer comes through it."""
    async with session({"url": tls.url, "caFile": str(pki.ca)}, env=environment(HTTPS_PROXY=proxy.url)) as client:
        await ready(client)
        answer = await ask(client, open_doc(client, DOC))
        messages = shown(client)
    assert (answer, messages) == (" 42", [])
    assert proxy.connects and set(proxy.connects) == {f"127.0.0.1:{tls.port}"}, proxy.connects


async def test_no_proxy_bypasses_the_proxy(tls: TlsForwarder, pki: Pki, proxy: ConnectProxy) -> None:
    env = environment(HTTPS_PROXY=proxy.url, NO_PROXY="gpu-box.example,127.0.0.1")
    async with session({"url": tls.url, "caFile": str(pki.ca)}, env=env) as client:
        await ready(client)
        answer = await ask(client, open_doc(client, DOC))
    assert answer == " 42"
    assert proxy.connects == []


async def test_a_proxy_that_cannot_be_reached_is_one_message(tls: TlsForwarder, pki: Pki) -> None:
    port = closed_port()
    env = environment(HTTPS_PROXY=f"http://127.0.0.1:{port}")
    async with session({"url": tls.url, "caFile": str(pki.ca)}, env=env) as client:
        status = await wait_status(client, lambda s: s["state"] == "error")
        messages = shown(client)
    expected = (f"cannot reach the proxy at 127.0.0.1:{port} for 127.0.0.1:{tls.port} (connection refused): check "
                "HTTPS_PROXY/NO_PROXY")
    assert expected in status["message"], status
    assert len(messages) == 1 and expected in messages[0], messages
