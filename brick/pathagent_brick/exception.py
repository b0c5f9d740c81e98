"""os-brick's exception classes, and the mapping of the agent's error codes onto them.

When os-brick is importable, the names below *are* ``os_brick.exception``'s classes, so
``except os_brick.exception.VolumeDeviceNotFound`` in Nova or Cinder catches what these
connectors raise. Without os-brick they are this module's own classes with the same
names, hierarchy and constructor (``message=None, **kwargs``, ``.msg``, ``.kwargs``).
``OS_BRICK`` says which.

Every exception raised for an agent answer carries ``agent_code`` (the daemon's stable
code, e.g. ``not_found``), ``agent_key`` and ``agent_status`` (HTTP status) for logs.
"""

try:
    from os_brick import exception as _brick
except ImportError:  # os-brick is optional
    _brick = None

OS_BRICK = _brick is not None

_NAMES = (
    "BrickException", "NotFound", "Invalid", "InvalidParameterValue", "VolumeDeviceNotFound",
    "VolumePathsNotFound", "VolumePathNotRemoved", "ProtocolNotSupported", "TargetPortalNotFound",
    "TargetPortalsNotFound", "FailedISCSITargetPortalLogin", "NoFibreChannelHostsFound",
    "NoFibreChannelVolumeDeviceFound", "VolumeEncryptionNotSupported", "InvalidConnectorProtocol",
)

if _brick is not None:
    BrickException = _brick.BrickException
    NotFound = _brick.NotFound
    Invalid = _brick.Invalid
    InvalidParameterValue = _brick.InvalidParameterValue
    VolumeDeviceNotFound = _brick.VolumeDeviceNotFound
    VolumePathsNotFound = _brick.VolumePathsNotFound
    VolumePathNotRemoved = _brick.VolumePathNotRemoved
    ProtocolNotSupported = _brick.ProtocolNotSupported
    TargetPortalNotFound = _brick.TargetPortalNotFound
    TargetPortalsNotFound = _brick.TargetPortalsNotFound
    FailedISCSITargetPortalLogin = _brick.FailedISCSITargetPortalLogin
    NoFibreChannelHostsFound = _brick.NoFibreChannelHostsFound
    NoFibreChannelVolumeDeviceFound = _brick.NoFibreChannelVolumeDeviceFound
    VolumeEncryptionNotSupported = _brick.VolumeEncryptionNotSupported
    InvalidConnectorProtocol = _brick.InvalidConnectorProtocol
else:

    class BrickException(Exception):
        """Base Brick Exception (os-brick's shape: ``message`` template, ``kwargs``)."""

        message = "An unknown exception occurred."
        code = 500
        headers = {}
        safe = False

        def __init__(self, message=None, **kwargs):
            self.kwargs = kwargs
            self.kwargs.setdefault("code", self.code)
            if not message:
                try:
                    message = self.message % kwargs
                except Exception:
                    message = self.message
            self.msg = message
            super().__init__(message)

    class NotFound(BrickException):
        message = "Resource could not be found."
        code = 404
        safe = True

    class Invalid(BrickException):
        message = "Unacceptable parameters."
        code = 400

    class InvalidParameterValue(Invalid):
        message = "%(err)s"

    class NoFibreChannelHostsFound(BrickException):
        message = "We are unable to locate any Fibre Channel devices."

    class NoFibreChannelVolumeDeviceFound(BrickException):
        message = "Unable to find a Fibre Channel volume device."

    class VolumeDeviceNotFound(BrickException):
        message = "Volume device not found at %(device)s."

    class VolumePathsNotFound(BrickException):
        message = "Could not find any paths for the volume."

    class VolumePathNotRemoved(BrickException):
        message = "Volume path %(volume_path)s was not removed in time."

    class ProtocolNotSupported(BrickException):
        message = "Connect to volume via protocol %(protocol)s not supported."

    class TargetPortalNotFound(BrickException):
        message = "Unable to find target portal %(target_portal)s."

    class TargetPortalsNotFound(TargetPortalNotFound):
        message = "Unable to find target portal in %(target_portals)s."

    class FailedISCSITargetPortalLogin(BrickException):
        message = "Unable to login to iSCSI Target Portal"

    class VolumeEncryptionNotSupported(Invalid):
        message = "Volume encryption is not supported for %(volume_type)s volume %(volume_id)s."

    class InvalidConnectorProtocol(ValueError):
        pass


def _make(cls, text, status=None, code=None, key=None, **kwargs):
    e = cls(message=text, **kwargs)
    e.agent_status = status
    e.agent_code = code
    e.agent_key = key
    return e


def from_agent(err, operation, protocol, target=None):
    """The os-brick exception for an agent error answer (``client.AgentError``).

    ``operation`` is ``connect``, ``disconnect``, ``extend``, ``paths`` or ``check``;
    ``protocol`` ``iscsi`` or ``fc``; ``target`` names the volume (its WWN or path) in
    messages. The mapping follows what os-brick's own connectors raise in each case.
    """
    code = err.code
    text = "pathagent %s: %s" % (operation, err)
    common = dict(status=err.status, code=code, key=err.key)
    if code.startswith("bad_request."):
        return _make(InvalidParameterValue, text, err=text, **common)
    if code == "not_found":
        if operation == "disconnect":
            # Nova ignores this one on an iSCSI detach (the volume is already gone).
            return _make(VolumeDeviceNotFound, text, device=target or "?", **common)
        if operation == "extend":
            return _make(VolumePathsNotFound, text, **common)
        if operation == "connect" and protocol == "fc":
            return _make(NoFibreChannelVolumeDeviceFound, text, **common)
        return _make(VolumeDeviceNotFound, text, device=target or "?", **common)
    if code == "timeout" and operation == "connect":
        # the devices did not show up in time: what os-brick raises after its scan attempts
        if protocol == "fc":
            return _make(NoFibreChannelVolumeDeviceFound, text, **common)
        return _make(VolumeDeviceNotFound, text, device=target or "?", **common)
    return _make(BrickException, text, **common)


def unavailable(exc, operation):
    """The os-brick exception for a daemon that could not be reached (``AgentUnavailable``)."""
    e = BrickException(message="pathagent %s: %s" % (operation, exc))
    e.agent_status = None
    e.agent_code = "unavailable"
    e.agent_key = None
    return e
