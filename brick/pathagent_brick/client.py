"""A small client of pathagent's local API: HTTP/1.1 + JSON on a Unix socket.

One request per connection (``Connection: close``), as the daemon serves them. Standard
library only. Errors are :class:`AgentError` (the daemon answered with its error shape)
or :class:`AgentUnavailable` (nothing answered: no socket, refused, permission denied,
or an answer that is not the API's).
"""

import errno
import http.client
import json
import os
import socket

DEFAULT_SOCKET = "/run/pathagent/pathagent.sock"
#: Overrides the socket path for every client that is not given one explicitly.
SOCKET_ENV = "PATHAGENT_SOCKET"
#: An attach logs in, scans and builds a map: minutes at worst, never forever.
DEFAULT_TIMEOUT = 300.0


#: The socket the activation hook was enabled with (set by ``activation.install_hook``).
configured_socket = None


def socket_path(path=None):
    """The socket to use: ``path``, else ``$PATHAGENT_SOCKET``, else the one the
    activation was enabled with, else the default."""
    return path or os.environ.get(SOCKET_ENV) or configured_socket or DEFAULT_SOCKET


class AgentUnavailable(Exception):
    """The daemon could not be reached, or did not answer in the API's shape."""

    def __init__(self, message, socket_path=None, errno=None):
        super().__init__(message)
        self.socket_path = socket_path
        self.errno = errno


class AgentError(Exception):
    """The daemon's error answer: ``{"error": {"code", "message", "key"?, "detail"?}}``."""

    def __init__(self, status, code, message, key=None, detail=None):
        text = "%s: %s" % (code, message)
        if key:
            text += " (key %s)" % key
        super().__init__(text)
        self.status = status
        self.code = code
        self.message = message
        self.key = key
        self.detail = detail


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("pathagent", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._path)
        except BaseException:
            s.close()
            raise
        self.sock = s


class AgentClient:
    """Calls the daemon's API v1 on ``socket_path`` (see :func:`socket_path`)."""

    def __init__(self, path=None, timeout=DEFAULT_TIMEOUT):
        self.socket_path = socket_path(path)
        self.timeout = timeout

    def request(self, method, path, body=None):
        """Sends one request; returns the decoded JSON of a 2xx answer."""
        payload = None
        headers = {"Accept": "application/json", "Connection": "close", "User-Agent": "pathagent-brick"}
        if body is not None:
            payload = json.dumps(body, sort_keys=True).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                status = resp.status
                raw = resp.read()
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENOTDIR):
                    what = "pathagent is not running (no socket at %s)" % self.socket_path
                elif e.errno == errno.ECONNREFUSED:
                    what = "pathagent is not running (nothing listens on %s)" % self.socket_path
                elif e.errno in (errno.EACCES, errno.EPERM):
                    what = ("permission denied on %s: run as root or as a member of pathagent's api.group"
                            % self.socket_path)
                else:
                    what = "talking to pathagent on %s: %s" % (self.socket_path, e)
                raise AgentUnavailable(what, self.socket_path, e.errno) from e
            except http.client.HTTPException as e:
                raise AgentUnavailable("talking to pathagent on %s: %s" % (self.socket_path, e), self.socket_path) from e
        finally:
            conn.close()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            data = None
        if 200 <= status < 300:
            if data is None:
                raise AgentUnavailable("answer of %s %s is not JSON (HTTP %d)" % (method, path, status), self.socket_path)
            return data
        err = data.get("error") if isinstance(data, dict) else None
        if not isinstance(err, dict) or "code" not in err:
            raise AgentUnavailable("HTTP %d from pathagent without an API error body" % status, self.socket_path)
        raise AgentError(status, err["code"], err.get("message", ""), err.get("key"), err.get("detail"))

    # API v1, one method per route the connectors use.

    def connector(self):
        return self.request("GET", "/v1/connector")

    def version(self):
        return self.request("GET", "/v1/version")

    def paths(self):
        return self.request("GET", "/v1/paths")

    def connect(self, protocol, properties):
        return self.request("POST", "/v1/volumes/connect", {"protocol": protocol, "connection_properties": properties})

    def disconnect(self, protocol, properties, device_info=None, force=False, ignore_errors=False):
        body = {"protocol": protocol, "connection_properties": properties, "force": bool(force),
                "ignore_errors": bool(ignore_errors)}
        if device_info is not None:
            body["device_info"] = device_info
        return self.request("POST", "/v1/volumes/disconnect", body)

    def extend(self, protocol, properties):
        return self.request("POST", "/v1/volumes/extend", {"protocol": protocol, "connection_properties": properties})

    def volume_paths(self, protocol, properties):
        return self.request("POST", "/v1/volumes/paths", {"protocol": protocol, "connection_properties": properties})

    def check_device(self, path):
        return self.request("POST", "/v1/devices/check", {"path": path})
