"""The files ``xlir-tui train`` writes beside a trained model, named once.

Here, below training, because the model layer reads them too: a model's fingerprint leaves
them out (a run's log is no part of its weights) and loading a model reads from its
``xlir_train.json`` how it was trained (``--passage-context``).
"""

TRAIN_FILE = "xlir_train.json"
"""A trained model's record: its settings, their history on resume, its final figures."""
EVENTS_FILE = "events.jsonl"
"""A run's event log, one JSON object a line (:mod:`xlir_tui.training.events`)."""
