"""The widget's files: compressed once (brotli, gzip), revalidated by ETag, cached for a year under ``?v=<version>``.

Embedders paste one ``<script>`` tag on every page, so the script's transfer size and caching are paid on every
visit. ``/widget/faqbot.js?v=1.3.0`` (the version the file itself declares) is immutable for a year; any other URL
is ``no-cache`` and revalidated with its ETag, so a new release is picked up at once by pages without ``?v=``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

try:  # brotli is in the server extra; without it, gzip only
    import brotli
except ImportError:  # pragma: no cover - depends on the install
    brotli = None

WIDGET_SCRIPT = "faqbot.js"
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TEXT_TYPES = {".js": "text/javascript; charset=utf-8", ".html": "text/html; charset=utf-8",
              ".css": "text/css; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
              ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
VERSION_RE = re.compile(rb'var VERSION = "([^"]+)"')


@dataclass(frozen=True)
class _Variants:
    """One file's bytes in each encoding, with the digest its ETags are built from."""

    bodies: dict[str, bytes]
    digest: str
    media_type: str
    mtime: float


class WidgetFiles(StaticFiles):
    """``StaticFiles`` (path checks, 404s) with compressed bodies and versioned caching for text files."""

    def __init__(self, directory: PathLike) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.directory_path = os.fspath(directory)
        self._cache: dict[str, tuple[tuple[int, int], _Variants]] = {}

    def file_response(self, full_path: PathLike, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        path = os.fspath(full_path)
        media_type = TEXT_TYPES.get(os.path.splitext(path)[1].lower())
        cache = LONG_CACHE if self._versioned(scope) else REVALIDATE
        if media_type is None:
            response = super().file_response(full_path, stat_result, scope, status_code)
            response.headers["Cache-Control"] = cache
            return response
        variants = self._variants(path, stat_result, media_type)
        request = Headers(scope=scope)
        encoding = _choose(request.get("accept-encoding", ""), variants.bodies)
        headers = {"ETag": f'"{variants.digest}-{encoding}"', "Cache-Control": cache, "Vary": "Accept-Encoding",
                   "Last-Modified": formatdate(variants.mtime, usegmt=True)}
        if encoding != "identity":
            headers["Content-Encoding"] = encoding
        if headers["ETag"] in [t.strip() for t in request.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(variants.bodies[encoding], status_code=status_code, headers=headers, media_type=media_type)

    def _variants(self, path: str, stat_result: os.stat_result, media_type: str) -> _Variants:
        key = (stat_result.st_mtime_ns, stat_result.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        with open(path, "rb") as f:
            raw = f.read()
        bodies = {"identity": raw, "gzip": gzip.compress(raw, compresslevel=9, mtime=0)}
        if brotli is not None:
            bodies["br"] = brotli.compress(raw, quality=11)
        variants = _Variants(bodies, hashlib.sha256(raw).hexdigest()[:16], media_type, stat_result.st_mtime)
        self._cache[path] = (key, variants)
        return variants

    def _versioned(self, scope: Scope) -> bool:
        """Whether the URL carries ``?v=`` equal to the version ``faqbot.js`` declares."""
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
        if not asked:
            return False
        try:
            with open(os.path.join(self.directory_path, WIDGET_SCRIPT), "rb") as f:
                found = VERSION_RE.search(f.read(4096))
        except OSError:
            return False
        return found is not None and asked[0] == found.group(1).decode("ascii", "replace")


def _choose(accept: str, bodies: dict[str, bytes]) -> str:
    """The smallest encoding the client accepts (``q=0`` refuses one)."""
    accepted = set()
    for part in accept.split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip()
        if q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        accepted.add(name.strip().lower())
    usable = [e for e in ("br", "gzip") if e in bodies and (e in accepted or "*" in accepted)]
    return min(usable, key=lambda e: len(bodies[e])) if usable else "identity"
