"""The remote engine's HTTP side against a hostile server on loopback (tests/fixtures/hostile.py): the API key is
sent or refused with one message and never quoted; a failed connect leaves no thread or event loop behind; every
fault of the server is one line; no redirect is followed; what is read is bounded."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from hostile import HostileServer
from tlsproxy import ConnectProxy, Pki, TlsForwarder, make_pki

from infill_ls.engine.base import CancelToken, GenerationParams, InfillError
from infill_ls.engine.remote import Remote, RemoteEngine, Unavailable
from infill_ls.engine.transport import Redact, auth_headers

KEY = "team-secret-4f9a"
KEYS = [
    pytest.param(KEY + "\n", id="ends-in-newline"),
    pytest.param(KEY + "\r\n", id="ends-in-crlf"),
    pytest.param(KEY + "\r", id="ends-in-cr"),
    pytest.param(KEY + " ", id="ends-in-space"),
    pytest.param("team-secret\u00a04f9a", id="no-break-space-inside"),
    pytest.param(KEY + "\u00a0", id="ends-in-no-break-space"),
    pytest.param("team-secret\n4f9a", id="newline-inside"),
]


@pytest.mark.parametrize(
    ("key", "header", "problem"),
    [
        pytest.param(KEY, f"Bearer {KEY}", None, id="plain"),
        pytest.param(KEY + "\n", f"Bearer {KEY}", None, id="ends-in-newline"),
        pytest.param(KEY + "\r\n", f"Bearer {KEY}", None, id="ends-in-crlf"),
        pytest.param(KEY + "\r", f"Bearer {KEY}", None, id="ends-in-cr"),
        pytest.param(" " + KEY + " ", f"Bearer {KEY}", None, id="spaces-around"),
        pytest.param("team secret", "Bearer team secret", None, id="space-inside-is-sendable"),
        pytest.param(" \r\n", None, None, id="only-whitespace-is-none"),
        pytest.param("", None, None, id="none"),
        pytest.param("team-secret\u00a04f9a", None,
                     "INFILL_API_KEY holds a character that is not ASCII (no-break space, U+00A0, character 12 of 16)",
                     id="no-break-space-inside"),
        pytest.param(KEY + "\u00a0", None, "not ASCII (no-break space, U+00A0, character 17 of 17)",
                     id="no-break-space-at-the-end-is-not-stripped"),
        pytest.param("team-secret\n4f9a", None, "INFILL_API_KEY holds a line break inside it (character 12 of 16)",
                     id="newline-inside"),
        pytest.param("team\x00secret", None, "a control character (U+0000)", id="nul-inside"),
    ],
)
def test_auth_headers(key: str, header: str | None, problem: str | None) -> None:
    if problem is None:
        assert auth_headers(key) == ({"Authorization": header} if header else {})
        return
    with pytest.raises(InfillError) as raised:
        auth_headers(key)
    assert problem in str(raised.value)
    assert not any(part in str(raised.value) for part in ("team-secret", "4f9a", "secret\n", "team\x00"))


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        pytest.param(f"Illegal header value b'Bearer {KEY}\\r'", "Illegal header value b'Bearer [secret]'",
                     id="h11-quoted"),
        pytest.param(f"invalid key 'Bearer {KEY}'", "invalid key 'Bearer [secret]'", id="echoed"),
        pytest.param("team-secret%C2%A04f9a", "[secret]", id="percent-encoded"),
        pytest.param("nothing secret here", "nothing secret here", id="untouched"),
    ],
)
def test_redact(text: str, redacted: str) -> None:
    assert Redact(KEY + "\r", "team-secret\u00a04f9a")(text) == redacted


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """Another host a hostile server redirects to: it must never be asked anything."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile(elsewhere: HostileServer) -> Iterator[HostileServer]:
    with HostileServer(key=KEY, elsewhere=elsewhere.url) as server:
        yield server


