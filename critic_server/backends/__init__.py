"""Critic backends: ``rules`` (built in, offline), ``hf`` (a local transformers judge), ``openai``
(an OpenAI-compatible judge endpoint), and plugins in the ``seval.critics`` entry-point group.
``registry`` holds them; ``critic_server.app.load_backend`` builds the one a server config names."""
