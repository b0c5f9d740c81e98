"""os-brick ``InitiatorConnector``s for iSCSI and Fibre Channel that call pathagent.

The daemon (root, on the host) does the logins, scans, WWN checks, multipath maps and
removals; these classes only translate os-brick's calls into the agent's API v1 and its
answers back into os-brick's return shapes and exception classes. The caller needs no
root helper and no privsep: access to the socket is what is checked (the daemon allows
root and members of its ``api.group``).

Construct them as os-brick's factory does::

    ISCSIConnector(root_helper, driver=None, use_multipath=True, device_scan_attempts=3)

Extra keyword ``pathagent_socket`` names the socket (else ``$PATHAGENT_SOCKET``, else the
socket the activation hook was enabled with, else ``/run/pathagent/pathagent.sock``).
"""

import logging
import platform as _platform
import socket as _socket
import sys

from . import client as _client
from . import exception

LOG = logging.getLogger(__name__)

#: os-brick's ``initiator.DEVICE_SCAN_ATTEMPTS_DEFAULT``.
DEVICE_SCAN_ATTEMPTS_DEFAULT = 3

#: The os-brick device_info keys a connect returns (the agent adds paths, timings...).
_DEVICE_INFO_KEYS = ("type", "path", "scsi_wwn", "multipath_id")


