"""Session 43: copies of the shipped DSpark drafter whose block holds 3, 4 or 5 slots (config
block_size, every per-position calibration list cut to that length) in /tmp/s43/ck{3,4,5}: what
fixed_width_ab.py and round_cost.py load. The weights do not depend on the block size."""
import json
import shutil
from pathlib import Path

SRC = Path("/work/main/checkpoints/dspark-smollm2-135m")


def cut(o, g):
    if isinstance(o, dict):
        return {k: (g if k == "gamma" else cut(v, g)) for k, v in o.items()}
    if isinstance(o, list):
        return [cut(x, g) for x in (o[:g] if len(o) == 7 else o)]
    return o


for g in (3, 4, 5):
    dst = Path(f"/tmp/s43/ck{g}")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(SRC, dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg["config"]["block_size"] = g
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    (dst / "calibration.json").write_text(json.dumps(cut(json.loads((SRC / "calibration.json").read_text()), g)))
