"""Disclosure policy and the outbound gate.

``bot.guard.gate`` holds the public API (``DisclosureGate``, ``load_gate``, ``CLINICAL_REDIRECT``);
``policy`` reads policies/disclosure.yml; ``normalise``, ``lexicon``, ``patterns`` and ``detector`` find
clinical content. Nothing is imported or compiled here, so importing the package costs nothing.
"""
