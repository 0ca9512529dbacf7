# SPDX-License-Identifier: GPL-2.0-only
# Out-of-tree entry points. KDIR is the kernel build tree (with Rust metadata); the default
# is the running kernel's. scripts/build runs this inside the project's build root.
KDIR ?= /lib/modules/$(shell uname -r)/build
MAKEFLAGS += --no-print-directory

all: modules

modules modules_install clean rust-analyzer:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $@

help:
	@echo "make [KDIR=<kernel build tree>] [modules|modules_install|clean|rust-analyzer]"
	@echo "  KDIR defaults to /lib/modules/\$$(uname -r)/build; it needs the kernel's Rust"
	@echo "  metadata (rust/*.rmeta). scripts/setup prepares one for the Debian 7.3 kernel."

.PHONY: all modules modules_install clean rust-analyzer help
