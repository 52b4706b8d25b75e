#!/usr/bin/env python3
"""Pipelined HTTP/1.1 requests on one connection, read back with Python's own
HTTP client parser (http.client.HTTPResponse). http.client will not send a
second request before the first response is read, so the requests are written
at once on the socket and each response is parsed in turn from it.

usage: pipelined.py unix:PATH|HOST:PORT TEXT...
Prints one line per response: STATUS DECISION (or the error code).
"""
import http.client
import json
import socket
import sys


def connect(target):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target[5:])
    else:
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)))
    s.settimeout(10)
    return s


def main():
    target, texts = sys.argv[1], sys.argv[2:]
    s = connect(target)
    reqs = b""
    for t in texts:
        body = json.dumps({"text": t}).encode()
        reqs += (b"POST /v1/check HTTP/1.1\r\nHost: filterd\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body)) + body
    s.sendall(reqs)  # every request before any response is read
    f = s.makefile("rb")

    class Shared:  # the one buffered reader for all responses; a response's
        def __getattr__(self, name):  # end must not close it
            return getattr(f, name)

        def close(self):
            pass

    class Sock:
        def makefile(self, *a, **k):
            return Shared()

    for _ in texts:
        r = http.client.HTTPResponse(Sock(), method="POST")
        r.begin()
        body = json.loads(r.read())
        what = body.get("decision") or body.get("error", {}).get("code")
        print(r.status, what)
    s.close()


if __name__ == "__main__":
    main()
