"""Explicit, reversible activation of the connectors in a Python environment.

``enable`` writes one ``.pth`` file into the environment's site-packages; Python's
``site`` module runs its ``import`` line at every interpreter start. That line calls
:func:`install_hook`, which adds an import hook for ``os_brick.initiator.connector`` and
imports nothing else. When (and if) the process imports os-brick's connector module, the
hook checks that the agent's socket exists and, if so, points the ``ISCSI`` and
``FIBRE_CHANNEL`` entries of the mapping ``InitiatorConnector.factory`` reads
(``get_connector_mapping()``: ``_connector_mapping_linux`` on x86_64) at this package's
classes, and the same two entries of ``unix_connector_list`` (which os-brick's
module-level ``get_connector_properties`` walks). ``disable`` deletes the file.

A process that imported os-brick while the socket was missing keeps os-brick's own
connectors until it restarts: the decision is made once, at that import.
"""

import importlib.abc
import importlib.util
import os
import stat
import sys
import sysconfig

from . import client as _client

PTH_NAME = "pathagent_brick.pth"
TARGET = "os_brick.initiator.connector"

ISCSI_CLASS = "pathagent_brick.connector.AgentISCSIConnector"
FC_CLASS = "pathagent_brick.connector.AgentFibreChannelConnector"
OS_BRICK_ISCSI = "os_brick.initiator.connectors.iscsi.ISCSIConnector"
OS_BRICK_FC = "os_brick.initiator.connectors.fibre_channel.FibreChannelConnector"
#: protocol key in os-brick's mapping -> (os-brick's class path, ours)
REPLACEMENTS = {"ISCSI": (OS_BRICK_ISCSI, ISCSI_CLASS), "FIBRE_CHANNEL": (OS_BRICK_FC, FC_CLASS)}

# What the hook did in this process (`status()` of a running service cannot see it;
# `pathagent-brick status` asks a fresh interpreter).
state = {"hook_installed": False, "patched": False, "reason": "hook not installed", "socket": None}
_saved = []  # (dict or list, key or index, os-brick's value)


def pth_line(socket_path):
    """The one line of the ``.pth`` file (guarded: a no-op once this package is uninstalled)."""
    return ("import importlib.util as _u; _u.find_spec('pathagent_brick') and "
            "__import__('pathagent_brick.activation').activation.install_hook(%r)\n" % (socket_path,))


def default_site_dir():
    """site-packages of the running interpreter (its environment's ``purelib``)."""
    return sysconfig.get_paths()["purelib"]


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def enable(site_dir=None, socket_path=None):
    """Writes the ``.pth`` file (atomically); returns its path."""
    site_dir = site_dir or default_site_dir()
    if not os.path.isdir(site_dir):
        raise FileNotFoundError("site directory %s does not exist" % site_dir)
    path = os.path.join(site_dir, PTH_NAME)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(pth_line(_client.socket_path(socket_path)))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def disable(site_dir=None):
    """Deletes the ``.pth`` file (and a leftover temporary one); returns what was removed."""
    site_dir = site_dir or default_site_dir()
    removed = []
    for p in (os.path.join(site_dir, PTH_NAME), os.path.join(site_dir, PTH_NAME + ".tmp")):
        try:
            os.remove(p)
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def read_pth(site_dir=None):
    """``(path, socket)`` of the ``.pth`` file in ``site_dir``; socket None if not ours; None if absent."""
    path = os.path.join(site_dir or default_site_dir(), PTH_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    import ast
    marker = "install_hook("
    i = text.find(marker)
    sock = None
    if i >= 0 and text.rstrip().endswith(")"):
        try:
            sock = ast.literal_eval(text[i + len(marker):text.rstrip().rindex(")")])
        except (ValueError, SyntaxError):
            sock = None
    return path, sock if isinstance(sock, str) else None


# ---- the hook (runs in the service's process)


def install_hook(socket_path=None):
    """Called by the ``.pth`` line at interpreter start: arms the import hook."""
    if socket_path:
        _client.configured_socket = socket_path
    state["socket"] = _client.socket_path()
    state["hook_installed"] = True
    module = sys.modules.get(TARGET)
    if module is not None:
        patch(module)
        return
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        state["reason"] = "waiting for os-brick's connector module to be imported"
        sys.meta_path.insert(0, _Finder())


def patch(module):
    """Points the module's ISCSI/FIBRE_CHANNEL entries at the agent's classes if its socket exists."""
    sock = _client.socket_path()
    if not is_socket(sock):
        state["patched"] = False
        state["reason"] = "no socket at %s when os-brick was imported: os-brick's own connectors are used" % sock
        return False
    mapping = module.get_connector_mapping()
    for key, (_, ours) in REPLACEMENTS.items():
        if key in mapping and mapping[key] != ours:
            _saved.append((mapping, key, mapping[key]))
            mapping[key] = ours
    lst = getattr(module, "unix_connector_list", None)
    if isinstance(lst, list):
        for i, item in enumerate(lst):
            for theirs, ours in REPLACEMENTS.values():
                if item == theirs:
                    _saved.append((lst, i, item))
                    lst[i] = ours
    state["patched"] = True
    state["reason"] = "os-brick's ISCSI and FIBRE_CHANNEL connectors are pathagent's (socket %s)" % sock
    return True


def unpatch():
    """Puts os-brick's own entries back in this process (tests, or a caller that wants out)."""
    while _saved:
        container, key, original = _saved.pop()
        container[key] = original
    state["patched"] = False
    state["reason"] = "unpatched in this process"


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        try:
            patch(module)
        except Exception as e:  # never break the service's import of os-brick
            state["patched"] = False
            state["reason"] = "hook failed: %s: %s" % (type(e).__name__, e)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``os_brick.initiator.connector`` with the other finders, wraps its loader."""

    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec
