"""The import-light kernel every other package builds on: value types, protocols, the error
hierarchy, redaction, the risk taxonomy, the critic wire schemas and the token estimate.

It imports no other project package (import-linter checks this in CI).
"""
