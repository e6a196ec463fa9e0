"""The host's security posture as facts (no verdicts): what the audit payload records on the host.

The 2015 RACF study found that anyone who can talk to the Docker daemon is root on the host
("docker group = root": `docker run -v /etc:/host/etc ...`), and Docker then had no user
namespaces. These functions collect, from files and the kernel only (no engine API; the modes'
`security_facts` ask their engines), what decides that on a host today:

  container_sockets   the engine sockets (Docker, rootful Podman, containerd): owner, group,
                      mode, and the members of a group that may write to them
  daemons             dockerd processes: their command line and daemon.json (hosts, userns-remap,
                      no-new-privileges, seccomp profile, SELinux)
  tcp_listeners       listening TCP sockets on the engine ports and the registry's (/proc/net/tcp)
  rootless            what rootless Podman needs: the podman binary, users with a subordinate id
                      range (/etc/subuid), user.max_user_namespaces
  containers_conf     Podman's containers.conf files: no_new_privileges, seccomp_profile
  lsm, seccomp,       AppArmor / SELinux state, the kernel's seccomp actions, the cgroup
  cgroup              filesystem (v1, v2, hybrid)
  registry            the image registry of the run's image reference: GET /v2/ (auth?), a DELETE
                      of a manifest that cannot exist (deletion enabled?), who listens on its port
  filesystems         type and options of the run directory's filesystem on the host

execbench.parsers.audit turns these facts into verdicts; keeping the two apart lets a report be
rebuilt from the raw facts with the current rules. Every function returns JSON-ready data and
never raises for a missing file: an absent fact is recorded as absent.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import socket
import stat
import urllib.error
import urllib.request
from pathlib import Path

from .fsutil import utc_now

FORMAT = "execbench-host-audit"
VERSION = 1
# Engine API sockets: who can write one can start a container, so is root on the host
# unless the engine is rootless or remaps user namespaces.
ENGINE_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock",
                  "/run/containerd/containerd.sock")
DOCKER_TCP_PORTS = (2375, 2376)  # the Docker API's registered ports (plain, TLS)
DAEMON_JSON = "/etc/docker/daemon.json"
CONTAINERS_CONF = ("/usr/share/containers/containers.conf", "/etc/containers/containers.conf")
# A digest no manifest can have: the DELETE below can only tell "deletion disabled" (405) from
# "enabled" (404 / 202), never delete anything.
IMPOSSIBLE_DIGEST = "sha256:" + "0" * 64
HTTP_TIMEOUT_S = 3.0


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_members(gid: int) -> dict:
    """A group's name and its members: listed in /etc/group, plus users whose primary group it is."""
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return {"gid": gid, "name": str(gid), "members": []}
    members = set(group.gr_mem) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == gid}
    return {"gid": gid, "name": group.gr_name, "members": sorted(members)}


