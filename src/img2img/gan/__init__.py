"""The conditional GAN library (plain PyTorch, no Kedro).

networks, losses, schedules: the models and their training rules; data: batches from tensor caches;
config: TrainConfig; runtime: device, AMP, threads and allocator policy; trainer: one optimisation
step and its state; loop: the epochs, resume, checkpoints; plan: time-budgeted runs; progress; collectives: what processes
exchange; launcher: the one place that starts processes; checkpoint: checkpoints and the training
identity; artifact, lineage: the saved networks and where their weights come from; warm_start;
translation: running a generator at test time.
"""
