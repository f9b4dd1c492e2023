"""An offline stand-in for the image search engines and the web hosts behind them.

It serves every engine's real response format (see formats.py) over real HTTP on
127.0.0.1, generated images for every query, and each fault a crawler meets in
the wild. Special queries: `nothing...` has no results, `changed format` answers
in a format no parser knows, `faults` lists one URL per fault below, `noai` only
those that carry an X-Robots-Tag header, `busy` lists
images on a host that answers its first request with 429 and Retry-After: 1, and
`lawless...` is answered as if no licence filter had been asked for.
Images can be spread over several image hosts (listeners on their own ports),
and an engine can be blocked (403 and a captcha page) or garbled (200 and a page
no parser knows) whatever the query.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import threading
import time
import zlib
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from PIL import Image, ImageDraw

from collector.candidate import ImageHit

from .formats import RESPONDERS, Response

HANG_SECONDS = 30
SHARED_IMAGE = "common"
LICENSES = ("CC BY 4.0", "CC BY-SA 4.0", "CC0 1.0", "CC BY-NC 4.0", None, "CC BY-ND 2.0")
"""The licences the catalogue's images take in turn; None is an image whose licence nobody states."""


def draw_image(key: str, size: tuple[int, int], quality: int = 90, noise: bool = False) -> bytes:
    """A distinct JPEG for every key: random shapes on a random background (noise makes it bigger)."""
    rng = random.Random(hashlib.sha256(key.encode()).digest())
    width, height = size
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        box = (x0, y0, x0 + rng.randrange(1, width + 2), y0 + rng.randrange(1, height + 2))
        fill = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    if noise:
        grain = Image.frombytes("L", size, rng.randbytes(width * height)).convert("RGB")
        image = Image.blend(image, grain, 0.25)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims to be enormous: a decompression bomb as far as any decoder can tell."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


FAULTS = {
    "/fault/404": "failed:http-404",
    "/fault/flaky/1": "saved",
    "/fault/ratelimit/1": "saved",
    "/fault/drip.jpg": "failed:timeout",
    "/fault/hang.jpg": "failed:timeout",
    "/fault/truncated.jpg": "failed:truncated",
    "/fault/html.jpg": "failed:not-image",
    "/fault/huge.jpg": "failed:too-large",
    "/fault/huge-chunked.jpg": "failed:too-large",
    "/fault/redirect/3": "saved",
    "/fault/redirect/8": "failed:too-many-redirects",
    "/fault/loop": "failed:too-many-redirects",
    "/fault/private": "failed:private-address",
    "/fault/tiny.jpg": "failed:too-small",
    "/fault/bomb.png": "failed:too-many-pixels",
    "/fault/png-named.jpg": "saved",
    "/fault/noai.jpg": "failed:noai",
    "/fault/noimageai.jpg": "failed:noai",
    "/fault/otherbot-noai.jpg": "saved",
}
"""Each fault URL the `faults` query returns, and the manifest status the crawler must give it."""
ROBOTS_TAGS = {"noai.jpg": "noai", "noimageai.jpg": "noindex, noimageai", "otherbot-noai.jpg": "otherbot: noai"}
BLOCK_PAGE = b"<!DOCTYPE html><html><body><h1>Verify you are human</h1><div class='captcha'></div></body></html>"
BUSY_RETRY_AFTER = "1"


