"""Drive Cinder's real Pure Storage driver (PyPI `cinder` + `py-pure-client`) against fa-sim.

Usage: FA_TOKEN=... python3 cinder_driver.py HOST:PORT CA_PEM

Builds `PureISCSIDriver` (without and with CHAP) and `PureFCDriver` the way cinder-volume
does (an oslo config file with one stanza per backend, Cinder's own database on a
throw-away SQLite file, file-based coordination locks) and runs do_setup, create_volume,
initialize_connection, extend_volume, get_volume_stats, terminate_connection and
delete_volume. After each step the simulator's state is read back through its REST API
(plain HTTPS requests, not the driver's client) and compared with what the driver returned.

Prints one JSON line when every check passed: {"checks": N, "steps": [...]}. Exits 1 on
the first failed check (the message says which), 3 if cinder or py-pure-client is missing.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import uuid

try:
    import requests
    from oslo_config import cfg
    from cinder import objects
    objects.register_all()
    from cinder import context as cinder_context
    from cinder import coordination
    from cinder.db import api as db_api
    from cinder.db import models as db_models
    from cinder.volume import configuration as volume_configuration
    from cinder.volume import driver as volume_driver
    from cinder.volume.drivers import pure
    from oslo_utils import units
    import pypureclient  # noqa: F401  (the driver imports it lazily; fail here, not in do_setup)
except ImportError as e:
    sys.stderr.write("cinder or py-pure-client is not installed (%s): pip install -r Tests/FlashArrayTests/pyclient/cinder-requirements.txt\n" % e)
    sys.exit(3)

CHECKS = 0
STEPS = []


class CheckFailed(Exception):
    pass


def check(cond, what, *detail):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise CheckFailed("%s [step: %s] %s" % (what, STEPS[-1] if STEPS else "-", " ".join(repr(d) for d in detail)))


def step(name):
    STEPS.append(name)


class SimREST:
    """The simulator's REST API, read with plain HTTPS (independent of py-pure-client)."""

    def __init__(self, target, ca, token):
        self.base = "https://" + target
        self.s = requests.Session()
        self.s.trust_env = False    # REQUESTS_CA_BUNDLE would replace the simulator's CA
        self.s.verify = ca
        self.s.headers["User-Agent"] = "cinder_driver.py checks"
        versions = self.s.get(self.base + "/api/api_version", timeout=10).json()["version"]
        self.v = versions[-1]
        r = self.s.post("%s/api/%s/login" % (self.base, self.v), headers={"api-token": token}, timeout=10)
        r.raise_for_status()
        self.s.headers["x-auth-token"] = r.headers["x-auth-token"]

    def get(self, resource, **params):
        r = self.s.get("%s/api/%s/%s" % (self.base, self.v, resource), params=params, timeout=10)
        return r.status_code, r.json()

    def items(self, resource, **params):
        status, body = self.get(resource, **params)
        if status != 200:
            raise CheckFailed("GET %s %s: %s %s" % (resource, params, status, body))
        return body["items"]

    def hook(self, path, **params):
        r = self.s.post(self.base + path, params=params, timeout=10)
        return r.status_code, r.json()

    def volume(self, name):
        status, body = self.get("volumes", names=name)
        return body["items"][0] if status == 200 else None

    def volume_tags(self, name):
        return {t["key"]: t["value"] for t in self.items("volumes/tags", resource_names=name,
                                                          namespaces=pure.TAG_NAMESPACE)}

    def host_with(self, initiator_field, value):
        return [h for h in self.items("hosts") if value in h.get(initiator_field, [])]

    def host_chap_secret(self, host):
        status, body = self.hook("/sim/host-chap", name=host)
        check(status == 200, "the simulator tells the CHAP secret stored on host", host, body)
        return body["host_password"]


