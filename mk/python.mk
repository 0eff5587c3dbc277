# python binding: filled in by the python binding's issue.
.PHONY: test-python
test-python:
	@echo "(python binding not built yet)"
