#!/usr/bin/env python3
"""Reference fixtures for Gemma 3 vision-language inference: a tiny random Gemma3ForConditionalGeneration.

The model uses the REAL Gemma 3 token ids (image 262144, <start_of_image> 255999, <end_of_image> 256000,
text vocab 262208 as MedGemma) so the fixtures exercise the real tokenizer, chat format and image-token
expansion, while every dimension is tiny. Everything is computed by transformers in float32 with eager
attention, on exactly the weights that are written to disk.

Writes Tests/Fixtures/gemma3-vlm/
  facts.json                  what transformers does (checkpoint keys, projector, mask rule, processor, ...)
  model/                      the shared checkpoint, as a Hub repository minus tokenizer.json:
    config.json               Gemma3Config.save_pretrained
    model.safetensors         key names as save_pretrained writes them; embed_tokens BF16, the rest F32
    preprocessor_config.json  image processor (Hub layout, 112x112)
    processor_config.json     {"image_seq_length": 16, "processor_class": "Gemma3Processor"} (Hub layout)
    tokenizer_config.json     special-token names (boi/eoi/image) as GemmaTokenizer.save_pretrained writes
    chat_template.jinja       the Gemma 3 turn format (written for this fixture)
  processor-nested/processor_config.json
                              the same processor as transformers 5.24's own save_pretrained writes it
                              (one file, image processor nested under "image_processor")
  <case>/                     one prompt each:
    expected.json             messages, prompt string, expanded prompt, input_ids, token_type_ids, greedy
                              ids + margins, top-k, mask checks, file names (relative to the case folder)
    image.png                 the input image (the processor is fed the PNG read back with PIL)
    pixel_values.npy          float32 [n_images, 3, 112, 112] from the processor
                              (at-size-system and two-images reuse other cases' PNGs and pixel_values.npy:
                              expected.json lists the files, relative to the case folder)
    vision_last_hidden.npy    float32 [n_images, 64, 32] SigLIP last_hidden_state (after post_layernorm)
    projector_pooled.npy      float32 [n_images, 16, 32] after the 2x2 average pool, before the RMSNorm
    image_features.npy        float32 [n_images, 16, 8] projector output (what replaces the soft tokens)
    logits_last.npy           float32 [262208] logits of the last prompt position
    logits_probe.npy          float32 [T, 64] logits of every prompt position at `probe_ids`
    greedy_logits_probe.npy   float32 [8, 64] the rows the 8 greedy tokens were picked from, at `probe_ids`

Cases
  at-size            one 112x112 RGB PNG (already the model's size) + user text
  at-size-system     the same image and text, with a system message (folded into the first user turn)
  resize-large-rgb   a 150x97 (WxH) RGB PNG: the processor downsizes it (bilinear, antialiased)
  resize-small-gray  a 40x33 grayscale PNG: converted to RGB, upsized
  two-images         two images in one user turn (image, image, text): the resize-large-rgb and
                     resize-small-gray pictures

tokenizer.json is NOT in the fixture (33 MB): tests copy .cache/gemma3-tokenizer.json (decompressed from
shared/reference/gemma3-tokenizer.json.xz) to model/tokenizer.json in a temporary copy.

Run by hand:  python3 tools/make_gemma3_vlm_fixtures.py [--out Tests/Fixtures/gemma3-vlm]
              [--tokenizer .cache/gemma3-tokenizer.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

import transformers
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import (
    AutoProcessor,
    AutoTokenizer,
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3Processor,
    Gemma3TextConfig,
    SiglipVisionConfig,
)
from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "gemma3-vlm")
DEFAULT_TOKENIZER = os.path.join(REPO_ROOT, ".cache", "gemma3-tokenizer.json")

SEED = 11  # picked so that the five prompts do not all decode to the same tokens, with clear margins
EMBED_STD = 1.0  # logits = normed hidden . embedding row: a wide spread keeps greedy margins clear of noise
NEW_TOKENS = 8
IMAGE_SIZE = 112
MM_TOKENS = 16
EMBED_KEY = "language_model.model.embed_tokens.weight"  # as save_pretrained names it (checked below)

BOS, EOS, START_TURN, END_TURN = 2, 1, 105, 106
BOI, EOI, IMAGE_TOKEN = 255999, 256000, 262144
VOCAB = 262208

# A fixed set of 64 ids whose logits are kept for every position: control tokens, newline runs, the
# image tokens, the 63 embedding rows past the tokenizer (262145..262207), and a deterministic spread.
PROBE_IDS = sorted(set(
    [0, 1, 2, 3, 4, 105, 106, 107, 108, 109, 110, 236761, 255999, 256000, 262143, 262144, 262145, 262207]
    + [(17 + 5701 * k) % VOCAB for k in range(46)]
))[:64]
assert len(PROBE_IDS) == 64, len(PROBE_IDS)

# The Gemma 3 turn format, written for this fixture: a system message is folded into the first user
# turn followed by a blank line, "assistant" is spelled "model", text parts are trimmed, an image part
# becomes <start_of_image> (which the processor expands), parts are concatenated with no separator.
CHAT_TEMPLATE = """{{- bos_token -}}
{%- set state = namespace(prefix='') -%}
{%- if messages and messages[0]['role'] == 'system' -%}
  {%- if messages[0]['content'] is string -%}
    {%- set state.prefix = messages[0]['content'] ~ '\\n\\n' -%}
  {%- else -%}
    {%- set state.prefix = messages[0]['content'][0]['text'] ~ '\\n\\n' -%}
  {%- endif -%}
  {%- set turns = messages[1:] -%}
{%- else -%}
  {%- set turns = messages -%}
{%- endif -%}
{%- for message in turns -%}
  {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
  {{- '<start_of_turn>' ~ role ~ '\\n' ~ (state.prefix if loop.first else '') -}}
  {%- if message['content'] is string -%}
    {{- message['content'] | trim -}}
  {%- else -%}
    {%- for part in message['content'] -%}
      {%- if part['type'] == 'image' -%}
        {{- '<start_of_image>' -}}
      {%- elif part['type'] == 'text' -%}
        {{- part['text'] | trim -}}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{- '<end_of_turn>\\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<start_of_turn>model\\n' -}}
{%- endif -%}
"""

TOKENIZER_CONFIG_IN = {
    "tokenizer_class": "GemmaTokenizer",
    "bos_token": "<bos>",
    "eos_token": "<eos>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
    "extra_special_tokens": {
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
        "image_token": "<image_soft_token>",
    },
}

QUESTION = "Is the artery in this angiogram blocked? Answer yes or no."
SYSTEM = "You are a careful interventional radiologist."


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

def make_config() -> Gemma3Config:
    text = Gemma3TextConfig(
        vocab_size=VOCAB,
        hidden_size=8,
        intermediate_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        sliding_window=8,
        query_pre_attn_scalar=8,
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh",
        tie_word_embeddings=True,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=0,
    )
    vision = SiglipVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=14,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        layer_norm_eps=1e-6,
        hidden_act="gelu_pytorch_tanh",
        vision_use_head=False,
    )
    return Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=MM_TOKENS,
        image_token_index=IMAGE_TOKEN,
        boi_token_index=BOI,
        eoi_token_index=EOI,
        tie_word_embeddings=True,
    )


def randomize(model: Gemma3ForConditionalGeneration, seed: int) -> dict:
    """Every parameter random. Gemma RMSNorm weights N(0, 0.5) (used as 1 + w), SigLIP LayerNorm
    weights N(1, 0.5) (used as w), all SigLIP biases N(0, 0.1), linear weights N(0, 1/fan_in),
    token embeddings N(0, EMBED_STD) then rounded to bf16."""
    gen = torch.Generator().manual_seed(seed)
    spec = {}
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if name.endswith("bias"):
                mean, std = 0.0, 0.1
            elif "vision_tower" in name and ("layer_norm" in name or "post_layernorm" in name):
                mean, std = 1.0, 0.5
            elif "norm" in name:  # text RMSNorms, q/k norms, final norm, mm_soft_emb_norm
                mean, std = 0.0, 0.5
            elif "embed_tokens" in name:
                mean, std = 0.0, EMBED_STD
            elif "position_embedding" in name:
                mean, std = 0.0, 0.3
            elif name.endswith("mm_input_projection_weight"):
                # [vision_hidden, text_hidden]: fan_in = dim 0; x2 so image rows weigh like text rows
                mean, std = 0.0, 2.0 / math.sqrt(p.shape[0])
            else:
                fan_in = int(np.prod(p.shape[1:]))
                mean, std = 0.0, 1.0 / math.sqrt(fan_in)
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * std + mean)
            spec[name] = [mean, std]
        emb = model.model.language_model.embed_tokens.weight
        emb.copy_(emb.to(torch.bfloat16).to(torch.float32))  # the reference uses the bf16 values
    return spec


def write_checkpoint(model, model_dir: str) -> dict:
    """config.json via save_pretrained; model.safetensors written here with save_pretrained's key names,
    embed_tokens as BF16 and everything else F32."""
    tmp = tempfile.mkdtemp()
    try:
        model.save_pretrained(tmp)
        saved_files = sorted(os.listdir(tmp))
        shutil.copy(os.path.join(tmp, "config.json"), os.path.join(model_dir, "config.json"))
        tensors = load_file(os.path.join(tmp, "model.safetensors"))
        assert EMBED_KEY in tensors, sorted(tensors)[:5]
        emb = tensors[EMBED_KEY]
        assert torch.equal(emb, emb.to(torch.bfloat16).float()), "embeddings were not bf16-exact"
        tensors[EMBED_KEY] = emb.to(torch.bfloat16)
        save_file(tensors, os.path.join(model_dir, "model.safetensors"), metadata={"format": "pt"})
        with safe_open(os.path.join(tmp, "model.safetensors"), "pt") as f:
            metadata = f.metadata()
        return {
            "save_pretrained_files": saved_files,
            "save_pretrained_metadata": metadata,
            "keys": sorted(tensors),
        }
    finally:
        shutil.rmtree(tmp)


# --------------------------------------------------------------------------------------------
# Processor
# --------------------------------------------------------------------------------------------

def make_image_processor(image_size: int = IMAGE_SIZE) -> Gemma3ImageProcessorPil:
    return Gemma3ImageProcessorPil(
        size={"height": image_size, "width": image_size},
        resample=2,  # PIL BILINEAR, as in the Hub's preprocessor_config.json
        do_resize=True,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        do_convert_rgb=True,
    )


def write_processor_files(tokenizer_json: str, model_dir: str, nested_dir: str | None,
                          image_size: int = IMAGE_SIZE, image_seq_length: int = MM_TOKENS) -> dict:
    """Build the processor from the real tokenizer and write its small files (not tokenizer.json):
    tokenizer_config.json, chat_template.jinja, and the Hub-layout preprocessor_config.json +
    processor_config.json into model_dir; 5.24's nested processor_config.json into nested_dir."""
    tmp = tempfile.mkdtemp()
    try:
        tok_dir = os.path.join(tmp, "tok")
        os.makedirs(tok_dir)
        shutil.copy(tokenizer_json, os.path.join(tok_dir, "tokenizer.json"))
        with open(os.path.join(tok_dir, "tokenizer_config.json"), "w") as f:
            json.dump(TOKENIZER_CONFIG_IN, f)
        tokenizer = AutoTokenizer.from_pretrained(tok_dir)
        processor = Gemma3Processor(
            image_processor=make_image_processor(image_size),
            tokenizer=tokenizer,
            chat_template=CHAT_TEMPLATE,
            image_seq_length=image_seq_length,
        )
        out = os.path.join(tmp, "processor")
        processor.save_pretrained(out)
        written = sorted(os.listdir(out))

        # tokenizer_config.json as save_pretrained writes it, minus two load-time flags it echoes back
        with open(os.path.join(out, "tokenizer_config.json")) as f:
            tok_cfg = json.load(f)
        dropped = [k for k in ("is_local", "local_files_only") if k in tok_cfg]
        for k in dropped:
            del tok_cfg[k]
        with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
            json.dump(tok_cfg, f, indent=2)
            f.write("\n")
        shutil.copy(os.path.join(out, "chat_template.jinja"), os.path.join(model_dir, "chat_template.jinja"))

        # transformers 5.24's own form: one processor_config.json with the image processor nested
        if nested_dir is not None:
            os.makedirs(nested_dir, exist_ok=True)
            shutil.copy(os.path.join(out, "processor_config.json"), os.path.join(nested_dir, "processor_config.json"))
        with open(os.path.join(out, "processor_config.json")) as f:
            nested = json.load(f)

        # Hub form (what google/medgemma-* ship): preprocessor_config.json + a processor_config.json
        # without the nested image processor
        ip_dir = os.path.join(tmp, "ip")
        processor.image_processor.save_pretrained(ip_dir)
        with open(os.path.join(ip_dir, "preprocessor_config.json")) as f:
            pre = json.load(f)
        pre["processor_class"] = "Gemma3Processor"
        pre["image_seq_length"] = image_seq_length
        with open(os.path.join(model_dir, "preprocessor_config.json"), "w") as f:
            json.dump(dict(sorted(pre.items())), f, indent=2)
            f.write("\n")
        legacy = {k: v for k, v in nested.items() if k != "image_processor"}
        with open(os.path.join(model_dir, "processor_config.json"), "w") as f:
            json.dump(legacy, f, indent=2)
            f.write("\n")
        return {
            "processor_save_pretrained_writes": written,
            "tokenizer_config_keys_dropped": dropped,
            "nested_processor_config": nested,
        }
    finally:
        shutil.rmtree(tmp)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

