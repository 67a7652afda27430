"""pyai sessions inside other agent frameworks; each module needs its own extra.

* :mod:`pyai.integrations.openai_agents`: a session of OpenAI's Agents SDK
  (``pip install 'pyai[openai-agents]'``).
* :mod:`pyai.integrations.langchain`: a LangChain ``BaseChatMessageHistory``
  (``pip install 'pyai[langchain]'``).
"""
