"""Simulated patients: generated from combinations of openings, answer styles, services, days and times,
run against the real processor; each one checks its own goal in the database (issue 17, section 4).

``generator`` writes the patients (deterministic for a seed), ``simulator`` plays them against the
assistant and checks the result, ``metrics`` sums the figures that ``bench/patients.py`` prints and
``test_patients.py`` holds to a floor.
"""
