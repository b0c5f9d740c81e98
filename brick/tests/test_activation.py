"""enable / status / disable in a throwaway virtualenv that sees the system's os-brick.

The package is pip-installed into the venv from a copy of brick/ (as an operator would
install it into nova-compute's environment); the factory is then asked in fresh
interpreters of that venv, which is what a service started after ``enable`` gets.
"""

import json
import os
import shutil
import subprocess
import sys
import platform

import pytest

from conftest import require
from pathagent_brick import activation

BRICK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FACTORY = r"""
import json, sys
from os_brick.initiator import connector as c
cls = lambda o: type(o).__module__ + "." + type(o).__qualname__
iscsi = c.InitiatorConnector.factory("ISCSI", None, use_multipath=True)
fc = c.InitiatorConnector.factory("FIBRE_CHANNEL", None, use_multipath=True)
out = {"ISCSI": cls(iscsi), "FIBRE_CHANNEL": cls(fc), "use_multipath": iscsi.use_multipath,
       "list": [x for x in c.unix_connector_list if x.endswith(("ISCSIConnector", "FibreChannelConnector"))]}
if sys.argv[1] == "props":
    out["props"] = iscsi.get_connector_properties(None, multipath=True, enforce_multipath=False)
    out["paths"] = iscsi.get_volume_paths({"target_portal": "192.0.2.1:3260", "target_iqn":
        "iqn.2010-06.com.purestorage:flasharray.0000000000000001", "target_lun": 1,
        "wwn": "3624a9370aaaaaaaaaaaaaaaa00000001"})
print(json.dumps(out))
"""

