#!/usr/bin/env bash
# GPU check for the experiment platform, a few minutes on one CUDA GPU:
#   1. ch7 train_convnet and ch8 train_deepnet for ONE epoch each on CUDA: images/s, accuracy;
#   2. CUDA vs CPU on one batch for SimpleConvNet and DeepConvNet: logits and every gradient,
#      in float64 (must agree to 1e-10) and float32 with TF32 off (reported).
# Data, first found: full MNIST (ZEROTORCH_DATA / cache), the MNIST test set alone
# (ZEROTORCH_MNIST_DIR, test_only), Debian's Fashion-MNIST, else synthetic images.
# Usage: experiments/gpu_check.sh            (PYTHON=... to choose the interpreter)
# Exit: 0 all good, 1 a check failed, 2 no CUDA.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
OUT="${GPU_CHECK_OUT:-experiments/out/gpu_check}"
export MPLBACKEND=Agg

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA device visible to torch; nothing to check" >&2
  exit 2
fi
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"

read -r -a DATA_ARGS <<< "$("$PY" - <<'PY'
import os
from pathlib import Path
from scratch import dataset
try:
    dataset.raw_folder("mnist", "train")
    print("")  # the full MNIST training set is there
except Exception:
    mnist = os.environ.get("ZEROTORCH_MNIST_DIR", "")
    fashion = Path("/usr/share/datasets/fashion-mnist")
    if mnist and (Path(mnist) / "t10k-images-idx3-ubyte.gz").exists():
        print("--data.init_args.test_only=true --data.init_args.val_size=2000")
    elif (fashion / "train-images-idx3-ubyte.gz").exists():
        print(f"--data.init_args.dataset=fashion-mnist --data.init_args.data_root={fashion}")
    else:
        print("--data=zerotorch.experiments.SyntheticDataModule "
              "--data.init_args.train_size=20000 --data.init_args.val_size=2000")
PY
)"
echo "data arguments: ${DATA_ARGS[*]:-(full MNIST)}"

status=0
for exp in ch7_train_convnet ch8_train_deepnet; do
  args=(experiment run "$exp" --trainer.max_epochs=1 --trainer.accelerator=gpu
        --trainer.devices=1 "--experiment.out_dir=$OUT" "${DATA_ARGS[@]}")
  if ! "$PY" -m zerotorch "${args[@]}"; then
    echo "gpu_check: $exp failed with deterministic=true; retrying with deterministic=warn" >&2
    "$PY" -m zerotorch "${args[@]}" --trainer.deterministic=warn || { status=1; continue; }
  fi
  "$PY" - "$OUT/$exp/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r = s["variants"][0]
print(f"{s['experiment']}: {s['device']} {s['precision']} on {s['data']['label']}: "
      f"{r['images_per_s']} images/s over {r['images']} images ({r['seconds']} s), "
      f"test acc {r.get('test_acc')}, val acc {r['val_acc'][-1] if r['val_acc'] else None}")
PY
done

"$PY" - <<'PY' || status=1
"""CUDA vs CPU for one batch: logits and all parameter gradients of the mean cross-entropy."""
import sys

import torch
import torch.nn.functional as F

from zerotorch.networks import DeepConvNet, SimpleConvNet

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
TOL64, TOL32 = 1e-10, 1e-4  # float64 must agree to rounding; float32 is reported
ok = True
for name, make in (("SimpleConvNet", SimpleConvNet), ("DeepConvNet", DeepConvNet)):
    for dtype, tol in ((torch.float64, TOL64), (torch.float32, TOL32)):
        g = torch.Generator().manual_seed(0)
        x = torch.rand(64, 1, 28, 28, generator=g, dtype=dtype)
        t = torch.randint(0, 10, (64,), generator=g)
        results = {}
        for device in ("cpu", "cuda"):
            net = make(generator=torch.Generator().manual_seed(1), dtype=dtype).to(device)
            net.eval()  # dropout masks would come from different generators on each device
            logits = net(x.to(device))
            loss = F.cross_entropy(logits, t.to(device))
            grads = torch.autograd.grad(loss, list(net.parameters()))
            results[device] = [logits.detach().cpu(), *(gr.cpu() for gr in grads)]
        worst = max(float(((a - b).abs() / (b.abs().max() + 1e-30)).max())
                    for a, b in zip(results["cuda"], results["cpu"], strict=True))
        good = worst <= tol
        ok &= good or dtype == torch.float32
        print(f"CUDA vs CPU {name} {str(dtype)[6:]}: max relative difference {worst:.3g} "
              f"({'ok' if good else 'ABOVE'} {tol:g})")
sys.exit(0 if ok else 1)
PY
echo "gpu_check: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