def running() -> tuple[Counter[str], int]:
    """Live threads by name, and event loops not closed."""
    gc.collect()
    loops = sum(1 for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed())
    return Counter(t.name for t in threading.enumerate()), loops


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("how", "message"),
    [
        pytest.param({"api_key": "team-secret\u00a04f9a"}, "INFILL_API_KEY holds a character that is not ASCII",
                     id="non-ascii-key"),
        pytest.param({"api_key": "team-secret\n4f9a"}, "INFILL_API_KEY holds a line break", id="newline-in-key"),
        pytest.param({"ca_file": "/nowhere/ca.pem"}, "infill.engine.caFile: cannot read certificates from "
                     "/nowhere/ca.pem", id="ca-file-missing"),
        pytest.param({"url": "refused"}, "connection refused", id="refused"),
        pytest.param({"api_key": "wrong"}, "HTTP 401", id="wrong-key"),
        pytest.param({"mode": "reset"}, "closed the connection", id="reset"),
        pytest.param({"mode": "wrong-type-nested"}, "answered JSON this client does not understand", id="wrong-type"),
    ],
)
def test_a_failed_connect_leaves_nothing_running(hostile: HostileServer, how: dict[str, str], message: str) -> None:
    """Issue 21 (2): each failed connect is one message, and threads and event loops stay as they were however many
    times it is tried (a key with a no-break space left one thread and loop more per try)."""
    hostile.mode = how.get("mode", "ok")
    url = f"http://127.0.0.1:{closed_port()}" if how.get("url") == "refused" else hostile.url
    remote = Remote(url, api_key=how.get("api_key", KEY), ca_file=how.get("ca_file", ""), timeout_s=5)
    before = running()
    for _ in range(30):
        with pytest.raises(InfillError) as raised:
            RemoteEngine.connect(remote).close()
        assert message in str(raised.value)
        assert "secret" not in str(raised.value) and "4f9a" not in str(raised.value)
    assert running() == before


