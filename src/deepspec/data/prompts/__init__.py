"""Training prompts for drafter training: readers, generators, the disjointness check, the builder.

DeepSpec trains on prompts only: every assistant answer is regenerated later by the target itself
(METHOD.md section 3). This package turns the prompt sources available offline into one JSONL file,
one conversation per line::

    {"id": ..., "source": ..., "domain": "math"|"code"|"chat",
     "conversations": [{"role": "user", "content": ...}, ...]}

and checks that no training prompt overlaps a benchmark prompt of the evaluation sets.

records.py        `PromptRecord`, `classify_domain` (math / code / chat), `load_prompts(path)`: JSONL
                  `{"turns": [...]}` or `{"conversations": [...]}`, or a ShareGPT JSON array (also cut short)
math_problems.py  `generate_math_problems(n, seed)`: templated problems, deterministic
code_tasks.py     `generate_code_tasks(n, seed)`: templated programming tasks, deterministic
library_code.py   `generate_library_tasks(n, seed)`: tasks built from the standard library's documented functions
competition_math.py `generate_competition_math(n, seed)`: competition-style problems in LaTeX
algorithm_code.py `generate_algorithm_tasks(n, seed)`: algorithmic tasks in the code benchmarks' four forms
writing_chat.py   `generate_writing_chat(n, seed)`: two-turn open-ended chat prompts (writing, roleplay, extraction, ...)
disjoint.py       `normalize_prompt`, `EvalIndex`, `check_disjoint`, `resolve_eval_dir`
build.py          `build_prompt_set(out_path, ...)`: the training set plus a manifest next to it
(`deepspec prompts` is deepspec/cli/prompts.py)
"""
from dspark.sharegpt import sharegpt_path  # noqa: F401

from .build import DEFAULT_GENERATORS, DEFAULT_MIX, GENERATORS, KNOWN_GENERATORS, build_prompt_set  # noqa: F401
from .algorithm_code import generate_algorithm_tasks  # noqa: F401
from .code_tasks import generate_code_tasks  # noqa: F401
from .competition_math import generate_competition_math  # noqa: F401
from .library_code import generate_library_tasks  # noqa: F401
from .writing_chat import draw_writing_chat, generate_writing_chat  # noqa: F401
from .disjoint import (EVAL_DIR_ENV, EXPECTED_EVAL_FILES, CheckResult, EvalIndex, check_disjoint,  # noqa: F401
                       normalize_prompt, resolve_eval_dir)
from .math_problems import generate_math_problems  # noqa: F401
from .records import DOMAINS, PromptRecord, classify_domain, load_prompts  # noqa: F401
