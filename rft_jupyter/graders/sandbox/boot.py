"""Sandbox bootstrap: namespaces, a minimal read-only view of the host, then no privileges.

Runs as ``python -I -S -c <this file's text> <config JSON>`` (standard library only, nothing from
rft_jupyter). Two kinds:

- ``namespaces``: new mount, network, PID, IPC and UTS namespaces (plus a user namespace when
  not root). A PID-1 process builds the view (read-only binds of the interpreter and system
  paths onto an empty tmpfs, a private /proc, /dev and /tmp), pivots into it, drops to uid
  65534, then starts the worker and reaps orphans. Its exit status is the worker's (128 + signal
  when the worker was killed).
- ``bwrap`` (root only): the same view in a new mount namespace, then uid 65534, then ``exec``
  bubblewrap. bubblewrap run by root maps the sandbox to uid 0, where the kernel ignores
  RLIMIT_NPROC (a fork bomb would exhaust the host's PIDs) and root's own files stay readable;
  from this view, as 65534, neither happens.

Binds are taken from file descriptors opened before the view hides anything, and the privileges
are dropped only afterwards, so the interpreter may live under a directory uid 65534 cannot
enter (e.g. pyenv under /root): the view's own directories are world-readable.
"""

import ctypes
import json
import os
import platform
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME = 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203,
              "s390x": 217, "i686": 217, "armv7l": 218}
# statvfs flags that a remount inside a user namespace must keep (the kernel locks them).
ST_TO_MS = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC),
            (1024, MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME))
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SETUP_FAILED = 71

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]


class SetupError(Exception):
    pass


def _b(value):
    return None if value is None else os.fsencode(value)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)} (errno {err})")


def mount(source, target, fstype, flags, data=None):
    _check(libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {fstype or source} on {target}")


def prctl(option, arg):
    _check(libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def locked_flags(path):
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in ST_TO_MS if flags & st)


def bind(fd, target, is_dir, readonly=True):
    """Bind the object open at ``fd`` on ``target`` (created inside the view)."""
    if is_dir:
        os.makedirs(target, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    if readonly:
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | locked_flags(target)
        mount(None, target, None, flags)


def open_sources(cfg):
    """O_PATH descriptors for every bind source, taken while they are still reachable."""
    opened = []
    for path in cfg["binds"]:
        if os.path.exists(path):
            opened.append((path, os.open(path, os.O_PATH), os.path.isdir(path)))
    devices = []
    for name in DEVICES:
        path = "/dev/" + name
        if os.path.exists(path):
            devices.append((name, os.open(path, os.O_PATH)))
    return opened, devices


def build_view(cfg, kind):
    """Mount the view on a fresh tmpfs and pivot into it."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Descriptors from this mount namespace (a bind from another one is refused), taken before
    # the tmpfs below hides anything.
    opened, devices = open_sources(cfg)
    root = next(p for p in ("/tmp", "/mnt", "/run", "/var/tmp") if os.path.isdir(p))
    os.umask(0o022)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    os.makedirs(root + "/tmp", 0o755, exist_ok=True)
    if kind != "bwrap":
        # The private /tmp before the binds, so that a bind below /tmp (a venv) stays visible.
        mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    for path, fd, is_dir in opened:
        bind(fd, root + path, is_dir)
    for target, path in cfg["symlinks"]:
        os.makedirs(os.path.dirname(root + path), 0o755, exist_ok=True)
        os.symlink(target, root + path)
    os.makedirs(root + "/proc", 0o755, exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/dev", 0o755, exist_ok=True)
    os.makedirs(root + "/tmp", 0o755, exist_ok=True)
    if kind == "bwrap":
        # bubblewrap builds its own /dev from these nodes and mounts its base on /tmp.
        for name, fd in devices:
            bind(fd, f"{root}/dev/{name}", False, readonly=False)
    else:
        mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
        for name, fd in devices:
            bind(fd, f"{root}/dev/{name}", False, readonly=False)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            os.symlink(target, f"{root}/dev/{name}")
        os.makedirs(root + "/dev/shm")
        mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=1777,size=64m")
        os.makedirs(root + cfg["workdir"], 0o755, exist_ok=True)
        mount("tmpfs", root + cfg["workdir"], "tmpfs", MS_NOSUID | MS_NODEV,
              f"mode=1777,size={int(cfg['disk'])}")
    for _, fd, _ in opened:
        os.close(fd)
    for _, fd in devices:
        os.close(fd)
    os.chdir(root)
    number = PIVOT_ROOT.get(platform.machine())
    if number is not None:
        _check(libc.syscall(number, b".", b"."), "pivot_root")
        _check(libc.umount2(b".", MNT_DETACH), "unmount the host's root")
    else:  # unknown syscall number: chroot (no capability is left to escape it)
        os.chroot(".")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def map_user(uid, gid, inside_uid, inside_gid):
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", f"{inside_uid} {uid} 1")
    write_file("/proc/self/gid_map", f"{inside_gid} {gid} 1")


def drop_root(cfg):
    """Become uid/gid 65534 (root only); capabilities go with it."""
    os.setgroups([])
    os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
    os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the uid change: set again


def drop_capabilities():
    """Empty capability sets (the user-namespace case keeps them until exec)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)
    data = (Data * 2)()
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def count_uid_processes(uid):
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"Uid:"):
                            count += int(line.split()[1]) == uid
                            break
            except OSError:
                pass
    return count


