#!/usr/bin/env python3
"""os-brick side of the pathagent benchmark (runs as root in the lab guest).

os-brick is used the way nova-compute/cinder-volume use it: a library inside a
long-lived service, so its import and set-up are timed once ("setup") and not per
operation. Privsep is bypassed by running the privileged entrypoints in-process
(`privileged.default.set_client_mode(False)`, what os-brick's own tests do); we are
root already, so no root helper is needed.

  osbrick_bench.py cycle      PROPS.json REPEAT          connect+disconnect, REPEAT times
  osbrick_bench.py second     BASE.json PROPS.json REPEAT  BASE stays attached; PROPS cycled
  osbrick_bench.py concurrent PROPS.json...              all connects in threads, then all
                                                         disconnects in threads

With OSB_DROP_IN=SOCKET in the environment the same calls go to the drop-in connector
(brick/, `pathagent_brick`): its import hook is installed in-process before os-brick's
connector module is imported, as the `.pth` line of `pathagent-brick enable` does, so
`InitiatorConnector.factory("ISCSI", ...)` returns the agent's connector (checked: the
setup line names the class, and the run stops if it is not the agent's).

PROPS.json holds os-brick connection_properties. Prints one JSON object per line:
{"op": "connect", "seconds": s, "ok": true, "path": "/dev/dm-N"} ...; exit status 1
when any operation failed (the error is in the line's "error").
"""
import json
import os
import sys
import threading
import time

T0 = time.monotonic()
DROP_IN = os.environ.get("OSB_DROP_IN")
if DROP_IN:
    from pathagent_brick import activation  # noqa: E402
    activation.install_hook(DROP_IN)
from oslo_config import cfg  # noqa: E402
import os_brick  # noqa: E402
from os_brick import privileged  # noqa: E402
from os_brick.initiator import connector  # noqa: E402

cfg.CONF([], project="pathagent-bench")
cfg.CONF.set_override("lock_path", "/tmp/os-brick-locks", group="oslo_concurrency")
os_brick.setup(cfg.CONF)
privileged.default.set_client_mode(False)
CONN = connector.InitiatorConnector.factory("ISCSI", None, use_multipath=True)
FAILED = 0


def emit(**kw):
    print(json.dumps(kw), flush=True)


KIND = f"{type(CONN).__module__}.{type(CONN).__name__}"
emit(op="setup", seconds=round(time.monotonic() - T0, 4), ok=True,
     version=__import__("importlib.metadata").metadata.version("os-brick"), connector=KIND)
if DROP_IN and KIND != "pathagent_brick.connector.AgentISCSIConnector":
    emit(op="setup", ok=False, error=f"OSB_DROP_IN set but the factory gave {KIND}")
    sys.exit(1)


def load(path):
    with open(path) as f:
        return json.load(f)


def timed(op, fn, *args):
    global FAILED
    t = time.monotonic()
    try:
        res = fn(*args)
        emit(op=op, seconds=round(time.monotonic() - t, 4), ok=True,
             path=(res or {}).get("path") if isinstance(res, dict) else None)
        return res
    except Exception as e:  # noqa: BLE001 - every failure is reported, none skipped
        FAILED += 1
        emit(op=op, seconds=round(time.monotonic() - t, 4), ok=False,
             error=f"{type(e).__name__}: {e}"[:500])
        return None


def cycle(props, n, prefix=""):
    for _ in range(n):
        info = timed(prefix + "connect", CONN.connect_volume, props)
        if info is None:
            continue
        timed(prefix + "disconnect", CONN.disconnect_volume, props, info)


def main(argv):
    mode = argv[1]
    if mode == "cycle":
        cycle(load(argv[2]), int(argv[3]))
    elif mode == "second":
        base = load(argv[2])
        binfo = timed("base_connect", CONN.connect_volume, base)
        cycle(load(argv[3]), int(argv[4]))
        if binfo is not None:
            timed("base_disconnect", CONN.disconnect_volume, base, binfo)
    elif mode == "concurrent":
        props = [load(p) for p in argv[2:]]
        infos = [None] * len(props)

        def one_connect(i):
            try:
                infos[i] = CONN.connect_volume(props[i])
            except Exception as e:  # noqa: BLE001
                emit(op="connect_one", ok=False, error=f"{type(e).__name__}: {e}"[:500])

        def one_disconnect(i):
            try:
                CONN.disconnect_volume(props[i], infos[i])
            except Exception as e:  # noqa: BLE001
                emit(op="disconnect_one", ok=False, error=f"{type(e).__name__}: {e}"[:500])

        for op, fn in (("connect_all", one_connect), ("disconnect_all", one_disconnect)):
            t = time.monotonic()
            th = [threading.Thread(target=fn, args=(i,)) for i in range(len(props))
                  if fn is one_connect or infos[i] is not None]
            for x in th:
                x.start()
            for x in th:
                x.join()
            good = sum(1 for i in infos if i is not None)
            ok = good == len(props)
            global FAILED
            FAILED += 0 if ok else 1
            emit(op=op, seconds=round(time.monotonic() - t, 4), ok=ok, volumes=len(props),
                 attached=good)
    else:
        raise SystemExit(f"unknown mode {mode}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
