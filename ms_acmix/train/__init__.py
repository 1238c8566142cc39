"""Data-parallel training of the ms_acmix models (launched by ``scripts/run_distribute_train.sh``).

Modules: ``config`` (YAML schema and overrides), ``imagefolder`` (scan and verify class folders),
``transforms`` and ``data`` (mindspore.dataset pipelines, sharded per rank), ``mixup`` (mixup,
cutmix, label smoothing), ``schedule`` and ``optim`` (learning rate, AdamW/SGD, weight-decay
groups), ``step`` (loss and the compiled train step), ``checkpoint`` (atomic saves, resume),
``metrics`` (CSV/JSON/PNG), ``distributed`` (ranks, watchdog, all-reduce, parameter sync),
``models`` and ``restore`` (build a model from a config or a run's checkpoint), ``evaluate`` and
``loop`` (the training run).
"""
