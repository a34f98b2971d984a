"""PyTorch side of bench/qwen-real.ts: the same Qwen2.5-0.5B-shaped model with the same weights
(the counter hash of qwen-real.ts, in numpy), one LoRA step (r 8 on q_proj/v_proj, AdamW) on the
same 512 tokens, then greedy decoding of 16 tokens with a KV cache after a 32-token prompt.

    python3 torch_qwen.py [f32|bf16] [STEPS]

bf16 runs under torch.autocast('cpu', dtype=torch.bfloat16). Prints one JSON line.
"""
import json, math, sys, time

import numpy as np
from bench_common import cached_causal_attention, peak_rss_mb, weight
import torch
import torch.nn.functional as F

mode = sys.argv[1] if len(sys.argv) > 1 else 'f32'
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
torch.set_num_threads(1)  # plus OpenBLAS threads (OPENBLAS_NUM_THREADS)
V, d, I, L, H, KV = 151936, 896, 4864, 24, 14, 2
Dh = d // H
EPS, THETA = 1e-6, 1e6


t0 = time.perf_counter()
embed = weight('model.embed_tokens.weight', (V, d))
layers = []
for l in range(L):
    p = f'model.layers.{l}.'
    layers.append(dict(
        q=weight(p + 'self_attn.q_proj.weight', (d, d)), k=weight(p + 'self_attn.k_proj.weight', (KV * Dh, d)),
        v=weight(p + 'self_attn.v_proj.weight', (KV * Dh, d)), o=weight(p + 'self_attn.o_proj.weight', (d, d)),
        gate=weight(p + 'mlp.gate_proj.weight', (I, d)), up=weight(p + 'mlp.up_proj.weight', (I, d)),
        down=weight(p + 'mlp.down_proj.weight', (d, I)),
        qA=(torch.randn(8, d) / math.sqrt(d)).requires_grad_(True), qB=torch.zeros(d, 8, requires_grad=True),
        vA=(torch.randn(8, d) / math.sqrt(d)).requires_grad_(True), vB=torch.zeros(KV * Dh, 8, requires_grad=True)))
build_s = time.perf_counter() - t0
zero_q, zero_kv = torch.zeros(d), torch.zeros(KV * Dh)  # Qwen2's q/k/v biases (zero here, as in qwen-real.ts)
inv_freq = 1.0 / (THETA ** (torch.arange(0, Dh, 2, dtype=torch.float32) / Dh))


def rms(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)


def rope(x, pos):
    f = pos[:, None].float() * inv_freq[None, :]
    cos, sin = torch.cat([f.cos(), f.cos()], -1), torch.cat([f.sin(), f.sin()], -1)
    x1, x2 = x[..., :Dh // 2], x[..., Dh // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(ids, cache=None):
    T = ids.shape[0]
    past = cache[0][0].shape[1] if cache else 0
    pos = torch.arange(past, past + T)
    x = embed[ids]
    for i, w in enumerate(layers):
        a = rms(x)
        q = F.linear(a, w['q'], zero_q) + 2.0 * (a @ w['qA'].t()) @ w['qB'].t()
        k = F.linear(a, w['k'], zero_kv)
        v = F.linear(a, w['v'], zero_kv) + 2.0 * (a @ w['vA'].t()) @ w['vB'].t()
        q = rope(q.view(T, H, Dh).transpose(0, 1), pos)
        k = rope(k.view(T, KV, Dh).transpose(0, 1), pos)
        v = v.view(T, KV, Dh).transpose(0, 1)
        o = cached_causal_attention(q, k, v, cache, i)
        x = x + F.linear(o, w['o'])
        a = rms(x)
        x = x + F.linear(F.silu(F.linear(a, w['gate'])) * F.linear(a, w['up']), w['down'])
    return rms(x) @ embed.t()


T = 512
ids = torch.tensor([3 + ((i * 7919 + 11) % 151000) for i in range(T)])
params = [w[n] for w in layers for n in ('qA', 'qB', 'vA', 'vB')]
opt = torch.optim.AdamW(params, lr=1e-4)
times, losses = [], []
for _ in range(steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=mode == 'bf16'):
        logits = forward(ids)
    loss = F.cross_entropy(logits[:-1].float(), ids[1:])
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
    losses.append(float(loss))
with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=mode == 'bf16'):
    cache = []
    logits = forward(ids[:32], cache)
    t0 = time.perf_counter()
    for _ in range(16):
        nxt = int(logits[-1].argmax())
        logits = forward(torch.tensor([nxt]), cache)
    decode_s = time.perf_counter() - t0
med = float(np.median(times))
print(json.dumps(dict(engine=f'pytorch-{torch.__version__}-{mode}', buildSeconds=build_s, stepSeconds=times,
                      trainTokensPerS=T / med, losses=losses, decodeTokens=16, decodeTokensPerS=16 / decode_s,
                      maxrssMb=peak_rss_mb())))
