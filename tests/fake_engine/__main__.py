"""Run the fake search engine in the foreground: `python -m tests.fake_engine --port 8000`."""

import argparse

from .server import FakeEngine, FakeServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_engine", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    parser.add_argument("--images-per-query", type=int, default=24, help="results per query (default 24)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each image response")
    parser.add_argument("--image-size", default="160x120", help="WIDTHxHEIGHT of generated images")
    parser.add_argument("--noise", action="store_true", help="grainy images, several times larger as JPEG")
    parser.add_argument("--prepare", metavar="QUERY", action="append", default=[],
                        help="generate this query's images before listening (for benchmarks)")
    parser.add_argument("--image-hosts", type=int, default=0,
                        help="serve the images from this many more ports, image i from port i %% N (default: none)")
    parser.add_argument("--block", metavar="ENGINE", action="append", default=[],
                        help="answer this engine's searches with 403 and a captcha page")
    parser.add_argument("--garble", metavar="ENGINE", action="append", default=[],
                        help="answer this engine's searches with 200 and a page no parser knows")
    args = parser.parse_args()
    width, height = (int(v) for v in args.image_size.split("x"))
    fake = FakeEngine(args.images_per_query, (width, height), latency=args.latency, noise=args.noise,
                      blocked=tuple(args.block), garbled=tuple(args.garble))
    for query in args.prepare:
        fake.prepare(query)
    server = FakeServer(fake, args.port, image_hosts=args.image_hosts)
    for listener in server.image_hosts:
        listener.start()
    flags = " ".join(f"--endpoint {name}={url}" for name, url in server.endpoints().items())
    print(f"fake engine on {server.url}; try:", flush=True)
    print(f"  collect --classes cat dog --engine all {flags} --allow-private-addresses", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


main()
