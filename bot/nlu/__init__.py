"""NLU: Rasa-compatible training data, pipeline components on scikit-learn, model archives, evaluation.

Entry points: :mod:`bot.nlu.model` (``load_latest``, ``load_archive``, ``Interpreter``),
:mod:`bot.nlu.commands` (``bot train`` / ``bot parse`` / ``bot test nlu``) and :mod:`bot.nlu.http`
(``POST /model/parse``). Importing this package does no work.
"""
