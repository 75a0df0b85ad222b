//! The replaceable C++ `operator new` / `operator delete` (all 20 forms of the Itanium C++
//! ABI on a 64-bit target: plain, array, `nothrow`, sized, `align_val_t` and their
//! combinations), so that a C++ program's allocations reach hz3 without the
//! `operator new → malloc` hop of the C++ runtime, and C++14 sized delete takes hz3's sized
//! free (the block's size class from the size, as jemalloc's `sdallocx`; the checked build
//! verifies it).
//!
//! **Failure, the new-handler and `std::bad_alloc`, without a C++ runtime dependency.** The
//! library links no C++ runtime (a C program preloading it must not load `libstdc++`). A
//! throwing `operator new` that cannot allocate does what the standard says: it asks the C++
//! runtime for the current new-handler (`std::get_new_handler`, looked up with `dlsym` by its
//! mangled name the first time an allocation fails), calls it and tries again while there is
//! one; with none it throws `std::bad_alloc` by calling the runtime's own thrower
//! (`std::__throw_bad_alloc`, libstdc++, or libc++'s `std::__1::__throw_bad_alloc`). The
//! exception (from the thrower or from a new-handler) must unwind through `operator new`'s
//! frame: hz3 is built with `panic = "abort"`, where a foreign exception may not unwind
//! through a Rust frame, so the throwing forms are naked functions written in assembly with
//! their own unwind information (`.cfi_*`), which call into Rust only for the allocation,
//! the handler lookup and the thrower lookup, none of which unwinds (x86-64; on other
//! architectures the throwing forms abort with a fixed message when allocation fails). If no
//! thrower exists (no C++ runtime in the process) the process aborts with a fixed message.
//!
//! The `nothrow` forms allocate directly and, only on failure, call the C++ runtime's own
//! `nothrow` operator (`dlsym(RTLD_NEXT)`), which calls the global throwing operator (this
//! one: the new-handler loop) inside `try`/`catch` and returns null — the standard's
//! behaviour, with the `catch` in the runtime's frame, never in ours. Without a C++ runtime
//! they return null.
//!
//! **A program that replaces some of the operators itself.** If, when the library is
//! initialised, any of the 20 symbols resolves to another object (the executable or a library
//! searched before hz3 defines its own `operator new` or `delete`), every form here forwards
//! to the C++ runtime's definition of the same form (`dlsym(RTLD_NEXT)`), whose defaults call
//! the program's replacements as the standard specifies (e.g. sized delete calls the
//! replaced unsized delete). So a program's own `operator new` is never paired with hz3's
//! sized delete.

use crate::{CAlloc, MIN_ALIGN};
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The mangled names, in the order of `FWD`.
pub const NAMES: [&str; 20] = [
    "_Znwm\0",
    "_Znam\0",
    "_ZnwmRKSt9nothrow_t\0",
    "_ZnamRKSt9nothrow_t\0",
    "_ZnwmSt11align_val_t\0",
    "_ZnamSt11align_val_t\0",
    "_ZnwmSt11align_val_tRKSt9nothrow_t\0",
    "_ZnamSt11align_val_tRKSt9nothrow_t\0",
    "_ZdlPv\0",
    "_ZdaPv\0",
    "_ZdlPvRKSt9nothrow_t\0",
    "_ZdaPvRKSt9nothrow_t\0",
    "_ZdlPvm\0",
    "_ZdaPvm\0",
    "_ZdlPvSt11align_val_t\0",
    "_ZdaPvSt11align_val_t\0",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t\0",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t\0",
    "_ZdlPvmSt11align_val_t\0",
    "_ZdaPvmSt11align_val_t\0",
];

