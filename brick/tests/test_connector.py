"""The connectors against the real daemon: return shapes, error mapping, what the unit
tier's daemon (fixture trees, or the live host with an empty journal) really answers."""

import json
import os
import platform
import subprocess
import sys

import pytest

from conftest import FIXTURES, require
from pathagent_brick import client, connector, exception

BRICK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# agent-host fixture: etc/iscsi/initiatorname.iscsi, sys/class/dmi/id/product_uuid,
# FC host7 Online (reported), host8 Linkdown (not reported)
FIXTURE_IQN = "iqn.1993-08.org.debian:01:5c3a9e2b7f41"
FIXTURE_WWPNS = ["21000024ff7f3e10"]
FIXTURE_WWNNS = ["20000024ff7f3e10"]

# iscsi-fc-dm fixture: sessions to 10.10.1.10 and 10.10.2.11 (one IQN), LUN 2 is this volume
DM_IQN = "iqn.2010-06.com.purestorage:flasharray.5a2f1b8a3c9d7e01"
DM_WWN = "3624a93709714b5cb91634c4700000002"


def iscsi_props(**over):
    p = {
        "target_discovered": False,
        "target_portals": ["192.0.2.10:3260", "192.0.2.11:3260"],
        "target_iqns": ["iqn.2010-06.com.purestorage:flasharray.0000000000000001"] * 2,
        "target_luns": [7, 7],
        "wwn": "3624a9370aaaaaaaaaaaaaaaa00000007",
        "discard": True,
    }
    p.update(over)
    return p


def dm_props():
    return iscsi_props(target_portals=["10.10.1.10:3260", "10.10.2.11:3260"], target_iqns=[DM_IQN] * 2,
                       target_luns=[2, 2], wwn=DM_WWN)


def iscsi(agent, **kw):
    return connector.AgentISCSIConnector(None, use_multipath=True, pathagent_socket=agent.socket, **kw)


def fc(agent):
    return connector.AgentFibreChannelConnector(None, use_multipath=True, pathagent_socket=agent.socket)


# ---- exception classes


def test_exceptions_are_os_bricks_own_when_installed():
    require(exception.OS_BRICK, "os-brick is not installed (pip install os-brick)")
    from os_brick import exception as brick

    for name in exception._NAMES:
        assert getattr(exception, name) is getattr(brick, name), name


