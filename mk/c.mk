# c binding: filled in by the c binding's issue.
.PHONY: test-c
test-c:
	@echo "(c binding not built yet)"
