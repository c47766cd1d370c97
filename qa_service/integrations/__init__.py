"""Adapters that let other frameworks use a running QA service over its HTTP API.

Each submodule needs an optional extra and imports it itself; this package imports
nothing, so `import qa_service` never pulls in a framework:

- `qa_service.integrations.langchain_retriever`: `QARetriever`, a LangChain retriever
  (`pip install 'qa-service[langchain]'`).
"""