def write_conf(tmp, target, ca, token):
    path = os.path.join(tmp, "cinder.conf")
    common = ("volume_backend_name = {name}\nsan_ip = {target}\npure_api_token = {token}\n"
              "driver_ssl_cert_verify = True\ndriver_ssl_cert_path = {ca}\npure_iscsi_cidr = 127.0.0.0/8\n")
    stanzas = [
        ("pure-iscsi", "cinder.volume.drivers.pure.PureISCSIDriver", "use_chap_auth = False\n"),
        ("pure-chap", "cinder.volume.drivers.pure.PureISCSIDriver", "use_chap_auth = True\n"),
        ("pure-fc", "cinder.volume.drivers.pure.PureFCDriver", "pure_eradicate_on_delete = True\n"),
    ]
    text = ("[DEFAULT]\nenabled_backends = %s\nstate_path = %s\nlock_path = %s\n"
            "[database]\nconnection = sqlite:///%s\n[coordination]\nbackend_url = file://%s\n") % (
        ",".join(s[0] for s in stanzas), tmp, tmp, os.path.join(tmp, "cinder.sqlite"), os.path.join(tmp, "locks"))
    for name, drv, extra in stanzas:
        text += "[%s]\nvolume_driver = %s\n" % (name, drv)
        text += common.format(name=name, target=target, token=token, ca=ca) + extra
    with open(path, "w") as f:
        f.write(text)
    return path


def make_driver(cls, group):
    # what cinder-volume's VolumeManager hands a driver: its stanza and the database API
    conf = volume_configuration.Configuration(volume_driver.volume_opts, config_group=group)
    return cls(configuration=conf, db=db_api, host="cinder-host@" + group)


def new_volume(ctxt, size, project="project-1"):
    v = objects.Volume(ctxt, size=size, status="creating", project_id=project, user_id="user-1",
                       display_name="vol-%s" % uuid.uuid4().hex[:6], attach_status="detached")
    v.create()
    return v


def create(drv, ctxt, sim, size, project="project-1"):
    vol = new_volume(ctxt, size, project)
    update = drv.create_volume(vol)
    vol.update(update)
    vol.save()
    name = update["provider_id"]
    check(name == "volume-%s-cinder" % vol.id, "create_volume names the array volume after the Cinder volume", name)
    on = sim.volume(name)
    check(on is not None, "create_volume made the volume on the array", name)
    check(on["provisioned"] == size * units.Gi and not on["destroyed"], "the array volume has the requested size", on)
    check(update["metadata"]["array_name"] == "fa-sim", "model update names the array", update)
    tags = sim.volume_tags(name)
    check(tags == {"ProjectId": project, "VolType": "Data", "DataStoreType": "Direct Access"},
          "create_volume tagged the volume on the array", tags)
    return vol, name


def attach(ctxt, vol, instance, host):
    a = objects.VolumeAttachment(ctxt, volume_id=vol.id, instance_uuid=instance, attached_host=host,
                                 attach_status="attaching")
    a.create()
    return a


def wwn_of(sim, name):
    return "3624a9370" + sim.volume(name)["serial"].lower()


def expected_iscsi_targets(sim):
    # the driver's view: ports of ready controllers with an IQN, in the 127.0.0.0/8 CIDR
    ready = {c["name"] for c in sim.items("controllers") if c["status"] == "ready"}
    return [p for p in sim.items("ports") if p.get("iqn") and p["name"].split(".")[0] in ready]


def lun_of(sim, host, name):
    conns = [c for c in sim.items("connections", volume_names=name) if c["host"]["name"] == host]
    check(len(conns) == 1, "one connection of the volume to the host", host, name, conns)
    return conns[0]["lun"]


