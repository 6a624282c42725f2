"""The training config: one TOML file, typed (pydantic models, strict), every unknown key an error naming key and section.

Example (configs/dspark-smollm2-135m.toml has the commented full version)::

    algorithm = "dspark"            # dspark | dflash | eagle3 | mtp
    target = "smollm2-135m"         # a named target or a directory with config.json + *.safetensors
    out_dir = "runs/dspark-smollm2-135m"
    seed = 0
    device = "auto"                 # auto (cuda:LOCAL_RANK when CUDA is there) | cpu | cuda | cuda:N
    precision = "fp32"              # fp32 | bf16 (autocast; fp32 master weights) | auto (bf16 where
                                    # the hardware has it: CUDA, CPUs with AVX-512 BF16 / AMX)
    target_dtype = "auto"           # auto (bf16 on CUDA with precision bf16, else fp32) | fp32 | bf16
    threads = 0                     # torch CPU threads per process; 0 = torch's default

    [drafter]                       # the algorithm's Config (dspark.drafters.<algorithm>), checked
    block_size = 7
    num_layers = 1
    markov_rank = 256

    [loss]                          # unset weights take the algorithm's defaults (losses.DEFAULT_WEIGHTS)
    ce = 0.1
    l1 = 0.9
    bce = 1.0
    position_decay = 4.0            # DSpark / DFlash: w_k = exp(-k / position_decay)
    step_weight = 0.8               # Eagle3 / MTP: w_k = step_weight ** k

    [data]
    paths = ["data/regen/smollm2-135m.jsonl"]   # regenerated conversations (deepspec regenerate)
    tokenized = []                  # pre-tokenized JSONL {"id", "input_ids", "loss_mask"}
    max_len = 512
    features = "online"             # "online" or a feature cache directory (deepspec cache)
    feature_token_budget = 4096     # online: most tokens per target forward
    limit = 0                       # use only the first N samples (0 = all)
    holdout = 0                     # the last N of those never train: held-out acceptance (0 = none)

    [batch]
    sequences = 8                   # sequences per optimizer step (global, over all processes)
    grad_accum = 1                  # micro-batches per step on each process (a micro-batch is one forward:
                                    # raise it when the sequences of one do not fit in memory)
    anchors_per_seq = 32            # blocks per sequence (<= 0: every valid anchor)
    group_by_length = false         # steps of similar-length sequences: less padding of the context the
                                    # blocks attend to (~half the attention at max_len 1024)

    [optimizer]
    lr = 6e-4
    weight_decay = 0.0
    betas = [0.9, 0.999]
    eps = 1e-8
    grad_clip = 1.0

    [schedule]
    warmup_ratio = 0.04             # linear warm-up, then cosine to min_lr_ratio * lr
    min_lr_ratio = 0.0
    total_steps = 0                 # 0: from epochs
    epochs = 1.0

    [logging]
    log_every = 1
    checkpoint_every = 100
    eval_every = 0                  # steps between held-out evaluations (0: the last step only; needs holdout)
    keep_checkpoints = 3
    tensorboard = true
    log_sample_ids = true
    progress = true

Relative paths (data, out_dir, target directories) are relative to the working directory.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from dspark.errors import DSparkError

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10: the same parser, as a package
    import tomli as tomllib

ALGORITHMS = ("dspark", "dflash", "eagle3", "mtp")


class _Section(BaseModel):
    """Strict types (no "8" for 8, no 2.5 for an int) and no unknown keys: a typo is an error."""
    model_config = ConfigDict(extra="forbid", strict=True)


class LossConfig(_Section):
    ce: float | None = None
    l1: float | None = None
    bce: float | None = None
    soft_ce: float | None = None
    greedy_ce: float | None = None
    position_decay: float = 4.0
    step_weight: float = 0.8


class DataConfig(_Section):
    paths: list[str] = Field(default_factory=list)
    tokenized: list[str] = Field(default_factory=list)
    max_len: int = 512
    features: str = "online"
    feature_token_budget: int = 4096
    limit: int = 0
    holdout: int = 0


class BatchConfig(_Section):
    sequences: int = 8
    grad_accum: int = 1
    anchors_per_seq: int = 32
    group_by_length: bool = False   # steps of similar-length sequences (less context padding; EpochSampler)


class OptimizerConfig(_Section):
    lr: float = 6e-4
    weight_decay: float = 0.0
    betas: list[float] = Field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    grad_clip: float = 1.0


class ScheduleConfig(_Section):
    warmup_ratio: float = 0.04
    min_lr_ratio: float = 0.0
    total_steps: int = 0
    epochs: float = 1.0
    rewarm_steps: int = 50          # after a resume from a carry (no optimizer moments): lr ramps back over these


class LoggingConfig(_Section):
    log_every: int = 1
    checkpoint_every: int = 100
    eval_every: int = 0
    eval_walk: bool = False         # held-out rows add tau_walk: greedy decoding replayed (losses.greedy_walk),
                                    # every answer position drafted once (~10x a held-out forward's drafting)
    keep_checkpoints: int = 3
    tensorboard: bool = True
    log_sample_ids: bool = True
    progress: bool = True
    # A carry: the newest state in a compact form meant to be committed (fp16 weights, no optimizer
    # moments, the log gzip'd), so that a run continues on another machine; a resume takes whichever
    # of it and checkpoints/ is further along. "" = none.
    carry_dir: str = ""
    carry_every: int = 250


class TrainConfig(_Section):
    algorithm: str
    target: str
    out_dir: str = "runs/drafter"
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    target_dtype: str = "auto"
    threads: int = 0
    # A trained drafter (a run's final/ or a checkpoint directory) whose weights, draft vocabulary
    # included, start this run instead of a random initialisation: training on from a finished
    # run, on data that grew since, with a schedule of its own. Its [drafter] config and target
    # must be this run's. "" = none.
    init_from: str = ""
    drafter: dict[str, Any] = Field(default_factory=dict)
    loss: LossConfig = Field(default_factory=LossConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def drafter_config(self):
        """The algorithm's typed Config from [drafter] (unknown keys are errors)."""
        from dspark.drafters.checkpoint import REGISTRY
        import dspark.drafters  # noqa: F401  (registers the algorithms)
        cls = REGISTRY[self.algorithm]
        m = _validate(_model_of(cls.Config), self.drafter, "[drafter]", f"the {self.algorithm} drafter's")
        return cls.Config(**dict(m))

    def loss_alphas(self):
        from .losses import DEFAULT_WEIGHTS, LossWeights
        d = DEFAULT_WEIGHTS[self.algorithm]
        return LossWeights(**{t: (d[t] if getattr(self.loss, t) is None else float(getattr(self.loss, t)))
                              for t in d})


