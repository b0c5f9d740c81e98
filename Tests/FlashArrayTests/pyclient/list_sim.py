"""List volumes and hosts from fa-sim with Pure's own Python SDK (py-pure-client).

Usage: FA_TOKEN=... python3 list_sim.py HOST:PORT CA_PEM
Prints one JSON object: the REST version py-pure-client chose, and the volumes and hosts
as its (strictly typed, pydantic) models parsed them. Exits non-zero on any error.
"""
import json
import os
import sys

try:
    from pypureclient import flasharray
    from pypureclient.configuration import Configuration
except ImportError:
    sys.stderr.write("py-pure-client is not installed: pip install py-pure-client\n")
    sys.exit(3)


def main():
    target, ca = sys.argv[1], sys.argv[2]
    client = flasharray.Client(target, api_token=os.environ["FA_TOKEN"], verify_ssl=True,
                               configuration=Configuration(ssl_ca_cert=ca), timeout=10, retries=1)
    out = {"version": client.get_rest_version()}
    # writes in py-pure-client's own request shapes, read back by the Swift module
    made = client.post_volumes(names=["vol-from-py"], volume=flasharray.VolumePost(provisioned=1 << 30))
    if made.status_code != 200:
        raise SystemExit("post_volumes: %s" % made.errors[0].message)
    grown = client.patch_volumes(names=["vol-from-py"], volume=flasharray.VolumePatch(provisioned=2 << 30))
    if grown.status_code != 200:
        raise SystemExit("patch_volumes: %s" % grown.errors[0].message)
    out["created_serial"] = list(made.items)[0].serial
    vols = client.get_volumes()
    if vols.status_code != 200:
        raise SystemExit("get_volumes: %s" % vols.errors[0].message)
    out["volumes"] = [{"name": v.name, "serial": v.serial, "provisioned": v.provisioned, "destroyed": v.destroyed}
                      for v in vols.items]
    out["volumes_total"] = vols.total_item_count
    hosts = client.get_hosts()
    if hosts.status_code != 200:
        raise SystemExit("get_hosts: %s" % hosts.errors[0].message)
    out["hosts"] = [{"name": h.name, "iqns": list(h.iqns), "connectivity": h.port_connectivity.status}
                    for h in hosts.items]
    conns = client.get_connections()
    out["connections"] = [{"host": c.host.name, "volume": c.volume.name, "lun": c.lun} for c in conns.items]
    tags = client.get_hosts_tags(namespaces=["pathagent"])
    out["tags"] = sorted("%s=%s" % (t.key, t.value) for t in tags.items)
    space = list(client.get_arrays_space().items)[0]
    out["capacity"] = space.capacity
    print(json.dumps(out))


if __name__ == "__main__":
    main()
