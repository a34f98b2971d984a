"""PyTorch LoRA step of shared/bench/pytorch-baseline (same weights, tokens and workload as its
torch_ref.py), in float32 or under bf16 autocast, plus which BLAS library the process really loaded.

    WEIGHTS=DIR python3 torch_lora.py SIZE STEPS [f32|bf16]

Prints one JSON line: losses, median step time, tokens/s, peak memory, and `blas` (the shared
library providing BLAS, read from /proc/self/maps after a matrix product), so the caller can refuse
a ratio against Debian's reference BLAS (about 30x slower than OpenBLAS).
"""
import json, math, os, sys, time

import numpy as np
from bench_common import blas_library, peak_rss_mb
import torch
import torch.nn.functional as F

size, steps = sys.argv[1], int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else 'f32'
if mode not in ('f32', 'bf16'):
    sys.exit(f'mode must be f32 or bf16, got {mode!r}')
torch.set_num_threads(1)  # one torch thread, OpenBLAS threads from OPENBLAS_NUM_THREADS (see the README)

W = os.path.join(os.environ.get('WEIGHTS', 'weights'), size)
man = json.load(open(f'{W}/manifest.json'))
c, tr = man['config'], man['train']
d, h, L, T, B, V, r = (c[k] for k in 'd h L T B V r'.split())
dh, scale = d // h, tr['lora_alpha'] / r


def ld(k):
    a = np.fromfile(f'{W}/{k}.{"i32" if k == "tokens" else "f32"}', dtype=np.int32 if k == 'tokens' else np.float32)
    return torch.from_numpy(a.reshape(man['shapes'][k]))


P = {k: ld(k) for k in man['shapes']}
tok = P.pop('tokens').long()[:B]
x_in, y = tok[:, :T], tok[:, 1:]
LP = {k: P[k].clone().requires_grad_(True) for k in P if 'lora' in k}
mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)


def forward():
    x = P['wte'][x_in] + P['wpe'][:T]
    for l in range(L):
        p = f'h{l}.'
        a = F.layer_norm(x, (d,), P[p + 'ln1_g'], P[p + 'ln1_b'], tr['ln_eps'])
        q, k, v = (a @ P[p + 'attn_w'] + P[p + 'attn_b']).split(d, dim=-1)
        q = q + scale * ((a @ LP[p + 'lora_qA']) @ LP[p + 'lora_qB'])
        v = v + scale * ((a @ LP[p + 'lora_vA']) @ LP[p + 'lora_vB'])
        q, k, v = (t.reshape(B, T, h, dh).transpose(1, 2) for t in (q, k, v))
        s = ((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))).masked_fill(mask, float('-inf')).softmax(-1)
        o = (s @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ P[p + 'proj_w'] + P[p + 'proj_b']
        a = F.layer_norm(x, (d,), P[p + 'ln2_g'], P[p + 'ln2_b'], tr['ln_eps'])
        x = x + F.gelu(a @ P[p + 'fc_w'] + P[p + 'fc_b'], approximate='tanh') @ P[p + 'fcproj_w'] + P[p + 'fcproj_b']
    x = F.layer_norm(x, (d,), P['lnf_g'], P['lnf_b'], tr['ln_eps'])
    return F.cross_entropy((x @ P['wte'].t()).float().view(-1, V), y.reshape(-1))


opt = torch.optim.AdamW(list(LP.values()), lr=tr['lr'], betas=(tr['beta1'], tr['beta2']), eps=tr['eps'], weight_decay=tr['wd'])
losses, times = [], []
for s in range(steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    if mode == 'bf16':
        with torch.autocast('cpu', dtype=torch.bfloat16):
            loss = forward()
    else:
        loss = forward()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
    losses.append(float(loss))
med = float(np.median(times[1:] if len(times) > 1 else times))
print(json.dumps(dict(engine=f'pytorch-{torch.__version__}-{mode}', size=size, losses=losses, median_step_s=med,
                      tokens_per_s=B * T / med, maxrss_mb=peak_rss_mb(),
                      blas=blas_library(), coretype=os.environ.get('OPENBLAS_CORETYPE'))))
