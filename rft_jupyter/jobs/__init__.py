"""RFT jobs from every source as one :class:`Job`: the service, a replayed file, local GRPO.

- ``attach(job_id, client=None)`` / ``create(grader, train, valid, model=...)``: OpenAI or Azure
  OpenAI through the openai SDK (``openai_source``);
- ``replay(path, speed=None)``: an events JSONL or a results CSV (``replay_source``);
- ``local(grader, train, valid, model=None, **hyperparameters)``: TRL's GRPOTrainer in a
  subprocess, rewarded by the grader through this engine (``local_source``).

No IPython here: jobs work in scripts, CI and the trainer subprocess. ``rft.JobMonitor(job)``
shows one live in a notebook.
"""

from __future__ import annotations

from ..lazy import lazy_attributes

_LAZY = {
    "attach": "rft_jupyter.jobs.openai_source",
    "create": "rft_jupyter.jobs.openai_source",
    "replay": "rft_jupyter.jobs.replay_source",
    "read_events": "rft_jupyter.jobs.replay_source",
    "local": "rft_jupyter.jobs.local_source",
    "Job": "rft_jupyter.jobs.job",
    "EvalRun": "rft_jupyter.jobs.job",
    "JobConnectionError": "rft_jupyter.jobs.job",
    "Event": "rft_jupyter.jobs.events",
    "configure_cost": "rft_jupyter.jobs.cost",
    "cost_settings": "rft_jupyter.jobs.cost",
    "RetryPolicy": "rft_jupyter.jobs.retry",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
