//! Gives back the code pages that setup touched: the monitor then keeps mapped only what its
//! loop runs. The shim is one static binary holding the runtime library; creating the container
//! happens in a forked helper, but the monitor's own start (argument parsing, protection,
//! sockets, records) still faults in code scattered over the binary, each fault mapping a
//! 64 KiB window around it. Re-executing into a monitor mode would drop those pages too; this
//! does it without handing every descriptor and state over an exec.

use std::os::unix::fs::MetadataExt;

/// Also called when the monitor goes idle after handling requests: the code of a request (a
/// fork, JSON, formatting) is not needed while the container just runs.
///
/// Drops our mappings of the binary's read-only segments that hold no written (anonymous)
/// page: text and rodata. Relocated segments (RELRO, data) are never touched.
pub fn drop_setup_pages() {
    let Ok(exe) = std::fs::metadata("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    // Parsed first and given back last: the code that runs after an madvise faults its pages
    // in again, so as little as possible comes after it (a fixed array: no free either).
    let mut ranges = [(0usize, 0usize); 8];
    let mut found = 0;
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some((range, rest)) = line.split_once(' ')
            && let Some((start, end)) = range.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            // A mapping header: "start-end perms offset dev inode path".
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ours = fields.get(3).and_then(|i| i.parse::<u64>().ok()) == Some(exe.ino());
            let read_only = fields
                .first()
                .is_some_and(|p| p.starts_with('r') && p.as_bytes().get(1) == Some(&b'-'));
            candidate = (ours && read_only).then_some((start, end));
        } else if let Some(kib) = line.strip_prefix("Anonymous:")
            && let Some(range) = candidate.take()
            && kib.trim() == "0 kB"
            && found < ranges.len()
        {
            ranges[found] = range;
            found += 1;
        }
    }
    drop(smaps);
    for &(start, end) in &ranges[..found] {
        // SAFETY: [start, end) is a private, read-only mapping of our own binary with no
        // anonymous page: MADV_DONTNEED only unmaps page-cache pages, and the next access
        // faults the same bytes back from the file.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}
