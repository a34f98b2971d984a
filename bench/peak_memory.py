"""This process's peak resident memory in MB (see bench/peak-memory.ts: Linux's ru_maxrss survives
fork and exec, so a child of a large parent would report the parent's peak; VmHWM is the child's own)."""
import resource


def peak_rss_mb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
