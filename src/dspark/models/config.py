"""One dataclass describing every decoder family we run; family differences are flags.

Built from a Hugging Face config (transformers parses the JSON; we only read fields), so a target
directory, a GGUF package and a tiny test config all go through the same function.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

SUPPORTED_ARCHS = ("llama", "qwen3", "gemma3")


@dataclass
class RopeConfig:
    theta: float = 10000.0
    scaling: str = "default"        # "default" or "linear"
    factor: float = 1.0

    def inv_freq_scale(self) -> float:
        return 1.0 / self.factor if self.scaling == "linear" else 1.0


@dataclass
class ModelConfig:
    arch: str                        # "llama" | "qwen3" | "gemma3"
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope: RopeConfig = field(default_factory=RopeConfig)
    # Gemma3: sliding-window layers use their own rotary base.
    rope_local: RopeConfig | None = None
    sliding_window: int | None = None
    # One entry per layer: "full" or "sliding".
    layer_types: list[str] = field(default_factory=list)
    attention_bias: bool = False
    qk_norm: bool = False            # qwen3, gemma3
    sandwich_norm: bool = False      # gemma3: norms after attention and MLP too
    norm_offset: bool = False        # gemma3: RMSNorm scales by (1 + w)
    embed_scale: float = 1.0         # gemma3: sqrt(hidden)
    hidden_act: str = "silu"         # "silu" | "gelu_tanh"
    attn_scale: float | None = None  # None: head_dim ** -0.5; gemma3: query_pre_attn_scalar ** -0.5
    final_logit_softcap: float | None = None
    attn_logit_softcap: float | None = None
    tie_word_embeddings: bool = True
    max_position_embeddings: int = 8192
    bos_token_id: int | None = None
    eos_token_ids: list[int] = field(default_factory=list)
    pad_token_id: int | None = None

    def __post_init__(self):
        if self.arch not in SUPPORTED_ARCHS:
            raise ValueError(f"unsupported architecture {self.arch!r}; supported: {', '.join(SUPPORTED_ARCHS)}")
        if not self.layer_types:
            self.layer_types = ["full"] * self.num_layers
        if len(self.layer_types) != self.num_layers:
            raise ValueError(f"layer_types has {len(self.layer_types)} entries for {self.num_layers} layers")
        if self.num_heads % self.num_kv_heads:
            raise ValueError("num_heads must be a multiple of num_kv_heads")

    @property
    def scale(self) -> float:
        return self.attn_scale if self.attn_scale is not None else self.head_dim ** -0.5

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["rope"] = RopeConfig(**d["rope"])
        if d.get("rope_local") is not None:
            d["rope_local"] = RopeConfig(**d["rope_local"])
        return cls(**d)

    def fingerprint(self) -> dict:
        """What a drafter must agree with to run on this target."""
        return {"arch": self.arch, "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers}

    @classmethod
    def from_hf(cls, hf) -> "ModelConfig":
        """From a transformers PretrainedConfig (or a plain dict of its fields)."""
        get = (lambda k, default=None: hf.get(k, default)) if isinstance(hf, dict) else \
              (lambda k, default=None: getattr(hf, k, default))
        model_type = get("model_type")
        arch = {"llama": "llama", "qwen3": "qwen3", "gemma3_text": "gemma3", "gemma3": "gemma3"}.get(model_type)
        if arch is None:
            raise ValueError(f"unsupported model_type {model_type!r}; supported: llama, qwen3, gemma3_text")
        if model_type == "gemma3" and get("text_config") is not None:
            return cls.from_hf(get("text_config"))
        hidden = get("hidden_size")
        heads = get("num_attention_heads")
        head_dim = get("head_dim") or hidden // heads
        n_layers = get("num_hidden_layers")
        eos = get("eos_token_id")
        eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        act = get("hidden_activation") or get("hidden_act") or "silu"
        act = {"silu": "silu", "gelu_pytorch_tanh": "gelu_tanh", "gelu_tanh": "gelu_tanh"}.get(act)
        if act is None:
            raise ValueError(f"unsupported activation {get('hidden_act')!r}")

        rope_params = get("rope_parameters") or {}
        if arch == "gemma3":
            rope = _rope(rope_params.get("full_attention", rope_params), get("rope_theta", 1e6))
            rope_local = _rope(rope_params.get("sliding_attention", {}), get("rope_local_base_freq", 1e4))
            types = get("layer_types") or []
            layer_types = ["sliding" if t == "sliding_attention" else "full" for t in types]
            window = get("sliding_window")
        else:
            rope = _rope(rope_params, get("rope_theta", 10000.0))
            rope_local, layer_types, window = None, [], None
        return cls(
            arch=arch, vocab_size=get("vocab_size"), hidden_size=hidden,
            intermediate_size=get("intermediate_size"), num_layers=n_layers, num_heads=heads,
            num_kv_heads=get("num_key_value_heads") or heads, head_dim=head_dim,
            rms_norm_eps=get("rms_norm_eps", 1e-6), rope=rope, rope_local=rope_local,
            sliding_window=window, layer_types=layer_types,
            attention_bias=bool(get("attention_bias", False)),
            qk_norm=arch in ("qwen3", "gemma3"), sandwich_norm=arch == "gemma3",
            norm_offset=arch == "gemma3", embed_scale=hidden ** 0.5 if arch == "gemma3" else 1.0,
            hidden_act=act,
            attn_scale=get("query_pre_attn_scalar") ** -0.5 if arch == "gemma3" else None,
            final_logit_softcap=get("final_logit_softcapping"),
            attn_logit_softcap=get("attn_logit_softcapping"),
            tie_word_embeddings=bool(get("tie_word_embeddings", True)),
            max_position_embeddings=get("max_position_embeddings", 8192),
            bos_token_id=get("bos_token_id"), eos_token_ids=eos, pad_token_id=get("pad_token_id"),
        )


def _rope(params: dict, default_theta: float) -> RopeConfig:
    kind = params.get("rope_type", "default") or "default"
    if kind not in ("default", "linear"):
        raise ValueError(f"unsupported rope_type {kind!r} (supported: default, linear)")
    return RopeConfig(theta=float(params.get("rope_theta", default_theta)), scaling=kind,
                      factor=float(params.get("factor", 1.0)))
