"""Origin checks for the websocket and security headers for pages: browser-facing policy in one place."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# The demo page loads the widget from this server and talks to it over ws/wss; nothing inline runs.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'self'; form-action 'self'")
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff"}
# Widget files are embedded by other sites: let them load the script and its assets cross-origin.
# (Cache-Control is set per URL by static.WidgetFiles.)
WIDGET_HEADERS = {"Cross-Origin-Resource-Policy": "cross-origin", "Access-Control-Allow-Origin": "*"}


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, default ports dropped: the form origins are compared in."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return origin.strip().lower()
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme.lower())
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme.lower()}://{host}{suffix}"


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """Whether a websocket from a page at ``origin`` may talk to this server (reached as ``host``).

    No Origin header means a non-browser client: allowed (browsers always send one). The server's own
    host is always allowed. With no allowlist configured, pages on localhost (any port) are allowed too.
    """
    if origin is None:
        return True
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "null" in allowed and origin.strip() == "null"
    if host and normalize_origin(f"{parts.scheme}://{host.strip()}") == normalize_origin(origin):
        return True
    if not allowed:
        return parts.hostname.lower() in LOCAL_HOSTS
    if "*" in allowed:
        return True
    return normalize_origin(origin) in {normalize_origin(a) for a in allowed}