const NEW: usize = 0;
const NEW_A: usize = 1;
const NEW_NT: usize = 2;
const NEW_A_NT: usize = 3;
const NEW_AL: usize = 4;
const NEW_A_AL: usize = 5;
const NEW_AL_NT: usize = 6;
const NEW_A_AL_NT: usize = 7;
const DEL: usize = 8;
const DEL_A: usize = 9;
const DEL_NT: usize = 10;
const DEL_A_NT: usize = 11;
const DEL_SZ: usize = 12;
const DEL_A_SZ: usize = 13;
const DEL_AL: usize = 14;
const DEL_A_AL: usize = 15;
const DEL_AL_NT: usize = 16;
const DEL_A_AL_NT: usize = 17;
const DEL_SZ_AL: usize = 18;
const DEL_A_SZ_AL: usize = 19;

/// Per form: 0 (hz3 serves it), or the C++ runtime's definition to forward to (set once, at
/// load time, when the program replaces operators itself).
static FWD: [AtomicUsize; 20] = [const { AtomicUsize::new(0) }; 20];

#[inline(always)]
fn fwd(i: usize) -> usize {
    FWD[i].load(Ordering::Relaxed)
}

/// The alignment an `align_val_t` form uses: at least `malloc`'s; a value that is not a power
/// of two (undefined behaviour in C++) is rounded up; `None` if that overflows.
#[inline(always)]
fn norm_align(al: usize) -> Option<usize> {
    let a = al.max(MIN_ALIGN);
    if a.is_power_of_two() {
        Some(a)
    } else {
        a.checked_next_power_of_two()
    }
}

/// One allocation attempt of the throwing plain forms (null on failure). Never unwinds.
extern "C" fn try_new(size: usize) -> *mut c_void {
    CAlloc::alloc_raw(size, MIN_ALIGN).cast()
}

/// One allocation attempt of the throwing aligned forms (null on failure). Never unwinds.
extern "C" fn try_new_aligned(size: usize, al: usize) -> *mut c_void {
    match norm_align(al) {
        Some(a) if a <= isize::MAX as usize / 2 => CAlloc::alloc_raw(size, a).cast(),
        _ => core::ptr::null_mut(),
    }
}

/// `dlsym(handle, name)` as an address (0 if absent). `name` ends with a NUL.
fn lookup(handle: *mut c_void, name: &str) -> usize {
    debug_assert!(name.ends_with('\0'));
    // SAFETY: `name` is NUL-terminated; dlsym has no other precondition.
    unsafe { libc::dlsym(handle, name.as_ptr().cast()) as usize }
}

/// The current new-handler (`std::get_new_handler()`), or 0 (none, or no C++ runtime).
/// Never unwinds (`get_new_handler` is `noexcept`).
extern "C" fn new_handler() -> usize {
    static GET: AtomicUsize = AtomicUsize::new(0);
    let mut g = GET.load(Ordering::Relaxed);
    if g == 0 {
        g = lookup(libc::RTLD_DEFAULT, "_ZSt15get_new_handlerv\0");
        if g == 0 {
            return 0;
        }
        GET.store(g, Ordering::Relaxed);
    }
    // SAFETY: `g` is `std::get_new_handler`, a `noexcept` function without arguments that
    // returns a function pointer (C ABI compatible).
    let get: extern "C" fn() -> usize = unsafe { core::mem::transmute(g) };
    get()
}

/// The C++ runtime's function that throws `std::bad_alloc`. Aborts with a fixed message when
/// the process has none (nothing could catch the exception anyway). Never unwinds.
extern "C" fn bad_alloc_thrower() -> usize {
    for name in [
        "_ZSt17__throw_bad_allocv\0",
        "_ZNSt3__117__throw_bad_allocEv\0",
    ] {
        let t = lookup(libc::RTLD_DEFAULT, name);
        if t != 0 {
            return t;
        }
    }
    fatal_oom()
}

/// The fixed message of an `operator new` that can neither allocate nor throw.
#[cold]
fn fatal_oom() -> ! {
    const MSG: &[u8] =
        b"hz3: fatal: operator new: out of memory and std::bad_alloc cannot be thrown\n";
    // SAFETY: a valid buffer; write(2) and abort have no other precondition.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::abort()
    }
}

