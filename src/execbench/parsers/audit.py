"""The audit payload's native logs -> findings: one plain verdict (ok / warning / blocking) per
item, with the evidence it rests on.

Reads a run directory of the audit payload (execbench.payloads.audit):

  host-audit.json        host facts (execbench.hostaudit, format "execbench-host-audit") and the
                         mode's engine facts (Mode.security_facts) under "engine"
  engine-readback.json   what the engine says each container got (docker/podman inspect), next
                         to what was asked for (optional: bare and vm have no engine)
  copy0/audit.json       the in-environment facts (src/execbench/inimage/audit.py, format
                         "execbench-audit-env")
  copy0/abi-probe-32.log the ABI probes' output (envs/images/debian12/build/abiprobe.c):
  copy0/abi-probe-64.log   probe/dir/entry/end lines of tab-separated key=value fields

Every finding becomes a Record: benchmark = the item ("host.container_starters",
"mode.capabilities", "abi.run_dir", ...), metric "verdict", value 0 ok / 1 warning / 2
blocking, copy None, detail "<verdict>: <summary> [evidence]", extra {scope, title, verdict,
summary, evidence, ...}; plus the run's counts ("audit"/"blocking", "audit"/"warnings").
The rules are in this module's *_findings functions, each item's docstring line says why it
matters. Raises ParseError(path, line, expected) for a log that is not of its format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser

VERDICTS = ("ok", "warning", "blocking")
VERDICT_UNIT = "verdict (0 ok, 1 warning, 2 blocking)"
HOST_LOG, READBACK_LOG, ENV_LOG = "host-audit.json", "engine-readback.json", "audit.json"
MOUNTINFO_LOG = "mountinfo.txt"  # the in-environment driver's copy of /proc/self/mountinfo
PROBE_LOGS = {"32": "abi-probe-32.log", "64": "abi-probe-64.log"}
INODE_32_LIMIT = 2 ** 32
# Linux capability numbers (include/uapi/linux/capability.h), for CapEff & co.
CAP_NAMES = ("chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
             "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
             "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
             "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
             "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
             "perfmon", "bpf", "checkpoint_restore")
FS_LABELS = {"run_dir": "run directory", "root": "environment's root", "tmp": "/tmp"}


@dataclass
class Finding:
    """One audited item: its verdict, a plain sentence and the facts it rests on."""

    item: str  # e.g. "host.container_starters"
    scope: str  # "host" (the same in every mode), "mode", or "abi" (one per filesystem)
    title: str
    verdict: str  # one of VERDICTS
    summary: str
    evidence: str
    source: Path
    extra: dict = field(default_factory=dict)

    def to_record(self) -> Record:
        return Record(self.item, "verdict", float(VERDICTS.index(self.verdict)), VERDICT_UNIT, False,
                      str(self.source), detail=f"{self.verdict}: {self.summary} [{self.evidence}]",
                      extra={"scope": self.scope, "title": self.title, "verdict": self.verdict,
                             "summary": self.summary, "evidence": self.evidence, **self.extra})


def worst(verdicts) -> str:
    return max(verdicts, key=VERDICTS.index, default="ok")


def cap_names(hex_mask: str | None) -> list[str]:
    try:
        mask = int(hex_mask or "0", 16)
    except ValueError:
        return [f"unreadable mask {hex_mask!r}"]
    return [CAP_NAMES[i] if i < len(CAP_NAMES) else f"cap{i}" for i in range(64) if mask >> i & 1]


# --- host ------------------------------------------------------------------------------------


def _socket_text(sock: dict) -> str:
    group = sock["group"]
    members = ", ".join(group["members"]) or "no members"
    return f"{sock['path']} {sock['owner']}:{group['name']} {sock['mode']} (group {group['name']}: {members})"


def host_findings(host: dict, source: Path) -> list[Finding]:
    """Verdicts on the host's posture (the same facts in every mode's audit run)."""
    out = []
    # Who can start containers: writing an engine socket (or reaching its TCP API) is root on the
    # host, unless the engine is rootless: `docker run -v /:/host ...` (the 2015 finding).
    sockets = host.get("container_sockets") or []
    daemons = host.get("docker_daemons") or []
    rootless_engine = {d.get("user") for d in daemons if d.get("rootless")}
    verdicts, lines = [], []
    for sock in sockets:
        lines.append(_socket_text(sock))
        if sock["owner"] in rootless_engine or sock["uid"] != 0:
            verdicts.append("ok")  # a rootless engine's socket: its user is not root on the host
        elif sock["world_writable"]:
            verdicts.append("blocking")
        elif sock["group_writable"] and [m for m in sock["group"]["members"] if m != "root"]:
            verdicts.append("warning")
        else:
            verdicts.append("ok")
    tcp = [t for t in host.get("engine_tcp_listeners") or []]
    tcp_hosts = [h for d in daemons for h in d.get("hosts", []) if h.startswith("tcp://")]
    tls = any(d.get("tls_verify") for d in daemons)
    for listener in tcp:
        lines.append(f"TCP {listener['address']}:{listener['port']} listening")
        verdicts.append("warning" if listener["loopback"] or tls else "blocking")
    for address in tcp_hosts:
        lines.append(f"dockerd -H {address}" + (" (TLS verified)" if tls else " (no TLS client verification)"))
    verdict = worst(verdicts)
    exposed = [s for s in sockets if s["world_writable"]]
    members = sorted({m for s in sockets if s["group_writable"] and s["uid"] == 0 for m in s["group"]["members"]
                      if m != "root"})
    if not sockets and not tcp:
        summary = "no container engine socket or API port on this host"
    elif verdict == "blocking":
        who = f"every user (world-writable {exposed[0]['path']})" if exposed else "anyone who reaches the TCP API"
        summary = f"{who} can start containers, and so is root on the host"
    elif members:
        group = next(s["group"]["name"] for s in sockets if s["group_writable"] and s["group"]["members"])
        summary = (f"members of group {group} can start containers and are root on the host: "
                   f"{', '.join(members)} (docker group = root)")
    elif verdict == "warning":
        summary = "the engine API listens on TCP: any local user who reaches it is root on the host"
    else:
        summary = ("only root can start containers: no engine socket is writable by a group with members "
                   "or by everyone")
    out.append(Finding("host.container_starters", "host", "Who can start containers", verdict, summary,
                       "; ".join(lines) or "none found", source))

    # User-namespace remapping: without it uid 0 in a container is uid 0 on the host.
    if daemons:
        remapped = [d for d in daemons if d.get("userns_remap") or d.get("rootless")]
        evidence = "; ".join(f"dockerd pid {d['pid']} ({d.get('user')}): userns-remap="
                             f"{d.get('userns_remap') or 'off'}" + (", rootless" if d.get("rootless") else "")
                             + (f", config {d['config_file']}" if d.get("config_file") else ", no daemon.json")
                             for d in daemons)
        if len(remapped) == len(daemons):
            out.append(Finding("host.userns_remap", "host", "User-namespace remapping (Docker)", "ok",
                               "dockerd remaps user namespaces (or is rootless): root in a container is an "
                               "unprivileged host user", evidence, source))
        else:
            out.append(Finding("host.userns_remap", "host", "User-namespace remapping (Docker)", "warning",
                               "dockerd runs as root without userns-remap: uid 0 in a container is uid 0 on the "
                               "host, so a bind mount of a host directory is root access to it", evidence, source))
    elif any("docker" in s["path"] for s in sockets):
        out.append(Finding("host.userns_remap", "host", "User-namespace remapping (Docker)", "warning",
                           "a Docker socket exists but no dockerd process is visible: its userns-remap setting "
                           "cannot be read", "; ".join(_socket_text(s) for s in sockets), source))
    else:
        out.append(Finding("host.userns_remap", "host", "User-namespace remapping (Docker)", "ok",
                           "no Docker daemon on this host", "no dockerd process, no Docker socket", source))

    # Rootless Podman: containers without a root daemon (the answer to "docker group = root").
    rootless = host.get("rootless") or {}
    users = [f"{u['user']} ({u['start']}+{u['count']})" for u in rootless.get("subuid") or []]
    max_ns = rootless.get("max_user_namespaces")
    evidence = (f"podman {'at ' + rootless['podman'] if rootless.get('podman') else 'not installed'}; "
                f"/etc/subuid: {', '.join(users) or 'no ranges'}; user.max_user_namespaces={max_ns}")
    if rootless.get("podman") and users and max_ns != 0 and rootless.get("unprivileged_userns_clone") != "0":
        out.append(Finding("host.rootless_podman", "host", "Rootless Podman available", "ok",
                           f"rootless Podman can run containers for {', '.join(u['user'] for u in rootless['subuid'])}"
                           " without a root daemon", evidence, source))
    else:
        why = ("podman is not installed" if not rootless.get("podman") else
               "no user has a subordinate id range" if not users else "unprivileged user namespaces are off")
        out.append(Finding("host.rootless_podman", "host", "Rootless Podman available", "warning",
                           f"no rootless container engine: {why}; containers need a root daemon", evidence, source))

    # seccomp: the kernel's system-call filter, which the engines' default profiles use.
    seccomp = host.get("seccomp") or {}
    if seccomp.get("kernel_seccomp"):
        out.append(Finding("host.seccomp", "host", "seccomp", "ok", "the kernel filters system calls (seccomp)",
                           f"actions: {seccomp.get('actions_avail') or 'not listed'}", source))
    else:
        out.append(Finding("host.seccomp", "host", "seccomp", "warning",
                           "the kernel has no seccomp: containers reach every system call", "no Seccomp: line in "
                           "/proc/self/status", source))

    # Mandatory access control: a second wall around a container (AppArmor or SELinux).
    lsm = host.get("lsm") or {}
    apparmor, selinux = lsm.get("apparmor_enabled"), lsm.get("selinux_enforce")
    evidence = (f"LSMs: {lsm.get('lsm_list') or 'not readable (no securityfs)'}; AppArmor enabled: "
                f"{apparmor or 'no module'}; SELinux enforce: {selinux if selinux is not None else 'no selinuxfs'}")
    if apparmor == "Y" or selinux == "1":
        which = "SELinux (enforcing)" if selinux == "1" else "AppArmor"
        out.append(Finding("host.mac", "host", "AppArmor / SELinux", "ok", f"{which} confines containers", evidence,
                           source))
    else:
        summary = ("SELinux is permissive: it logs but does not stop" if selinux == "0" else
                   "neither AppArmor nor SELinux is active: containers are confined by namespaces, capabilities "
                   "and seccomp only")
        out.append(Finding("host.mac", "host", "AppArmor / SELinux", "warning", summary, evidence, source))

    # cgroup version: v1 gives rootless engines no way to apply CPU or memory limits.
    cgroup = host.get("cgroup") or {}
    version = cgroup.get("version")
    evidence = f"/sys/fs/cgroup: {'cgroup v2 (unified)' if version == 2 else 'hybrid (v1 controllers)' if version == 'hybrid' else 'cgroup v1'}"
    if version == 2:
        out.append(Finding("host.cgroup", "host", "cgroup version", "ok",
                           "cgroup v2: rootless engines can apply CPU and memory limits (with delegation)",
                           evidence + f"; controllers: {' '.join(cgroup.get('controllers') or []) or 'none'}", source))
    else:
        out.append(Finding("host.cgroup", "host", "cgroup version", "warning",
                           "cgroup v1: rootless Podman ignores CPU and memory limits; only root engines can apply "
                           "them", evidence, source))

    # no-new-privileges by default: a container that does not ask for it can gain privileges
    # through setuid binaries in its image.
    conf = {c["path"]: c["containers"].get("no_new_privileges") for c in host.get("containers_conf") or []}
    podman_nnp = next((v for v in reversed(list(conf.values())) if v is not None), None)
    parts = [f"dockerd pid {d['pid']}: no-new-privileges={'true' if d.get('no_new_privileges') else 'not set'}"
             for d in daemons]
    parts += [f"{path}: no_new_privileges={value if value is not None else 'not set'}" for path, value in conf.items()]
    engines_without = [f"dockerd pid {d['pid']}" for d in daemons if not d.get("no_new_privileges")]
    if rootless.get("podman") and podman_nnp != "true":
        engines_without.append("podman")
    if engines_without:
        out.append(Finding("host.no_new_privileges_default", "host", "no-new-privileges by default", "warning",
                           f"not the default of {', '.join(engines_without)}: containers that do not ask for it can "
                           "gain privileges through setuid binaries (execbench asks for it in every run)",
                           "; ".join(parts) or "no engine configuration found", source))
    else:
        out.append(Finding("host.no_new_privileges_default", "host", "no-new-privileges by default", "ok",
                           "every engine on this host sets no-new-privileges by default" if parts
                           else "no container engine on this host", "; ".join(parts) or "none", source))

    out.append(_registry_finding(host.get("registry") or {}, source))
    return out


def _registry_finding(reg: dict, source: Path) -> Finding:
    """Registry exposure: who can reach it, push to it, delete from it."""
    title = "Image registry exposure"
    if not reg.get("address"):
        return Finding("host.registry", "host", title, "ok", "this run used no registry image", "no address", source)
    v2, delete = reg.get("v2") or {}, reg.get("delete_probe") or {}
    listeners = reg.get("listeners") or []
    open_to_network = any(not entry["loopback"] for entry in listeners) or (
        not listeners and reg.get("host") not in ("127.0.0.1", "::1", "localhost"))
    auth = "required" if v2.get("status") == 401 else "none" if v2.get("status") == 200 else "unknown"
    deletion = ("disabled" if delete.get("status") == 405 else "enabled" if delete.get("status") in (202, 404)
                else "needs auth" if delete.get("status") == 401 else "unknown")
    evidence = (f"{reg.get('scheme', 'http')}://{reg['address']}: GET /v2/ -> {v2.get('status') or v2.get('error')}; "
                f"DELETE of an impossible manifest -> {delete.get('status') or delete.get('error')} (deletion "
                f"{deletion}); listening on "
                + (", ".join(f"{e['address']}:{e['port']}" for e in listeners) or "(no listener seen in this "
                                                                                 "network namespace)"))
    if reg.get("probed") is False:
        return Finding("host.registry", "host", title, "warning",
                       "not asked (payloads.audit.probe_registry is false): authentication and deletion unknown",
                       evidence, source)
    if v2.get("status") is None:
        return Finding("host.registry", "host", title, "warning",
                       f"the registry at {reg['address']} did not answer", evidence, source)
    where = "from the network" if open_to_network else "from this host only (loopback)"
    if auth == "none" and open_to_network:
        return Finding("host.registry", "host", title, "blocking",
                       f"anyone on the network can push{' and delete' if deletion == 'enabled' else ''} images: "
                       f"the registry at {reg['address']} answers {where} without authentication", evidence, source)
    if auth == "none" and deletion == "enabled":
        return Finding("host.registry", "host", title, "warning",
                       f"any local user can push and delete images (no authentication, deletion enabled; reached "
                       f"{where}): runs pull by digest, so a pushed tag cannot replace the study's image, but a "
                       "deleted one stops the study", evidence, source)
    return Finding("host.registry", "host", title, "ok",
                   f"reached {where}; authentication {auth}; deletion {deletion}", evidence, source)


# --- the mode: what the payload really got -----------------------------------------------------


def _host_uid(uid_map: list[list[str]], uid: int) -> int | None:
    for row in uid_map:
        try:
            inside, outside, count = (int(x) for x in row[:3])
        except ValueError:
            continue
        if inside <= uid < inside + count:
            return outside + uid - inside
    return None


def _readback_problems(readback: dict, requested: dict) -> list[str]:
    """Where the engine's record of a container differs from the hardening asked for."""
    hardening, network = requested.get("hardening") or {}, requested.get("network")
    problems = []
    if readback.get("Privileged"):
        problems.append("Privileged=true")
    if readback.get("CapAdd"):
        problems.append(f"CapAdd={readback['CapAdd']}")
    if "ALL" in (c.upper() for c in hardening.get("cap_drop", [])) and not readback.get("CapDrop"):
        problems.append("CapDrop is empty (asked: ALL)")  # podman lists the dropped ones, docker "ALL"
    if readback.get("EffectiveCaps"):
        problems.append(f"EffectiveCaps={readback['EffectiveCaps']}")
    opts = [o.replace(":true", "").replace("=true", "") for o in readback.get("SecurityOpt") or []]
    for wanted in hardening.get("security_opt", []):
        if wanted not in opts:
            problems.append(f"SecurityOpt lacks {wanted} ({readback.get('SecurityOpt')})")
    if "unconfined" in " ".join(readback.get("SecurityOpt") or []):
        problems.append(f"SecurityOpt {readback.get('SecurityOpt')}")
    if hardening.get("read_only_rootfs") and not readback.get("ReadonlyRootfs"):
        problems.append("ReadonlyRootfs=false")
    if hardening.get("user") and readback.get("user") != hardening["user"]:
        problems.append(f"User={readback.get('user')!r} (asked {hardening['user']!r})")
    if network and readback.get("NetworkMode") != network:
        problems.append(f"NetworkMode={readback.get('NetworkMode')!r} (asked {network!r})")
    binds = [m for m in readback.get("mounts") or [] if m.get("type") == "bind"]
    others = [m for m in binds if m.get("destination") != "/execbench/run"]
    if others:
        problems.append("host paths mounted besides the run dir: "
                        + ", ".join(f"{m['source']}:{m['destination']}" for m in others))
    return problems


