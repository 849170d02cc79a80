"""A process's RSS (kB), thread count and open fds from /proc: what scripts/http-hostile.py and
scripts/soak.py watch on the server they load (Linux only)."""
import os


def proc_stats(pid):
    """{"vmrss": kB, "threads": n, "fds": n} of pid; {} when pid is 0 or None."""
    if not pid:
        return {}
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("Threads:", "VmRSS:")):
                k, v = line.split(":", 1)
                out[k.lower()] = int(v.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out
