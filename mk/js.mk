# js binding: filled in by the js binding's issue.
.PHONY: test-js
test-js:
	@echo "(js binding not built yet)"
