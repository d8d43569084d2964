"""How the remote engine reaches its server, and what it says when it cannot.

- The API key (INFILL_API_KEY) becomes the `Authorization` header, or one message that says what is wrong with
  it; it is never quoted anywhere: `Redact` takes it (and a password in the URL) out of every text that comes
  from the server or from a library before that text reaches a message, the status or the log.
- TLS trust: httpx's own (certifi, or `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus `infill.engine.caFile`.
- Proxies: `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY`, read by httpx (`trust_env`).
- A failed connection becomes one line naming the host and what to set (`connect_problem`).
- What is read from a server is bounded: a body, a line of a stream, a whole stream (`capped`, `lines`).
"""

from __future__ import annotations

import ssl
import unicodedata
import urllib.request
from collections.abc import AsyncGenerator
from typing import TypeVar
from urllib.parse import quote, urlsplit

import httpx

from .base import InfillError

E = TypeVar("E", bound=BaseException)
KEY_VARIABLE = "INFILL_API_KEY"
BODY_LIMIT = 8 * 2**20
"""The most bytes read of one answer that is not streamed (llama-server's largest, /props or the ids of a long
window, are a few hundred KB)."""
STREAM_LIMIT = 64 * 2**20
"""The most bytes read of one streamed answer (4096 tokens with their figures and ids are about 6 MB)."""
LINE_LIMIT = 2**20
"""The longest line of a stream."""
EVENT_LIMIT = 65_536
"""The most events of one streamed answer (one a token: 4096 tokens are 4096 events; a server streaming empty
events, which say nothing and end nothing, is cut off here)."""
ERROR_LIMIT = 64 * 2**10
"""What is read of an error answer (its message is cut to 200 characters anyway)."""
WHITESPACE = " \t\r\n\f\v"


class BadAnswer(Exception):
    """The server answered something this client does not read: more than a limit allows."""


def auth_headers(key: str) -> dict[str, str]:
    """The `Authorization` header that sends `key`, or none for an empty key.

    Whitespace around the key is left out: HTTP cannot carry it (RFC 9110 §5.5: whitespace around a field value is
    not part of it, and h11 refuses to send it), so a key with it could never match, and a key file saved with a
    line break (`\\n`, or `\\r\\n` from Windows) is the common case (huggingface_hub strips its token the same
    way). A key that still cannot be sent (a character that is not ASCII, such as a no-break space; a control
    character inside it) raises InfillError saying what is wrong, never what the key is."""
    sent = key.strip(WHITESPACE)
    for n, char in enumerate(sent, 1):
        if ord(char) > 0x7E:
            name = unicodedata.name(char, "").lower() or "a character"
            raise InfillError(f"{KEY_VARIABLE} holds a character that is not ASCII ({name}, U+{ord(char):04X}, "
                              f"character {n} of {len(sent)}): an API key is ASCII; fix the variable in the "
                              "language server's environment")
        if ord(char) < 0x20 and char != "\t":
            what = "a line break" if char in "\r\n" else f"a control character (U+{ord(char):04X})"
            raise InfillError(f"{KEY_VARIABLE} holds {what} inside it (character {n} of {len(sent)}): fix the "
                              "variable in the language server's environment")
    return {"Authorization": f"Bearer {sent}"} if sent else {}


def key_note(key: str) -> str | None:
    """What was left out of the key when it was sent (for the log), or None."""
    if key == key.strip(WHITESPACE):
        return None
    around = key[: len(key) - len(key.lstrip(WHITESPACE))] + key[len(key.rstrip(WHITESPACE)):]
    what = "a line break" if any(c in "\r\n" for c in around) else "whitespace"
    return f"{KEY_VARIABLE} has {what} around it: sent without it"


class Redact:
    """Takes secrets out of a text: each as written, escaped as Python quotes it (`b'Bearer k\\r'`, as httpx and h11
    do in their errors) and percent-encoded (in a URL)."""

    def __init__(self, *secrets: str) -> None:
        forms: set[str] = set()
        for secret in secrets:
            for form in (secret, secret.strip(WHITESPACE)):
                if form:
                    forms |= {form, repr(form)[1:-1], repr(form.encode("utf-8"))[2:-1], quote(form, safe="")}
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "[secret]")
        return text


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """The certificates a server's is checked against: httpx's (certifi, or `SSL_CERT_FILE` / `SSL_CERT_DIR`
    where set), and `ca_file`'s (infill.engine.caFile) too. Raises InfillError when one cannot be read."""
    try:
        context = httpx.create_ssl_context(trust_env=True)
    except (OSError, ssl.SSLError) as exc:
        raise InfillError(f"cannot read the certificates of SSL_CERT_FILE / SSL_CERT_DIR: {_reason(exc)}") from None
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise InfillError(f"infill.engine.caFile: cannot read certificates from {ca_file}: {_reason(exc)} "
                              "(a PEM file of your CA's certificate)") from None
    return context