# --- parsing ---------------------------------------------------------------------------------

def _model_of(dc) -> type[_Section]:
    """A strict pydantic model with a dataclass's fields (each drafter's Config is a dataclass)."""
    hints = typing.get_type_hints(dc)
    fields = {}
    for f in dataclasses.fields(dc):
        if f.default is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], Field(default_factory=f.default_factory))
        else:
            fields[f.name] = (hints[f.name], ...)
    return create_model(dc.__name__, __base__=_Section, **fields)


def _validate(model: type[_Section], data: Any, section: str, what: str = "known") -> _Section:
    """`data` (a TOML table) as `model`; the first problem as one DSparkError naming key and section."""
    if not isinstance(data, dict):
        raise DSparkError(f"{section} must be a table, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    nested = len(loc) > 1 and loc[0] in model.model_fields and isinstance(data.get(loc[0]), dict)
    where, key = (f"[{loc[0]}]", ".".join(loc[1:])) if nested else (section, ".".join(loc))
    if err["type"] == "extra_forbidden":
        known = model.model_fields[loc[0]].annotation.model_fields if nested else model.model_fields
        raise DSparkError(f"unknown key {key!r} in section {where}; {'known' if nested else what} keys: "
                          f"{', '.join(sorted(known))}")
    if err["type"] == "missing":
        raise DSparkError(f"missing key {key!r} in section {where}")
    if err["type"] in ("model_type", "dict_type") and len(loc) == 1:
        raise DSparkError(f"[{loc[0]}] must be a table, got {type(err['input']).__name__}")
    expected = err["type"].removesuffix("_type").replace("_parsing", "")
    raise DSparkError(f"{where} {key} = {err['input']!r}: expected {expected} ({err['msg']})")


def parse_override(text: str) -> tuple[list[str], Any]:
    """'section.key=value' -> (['section', 'key'], value); value is read as a TOML value, or as a
    plain string when it is not one (data.features=online)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise DSparkError(f"override {text!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return [p.strip() for p in key.strip().split(".")], value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for p in path[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise DSparkError(f"override {text!r}: {p} is not a section")
        node[path[-1]] = value
    return raw


def config_from_dict(raw: dict) -> TrainConfig:
    cfg = _validate(TrainConfig, raw, "top level")
    if cfg.algorithm not in ALGORITHMS:
        raise DSparkError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {cfg.algorithm!r}")
    validate(cfg)
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise DSparkError(f"config file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DSparkError(f"{path}: invalid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise DSparkError(f"{path}: not UTF-8 text: {e}") from None
    raw = apply_overrides(raw, overrides or [])
    try:
        return config_from_dict(raw)
    except DSparkError as e:
        raise DSparkError(f"{path}: {e}") from None


def validate(cfg: TrainConfig) -> None:
    def need(ok: bool, msg: str):
        if not ok:
            raise DSparkError(msg)
    need(cfg.precision in ("fp32", "bf16", "auto"), f"precision must be fp32, bf16 or auto, got {cfg.precision!r}")
    need(cfg.target_dtype in ("auto", "fp32", "bf16", "float32", "bfloat16"),
         f"target_dtype must be auto, fp32 or bf16, got {cfg.target_dtype!r}")
    need(cfg.device == "auto" or cfg.device == "cpu" or cfg.device.startswith("cuda"),
         f"device must be auto, cpu or cuda[:N], got {cfg.device!r}")
    need(cfg.threads >= 0, "threads must be >= 0")
    d = cfg.data
    need(bool(d.paths) or bool(d.tokenized), "[data] needs paths (regenerated JSONL) or tokenized (pre-tokenized JSONL)")
    need(d.max_len >= 2, f"[data] max_len must be >= 2, got {d.max_len}")
    need(d.feature_token_budget >= 1, "[data] feature_token_budget must be >= 1")
    need(d.limit >= 0, "[data] limit must be >= 0")
    need(d.holdout >= 0, f"[data] holdout must be >= 0, got {d.holdout}")
    need(not d.limit or d.holdout < d.limit,
         f"[data] holdout ({d.holdout}) must be smaller than limit ({d.limit}): no training samples would remain")
    b = cfg.batch
    need(b.sequences >= 1, "[batch] sequences must be >= 1")
    need(b.grad_accum >= 1, "[batch] grad_accum must be >= 1")
    o = cfg.optimizer
    need(o.lr > 0, "[optimizer] lr must be > 0")
    need(len(o.betas) == 2 and all(0 <= x < 1 for x in o.betas), "[optimizer] betas must be two numbers in [0, 1)")
    need(o.grad_clip >= 0, "[optimizer] grad_clip must be >= 0 (0 = off)")
    s = cfg.schedule
    need(0 <= s.warmup_ratio < 1, "[schedule] warmup_ratio must be in [0, 1)")
    need(0 <= s.min_lr_ratio <= 1, "[schedule] min_lr_ratio must be in [0, 1]")
    need(s.total_steps >= 0, "[schedule] total_steps must be >= 0")
    need(s.total_steps > 0 or s.epochs > 0, "[schedule] needs total_steps > 0 or epochs > 0")
    lg = cfg.logging
    need(lg.log_every >= 1 and lg.checkpoint_every >= 1, "[logging] log_every and checkpoint_every must be >= 1")
    need(lg.keep_checkpoints >= 1, "[logging] keep_checkpoints must be >= 1")
    need(lg.eval_every >= 0, f"[logging] eval_every must be >= 0 (0 = only the final step), got {lg.eval_every}")
    need(cfg.loss.position_decay > 0, "[loss] position_decay must be > 0")
    need(cfg.loss.step_weight > 0, "[loss] step_weight must be > 0")
    from .losses import TERMS
    for t in TERMS:
        v = getattr(cfg.loss, t)
        need(v is None or v >= 0, f"[loss] {t} must be >= 0")
    alphas = cfg.loss_alphas()
    need(any(alphas.as_dict().values()), "[loss] every term weight is 0")
    if alphas.bce and cfg.algorithm != "dspark":
        raise DSparkError(f"[loss] bce needs a confidence head: only dspark has one, not {cfg.algorithm}")
    cfg.drafter_config()   # unknown / mistyped drafter keys fail here, before any weights load
