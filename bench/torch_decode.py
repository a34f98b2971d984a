"""PyTorch decode baseline beside bench/generate.ts: the same GPT-2-small-shaped model (the counter
hash of bench/qwen-real.ts's fillCounterHash, seed 1, in numpy), greedy decoding with a KV cache
(torch.cat per step and layer, as transformers' DynamicCache) after the same 32-token prompt.

    python3 torch_decode.py [f32|bf16] [NEW_TOKENS] [ROUNDS]

bf16 runs under torch.autocast('cpu', dtype=torch.bfloat16). Prints one JSON line with the best
decode tokens/s of ROUNDS runs and the greedy tokens (which must equal ours in float32).
"""
import json, sys, time

from bench_common import blas_library, cached_causal_attention, peak_rss_mb, weight
import torch
import torch.nn.functional as F

mode = sys.argv[1] if len(sys.argv) > 1 else 'f32'
new_tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 24
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
torch.set_num_threads(1)  # plus OpenBLAS threads (OPENBLAS_NUM_THREADS)
V, d, L, H, NPOS = 50257, 768, 12, 12, 1024
Dh = d // H


t0 = time.perf_counter()
wte = weight('transformer.wte.weight', (V, d))
wpe = weight('transformer.wpe.weight', (NPOS, d))
layers = []
for l in range(L):
    p = f'transformer.h.{l}.'
    # Conv1D weights are [in, out]; stored transposed once for F.linear ([out, in]), as nn.Linear would.
    layers.append(dict(
        attn=weight(p + 'attn.c_attn.weight', (d, 3 * d)).t().contiguous(),
        proj=weight(p + 'attn.c_proj.weight', (d, d)).t().contiguous(),
        fc=weight(p + 'mlp.c_fc.weight', (d, 4 * d)).t().contiguous(),
        fc_proj=weight(p + 'mlp.c_proj.weight', (4 * d, d)).t().contiguous()))
build_s = time.perf_counter() - t0
ones, zeros = torch.ones(d), torch.zeros(d)
b3, b4 = torch.zeros(3 * d), torch.zeros(4 * d)


def ln(x):
    return F.layer_norm(x, (d,), ones, zeros, 1e-5)


def forward(ids, cache):
    T = ids.shape[0]
    past = cache[0][0].shape[1] if cache else 0
    x = wte[ids] + wpe[past:past + T]
    for i, w in enumerate(layers):
        q, k, v = F.linear(ln(x), w['attn'], b3).split(d, -1)
        q, k, v = (t.view(T, H, Dh).transpose(0, 1) for t in (q, k, v))
        o = cached_causal_attention(q, k, v, cache, i)
        x = x + F.linear(o, w['proj'], zeros)
        x = x + F.linear(F.gelu(F.linear(ln(x), w['fc'], b4), approximate='tanh'), w['fc_proj'], zeros)
    return ln(x[-1:]) @ wte.t()


prompt = torch.tensor([3 + ((i * 7919 + 11) % (V - 3)) for i in range(32)])
best, tokens = 0.0, []
with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=mode == 'bf16'):
    for r in range(rounds + 1):  # the first run warms up
        cache = []
        logits = forward(prompt, cache)
        out = [int(logits[-1].argmax())]
        t0 = time.perf_counter()
        for _ in range(new_tokens - 1):
            logits = forward(torch.tensor([out[-1]]), cache)
            out.append(int(logits[-1].argmax()))
        dt = time.perf_counter() - t0
        if r > 0:
            best = max(best, (new_tokens - 1) / dt)
        tokens = out
print(json.dumps(dict(engine=f'pytorch-{torch.__version__}-{mode}', buildSeconds=build_s,
                      decodeTokensPerS=best, tokens=tokens, blas=blas_library(),
                      maxrssMb=peak_rss_mb())))