OS_BRICK_CLASSES = {"ISCSI": activation.OS_BRICK_ISCSI, "FIBRE_CHANNEL": activation.OS_BRICK_FC}
OUR_CLASSES = {"ISCSI": activation.ISCSI_CLASS, "FIBRE_CHANNEL": activation.FC_CLASS}


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    require(_has_os_brick(), "os-brick is not installed (pip install os-brick)")
    require(_can_build_wheels(), "setuptools cannot build a wheel here (pip install wheel)")
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
    py = str(env_dir / "bin" / "python")
    src = root / "src"
    shutil.copytree(BRICK, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", "build"))
    r = subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index",
                        "--no-build-isolation", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return {"python": py, "cli": str(env_dir / "bin" / "pathagent-brick"), "site": site}


def _can_build_wheels():
    try:
        import wheel  # noqa: F401  (setuptools before 70.1 needs it for bdist_wheel)
        return True
    except ImportError:
        pass
    try:
        import setuptools.command.bdist_wheel  # noqa: F401
        return True
    except ImportError:
        return False


def _has_os_brick():
    try:
        import os_brick  # noqa: F401
    except ImportError:
        return False
    return True


def run(argv, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PATHAGENT_SOCKET"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, **kw)


def factory(venv, what="classes"):
    r = run([venv["python"], "-c", FACTORY, what])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def status(venv):
    r = run([venv["cli"], "status", "--json"])
    return r.returncode, json.loads(r.stdout)


def test_hook_reads_what_the_factory_really_uses():
    # the factory looks the class up in get_connector_mapping(arch) by the upper-cased
    # protocol and imports it by its dotted path: that dict is what the hook changes
    require(_has_os_brick(), "os-brick is not installed (pip install os-brick)")
    import inspect

    from os_brick.initiator import connector as c

    src = inspect.getsource(c.InitiatorConnector.factory)
    assert "get_connector_mapping(arch)" in src and "import_class(connector)" in src
    if platform.machine() not in ("s390", "s390x", "ppc64", "ppc64le"):
        assert c.get_connector_mapping() is c._connector_mapping_linux
    assert c.get_connector_mapping()["ISCSI"] == activation.OS_BRICK_ISCSI
    assert c.get_connector_mapping()["FIBRE_CHANNEL"] == activation.OS_BRICK_FC
    assert activation.OS_BRICK_ISCSI in c.unix_connector_list and activation.OS_BRICK_FC in c.unix_connector_list


def test_enable_status_disable(venv, fixture_agent):
    # before: os-brick's own, and status says disabled
    assert {k: factory(venv)[k] for k in OS_BRICK_CLASSES} == OS_BRICK_CLASSES
    code, s = status(venv)
    assert (code, s["state"], s["pth_file"]) == (3, "disabled", None)

    # enable with the agent's socket present: the factory returns the agent's connectors
    r = run([venv["cli"], "enable", "--socket", fixture_agent.socket])
    assert r.returncode == 0, r.stderr
    pth = os.path.join(venv["site"], activation.PTH_NAME)
    assert os.path.isfile(pth)
    got = factory(venv, "props")
    assert {k: got[k] for k in OUR_CLASSES} == OUR_CLASSES
    assert got["use_multipath"] is True
    assert sorted(got["list"]) == sorted(OUR_CLASSES.values())  # get_connector_properties walks these
    assert got["props"]["initiator"] == "iqn.1993-08.org.debian:01:5c3a9e2b7f41"  # the agent answered
    assert got["paths"] == []
    # the hook is lazy: an interpreter of the environment that never imports os-brick
    # does not load it (nor does the hook touch the socket)
    r = run([venv["python"], "-c", "import sys; a = sys.modules['pathagent_brick.activation'];"
             "print(sorted(m for m in sys.modules if m.startswith('os_brick')), a.state['hook_installed'])"])
    assert r.returncode == 0 and r.stdout.split() == ["[]", "True"], (r.stdout, r.stderr)
    code, s = status(venv)
    assert (code, s["state"]) == (0, "active"), s
    assert s["factory"] == OUR_CLASSES and s["socket"] == fixture_agent.socket and s["socket_present"] is True
    assert s["agent"]["version"]
    text = run([venv["cli"], "status"]).stdout
    assert "active" in text and activation.ISCSI_CLASS in text

    # enabled for a socket that does not exist: os-brick's own, and status says why
    missing = os.path.join(fixture_agent.dir, "not-there.sock")
    assert run([venv["cli"], "enable", "--socket", missing]).returncode == 0
    assert {k: factory(venv)[k] for k in OS_BRICK_CLASSES} == OS_BRICK_CLASSES
    code, s = status(venv)
    assert (code, s["state"], s["socket_present"]) == (1, "inactive", False), s
    assert "no socket at %s" % missing in s["reason"]

    # disable: no file left behind, os-brick's own again
    r = run([venv["cli"], "disable", "--json"])
    assert r.returncode == 0 and json.loads(r.stdout)["removed"] == [pth]
    assert not [n for n in os.listdir(venv["site"]) if n.startswith("pathagent_brick.pth")]
    assert {k: factory(venv)[k] for k in OS_BRICK_CLASSES} == OS_BRICK_CLASSES
    assert status(venv)[0] == 3
    assert run([venv["cli"], "disable"]).stdout.startswith("already disabled")


def test_hook_in_a_process_that_imported_os_brick_already(fixture_agent, tmp_path):
    # install_hook() after the import patches at once; unpatch() restores os-brick's
    require(_has_os_brick(), "os-brick is not installed (pip install os-brick)")
    code = (
        "import json, sys\n"
        "from os_brick.initiator import connector as c\n"
        "from pathagent_brick import activation as a\n"
        "a.install_hook(sys.argv[1])\n"
        "f = lambda: type(c.InitiatorConnector.factory('ISCSI', None)).__name__\n"
        "before = f(); a.unpatch(); after = f()\n"
        "print(json.dumps([before, after, c.unix_connector_list.count(a.OS_BRICK_ISCSI)]))\n"
    )
    r = run([sys.executable, "-c", code, fixture_agent.socket], cwd=BRICK)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["AgentISCSIConnector", "ISCSIConnector", 1]


def test_a_stale_pth_is_harmless_once_the_package_is_gone(tmp_path):
    # the .pth line checks for the package first: a site dir whose package was removed
    pth = tmp_path / activation.PTH_NAME
    pth.write_text(activation.pth_line("/nonexistent.sock"))
    code = "import site, sys; site.addsitedir(sys.argv[1]); print('ok')"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok"
    assert "Error processing line" not in r.stderr, r.stderr