def _readback_text(readback: dict) -> str:
    drop = readback.get("CapDrop") or []
    drop_text = "ALL" if [c.upper() for c in drop] == ["ALL"] else f"{len(drop)} capabilities"
    binds = [f"{m.get('source')}:{m.get('destination')}" for m in readback.get("mounts") or [] if m.get("type") == "bind"]
    return (f"{readback.get('container')}: User={readback.get('user')}, CapDrop={drop_text}, "
            f"CapAdd={readback.get('CapAdd') or []}, SecurityOpt={readback.get('SecurityOpt')}, "
            f"ReadonlyRootfs={readback.get('ReadonlyRootfs')}, Privileged={readback.get('Privileged')}, "
            f"NetworkMode={readback.get('NetworkMode')}, binds={binds}")


def mode_findings(env: dict, host: dict, readback: dict | None, env_source: Path,
                  readback_source: Path | None) -> list[Finding]:
    """Verdicts on what the payload's process got in this mode, seen from inside (and, for an
    engine, the engine's own record)."""
    out = []
    process = env.get("process") or {}
    status = process.get("status") or {}
    kind = host.get("mode_kind", "")
    engine = host.get("engine") or {}

    uids = (status.get("Uid") or "").split()  # real, effective, saved, filesystem
    uid = int(uids[1]) if len(uids) > 1 else int(process.get("euid", -1))
    host_uid = _host_uid(process.get("uid_map") or [], uid)
    uid_map = process.get("uid_map") or []
    identity = uid_map == [["0", "0", "4294967295"]]
    evidence = f"Uid {status.get('Uid')}; uid_map {' / '.join(' '.join(r) for r in uid_map) or 'unreadable'}"
    if uid == 0:
        out.append(Finding("mode.user", "mode", "Payload user", "blocking", "the payload runs as root", evidence,
                           env_source))
    else:
        where = ("in the guest: a kernel of its own, whose root is not the host's" if kind == "vm" else
                 "the same uid on the host: no user namespace (root in this environment would be host root)"
                 if identity else f"host uid {host_uid}: a user namespace" if host_uid is not None else "unmapped")
        out.append(Finding("mode.user", "mode", "Payload user", "ok", f"uid {uid}, {where}", evidence, env_source))

    effective, bounding = cap_names(status.get("CapEff")), cap_names(status.get("CapBnd"))
    evidence = (f"CapEff {status.get('CapEff')}, CapPrm {status.get('CapPrm')}, CapAmb {status.get('CapAmb')}, "
                f"CapBnd {status.get('CapBnd')} ({len(bounding)} in the bounding set)")
    if effective:
        out.append(Finding("mode.capabilities", "mode", "Capabilities", "warning",
                           f"the payload holds capabilities: {', '.join(effective)}", evidence, env_source))
    else:
        out.append(Finding("mode.capabilities", "mode", "Capabilities", "ok", "no effective capabilities", evidence,
                           env_source))

    nnp = status.get("NoNewPrivs")
    out.append(Finding("mode.no_new_privileges", "mode", "no-new-privileges", "ok" if nnp == "1" else "warning",
                       "set: setuid binaries cannot raise privileges" if nnp == "1" else
                       "not set: a setuid binary in the image would raise the payload's privileges",
                       f"NoNewPrivs {nnp}", env_source))

    seccomp, filters = status.get("Seccomp"), status.get("Seccomp_filters")
    profile = engine.get("seccomp_profile")
    evidence = f"Seccomp {seccomp} (0 off, 1 strict, 2 filter), {filters or '?'} filters" + (
        f"; engine profile: {profile}" if profile else "")
    out.append(Finding("mode.seccomp", "mode", "seccomp filter", "ok" if seccomp in ("1", "2") else "warning",
                       "system calls are filtered" if seccomp in ("1", "2") else
                       "no seccomp filter: every system call reaches the kernel", evidence, env_source))

    lsm = process.get("lsm") or {}
    label = lsm.get("apparmor_current") or lsm.get("attr_current")
    host_lsm = host.get("lsm") or {}
    host_mac = host_lsm.get("apparmor_enabled") == "Y" or host_lsm.get("selinux_enforce") in ("0", "1")
    confined = bool(label) and "unconfined" not in label
    out.append(Finding("mode.lsm", "mode", "AppArmor / SELinux label", "ok" if confined else "warning",
                       f"confined ({label})" if confined else
                       "unconfined" + ("" if host_mac else ": no AppArmor or SELinux on this host"),
                       f"/proc/self/attr/current: {label or 'none'}", env_source))

    root_write = env.get("root_write")
    out.append(Finding("mode.readonly_root", "mode", "Read-only root filesystem",
                       "ok" if root_write in ("EROFS", "EACCES", "EPERM") else "warning",
                       "the image's files cannot be changed" + (" (read-only)" if root_write == "EROFS" else
                                                                " by the payload user")
                       if root_write in ("EROFS", "EACCES", "EPERM") else "the payload can write to the image's root",
                       f"creating a file in /: {root_write}", env_source))

    interfaces = env.get("network_interfaces") or []
    out.append(Finding("mode.network", "mode", "Network", "ok" if interfaces == ["lo"] else "warning",
                       "no network (loopback only)" if interfaces == ["lo"] else
                       "the payload can reach the network" + (" (the host's own, no namespace)" if kind == "bare"
                                                              else ""),
                       f"interfaces: {', '.join(interfaces) or 'none'}", env_source))

    host_ns, env_ns = host.get("namespaces") or {}, process.get("namespaces") or {}
    shared = [ns for ns in ("pid", "mnt", "net", "ipc", "uts", "user", "cgroup")
              if env_ns.get(ns) and env_ns.get(ns) == host_ns.get(ns)]
    if kind in ("vm", "htcondor-docker") or not host_ns:
        pass  # a guest kernel's (or a remote node's) namespace ids say nothing about this host
    else:
        isolated = not {"pid", "mnt"} & set(shared)
        out.append(Finding("mode.namespaces", "mode", "Namespaces", "ok" if isolated else "warning",
                           ("own " + ", ".join(ns for ns in ("pid", "mnt", "net", "ipc", "uts", "user", "cgroup")
                                               if ns not in shared) + " namespaces") if isolated else
                           "no process or mount namespace: the payload sees the host's processes",
                           "shared with the host: " + (", ".join(shared) or "none"), env_source))

    if kind in ("docker", "podman"):
        out.append(_readback_finding(readback, readback_source or env_source))
    return out


