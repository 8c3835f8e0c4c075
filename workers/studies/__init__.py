"""Optuna studies shared by runners in many processes: the storage (storage.py), each
running trial's heartbeat and the reaping of trials whose worker died (heartbeat.py), and
the protocol that fills a job's budget of trials exactly (budget.py).

The only package that touches Optuna's private attributes: Optuna's storage methods take
a trial's or a study's id, which its public Trial and Study objects keep private.
"""