def socket_facts(path: str | Path) -> dict | None:
    """Owner, group (with members), mode of a unix socket; None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(st.st_mode):
        return None
    return {"path": str(path), "owner": _user(st.st_uid), "uid": st.st_uid, "group": group_members(st.st_gid),
            "mode": f"{stat.S_IMODE(st.st_mode):04o}",
            "group_writable": bool(st.st_mode & stat.S_IWGRP), "world_writable": bool(st.st_mode & stat.S_IWOTH)}


def container_sockets(extra: list[str] | None = None) -> list[dict]:
    """The engine sockets on this host (ENGINE_SOCKETS, DOCKER_HOST's unix socket, `extra`),
    one entry per real file."""
    paths = list(ENGINE_SOCKETS) + list(extra or [])
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://"):
        paths.append(docker_host[len("unix://"):])
    seen, out = set(), []
    for path in paths:
        real = os.path.realpath(path)
        facts = socket_facts(path)
        if facts and real not in seen:
            seen.add(real)
            out.append(facts)
    return out


def _processes(name: str, proc: Path = Path("/proc")) -> list[dict]:
    out = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit():
            continue
        if (_read(entry / "comm") or "").strip() != name:
            continue
        raw = _read(entry / "cmdline")
        if raw is None:
            continue
        uid = None
        for line in (_read(entry / "status") or "").splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
        out.append({"pid": int(entry.name), "uid": uid, "argv": [a for a in raw.split("\x00") if a]})
    return out


def _flag_values(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """Values of --name=value / --name value / -H value flags in an argv; "true" for a bare flag."""
    values = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name:
                nxt = argv[i + 1] if i + 1 < len(argv) else ""
                values.append("true" if nxt.startswith("-") or not nxt else nxt)
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def docker_daemons() -> list[dict]:
    """Every dockerd process: its argv and what it and its daemon.json say about who can reach
    it and how it isolates (hosts, userns-remap, no-new-privileges, seccomp profile, SELinux)."""
    out = []
    for process in _processes("dockerd"):
        argv = process["argv"]
        config_file = (_flag_values(argv, ("--config-file",)) or [DAEMON_JSON])[-1]
        text = _read(config_file)
        try:
            config = json.loads(text) if text else {}
            config_error = ""
        except ValueError as err:
            config, config_error = {}, f"{config_file} is not JSON: {err}"
        hosts = _flag_values(argv, ("-H", "--host")) + list(config.get("hosts", []))
        out.append({
            "pid": process["pid"], "argv": argv, "config_file": config_file if text is not None else None,
            "config_error": config_error,
            "hosts": hosts or ["unix:///var/run/docker.sock"],
            "tls_verify": bool(_flag_values(argv, ("--tlsverify",)) or config.get("tlsverify")),
            "userns_remap": (_flag_values(argv, ("--userns-remap",)) or [config.get("userns-remap", "")])[-1],
            "no_new_privileges": "true" in _flag_values(argv, ("--no-new-privileges",))
            or bool(config.get("no-new-privileges")),
            "seccomp_profile": (_flag_values(argv, ("--seccomp-profile",)) or [config.get("seccomp-profile", "")])[-1],
            "selinux_enabled": "true" in _flag_values(argv, ("--selinux-enabled",)) or bool(config.get("selinux-enabled")),
            "user": None if process["uid"] is None else _user(process["uid"]),
            "rootless": process["uid"] not in (0, None),
        })
    return out


def _hex_address(text: str) -> tuple[str, int]:
    """/proc/net/tcp's local_address (little-endian hex ip:port) as (ip, port)."""
    address, port = text.split(":")
    raw = bytes.fromhex(address)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # IPv6: four little-endian 32-bit words
        ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return ip, int(port, 16)


def tcp_listeners(ports: set[int], proc_net: Path = Path("/proc/net")) -> list[dict]:
    """Listening TCP sockets (state 0A) on `ports`, in this network namespace."""
    out = []
    for name in ("tcp", "tcp6"):
        for line in (_read(proc_net / name) or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":
                continue
            try:
                ip, port = _hex_address(fields[1])
            except ValueError:
                continue
            if port in ports:
                out.append({"address": ip, "port": port, "loopback": ip in ("127.0.0.1", "::1")
                            or ip.startswith("127.") or ip == "::ffff:127.0.0.1"})
    return out


def rootless_facts() -> dict:
    """What rootless Podman needs on this host (the answer to "docker group = root")."""
    subuid = []
    for line in (_read("/etc/subuid") or "").splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and not line.startswith("#"):
            subuid.append({"user": parts[0], "start": parts[1], "count": parts[2]})
    max_userns = (_read("/proc/sys/user/max_user_namespaces") or "").strip()
    clone = _read("/proc/sys/kernel/unprivileged_userns_clone")
    return {"podman": shutil.which("podman"), "subuid": subuid,
            "max_user_namespaces": int(max_userns) if max_userns.isdigit() else None,
            "unprivileged_userns_clone": clone.strip() if clone is not None else None}


def containers_conf(paths: tuple[str, ...] = CONTAINERS_CONF) -> list[dict]:
    """The [containers] keys of Podman's containers.conf files that decide hardening defaults
    (a plain line reader: TOML of that section is key = value lines), in the order Podman reads
    them (a later file overrides an earlier one)."""
    out = []
    for path in paths:
        text = _read(path)
        if text is None:
            continue
        section, keys = "", {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("[") and line.endswith("]"):
                section = line.strip("[]").strip()
            elif section == "containers" and "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                if key in ("no_new_privileges", "seccomp_profile", "apparmor_profile", "userns", "privileged"):
                    keys[key] = value.strip('"')
        out.append({"path": path, "containers": keys})
    return out


def lsm_facts() -> dict:
    """AppArmor and SELinux as the kernel reports them."""
    enforce = _read("/sys/fs/selinux/enforce")
    return {
        "lsm_list": (_read("/sys/kernel/security/lsm") or "").strip() or None,
        "apparmor_enabled": (_read("/sys/module/apparmor/parameters/enabled") or "").strip() or None,
        "selinux_enforce": enforce.strip() if enforce is not None else None,
        "self_label": (_read("/proc/self/attr/current") or "").strip("\x00\n ") or None,
    }


def seccomp_facts() -> dict:
    status = _read("/proc/self/status") or ""
    return {"kernel_seccomp": "Seccomp:" in status,
            "actions_avail": (_read("/proc/sys/kernel/seccomp/actions_avail") or "").strip() or None}


def cgroup_facts() -> dict:
    """cgroup v2 (unified), v1, or hybrid, from /sys/fs/cgroup."""
    unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    hybrid = Path("/sys/fs/cgroup/unified/cgroup.controllers").exists()
    version = 2 if unified else "hybrid" if hybrid else 1
    controllers = (_read("/sys/fs/cgroup/cgroup.controllers") or "").split()
    return {"version": version, "controllers": controllers,
            "subtree_control": (_read("/sys/fs/cgroup/cgroup.subtree_control") or "").split()}


def _http(method: str, url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the registry, never a proxy
    request = urllib.request.Request(url, method=method)
    try:
        with opener.open(request, timeout=HTTP_TIMEOUT_S) as response:
            return {"status": response.status, "auth": response.headers.get("WWW-Authenticate")}
    except urllib.error.HTTPError as err:
        return {"status": err.code, "auth": err.headers.get("WWW-Authenticate") if err.headers else None}
    except (urllib.error.URLError, OSError, ValueError) as err:
        return {"status": None, "error": f"{type(err).__name__}: {getattr(err, 'reason', err)}"[:300]}


def registry_address(image_ref: str) -> str | None:
    """host:port of an image reference's registry (127.0.0.1:5000/name@sha256:... -> 127.0.0.1:5000)."""
    first = image_ref.split("/", 1)[0] if "/" in image_ref else ""
    return first if ("." in first or ":" in first or first == "localhost") else None


def registry_facts(address: str | None, probe: bool = True) -> dict:
    """Exposure of the registry at host:port: who listens on its port, and (probe=True) whether
    GET /v2/ needs auth and whether manifest deletion is enabled (DELETE of a digest no manifest
    can have: 405 = disabled, 404/202 = enabled, 401 = auth required)."""
    if not address:
        return {"address": None}
    host, _, port = address.rpartition(":")
    listeners = tcp_listeners({int(port)}) if port.isdigit() else []
    if not probe:
        return {"address": address, "host": host.strip("[]"), "listeners": listeners, "probed": False}
    scheme, v2 = "http", _http("GET", f"http://{address}/v2/")
    if v2.get("status") is None or v2.get("status") == 400:  # plain HTTP to a TLS port
        https = _http("GET", f"https://{address}/v2/")
        if https.get("status") is not None:
            scheme, v2 = "https", https
    delete = _http("DELETE", f"{scheme}://{address}/v2/execbench-audit/probe/manifests/{IMPOSSIBLE_DIGEST}")
    return {"address": address, "host": host.strip("[]"), "scheme": scheme, "listeners": listeners,
            "v2": v2, "delete_probe": delete}


def filesystem_of(path: str | Path, mountinfo: str | None = None) -> dict:
    """Type, source, mount and superblock options of the filesystem holding `path` on the host."""
    text = mountinfo if mountinfo is not None else (_read("/proc/self/mountinfo") or "")
    try:
        st = os.stat(path)
    except OSError as err:
        return {"path": str(path), "error": str(err)}
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    real = os.path.realpath(path)
    best = None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        head, tail = left.split(), right.split()
        if not sep or len(head) < 6 or len(tail) < 2 or head[2] != dev:
            continue
        point = head[4].replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and (best is None or len(point) >= len(best[4])):
            best = head[:6] + tail[:3]
    if best is None:
        return {"path": str(path), "dev": dev, "fstype": None}
    return {"path": str(path), "dev": dev, "mount_point": best[4], "mount_options": best[5], "fstype": best[6],
            "source": best[7], "super_options": best[8] if len(best) > 8 else ""}


def host_security_facts(image_ref: str, run_dir: str | Path, probe_registry: bool = True) -> dict:
    """Every host fact above, as the host-audit.json the audit payload writes (FORMAT)."""
    daemons = docker_daemons()
    tcp_ports = set(DOCKER_TCP_PORTS)
    for daemon in daemons:
        for host in daemon["hosts"]:
            if host.startswith("tcp://") and host.rsplit(":", 1)[-1].isdigit():
                tcp_ports.add(int(host.rsplit(":", 1)[-1]))
    namespaces = {}
    for ns in ("user", "pid", "net", "mnt", "ipc", "uts", "cgroup"):
        try:
            namespaces[ns] = os.readlink(f"/proc/self/ns/{ns}")
        except OSError:
            namespaces[ns] = None
    return {
        "format": FORMAT, "version": VERSION, "collected_utc": utc_now(), "hostname": socket.gethostname(),
        "kernel": os.uname().release, "euid": os.geteuid(), "namespaces": namespaces,
        "container_sockets": container_sockets(), "docker_daemons": daemons,
        "engine_tcp_listeners": tcp_listeners(tcp_ports),
        "rootless": rootless_facts(), "containers_conf": containers_conf(),
        "lsm": lsm_facts(), "seccomp": seccomp_facts(), "cgroup": cgroup_facts(),
        "registry": registry_facts(registry_address(image_ref), probe=probe_registry),
        "filesystems": {"run_dir": filesystem_of(run_dir)},
        "overlay_xino_auto": (_read("/sys/module/overlay/parameters/xino_auto") or "").strip() or None,
    }
