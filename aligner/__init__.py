"""The aligner: from a session and a tempo grid to one edit plan, and from the plan to rendered stems.

Import order (lowest first): :mod:`aligner.plan` (the ``EditPlan``; the writers in ``session_io`` import it) →
:mod:`aligner.config` → :mod:`aligner.render` → :mod:`aligner.pipeline` (one session, end to end).
:mod:`aligner.synth` makes sessions with known truth. This package index imports nothing, so that
``session_io`` can import :mod:`aligner.plan` without pulling in the rest.
"""
