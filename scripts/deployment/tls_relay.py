"""A TLS front for the Docker engine's unix socket: ``tcp://HOST:PORT`` with client-certificate verification.

The shared engine of this machine listens on its unix socket only, and adding a listener would mean restarting
it; this relay gives the deployment the same thing ``dockerd --tlsverify -H tcp://...`` would: clients must present
a certificate signed by the CA, and every byte is passed unchanged both ways (HTTP, chunked log streams and hijacked
attach connections alike).

Usage: python tls_relay.py --listen 127.0.0.1:2376 --socket /var/run/docker.sock --ca ca.pem
       --cert server-cert.pem --key server-key.pem
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import sys

CHUNK = 256 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()


async def _serve(socket_path: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    try:
        engine_r, engine_w = await asyncio.open_unix_connection(socket_path)
    except OSError as exc:
        print(f"tls_relay: cannot reach {socket_path}: {exc}", file=sys.stderr, flush=True)
        client_w.close()
        return
    try:
        await asyncio.gather(_pipe(client_r, engine_w), _pipe(engine_r, client_w))
    finally:
        for w in (engine_w, client_w):
            with contextlib.suppress(Exception):
                w.close()


def _context(ca: str, cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(cert, key)
    return context


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.listen.rpartition(":")
    server = await asyncio.start_server(
        lambda r, w: _serve(args.socket, r, w), host, int(port), ssl=_context(args.ca, args.cert, args.key)
    )
    print(f"tls_relay: tcp://{args.listen} (client certificates from {args.ca}) -> {args.socket}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--socket", default="/var/run/docker.sock")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