def _call(what, protocol, target, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except _client.AgentError as e:
        raise exception.from_agent(e, what, protocol, target) from None
    except _client.AgentUnavailable as e:
        raise exception.unavailable(e, what) from None


def _agent_properties(socket_path=None):
    c = _client.AgentClient(socket_path)
    return _call("get_connector_properties", None, None, c.connector)


def get_connector_properties(root_helper, my_ip, multipath, enforce_multipath, host=None, execute=None,
                             pathagent_socket=None):
    """os-brick's module-level ``get_connector_properties``, answered by the agent.

    The merged dict os-brick returns: ``platform``, ``os_type``, ``ip``, ``host``,
    ``multipath``, ``enforce_multipath`` (the caller's, as os-brick reports them), plus
    what the agent reads on the host: ``initiator`` (when open-iscsi is configured),
    ``wwpns``/``wwnns`` (online FC ports), ``system uuid``.
    """
    return _AgentConnector.get_connector_properties(
        root_helper, my_ip=my_ip, multipath=multipath, enforce_multipath=enforce_multipath, host=host,
        pathagent_socket=pathagent_socket)


def _merged(agent, my_ip=None, host=None, **kwargs):
    """The agent's properties with the keys os-brick's module-level function sets itself
    (``platform``, ``os_type``, ``ip``, ``host``) set as os-brick sets them, so that
    merging this dict into os-brick's changes none of them: the agent's ``ip`` (its first
    IPv4 address) must not replace the service's ``my_ip``."""
    props = dict(agent)
    props.pop("ip", None)
    props["platform"] = _platform.machine()
    props["os_type"] = sys.platform
    if my_ip is not None:
        props["ip"] = my_ip
    props["host"] = host if host else _socket.gethostname()
    for k in ("multipath", "enforce_multipath"):
        if k in kwargs:
            props[k] = kwargs[k]
    return props


class _AgentConnector:
    """What the iSCSI and FC connectors share; ``_protocol`` is the agent's name."""

    _protocol = None
    # os-brick's connector attributes (os_brick.initiator.PLATFORM_ALL / OS_TYPE_LINUX):
    # its own get_connector_properties() checks them before calling the class.
    platform = "ALL"
    os_type = "LINUX"

    def __init__(self, root_helper=None, driver=None, execute=None, use_multipath=False,
                 device_scan_attempts=DEVICE_SCAN_ATTEMPTS_DEFAULT, *args, **kwargs):
        # root_helper and execute are accepted for os-brick's signature: nothing here runs
        # a command (the agent does the work as root).
        self._root_helper = root_helper
        self._execute = execute
        self.driver = driver
        self.use_multipath = use_multipath
        # The agent waits for devices with its own deadlines (iscsi.scan_timeout).
        self.device_scan_attempts = device_scan_attempts
        self.transport = kwargs.get("transport")
        self._client = _client.AgentClient(kwargs.get("pathagent_socket"))

    # os-brick's small setters (Cinder and os-brick's own code call them)
    def set_driver(self, driver):
        self.driver = driver

    def set_execute(self, execute):
        self._execute = execute

    @property
    def socket_path(self):
        return self._client.socket_path

    @staticmethod
    def get_connector_properties(root_helper, *args, **kwargs):
        """The agent's connector properties with os-brick's merged keys.

        ``initiator``, ``wwpns``, ``wwnns``, ``system uuid`` are the agent's;
        ``multipath`` / ``enforce_multipath`` / ``host`` / ``my_ip`` from the keyword
        arguments win, as in os-brick (``ip`` is present only with ``my_ip``: os-brick's
        module-level function, which calls this with ``host`` but no address, sets it);
        ``platform`` and ``os_type`` are os-brick's (``platform.machine()``,
        ``sys.platform``). ``pathagent_socket`` names the socket.
        """
        agent = _agent_properties(kwargs.pop("pathagent_socket", None))
        return _merged(agent, **kwargs)

    def supports_multipath(self):
        """Whether the agent builds multipath maps (its ``multipath.use_multipath``)."""
        props = _call("supports_multipath", self._protocol, None, self._client.connector)
        return bool(props.get("multipath"))

    def check_multipath(self, connection_properties):
        """os-brick's check: multipath enforced by Cinder but not available is an error."""
        if not self.use_multipath:
            return
        enforce = connection_properties.get("enforce_multipath", False)
        if not self.supports_multipath():
            if enforce:
                raise exception.BrickException(
                    message="Multipathing is enforced but pathagent does not build multipath maps "
                            "(multipath.use_multipath = false)")
            LOG.warning("Multipathing is requested but pathagent does not build multipath maps")

    def _check_connect(self, connection_properties):
        if connection_properties.get("encrypted"):
            # os-brick links an encryptor-owned symlink to the device here (as root); the
            # agent returns the device itself, which an encryptor must not replace.
            raise exception.VolumeEncryptionNotSupported(
                volume_type=self._protocol, volume_id=connection_properties.get("volume_id", "?"))

    def connect_volume(self, connection_properties):
        """Attaches the volume; returns os-brick's device_info.

        ``{'type': 'block', 'path': '/dev/dm-N' or '/dev/sdX', 'scsi_wwn': WWN}`` plus
        ``'multipath_id'`` when the agent built a multipath map.
        """
        self._check_connect(connection_properties)
        if self.use_multipath:
            self.check_multipath(connection_properties)
        target = connection_properties.get("wwn")
        r = _call("connect", self._protocol, target, self._client.connect, self._protocol, connection_properties)
        info = {"type": r.get("type", "block"), "path": r["path"], "scsi_wwn": r.get("scsi_wwn")}
        if r.get("multipath_id"):
            info["multipath_id"] = r["multipath_id"]
        if r.get("degraded"):
            LOG.warning("pathagent attached %s with fewer paths than planned", info["path"])
        return info

    def disconnect_volume(self, connection_properties, device_info, force=False, ignore_errors=False):
        """Detaches exactly the volume's devices (the agent re-checks each one's WWN).

        A volume that is not attached is not an error (os-brick's iSCSI and FC
        connectors return quietly too). With ``force`` and not ``ignore_errors``, steps the
        agent gave up raise ``BrickException`` once the detach has finished, as os-brick's
        ``ExceptionChainer`` does.
        """
        info = None
        if isinstance(device_info, dict) and isinstance(device_info.get("path"), str):
            info = {k: device_info[k] for k in _DEVICE_INFO_KEYS if device_info.get(k) is not None}
        target = connection_properties.get("wwn") or (info or {}).get("scsi_wwn") or (info or {}).get("path")
        r = _call("disconnect", self._protocol, target, self._client.disconnect, self._protocol,
                  connection_properties, info, force=force, ignore_errors=ignore_errors)
        ignored = r.get("ignored_errors") or []
        for e in ignored:
            LOG.warning("pathagent disconnect: %s: %s", e.get("code"), e.get("message"))
        if ignored and force and not ignore_errors:
            raise exception.BrickException(
                message="pathagent disconnect of %s finished with errors: %s"
                        % (target, "; ".join("%s: %s" % (e.get("code"), e.get("message")) for e in ignored)))
        return None

    def extend_volume(self, connection_properties):
        """Rescans every path and resizes the map; returns the new size in bytes.

        ``VolumePathsNotFound`` when the volume has no device on this host (os-brick's
        check, made the same way: get_volume_paths first).
        """
        if not self.get_volume_paths(connection_properties):
            raise exception.VolumePathsNotFound()
        r = _call("extend", self._protocol, connection_properties.get("wwn"), self._client.extend,
                  self._protocol, connection_properties)
        return int(r["new_size"])

    def get_volume_paths(self, connection_properties):
        """The volume's disks on this host (``/dev/sdX`` each), ``[]`` when none."""
        r = _call("paths", self._protocol, connection_properties.get("wwn"), self._client.volume_paths,
                  self._protocol, connection_properties)
        return list(r["paths"])

    def check_valid_device(self, path, run_as_root=True):
        """True when the agent read the first 4 KiB of ``path``, a volume's map or disk.

        False for anything else, as os-brick's ``dd`` check: a path that is not a
        device under /dev, a device that is not a volume's, an I/O error.
        """
        try:
            r = self._client.check_device(path)
        except _client.AgentError as e:
            if e.code.startswith("bad_request."):
                LOG.warning("pathagent check_valid_device %s: %s", path, e)
                return False
            raise exception.from_agent(e, "check", self._protocol, path) from None
        except _client.AgentUnavailable as e:
            raise exception.unavailable(e, "check_valid_device") from None
        if not r.get("valid"):
            LOG.info("pathagent check_valid_device %s: not valid: %s", path, r.get("reason"))
        return bool(r.get("valid"))

    def get_search_path(self):
        """Where the agent's devices are: ``/dev`` (``sdX`` and ``dm-N`` nodes)."""
        return "/dev"

    def get_all_available_volumes(self, connection_properties=None):
        """The device nodes of every volume of this protocol the agent sees.

        The disks (``/dev/sdX``) and maps (``/dev/dm-N``) the agent's inventory lists,
        so that, as in os-brick, a caller can compare before and after a detach.
        """
        topo = _call("get_all_available_volumes", self._protocol, None, self._client.paths)
        found = []
        for v in topo.get("volumes", []):
            paths = [p for p in v.get("paths", []) if p.get("transport") == self._protocol]
            if not paths:
                continue
            for p in paths:
                if p.get("device"):
                    found.append("/dev/" + p["device"])
            m = v.get("map") or {}
            if m.get("device"):
                found.append("/dev/" + m["device"])
        return sorted(set(found))


class AgentISCSIConnector(_AgentConnector):
    """os-brick's ``ISCSI`` connector, backed by pathagent."""

    _protocol = "iscsi"

    def _check_connect(self, connection_properties):
        super()._check_connect(connection_properties)
        if self.transport not in (None, "default"):
            # Nova passes its [libvirt] iscsi_iface here; the agent logs in through the
            # default interface only.
            raise exception.BrickException(
                message="pathagent logs in through the default iSCSI interface; transport %r is not supported"
                        % self.transport)


class AgentFibreChannelConnector(_AgentConnector):
    """os-brick's ``FIBRE_CHANNEL`` connector, backed by pathagent."""

    _protocol = "fc"


# os-brick's class names, for callers that import them from here
ISCSIConnector = AgentISCSIConnector
FibreChannelConnector = AgentFibreChannelConnector