/// The C++ runtime's own definition of form `i` (`dlsym(RTLD_NEXT)`: the next object after
/// hz3 that defines it), or 0.
fn runtime_form(i: usize) -> usize {
    lookup(libc::RTLD_NEXT, NAMES[i])
}

/// Decides, once at load time, whether hz3 serves the C++ operators or forwards them (see the
/// module documentation). Allocates nothing: the lookups find at least hz3's own symbols.
pub fn init() {
    let mine = object_of(try_new as *const () as usize);
    if mine == 0 {
        return;
    }
    let replaced = NAMES.iter().any(|n| {
        let g = lookup(libc::RTLD_DEFAULT, n);
        g != 0 && object_of(g) != mine
    });
    if !replaced {
        return;
    }
    for (i, slot) in FWD.iter().enumerate() {
        let next = runtime_form(i);
        if next != 0 && object_of(next) != mine {
            slot.store(next, Ordering::Relaxed);
        }
    }
}

/// The load address of the object that contains address `a` (0 if none).
fn object_of(a: usize) -> usize {
    // SAFETY: an all-zero Dl_info is valid (null pointers); dladdr fills it.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: any address may be asked about; `info` is a valid out pointer.
    if unsafe { libc::dladdr(a as *const c_void, &mut info) } == 0 {
        return 0;
    }
    info.dli_fbase as usize
}

extern "C" fn init_at_load() {
    init();
}

/// Runs [`init`] when the library is loaded (preloaded or linked).
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init_at_load;

// ---------------------------------------------------------------------------------------------
// The throwing forms.
// ---------------------------------------------------------------------------------------------

