# Developer commands; each mirrors a command of the README or of docs/.
#   make demo      install what ovis needs, then boot the example system as PID 1 (namespaces)
#   make test      install the test dependencies, then run the whole suite (what .ci/run does)
#   make vm        the VM tests only: QEMU boots ovis from its initramfs stage 0 to poweroff
#                  (needs qemu-system-x86, linux-image-amd64, busybox-static:
#                  `bash scripts/setup.sh --test`); rewrites docs/benchmarks.md
#   make vm-boot   boot the example system in a VM and show its console (python3 -m tests.vmtools)
PYTHON ?= python3

.PHONY: all demo test vm vm-boot

all: test

demo:
	bash scripts/setup.sh && $(PYTHON) -m ovis demo

test:
	bash scripts/setup.sh --test && bash scripts/test.sh

vm:
	OVIS_VM_TIMELINE=$(CURDIR)/docs/benchmarks.md $(PYTHON) -m pytest -m vm -v tests/test_vm.py

vm-boot:
	$(PYTHON) -m tests.vmtools --action poweroff
