from .config import ModelConfig
from .decoder import DecoderLayer, ForwardOutput, TargetModel
from .kv_cache import CacheFullError, KVCache
from .loader import DEFAULT_TARGET, NAMED_TARGETS, Target, load_target

__all__ = ["ModelConfig", "DecoderLayer", "ForwardOutput", "TargetModel", "KVCache", "CacheFullError",
           "DEFAULT_TARGET", "NAMED_TARGETS", "Target", "load_target"]
