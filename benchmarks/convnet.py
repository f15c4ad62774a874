"""ch7–8 speed: one training step of SimpleConvNet / DeepConvNet, four ways, side by side.

    python -m benchmarks.convnet [--reps 7] [--batch 100] [--nets simple,deep]

A step is forward + backward + Adam update on a batch of 100 float32 28×28 images. Measured in
one process, interleaved round by round, BLAS and torch pinned to one thread (set before NumPy
and torch are imported: two threads on a shared 2-core machine swing results 2–70×):

- ``baseline``: the textbook algorithm — the book's im2col/col2im (a float64 (N, C, FH, FW, oh,
  ow) buffer filled one kernel offset at a time, then transposed; ``np.pad``), Pooling through a
  full im2col + argmax — written here, in the same network with the same other layers;
- ``scratch``: ``scratch.convnet`` in float32 (dtype-kept im2col/col2im written in their final
  memory order, convolution in cache-sized blocks of images, channels-last activations,
  pooling without im2col, no dx for the first layer — autograd skips it too);
- ``zerotorch``: ``zerotorch.networks.convnet`` (``F.conv2d``) with ``zerotorch.optim.Adam``;
- ``torch``: the same network from built-ins (``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.Linear``,
  ``F.cross_entropy``, ``torch.optim.Adam``).

Prints the median seconds per step and the three ratios the issue sets targets for.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # pin BLAS before NumPy loads; importing this module changes nothing
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from scratch.convnet import DeepConvNet, SimpleConvNet  # noqa: E402
from scratch.optimizer import Adam  # noqa: E402
from zerotorch import functional as zF  # noqa: E402
from zerotorch import optim as zoptim  # noqa: E402
from zerotorch.networks import convnet as zconvnet  # noqa: E402

# --- the textbook algorithm (the baseline), written out loop by loop ------------------------

def textbook_im2col(x, fh, fw, stride=1, pad=0):
    n, c, h, w = x.shape
    oh = (h + 2 * pad - fh) // stride + 1
    ow = (w + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, fh, fw, oh, ow))  # float64, as the book's
    for y in range(fh):
        for xx in range(fw):
            col[:, :, y, xx, :, :] = img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)  # (N·oh·ow, C·FH·FW)


def textbook_col2im(col, shape, fh, fw, stride=1, pad=0):
    n, c, h, w = shape
    oh = (h + 2 * pad - fh) // stride + 1
    ow = (w + 2 * pad - fw) // stride + 1
    col = col.reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)  # (N, C, FH, FW, oh, ow)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for y in range(fh):
        for xx in range(fw):
            img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride] += col[:, :, y, xx]
    return img[:, :, pad:h + pad, pad:w + pad]


class TextbookConvolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        fn, c, fh, fw = self.W.shape
        n, _, h, w = x.shape
        oh = (h + 2 * self.pad - fh) // self.stride + 1
        ow = (w + 2 * self.pad - fw) // self.stride + 1
        self.x = x
        self.col = textbook_im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = np.sum(dout, axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(fn, c, fh, fw)
        dcol = dout @ self.col_W.T
        return textbook_col2im(dcol, self.x.shape, fh, fw, self.stride, self.pad)


class TextbookPooling:
    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        n, c, h, w = x.shape
        oh = (h - self.pool_h) // self.stride + 1
        ow = (w - self.pool_w) // self.stride + 1
        col = textbook_im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(n, oh, ow, c).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(dout.shape + (size,)).reshape(dout.shape[0] * dout.shape[1]
                                                         * dout.shape[2], -1)
        return textbook_col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride,
                               self.pad)


def textbook_net(net):
    """The same scratch network with its Convolution/Pooling layers replaced by the textbook's."""
    from scratch.convolution import Convolution, Pooling

    for name, layer in list(net.layers.items()):
        if isinstance(layer, Convolution):
            new = TextbookConvolution(layer.W, layer.b, layer.stride, layer.pad)
        elif isinstance(layer, Pooling):
            new = TextbookPooling(layer.pool_h, layer.pool_w, layer.stride, layer.pad)
        else:
            continue
        net.layers[name] = new
    return net


# --- one training step per implementation ---------------------------------------------------

def scratch_step(net, opt, x, t):
    def step():
        grads = net.gradient(x, t)
        opt.update(net.params, grads)
    return step


def torch_step(model, opt, loss_fn, x, t):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
    return step


def build(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    cls_s, cls_z = ((SimpleConvNet, zconvnet.SimpleConvNet) if kind == "simple"
                    else (DeepConvNet, zconvnet.DeepConvNet))
    scratch_net = cls_s(rng=rng, dtype=np.float32)
    base_net = textbook_net(cls_s(rng=np.random.default_rng(seed), dtype=np.float32))
    z = cls_z(dtype=torch.float32, generator=torch.Generator().manual_seed(seed))
    z.load_params(scratch_net.params).train()
    builtin = z.to_builtin().train()
    return scratch_net, base_net, z, builtin


def bench(kind: str, reps: int, batch: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, batch)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    scratch_net, base_net, z, builtin = build(kind)
    steps = {
        "baseline": scratch_step(base_net, Adam(), x, t),
        "scratch": scratch_step(scratch_net, Adam(), x, t),
        "zerotorch": torch_step(z, zoptim.Adam(z.parameters()), zF.softmax_cross_entropy, xt, tt),
        "torch": torch_step(builtin, torch.optim.Adam(builtin.parameters()), F.cross_entropy,
                            xt, tt),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    for f in steps.values():  # warm-up
        f()
    for _ in range(reps):  # interleaved, so load changes hit every side alike
        for k, f in steps.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--nets", default="simple,deep")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads: torch "
          f"{torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"batch {args.batch}, float32, median of {args.reps}")
    head = f"{'network':<14}{'baseline':>10}{'scratch':>10}{'zerotorch':>11}{'torch':>9}" \
           f"{'base/scr':>10}{'scr/torch':>11}{'zt/torch':>10}"
    print(head)
    print("-" * len(head))
    results = {}
    for kind in args.nets.split(","):
        m = bench(kind, args.reps, args.batch)
        results[kind] = m
        name = {"simple": "SimpleConvNet", "deep": "DeepConvNet"}[kind]
        print(f"{name:<14}" + "".join(f"{m[k] * 1e3:>{w}.1f}ms"[-(w + 2):] for k, w in
                                      (("baseline", 8), ("scratch", 8), ("zerotorch", 9),
                                       ("torch", 7)))
              + f"{m['baseline'] / m['scratch']:>9.2f}×{m['scratch'] / m['torch']:>10.2f}×"
              + f"{m['zerotorch'] / m['torch']:>9.2f}×")
    print("\ntargets:")
    for kind, m in results.items():
        name = {"simple": "SimpleConvNet", "deep": "DeepConvNet"}[kind]
        checks = (("scratch vs baseline", m["baseline"] / m["scratch"], 4.0, "≥"),
                  ("scratch vs torch", m["scratch"] / m["torch"],
                   1.5 if kind == "simple" else 2.5, "≤"),
                  ("zerotorch vs torch", m["zerotorch"] / m["torch"], 1.1, "≤"))
        for label, value, target, sign in checks:
            ok = value >= target if sign == "≥" else value <= target
            print(f"  {name:<14} {label:<20} {value:5.2f}×  target {sign} {target}×  "
                  f"{'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