def _readback_finding(readback: dict | None, source: Path) -> Finding:
    title = "Hardening read back from the engine"
    containers = (readback or {}).get("engine_readback") or []
    if not containers:
        return Finding("mode.engine_readback", "mode", title, "warning", "the engine's record could not be read back",
                       "no engine-readback.json entry", source)
    requested = (readback or {}).get("requested") or {}
    problems, texts = [], []
    for container in containers:
        if container.get("error"):
            problems.append(f"{container.get('container')}: {container['error']}")
            continue
        problems += [f"{container.get('container')}: {p}" for p in _readback_problems(container, requested)]
        texts.append(_readback_text(container))
    errors_only = all(c.get("error") for c in containers)
    verdict = "warning" if errors_only else "blocking" if problems else "ok"
    summary = ("the engine's record could not be read back" if errors_only else
               "the engine gave the containers less hardening than asked: " + "; ".join(problems)
               if problems else "the engine applied every hardening asked for")
    return Finding("mode.engine_readback", "mode", title, verdict, summary, " | ".join(texts) or "; ".join(problems),
                   source)


# --- the kernel/userland ABI -----------------------------------------------------------------


@dataclass
class ProbeLog:
    header: dict
    dirs: dict  # path -> {"stat", "ino", "readdir", "entries", "listed": [entry dicts], "line"}
    end: dict