/// A throwing form with one argument (`size`): forward if asked to; else loop { try; get the
/// new-handler; none → throw; call it } with unwind information for every instruction, so an
/// exception from the handler or the thrower passes through to the caller.
#[cfg(target_arch = "x86_64")]
macro_rules! throwing_new {
    ($(#[$m:meta])* $name:ident, $idx:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator (the result is released with the matching
        /// `operator delete`).
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name(size: usize) -> *mut c_void {
            // SAFETY: SysV x86-64: `size` in rdi; rbx is saved and restored; the stack is
            // 16-aligned at each call (entry rsp = 8 mod 16, one push); the CFI directives
            // describe the frame at every instruction so the unwinder can pass through it.
            core::arch::naked_asm!(
                ".cfi_startproc",
                "mov rax, qword ptr [rip + {fwd} + {off}]",
                "test rax, rax",
                "jnz 5f",
                "push rbx",
                ".cfi_def_cfa_offset 16",
                ".cfi_offset rbx, -16",
                "mov rbx, rdi",
                "2:",
                "mov rdi, rbx",
                "call {try_new}",
                "test rax, rax",
                "jz 3f",
                ".cfi_remember_state",
                "pop rbx",
                ".cfi_def_cfa_offset 8",
                ".cfi_restore rbx",
                "ret",
                "3:",
                ".cfi_restore_state",
                "call {handler}",
                "test rax, rax",
                "jz 4f",
                "call rax",
                "jmp 2b",
                "4:",
                "call {thrower}",
                "call rax",
                "ud2",
                "5:",
                "jmp rax",
                ".cfi_endproc",
                fwd = sym FWD,
                off = const $idx * 8,
                try_new = sym try_new,
                handler = sym new_handler,
                thrower = sym bad_alloc_thrower,
            )
        }
    };
}

/// A throwing form with `(size, align)`; as [`throwing_new`].
#[cfg(target_arch = "x86_64")]
macro_rules! throwing_new_aligned {
    ($(#[$m:meta])* $name:ident, $idx:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator (the result is released with the matching
        /// `operator delete`).
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name(size: usize, align: usize) -> *mut c_void {
            // SAFETY: SysV x86-64: `size` in rdi, `align` in rsi; rbx and r12 are saved and
            // restored; 16-byte stack alignment at each call (two pushes and 8 bytes); the
            // CFI directives describe the frame at every instruction.
            core::arch::naked_asm!(
                ".cfi_startproc",
                "mov rax, qword ptr [rip + {fwd} + {off}]",
                "test rax, rax",
                "jnz 5f",
                "push rbx",
                ".cfi_def_cfa_offset 16",
                ".cfi_offset rbx, -16",
                "push r12",
                ".cfi_def_cfa_offset 24",
                ".cfi_offset r12, -24",
                "sub rsp, 8",
                ".cfi_def_cfa_offset 32",
                "mov rbx, rdi",
                "mov r12, rsi",
                "2:",
                "mov rdi, rbx",
                "mov rsi, r12",
                "call {try_new}",
                "test rax, rax",
                "jz 3f",
                ".cfi_remember_state",
                "add rsp, 8",
                ".cfi_def_cfa_offset 24",
                "pop r12",
                ".cfi_def_cfa_offset 16",
                ".cfi_restore r12",
                "pop rbx",
                ".cfi_def_cfa_offset 8",
                ".cfi_restore rbx",
                "ret",
                "3:",
                ".cfi_restore_state",
                "call {handler}",
                "test rax, rax",
                "jz 4f",
                "call rax",
                "jmp 2b",
                "4:",
                "call {thrower}",
                "call rax",
                "ud2",
                "5:",
                "jmp rax",
                ".cfi_endproc",
                fwd = sym FWD,
                off = const $idx * 8,
                try_new = sym try_new_aligned,
                handler = sym new_handler,
                thrower = sym bad_alloc_thrower,
            )
        }
    };
}

/// Elsewhere the throwing forms cannot let an exception pass (see the module documentation):
/// they abort with a fixed message when allocation fails.
#[cfg(not(target_arch = "x86_64"))]
macro_rules! throwing_new {
    ($(#[$m:meta])* $name:ident, $idx:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator.
        #[no_mangle]
        pub unsafe extern "C" fn $name(size: usize) -> *mut c_void {
            let f = fwd($idx);
            if f != 0 {
                // SAFETY: the C++ runtime's definition of this very form.
                let f: unsafe extern "C" fn(usize) -> *mut c_void = unsafe { core::mem::transmute(f) };
                // SAFETY: forwarded contract.
                return unsafe { f(size) };
            }
            let p = try_new(size);
            if p.is_null() {
                fatal_oom();
            }
            p
        }
    };
}

#[cfg(not(target_arch = "x86_64"))]
macro_rules! throwing_new_aligned {
    ($(#[$m:meta])* $name:ident, $idx:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator.
        #[no_mangle]
        pub unsafe extern "C" fn $name(size: usize, align: usize) -> *mut c_void {
            let f = fwd($idx);
            if f != 0 {
                // SAFETY: the C++ runtime's definition of this very form.
                let f: unsafe extern "C" fn(usize, usize) -> *mut c_void = unsafe { core::mem::transmute(f) };
                // SAFETY: forwarded contract.
                return unsafe { f(size, align) };
            }
            let p = try_new_aligned(size, align);
            if p.is_null() {
                fatal_oom();
            }
            p
        }
    };
}

throwing_new!(
    /// `operator new(size_t)`.
    _Znwm, NEW
);
throwing_new!(
    /// `operator new[](size_t)`.
    _Znam, NEW_A
);
throwing_new_aligned!(
    /// `operator new(size_t, align_val_t)`.
    _ZnwmSt11align_val_t, NEW_AL
);
throwing_new_aligned!(
    /// `operator new[](size_t, align_val_t)`.
    _ZnamSt11align_val_t, NEW_A_AL
);

// ---------------------------------------------------------------------------------------------
// The nothrow forms.
// ---------------------------------------------------------------------------------------------

/// The failure (or forwarding) path of a `nothrow` form with `(size, nothrow)`: the C++
/// runtime's own definition, which runs the new-handler loop through the global throwing
/// operator and catches in its own frame. Null without a C++ runtime.
#[cold]
#[inline(never)]
unsafe fn nothrow_runtime(i: usize, size: usize, nt: *const c_void) -> *mut c_void {
    let f = match fwd(i) {
        0 => runtime_form(i),
        f => f,
    };
    if f == 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: `f` is the runtime's definition of form `i`: `void *(size_t, const nothrow_t &)
    // noexcept`.
    let f: unsafe extern "C" fn(usize, *const c_void) -> *mut c_void =
        unsafe { core::mem::transmute(f) };
    // SAFETY: the caller's arguments, unchanged.
    unsafe { f(size, nt) }
}

/// As [`nothrow_runtime`] for `(size, align, nothrow)`.
#[cold]
#[inline(never)]
unsafe fn nothrow_aligned_runtime(
    i: usize,
    size: usize,
    al: usize,
    nt: *const c_void,
) -> *mut c_void {
    let f = match fwd(i) {
        0 => runtime_form(i),
        f => f,
    };
    if f == 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: `f` is the runtime's definition of form `i`:
    // `void *(size_t, align_val_t, const nothrow_t &) noexcept`.
    let f: unsafe extern "C" fn(usize, usize, *const c_void) -> *mut c_void =
        unsafe { core::mem::transmute(f) };
    // SAFETY: the caller's arguments, unchanged.
    unsafe { f(size, al, nt) }
}

macro_rules! nothrow_new {
    ($(#[$m:meta])* $name:ident, $idx:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator.
        #[no_mangle]
        pub unsafe extern "C" fn $name(size: usize, nt: *const c_void) -> *mut c_void {
            if fwd($idx) == 0 {
                let p = CAlloc::alloc_raw(size, MIN_ALIGN);
                if !p.is_null() {
                    return p.cast();
                }
            }
            // SAFETY: forwarded arguments.
            unsafe { nothrow_runtime($idx, size, nt) }
        }
    };
}

macro_rules! nothrow_new_aligned {
    ($(#[$m:meta])* $name:ident, $idx:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator.
        #[no_mangle]
        pub unsafe extern "C" fn $name(size: usize, align: usize, nt: *const c_void) -> *mut c_void {
            if fwd($idx) == 0 {
                let p = try_new_aligned(size, align);
                if !p.is_null() {
                    return p;
                }
            }
            // SAFETY: forwarded arguments.
            unsafe { nothrow_aligned_runtime($idx, size, align, nt) }
        }
    };
}

nothrow_new!(
    /// `operator new(size_t, const nothrow_t &)`.
    _ZnwmRKSt9nothrow_t, NEW_NT
);
nothrow_new!(
    /// `operator new[](size_t, const nothrow_t &)`.
    _ZnamRKSt9nothrow_t, NEW_A_NT
);
nothrow_new_aligned!(
    /// `operator new(size_t, align_val_t, const nothrow_t &)`.
    _ZnwmSt11align_val_tRKSt9nothrow_t, NEW_AL_NT
);
nothrow_new_aligned!(
    /// `operator new[](size_t, align_val_t, const nothrow_t &)`.
    _ZnamSt11align_val_tRKSt9nothrow_t, NEW_A_AL_NT
);

// ---------------------------------------------------------------------------------------------
// The delete forms.
// ---------------------------------------------------------------------------------------------

/// Frees `p` with its size (and alignment): hz3's sized free (`GlobalAlloc::dealloc`, the
/// layout's size class; validated in the checked build). A size/alignment pair no layout can
/// describe takes the unsized free.
///
/// # Safety
/// `p` is null or a live block from the `operator new` form matching `align` (`MIN_ALIGN` for
/// the unaligned forms), allocated with `size` bytes.
#[inline(always)]
unsafe fn free_sized(p: *mut c_void, size: usize, align: usize) {
    if p.is_null() {
        return;
    }
    match Layout::from_size_align(size, align) {
        // SAFETY: the C++ contract: `p` was allocated by `alloc_raw(size, align)` (the forms
        // above), which is `alloc` with this layout.
        Ok(l) => unsafe { CAlloc::new().dealloc(p.cast(), l) },
        // SAFETY: as above; the unsized free needs no layout.
        Err(_) => unsafe { CAlloc::free_raw(p.cast()) },
    }
}

/// Calls the forwarded definition `f` of a delete form with its arguments.
///
/// # Safety
/// `f` is the C++ runtime's definition of a delete form taking `p` and up to two integer or
/// pointer arguments, passed as `a`, `b` (0 for those the form does not have).
#[cold]
#[inline(never)]
unsafe fn forward_delete(f: usize, p: *mut c_void, a: usize, b: usize) {
    // SAFETY: per the contract: the SysV and AAPCS64 ABIs pass these in registers and a
    // callee ignores the ones it does not declare.
    let f: unsafe extern "C" fn(*mut c_void, usize, usize) = unsafe { core::mem::transmute(f) };
    // SAFETY: forwarded arguments.
    unsafe { f(p, a, b) }
}

macro_rules! delete_form {
    ($(#[$m:meta])* $name:ident, $idx:expr, ($($arg:ident : $t:ty),*), fwd($fa:expr, $fb:expr) => |$p:ident| $body:expr) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The C++ contract of the operator: `p` is null or a live block from the matching
        /// `operator new`.
        #[no_mangle]
        pub unsafe extern "C" fn $name($p: *mut c_void $(, $arg: $t)*) {
            let f = fwd($idx);
            if f != 0 {
                // SAFETY: the runtime's definition of this form, with its arguments.
                return unsafe { forward_delete(f, $p, $fa, $fb) };
            }
            // SAFETY: the C++ contract, forwarded.
            unsafe { $body }
        }
    };
}

delete_form!(
    /// `operator delete(void *)`.
    _ZdlPv, DEL, (), fwd(0, 0) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete[](void *)`.
    _ZdaPv, DEL_A, (), fwd(0, 0) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete(void *, const nothrow_t &)`.
    _ZdlPvRKSt9nothrow_t, DEL_NT, (nt: *const c_void), fwd(nt as usize, 0) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete[](void *, const nothrow_t &)`.
    _ZdaPvRKSt9nothrow_t, DEL_A_NT, (nt: *const c_void), fwd(nt as usize, 0) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete(void *, size_t)`: the sized free.
    _ZdlPvm, DEL_SZ, (size: usize), fwd(size, 0) => |p| free_sized(p, size, MIN_ALIGN)
);
delete_form!(
    /// `operator delete[](void *, size_t)`: the sized free.
    _ZdaPvm, DEL_A_SZ, (size: usize), fwd(size, 0) => |p| free_sized(p, size, MIN_ALIGN)
);
delete_form!(
    /// `operator delete(void *, align_val_t)`.
    _ZdlPvSt11align_val_t, DEL_AL, (al: usize), fwd(al, 0) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete[](void *, align_val_t)`.
    _ZdaPvSt11align_val_t, DEL_A_AL, (al: usize), fwd(al, 0) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete(void *, align_val_t, const nothrow_t &)`.
    _ZdlPvSt11align_val_tRKSt9nothrow_t, DEL_AL_NT, (al: usize, nt: *const c_void),
    fwd(al, nt as usize) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete[](void *, align_val_t, const nothrow_t &)`.
    _ZdaPvSt11align_val_tRKSt9nothrow_t, DEL_A_AL_NT, (al: usize, nt: *const c_void),
    fwd(al, nt as usize) => |p| crate::c_free(p)
);
delete_form!(
    /// `operator delete(void *, size_t, align_val_t)`: the sized free.
    _ZdlPvmSt11align_val_t, DEL_SZ_AL, (size: usize, al: usize), fwd(size, al) => |p| match norm_align(al) {
        Some(a) => free_sized(p, size, a),
        None => crate::c_free(p),
    }
);
delete_form!(
    /// `operator delete[](void *, size_t, align_val_t)`: the sized free.
    _ZdaPvmSt11align_val_t, DEL_A_SZ_AL, (size: usize, al: usize), fwd(size, al) => |p| match norm_align(al) {
        Some(a) => free_sized(p, size, a),
        None => crate::c_free(p),
    }
);
