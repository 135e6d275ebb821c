"""Modal screens of the explorer, one module per dialog: help and a paragraph, the question
picker, the pane languages, compare, export, training (the dialog and its form; the process it
starts is :mod:`xlir_tui.tui.train_process`'s), a question or a failure.

Every dialog fits an 80x24 terminal: widths follow the screen up to a comfortable maximum, long
lists scroll inside the dialog, and on short screens form widgets drop their borders
(:func:`~xlir_tui.tui.screens.dialog.fit_height`).

Text from data (paragraphs, questions, ids, paths, errors, training lines) is shown only as
:func:`~xlir_tui.safe_text.inert_text`: never parsed as markup, control characters made visible.
"""