def synthetic_angiogram(width: int, height: int, seed: int, mode: str) -> Image.Image:
    """A deterministic picture with smooth shading, a dark curved 'vessel' and noise."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    base = 150 + 60 * np.sin(3.1 * u + 1.7 * v) * np.cos(2.3 * v - 0.4)
    centre = 0.5 + 0.25 * np.sin(2 * math.pi * (u * 1.3 + 0.1 * seed))
    vessel = np.exp(-((v - centre) ** 2) / (2 * 0.03 ** 2))
    gray = base - 110 * vessel + rng.normal(0, 12, size=base.shape)
    if mode == "L":
        return Image.fromarray(np.clip(np.rint(gray), 0, 255).astype(np.uint8), mode="L")
    tint = np.stack([gray, gray * 0.9 + 20 * u * 255 / 255, gray * 0.8 + 40 * v], axis=-1)
    tint += rng.normal(0, 6, size=tint.shape)
    return Image.fromarray(np.clip(np.rint(tint), 0, 255).astype(np.uint8), mode="RGB")


# --------------------------------------------------------------------------------------------
# Pillow's bilinear resize, restated (checked bit for bit against Image.resize below)
# --------------------------------------------------------------------------------------------

PIL_PRECISION_BITS = 22  # Pillow: 32 - 8 - 2


def pil_bilinear_weights(in_size: int, out_size: int) -> list[tuple[int, list[int]]]:
    """(first input index, fixed-point weights) per output index, as Pillow computes them for uint8."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)  # downsizing widens the triangle: antialiasing
    support = 1.0 * filter_scale
    rows = []
    for out_index in range(out_size):
        centre = (out_index + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        w = [max(0.0, 1.0 - abs((i - centre + 0.5) / filter_scale)) for i in range(lo, hi)]
        total = sum(w)
        w = [x / total for x in w] if total else w
        rows.append((lo, [int(math.floor(0.5 + x * (1 << PIL_PRECISION_BITS))) for x in w]))
    return rows


def pil_bilinear_pass(a: np.ndarray, rows, axis: int) -> np.ndarray:
    a = np.moveaxis(a, axis, 0).astype(np.int64)
    out = np.empty((len(rows),) + a.shape[1:], dtype=np.int64)
    for i, (lo, weights) in enumerate(rows):
        acc = np.full(a.shape[1:], 1 << (PIL_PRECISION_BITS - 1), dtype=np.int64)
        for j, k in enumerate(weights):
            acc += a[lo + j] * k
        out[i] = np.clip(acc >> PIL_PRECISION_BITS, 0, 255)
    return np.moveaxis(out, 0, axis).astype(np.uint8)


def pil_bilinear(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [height, width, C]: horizontal pass, then vertical, uint8 in between."""
    if rgb.shape[1] != width:
        rgb = pil_bilinear_pass(rgb, pil_bilinear_weights(rgb.shape[1], width), 1)
    if rgb.shape[0] != height:
        rgb = pil_bilinear_pass(rgb, pil_bilinear_weights(rgb.shape[0], height), 0)
    return rgb


# --------------------------------------------------------------------------------------------
# Reference computations
# --------------------------------------------------------------------------------------------

def top2_margin(row: torch.Tensor) -> float:
    top = torch.topk(row.float(), 2).values
    return float(top[0] - top[1])


def topk(row: torch.Tensor, k: int = 10) -> dict:
    vals, ids = torch.topk(row.float(), k)
    return {"ids": [int(i) for i in ids], "logits": [float(v) for v in vals]}


@torch.no_grad()
def greedy_with_cache(model, inputs: dict, n: int):
    """Prefill with pixel_values and token_type_ids, then argmax decoding with the KV cache, feeding one
    token at a time without token_type_ids (as generate does). No EOS stopping."""
    out = model(**inputs, use_cache=True)
    cache = out.cache
    row = out.logits[0, -1]
    new, margins, rows, tops = [], [], [], []
    for _ in range(n):
        tok = int(torch.argmax(row))
        new.append(tok)
        margins.append(top2_margin(row))
        tops.append(topk(row, 5))
        rows.append(row.float().clone())
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache = out.cache
        row = out.logits[0, -1]
    return new, margins, tops, torch.stack(rows)


@torch.no_grad()
def greedy_recompute(model, inputs: dict, n: int):
    """The same decoding recomputing everything (image included) each step, token_type_ids padded with 0."""
    ids = inputs["input_ids"]
    tt = inputs["token_type_ids"]
    new, rows = [], []
    for _ in range(n):
        out = model(input_ids=ids, pixel_values=inputs["pixel_values"], token_type_ids=tt,
                    attention_mask=torch.ones_like(ids), use_cache=False)
        row = out.logits[0, -1]
        tok = int(torch.argmax(row))
        new.append(tok)
        rows.append(row.float())
        ids = torch.cat([ids, torch.tensor([[tok]])], dim=1)
        tt = torch.cat([tt, torch.zeros(1, 1, dtype=tt.dtype)], dim=1)
    return new, torch.stack(rows)


@torch.no_grad()
def greedy_generate(model, inputs: dict, n: int) -> list[int]:
    out = model.generate(**inputs, do_sample=False, max_new_tokens=n, eos_token_id=None, pad_token_id=0)
    return [int(t) for t in out[0, inputs["input_ids"].shape[1]:]]


def image_blocks(token_type_ids: list[int]) -> list[int]:
    """Block id per position: k for the k-th run of image tokens, -1 for text."""
    blocks, current, prev = [], -1, 0
    for t in token_type_ids:
        if t == 1 and prev != 1:
            current += 1
        blocks.append(current if t == 1 else -1)
        prev = t
    return blocks


def mask_rule(kind: str, blocks: list[int], window: int) -> np.ndarray:
    T = len(blocks)
    q = np.arange(T)[:, None]
    k = np.arange(T)[None, :]
    b = np.array(blocks)
    same_image = (b[:, None] == b[None, :]) & (b[:, None] >= 0)
    causal_or_block = (k <= q) | same_image
    if kind == "full_attention":
        return causal_or_block
    return causal_or_block & (k > q - window)


@torch.no_grad()
def verify_mask(model, inputs: dict) -> dict:
    """Which keys each query sees, read off eager attention probabilities, against the stated rule."""
    out = model(**inputs, use_cache=False, output_attentions=True)
    cfg = model.config.text_config
    tt = inputs["token_type_ids"][0].tolist()
    blocks = image_blocks(tt)
    checked = {}
    for layer, kind in enumerate(cfg.layer_types):
        att = out.attentions[layer][0].float()  # [heads, T, T]
        visible = (att.amax(dim=0) > 0).numpy()
        rule = mask_rule(kind, blocks, cfg.sliding_window)
        bad = np.argwhere(visible != rule)
        assert len(bad) == 0, f"layer {layer} ({kind}): mask differs from the rule at (q,k) {bad[:5].tolist()}"
        checked[str(layer)] = kind
    # without token_type_ids transformers falls back to the plain causal / sliding masks
    plain = {k: v for k, v in inputs.items() if k != "token_type_ids"}
    no_tt = model(**plain, use_cache=False).logits[0]
    with_tt = out.logits[0]
    starts = [i for i, b in enumerate(blocks) if b >= 0 and (i == 0 or blocks[i - 1] != b)]
    examples = mask_examples(blocks, cfg.sliding_window, starts)
    return {
        "verified_layers": checked,
        "image_block_starts": starts,
        "examples": examples,
        "logits_change_if_token_type_ids_omitted": float((no_tt - with_tt).abs().max()),
    }


def mask_examples(blocks: list[int], window: int, starts: list[int]) -> list[dict]:
    s = starts[0]
    e = s + MM_TOKENS - 1
    T = len(blocks)
    pairs = [
        (s, e, "first image token -> last token of the same image (15 ahead)"),
        (e, s, "last image token -> first token of the same image (15 back)"),
        (e, e - (window - 1), "last image token -> same image, window-1 back"),
        (e, e - window, "last image token -> same image, window back"),
        (s, s - 1, "first image token -> <start_of_image> just before it (text)"),
        (s - 1, s, "<start_of_image> -> first image token (future)"),
        (e + 1, s, "<end_of_image> -> first image token"),
        (T - 1, s, "last prompt token -> first image token"),
    ]
    if len(starts) > 1:
        s2 = starts[1]
        pairs += [
            (s, s2, "image 1 token -> image 2 token (future, other image)"),
            (s2, s2 - 2, "image 2 first token -> image 1 last token (past, other image)"),
            (s2 + 5, s, "image 2 token -> image 1 first token (far past)"),
        ]
    out = []
    for q, k, what in pairs:
        row = {"q": q, "k": k, "what": what}
        for kind in ("full_attention", "sliding_attention"):
            row[kind] = bool(mask_rule(kind, blocks, window)[q, k])
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

def user_turn(n_images: int, text: str) -> dict:
    return {"role": "user", "content": [{"type": "image"}] * n_images + [{"type": "text", "text": text}]}


CASES = {
    "at-size": dict(images=[("image.png", IMAGE_SIZE, IMAGE_SIZE, 1, "RGB")], system=None),
    # these two reuse other cases' images; their pixel_values are those cases' files, concatenated
    "at-size-system": dict(images=[("../at-size/image.png", None, None, None, None)], system=SYSTEM,
                           pixel_values_from=["at-size"]),
    "resize-large-rgb": dict(images=[("image.png", 150, 97, 2, "RGB")], system=None),
    "resize-small-gray": dict(images=[("image.png", 40, 33, 3, "L")], system=None),
    "two-images": dict(images=[("../resize-large-rgb/image.png", None, None, None, None),
                               ("../resize-small-gray/image.png", None, None, None, None)], system=None,
                       pixel_values_from=["resize-large-rgb", "resize-small-gray"]),
}


def with_images(messages: list[dict], images: list[Image.Image]) -> list[dict]:
    """The same messages with the PIL images attached to the image parts, for tokenize=True."""
    it = iter(images)
    out = []
    for m in messages:
        if isinstance(m["content"], list):
            parts = [dict(p, image=next(it)) if p["type"] == "image" else dict(p) for p in m["content"]]
            out.append({"role": m["role"], "content": parts})
        else:
            out.append(dict(m))
    return out


def run_case(name: str, out_root: str, model, sdpa_model, processor) -> dict:
    spec = CASES[name]
    case_dir = os.path.join(out_root, name)
    os.makedirs(case_dir, exist_ok=True)

    # images: written as PNG, read back, fed to the processor
    image_files, images, originals = [], [], []
    for fname, w, h, seed, mode in spec["images"]:
        path = os.path.normpath(os.path.join(case_dir, fname))
        if w is not None:
            synthetic_angiogram(w, h, seed, mode).save(path, optimize=True)
        img = Image.open(path)
        img.load()
        image_files.append(fname)
        images.append(img)
        originals.append({"file": fname, "mode": img.mode, "width": img.width, "height": img.height})

    messages = []
    if spec["system"]:
        messages.append({"role": "system", "content": [{"type": "text", "text": spec["system"]}]})
    messages.append(user_turn(len(images), QUESTION))

    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor.apply_chat_template(
        with_images(messages, images), add_generation_prompt=True, tokenize=True, return_dict=True,
        return_tensors="pt",
    )
    inputs = {k: v for k, v in inputs.items()}
    assert set(inputs) == {"input_ids", "attention_mask", "pixel_values", "token_type_ids"}, sorted(inputs)
    ids = inputs["input_ids"][0].tolist()
    tt = inputs["token_type_ids"][0].tolist()

    # the expansion, checked against tokenizing the expanded string by hand
    expansion = "\n\n<start_of_image>" + "<image_soft_token>" * MM_TOKENS + "<end_of_image>\n\n"
    assert processor.full_image_sequence == expansion
    expanded = prompt.replace("<start_of_image>", expansion)
    by_hand = processor.tokenizer(expanded, add_special_tokens=False)["input_ids"]
    assert by_hand == ids, "input_ids differ from tokenizing the expanded prompt without special tokens"
    assert ids.count(BOS) == 1 and ids[0] == BOS
    assert ids.count(IMAGE_TOKEN) == MM_TOKENS * len(images)
    assert tt == [1 if t == IMAGE_TOKEN else 0 for t in ids], "token_type_ids != (input_ids == image token)"
    double_bos = processor(text=prompt, images=images, return_tensors="pt")["input_ids"][0].tolist()[:2]

    # pixel values
    pv = inputs["pixel_values"]
    assert pv.dtype == torch.float32 and tuple(pv.shape) == (len(images), 3, IMAGE_SIZE, IMAGE_SIZE), pv.shape
    pv_np = pv.numpy().astype(np.float32)
    if "pixel_values_from" in spec:
        pv_files = [f"../{c}/pixel_values.npy" for c in spec["pixel_values_from"]]
        joined = np.concatenate([np.load(os.path.join(case_dir, f)) for f in pv_files], axis=0)
        assert np.array_equal(joined, pv_np), "pixel values differ from the referenced cases' files"
    else:
        pv_files = ["pixel_values.npy"]
        np.save(os.path.join(case_dir, pv_files[0]), pv_np)
    pixel_checks = {}
    if name == "at-size":
        raw = np.asarray(images[0].convert("RGB"), dtype=np.float64).transpose(2, 0, 1)
        formula = ((raw * (1 / 255)).astype(np.float32) - np.float32(0.5)) / np.float32(0.5)
        pixel_checks["at_size_equals_(u8/255-0.5)/0.5_max_abs_diff"] = float(np.abs(formula - pv_np[0]).max())
    for i, img in enumerate(images):
        rgb = img.convert("RGB")
        if rgb.size != (IMAGE_SIZE, IMAGE_SIZE):
            resized = rgb.resize((IMAGE_SIZE, IMAGE_SIZE), resample=Image.BILINEAR)
        else:
            resized = rgb
        u8 = np.asarray(resized, dtype=np.float64).transpose(2, 0, 1)
        formula = ((u8 * (1 / 255)).astype(np.float32) - np.float32(0.5)) / np.float32(0.5)
        pixel_checks[f"image_{i}_equals_PIL_RGB_bilinear_resize_then_formula_max_abs_diff"] = \
            float(np.abs(formula - pv_np[i]).max())
        restated = pil_bilinear(np.asarray(rgb), IMAGE_SIZE, IMAGE_SIZE)
        assert np.array_equal(restated, np.asarray(resized)), "pil_bilinear differs from Pillow"
        pixel_checks[f"image_{i}_pil_bilinear_restatement_bit_exact"] = True

    # vision tower, projector
    with torch.no_grad():
        vt = model.model.vision_tower(pixel_values=pv).last_hidden_state
        proj = model.model.multi_modal_projector
        side = proj.patches_per_image
        pooled = proj.avg_pool(vt.transpose(1, 2).reshape(vt.shape[0], vt.shape[2], side, side)).flatten(2).transpose(1, 2)
        feats = model.model.get_image_features(pv).pooler_output
        by_hand_feats = torch.matmul(proj.mm_soft_emb_norm(pooled), proj.mm_input_projection_weight)
        projector_by_hand_diff = float((by_hand_feats - feats).abs().max())
        assert projector_by_hand_diff < 1e-5, projector_by_hand_diff
    np.save(os.path.join(case_dir, "vision_last_hidden.npy"), vt.numpy().astype(np.float32))
    np.save(os.path.join(case_dir, "projector_pooled.npy"), pooled.numpy().astype(np.float32))
    np.save(os.path.join(case_dir, "image_features.npy"), feats.numpy().astype(np.float32))

    # logits of the prompt
    with torch.no_grad():
        out = model(**inputs, use_cache=False, output_hidden_states=True)
    logits = out.logits[0].float()
    T = logits.shape[0]
    assert logits.shape[1] == VOCAB
    # image features enter the residual stream unscaled (embed_scale applies to token rows only)
    img_pos = [i for i, t in enumerate(ids) if t == IMAGE_TOKEN]
    h0 = out.hidden_states[0][0]
    assert torch.equal(h0[img_pos], feats.reshape(-1, feats.shape[-1]))
    text_pos = [i for i, t in enumerate(ids) if t != IMAGE_TOKEN]
    emb = model.model.language_model.embed_tokens.weight
    scale = model.model.language_model.embed_tokens.embed_scale
    assert torch.equal(h0[text_pos], emb[torch.tensor([ids[i] for i in text_pos])] * scale.to(emb.dtype))

    np.save(os.path.join(case_dir, "logits_last.npy"), logits[-1].numpy().astype(np.float32))
    probe = logits[:, PROBE_IDS].numpy().astype(np.float32)
    np.save(os.path.join(case_dir, "logits_probe.npy"), probe)

    # greedy decoding three ways
    greedy, margins, tops, rows = greedy_with_cache(model, inputs, NEW_TOKENS)
    np.save(os.path.join(case_dir, "greedy_logits_probe.npy"), rows[:, PROBE_IDS].numpy().astype(np.float32))
    assert torch.equal(rows[0], logits[-1]) or float((rows[0] - logits[-1]).abs().max()) < 1e-5
    prefill_cache_vs_nocache = float((rows[0] - logits[-1]).abs().max())
    gen = greedy_generate(model, inputs, NEW_TOKENS)
    assert gen == greedy, ("generate differs from the argmax loop", gen, greedy)
    recompute, recompute_rows = greedy_recompute(model, inputs, NEW_TOKENS)
    cache_vs_recompute = float((recompute_rows - rows).abs().max()) if recompute == greedy else None

    # sdpa vs eager
    with torch.no_grad():
        sdpa_logits = sdpa_model(**inputs, use_cache=False).logits[0].float()
    sdpa_diff = float((sdpa_logits - logits).abs().max())
    assert sdpa_diff < 1e-3, sdpa_diff  # float32 summation order only

    mask = verify_mask(model, inputs)

    expected = {
        "case": name,
        "generator": "tools/make_gemma3_vlm_fixtures.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "model_dir": "../model",
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "images": originals,
        "messages": messages,
        "apply_chat_template": "processor.apply_chat_template(messages with the PIL images in the image parts, "
                               "add_generation_prompt=True, tokenize=True, return_dict=True)",
        "prompt": prompt,
        "expanded_prompt": expanded,
        "input_ids": ids,
        "token_type_ids": tt,
        "attention_mask": "all ones",
        "num_tokens": T,
        "image_token_positions": img_pos,
        "pixel_values_files": pv_files,
        "pixel_values_files_note": "concatenate along axis 0 (one [1,3,112,112] file per image when shared)",
        "pixel_values_shape": list(pv_np.shape),
        "pixel_checks": pixel_checks,
        "vision_last_hidden_file": "vision_last_hidden.npy",
        "vision_last_hidden_shape": list(vt.shape),
        "projector_pooled_file": "projector_pooled.npy",
        "projector_pooled_shape": list(pooled.shape),
        "image_features_file": "image_features.npy",
        "image_features_shape": list(feats.shape),
        "logits_last_file": "logits_last.npy",
        "logits_probe_file": "logits_probe.npy",
        "logits_probe_shape": list(probe.shape),
        "probe_ids": PROBE_IDS,
        "last_position_top10": topk(logits[-1], 10),
        "last_position_margin": top2_margin(logits[-1]),
        "max_abs_logit": float(logits.abs().max()),
        "greedy_ids": greedy,
        "greedy_note": f"argmax at each step, KV cache, no EOS stopping; prefill gets pixel_values and "
                       f"token_type_ids, each new token is fed alone without them; equal to model.generate("
                       f"**inputs, do_sample=False, max_new_tokens={NEW_TOKENS}, eos_token_id=None)",
        "greedy_margins": margins,
        "greedy_min_margin": min(margins),
        "greedy_top5": tops,
        "greedy_logits_probe_file": "greedy_logits_probe.npy",
        "mask": mask,
        "checks": {
            "generate_equals_argmax_loop": True,
            "greedy_cache_equals_recompute": recompute == greedy,
            "greedy_rows_cache_vs_recompute_max_abs_diff": cache_vs_recompute,
            "prefill_with_cache_vs_without_max_abs_diff": prefill_cache_vs_nocache,
            "sdpa_vs_eager_max_abs_diff": sdpa_diff,
            "input_ids_equal_tokenizing_expanded_prompt_without_special_tokens": True,
            "processor_call_on_prompt_string_first_two_ids": double_bos,
            "hidden_state_0_at_image_positions_equals_image_features": True,
            "hidden_state_0_at_text_positions_equals_embedding_times_embed_scale": True,
            "projector_vs_matmul(rmsnorm(avgpool(vision)), mm_input_projection_weight)_max_abs_diff":
                projector_by_hand_diff,
        },
    }
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"  [{name}] T={T}, images {[(o['width'], o['height'], o['mode']) for o in originals]}, "
          f"greedy {greedy}, min margin {min(margins):.4f}, last margin {top2_margin(logits[-1]):.4f}, "
          f"sdpa diff {sdpa_diff:.1e}, no-tt change {mask['logits_change_if_token_type_ids_omitted']:.3f}")
    return expected


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------

def facts(model, ckpt: dict, proc: dict, processor, loaded_from_nested, loaded_classes) -> dict:
    cfg = model.config
    proj = model.model.multi_modal_projector
    keys = ckpt["keys"]
    prefixes = sorted({"language_model.model" if k.startswith("language_model.model.") else k.split(".")[0]
                       for k in keys})
    return {
        "generator": "tools/make_gemma3_vlm_fixtures.py",
        "transformers_version": transformers.__version__,
        "seed": SEED,
        "checkpoint": {
            "save_pretrained_key_layout": "transformers 5.24's save_pretrained (save_original_format=True, the "
                                          "default) writes language_model.model.*, vision_tower.* (NO "
                                          "'vision_model.' segment), multi_modal_projector.*; no lm_head.weight "
                                          "(tied to the embeddings). The in-memory names are model.language_model.*, "
                                          "model.vision_tower.*, model.multi_modal_projector.*, lm_head.weight "
                                          "(save_original_format=False writes those, still without lm_head).",
            "loads_equally": ["language_model.model.* + vision_tower.* (this fixture)",
                              "language_model.model.* + vision_tower.vision_model.* (Google's release)",
                              "model.language_model.* + model.vision_tower.vision_model.*",
                              "model.language_model.* + model.vision_tower.*"],
            "lm_head_weight_written": any(k.startswith("lm_head") or ".lm_head" in k for k in keys),
            "prefixes": prefixes,
            "num_tensors": len(keys),
            "dtypes": {"language_model.model.embed_tokens.weight": "BF16", "everything else": "F32"},
            "bf16_note": "embed_tokens values were rounded to bf16 before the reference ran; transformers loads "
                         "them into float32 exactly",
        },
        "text": {
            "hidden_size": cfg.text_config.hidden_size,
            "layer_types": list(cfg.text_config.layer_types),
            "sliding_window": cfg.text_config.sliding_window,
            "heads": cfg.text_config.num_attention_heads,
            "kv_heads": cfg.text_config.num_key_value_heads,
            "head_dim": cfg.text_config.head_dim,
            "query_pre_attn_scalar": cfg.text_config.query_pre_attn_scalar,
            "rope_parameters": cfg.text_config.rope_parameters,
            "vocab_size": cfg.text_config.vocab_size,
            "embed_scale": float(model.model.language_model.embed_tokens.embed_scale),
            "image_token_row_note": "image_token_index 262144 < vocab 262208, so the ids are embedded as they "
                                    "are (transformers swaps them for pad 0 only when image_token_index >= vocab) "
                                    "and the rows are then overwritten by masked_scatter",
        },
        "vision": {
            "class": type(model.model.vision_tower).__name__,
            "image_size": cfg.vision_config.image_size,
            "patch_size": cfg.vision_config.patch_size,
            "patches_per_side": proj.patches_per_image,
            "hidden_size": cfg.vision_config.hidden_size,
            "layers": cfg.vision_config.num_hidden_layers,
            "heads": cfg.vision_config.num_attention_heads,
            "intermediate_size": cfg.vision_config.intermediate_size,
            "layer_norm_eps": cfg.vision_config.layer_norm_eps,
            "hidden_act": cfg.vision_config.hidden_act,
            "vision_use_head": cfg.vision_config.vision_use_head,
            "forward": "Conv2d(3, hidden, kernel=stride=patch, bias) -> flatten(2).transpose(1,2) (patch index "
                       "= row * patches_per_side + col) + position_embedding[patch index]; per layer: "
                       "x + out_proj(attn(layer_norm1(x))) then x + fc2(gelu_tanh(fc1(layer_norm2(x)))); "
                       "attention: q,k,v with bias, scale head_dim^-0.5, no mask, softmax in float32; "
                       "post_layernorm at the end = last_hidden_state (no pooling head)",
        },
        "projector": {
            "avg_pool": f"nn.AvgPool2d(kernel_size={proj.kernel_size}, stride={proj.kernel_size}) on the patch grid: "
                        f"[B, {proj.patches_per_image}^2, C] -> transpose(1,2) -> reshape [B, C, "
                        f"{proj.patches_per_image}, {proj.patches_per_image}] -> pool -> [B, C, "
                        f"{proj.tokens_per_side}, {proj.tokens_per_side}] -> flatten(2).transpose(1,2); token t = "
                        f"r * {proj.tokens_per_side} + c is the mean of patches rows {proj.kernel_size}r.."
                        f"{proj.kernel_size}r+{proj.kernel_size - 1}, cols {proj.kernel_size}c..; kernel = "
                        "(image_size // patch_size) // sqrt(mm_tokens_per_image)",
            "kernel_size": proj.kernel_size,
            "tokens_per_side": proj.tokens_per_side,
            "norm": f"mm_soft_emb_norm = Gemma3RMSNorm(vision hidden, eps = vision layer_norm_eps "
                    f"{proj.mm_soft_emb_norm.eps}): float32 x * rsqrt(mean(x^2) + eps) * (1 + w)",
            "projection": "torch.matmul(normed [B, tokens, vision_hidden], mm_input_projection_weight "
                          "[vision_hidden, text_hidden]) -- no transpose, no bias",
            "mm_input_projection_weight_shape": list(proj.mm_input_projection_weight.shape),
            "scatter": "the projector output replaces the embeddings at input_ids == image_token_index, in "
                       "order (masked_scatter); it is NOT multiplied by sqrt(hidden) (verified on hidden_states[0])",
        },
        "attention_mask": {
            "token_type_ids": "the processor returns token_type_ids = 1 exactly at <image_soft_token> "
                              "(262144) positions, 0 elsewhere (also 0 at <start_of_image>/<end_of_image>)",
            "blocks": "each maximal run of consecutive token_type_ids == 1 is one image block",
            "full_attention_layers": "query i sees key j iff j <= i OR (i and j are in the same image block)",
            "sliding_attention_layers": "query i sees key j iff j > i - sliding_window AND (j <= i OR same image "
                                        "block): AND(sliding window, OR(causal, same image)). The window only "
                                        "bounds the past, so an image token sees every later token of its own "
                                        "image however far, but earlier tokens (its own image included) only "
                                        "back to i - sliding_window + 1",
            "across_images": "a token of one image never sees a later image; it sees earlier images causally "
                             "(within the window on sliding layers)",
            "text_tokens": "plain causal (+ window); <start_of_image>/<end_of_image> are text for the mask",
            "decode": "generate passes token_type_ids only on the first (prefill) call; new tokens use the "
                      "plain causal / sliding masks",
            "without_token_type_ids": "calling the model with pixel_values but without token_type_ids gives "
                                      "plain causal masks (different logits; see each case's mask section)",
            "verified": "from eager attention probabilities (> 0) on every layer of every case",
            "source": "modeling_gemma3.create_masks_for_vision_model + masking_utils.blockwise_overlay / "
                      "sliding_window_overlay",
        },
        "processor": {
            "auto_processor_image_processor_class": loaded_classes,
            "selection_rule": "AutoImageProcessor/AutoProcessor pick the torchvision backend "
                              "(Gemma3ImageProcessor, the 'fast' one) when torchvision is installed, else the PIL "
                              "backend (Gemma3ImageProcessorPil). torchvision is not installed here, so these "
                              "fixtures come from Gemma3ImageProcessorPil. Both serialise as image_processor_type "
                              "'Gemma3ImageProcessor'.",
            "pil_pipeline": "convert to RGB (grayscale 'L' -> R=G=B); PIL Image.resize to (W,H) = (size, size) "
                            "with resample 2 = BILINEAR on the uint8 image (PIL's bilinear filter widens with "
                            "the scale when downsizing = antialiased; output rounded to uint8; skipped in effect "
                            "when the image is already at size); x.astype(float64) * (1/255) -> float32; "
                            "(x - 0.5) / 0.5 in float32; channels first",
            "resize_settings": {k: v for k, v in processor.image_processor.to_dict().items()
                                if k in ("size", "resample", "do_resize", "rescale_factor", "image_mean",
                                         "image_std", "do_convert_rgb", "do_pan_and_scan")},
            "pan_and_scan": "off (do_pan_and_scan null in config -> False)",
            "pillow_bilinear_uint8": "separable: a horizontal pass (skipped if the width is unchanged) into a "
                                     "uint8 image, then a vertical pass (skipped if the height is unchanged). Per "
                                     "axis, scale = in/out, fs = max(scale, 1), support = fs; output o has centre "
                                     "c = (o + 0.5) * scale, inputs i in [max(int(c - fs + 0.5), 0), min(int(c + fs "
                                     "+ 0.5), in)), weight max(0, 1 - |(i - c + 0.5) / fs|), normalised to sum 1, "
                                     "then k = floor(0.5 + w * 2^22); out = clip((2^21 + sum(k * x)) >> 22, 0, 255). "
                                     "Restated in pil_bilinear() of the generator and checked bit-exact against "
                                     f"Pillow {Image.__version__} on every fixture image",
            "image_seq_length": processor.image_seq_length,
            "files": "model/ holds the Hub layout (preprocessor_config.json + a processor_config.json without "
                     "the image processor). transformers 5.24's processor.save_pretrained instead writes ONE "
                     "processor_config.json with the image processor nested under 'image_processor' (and no "
                     "preprocessor_config.json) -- see processor-nested/. On load, a nested 'image_processor' "
                     "in processor_config.json wins over preprocessor_config.json.",
            "nested_form_loads_identically": loaded_from_nested,
            "processor_save_pretrained_writes": proc["processor_save_pretrained_writes"],
        },
        "chat_format": {
            "template": "model/chat_template.jinja (written for this fixture; Gemma 3 turn format)",
            "turn": "<bos><start_of_turn>user\\n{system + '\\n\\n' if any}{parts}<end_of_turn>\\n"
                    "<start_of_turn>model\\n ; parts concatenated without separators, text parts trimmed, "
                    "each image part = '<start_of_image>'",
            "expansion": "the processor replaces each '<start_of_image>' in the prompt STRING by '\\n\\n"
                         "<start_of_image>' + 16 x '<image_soft_token>' + '<end_of_image>\\n\\n' and then "
                         "tokenizes the whole string with add_special_tokens=False, so the newlines merge "
                         "with their neighbours (e.g. 'user\\n' + '\\n\\n' -> 'user' + '\\n\\n\\n' (id 109); "
                         "two adjacent images give '\\n\\n\\n\\n' (id 110) between <end_of_image> and "
                         "<start_of_image>; after <end_of_image> '\\n\\n' is id 108)",
            "double_bos_gotcha": "processor(text=prompt_string) tokenizes WITH special tokens, so the template's "
                                 "<bos> plus the tokenizer's gives [2, 2, ...]; apply_chat_template(tokenize=True) "
                                 "gives one <bos>. The fixtures use the latter.",
        },
    }


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="the decompressed Gemma 3 tokenizer.json")
    args = ap.parse_args()
    if not os.path.exists(args.tokenizer):
        sys.exit(f"{args.tokenizer} not found: xz -dk shared/reference/gemma3-tokenizer.json.xz and copy it there")
    torch.set_grad_enabled(False)
    torch.manual_seed(SEED)

    model_dir = os.path.join(args.out, "model")
    nested_dir = os.path.join(args.out, "processor-nested")
    os.makedirs(model_dir, exist_ok=True)

    print("building the model")
    cfg = make_config()
    cfg._attn_implementation = "eager"
    built = Gemma3ForConditionalGeneration(cfg).float().eval()
    randomize(built, SEED)
    ckpt = write_checkpoint(built, model_dir)
    proc = write_processor_files(args.tokenizer, model_dir, nested_dir)

    # everything below runs from the files on disk (plus tokenizer.json in a temporary copy)
    work = tempfile.mkdtemp()
    try:
        repo = os.path.join(work, "model")
        shutil.copytree(model_dir, repo)
        shutil.copy(args.tokenizer, os.path.join(repo, "tokenizer.json"))
        model, info = Gemma3ForConditionalGeneration.from_pretrained(
            repo, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
        model.eval()
        assert not any(info.values()), info
        assert model.config._attn_implementation == "eager"
        assert model.model.vision_tower.config._attn_implementation == "eager"
        ref = built.state_dict()
        for k, v in model.state_dict().items():
            assert v.dtype == torch.float32 and torch.equal(v, ref[k]), k
        assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
        sdpa_model = Gemma3ForConditionalGeneration.from_pretrained(repo, dtype=torch.float32,
                                                                    attn_implementation="sdpa").eval()
        processor = AutoProcessor.from_pretrained(repo)
        loaded_classes = {"processor": type(processor).__name__,
                          "image_processor": type(processor.image_processor).__name__,
                          "tokenizer": type(processor.tokenizer).__name__}
        assert processor.image_seq_length == MM_TOKENS
        assert (processor.tokenizer.boi_token_id, processor.tokenizer.eoi_token_id,
                processor.tokenizer.image_token_id) == (BOI, EOI, IMAGE_TOKEN)

        # the nested (5.24 save_pretrained) processor form loads to the same settings
        repo2 = os.path.join(work, "nested")
        shutil.copytree(repo, repo2)
        os.remove(os.path.join(repo2, "preprocessor_config.json"))
        shutil.copy(os.path.join(nested_dir, "processor_config.json"), os.path.join(repo2, "processor_config.json"))
        processor2 = AutoProcessor.from_pretrained(repo2)
        def settings(p):
            return {k: v for k, v in p.image_processor.to_dict().items() if k != "image_seq_length"}
        same_nested = (settings(processor2) == settings(processor)
                       and type(processor2.image_processor) is type(processor.image_processor)
                       and processor2.image_seq_length == processor.image_seq_length)
        assert same_nested, (processor2.image_processor.to_dict(), processor.image_processor.to_dict())

        results = {}
        for name in CASES:
            results[name] = run_case(name, args.out, model, sdpa_model, processor)
        f = facts(model, ckpt, proc, processor, same_nested, loaded_classes)
        with open(os.path.join(args.out, "facts.json"), "w") as fh:
            json.dump(f, fh, indent=1)
            fh.write("\n")
    finally:
        shutil.rmtree(work)

    total = 0
    for root, _, files in os.walk(args.out):
        size = sum(os.path.getsize(os.path.join(root, x)) for x in files)
        total += size
        print(f"  {os.path.relpath(root, args.out)}: {size / 1e6:.3f} MB  {sorted(files)}")
    print(f"total {total / 1e6:.3f} MB ({total / 2**20:.3f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
