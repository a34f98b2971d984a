"""Pieces the PyTorch baselines share (bench/torch_*.py): the counter-hash weights that
bench/qwen-real.ts `fillCounterHash` also draws, so both sides run identical models; causal
attention over a KV cache; the BLAS library torch actually loaded; and this process's own peak
memory."""
import math
import os
import resource

import numpy as np
import torch

SEED, BOUND = 1, 0.02 * 3 ** 0.5


def fnv1a(s):
    h = 0x811c9dc5
    for ch in s.encode():
        h = ((h ^ ch) * 0x01000193) & 0xffffffff
    return h


def weight(name, shape):
    """A float32 tensor of `shape`, uniform in [-BOUND, BOUND), from a hash of (name, element index)."""
    n = int(np.prod(shape))
    base = np.uint32((fnv1a(name) + SEED) & 0xffffffff)
    out = np.empty(n, dtype=np.float32)
    with np.errstate(over='ignore'):
        for s in range(0, n, 1 << 24):
            x = np.arange(s, min(n, s + (1 << 24)), dtype=np.uint32) * np.uint32(0x9e3779b1) + base
            x ^= x >> np.uint32(16); x *= np.uint32(0x85ebca6b)
            x ^= x >> np.uint32(13); x *= np.uint32(0xc2b2ae35)
            x ^= x >> np.uint32(16)
            out[s:s + len(x)] = (((x >> np.uint32(8)).astype(np.float64) / 16777216 * 2 - 1) * BOUND).astype(np.float32)
    return torch.from_numpy(out.reshape(shape))


def cached_causal_attention(q, k, v, cache, layer):
    """Causal attention of q [H, T, Dh] over k, v [KV, T, Dh] (KV divides H: grouped-query heads),
    first appended to `cache[layer]` (a list of (k, v) per layer, grown on the first call; None: no
    cache). Returns the heads side by side, [T, H * Dh]."""
    if cache is not None:
        if len(cache) > layer:
            k, v = torch.cat([cache[layer][0], k], 1), torch.cat([cache[layer][1], v], 1)
            cache[layer] = (k, v)
        else:
            cache.append((k, v))
    H, T, Dh = q.shape
    S, groups = k.shape[1], H // k.shape[0]
    if groups > 1:
        k, v = k.repeat_interleave(groups, 0), v.repeat_interleave(groups, 0)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
    mask = torch.ones(T, S, dtype=torch.bool).triu(S - T + 1)
    return (s.masked_fill(mask, float('-inf')).softmax(-1) @ v).transpose(0, 1).reshape(T, H * Dh)


def blas_library():
    """The BLAS shared libraries this process mapped after a matmul (Debian's torch uses libblas.so.3)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = set()
    with open('/proc/self/maps') as f:
        for line in f:
            path = line.split()[-1]
            if 'blas' in os.path.basename(path).lower():
                libs.add(os.path.realpath(path))
    return sorted(libs)


def peak_rss_mb():
    """This process's peak resident memory in MB. Linux's ru_maxrss survives fork and exec, so a child
    of a large parent would report the parent's peak; VmHWM is the child's own."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
