"""Critic backends: ``rules`` (built in, offline), ``hf`` (a local transformers judge), ``openai``
(an OpenAI-compatible judge endpoint). ``load_backend`` builds the one a server config names."""
