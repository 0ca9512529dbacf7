// SPDX-License-Identifier: GPL-2.0-only
//! Linux errno numbers (x86-64, `include/uapi/asm-generic/errno-base.h` and `errno.h`) that
//! the crate maps hypervisor errors to. Positive, as in C; the mapping functions return them
//! negated, the kernel's convention (`-EINVAL`).

/// `EPERM` (1).
pub const EPERM: i32 = 1;
/// `ENOENT` (2).
pub const ENOENT: i32 = 2;
/// `ESRCH` (3).
pub const ESRCH: i32 = 3;
/// `EINTR` (4).
pub const EINTR: i32 = 4;
/// `EIO` (5).
pub const EIO: i32 = 5;
/// `ENXIO` (6).
pub const ENXIO: i32 = 6;
/// `E2BIG` (7).
pub const E2BIG: i32 = 7;
/// `ENOEXEC` (8).
pub const ENOEXEC: i32 = 8;
/// `EBADF` (9).
pub const EBADF: i32 = 9;
/// `ECHILD` (10).
pub const ECHILD: i32 = 10;
/// `EAGAIN` (11).
pub const EAGAIN: i32 = 11;
/// `ENOMEM` (12).
pub const ENOMEM: i32 = 12;
/// `EACCES` (13).
pub const EACCES: i32 = 13;
/// `EFAULT` (14).
pub const EFAULT: i32 = 14;
/// `EBUSY` (16).
pub const EBUSY: i32 = 16;
/// `EEXIST` (17).
pub const EEXIST: i32 = 17;
/// `EXDEV` (18).
pub const EXDEV: i32 = 18;
/// `ENODEV` (19).
pub const ENODEV: i32 = 19;
/// `EINVAL` (22).
pub const EINVAL: i32 = 22;
/// `ENFILE` (23).
pub const ENFILE: i32 = 23;
/// `EMFILE` (24).
pub const EMFILE: i32 = 24;
/// `ENOSPC` (28).
pub const ENOSPC: i32 = 28;
/// `EMLINK` (31).
pub const EMLINK: i32 = 31;
/// `EDOM` (33).
pub const EDOM: i32 = 33;
/// `ERANGE` (34).
pub const ERANGE: i32 = 34;
/// `EDEADLK` (35).
pub const EDEADLK: i32 = 35;
/// `ENAMETOOLONG` (36).
pub const ENAMETOOLONG: i32 = 36;
/// `ENOLCK` (37).
pub const ENOLCK: i32 = 37;
/// `ENOSYS` (38).
pub const ENOSYS: i32 = 38;
/// `EBADRQC` (56).
pub const EBADRQC: i32 = 56;
/// `EBADSLT` (57).
pub const EBADSLT: i32 = 57;
/// `ENODATA` (61).
pub const ENODATA: i32 = 61;
/// `ETIME` (62).
pub const ETIME: i32 = 62;
/// `EBADMSG` (74).
pub const EBADMSG: i32 = 74;
/// `EOVERFLOW` (75).
pub const EOVERFLOW: i32 = 75;
/// `EILSEQ` (84).
pub const EILSEQ: i32 = 84;
/// `ERESTART` (85).
pub const ERESTART: i32 = 85;
/// `EUSERS` (87).
pub const EUSERS: i32 = 87;
/// `ENOTSOCK` (88).
pub const ENOTSOCK: i32 = 88;
/// `EMSGSIZE` (90).
pub const EMSGSIZE: i32 = 90;
/// `EOPNOTSUPP` (95).
pub const EOPNOTSUPP: i32 = 95;
/// `EADDRINUSE` (98).
pub const EADDRINUSE: i32 = 98;
/// `EADDRNOTAVAIL` (99).
pub const EADDRNOTAVAIL: i32 = 99;
/// `ENOBUFS` (105).
pub const ENOBUFS: i32 = 105;
/// `EISCONN` (106).
pub const EISCONN: i32 = 106;
/// `ENOTCONN` (107).
pub const ENOTCONN: i32 = 107;
/// `ESHUTDOWN` (108).
pub const ESHUTDOWN: i32 = 108;
/// `ETOOMANYREFS` (109).
pub const ETOOMANYREFS: i32 = 109;
/// `ETIMEDOUT` (110).
pub const ETIMEDOUT: i32 = 110;
