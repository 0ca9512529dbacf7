// SPDX-License-Identifier: GPL-2.0-only
//! Safe wrappers over the C helpers in `kglue.c`: kernel static inlines and macros that Rust
//! bindings cannot reach (`virt_to_phys`, `local_irq_save`, `cpumask_of`, ...). Shared by the
//! pvguest modules, which include this file by path and `kglue.c` from their C shim.

use core::ffi::{c_int, c_uint, c_ulong, c_void};

extern "C" {
    fn pvg_virt_to_phys(p: *const c_void) -> u64;
    fn pvg_irq_save() -> c_ulong;
    fn pvg_irq_restore(flags: c_ulong);
    fn pvg_irq_set_affinity_cpu(irq: c_uint, cpu: c_uint) -> c_int;
    fn pvg_num_possible_cpus() -> c_uint;
    fn pvg_cpu_online(cpu: c_uint) -> bool;
    fn pvg_smp_call_on(cpu: c_uint, f: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) -> c_int;
}

/// Physical (guest-physical) address of kernel memory in the direct map (kmalloc memory).
pub(crate) fn virt_to_phys<T>(p: *const T) -> u64 {
    // SAFETY: `virt_to_phys` is arithmetic on the address; callers pass direct-map memory
    // (it is meaningless, not unsafe, for other addresses).
    unsafe { pvg_virt_to_phys(p.cast()) }
}

/// Interrupts disabled on this CPU while the guard lives (`local_irq_save`/`restore`).
pub(crate) struct IrqsOff(c_ulong);

impl IrqsOff {
    pub(crate) fn new() -> IrqsOff {
        // SAFETY: saving and disabling local interrupts is always allowed; the guard restores.
        IrqsOff(unsafe { pvg_irq_save() })
    }
}

impl Drop for IrqsOff {
    fn drop(&mut self) {
        // SAFETY: restores exactly the state saved by `new` on this CPU (the guard is not
        // `Send`, so it cannot migrate, and interrupts are off so the task cannot either).
        unsafe { pvg_irq_restore(self.0) };
    }
}

/// Routes interrupt `irq` to `cpu`.
pub(crate) fn irq_set_affinity_cpu(irq: u32, cpu: u32) -> kernel::error::Result {
    // SAFETY: `irq_set_affinity` validates both arguments.
    kernel::error::to_result(unsafe { pvg_irq_set_affinity_cpu(irq, cpu) })
}

/// `num_possible_cpus()`.
pub(crate) fn num_possible_cpus() -> u32 {
    // SAFETY: reads a kernel-global cpumask weight.
    unsafe { pvg_num_possible_cpus() }
}

/// `cpu_online(cpu)`.
pub(crate) fn cpu_online(cpu: u32) -> bool {
    // SAFETY: `cpu_online` bounds-checks against nr_cpu_ids.
    unsafe { pvg_cpu_online(cpu) }
}

/// Runs `f` on `cpu` (in IPI context, interrupts off) and waits for it.
pub(crate) fn run_on<F: FnMut() + Sync>(cpu: u32, f: &mut F) -> kernel::error::Result {
    unsafe extern "C" fn tramp<F: FnMut()>(arg: *mut c_void) {
        // SAFETY: `arg` is the `&mut F` passed below; `smp_call_function_single` with wait=1
        // runs this exactly once while `run_on` is blocked, so the borrow is exclusive.
        let f = unsafe { &mut *arg.cast::<F>() };
        f();
    }
    // SAFETY: `tramp::<F>` matches the callback type; `f` outlives the synchronous call.
    kernel::error::to_result(unsafe { pvg_smp_call_on(cpu, tramp::<F>, core::ptr::from_mut(f).cast()) })
}
