/**
 * The files `tunekit export-python` writes: a Python training script for Hugging Face transformers +
 * PEFT + TRL (launched with accelerate), its accelerate config and a README. The script reads every
 * setting from the exported config.json, so the equivalence with the tunekit run is checked there.
 */

/** train.py: reads config.json, builds the datasets, the PEFT config and the trainer, trains, saves. */
export const TRAIN_PY = `#!/usr/bin/env python3
"""Fine-tuning exported by \`tunekit export-python\`: the same model, data, PEFT config, hyper-parameters,
seed and chat template as the tunekit run, with Hugging Face transformers + PEFT + TRL.

Run (one GPU, or CPU):   accelerate launch --config_file accelerate_config.yaml train.py --config config.json
Several GPUs / DeepSpeed / FSDP: edit accelerate_config.yaml (see its comments).
The adapter is saved in PEFT's format under <output_dir>/adapter; \`tunekit eval --adapter\` loads it.
"""
import argparse
import dataclasses
import json
import sys

import torch
from datasets import interleave_datasets, load_dataset
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)

ALPACA = {
    "input": "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\\n\\n### Instruction:\\n{instruction}\\n\\n### Input:\\n{input}\\n\\n### Response:\\n",
    "plain": "Below is an instruction that describes a task. Write a response that appropriately completes the request.\\n\\n"
    "### Instruction:\\n{instruction}\\n\\n### Response:\\n",
}


def load_config(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_split(spec):
    """One data file as a datasets.Dataset (json/jsonl, csv, tsv, parquet)."""
    kwargs = {"delimiter": "\\t"} if spec["format"] == "tsv" else {}
    builder = "csv" if spec["format"] == "tsv" else spec["format"]
    return load_dataset(builder, data_files={"train": spec["path"]}, split="train", **kwargs)


def rename_columns(ds, columns):
    """tunekit's --<field>-column flags: the record's field name -> the canonical field."""
    for canonical, source in columns.items():
        if source != canonical and source in ds.column_names:
            if canonical in ds.column_names:
                ds = ds.remove_columns(canonical)
            ds = ds.rename_column(source, canonical)
    return ds


def to_sft_record(row, has_chat_template):
    """tunekit's record shapes as TRL's: text, prompt/completion or messages."""
    if row.get("messages"):
        return {"messages": row["messages"]}
    if row.get("instruction") is not None and row.get("output") is not None:
        inp = row.get("input") or ""
        if has_chat_template:
            user = row["instruction"] + ("\\n\\n" + inp if inp else "")
            return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]}
        template = ALPACA["input" if inp else "plain"]
        return {"prompt": template.format(instruction=row["instruction"], input=inp), "completion": row["output"]}
    if row.get("prompt") is not None and row.get("completion") is not None:
        return {"prompt": row["prompt"], "completion": row["completion"]}
    if row.get("text") is not None:
        return {"text": row["text"]}
    raise ValueError(f"record has no text, prompt/completion, messages or instruction/output fields: {sorted(row)}")


def peft_config_from(cfg):
    """The PEFT config of the tunekit adapter (its adapter_config.json fields)."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    fields = dict(cfg)
    cls = PEFT_TYPE_TO_CONFIG_MAPPING[fields["peft_type"]]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in fields if k not in known)
    if unknown:
        sys.exit(f"config.json: peft fields {unknown} are unknown to this PEFT version; upgrade peft")
    fields["inference_mode"] = False
    return cls(**fields)


class TunekitTrainerMixin:
    """What tunekit adds to the loop: a fixed data order (--no-shuffle) and the L2-SP penalty (--l2sp)."""

    tunekit_shuffle = True
    tunekit_l2sp = 0.0
    tunekit_anchors = None

    def _get_train_sampler(self, *args, **kwargs):
        if not self.tunekit_shuffle:
            return torch.utils.data.SequentialSampler(self.train_dataset)
        return super()._get_train_sampler(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        out = super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)
        if self.tunekit_l2sp <= 0:
            return out
        if self.tunekit_anchors is None:
            self.tunekit_anchors = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        penalty = sum(((p - self.tunekit_anchors[n]) ** 2).sum() for n, p in model.named_parameters() if p.requires_grad)
        extra = 0.5 * self.tunekit_l2sp * penalty
        return (out[0] + extra, out[1]) if return_outputs else out + extra


def freeze_all_but_last(model, n):
    """tunekit's --method freeze: train the last n blocks (and the task head)."""
    import re

    blocks = [int(m.group(1)) for name, _ in model.named_parameters() if (m := re.search(r"(?:layers|h|layer)\\.(\\d+)\\.", name))]
    last = max(blocks)
    for name, p in model.named_parameters():
        m = re.search(r"(?:layers|h|layer)\\.(\\d+)\\.", name)
        head = re.match(r"(score|classifier|qa_outputs)\\.", name) is not None
        p.requires_grad = head or (m is not None and int(m.group(1)) > last - n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--config", default="config.json")
    parser.add_argument("--output_dir", default=None, help="overrides config.json's output_dir")
    args = parser.parse_args()
    cfg = load_config(args.config)
    targs = dict(cfg["training_args"])
    if args.output_dir:
        targs["output_dir"] = args.output_dir
    set_seed(targs["seed"])
    task = cfg["task"]
    model_cfg = cfg["model"]

    tokenizer = AutoTokenizer.from_pretrained(model_cfg["name_or_path"])
    if cfg.get("chat_template"):
        tokenizer.chat_template = cfg["chat_template"]
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    load_kwargs = {}
    if model_cfg.get("torch_dtype"):
        load_kwargs["torch_dtype"] = getattr(torch, model_cfg["torch_dtype"])
    if model_cfg.get("load_in_8bit"):
        from transformers import BitsAndBytesConfig

        load_kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)

    data = cfg["data"]
    splits = {name: rename_columns(read_split(spec), data["columns"]) for name, spec in data["files"].items()}
    labels = cfg.get("labels")

    if task in ("classification", "regression"):
        regression = task == "regression"
        label_kwargs = (
            {"num_labels": 1, "problem_type": "regression"}
            if regression
            else {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}}
        )
        model = AutoModelForSequenceClassification.from_pretrained(model_cfg["name_or_path"], **label_kwargs, **load_kwargs)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id

        def encode(row):
            text = row.get("text") if row.get("text") is not None else row.get("sentence", row.get("sentence1"))
            pair = row.get("textPair") if row.get("textPair") is not None else row.get("sentence2")
            enc = tokenizer(text, pair, truncation=True, max_length=cfg["max_length"])
            label = row["label"]
            if regression:
                enc["labels"] = float(label)
            else:
                key = str(int(label)) if isinstance(label, bool) else str(label)
                enc["labels"] = labels.index(key)
            return enc

        collator = DataCollatorWithPadding(tokenizer)

        def compute_metrics(p):
            import numpy as np

            preds, refs = p.predictions, p.label_ids
            if regression:
                preds = preds.reshape(-1)
                return {"mse": float(((preds - refs) ** 2).mean()), "mae": float(np.abs(preds - refs).mean())}
            from sklearn.metrics import accuracy_score, f1_score

            preds = preds.argmax(-1)
            return {
                "accuracy": accuracy_score(refs, preds),
                "f1": f1_score(refs, preds, average="macro" if len(labels) > 2 else "binary"),
            }

    elif task == "token-classification":
        label2id = {l: i for i, l in enumerate(labels)}
        model = AutoModelForTokenClassification.from_pretrained(
            model_cfg["name_or_path"], num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id, **load_kwargs
        )

        def encode(row):
            tags = row.get("tags", row.get("ner_tags"))
            enc = tokenizer(row["tokens"], is_split_into_words=True, truncation=True, max_length=cfg["max_length"])
            word_ids, previous, out = enc.word_ids(), None, []
            for w in word_ids:
                # The first sub-token of each word carries its tag; the rest and special tokens are ignored.
                out.append(-100 if w is None or w == previous else label2id[str(tags[w])])
                previous = w
            enc["labels"] = out
            return enc

        collator = DataCollatorForTokenClassification(tokenizer)
        compute_metrics = None
    else:
        compute_metrics = None
        model = None

    if task in ("causal-lm", "sft"):
        from trl import SFTConfig, SFTTrainer

        model = AutoModelForCausalLM.from_pretrained(model_cfg["name_or_path"], **load_kwargs)
        has_template = tokenizer.chat_template is not None
        splits = {
            name: ds.map(lambda row: to_sft_record(row, has_template), remove_columns=ds.column_names)
            for name, ds in splits.items()
        }
        if cfg.get("replay"):
            replay = rename_columns(read_split(cfg["replay"]["file"]), data["columns"])
            replay = replay.map(lambda row: to_sft_record(row, has_template), remove_columns=replay.column_names)
            r = cfg["replay"]["ratio"]
            splits["train"] = interleave_datasets(
                [splits["train"], replay], probabilities=[1 - r, r], seed=targs["seed"], stopping_strategy="first_exhausted"
            )
        sft = cfg["sft"]
        trainer_cls = type("TunekitSFTTrainer", (TunekitTrainerMixin, SFTTrainer), {})
        training_args = SFTConfig(
            **targs,
            max_length=cfg["max_length"],
            packing=sft["packing"],
            completion_only_loss=not sft["train_on_prompt"],
            assistant_only_loss=False,
        )
        trainer_kwargs = {"processing_class": tokenizer}
    else:
        splits = {name: ds.map(encode, remove_columns=ds.column_names) for name, ds in splits.items()}
        trainer_cls = type("TunekitTrainer", (TunekitTrainerMixin, Trainer), {})
        training_args = TrainingArguments(**targs)
        trainer_kwargs = {"data_collator": collator, "compute_metrics": compute_metrics}

    method = cfg["method"]
    if method["name"] == "freeze":
        freeze_all_but_last(model, method["trainable_layers"])
    elif method["name"] == "full":
        pass
    else:
        from peft import PeftModel, get_peft_model

        if method.get("init_adapter"):
            model = PeftModel.from_pretrained(model, method["init_adapter"], is_trainable=True)
        else:
            model = get_peft_model(model, peft_config_from(method["peft"]))
        model.print_trainable_parameters()

    callbacks = []
    if cfg.get("early_stopping_patience", 0) > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg["early_stopping_patience"]))
    trainer = trainer_cls(
        model=model,
        args=training_args,
        train_dataset=splits["train"],
        eval_dataset=splits.get("validation"),
        callbacks=callbacks,
        **trainer_kwargs,
    )
    trainer.tunekit_shuffle = cfg["shuffle"]
    trainer.tunekit_l2sp = cfg["l2sp"]
    trainer.train(resume_from_checkpoint=args_resume(targs["output_dir"]))
    if splits.get("validation") is not None:
        print(trainer.evaluate())
    out = targs["output_dir"] + ("/adapter" if method["name"] not in ("full", "freeze") else "/model")
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out if method["name"] in ("full", "freeze") else targs["output_dir"] + "/tokenizer")
    print(f"saved {out}")


def args_resume(output_dir):
    """Continue from the last checkpoint in output_dir when there is one (as tunekit's --resume)."""
    import os

    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None


if __name__ == "__main__":
    main()
`;