class FakeEngine:
    """The catalogue behind every engine, and the image host its results point to."""

    def __init__(self, images_per_query: int = 24, image_size: tuple[int, int] = (160, 120),
                 latency: float = 0.0, noise: bool = False, max_bytes_served: int = 64 * 2**20,
                 blocked: tuple[str, ...] = (), garbled: tuple[str, ...] = ()) -> None:
        self.images_per_query = images_per_query
        self.image_size = image_size
        self.latency = latency
        self.noise = noise
        self.max_bytes_served = max_bytes_served
        self.blocked = blocked
        self.garbled = garbled
        self.base_url = ""
        self.image_bases: list[str] = []
        """Where image i of a query lives: image_bases[i % len], or base_url when there are none."""
        self.request_times: defaultdict[str, list[float]] = defaultdict(list)
        self.request_params: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.hosts: dict[str, str] = {}
        self.user_agents: dict[str, str] = {}
        self.connections = 0
        self.busy_refused: str | None = None
        """The busy image whose first request got the 429."""
        self._images: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def hits(self, query: str) -> list[ImageHit]:
        if query.startswith("nothing"):
            return []
        if query == "faults":
            return [ImageHit(url=self.base_url + path, title=f"fault {path}") for path in FAULTS]
        if query == "noai":
            return [ImageHit(url=f"{self.base_url}/fault/{name}") for name in ROBOTS_TAGS]
        if query == "busy":
            return [ImageHit(url=f"{self.image_base(i)}/busy/{i}.jpg") for i in range(self.images_per_query)]
        slug = quote(query, safe="")
        images = [
            ImageHit(
                url=f"{self.image_base(i)}/img/{slug}/{i}.jpg",
                thumbnail_url=f"{self.base_url}/img/{slug}/{i}.jpg?thumb=1",
                source_page=f"{self.base_url}/page/{slug}/{i}",
                title=f"{query} picture {i}",
                license=LICENSES[i % len(LICENSES)],
                author=f"Photographer {i}",
                width=self.image_size[0],
                height=self.image_size[1],
            )
            for i in range(self.images_per_query)
        ]
        aliases = [ImageHit(url=f"{self.base_url}/alias/{slug}/0/{k}") for k in (1, 2)]
        shared = [ImageHit(url=f"{self.base_url}/img/{SHARED_IMAGE}/0.jpg")]
        return images + aliases + shared

    def image_base(self, i: int) -> str:
        return self.image_bases[i % len(self.image_bases)] if self.image_bases else self.base_url

    def changed_format(self, query: str) -> bool:
        return query == "changed format"

    def ignores_license_filter(self, query: str) -> bool:
        return query.startswith("lawless")

    def requests(self, path: str) -> int:
        return len(self.request_times.get(path, ()))

    def prepare(self, query: str) -> None:
        """Generate a query's images now rather than on first request."""
        for i in range(self.images_per_query):
            self.image(f"{quote(query, safe='')}/{i}")

    def image(self, key: str) -> bytes:
        with self._lock:
            if key not in self._images:
                self._images[key] = draw_image(key, self.image_size, noise=self.noise)
            return self._images[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake.connections += 1

    def do_GET(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        path, params = unquote(url.path), dict(parse_qsl(url.query))
        with fake._lock:
            fake.request_times[path].append(time.monotonic())
            fake.request_params[path].append(params)
            fake.hosts[path] = self.headers.get("Host", "")
            fake.user_agents[path] = self.headers.get("User-Agent", "")
            count = len(fake.request_times[path])
        engine, _, rest = path.lstrip("/").partition("/")
        try:
            if engine in fake.blocked:
                self.send(Response(403, "text/html", BLOCK_PAGE))
            elif engine in fake.garbled:
                self.send(Response(200, "text/html", BLOCK_PAGE))
            elif engine in RESPONDERS:
                self.send(RESPONDERS[engine]("/" + rest, params, fake))
            elif engine == "img":
                time.sleep(fake.latency)
                self.send_image(fake.image(rest.rsplit(".", 1)[0]))
            elif engine == "alias":
                time.sleep(fake.latency)
                self.send_image(fake.image(rest.rsplit("/", 1)[0]))
            elif engine == "fault":
                self.fault(rest, count)
            elif engine == "busy":
                self.busy(rest)
            else:
                self.send(Response(404, "text/plain", b"not found"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send(self, response: Response, headers: dict[str, str] | None = None) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def send_image(self, data: bytes, content_type: str = "image/jpeg") -> None:
        self.send(Response(200, content_type, data))

    def redirect(self, location: str) -> None:
        self.send(Response(302, "text/html", b"moved"), {"Location": location})

    def fault(self, name: str, count: int) -> None:
        fake = self.server.fake
        image = fake.image(f"fault/{name}")
        if name == "404":
            self.send(Response(404, "text/html", b"<h1>Not Found</h1>"))
        elif name.startswith("flaky/"):
            if count == 1:
                self.send(Response(500, "text/html", b"<h1>Internal Server Error</h1>"))
            else:
                self.send_image(image)
        elif name.startswith("ratelimit/"):
            if count == 1:
                self.send(Response(429, "text/plain", b"slow down"), {"Retry-After": "1"})
            else:
                self.send_image(image)
        elif name == "drip.jpg":
            self.drip(image)
        elif name == "hang.jpg":
            time.sleep(HANG_SECONDS)
            self.close_connection = True
        elif name == "truncated.jpg":
            self.send_image(image[: len(image) // 2])
        elif name == "html.jpg":
            self.send_image(b"<!DOCTYPE html><html><body>Access denied</body></html>")
        elif name == "huge.jpg":
            self.stream(image, declared=True)
        elif name == "huge-chunked.jpg":
            self.stream(image, declared=False)
        elif name.startswith("redirect/"):
            hops = int(name.split("/")[1])
            self.redirect(f"/fault/redirect/{hops - 1}" if hops else f"/img/redirected/{count}.jpg")
        elif name == "loop":
            self.redirect("/fault/loop")
        elif name == "private":
            port = self.server.server_address[1]
            self.redirect(f"http://127.0.0.2:{port}/img/private/0.jpg")
        elif name == "tiny.jpg":
            self.send_image(draw_image("tiny", (8, 8)))
        elif name == "bomb.png":
            self.send_image(png_header_only(40_000, 40_000), "image/png")
        elif name in ROBOTS_TAGS:
            self.send(Response(200, "image/jpeg", image), {"X-Robots-Tag": ROBOTS_TAGS[name]})
        elif name == "png-named.jpg":
            out = io.BytesIO()
            Image.open(io.BytesIO(image)).save(out, "PNG")
            self.send_image(out.getvalue())
        else:
            self.send(Response(404, "text/plain", b"no such fault"))

    def busy(self, name: str) -> None:
        """The first request to any busy image is told to come back later; the rest are served."""
        fake = self.server.fake
        with fake._lock:
            first = fake.busy_refused is None
            if first:
                fake.busy_refused = f"/busy/{name}"
        if first:
            self.send(Response(429, "text/plain", b"slow down"), {"Retry-After": BUSY_RETRY_AFTER})
        else:
            self.send_image(fake.image(f"busy/{name}"))

    def drip(self, image: bytes) -> None:
        """A valid image sent one byte at a time, slower than any sane timeout."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(image)))
        self.end_headers()
        deadline = time.monotonic() + HANG_SECONDS
        for byte in image:
            if time.monotonic() > deadline:
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.05)
        self.close_connection = True

    def stream(self, head: bytes, *, declared: bool) -> None:
        """An image followed by junk, past any byte cap, with or without a Content-Length."""
        size = self.server.fake.max_bytes_served
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        if declared:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(head)
        block = b"\0" * 65536
        for _ in range((size - len(head)) // len(block)):
            self.wfile.write(block)
        self.close_connection = True


class Listener(ThreadingHTTPServer):
    """One socket serving the catalogue: the engines' server, or one of the image hosts beside it."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, fake: FakeEngine, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hang up on the faults on purpose; that is not worth a traceback."""

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class FakeServer(Listener):
    """The engines on `port`, and `image_hosts` more listeners (each its own host:port) serving the images."""

    def __init__(self, fake: FakeEngine, port: int = 0, host: str = "127.0.0.1", image_hosts: int = 0) -> None:
        super().__init__(fake, port, host)
        fake.base_url = f"http://{host}:{self.server_address[1]}"
        self.image_hosts = [Listener(fake, 0, host) for _ in range(image_hosts)]
        fake.image_bases = [f"http://{host}:{listener.server_address[1]}" for listener in self.image_hosts]

    @property
    def url(self) -> str:
        return self.fake.base_url

    def endpoints(self) -> dict[str, str]:
        """`--endpoint` values that point every engine at this server."""
        return {engine: f"{self.url}/{engine}" for engine in RESPONDERS}

    def start(self) -> FakeServer:
        for listener in [self, *self.image_hosts]:
            Listener.start(listener)
        return self

    def stop(self) -> None:
        for listener in [self, *self.image_hosts]:
            Listener.stop(listener)
