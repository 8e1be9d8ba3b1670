"""Property-based exploration of an ACME server (issue 6): a hypothesis state machine over protocol
steps, a mutation language for signed requests, invariants tied to catalogue requirements, and
saved, replayable findings. See docs/fuzzing.md.
"""