def _fields(parts: list[str], path: Path, line: int, keys: tuple[str, ...]) -> dict:
    """record type, path=..., then exactly `keys` (the path may itself hold a tab)."""
    tail = parts[len(parts) - len(keys):]
    head = "\t".join(parts[1:len(parts) - len(keys)])
    if len(parts) < len(keys) + 2 or not head.startswith("path="):
        raise ParseError(path, line, f"'{parts[0]}' with path= then {', '.join(k + '=' for k in keys)}")
    values = {"path": head[len("path="):]}
    for key, part in zip(keys, tail):
        name, sep, value = part.partition("=")
        if not sep or name != key:
            raise ParseError(path, line, f"field {key}=... in a '{parts[0]}' line")
        values[key] = value
    return values


# probe version -> the keys of its dir and entry lines
DIR_KEYS = {"1": ("stat", "ino", "dev", "readdir", "entries"),
            "2": ("stat", "ino", "dev", "readdir", "entries", "dot_ino", "dotdot_ino")}
ENTRY_KEYS = {"1": ("d_ino", "lstat", "ino", "type", "open", "fstat", "match"),
              "2": ("d_ino", "d_off", "lstat", "ino", "type", "open", "fstat", "match")}


def read_probe_log(path: Path) -> ProbeLog:
    """An abiprobe log; ParseError for anything else or a log without its end line."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as err:
        raise ParseError(path, None, f"a readable ABI probe log ({err.strerror})") from None
    if not lines or not lines[0].startswith("probe\t"):
        raise ParseError(path, 1, "the ABI probe's first line 'probe<TAB>version=1<TAB>bits=...'")
    header = dict(part.partition("=")[::2] for part in lines[0].split("\t")[1:])
    if header.get("bits") not in ("32", "64"):
        raise ParseError(path, 1, "bits=32 or bits=64 in the probe line")
    if header.get("version") not in ENTRY_KEYS:
        raise ParseError(path, 1, f"probe version {' or '.join(ENTRY_KEYS)}")
    dir_keys, entry_keys = DIR_KEYS[header["version"]], ENTRY_KEYS[header["version"]]
    dirs, current, end = {}, None, None
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if parts[0] == "dir":
            current = _fields(parts, path, number, dir_keys)
            current.update(line=number, listed=[])
            dirs[current["path"]] = current
        elif parts[0] == "entry":
            if current is None:
                raise ParseError(path, number, "a 'dir' line before its entries")
            entry = _fields(parts, path, number, entry_keys)
            entry["line"] = number
            current["listed"].append(entry)
        elif parts[0] == "end":
            end = dict(part.partition("=")[::2] for part in parts[1:])
        else:
            raise ParseError(path, number, "a probe, dir, entry or end line")
    if end is None:
        raise ParseError(path, len(lines), "the 'end' line (the probe was killed or its output cut)")
    return ProbeLog(header, dirs, end)


def _errors(probe: ProbeLog, dirs: list[str], name: str) -> list[tuple[str, str, int]]:
    """(path, call, line) of every `name` errno in `dirs` of a probe log."""
    found = []
    for d in dirs:
        info = probe.dirs.get(d)
        if info is None:
            continue
        for call in ("stat", "readdir"):
            if info[call] == name:
                found.append((d, f"{call}()", info["line"]))
        for entry in info["listed"]:
            for call in ("lstat", "open", "fstat"):
                if entry[call] == name:
                    found.append((entry["path"], f"{call}()", entry["line"]))
    return found


def _inodes(probe: ProbeLog, dirs: list[str]) -> dict[str, int]:
    out = {}
    for d in dirs:
        info = probe.dirs.get(d)
        if info is None:
            continue
        if info["ino"].isdigit():
            out[d] = int(info["ino"])
        for entry in info["listed"]:
            if entry["ino"].isdigit():
                out[entry["path"]] = int(entry["ino"])
            elif entry["d_ino"].isdigit():
                out.setdefault(entry["path"], int(entry["d_ino"]))
    return out


def _readdir_stops(p32: ProbeLog, p64: ProbeLog, dirs: list[str]) -> list[tuple[str, str]]:
    """Why each 32-bit readdir() that failed with EOVERFLOW stopped: (directory, "inode" when the
    64-bit view of it holds an inode number above 2^32 (its entries, "." or ".."), else "offset":
    readdir() fails only on d_ino or d_off, so a directory offset did not fit in 32 bits)."""
    stops = []
    for d in dirs:
        if d not in p32.dirs or p32.dirs[d]["readdir"] != "EOVERFLOW" or d not in p64.dirs:
            continue
        view = p64.dirs[d]
        inodes = [e["d_ino"] for e in view["listed"]] + [view.get("dot_ino", "-"), view.get("dotdot_ino", "-")]
        big = any(i.isdigit() and int(i) >= INODE_32_LIMIT for i in inodes)
        stops.append((d, "inode" if big or "dotdot_ino" not in view else "offset"))
    return stops


def _fs_text(fs: dict, xino_auto: str | None) -> str:
    if not fs or fs.get("error"):
        return f"filesystem unknown ({(fs or {}).get('error', 'not recorded')})"
    superblock = ",".join(o for o in (fs.get("super_options") or "").split(",")
                          if not o.startswith(("lowerdir=", "upperdir=", "workdir=")))
    options = f"{fs.get('mount_options')},{superblock}"
    text = (f"{fs.get('fstype')} on {fs.get('mount_point')} ({fs.get('source')}), mount options "
            f"{fs.get('mount_options')}, superblock options {superblock or 'none'}")
    if fs.get("fstype") == "overlay" and "xino=" not in options:
        text += f"; xino {'auto' if xino_auto == 'Y' else 'off'} (overlay module default)"
    if fs.get("fstype") == "xfs" and "inode32" not in options and "inode64" not in options:
        text += "; inode64 (the XFS default since Linux 3.7)"
    return text


def mount_points(path: Path) -> frozenset[str]:
    """The mount points in a copy's mountinfo.txt (proc(5): the fifth field, octal escapes
    undone); empty when the file is missing or unreadable."""
    from ..inimage.audit import mountinfo  # the in-environment driver's reader of the same file

    try:
        return frozenset(m["mount_point"] for m in mountinfo(Path(path).read_text(errors="replace")))
    except OSError:
        return frozenset()


def abi_findings(env: dict, probes: dict[str, ProbeLog | str], source: Path,
                 logs: dict[str, Path], mounts: frozenset[str] = frozenset()) -> list[Finding]:
    """Per probed filesystem: would 32-bit software break here? (EOVERFLOW from the 32-bit probe,
    entries its readdir() never reached, inode numbers that differ between the two views).
    `mounts`: the environment's mount points; an entry that is one (a file bind-mounted from the
    same device, as bare mode's /etc/passwd and /etc/group) shows the covered file's inode to
    readdir() and the mounted one's to stat(), which is no disagreement of the ABI."""
    out = []
    for probed in env.get("probed") or []:
        label, dirs, fs = probed["label"], probed["dirs"], probed.get("filesystem") or {}
        item, title = f"abi.{label}", f"32-bit ABI: {FS_LABELS.get(label, label)} ({probed['path']})"
        fs_text = _fs_text(fs, env.get("overlay_xino_auto"))
        extra = {"filesystem": label, "path": probed["path"], "fstype": fs.get("fstype"),
                 "mount_options": fs.get("mount_options"), "super_options": fs.get("super_options"),
                 "source_device": fs.get("source")}
        missing = [bits for bits, p in probes.items() if not isinstance(p, ProbeLog)]
        if missing:
            why = "; ".join(str(probes[b]) for b in missing)
            out.append(Finding(item, "abi", title, "warning", f"not probed: {why}", fs_text, source, extra))
            continue
        p32, p64 = probes["32"], probes["64"]
        overflow32, overflow64 = _errors(p32, dirs, "EOVERFLOW"), _errors(p64, dirs, "EOVERFLOW")
        ino32, ino64 = _inodes(p32, dirs), _inodes(p64, dirs)
        big = sorted((path, ino) for path, ino in ino64.items() if ino >= INODE_32_LIMIT)
        # entries after the one 32-bit readdir() stopped at (glibc cannot step over it)
        unreached = sum(max(0, int(p64.dirs[d]["entries"]) - int(p32.dirs[d]["entries"]))
                        for d in dirs if d in p64.dirs and d in p32.dirs and p32.dirs[d]["readdir"] != "ok")
        differ = [(path, ino32[path], ino64[path]) for path in ino32 if path in ino64 and ino32[path] != ino64[path]]
        listed_no = [e["path"] for d in dirs if d in p64.dirs for e in p64.dirs[d]["listed"] if e["match"] == "no"]
        d_mismatch = [path for path in listed_no if path not in mounts]
        files = len(ino64)
        extra.update(files_64=files, eoverflow_32=len(overflow32), eoverflow_64=len(overflow64),
                     unreached_32=unreached, inodes_above_2_32=len(big),
                     max_inode=max(ino64.values(), default=None), ino_differs=len(differ),
                     d_ino_mismatches_64=len(d_mismatch))
        evidence = [fs_text, f"{files} files and directories seen by the 64-bit probe, largest inode "
                             f"{max(ino64.values(), default='—')}"]
        if big:
            evidence.append(f"{len(big)} inode numbers above 2^32, e.g. {big[0][0]} = {big[0][1]}")
        if overflow32:
            path, call, line = overflow32[0]
            evidence.append(f"32-bit: {len(overflow32)} EOVERFLOW, e.g. {call} of {path} "
                            f"({logs['32'].name}:{line})")
        if unreached:
            evidence.append(f"32-bit readdir() never reached {unreached} entries")
        if overflow64:
            path, call, line = overflow64[0]
            evidence.append(f"64-bit: {len(overflow64)} EOVERFLOW, e.g. {call} of {path} ({logs['64'].name}:{line})")
        if differ:
            evidence.append(f"inode differs between the views, e.g. {differ[0][0]}: 32-bit {differ[0][1]}, "
                            f"64-bit {differ[0][2]}")
        if d_mismatch:
            evidence.append(f"64-bit readdir d_ino != lstat st_ino for {len(d_mismatch)}, e.g. {d_mismatch[0]}")
        if len(listed_no) > len(d_mismatch):
            evidence.append(f"{len(listed_no) - len(d_mismatch)} mount points not compared "
                            f"(e.g. {sorted(set(listed_no) - set(d_mismatch))[0]})")
        stops = _readdir_stops(p32, p64, dirs)
        by_offset = [d for d, why in stops if why == "offset"]
        by_inode = [d for d, why in stops if why == "inode"]
        extra.update(readdir_stops_32=len(stops), readdir_stops_by_offset=len(by_offset))
        if by_offset:
            offsets = [e.get("d_off", "?") for e in p64.dirs[by_offset[0]]["listed"]]
            evidence.append(f"32-bit readdir() of {by_offset[0]} failed although every inode number in it fits: "
                            f"its directory offsets do not (64-bit view: d_off {', '.join(offsets[:3])})")
        if overflow32 or unreached or differ or overflow64:
            verdict = "blocking"
            cause = (" (inode numbers above 2^32" + (" and directory offsets above 2^31)" if by_offset else ")")
                     if big or by_inode else " (directory offsets (d_off) above 2^31; the inode numbers fit)"
                     if by_offset else "")
            summary = (f"32-bit software breaks here: stat()/readdir() fail with EOVERFLOW{cause}" if overflow32 else
                       "32-bit software misses files here" if unreached else
                       "32-bit and 64-bit programs see different inode numbers" if differ else
                       "even 64-bit stat() fails with EOVERFLOW")
            if overflow32 and not overflow64:
                summary += "; 64-bit programs are fine"
        elif d_mismatch:
            verdict, summary = "warning", ("readdir() and stat() disagree on inode numbers: tools that compare "
                                           "them (find, tar, du hard-link detection) can misbehave")
        else:
            verdict = "ok"
            summary = "32-bit and 64-bit programs see the same files (every inode below 2^32)"
        out.append(Finding(item, "abi", title, verdict, summary, "; ".join(evidence), logs["32"], extra))
    return out