/** accelerate_config.yaml: one process by default, with the multi-GPU / DeepSpeed / FSDP switches commented. */
export function accelerateConfig(mixedPrecision: 'no' | 'bf16'): string {
  return `# accelerate config for train.py (exported by tunekit).
# Launch:  accelerate launch --config_file accelerate_config.yaml train.py --config config.json
#
# One GPU or CPU: as below (distributed_type NO, num_processes 1).
# Several GPUs on one machine (DDP): distributed_type: MULTI_GPU and num_processes: <number of GPUs>.
#   Each process takes per_device_train_batch_size examples, so the effective batch is
#   num_processes x per_device_train_batch_size x gradient_accumulation_steps: divide
#   gradient_accumulation_steps in config.json by num_processes to keep the tunekit run's batch.
# DeepSpeed ZeRO (pip install deepspeed): distributed_type: DEEPSPEED and uncomment deepspeed_config.
# FSDP (sharded weights across GPUs): distributed_type: FSDP and uncomment fsdp_config.
compute_environment: LOCAL_MACHINE
distributed_type: 'NO'
num_machines: 1
machine_rank: 0
num_processes: 1
mixed_precision: '${mixedPrecision}'
use_cpu: false
main_training_function: main
rdzv_backend: static
same_network: true
# deepspeed_config:
#   zero_stage: 2                      # 3 also shards the weights
#   offload_optimizer_device: none     # cpu to offload optimizer states
#   offload_param_device: none
#   gradient_accumulation_steps: auto
#   gradient_clipping: auto
#   zero3_init_flag: false
# fsdp_config:
#   fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
#   fsdp_sharding_strategy: FULL_SHARD
#   fsdp_state_dict_type: SHARDED_STATE_DICT
#   fsdp_offload_params: false
#   fsdp_use_orig_params: true         # needed with PEFT (frozen and trainable weights mixed)
#   fsdp_cpu_ram_efficient_loading: true
#   fsdp_sync_module_states: true
`;
}

