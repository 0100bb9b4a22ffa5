#!/usr/bin/env python3
"""Prepare OpenCV Zoo's int8 block-quantised YuNet and SFace files for ONNX Runtime.

ONNX Runtime 1.32 rejects YuNet's rank-1 bias DequantizeLinear nodes (a one-element
scale with a block size), and SFace lists its weights as graph inputs, which blocks
constant folding. This script evaluates every constant DequantizeLinear offline with
the ONNX definition, (int32(q) - int32(zero_point)) * scale, where the scale and zero
point are repeated block_size times along the axis. It stores each result as a float32
initializer, drops the initializers and fake graph inputs nothing uses any more, and
raises the IR version to 10, as opset 21 requires. It also makes YuNet's height and
width and SFace's batch dynamic, and rewrites PRelu(x, a) as Relu(x) + a * Min(x, 0).
That rewrite is exact, because one of the two terms is always exactly zero, and it is
faster in ONNX Runtime.

Maintainer tool only: facewatch never runs Python. Usage:
    python3 models/convert.py SRC_YUNET SRC_SFACE OUT_DIR
Needs the `onnx` and `numpy` packages (tested with onnx 1.23.2, numpy 2.4).
"""

import hashlib
import pathlib
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

YUNET_OUT = "yunet_2023mar_fold_dyn.onnx"
SFACE_OUT = "sface_2021dec_fold_fastprelu_dyn.onnx"


def dequantize(q, scale, zero_point, axis, block_size):
    """Evaluate DequantizeLinear-21 on constant inputs, in float32."""
    q32 = q.astype(np.int32)
    zp32 = np.zeros_like(q32) if zero_point is None else zero_point.astype(np.int32)
    scale = scale.astype(np.float32)
    if scale.size == 1:
        return ((q32 - zp32.reshape(-1)[0]) .astype(np.float32) * scale.reshape(-1)[0]).astype(np.float32)
    axis = axis % q.ndim
    if block_size:
        scale = np.repeat(scale, block_size, axis=axis)
        zp32 = np.repeat(zp32, block_size, axis=axis)
        index = [slice(None)] * q.ndim
        index[axis] = slice(0, q.shape[axis])
        scale = scale[tuple(index)]
        zp32 = zp32[tuple(index)]
    else:
        shape = [1] * q.ndim
        shape[axis] = q.shape[axis]
        scale = scale.reshape(shape)
        zp32 = zp32.reshape(shape)
    return ((q32 - zp32).astype(np.float32) * scale).astype(np.float32)


def attribute(node, name, default):
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def fold_dequantize(model):
    """Replace every DequantizeLinear fed only by initializers with a float32 initializer."""
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    removed = []
    new_inits = []
    for node in graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        if not all(name in inits for name in node.input if name):
            continue
        q = numpy_helper.to_array(inits[node.input[0]])
        scale = numpy_helper.to_array(inits[node.input[1]])
        zero_point = None
        if len(node.input) > 2 and node.input[2]:
            zero_point = numpy_helper.to_array(inits[node.input[2]])
        weights = dequantize(
            q, scale, zero_point, attribute(node, "axis", 1), attribute(node, "block_size", 0)
        )
        output = node.output[0]
        removed.append(node)
        users = consumers.get(output, [])
        # A weight flattened for blocked quantisation is followed by a Reshape with a
        # constant shape. Apply it here and take over the Reshape's output name.
        if len(users) == 1 and users[0].op_type == "Reshape" and users[0].input[1] in inits:
            reshape = users[0]
            shape = numpy_helper.to_array(inits[reshape.input[1]])
            weights = weights.reshape(shape)
            output = reshape.output[0]
            removed.append(reshape)
        new_inits.append(numpy_helper.from_array(weights, output))

    for node in removed:
        graph.node.remove(node)
    graph.initializer.extend(new_inits)
    return len(removed)


def drop_unused(model):
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    used |= {out.name for out in graph.output}
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)
    init_names = {init.name for init in graph.initializer}
    for inp in list(graph.input):
        if inp.name not in used or inp.name in init_names:
            graph.input.remove(inp)


def decompose_prelu(model):
    """Rewrite PRelu(x, a) as Relu(x) + a * Min(x, 0)."""
    graph = model.graph
    zero_name = "facewatch_prelu_zero"
    graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), zero_name))
    nodes = []
    count = 0
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        base = f"{node.name or node.output[0]}_split{count}"
        nodes.append(helper.make_node("Relu", [x], [base + "_pos"], name=base + "_relu"))
        nodes.append(helper.make_node("Min", [x, zero_name], [base + "_neg"], name=base + "_min"))
        nodes.append(helper.make_node("Mul", [slope, base + "_neg"], [base + "_scaled"], name=base + "_mul"))
        nodes.append(
            helper.make_node("Add", [base + "_pos", base + "_scaled"], [node.output[0]], name=base + "_add")
        )
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return count


def set_dims(value_info, dims):
    tensor_dims = value_info.type.tensor_type.shape.dim
    for index, dim in dims.items():
        tensor_dims[index].Clear()
        if isinstance(dim, str):
            tensor_dims[index].dim_param = dim
        else:
            tensor_dims[index].dim_value = dim


def finish(model, path):
    del model.graph.value_info[:]
    model.ir_version = 10
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{digest}  {path.name}")


def convert_yunet(src, out_dir):
    model = onnx.load(str(src))
    folded = fold_dequantize(model)
    drop_unused(model)
    set_dims(model.graph.input[0], {2: "height", 3: "width"})
    # The outputs are reshaped to [1, anchors, k], and the anchor count depends on the size.
    for out in model.graph.output:
        stride = out.name.split("_")[-1]
        set_dims(out, {1: f"anchors_{stride}"})
    print(f"yunet: folded {folded} nodes", file=sys.stderr)
    finish(model, out_dir / YUNET_OUT)


def convert_sface(src, out_dir):
    model = onnx.load(str(src))
    folded = fold_dequantize(model)
    drop_unused(model)
    prelus = decompose_prelu(model)
    set_dims(model.graph.input[0], {0: "batch"})
    set_dims(model.graph.output[0], {0: "batch"})
    print(f"sface: folded {folded} nodes, rewrote {prelus} PRelu", file=sys.stderr)
    finish(model, out_dir / SFACE_OUT)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    yunet, sface, out_dir = (pathlib.Path(arg) for arg in sys.argv[1:])
    out_dir.mkdir(parents=True, exist_ok=True)
    convert_yunet(yunet, out_dir)
    convert_sface(sface, out_dir)


if __name__ == "__main__":
    main()