def exit_code(status):
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def close_all_but_stderr():
    os.closerange(0, 2)
    os.closerange(3, 1 << 16)


def init(cfg, root, before):
    """PID 1 of the sandbox: build the view, drop privileges, run the worker, reap."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    build_view(cfg, "namespaces")
    nproc = cfg["processes"]
    if root:
        drop_root(cfg)
        try:  # a user namespace of our own: RLIMIT_NPROC then counts only this sandbox
            uid, gid = os.getuid(), os.getgid()
            _check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
            map_user(uid, gid, uid, gid)
        except (SetupError, OSError):
            nproc += before  # the count is shared with the host's other uid-65534 processes
    drop_capabilities()  # those of a new user namespace (they own nothing here, but still)
    import resource

    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    worker = os.fork()
    if worker == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.chdir("/tmp")
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    prctl(PR_SET_DUMPABLE, 0)
    close_all_but_stderr()
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(SETUP_FAILED)
        except InterruptedError:
            continue
        if pid == worker:
            os._exit(exit_code(status))


def main():
    cfg = json.loads(sys.argv[1])
    kind = cfg["kind"]
    root = os.geteuid() == 0
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if kind == "bwrap" and not root:
        raise SetupError("the bubblewrap bootstrap is for root only")
    if kind == "bwrap":
        _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        build_view(cfg, "bwrap")
        drop_root(cfg)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    before = count_uid_processes(cfg["uid"]) if root else 0
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
    if root:
        _check(libc.unshare(flags), "unshare")
    else:
        uid, gid = os.getuid(), os.getgid()
        _check(libc.unshare(flags | CLONE_NEWUSER), "unshare (with a user namespace)")
        map_user(uid, gid, cfg["uid"], cfg["gid"])
    child = os.fork()
    if child == 0:
        try:
            init(cfg, root, before)
        except BaseException as exc:  # report any setup failure, then exit
            os.write(2, f"rft-jupyter sandbox setup failed: {exc}\n".encode())
            os._exit(SETUP_FAILED)
    if root:
        drop_root(cfg)
    close_all_but_stderr()
    while True:
        try:
            pid, status = os.waitpid(child, 0)
        except InterruptedError:
            continue
        os._exit(exit_code(status))


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # report any setup failure, then exit
        os.write(2, f"rft-jupyter sandbox setup failed: {exc}\n".encode())
        os._exit(SETUP_FAILED)
