#!/usr/bin/python3
"""Writes the PyTorch-format fixtures of testdata/t5/bin from the weights of
testdata/t5/tiny-gated/model.safetensors, with torch.save (PyTorch 1.13,
Debian's python3-torch):

  f32/          pytorch_model.bin, zip format (torch >= 1.6), float32. The state
                dict is laid out as transformers' save_pretrained writes a T5:
                encoder/decoder.embed_tokens.weight share shared.weight's
                storage, and it carries the _metadata attribute of a
                module's state_dict(). Some tensors are views to exercise the
                reader: one transposed (non-contiguous strides), two carved out
                of one storage at a non-zero offset.
  f32-legacy/   the same as the legacy (pre-1.6, non-zip) format.
  f32-sharded/  pytorch_model.bin.index.json + two shards, as
                save_pretrained(max_shard_size=...) writes them; the values of
                the first shard are nn.Parameter (torch._utils._rebuild_parameter).
  f16/, bf16/   pytorch_model.bin of the weights cast with .half() / .bfloat16()
                (round to nearest even).
  f16-st/, bf16-st/
                model.safetensors of exactly those half-precision tensors
                (dtype F16 / BF16), for comparing the two formats.
  malicious/    pickles that run code when torch.load opens them:
                pytorch_model.bin (zip; __reduce__ -> os.system),
                eval-legacy.bin (legacy format; builtins.eval),
                stack-global.bin (zip, pickle protocol 4: os.system reached
                through STACK_GLOBAL). They are only written, never loaded.
  small/        zip.bin, legacy.bin, half.bin: tiny state dicts (a few
                elements of F32, F16, BF16, with a view at an offset), the
                small seeds of the fuzz targets.

Every directory gets a copy of tiny-gated's config.json. Run from the
repository root: /usr/bin/python3 testdata/t5/bin/make_bin.py
"""
import collections
import json
import os
import shutil
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "tiny-gated")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors, metadata):
    codes = {torch.float16: ("F16", torch.int16), torch.bfloat16: ("BF16", torch.int16), torch.float32: ("F32", torch.int32)}
    header, chunks, off = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, as_int = codes[t.dtype]
        raw = t.view(as_int).numpy().tobytes()  # little-endian on this machine
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def fresh(name):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(os.path.join(SRC, "config.json"), d)
    return d


def hf_layout(weights):
    """A state dict as save_pretrained writes a T5: tied embeddings sharing
    shared.weight's storage, and the _metadata attribute."""
    sd = collections.OrderedDict()
    for k, v in weights.items():
        sd[k] = v
        if k == "shared.weight":
            sd["encoder.embed_tokens.weight"] = v
            sd["decoder.embed_tokens.weight"] = v
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("encoder", {"version": 1})])
    return sd


def with_views(sd):
    """Replaces two tensors by views of one storage at offsets, and one by a
    transposed view of a contiguous storage: same values, other layout."""
    out = collections.OrderedDict(sd)
    out._metadata = sd._metadata
    a, b = "encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.block.0.layer.0.SelfAttention.k.weight"
    big = torch.cat([sd[a].flatten(), sd[b].flatten()])
    n = sd[a].numel()
    out[a] = big[:n].view(sd[a].shape)
    out[b] = big[n:].view(sd[b].shape)
    c = "decoder.block.1.layer.2.DenseReluDense.wo.weight"
    out[c] = sd[c].t().contiguous().t()  # strides (1, rows)
    assert not out[c].is_contiguous() and out[b].storage_offset() == n
    return out


class System:
    def __reduce__(self):
        return (os.system, ("echo this pickle ran code",))


class Eval:
    def __reduce__(self):
        return (eval, ("print('this pickle ran code')",))


def main():
    weights = read_safetensors(os.path.join(SRC, "model.safetensors"))
    sd = hf_layout(weights)

    torch.save(with_views(sd), os.path.join(fresh("f32"), "pytorch_model.bin"))
    torch.save(sd, os.path.join(fresh("f32-legacy"), "pytorch_model.bin"), _use_new_zipfile_serialization=False)

    d = fresh("f32-sharded")
    names = list(sd.keys())
    half = len(names) // 2
    shards = [names[:half], names[half:]]
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        fname = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(shards))
        piece = collections.OrderedDict()
        for k in part:
            piece[k] = torch.nn.Parameter(sd[k], requires_grad=False) if i == 0 else sd[k]
            weight_map[k] = fname
            total += sd[k].numel() * 4
        torch.save(piece, os.path.join(d, fname))
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")

    for name, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        cast = collections.OrderedDict((k, v.to(dtype)) for k, v in weights.items())
        for k, v in cast.items():
            assert torch.isfinite(v.float()).all(), k
        torch.save(hf_layout(cast), os.path.join(fresh(name), "pytorch_model.bin"))
        write_safetensors(os.path.join(fresh(name + "-st"), "model.safetensors"), cast,
                          {"format": "pt", "provenance": "testdata/t5/tiny-gated weights cast by torch %s .to(%s)" % (torch.__version__, dtype)})

    d = fresh("malicious")
    torch.save(collections.OrderedDict([("shared.weight", System())]), os.path.join(d, "pytorch_model.bin"))
    torch.save({"shared.weight": Eval()}, os.path.join(d, "eval-legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save({"shared.weight": System()}, os.path.join(d, "stack-global.bin"), pickle_protocol=4)


def small():
    d = os.path.join(HERE, "small")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    g = torch.Generator().manual_seed(0)
    base = torch.randn(8, generator=g)
    sd = collections.OrderedDict([("a", base[:6].view(2, 3)), ("b", base[6:]), ("c", torch.randn(3, 2, generator=g).t())])
    sd["a2"] = sd["a"]
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    torch.save(sd, os.path.join(d, "zip.bin"))
    torch.save(sd, os.path.join(d, "legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save(collections.OrderedDict([("h", base[:3].half()), ("bf", base[3:].bfloat16())]), os.path.join(d, "half.bin"))


if __name__ == "__main__":
    small()
    main()