def stats_check(drv, sim, protocol):
    stats = drv.get_volume_stats(refresh=True)
    space = sim.items("arrays/space")[0]
    vols = sim.items("volumes")
    live = [v for v in vols if not v["destroyed"]]
    check(stats["storage_protocol"] == protocol, "stats name the protocol", stats["storage_protocol"])
    check(stats["total_capacity_gb"] == space["capacity"] / units.Gi, "total capacity is the array's", stats["total_capacity_gb"], space)
    check(stats["provisioned_capacity_gb"] == sum(v["provisioned"] for v in live) / units.Gi,
          "provisioned capacity is the sum of the array's live volumes", stats["provisioned_capacity_gb"], live)
    check(stats["free_capacity_gb"] == (space["capacity"] - space["space"]["total_physical"]) / units.Gi,
          "free capacity is capacity less physical use", stats["free_capacity_gb"], space)
    check(stats["total_volumes"] == len(vols), "volume count is the array's", stats["total_volumes"], len(vols))
    check(stats["total_hosts"] == len(sim.items("hosts")), "host count is the array's", stats["total_hosts"])
    check(stats["total_snapshots"] == len(sim.items("volume-snapshots")), "snapshot count is the array's")
    check(stats["total_pgroups"] == len(sim.items("protection-groups")), "pgroup count is the array's")
    check(stats["replication_capability"] is None, "no array connections, no replication", stats["replication_capability"])
    check(stats["vendor_name"] == "Pure Storage" and stats["volume_backend_name"] == drv._backend_name, "stats name the backend")
    return stats


def run_iscsi(ctxt, sim, group, chap):
    tag = "%s: " % group
    step(tag + "do_setup")
    drv = make_driver(pure.PureISCSIDriver, group)
    drv.do_setup(ctxt)
    drv.check_for_setup_error()
    check(drv._array.array_name == "fa-sim", "do_setup found the array", drv._array.array_name)

    step(tag + "create_volume")
    vol, name = create(drv, ctxt, sim, 1)
    vol2, name2 = create(drv, ctxt, sim, 2)

    node = "compute-chap" if chap else "compute-plain"
    connector = {"host": node + ".example.net", "initiator": "iqn.1994-05.com.redhat:" + node,
                 "ip": "127.0.0.1", "multipath": True, "platform": "x86_64", "os_type": "linux2",
                 "system uuid": str(uuid.uuid4())}

    step(tag + "initialize_connection")
    instance = str(uuid.uuid4())
    attach(ctxt, vol, instance, connector["host"])
    info = drv.initialize_connection(vol, connector)
    data = info["data"]
    check(info["driver_volume_type"] == "iscsi", "iSCSI connection info", info["driver_volume_type"])
    hosts = sim.host_with("iqns", connector["initiator"])
    check(len(hosts) == 1, "the driver registered one host with the initiator IQN", hosts)
    host = hosts[0]["name"]
    # Cinder's host name: the connector host's first 23 characters, the system UUID, -cinder
    check(host == "%s-%s-cinder" % (re.sub(r"[^-a-zA-Z0-9]", "-", connector["host"][:23]), connector["system uuid"].replace("-", "")),
          "the host has a Cinder-generated name", host)
    lun = lun_of(sim, host, name)
    ports = expected_iscsi_targets(sim)
    check(data["target_portals"] == [p["portal"] for p in ports], "target portals are the array's iSCSI ports", data, ports)
    check(data["target_iqns"] == [p["iqn"] for p in ports], "target IQNs are the array's", data["target_iqns"])
    check(data["target_luns"] == [lun] * len(ports), "target LUNs are the array's connection LUN", data["target_luns"], lun)
    check(data["wwn"] == wwn_of(sim, name), "the WWN comes from the array volume's serial", data["wwn"])
    tags = sim.volume_tags(name)
    check(tags.get("VmId") == instance and tags.get("VolType") == "Data" and tags.get("ProjectId") == "project-1",
          "initialize_connection tagged the volume with the instance", tags)
    if chap:
        secret = sim.host_chap_secret(host)
        check(data["auth_method"] == "CHAP" and data["auth_username"] == connector["host"], "CHAP user is the connector host", data)
        check(data["auth_password"] == secret and len(secret) >= 12, "the CHAP secret returned is the one set on the array host")
        check(sim.items("hosts", names=host)[0]["chap"].get("host_user") == connector["host"], "the array host has the CHAP user")
    else:
        check("auth_method" not in data, "no CHAP without use_chap_auth", data.get("auth_method"))

    step(tag + "initialize_connection (second volume, same host)")
    info2 = drv.initialize_connection(vol2, connector)
    check(len(sim.host_with("iqns", connector["initiator"])) == 1, "the host is reused for the second volume")
    lun2 = lun_of(sim, host, name2)
    check(lun2 != lun and info2["data"]["target_luns"][0] == lun2, "the second volume has its own LUN", lun, lun2)
    if chap:
        check(info2["data"]["auth_password"] == sim.host_chap_secret(host), "the CHAP secret is stable across attaches")

    step(tag + "extend_volume")
    drv.extend_volume(vol, 3)
    check(sim.volume(name)["provisioned"] == 3 * units.Gi, "extend_volume grew the array volume", sim.volume(name))

    step(tag + "get_volume_stats")
    stats_check(drv, sim, "iSCSI")

    step(tag + "terminate_connection")
    drv.terminate_connection(vol, connector)
    check(not sim.items("connections", volume_names=name), "terminate_connection removed the connection")
    check(sim.items("hosts", names=host), "the host stays while it has another volume")
    drv.terminate_connection(vol2, connector)
    status, body = sim.get("hosts", names=host)
    check(status == 400 and pure.ERR_MSG_NOT_EXIST in body["errors"][0]["message"],
          "the last terminate_connection deleted the Cinder-made host", status, body)

    step(tag + "delete_volume")
    drv.delete_volume(vol)
    drv.delete_volume(vol2)
    for n in (name, name2):
        v = sim.volume(n)
        # pure_eradicate_on_delete is False by default: destroyed, pending eradication
        check(v is not None and v["destroyed"], "delete_volume destroyed the array volume (not eradicated)", v)
    stats = stats_check(drv, sim, "iSCSI")
    check(stats["provisioned_capacity_gb"] == sum(v["provisioned"] for v in sim.items("volumes") if not v["destroyed"]) / units.Gi,
          "destroyed volumes no longer count as provisioned")
    return drv


