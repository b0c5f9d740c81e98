"""Peer credentials: a client that is neither root nor in the agent's api.group is refused.

The client is a forked child that drops to ``nobody`` (setgroups, setgid, setuid) and calls
the connector; its result comes back through a pipe.
"""

import grp
import json
import os
import pwd
import stat

import pytest

from conftest import FIXTURES, require, running
from pathagent_brick import connector, exception


def api_group_for(user):
    """A group other than root's of which ``user`` is not a member (the test's api.group)."""
    for name in ("daemon", "bin", "sys", "adm", "staff", "users"):
        try:
            g = grp.getgrnam(name)
        except KeyError:
            continue
        if g.gr_gid not in (0, user.pw_gid) and user.pw_name not in g.gr_mem:
            return g
    return None


def as_user(uid, gid, socket_path):
    """Runs get_connector_properties in a child with exactly uid/gid; returns its outcome."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest from here on, always _exit
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            try:
                props = connector.AgentISCSIConnector.get_connector_properties(None, pathagent_socket=socket_path)
                out = {"ok": True, "initiator": props.get("initiator"), "uid": os.getuid()}
            except exception.BrickException as e:
                out = {"ok": False, "cls": type(e).__name__, "code": getattr(e, "agent_code", None),
                       "status": getattr(e, "agent_status", None), "text": str(e), "uid": os.getuid()}
            os.write(w, json.dumps(out).encode())
        except BaseException as e:  # report, never return into pytest
            try:
                os.write(w, json.dumps({"crash": repr(e)}).encode())
            except BaseException:
                pass
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, st = os.waitpid(pid, 0)
    out = json.loads(data.decode())
    assert "crash" not in out, out
    return out


def test_peer_credentials():
    require(os.geteuid() == 0, "setuid to nobody needs root")
    nobody = pwd.getpwnam("nobody")
    group = api_group_for(nobody)
    require(group is not None, "no group on this host to serve as api.group")
    with running(root=os.path.join(FIXTURES, "agent-host"), group=group.gr_name, name="peer") as d:
        st = os.stat(d.socket)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == group.gr_gid

        # a member of api.group (here by its primary gid) is served, as nobody
        member = as_user(nobody.pw_uid, group.gr_gid, d.socket)
        assert member["uid"] == nobody.pw_uid
        assert member["ok"] is True and member["initiator"] == "iqn.1993-08.org.debian:01:5c3a9e2b7f41", member

        # neither root nor in the group: the socket's mode keeps it out first (EACCES)
        outsider = as_user(nobody.pw_uid, nobody.pw_gid, d.socket)
        assert outsider["ok"] is False and outsider["code"] == "unavailable", outsider
        assert "permission denied" in outsider["text"]

        # with the file mode out of the way, the daemon's own SO_PEERCRED check refuses
        os.chmod(d.socket, 0o666)
        refused = as_user(nobody.pw_uid, nobody.pw_gid, d.socket)
        assert refused["ok"] is False, refused
        assert refused["cls"] == "BrickException"
        assert refused["code"] == "forbidden" and refused["status"] == 403, refused
        assert "uid %d may not use the pathagent API" % nobody.pw_uid in refused["text"]
        assert "api peer refused" in d.log() and "peer.uid=%d" % nobody.pw_uid in d.log()