# --- the parser --------------------------------------------------------------------------------


def _load_json(path: Path, fmt: str | None) -> dict:
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ParseError(path, None, f"a readable {path.name} ({err.strerror})") from None
    except ValueError as err:
        raise ParseError(path, getattr(err, "lineno", None), f"JSON ({err})") from None
    if not isinstance(data, dict) or (fmt and data.get("format") != fmt):
        raise ParseError(path, 1, f"a JSON object with \"format\": \"{fmt}\"")
    return data


def _copy_dir(run_dir: Path) -> Path:
    copies = sorted((p for p in run_dir.glob("copy*") if p.name[4:].isdigit()), key=lambda p: int(p.name[4:]))
    return copies[0] if copies else run_dir / "copy0"


class AuditParser(Parser):
    """execbench's own audit logs: host-audit.json v1, engine-readback.json, audit.json v1 and
    abiprobe v1 logs (formats in the module docstring)."""

    format = "execbench-audit"
    variants = ("execbench host-audit.json version 1 + copy<i>/audit.json version 1 + abiprobe version 1 logs",)

    def detect(self, path: Path) -> bool:
        path = Path(path)
        if not path.is_dir() or not (path / HOST_LOG).is_file():
            return False
        return json.loads((path / HOST_LOG).read_text()).get("format") == "execbench-host-audit"

    def parse(self, path: Path) -> list[Record]:
        run_dir = Path(path)
        if not run_dir.is_dir():
            raise ParseError(run_dir, None, f"an audit run directory holding {HOST_LOG} and copy0/{ENV_LOG}")
        host = _load_json(run_dir / HOST_LOG, "execbench-host-audit")
        copy = _copy_dir(run_dir)
        env = _load_json(copy / ENV_LOG, "execbench-audit-env")
        readback_path = run_dir / READBACK_LOG
        readback = _load_json(readback_path, None) if readback_path.is_file() else None
        probes, logs = {}, {}
        for bits, name in PROBE_LOGS.items():
            logs[bits] = copy / name
            info = (env.get("probes") or {}).get(bits) or {}
            if not info.get("log"):
                probes[bits] = info.get("error") or f"the {bits}-bit probe did not run"
            else:
                probes[bits] = read_probe_log(copy / info["log"])
                if info.get("exit_code") not in (0, None):
                    probes[bits] = f"the {bits}-bit probe exited {info['exit_code']}: {info.get('stderr', '')[-200:]}"
        findings = (host_findings(host, run_dir / HOST_LOG)
                    + mode_findings(env, host, readback, copy / ENV_LOG, readback_path if readback else None)
                    + abi_findings(env, probes, copy / ENV_LOG, logs, mount_points(copy / MOUNTINFO_LOG)))
        records = [f.to_record() for f in findings]
        counts = {v: sum(f.verdict == v for f in findings) for v in VERDICTS}
        blocking = [f.item for f in findings if f.verdict == "blocking"]
        records.append(Record("audit", "blocking", float(counts["blocking"]), "findings", False, str(run_dir),
                              detail=("blocking: " + ", ".join(blocking)) if blocking else "nothing blocking",
                              extra={"scope": "run", **counts}))
        records.append(Record("audit", "warnings", float(counts["warning"]), "findings", False, str(run_dir),
                              detail=f"{counts['warning']} warnings", extra={"scope": "run", **counts}))
        return records


PARSER = AuditParser()
