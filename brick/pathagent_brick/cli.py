"""``pathagent-brick enable|disable|status``: the activation in a Python environment.

The environment is the one of the interpreter that runs this command (run the
service's own ``bin/pathagent-brick`` or ``python -m pathagent_brick``), or the one whose
site-packages ``--site-dir`` names.

Exit status of ``status``: 0 active (a fresh interpreter's os-brick factory returns the
agent's connectors), 1 enabled but not active (the reason is printed), 3 disabled.
``enable`` and ``disable`` exit 0 when done, 1 on failure.
"""

import argparse
import json
import os
import subprocess
import sys

from . import __version__
from . import activation
from . import client as _client

# Run in a fresh interpreter of the environment: what a service started now would get.
_PROBE = r"""
import json, site, sys
if sys.argv[1]:
    site.addsitedir(sys.argv[1])
out = {"os_brick": None}
try:
    from importlib import metadata
    out["os_brick"] = metadata.version("os-brick")
except Exception:
    pass
try:
    from os_brick.initiator import connector as c
except Exception as e:
    out["import_error"] = "%s: %s" % (type(e).__name__, e)
else:
    cls = lambda o: type(o).__module__ + "." + type(o).__qualname__
    out["factory"] = {p: cls(c.InitiatorConnector.factory(p, None, use_multipath=True))
                      for p in ("ISCSI", "FIBRE_CHANNEL")}
    hook = sys.modules.get("pathagent_brick.activation")
    out["hook"] = dict(hook.state) if hook else None
print(json.dumps(out))
"""


def probe(site_dir=None, timeout=60):
    """What ``InitiatorConnector.factory`` returns in a new interpreter of this environment."""
    env = dict(os.environ)
    env.pop(_client.SOCKET_ENV, None)  # the service does not have it either: the .pth names the socket
    r = subprocess.run([sys.executable, "-c", _PROBE, site_dir or ""], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if r.returncode != 0:
        return {"probe_error": (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def status(site_dir=None, socket_path=None):
    """The activation's state as a dict (``state``: active, inactive or disabled)."""
    sd = site_dir or activation.default_site_dir()
    pth = activation.read_pth(sd)
    sock = socket_path or (pth[1] if pth and pth[1] else _client.socket_path())
    out = {
        "site_dir": sd,
        "pth_file": pth[0] if pth else None,
        "socket": sock,
        "socket_present": activation.is_socket(sock),
        "agent": None,
    }
    if out["socket_present"]:
        try:
            out["agent"] = {"version": _client.AgentClient(sock, timeout=10).version().get("version")}
        except (_client.AgentError, _client.AgentUnavailable) as e:
            out["agent"] = {"error": str(e)}
    p = probe(site_dir)
    out["os_brick"] = p.get("os_brick")
    out["factory"] = p.get("factory")
    ours = {"ISCSI": activation.ISCSI_CLASS, "FIBRE_CHANNEL": activation.FC_CLASS}
    active = bool(out["factory"]) and all(out["factory"].get(k) == v for k, v in ours.items())
    if active:
        out["state"], out["reason"] = "active", (p.get("hook") or {}).get("reason")
    elif pth is None:
        out["state"] = "disabled"
        out["reason"] = "no %s in %s" % (activation.PTH_NAME, sd)
    else:
        out["state"] = "inactive"
        if pth[1] is None:
            out["reason"] = "%s is not pathagent-brick's hook line" % pth[0]
        elif p.get("probe_error") or p.get("import_error"):
            out["reason"] = "os-brick does not import: %s" % (p.get("probe_error") or p.get("import_error"))
        elif (p.get("hook") or {}).get("reason"):
            out["reason"] = p["hook"]["reason"]
        else:
            out["reason"] = "the hook did not run (is %s a site directory of %s?)" % (sd, sys.executable)
    return out


def _print_status(s):
    print("pathagent-brick %s: %s" % (__version__, s["state"]))
    print("  reason: %s" % s["reason"])
    print("  hook file: %s" % (s["pth_file"] or "none (in %s)" % s["site_dir"]))
    agent = s["agent"] or {}
    if not s["socket_present"]:
        sock = "missing"
    elif "version" in agent:
        sock = "present, pathagent %s answers" % agent["version"]
    else:
        sock = "present, %s" % agent.get("error")
    print("  socket: %s (%s)" % (s["socket"], sock))
    print("  os-brick: %s" % (s["os_brick"] or "not installed"))
    for k, v in sorted((s["factory"] or {}).items()):
        print("    factory(%r) -> %s" % (k, v))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="pathagent-brick", description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, text in (("enable", "install the import hook (.pth) in the environment's site-packages"),
                       ("disable", "remove the hook: os-brick's own connectors again"),
                       ("status", "say what a service started now would use")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--site-dir", metavar="DIR", help="site-packages directory (default: this interpreter's)")
        if name != "disable":
            p.add_argument("--socket", metavar="PATH",
                           help="the agent's socket (default: $PATHAGENT_SOCKET or %s)" % _client.DEFAULT_SOCKET)
        p.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args(argv)

    if args.cmd == "enable":
        try:
            path = activation.enable(args.site_dir, args.socket)
        except OSError as e:
            print("pathagent-brick enable: %s" % e, file=sys.stderr)
            return 1
        s = status(args.site_dir)
        if args.json:
            print(json.dumps(s, sort_keys=True))
        else:
            print("wrote %s" % path)
            _print_status(s)
        return 0
    if args.cmd == "disable":
        try:
            removed = activation.disable(args.site_dir)
        except OSError as e:
            print("pathagent-brick disable: %s" % e, file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps({"removed": removed}, sort_keys=True))
        else:
            print("removed %s" % ", ".join(removed) if removed else "already disabled (no hook file)")
        return 0
    s = status(args.site_dir, args.socket)
    if args.json:
        print(json.dumps(s, sort_keys=True))
    else:
        _print_status(s)
    return {"active": 0, "inactive": 1}.get(s["state"], 3)


if __name__ == "__main__":
    sys.exit(main())
