"""What Nova's libvirt iSCSI volume driver does with os-brick, one call per run.

Usage: python3 nova_brick.py OP [ARGS]   (run as the unprivileged service user)
  class                       the class os-brick's factory('ISCSI') returns
  connector                   that connector's get_connector_properties
  connect PROPS.json          connect_volume      -> device_info (JSON)
  paths PROPS.json            get_volume_paths    -> [paths]
  valid PATH                  check_valid_device  -> true|false
  extend PROPS.json           extend_volume       -> new size in bytes
  disconnect PROPS.json DEVICE_INFO.json [force] [ignore]

Prints the result as JSON; on an exception prints "EXC <class>: <message>" and exits 1.
"""
import json
import sys

from os_brick.initiator import connector as brick

MY_IP, HOST = "192.0.2.10", "compute-1"


def main():
    op, args = sys.argv[1], sys.argv[2:]
    conn = brick.InitiatorConnector.factory("ISCSI", None, use_multipath=True, device_scan_attempts=5)

    def load(p):
        with open(p) as f:
            return json.load(f)

    try:
        if op == "class":
            print(type(conn).__module__ + "." + type(conn).__name__)
        elif op == "connector":
            print(json.dumps(conn.get_connector_properties(None, my_ip=MY_IP, multipath=True, enforce_multipath=True, host=HOST)))
        elif op == "connect":
            print(json.dumps(conn.connect_volume(load(args[0]))))
        elif op == "paths":
            print(json.dumps(conn.get_volume_paths(load(args[0]))))
        elif op == "valid":
            print(json.dumps(conn.check_valid_device(args[0])))
        elif op == "extend":
            print(json.dumps(conn.extend_volume(load(args[0]))))
        elif op == "disconnect":
            conn.disconnect_volume(load(args[0]), load(args[1]), force="force" in args[2:], ignore_errors="ignore" in args[2:])
            print("null")
        else:
            raise SystemExit("unknown op %r" % op)
    except Exception as e:  # what Nova would see
        print("EXC %s: %s" % (type(e).__name__, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
