//! Tuning the C allocator (glibc malloc) for a proxy's allocation pattern.
//!
//! Every request allocates a few buffers the size of its body (the body read from the client, the upstream
//! connection's write buffer, the converted request) and frees them when it ends. With glibc's defaults, freed
//! memory at the top of a worker thread's arena is handed back to the kernel almost at once, so the next large
//! request faults every page back in, zeroed: for the 230 KB agent request of the benchmarks that was about a fifth
//! of the gateway's CPU (page faults plus `madvise`). Fixed thresholds keep request-sized buffers in the arenas for
//! reuse; memory still goes back to the kernel past [`TRIM_THRESHOLD`] of free space per arena, and idle memory is
//! unchanged (nothing is allocated up front). Both thresholds are set together: setting any malloc parameter turns
//! off glibc's dynamic mmap threshold, so the trim threshold alone would leave every body-sized buffer to its own
//! `mmap`/`munmap` (measured slower than the defaults).

/// Allocations below this come from the arenas (and are reused); larger ones get their own mapping.
pub const MMAP_THRESHOLD: usize = 4 << 20;

/// Free space at the top of an arena kept for later requests before it is returned to the kernel.
pub const TRIM_THRESHOLD: usize = 8 << 20;

/// Applies the thresholds, unless the operator tuned malloc through its environment variables (which then win).
pub fn tune() {
    let operator_tuned = std::env::var_os("GLIBC_TUNABLES")
        .is_some_and(|v| v.to_string_lossy().contains("glibc.malloc."))
        || std::env::vars_os().any(|(name, _)| name.to_string_lossy().starts_with("MALLOC_"));
    if !operator_tuned {
        apply();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    // SAFETY: mallopt only changes allocator parameters; it is called at startup, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}