def run_fc(ctxt, sim):
    tag = "pure-fc: "
    step(tag + "do_setup")
    drv = make_driver(pure.PureFCDriver, "pure-fc")
    drv.do_setup(ctxt)
    drv.check_for_setup_error()

    step(tag + "create_volume")
    vol, name = create(drv, ctxt, sim, 1)
    vol2, name2 = create(drv, ctxt, sim, 1)
    # os-brick reports WWPNs in lower case without colons
    connector = {"host": "compute-fc.example.net", "wwpns": ["21000024ff7f3e00", "21000024ff7f3e01"],
                 "wwnns": ["20000024ff7f3e00", "20000024ff7f3e01"], "multipath": True,
                 "system uuid": str(uuid.uuid4())}

    step(tag + "initialize_connection")
    info = drv.initialize_connection(vol, connector)
    data = info["data"]
    check(info["driver_volume_type"] == "fibre_channel", "FC connection info", info)
    hosts = [h for h in sim.items("hosts") if h["name"].startswith("compute-fc-example-net")]
    check(len(hosts) == 1, "the driver registered one FC host", hosts)
    host = hosts[0]["name"]
    # the array keeps WWNs in upper case without colons: what the driver's filter looks for
    check(hosts[0]["wwns"] == ["21000024FF7F3E00", "21000024FF7F3E01"], "the host's WWNs in the array's form", hosts[0]["wwns"])
    lun = lun_of(sim, host, name)
    ready = {c["name"] for c in sim.items("controllers") if c["status"] == "ready"}
    fc_ports = [p["wwn"].replace(":", "") for p in sim.items("ports") if p.get("wwn") and p["name"].split(".")[0] in ready]
    check(len(fc_ports) >= 2, "the simulator has FC ports", fc_ports)
    check(data["target_wwns"] == fc_ports and data["target_wwn"] == fc_ports, "target WWNs are the array's FC ports", data, fc_ports)
    check(data["target_lun"] == lun and data["target_luns"] == [lun] * len(fc_ports), "target LUN is the array's", data, lun)
    check(data["initiator_target_map"] == {w: fc_ports for w in connector["wwpns"]}, "every initiator maps to every target",
          data["initiator_target_map"])
    check(data["wwn"] == wwn_of(sim, name), "the WWN comes from the serial", data["wwn"])

    step(tag + "initialize_connection (second volume: the host is found by WWN)")
    info2 = drv.initialize_connection(vol2, connector)
    check(len([h for h in sim.items("hosts") if h["name"].startswith("compute-fc-example-net")]) == 1,
          "the FC host is found again by its WWN (no second host)")
    check(info2["data"]["target_lun"] == lun_of(sim, host, name2) != lun, "the second volume has its own LUN")

    step(tag + "extend_volume")
    drv.extend_volume(vol2, 4)
    check(sim.volume(name2)["provisioned"] == 4 * units.Gi, "extend_volume grew the array volume")

    step(tag + "get_volume_stats")
    stats_check(drv, sim, "FC")

    step(tag + "terminate_connection")
    out = drv.terminate_connection(vol, connector)
    check(out["data"] == {}, "no zone removal while the host has another volume", out)
    out = drv.terminate_connection(vol2, connector)
    check(out["driver_volume_type"] == "fibre_channel" and out["data"]["target_wwn"] == fc_ports,
          "the last detach hands back the target WWNs for unzoning", out)
    check(out["data"]["initiator_target_map"] == {w: fc_ports for w in connector["wwpns"]}, "and the zoning map", out)
    status, _ = sim.get("hosts", names=host)
    check(status == 400, "the FC host was deleted with its last connection", status)

    step(tag + "delete_volume")
    drv.delete_volume(vol)
    drv.delete_volume(vol2)
    for n in (name, name2):
        status, body = sim.get("volumes", names=n)
        check(status == 400 and pure.ERR_MSG_NOT_EXIST in body["errors"][0]["message"],
              "pure_eradicate_on_delete: the volume is gone from the array", n, status, body)
        status, body = sim.get("volumes/tags", resource_names=n)
        check(status != 200 or not body["items"], "its tags went with it", body)
    stats_check(drv, sim, "FC")


