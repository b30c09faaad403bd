#!/usr/bin/python3
"""PyTorch reference of Ballast's fine-tuning step, for the parity fixtures.

Runs the cases of a parity fixture directory with the same algorithms the TypeScript trainer
implements (trainer/src/train/optimizer.ts, lr-schedule.ts), written the way the paper's code and
its dependencies write them:
  - the schedule: Hugging Face's get_linear_schedule_with_warmup as a LambdaLR, stepped after each
    optimizer step (so update 0 runs at learning rate 0);
  - adamw: torch.nn.utils.clip_grad_norm_ over all parameters, then torch.optim.AdamW;
  - bertadam: BertAdam of pytorch-pretrained-bert 0.6.2 (per-tensor clip_grad_norm_, no bias
    correction, weight decay added to the update), copied below with the scheduling moved out;
  - pre-trained weight decay: the paper's PriorWD wrapper (p <- p - lr*lambda*(p - p0) before the step,
    for the parameter groups that decay);
  - layer-wise LR decay: the paper's grouping (head and pooler at lr, block i at lr*eta^(L-i),
    embeddings at lr*eta^(L+1)).
The model is trainer/reference/torch_bert.py (an independent BertForSequenceClassification).

Regenerate the fixtures (needs Debian's python3-torch; CI does not) through the TypeScript side,
which builds the checkpoints and batches first and then calls this script:
    node --import tsx trainer/src/train/fixtures/make-parity-fixtures.ts
Direct use: torch_train.py FIXTURE_DIR CASES.json reads, per case, its checkpoint and
FIXTURE_DIR/<case batches> (one batch per update), and writes FIXTURE_DIR/torch-<case>.json with
per-step losses, learning rates and gradient norms.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bert  # noqa: E402


def linear_schedule_with_warmup(warmup, total):
    """transformers.get_linear_schedule_with_warmup's lambda."""

    def lr_lambda(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))

    return lr_lambda


class BertAdam(torch.optim.Optimizer):
    """pytorch-pretrained-bert's BertAdam (0.6.2), scheduling left to a LambdaLR on group['lr']."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, e=1e-6, weight_decay=0.0, max_grad_norm=1.0):
        defaults = dict(lr=lr, b1=b1, b2=b2, e=e, weight_decay=weight_decay, max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["next_m"] = torch.zeros_like(p.data)
                    state["next_v"] = torch.zeros_like(p.data)
                next_m, next_v = state["next_m"], state["next_v"]
                beta1, beta2 = group["b1"], group["b2"]
                # Add grad clipping (each tensor on its own: this is BertAdam's, not the global one)
                if group["max_grad_norm"] > 0:
                    torch.nn.utils.clip_grad_norm_(p, group["max_grad_norm"])
                next_m.mul_(beta1).add_(grad, alpha=1 - beta1)
                next_v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = next_m / (next_v.sqrt() + group["e"])
                if group["weight_decay"] > 0.0:
                    update += group["weight_decay"] * p.data
                p.data.add_(-group["lr"] * update)
                state["step"] += 1


def is_no_decay(name):
    return name.endswith(".bias") or "LayerNorm." in name


def layer_of(name, num_layers):
    if name.startswith("bert.embeddings."):
        return 0
    if name.startswith("bert.encoder.layer."):
        return int(name.split(".")[3]) + 1
    return num_layers + 1  # pooler, classifier


def param_groups(model, case):
    """(layer scale, decay) groups; the paper's grouping generalised to any eta."""
    num_layers = model.config["num_hidden_layers"]
    eta = case.get("llrd", 1.0)
    groups = {}
    for name, p in model.named_parameters():
        scale = eta ** (num_layers + 1 - layer_of(name, num_layers))
        decay = not is_no_decay(name)
        key = (scale, decay)
        if key not in groups:
            groups[key] = {
                "params": [],
                "names": [],
                "lr": case["learning_rate"] * scale,
                "weight_decay": case.get("weight_decay", 0.0) if decay else 0.0,
                "decay": decay,
            }
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    return list(groups.values())


def run_case(case, batches):
    torch.manual_seed(0)  # nothing random should be drawn (dropout 0); pinned anyway
    model = torch_bert.load_bert_for_sequence_classification(case["checkpoint"], dropout=0.0)
    model.train()  # dropout is 0: train mode must give the same numbers as eval
    groups = param_groups(model, case)
    max_grad_norm = case.get("max_grad_norm", 1.0)
    if case["optimizer"] == "adamw":
        optimizer = torch.optim.AdamW(
            [{k: g[k] for k in ("params", "lr", "weight_decay")} for g in groups],
            lr=case["learning_rate"],
            betas=(0.9, 0.999),
            eps=case.get("adam_epsilon", 1e-8),
        )
    else:
        optimizer = BertAdam(
            [{k: g[k] for k in ("params", "lr", "weight_decay")} for g in groups],
            lr=case["learning_rate"],
            e=case.get("adam_epsilon", 1e-6),
            max_grad_norm=max_grad_norm,
        )
    total = case["max_steps"]
    warmup = case.get("warmup_steps", int(math.floor(case.get("warmup_ratio", 0.1) * total + 1e-9)))
    lr_lambda = linear_schedule_with_warmup(warmup, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    pwd = case.get("pretrained_weight_decay", 0.0)
    prior = {id(p): p.detach().clone() for g in groups if g["decay"] for p in g["params"]} if pwd > 0 else {}

    losses, lrs, grad_norms = [], [], []
    for k in range(total):
        batch = batches[k]
        input_ids = torch.tensor(batch["input_ids"], dtype=torch.long)
        attention_mask = torch.tensor(batch["attention_mask"], dtype=torch.long)
        token_type_ids = torch.tensor(batch["token_type_ids"], dtype=torch.long)
        labels = torch.tensor(batch["labels"], dtype=torch.float32 if model.config["num_labels"] == 1 else torch.long)
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids, attention_mask, token_type_ids, labels)
        loss.backward()
        params = [p for g in groups for p in g["params"]]
        grad_norm = torch.norm(torch.stack([torch.norm(p.grad.detach()) for p in params]))
        if case["optimizer"] == "adamw":
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        lr_now = case["learning_rate"] * lr_lambda(k)  # the base rate; groups scale it for llrd
        if pwd > 0:
            with torch.no_grad():
                for tg in optimizer.param_groups:
                    for p in tg["params"]:
                        if id(p) in prior:
                            p.add_(p - prior[id(p)], alpha=-tg["lr"] * pwd)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append(lr_now)
        grad_norms.append(grad_norm.item())
    return {"case": case["name"], "torch_version": torch.__version__, "losses": losses, "lrs": lrs, "grad_norms": grad_norms}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    fixture_dir, cases_path = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)  # deterministic reductions
    with open(cases_path) as f:
        cases = json.load(f)
    for case in cases:
        with open(os.path.join(fixture_dir, case["batches"])) as f:
            batches = json.load(f)
        out = run_case(case, batches)
        path = os.path.join(fixture_dir, f"torch-{case['name']}.json")
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(f"{case['name']}: {len(out['losses'])} steps, loss {out['losses'][0]:.6f} -> {out['losses'][-1]:.6f} ({path})")


if __name__ == "__main__":
    main()
