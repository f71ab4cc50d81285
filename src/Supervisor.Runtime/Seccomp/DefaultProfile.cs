using System.Runtime.InteropServices;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Seccomp;

/// <summary>
/// The seccomp profile a container gets when its config has none: deny by default with EPERM, and allow
/// the system calls ordinary programs make. Equivalent in effect to Docker's default profile for a container
/// without extra capabilities; what it leaves out and why is listed in docs/seccomp.md.
/// </summary>
public static class DefaultProfile
{
    private const uint EPERM = 1;
    private const uint ENOSYS = 38;

    /// <summary>CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may create no namespace.</summary>
    public const ulong CloneNamespaceFlags = 0x7E020000;

    /// <summary>AF_ALG (kernel crypto sockets) and AF_VSOCK (host/guest sockets) are refused.</summary>
    public const ulong AfAlg = 38, AfVsock = 40;

    /// <summary>
    /// Allowed unconditionally on every architecture where the name exists; names of other architectures are
    /// skipped by the compiler on this one. Grouped by subsystem.
    /// </summary>
    public static readonly IReadOnlyList<string> AllowedSyscalls =
    [
        // Files and directories.
        "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat", "fchmodat2",
        "chown", "fchown", "fchownat", "lchown", "chown32", "fchown32", "lchown32",
        "close", "close_range", "creat", "open", "openat", "openat2", "dup", "dup2", "dup3",
        "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "syncfs", "sync", "sync_file_range",
        "sync_file_range2", "arm_sync_file_range", "fallocate", "ftruncate", "ftruncate64", "truncate",
        "truncate64", "getdents", "getdents64", "link", "linkat", "symlink", "symlinkat", "readlink",
        "readlinkat", "mkdir", "mkdirat", "mknod", "mknodat", "rename", "renameat", "renameat2", "rmdir",
        "unlink", "unlinkat", "lseek", "_llseek", "read", "readv", "pread64", "preadv", "preadv2", "write",
        "writev", "pwrite64", "pwritev", "pwritev2", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
        "copy_file_range", "readahead", "fadvise64", "fadvise64_64", "arm_fadvise64_64",
        "stat", "fstat", "lstat", "newfstatat", "stat64", "fstat64", "lstat64", "fstatat64", "statx",
        "statfs", "fstatfs", "statfs64", "fstatfs64", "umask", "utime", "utimes", "futimesat", "utimensat",
        "utimensat_time64", "ioctl", "name_to_handle_at",
        "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr",
        "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
        "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "fanotify_mark", "memfd_create", "pipe", "pipe2", "cachestat",
        // Asynchronous I/O (the old aio interface; io_uring is refused).
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64",
        // Polling and event notification.
        "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "timerfd_settime",
        "timerfd_gettime", "timerfd_settime64", "timerfd_gettime64",
        // Sockets (socket itself is filtered by family below).
        "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
        "getsockopt", "setsockopt", "shutdown", "sendto", "send", "sendmsg", "sendmmsg", "recvfrom", "recv",
        "recvmsg", "recvmmsg", "recvmmsg_time64", "socketcall",
        // Memory.
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
        "mlock2", "munlock", "mlockall", "munlockall", "membarrier", "remap_file_pages",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "get_mempolicy", "set_mempolicy", "mbind",
        // Signals.
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaction",
        "sigprocmask", "sigreturn", "sigpending", "sigsuspend", "sigaltstack", "signal", "kill", "tkill",
        "tgkill", "pause", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "restart_syscall",
        // Time (reading clocks and sleeping; setting them is refused).
        "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
        "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "alarm", "getitimer", "setitimer",
        "timer_create", "timer_settime", "timer_gettime", "timer_settime64", "timer_gettime64",
        "timer_getoverrun", "timer_delete", "times", "adjtimex", "clock_adjtime", "clock_adjtime64",
        // Processes and threads (clone is filtered by flags below; clone3 gets ENOSYS).
        "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
        "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
        "set_tid_address", "set_robust_list", "get_robust_list", "futex", "futex_time64", "futex_waitv",
        "rseq", "map_shadow_stack", "arch_prctl", "set_thread_area", "get_thread_area", "set_tls", "cacheflush", "breakpoint",
        "prctl", "capget", "capset", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
        "landlock_restrict_self", "uname", "sysinfo", "getcpu", "getrandom", "getrlimit", "ugetrlimit",
        "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
        "sched_getscheduler", "sched_setscheduler", "sched_getattr", "sched_setattr",
        "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "process_mrelease",
        // Credentials (the kernel checks CAP_SETUID/CAP_SETGID for changes).
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "getuid32",
        "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32", "setuid",
        "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
        "setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32",
        "setfsuid32", "setfsgid32",
        // System V and POSIX IPC (scoped by the container's IPC namespace).
        "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64",
        "semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
        "mq_timedreceive", "mq_timedsend_time64", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
        // chroot: the kernel requires CAP_SYS_CHROOT, which is the real gate (see docs/seccomp.md).
        "chroot",
    ];

