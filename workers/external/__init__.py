"""External trials: a study the platform hosts while the trials run on the user's machines.

config.py checks an external job's config (the HPO search space, sampler and pruner rules,
reused); study.py is what the REST endpoints do with the study (ask, report, tell,
heartbeat, and the summary that closes the job), through workers.studies' budget and
heartbeat exactly as the platform's own trial runners do.
"""
