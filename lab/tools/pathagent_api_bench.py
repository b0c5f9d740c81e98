#!/usr/bin/env python3
"""pathagent side of the benchmark, as a long-lived caller uses it (runs in the lab guest).

A compute service would call the daemon's local API from its own process, the way it
uses os-brick as a library: so this client is one Python process that times each
HTTP/1.1 request to the Unix socket (connect, answer), without the start-up of a
`pathctl` process per operation. The same modes and output as osbrick_bench.py:

  pathagent_api_bench.py cycle      PROPS.json REPEAT            connect+disconnect, REPEAT times
  pathagent_api_bench.py second     BASE.json PROPS.json REPEAT  BASE stays attached; PROPS cycled

PROPS.json holds connection_properties (os-brick's dict). Prints one JSON object per
line: {"op": "connect", "seconds": s, "ok": true, "path": "/dev/dm-N"}; exit status 1
when any operation failed (the daemon's error is in the line's "error").
"""
import json
import socket
import sys
import time

SOCKET = "/run/pathagent/pathagent.sock"
FAILED = 0


def emit(**kw):
    print(json.dumps(kw), flush=True)


def call(path, body):
    """POST body (JSON) to path on the daemon's socket; returns (status, decoded JSON)."""
    data = json.dumps(body).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCKET)
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: pathagent\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(data)).encode() + b"\r\nConnection: close\r\n\r\n" + data)
        raw = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            raw += b
    finally:
        s.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(payload or b"{}")


def timed(op, path, body):
    global FAILED
    t0 = time.monotonic()
    try:
        status, answer = call(path, body)
    except OSError as e:
        status, answer = 0, {"error": {"message": str(e)}}
    dt = time.monotonic() - t0
    if status == 200:
        emit(op=op, seconds=round(dt, 4), ok=True, path=answer.get("path"))
        return answer
    FAILED += 1
    emit(op=op, seconds=round(dt, 4), ok=False, error=f"HTTP {status}: {answer.get('error', answer)}")
    return None


def load(path):
    with open(path) as f:
        return json.load(f)


def connect(props, op="connect"):
    return timed(op, "/v1/volumes/connect", {"protocol": "iscsi", "connection_properties": props})


def disconnect(props, info, op="disconnect"):
    device_info = {"type": "block", "path": info.get("path"), "scsi_wwn": info.get("scsi_wwn"),
                   "multipath_id": info.get("multipath_id")}
    return timed(op, "/v1/volumes/disconnect",
                 {"protocol": "iscsi", "connection_properties": props, "device_info": device_info})


def cycle(props, n):
    for _ in range(n):
        info = connect(props)
        if info is None:
            continue
        disconnect(props, info)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    mode = argv[1]
    if mode == "cycle":
        cycle(load(argv[2]), int(argv[3]))
    elif mode == "second":
        base = load(argv[2])
        info = connect(base, op="base_connect")
        cycle(load(argv[3]), int(argv[4]))
        if info is not None:
            disconnect(base, info, op="base_disconnect")
    else:
        raise SystemExit(f"unknown mode {mode}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