@pytest.mark.parametrize("key", KEYS)
def test_the_key_is_never_quoted(hostile: HostileServer, key: str, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 21 (1): whatever the key holds, and whatever the server echoes of it, no message nor log line has it:
    a key with whitespace around it is sent without it (and the server takes it); one that cannot be sent is one
    message about it."""
    caplog.set_level("DEBUG", logger="infill_ls")
    texts = []
    for mode in ("ok", "401-echo", "500-echo"):
        hostile.mode = mode
        try:
            RemoteEngine.connect(Remote(hostile.url, api_key=key, timeout_s=5)).close()
            texts.append("connected")
        except InfillError as exc:
            texts.append(str(exc))
    texts += [r.getMessage() for r in caplog.records]
    assert not [t for t in texts if "team-secret" in t or "4f9a" in t], texts
    if key.strip(" \t\r\n") == KEY:
        assert texts[:3] == ["connected", *texts[1:3]] and "HTTP 401" in texts[1] and "HTTP 500" in texts[2], texts
        assert any("INFILL_API_KEY has" in t and "around it: sent without it" in t for t in texts[3:]), texts
    else:
        assert all(t.startswith("INFILL_API_KEY holds") for t in texts[:3]), texts
        assert not hostile.seen


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param("truncated", "closed the connection", id="truncated"),
        pytest.param("bad-json", "answered something that is not JSON", id="bad-json"),
        pytest.param("wrong-type", "answered JSON this client does not understand", id="wrong-type"),
        pytest.param("wrong-type-nested", "answered JSON this client does not understand", id="wrong-type-nested"),
        pytest.param("null", "answered JSON this client does not understand", id="null"),
        pytest.param("huge", "answered more than 8 MiB", id="huge"),
        pytest.param("drip", "did not answer within 0.5 s", id="drip"),
        pytest.param("silent", "did not answer within 0.5 s", id="silent"),
        pytest.param("redirect-host", "redirects to http://127.0.0.1:{elsewhere} (HTTP 307); redirects are not "
                     "followed: set infill.engine.url to the server's own address", id="redirect-host"),
        pytest.param("redirect-file", "redirects to file:// (HTTP 301)", id="redirect-file"),
        pytest.param("401-echo", "refused the request (HTTP 401): set INFILL_API_KEY", id="401"),
        pytest.param("500-echo", "answered HTTP 500: crashed on Bearer [secret]", id="500-echoing-the-key"),
        pytest.param("503", "answered HTTP 503: Loading model", id="503"),
        pytest.param("reset", "closed the connection", id="reset"),
        pytest.param("close", "closed the connection", id="close"),
    ],
)
def test_a_hostile_server_at_connect(hostile: HostileServer, elsewhere: HostileServer, fault: str,
                                     message: str) -> None:
    hostile.mode = fault
    with pytest.raises(Unavailable) as raised:
        RemoteEngine.connect(Remote(hostile.url, api_key=KEY, timeout_s=0.5)).close()
    assert message.format(elsewhere=elsewhere.port) in str(raised.value)
    assert KEY not in str(raised.value) and "\n" not in str(raised.value)
    assert not elsewhere.seen


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param("truncated", "closed the connection", id="truncated"),
        pytest.param("wrong-type-nested", "answered JSON this client does not understand", id="wrong-type"),
        pytest.param("huge-line", "streamed a line longer than 1 MiB", id="huge-line"),
        pytest.param("endless-events", "streamed more than 65536 events in one answer", id="endless-events"),
        pytest.param("drip", "did not answer within 0.5 s", id="drip"),
        pytest.param("redirect-host", "redirects to http://127.0.0.1:{elsewhere}", id="redirect-host"),
        pytest.param("500-echo", "answered HTTP 500: crashed on Bearer [secret]", id="500-echoing-the-key"),
        pytest.param("reset", "closed the connection", id="reset"),
    ],
)
def test_a_hostile_server_while_generating(hostile: HostileServer, elsewhere: HostileServer, fault: str,
                                           message: str) -> None:
    engine = RemoteEngine.connect(Remote(hostile.url, api_key=KEY, timeout_s=0.5))
    try:
        prompt = engine.tokenize("x =")
        assert engine.generate(prompt, GenerationParams(max_tokens=8), CancelToken()).text == " 42"
        hostile.mode = fault
        with pytest.raises(Unavailable) as raised:
            engine.generate(prompt, GenerationParams(max_tokens=8), CancelToken())
    finally:
        engine.close()
    assert message.format(elsewhere=elsewhere.port) in str(raised.value)
    assert KEY not in str(raised.value)
    assert not elsewhere.seen


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    made = make_pki(tmp_path_factory.mktemp("pki"))
    if made is None:
        pytest.skip("no openssl command to make a test CA with")
    return made


@pytest.fixture
def tls(pki: Pki) -> Iterator[tuple[TlsForwarder, ConnectProxy]]:
    """The fake server behind TLS signed by a private CA, and a proxy (tests/remote/test_remote_trust.py does the
    same with the real llama-server, over LSP)."""
    with HostileServer() as server:
        forwarder, proxy = TlsForwarder(pki, server.port), ConnectProxy()
        yield forwarder, proxy
        forwarder.stop()
        proxy.stop()


@pytest.mark.parametrize(
    ("env", "ca", "outcome", "through_proxy"),
    [
        pytest.param({}, "ca", "connected", False, id="ca-file"),
        pytest.param({"SSL_CERT_FILE": "ca"}, "", "connected", False, id="ssl-cert-file"),
        pytest.param({}, "", "the certificate of 127.0.0.1:{port} is not trusted (unable to get local issuer "
                     "certificate): set infill.engine.caFile to your CA's PEM file (or SSL_CERT_FILE)", False,
                     id="untrusted"),
        pytest.param({}, "/etc/hostname", "infill.engine.caFile: cannot read certificates from /etc/hostname: no "
                     "certificate or crl found (a PEM file of your CA's certificate)", False, id="ca-file-not-pem"),
        pytest.param({"HTTPS_PROXY": "proxy"}, "ca", "connected", True, id="https-proxy"),
        pytest.param({"HTTPS_PROXY": "proxy", "NO_PROXY": "gpu.example,127.0.0.1"}, "ca", "connected", False,
                     id="no-proxy"),
        pytest.param({"HTTPS_PROXY": "http://127.0.0.1:9"}, "ca", "cannot reach the proxy at 127.0.0.1:9 for "
                     "127.0.0.1:{port} (connection refused): check HTTPS_PROXY/NO_PROXY", False, id="proxy-down"),
    ],
)
def test_tls_and_proxies(tls: tuple[TlsForwarder, ConnectProxy], pki: Pki, monkeypatch: pytest.MonkeyPatch,
                         env: dict[str, str], ca: str, outcome: str, through_proxy: bool) -> None:
    """Issue 21 (10): a private CA named by infill.engine.caFile or SSL_CERT_FILE; HTTPS_PROXY and NO_PROXY; each
    failure one line naming the host and what to set."""
    forwarder, proxy = tls
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, {"ca": str(pki.ca), "proxy": proxy.url}.get(value, value))
    remote = Remote(forwarder.url, ca_file=str(pki.ca) if ca == "ca" else ca, timeout_s=5)
    try:
        RemoteEngine.connect(remote).close()
        said = "connected"
    except InfillError as exc:
        said = str(exc)
    assert said == outcome.format(port=forwarder.port)
    assert bool(proxy.connects) == through_proxy
    assert set(proxy.connects) <= {f"127.0.0.1:{forwarder.port}"}
