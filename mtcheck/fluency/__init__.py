"""The learned fluency detector: one model, trained on real MT errors, the only fluency path.

Data flow (each step one module):

- ``align``: a document becomes token rows; each word is read at its last token.
- ``states``: the frozen backbone's first layers run once per row (cached on disk for training).
- ``network``: the backbone's next layer(s), fine-tuned, a bidirectional GRU (both sides of every
  word) and a linear head give each token a logit.
- ``decode``: word probabilities become F001 spans, one sentence fluency (0 garbled … 1 fluent),
  one document fluency, and F002 for sentences garbled throughout.
- ``calibrate``: thresholds from clean text, both layouts (``mtcheck calibrate`` refits them).
- ``weights``: the shipped file: network, thresholds and the backbone's identity.
- ``detector``: all of the above at check time (mtcheck.pipeline calls it).
- ``data``, ``corrupt``, ``train``: the dev training data and ``mtcheck train``.
"""
