"""pyai against the raw drivers and the peer libraries (OpenAI Agents SDK, LangChain).

Runs in its own virtualenv (``bench/.venv-peers``, built by ``make bench`` from
``bench/requirements-peers.txt``): the peers are never dependencies of pyai.
"""
