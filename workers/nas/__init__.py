"""Neural architecture search: DARTS, regularized evolution, an RL controller, random search.

config.py validates a job's config (no torch); spaces.py holds the search spaces;
strategies/ the search strategies behind one base class; darts.py the DARTS supernet;
engine.py runs a search, retrains the found architecture and saves it.
"""
