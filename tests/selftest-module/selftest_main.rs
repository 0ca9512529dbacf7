// SPDX-License-Identifier: GPL-2.0-only
//! pvg_selftest: a module that misbehaves on request, so the guest test harness can show that
//! it notices (see tests/harness/). Loaded only by the harness's own tests.

use kernel::prelude::*;

module! {
    type: Selftest,
    name: "pvg_selftest",
    authors: ["pvguest developers"],
    description: "pvguest test-harness fixture: fails, warns, hangs or leaks on request",
    license: "GPL",
    params: {
        fail: bool {
            default: false,
            description: "Fail module initialisation with -EINVAL",
        },
        warn: bool {
            default: false,
            description: "Trigger a kernel WARNING during initialisation",
        },
        hang: bool {
            default: false,
            description: "Stop this CPU with interrupts off during initialisation (hangs a 1-vCPU guest)",
        },
        leak: bool {
            default: false,
            description: "Allocate 1 KiB during initialisation and drop the only pointer to it (for kmemleak)",
        },
    },
}

struct Selftest;

impl kernel::Module for Selftest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if module_parameters::fail.value() {
            pr_err!("failing initialisation on request (fail=1)\n");
            return Err(EINVAL);
        }
        if module_parameters::warn.value() {
            kernel::warn_on!(true);
        }
        if module_parameters::leak.value() {
            // The debug kernel's kmemleak must report this block (tests/guest/init scans after
            // the last test): forgetting the box drops the only reference without freeing it.
            let block = KBox::new([0x5au8; 1024], GFP_KERNEL)?;
            pr_info!("leaking 1 KiB on request (leak=1)\n");
            core::mem::forget(block);
        }
        if module_parameters::hang.value() {
            pr_emerg!("hanging this CPU on request (hang=1)\n");
            // SAFETY: `cli` only clears the interrupt flag of this CPU. This is exactly the
            // misbehaviour the parameter asks for: the harness must notice a guest that
            // stops answering.
            unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
            loop {
                core::hint::spin_loop();
            }
        }
        pr_info!("loaded (no misbehaviour requested)\n");
        Ok(Selftest)
    }
}