def test_without_os_brick_the_package_has_classes_of_the_same_names():
    # a fresh interpreter in which `import os_brick` fails
    code = (
        "import sys; sys.modules['os_brick'] = None\n"
        "from pathagent_brick import exception as e\n"
        "assert not e.OS_BRICK\n"
        "x = e.VolumeDeviceNotFound(device='/dev/sdz')\n"
        "assert isinstance(x, e.BrickException) and x.msg == 'Volume device not found at /dev/sdz.', x.msg\n"
        "assert issubclass(e.InvalidParameterValue, e.Invalid) and issubclass(e.TargetPortalsNotFound, e.TargetPortalNotFound)\n"
        "assert issubclass(e.InvalidConnectorProtocol, ValueError)\n"
        "print(sorted(n for n in e._NAMES if isinstance(getattr(e, n), type)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=BRICK)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.replace("'", '"')) == sorted(exception._NAMES)


# ---- get_connector_properties


def test_connector_properties_are_the_agents(fixture_agent):
    props = connector.AgentISCSIConnector.get_connector_properties(
        None, multipath=True, enforce_multipath=False, host="compute-7", pathagent_socket=fixture_agent.socket)
    assert props["initiator"] == FIXTURE_IQN
    assert props["wwpns"] == FIXTURE_WWPNS
    assert props["wwnns"] == FIXTURE_WWNNS
    assert props["system uuid"].lower() == "4c4c4544-0042-3510-8052-b4c04f4e3232"
    assert props["multipath"] is True and props["enforce_multipath"] is False
    assert props["host"] == "compute-7"
    assert props["os_type"] == sys.platform and props["platform"] == platform.machine()
    # the agent's own address must not replace the service's my_ip when os-brick merges
    assert "ip" not in props


def test_module_level_properties_have_os_bricks_merged_keys(fixture_agent):
    props = connector.get_connector_properties(None, "192.0.2.7", False, True, host="compute-8",
                                               pathagent_socket=fixture_agent.socket)
    assert props["ip"] == "192.0.2.7"
    assert props["host"] == "compute-8"
    assert props["multipath"] is False and props["enforce_multipath"] is True
    assert props["platform"] == platform.machine()
    assert props["os_type"] == sys.platform
    assert props["initiator"] == FIXTURE_IQN
    assert set(props) >= {"platform", "os_type", "ip", "host", "multipath", "enforce_multipath", "initiator",
                          "wwpns", "wwnns"}


def test_supports_multipath_is_the_agents_setting(fixture_agent):
    # multipath.use_multipath defaults to true in the agent
    assert iscsi(fixture_agent).supports_multipath() is True


# ---- connect


def test_connect_missing_key_is_invalid_parameter_value(fixture_agent):
    # os-brick's single-path form without its target_iqn
    p = {"target_portal": "192.0.2.10:3260", "target_lun": 7, "wwn": "3624a9370aaaaaaaaaaaaaaaa00000007"}
    with pytest.raises(exception.InvalidParameterValue) as ei:
        iscsi(fixture_agent).connect_volume(p)
    assert ei.value.agent_code == "bad_request.missing_key"
    assert ei.value.agent_status == 400
    assert ei.value.agent_key == "target_iqn"


def test_connect_bad_value_names_the_key(fixture_agent):
    with pytest.raises(exception.InvalidParameterValue) as ei:
        iscsi(fixture_agent).connect_volume(iscsi_props(target_luns=[7, -1]))
    assert ei.value.agent_code == "bad_request.invalid_value"
    assert isinstance(ei.value, exception.BrickException)


def test_fc_connect_validates_fc_properties(fixture_agent):
    # iSCSI properties are not FC properties: the agent says which key is missing
    with pytest.raises(exception.InvalidParameterValue) as ei:
        fc(fixture_agent).connect_volume(iscsi_props())
    assert ei.value.agent_code == "bad_request.missing_key"
    assert "target_wwn" in ei.value.agent_key


def test_connect_on_a_read_only_tree_is_refused_by_the_agent(fixture_agent):
    # valid properties: the agent validates them, then refuses to act on a fixture tree
    with pytest.raises(exception.BrickException) as ei:
        iscsi(fixture_agent).connect_volume(iscsi_props())
    assert ei.value.agent_code == "unsupported"
    assert not isinstance(ei.value, exception.InvalidParameterValue)
    assert "live kernel" in str(ei.value)


def test_encrypted_volume_is_refused_before_the_agent_is_asked(tmp_path):
    c = connector.AgentISCSIConnector(None, pathagent_socket=str(tmp_path / "nothing.sock"))
    with pytest.raises(exception.VolumeEncryptionNotSupported):
        c.connect_volume(iscsi_props(encrypted=True, volume_id="v-1"))


def test_iscsi_iface_transport_is_refused(fixture_agent):
    with pytest.raises(exception.BrickException) as ei:
        iscsi(fixture_agent, transport="bnx2i.00:11:22:33:44:55").connect_volume(iscsi_props())
    assert "transport" in str(ei.value)
    assert getattr(ei.value, "agent_code", None) is None  # refused here, not by the agent


def test_agent_not_running_is_a_brick_exception(tmp_path):
    c = connector.AgentISCSIConnector(None, pathagent_socket=str(tmp_path / "nothing.sock"))
    with pytest.raises(exception.BrickException) as ei:
        c.get_volume_paths(iscsi_props())
    assert ei.value.agent_code == "unavailable"
    assert "not running" in str(ei.value)


# ---- paths, extend, check, disconnect


def test_get_volume_paths_of_nothing_is_empty(fixture_agent):
    assert iscsi(fixture_agent).get_volume_paths(iscsi_props()) == []


def test_get_volume_paths_lists_the_volumes_disks(dm_agent):
    paths = iscsi(dm_agent).get_volume_paths(dm_props())
    assert len(paths) == 2, paths
    assert all(p.startswith("/dev/sd") for p in paths)
    # another LUN on the same sessions is another volume: none of its disks
    other = iscsi(dm_agent).get_volume_paths(dict(dm_props(), target_luns=[3, 3], wwn="3624a9370aaaaaaaaaaaaaaaa00000003"))
    assert not set(other) & set(paths)


def test_get_all_available_volumes_lists_disks_and_maps(dm_agent):
    c = iscsi(dm_agent)
    allv = c.get_all_available_volumes()
    assert set(c.get_volume_paths(dm_props())) <= set(allv)
    assert any(v.startswith("/dev/dm-") for v in allv), allv
    assert c.get_search_path() == "/dev"
    # FC disks of the same host are not iSCSI volumes
    fcv = fc(dm_agent).get_all_available_volumes()
    assert fcv and not set(c.get_volume_paths(dm_props())) & set(fcv)


def test_extend_without_paths_is_volume_paths_not_found(fixture_agent):
    with pytest.raises(exception.VolumePathsNotFound):
        iscsi(fixture_agent).extend_volume(iscsi_props())


def test_extend_on_a_read_only_tree_is_refused(dm_agent):
    # the volume has disks in the tree, so the agent is asked, and it refuses to rescan
    with pytest.raises(exception.BrickException) as ei:
        iscsi(dm_agent).extend_volume(dm_props())
    assert ei.value.agent_code == "unsupported"
    assert not isinstance(ei.value, exception.VolumePathsNotFound)


def test_check_valid_device(fixture_agent):
    c = iscsi(fixture_agent)
    assert c.check_valid_device("/etc/passwd") is False  # not under /dev: the agent refuses the path
    assert c.check_valid_device("/dev/sdb") is False  # not a volume's disk in this tree


def test_disconnect_on_a_read_only_tree_is_refused(fixture_agent):
    with pytest.raises(exception.BrickException) as ei:
        iscsi(fixture_agent).disconnect_volume(iscsi_props(), None)
    assert ei.value.agent_code == "unsupported"
    assert not isinstance(ei.value, exception.VolumeDeviceNotFound)


def test_live_disconnect_without_any_wwn_is_invalid(live_agent):
    p = iscsi_props()
    del p["wwn"]
    with pytest.raises(exception.InvalidParameterValue) as ei:
        iscsi(live_agent).disconnect_volume(p, {"type": "block"})  # no path: not sent
    assert ei.value.agent_code == "bad_request.missing_key"
    assert ei.value.agent_key == "wwn"


def test_live_disconnect_wwn_and_device_info_that_disagree(live_agent):
    info = {"type": "block", "path": "/dev/dm-9", "scsi_wwn": "3624a9370bbbbbbbbbbbbbbbb00000009"}
    with pytest.raises(exception.BrickException) as ei:
        iscsi(live_agent).disconnect_volume(iscsi_props(), info)
    assert ei.value.agent_code == "conflict"
    assert ei.value.agent_key == "device_info.scsi_wwn"
    assert not isinstance(ei.value, exception.VolumeDeviceNotFound)


def test_live_disconnect_of_an_unknown_volume_is_quiet(live_agent):
    # os-brick's iSCSI and FC connectors return None when the volume is not there; so
    # does the agent (it removes exactly the volume's devices: here none, no session)
    assert iscsi(live_agent).disconnect_volume(iscsi_props(), None) is None
    assert fc(live_agent).disconnect_volume(
        {"target_wwn": ["524a937d4c0e6aff"], "target_lun": 9, "wwn": "3624a9370aaaaaaaaaaaaaaaa00000009"}, None) is None
    assert "volume detached" in live_agent.log()


def test_live_paths_and_check_of_nothing(live_agent):
    c = iscsi(live_agent)
    assert c.get_volume_paths(iscsi_props()) == []
    with pytest.raises(exception.VolumePathsNotFound):
        c.extend_volume(iscsi_props())
    # a character device is not a volume's: answered invalid without being opened
    assert c.check_valid_device("/dev/null") is False


def test_no_secret_in_the_agents_log(fixture_agent):
    secret = "chap-secret-brick-7Qz"
    with pytest.raises(exception.BrickException) as ei:
        iscsi(fixture_agent).connect_volume(iscsi_props(auth_method="CHAP", auth_username="u", auth_password=secret))
    assert secret not in str(ei.value)
    assert secret not in fixture_agent.log()
    assert "<redacted>" in fixture_agent.log()


def test_client_raw_error_shape(fixture_agent):
    c = client.AgentClient(fixture_agent.socket)
    with pytest.raises(client.AgentError) as ei:
        c.request("GET", "/v1/volumes/connect")
    assert ei.value.status == 405 and ei.value.code == "method_not_allowed"
    assert c.version()["version"]


@pytest.mark.parametrize("code,operation,proto,expected", [
    ("bad_request.missing_key", "connect", "iscsi", "InvalidParameterValue"),
    ("bad_request.malformed_json", "disconnect", "fc", "InvalidParameterValue"),
    ("not_found", "disconnect", "iscsi", "VolumeDeviceNotFound"),
    ("not_found", "extend", "iscsi", "VolumePathsNotFound"),
    ("not_found", "connect", "fc", "NoFibreChannelVolumeDeviceFound"),
    ("not_found", "connect", "iscsi", "VolumeDeviceNotFound"),
    ("timeout", "connect", "iscsi", "VolumeDeviceNotFound"),
    ("timeout", "connect", "fc", "NoFibreChannelVolumeDeviceFound"),
    ("timeout", "disconnect", "iscsi", "BrickException"),
    ("conflict", "disconnect", "iscsi", "BrickException"),
    ("forbidden", "connect", "iscsi", "BrickException"),
    ("host_error", "connect", "iscsi", "BrickException"),
])
def test_error_code_mapping(code, operation, proto, expected):
    # the table for codes the unit tier's daemon cannot be made to answer (a real login
    # failure, a device that never shows up)
    e = exception.from_agent(client.AgentError(404, code, "m", key="k"), operation, proto, "3624a9370aaaa")
    assert type(e).__name__ == expected
    assert type(e) is getattr(exception, expected)
    assert isinstance(e, exception.BrickException)
    assert (e.agent_code, e.agent_key, e.agent_status) == (code, "k", 404)
    if expected == "VolumeDeviceNotFound":
        assert e.kwargs["device"] == "3624a9370aaaa"