/** README.txt: how to run the export and bring the adapter back to tunekit. */
export function readme(opts: {
  model: string;
  task: string;
  method: string;
  dataNote: string;
  notes: string[];
}): string {
  return `Exported by \`tunekit export-python\`: ${opts.method} fine-tuning of ${opts.model} (${opts.task}) with
Hugging Face transformers + PEFT + TRL, equivalent to the tunekit run (same data files, PEFT config,
hyper-parameters, seed and chat template; all in config.json).

Files
  train.py                 the training script (reads config.json)
  config.json              model, data files, PEFT config (= tunekit's adapter_config.json), TrainingArguments
  accelerate_config.yaml   one GPU/CPU by default; comments show multi-GPU, DeepSpeed and FSDP
  requirements.txt         the Python packages

Run
  python3 -m venv .venv && . .venv/bin/activate
  pip install -r requirements.txt
  accelerate launch --config_file accelerate_config.yaml train.py --config config.json
  (re-running the same command continues from the last checkpoint in output_dir, like tunekit --resume)

Data
  ${opts.dataNote}

Bring the adapter back to tunekit
  The adapter is saved in PEFT's format in <output_dir>/adapter (adapter_config.json +
  adapter_model.safetensors). Evaluate, merge or generate with it:
    tunekit eval --model ${opts.model} --adapter <output_dir>/adapter --data <eval file> --task ${opts.task}
    tunekit merge --model ${opts.model} --adapter <output_dir>/adapter --out merged
    tunekit generate --model merged --prompt "..."
${opts.notes.length > 0 ? `\nDifferences from the tunekit run\n${opts.notes.map((n) => `  - ${n}`).join('\n')}\n` : ''}`;
}

export const REQUIREMENTS = `torch>=2.2
transformers>=4.46
peft>=0.13
trl>=0.20
accelerate>=1.0
datasets>=3.0
scikit-learn
`;
