"""Cinder's real Pure iSCSI driver and Nova's use of os-brick, end to end through pathagent.

Usage (root, in the lab guest): FA_TOKEN=... python3 cinder_e2e.py HOST:PORT CA_PEM WORKDIR NOVA_CMD...

The volume side runs as cinder-volume runs it: PyPI `cinder` + `py-pure-client`, its own
database and locks (the unit tier's harness, Tests/FlashArrayTests/pyclient/
cinder_driver.py, builds the driver the same way), against fa-sim bound to tgt, so the
array's volumes are real LUNs. The compute side is NOVA_CMD (lab/tools/nova_brick.py run as
the unprivileged `nova` user in the agent's api.group): os-brick's factory with the
drop-in connector enabled, called as Nova's libvirt iSCSI volume driver calls it.

For each backend (plain, then with CHAP): do_setup; create_volume; the host's connector
properties; initialize_connection; connect_volume; data written and read back through the
returned path; extend_volume through Cinder, then the connector's extend_volume; the data
still there; disconnect_volume; terminate_connection; delete_volume; nothing of the volume
left on the host (disk, map, session) or connected on the array; no CHAP secret in the
agent's log.

Prints "PASS: ..." / "FAIL: ..." lines (the lab's tally counts them) and exits 1 on the
first failure, 3 if cinder or py-pure-client is missing.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.environ.get("LAB_PYCLIENT", "/lab/pyclient"))
import cinder_driver as cd  # noqa: E402  (exits 3 without cinder / py-pure-client)
from cinder_driver import CheckFailed, cfg, cinder_context, coordination, db_api, db_models, pure, units  # noqa: E402

TARGET, CA, W = sys.argv[1], sys.argv[2], sys.argv[3]
NOVA = sys.argv[4:]
TOKEN = os.environ["FA_TOKEN"]
AGENT_LOG = os.environ.get("AGENT_LOG", "")
PURE_OUI = "3624a9370"


def check(cond, what, *detail):
    """cinder_driver's check, also printed for the lab's tally."""
    try:
        cd.check(cond, what, *detail)
    except CheckFailed as e:
        e.printed = True
        print("FAIL: %s" % e, flush=True)
        raise
    print("PASS: %s" % what, flush=True)


def nova(*args):
    """NOVA_CMD OP ARGS as the nova user: (ok, parsed JSON or the EXC line)."""
    r = subprocess.run(NOVA + list(args), capture_output=True, text=True, timeout=300)
    out = r.stdout.strip()
    if r.returncode != 0:
        return False, out + r.stderr.strip()[-400:]
    return True, json.loads(out)


def save(name, obj):
    path = os.path.join(W, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    os.chmod(path, 0o644)  # the nova user reads it (it carries the CHAP secret only in W, 0755, lab only)
    return path


def disks_of(wwn):
    """sd disks whose kernel identity or address belongs to the volume (sysfs wwid)."""
    out = []
    for b in glob.glob("/sys/block/sd*"):
        try:
            w = open(b + "/device/wwid").read().strip()
        except OSError:
            continue
        if w.startswith("naa.") and "3" + w[4:] == wwn:
            out.append(os.path.basename(b))
    return sorted(out)


def map_exists(wwn):
    return subprocess.run(["dmsetup", "info", wwn], capture_output=True).returncode == 0


def sessions(iqn):
    r = subprocess.run(["iscsiadm", "-m", "session"], capture_output=True, text=True)
    return [l for l in r.stdout.splitlines() if iqn in l]


def size_of(path):
    return int(subprocess.run(["blockdev", "--getsize64", path], capture_output=True, text=True, check=True).stdout)


def wait(secs, fn):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.2)
    return fn()


def run_backend(ctxt, sim, group, chap):
    tag = "%s: " % group
    cd.step(tag + "do_setup")
    drv = cd.make_driver(pure.PureISCSIDriver, group)
    drv.do_setup(ctxt)
    drv.check_for_setup_error()
    check(drv._array.array_name == "fa-sim", tag + "do_setup found the array")

    cd.step(tag + "create_volume")
    t0 = time.monotonic()
    vol, name = cd.create(drv, ctxt, sim, 1)
    wwn = cd.wwn_of(sim, name)
    check(wwn.startswith(PURE_OUI), tag + "create_volume made volume %s (WWN %s)" % (name, wwn))

    cd.step(tag + "connector")
    # the connector's get_connector_properties (the agent's answer): os-brick's module-level
    # function also asks its other connectors, through a root helper (sudo) the lab's nova
    # user does not have
    ok, connector = nova("connector")
    check(ok and connector.get("initiator", "").startswith("iqn."), tag + "the host's connector properties name its initiator", connector)
    check(bool(connector.get("system uuid")), tag + "the connector properties carry the system uuid", connector)

    cd.step(tag + "initialize_connection")
    cd.attach(ctxt, vol, str(uuid.uuid4()), connector["host"])
    info = drv.initialize_connection(vol, connector)
    data = info["data"]
    check(info["driver_volume_type"] == "iscsi" and len(data["target_portals"]) == 2,
          tag + "initialize_connection: iSCSI, two portals", info["driver_volume_type"], data.get("target_portals"))
    check(data["wwn"] == wwn, tag + "the connection info names the volume's WWN")
    check(("auth_method" in data) == chap, tag + ("CHAP credentials in the connection info" if chap else "no CHAP without use_chap_auth"))
    props = save("props-%s.json" % group, data)

    cd.step(tag + "connect_volume")
    ok, dev = nova("connect", props)
    check(ok and dev.get("path", "").startswith("/dev/"), tag + "connect_volume as nova through the agent", dev)
    info_path = save("dev-%s.json" % group, dev)
    path = dev["path"]
    check(dev.get("scsi_wwn") == wwn and dev.get("multipath_id") == wwn, tag + "device_info: the volume's WWN and map", dev)
    check(len(disks_of(wwn)) == 2 and map_exists(wwn), tag + "two paths under one map", disks_of(wwn))
    pattern = os.urandom(4 << 20)
    with open(path, "r+b", buffering=0) as f:
        f.write(pattern)
        os.fsync(f.fileno())
    subprocess.run(["blockdev", "--flushbufs", path], check=True)
    r = subprocess.run(["dd", "if=" + path, "bs=1M", "count=4", "iflag=direct", "status=none"], capture_output=True)
    check(r.stdout == pattern, tag + "data written through the returned path reads back (O_DIRECT)")

    cd.step(tag + "extend_volume")
    drv.extend_volume(vol, 2)
    check(sim.volume(name)["provisioned"] == 2 * units.Gi, tag + "Cinder's extend_volume grew the array volume")
    ok, new = nova("extend", props)
    check(ok and new == 2 * units.Gi, tag + "the connector's extend_volume answers the new size (2 GiB)", new)
    check(size_of(path) == 2 * units.Gi, tag + "the map is 2 GiB", size_of(path))
    r = subprocess.run(["dd", "if=" + path, "bs=1M", "count=4", "iflag=direct", "status=none"], capture_output=True)
    check(r.stdout == pattern, tag + "the data is intact after the extend")

    cd.step(tag + "disconnect_volume")
    ok, out = nova("disconnect", props, info_path)
    check(ok, tag + "disconnect_volume as nova", out)
    check(wait(20, lambda: not disks_of(wwn)) and not map_exists(wwn), tag + "no disk or map of the volume left", disks_of(wwn))
    iqn = data["target_iqns"][0] if "target_iqns" in data else data["target_iqn"]
    check(wait(10, lambda: not sessions(iqn)), tag + "the array's sessions logged out (no LUN left on them)", sessions(iqn))

    cd.step(tag + "terminate_connection")
    drv.terminate_connection(vol, connector)
    check(not sim.items("connections", volume_names=name), tag + "terminate_connection: the array has no connection of the volume")
    check(not sim.host_with("iqns", connector["initiator"]), tag + "the Cinder-made host is gone from the array")

    cd.step(tag + "delete_volume")
    drv.delete_volume(vol)
    check(sim.volume(name)["destroyed"], tag + "delete_volume destroyed the array volume")
    if chap:
        secret = data["auth_password"]
        log = open(AGENT_LOG, errors="replace").read() if AGENT_LOG else ""
        check(log != "" and secret not in log, tag + "the agent's log (%d bytes) does not carry the CHAP secret" % len(log))
    print("%s%.1f s from create_volume to delete_volume" % (tag, time.monotonic() - t0), flush=True)


def main():
    tmp = tempfile.mkdtemp(prefix="cinder-e2e-")
    os.environ["SSL_CERT_FILE"] = CA  # see cinder_driver.main: py-pure-client ignores ssl_cert
    cfg.CONF(["--config-file", cd.write_conf(tmp, TARGET, CA, TOKEN)], project="cinder",
             default_config_files=[], default_config_dirs=[])
    db_models.BASE.metadata.create_all(db_api.get_engine())
    coordination.COORDINATOR.start()
    ctxt = cinder_context.get_admin_context()
    db_api.volume_type_create(ctxt, {"name": cfg.CONF.default_volume_type, "description": "Default Volume Type"})
    sim = cd.SimREST(TARGET, CA, TOKEN)
    try:
        run_backend(ctxt, sim, "pure-iscsi", chap=False)
        run_backend(ctxt, sim, "pure-chap", chap=True)
    except CheckFailed as e:
        if not getattr(e, "printed", False):  # a check inside the unit tier's harness
            print("FAIL: %s" % e, flush=True)
        sys.exit(1)
    finally:
        coordination.COORDINATOR.stop()
    print("cinder end to end: %d checks, steps: %s" % (cd.CHECKS, "; ".join(cd.STEPS)), flush=True)
    with open(os.path.join(W, "e2e.done"), "w") as f:
        f.write("%d\n" % cd.CHECKS)


if __name__ == "__main__":
    main()