    /// <summary>personality(2) values programs use: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE variants, query.</summary>
    public static readonly IReadOnlyList<ulong> AllowedPersonalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

    /// <summary>The architectures filtered alongside the native one (its 32-bit compat ABIs).</summary>
    public static IReadOnlyList<string> ArchitecturesFor(Architecture arch) => arch switch
    {
        Architecture.X64 => ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        Architecture.Arm64 => ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        Architecture.X86 => ["SCMP_ARCH_X86"],
        Architecture.Arm => ["SCMP_ARCH_ARM"],
        _ => [],
    };

    /// <summary>The default profile as an OCI linux.seccomp object, for the running architecture.</summary>
    public static SeccompConfig Create() => Create(RuntimeInformation.OSArchitecture);

    public static SeccompConfig Create(Architecture arch)
    {
        var syscalls = new List<SeccompSyscall>
        {
            new() { Names = AllowedSyscalls, Action = "SCMP_ACT_ALLOW" },
        };

        foreach (var persona in AllowedPersonalities)
        {
            syscalls.Add(new SeccompSyscall
            {
                Names = ["personality"],
                Action = "SCMP_ACT_ALLOW",
                Args = [new SeccompArg(0, persona, 0, "SCMP_CMP_EQ")],
            });
        }

        syscalls.Add(new SeccompSyscall
        {
            Names = ["clone"],
            Action = "SCMP_ACT_ALLOW",
            Args = [new SeccompArg(0, CloneNamespaceFlags, 0, "SCMP_CMP_MASKED_EQ")],
        });

        // clone3 passes its flags in a struct that seccomp cannot read, so it cannot be filtered by flag.
        // ENOSYS (not EPERM) makes glibc fall back to clone, whose flags are checked above.
        syscalls.Add(new SeccompSyscall { Names = ["clone3"], Action = "SCMP_ACT_ERRNO", ErrnoRet = ENOSYS });

        // socket(family, ...): every family below AF_ALG, AF_NFC (39) between the two refused ones, and
        // the families defined after AF_VSOCK up to AF_MCTP (45). Only LT and EQ are used, because
        // libseccomp compares all 64 bits on 64-bit ABIs while the kernel truncates the family to an int:
        // a GT/NE rule would let high garbage bits carry AF_VSOCK past the filter.
        syscalls.Add(SocketRule(new SeccompArg(0, AfAlg, 0, "SCMP_CMP_LT")));
        for (ulong family = AfAlg + 1; family <= 45; family++)
        {
            if (family != AfVsock)
            {
                syscalls.Add(SocketRule(new SeccompArg(0, family, 0, "SCMP_CMP_EQ")));
            }
        }

        return new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            DefaultErrnoRet = EPERM,
            Architectures = ArchitecturesFor(arch),
            Syscalls = syscalls,
        };
    }

    private static SeccompSyscall SocketRule(SeccompArg arg) =>
        new() { Names = ["socket"], Action = "SCMP_ACT_ALLOW", Args = [arg] };
}
