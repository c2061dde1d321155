"""`sippy eval`: how right the pipeline is, measured on labelled and on real runs.

A generated corpus (`samples.generator` runs and `samples.payloads` payloads) carries ground
truth, so the summary fields, the evidence that reaches the prompt, the themes and the answers
are scored against it; real runs carry none, so only what can be checked independently is
reported for them, and said to be unlabelled. Small modules, one metric each: `fields`,
`recall`, `themes`, `answers`, `realdata`; `runner` puts them together and `report` prints.
"""
