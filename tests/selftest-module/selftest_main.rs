// SPDX-License-Identifier: GPL-2.0-only
//! pvg_selftest: a module that misbehaves on request, so the guest test harness can show that
//! it notices (see tests/harness/). Loaded only by the harness's own tests.

use kernel::prelude::*;

module! {
    type: Selftest,
    name: "pvg_selftest",
    authors: ["pvguest developers"],
    description: "pvguest test-harness fixture: fails, warns or hangs on request",
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