def proxy_of(client: httpx.AsyncClient, url: str) -> str | None:
    """The proxy (host:port) that `client` sends requests to `url` through, from the environment, or None."""
    transport_for = getattr(client, "_transport_for_url", None)  # httpx's choice of HTTPS_PROXY / NO_PROXY
    target = httpx.URL(url)
    if transport_for is not None and transport_for(target) is getattr(client, "_transport", None):
        return None
    proxies = urllib.request.getproxies()
    named = proxies.get(target.scheme) or proxies.get("all")
    if not named:
        return None
    parts = urlsplit(named if "://" in named else f"http://{named}")
    return parts.netloc.rsplit("@", 1)[-1] or named


def connect_problem(host: str, where: str, exc: BaseException, proxy: str | None) -> str:
    """One line for a connection that failed: a certificate not trusted, TLS refused, a proxy unreachable, or
    the server unreachable; each says what to set."""
    verify = _cause(exc, ssl.SSLCertVerificationError)
    if verify is not None:
        why = verify.verify_message or "not trusted"
        if verify.verify_code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            return (f"the certificate of {host} is not for that name ({why}): set infill.engine.url to a name the "
                    "certificate holds")
        return (f"the certificate of {host} is not trusted ({why}): set infill.engine.caFile to your CA's PEM file "
                "(or SSL_CERT_FILE)")
    tls = _cause(exc, ssl.SSLError)
    if tls is not None:
        return f"TLS with {host} failed ({tls.reason or 'handshake failed'}): is the server at that port https?"
    if isinstance(exc, httpx.ProxyError):
        return f"the proxy at {proxy or 'HTTPS_PROXY'} did not connect to {host} ({exc}): check HTTPS_PROXY/NO_PROXY"
    if proxy is not None:
        return f"cannot reach the proxy at {proxy} for {host} ({connect_reason(exc)}): check HTTPS_PROXY/NO_PROXY"
    return f"cannot reach {where}: {connect_reason(exc)}"


def connect_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words: the OS error at the root of httpx's exception, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc) or exc.__class__.__name__


def redirect_problem(where: str, response: httpx.Response) -> str:
    """One line for a redirect: none is followed (a key must not go to another host, nor a request to a file)."""
    target = urlsplit(response.headers.get("location", ""))
    to = f"{target.scheme}://{target.netloc.rsplit('@', 1)[-1]}"[:100] if target.scheme else "another address"
    return (f"{where} redirects to {to} (HTTP {response.status_code}); redirects are not followed: set "
            "infill.engine.url to the server's own address")


async def capped(response: httpx.Response, limit: int, cut: bool = False) -> bytearray:
    """The body of a streamed `response`, at most `limit` bytes: more raises BadAnswer (or, with `cut`, is left
    unread). A body that says it is longer is not read at all."""
    declared = response.headers.get("content-length", "")
    if not cut and declared.isdigit() and int(declared) > limit:
        raise BadAnswer(f"answered more than {limit // 2**20} MiB")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        if len(body) + len(chunk) > limit:
            if cut:
                return body + chunk[: limit - len(body)]
            raise BadAnswer(f"answered more than {limit // 2**20} MiB")
        body += chunk
    return body


async def lines(response: httpx.Response) -> AsyncGenerator[str, None]:
    """The lines of a streamed answer, each at most LINE_LIMIT bytes, all together at most STREAM_LIMIT."""
    pending, total = b"", 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > STREAM_LIMIT:
            raise BadAnswer(f"streamed more than {STREAM_LIMIT // 2**20} MiB in one answer")
        *whole, pending = (pending + chunk).split(b"\n")
        if len(pending) > LINE_LIMIT:
            raise BadAnswer(f"streamed a line longer than {LINE_LIMIT // 2**20} MiB")
        for line in whole:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", errors="replace")


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or exc.__class__.__name__