def main():
    target, ca = sys.argv[1], sys.argv[2]
    token = os.environ["FA_TOKEN"]
    tmp = tempfile.mkdtemp(prefix="cinder-sim-")
    # py-pure-client 1.96 stores Client(ssl_cert=...) (what the driver passes
    # driver_ssl_cert_path as) where its transport never reads it: the CA it verifies
    # against is OpenSSL's default, so the simulator's CA goes there as well.
    os.environ["SSL_CERT_FILE"] = ca
    # only this file: not a cinder.conf the machine may have in /etc/cinder or ~/.cinder
    cfg.CONF(["--config-file", write_conf(tmp, target, ca, token)], project="cinder",
             default_config_files=[], default_config_dirs=[])
    # Cinder's own schema on SQLite (attachments and the driver's CHAP secrets live there)
    db_models.BASE.metadata.create_all(db_api.get_engine())
    coordination.COORDINATOR.start()
    ctxt = cinder_context.get_admin_context()
    # what Cinder's schema migration seeds: the default volume type (no extra specs, no QoS)
    db_api.volume_type_create(ctxt, {"name": cfg.CONF.default_volume_type, "description": "Default Volume Type"})
    sim = SimREST(target, ca, token)
    try:
        run_iscsi(ctxt, sim, "pure-iscsi", chap=False)
        run_iscsi(ctxt, sim, "pure-chap", chap=True)
        run_fc(ctxt, sim)
    except CheckFailed as e:
        sys.stderr.write("FAILED: %s\n" % e)
        sys.exit(1)
    finally:
        coordination.COORDINATOR.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"checks": CHECKS, "steps": STEPS}))


if __name__ == "__main__":
    main()
