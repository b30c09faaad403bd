#!/usr/bin/python3
"""An independent PyTorch BertForSequenceClassification with Hugging Face's semantics.

Ballast's reference for the TensorFlow.js model (trainer/src/model/bert-model.ts): written from
Hugging Face transformers' modeling_bert.py (absolute positions, post-LayerNorm blocks, exact erf
GELU, the padding mask added as (1 - mask) * finfo(float32).min, pooler tanh(dense(h_CLS)),
dropout, linear head; cross-entropy for classification, MSE for regression), without importing
transformers (not installed here). Parameter names are Hugging Face's, so a state dict loads into
transformers and the other way round.

Library use (trainer/reference/torch_train.py does this):
    from torch_bert import BertForSequenceClassification, load_safetensors
    model = load_bert_for_sequence_classification(checkpoint_dir, dropout=0.0)
    logits = model(input_ids, attention_mask, token_type_ids)          # [batch, num_labels]
    loss = model(input_ids, attention_mask, token_type_ids, labels)    # scalar

Script mode (writes the fixtures the TypeScript tests compare against; needs Debian's python3-torch,
run with /usr/bin/python3):
    /usr/bin/python3 torch_bert.py CHECKPOINT_DIR BATCHES.json OUT.json
BATCHES.json: [{"input_ids": [[..]], "attention_mask": [[..]], "token_type_ids": [[..]], "labels": [..]}, ...]
OUT.json: {"torch_version", "batches": [{"logits": [[..]], "loss": x, "grads" (first batch only):
          {name: {"norm", "sum", "first": [4 values]}}}, ...]}
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

# Dtypes this reader turns into float32 weights.
_DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2)}


def load_safetensors(path):
    """Reads a safetensors file into {name: float32 torch.Tensor} (F32, F16, BF16)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} beyond the file")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            continue  # e.g. an int64 position_ids buffer: not a weight
        if end > len(data):
            raise ValueError(f"{path}: {name}: data beyond the file")
        buf = data[begin:end]
        if dtype == "BF16":
            u16 = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[dtype][0]).newbyteorder("<")).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(shape).copy())
    return out


def save_safetensors(path, tensors):
    """Writes {name: tensor} as F32 safetensors (header padded to 8 bytes)."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, input_ids, token_type_ids):
        seq = input_ids.shape[1]
        positions = torch.arange(seq, dtype=torch.long).unsqueeze(0)
        h = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(h))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.head_dim = c["hidden_size"] // self.heads
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def split(self, x):  # [B, S, H] -> [B, heads, S, dh]
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, h, mask_add):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask_add
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[0], ctx.shape[1], -1)


class BertSelfOutput(nn.Module):
    def __init__(self, c, inner):
        super().__init__()
        self.dense = nn.Linear(inner, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c, c["hidden_size"])

    def forward(self, h, mask_add):
        return self.output(self.self(h, mask_add), h)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, h):
        return F.gelu(self.dense(h))  # exact (erf) GELU, HF's "gelu"


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertSelfOutput(c, c["intermediate_size"])

    def forward(self, h, mask_add):
        a = self.attention(h, mask_add)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, h, mask_add):
        for layer in self.layer:
            h = layer(h, mask_add)
        return h


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        # HF's get_extended_attention_mask: (1 - mask) * finfo(dtype).min on masked keys.
        mask_add = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        h = self.encoder(self.embeddings(input_ids, token_type_ids), mask_add)
        return self.pooler(h)


def _config_with_defaults(config):
    c = dict(config)
    c.setdefault("layer_norm_eps", 1e-12)
    c.setdefault("type_vocab_size", 2)
    c.setdefault("max_position_embeddings", 512)
    c.setdefault("pad_token_id", 0)
    c.setdefault("hidden_dropout_prob", 0.1)
    c.setdefault("attention_probs_dropout_prob", 0.1)
    if "num_labels" not in c:
        c["num_labels"] = len(c["id2label"]) if "id2label" in c else 2
    if c.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"hidden_act {c['hidden_act']!r}: only exact gelu is implemented")
    return c


class BertForSequenceClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = _config_with_defaults(config)
        c = self.config
        self.num_labels = c["num_labels"]
        self.bert = BertModel(c)
        classifier_dropout = c.get("classifier_dropout")
        self.dropout = nn.Dropout(c["hidden_dropout_prob"] if classifier_dropout is None else classifier_dropout)
        self.classifier = nn.Linear(c["hidden_size"], self.num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        """Logits [batch, num_labels]; with labels, the mean loss instead (CE, or MSE for 1 label)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        logits = self.classifier(self.dropout(self.bert(input_ids, attention_mask, token_type_ids)))
        if labels is None:
            return logits
        return self.loss(logits, labels)

    def loss(self, logits, labels):
        if self.num_labels == 1:
            return F.mse_loss(logits.squeeze(-1), labels.to(torch.float32).view(-1))
        return F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))


def canonical_name(name):
    """Hub spellings -> current HF names; None for pre-training heads and buffers."""
    if name.startswith("cls.") or name.endswith("embeddings.position_ids"):
        return None
    if name.split(".")[0] in ("embeddings", "encoder", "pooler"):
        name = "bert." + name
    if name.endswith("LayerNorm.gamma"):
        name = name[: -len("gamma")] + "weight"
    elif name.endswith("LayerNorm.beta"):
        name = name[: -len("beta")] + "bias"
    return name


def load_bert_for_sequence_classification(checkpoint_dir, dropout=None, num_labels=None):
    """Loads config.json + model.safetensors. The head must be in the checkpoint (the reference
    draws nothing at random); `dropout` overrides hidden, attention and classifier dropout."""
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        config = json.load(f)
    if num_labels is not None:
        config["num_labels"] = num_labels
        config.pop("id2label", None)
    if dropout is not None:
        config["hidden_dropout_prob"] = dropout
        config["attention_probs_dropout_prob"] = dropout
        config["classifier_dropout"] = dropout
    model = BertForSequenceClassification(config)
    state = {}
    for name, t in load_safetensors(os.path.join(checkpoint_dir, "model.safetensors")).items():
        canon = canonical_name(name)
        if canon is not None:
            state[canon] = t
    model.load_state_dict(state, strict=True)
    return model


def _run_fixture(checkpoint_dir, batches_path, out_path):
    torch.set_num_threads(1)
    model = load_bert_for_sequence_classification(checkpoint_dir)
    model.eval()
    with open(batches_path) as f:
        batches = json.load(f)
    results = []
    for i, b in enumerate(batches):
        ids = torch.tensor(b["input_ids"], dtype=torch.long)
        mask = torch.tensor(b["attention_mask"], dtype=torch.long)
        types = torch.tensor(b["token_type_ids"], dtype=torch.long)
        labels = torch.tensor(b["labels"], dtype=torch.float32 if model.num_labels == 1 else torch.long)
        model.zero_grad(set_to_none=True)
        logits = model(ids, mask, types)
        loss = model.loss(logits, labels)
        out = {"logits": logits.tolist(), "loss": loss.item()}
        if i == 0:
            # Gradients of the first batch's loss, summarised per parameter (HF layout): L2 norm,
            # sum and the first 4 values, enough to catch a wrong or transposed gradient.
            loss.backward()
            out["grads"] = {
                name: {"norm": p.grad.norm().item(), "sum": p.grad.sum().item(), "first": p.grad.flatten()[:4].tolist()}
                for name, p in model.named_parameters()
            }
        results.append(out)
    with open(out_path, "w") as f:
        json.dump({"torch_version": torch.__version__, "batches": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    _run_fixture(*sys.argv[1:4])
