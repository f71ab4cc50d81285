/*
 * supervisor_shim.h: the contract between the managed runtime and supervisor-shim.
 *
 * The values in this header are an ABI shared with C# (src/Supervisor.Linux/Shim/ShimAbi.cs). They are
 * fixed: never renumber a tag, step or message; add new ones at the end and bump SHIM_ABI_VERSION when
 * the meaning of an existing field changes. Both sides check SHIM_ABI_VERSION on every request.
 *
 * Process model
 * -------------
 * The runtime starts `supervisor-shim <control-fd>` with the container's stdio as fds 0-2 and the
 * preserved fds (--preserve-fds N) as 3..3+N-1. <control-fd> is one end of an AF_UNIX SOCK_STREAM
 * socketpair; every message on it is a shim_msg_header followed by `length` payload bytes.
 *
 *   runtime ──REQUEST──▶ shim                       the flat request built and validated in C#
 *           ◀──CHILD(pid)──                         the container process exists and is blocked
 *   (runtime joins cgroups, writes uid/gid maps, runs prestart/createRuntime hooks)
 *           ──GO──▶                                 the child runs its setup steps
 *           ◀──READY(pid) or ERROR──                init mode: setup done, blocked before execve
 *           ──START──▶                              (or later, over <state-dir>/shim.sock)
 *           ◀──EXECED(pid) or ERROR──               execve happened (EOF on a close-on-exec socket)
 *           ◀──EXITED(pid, wait status)──           the process ended (the shim stays its parent)
 *
 * In exec mode there is no READY/START: after GO the child sets itself up and calls execve at once.
 * With SHIM_F_TERMINAL a PTY message carrying the pty master (SCM_RIGHTS) precedes READY/EXECED.
 *
 * The shim is the parent and child subreaper of the container: it reaps the init and any orphans,
 * writes <state-dir>/exit.json atomically when the init exits (init mode), and exits with the init's
 * exit code (128+signal when killed) once it has no children left. If the control socket reaches EOF
 * before GO, or ABORT arrives before START, the shim kills the child and exits 255.
 *
 * Restore mode (SHIM_MODE_RESTORE) puts a restored container under a shim. The request's args/env are
 * those of CRIU's RPC service (`criu swrk 3`), the one preserved fd is its socket; the runtime keeps
 * the other end and drives the restore itself. The shim runs criu as its child, so the restored init
 * becomes the shim's child too (CRIU's rst_sibling) or, failing that, its orphan as the subreaper:
 *
 *   runtime ──REQUEST──▶ shim
 *           ◀──CHILD(criu pid)──                    criu runs (execve succeeded) and waits for its request
 *   (runtime moves criu into the cgroups, runs the RPC; criu restores the tree and exits)
 *           ◀──HELPER_EXITED(criu pid, status)──
 *           ──ADOPT(init pid)──▶                    the pid CRIU reported (post-restore)
 *           ◀──EXECED(pid) or ERROR──               the shim accepts only its own child (or one it reaped)
 *           ◀──EXITED(pid, wait status)──           exit.json and exit code exactly as in init mode
 *
 * ABORT or EOF before ADOPT kills criu and every child of the shim; the shim exits 255. There is no
 * shim.sock in restore mode: a restored container is running, and shim.sock only serves START.
 */
#ifndef SUPERVISOR_SHIM_H
#define SUPERVISOR_SHIM_H

#include <stdint.h>

#define SHIM_ABI_VERSION 2
#define SHIM_REQUEST_MAGIC 0x56505553u /* "SUPV" little-endian */
#define SHIM_MAX_REQUEST (8u * 1024u * 1024u)
#define SHIM_ERROR_DETAIL 512

/* ---- control socket messages ---------------------------------------------------------------- */

struct shim_msg_header {
    uint32_t type;   /* enum shim_msg */
    uint32_t length; /* payload bytes that follow */
};

enum shim_msg {
    /* runtime -> shim */
    SHIM_MSG_REQUEST = 1, /* payload: the request blob below */
    SHIM_MSG_GO = 2,      /* no payload: parent-side work is done */
    SHIM_MSG_START = 3,   /* no payload: init mode, let the init execve */
    SHIM_MSG_ABORT = 4,   /* no payload: kill the child and exit */
    SHIM_MSG_ADOPT = 5,   /* payload: struct shim_pid_msg; restore mode: the restored init to monitor */

    /* shim -> runtime */
    SHIM_MSG_CHILD = 16,  /* payload: struct shim_pid_msg; the child is blocked waiting for GO */
    SHIM_MSG_READY = 17,  /* payload: struct shim_pid_msg; init is set up and waits for START */
    SHIM_MSG_EXECED = 18, /* payload: struct shim_pid_msg; execve succeeded */
    SHIM_MSG_ERROR = 19,  /* payload: struct shim_error; the child failed and is gone */
    SHIM_MSG_EXITED = 20, /* payload: struct shim_exit_msg */
    SHIM_MSG_PTY = 21,    /* payload: struct shim_pid_msg; the pty master arrives as SCM_RIGHTS */
    SHIM_MSG_HELPER_EXITED = 22, /* payload: struct shim_exit_msg; restore mode: criu ended */
};

struct shim_pid_msg {
    int32_t pid; /* host pid of the container process */
};

struct shim_exit_msg {
    int32_t pid;
    int32_t wait_status; /* raw status from waitpid: WIFEXITED/WIFSIGNALED decode it */
};

/* A failure in the shim or its child, reported once. errnum is 0 when the failure has no errno. */
struct shim_error {
    int32_t step;   /* enum shim_step */
    int32_t errnum; /* errno value */
    char detail[SHIM_ERROR_DETAIL]; /* NUL-terminated: usually the path or value involved */
};

enum shim_step {
    SHIM_STEP_NONE = 0,
    SHIM_STEP_READ_REQUEST = 1,
    SHIM_STEP_PARSE_REQUEST = 2,
    SHIM_STEP_FORK = 3,
    SHIM_STEP_SETNS = 4,
    SHIM_STEP_CLONE = 5,
    SHIM_STEP_SYNC = 6,
    SHIM_STEP_SETSID = 7,
    SHIM_STEP_SET_IDS_IN_USERNS = 8,
    SHIM_STEP_UNSHARE_CGROUP = 9,
    SHIM_STEP_LOOPBACK = 10,
    SHIM_STEP_ROOT_PROPAGATION = 11,
    SHIM_STEP_ROOTFS_BIND = 12,
    SHIM_STEP_MOUNT = 13,
    SHIM_STEP_MOUNT_TARGET = 14,
    SHIM_STEP_DEVICE = 15,
    SHIM_STEP_SYMLINK = 16,
    SHIM_STEP_CONSOLE = 17,
    SHIM_STEP_PIVOT_ROOT = 18,
    SHIM_STEP_MASK_PATH = 19,
    SHIM_STEP_READONLY_PATH = 20,
    SHIM_STEP_READONLY_ROOT = 21,
    SHIM_STEP_HOSTNAME = 22,
    SHIM_STEP_DOMAINNAME = 23,
    SHIM_STEP_SYSCTL = 24,
    SHIM_STEP_RLIMIT = 25,
    SHIM_STEP_OOM_SCORE_ADJ = 26,
    SHIM_STEP_SETGROUPS = 27,
    SHIM_STEP_SETGID = 28,
    SHIM_STEP_SETUID = 29,
    SHIM_STEP_CAPS = 30,
    SHIM_STEP_NO_NEW_PRIVS = 31,
    SHIM_STEP_SECCOMP = 32,
    SHIM_STEP_CHDIR = 33,
    SHIM_STEP_CLOSE_FDS = 34,
    SHIM_STEP_EXEC_LOOKUP = 35,
    SHIM_STEP_EXEC = 36,
    SHIM_STEP_WAIT_START = 37,
    SHIM_STEP_UMASK = 38,
    SHIM_STEP_PDEATHSIG = 39,
    SHIM_STEP_STATE_DIR = 40,
    SHIM_STEP_TTY = 41,
    SHIM_STEP_SEAL = 42,
};

/* ---- the request blob ------------------------------------------------------------------------ *
 * A header, then records. Every record starts 8-byte aligned: { u16 tag; u16 reserved; u32 len; }
 * followed by len payload bytes and zero padding up to the next multiple of 8. Integers are native
 * (little) endian. "str" is NUL-terminated UTF-8 (the NUL is counted in len). Unknown tags are an error.
 * Repeated records keep their order. */

struct shim_request_header {
    uint32_t magic;       /* SHIM_REQUEST_MAGIC */
    uint16_t abi_version; /* SHIM_ABI_VERSION */
    uint16_t mode;        /* enum shim_mode */
    uint32_t total_length; /* header + all records */
    uint32_t record_count;
};

enum shim_mode {
    SHIM_MODE_INIT = 1, /* create a container's init */
    SHIM_MODE_EXEC = 2, /* start a process inside an existing container */
    SHIM_MODE_RESTORE = 3, /* run criu swrk and monitor the init it restores */
};

struct shim_record_header {
    uint16_t tag;
    uint16_t reserved;
    uint32_t length;
};

enum shim_tag {
    SHIM_T_ARG = 1,        /* str, repeated: argv */
    SHIM_T_ENV = 2,        /* str, repeated: KEY=VALUE */
    SHIM_T_CWD = 3,        /* str */
    SHIM_T_ROOTFS = 4,     /* str: absolute host path of the rootfs (init) */
    SHIM_T_STATE_DIR = 5,  /* str: absolute host path of the state dir (exit.json, shim.sock) */
    SHIM_T_HOSTNAME = 6,   /* str */
    SHIM_T_DOMAINNAME = 7, /* str */
    SHIM_T_FLAGS = 8,      /* u64: SHIM_F_* */
    SHIM_T_NAMESPACE = 9,  /* struct shim_namespace + str path ("" = create new); repeated, in join order */
    SHIM_T_USER = 10,      /* struct shim_user + u32 gids[ngroups] */
    SHIM_T_CAPS = 11,      /* struct shim_caps; absent = leave capabilities alone */
    SHIM_T_RLIMIT = 12,    /* struct shim_rlimit, repeated */
    SHIM_T_OOM_SCORE_ADJ = 13, /* i32 */
    SHIM_T_SYSCTL = 14,    /* str key as a /proc/sys relative path ("net/ipv4/ip_forward") + str value */
    SHIM_T_MOUNT = 15,     /* struct shim_mount + str source + str dest + str fstype + str data; repeated, in order */
    SHIM_T_DEVICE = 16,    /* struct shim_device + str path; repeated */
    SHIM_T_SYMLINK = 17,   /* str target + str link path (inside the rootfs); repeated */
    SHIM_T_MASK_PATH = 18, /* str, repeated: absolute path inside the container */
    SHIM_T_READONLY_PATH = 19, /* str, repeated */
    SHIM_T_ROOT_PROPAGATION = 20, /* u64 MS_* flags for "/" (0 = MS_SLAVE|MS_REC) */
    SHIM_T_SECCOMP = 21,   /* struct shim_seccomp + struct sock_filter[count] */
    SHIM_T_PRESERVE_FDS = 22, /* u32: fds 3..3+n-1 are passed to the process */
    SHIM_T_PDEATHSIG = 23, /* i32 signal */
    SHIM_T_CONSOLE_SIZE = 24, /* struct shim_console_size */
    SHIM_T_MKDIR = 25,     /* struct shim_mkdir + str path: a directory to create inside the rootfs */
};

/* SHIM_T_FLAGS bits */
#define SHIM_F_NO_PIVOT (1ull << 0)        /* MS_MOVE + chroot instead of pivot_root */
#define SHIM_F_READONLY_ROOTFS (1ull << 1) /* remount / read-only after the root switch */
#define SHIM_F_NO_NEW_PRIVS (1ull << 2)    /* prctl(PR_SET_NO_NEW_PRIVS) before execve */
#define SHIM_F_WAIT_START (1ull << 3)      /* init: report READY and wait for START before execve */
#define SHIM_F_TERMINAL (1ull << 4)        /* allocate a pty inside the container, send its master */
#define SHIM_F_NEW_USERNS (1ull << 5)      /* set by C# when a user namespace is created: become 0:0 in it after GO */
#define SHIM_F_SETUP_ROOTFS (1ull << 6)    /* init with a new mount ns: do the rootfs steps */
#define SHIM_F_LOOPBACK_UP (1ull << 7)     /* a new net ns: bring lo up */
#define SHIM_F_NEW_CGROUPNS (1ull << 8)    /* unshare(CLONE_NEWCGROUP) after GO, once the cgroups are joined */
#define SHIM_F_DEV_BIND (1ull << 9)        /* devices are bind-mounted from the host instead of mknod (userns) */

struct shim_namespace {
    uint32_t clone_flag; /* CLONE_NEW* */
    uint32_t reserved;
    /* followed by str path */
};

struct shim_user {
    uint32_t uid;
    uint32_t gid;
    uint32_t umask;   /* SHIM_UMASK_UNSET to keep the default 0022 */
    uint32_t ngroups; /* supplementary gids that follow; 0 = setgroups(0, NULL) */
};
#define SHIM_UMASK_UNSET 0xffffffffu

struct shim_caps {
    uint64_t bounding;
    uint64_t effective;
    uint64_t permitted;
    uint64_t inheritable;
    uint64_t ambient;
};

struct shim_rlimit {
    uint32_t resource; /* RLIMIT_* */
    uint32_t reserved;
    uint64_t soft;
    uint64_t hard;
};

enum shim_mount_kind {
    SHIM_MOUNT_FS = 1,   /* mount(source, dest, fstype, flags, data), then propagation */
    SHIM_MOUNT_BIND = 2, /* bind source (a host path) onto dest, then remount with flags if needed */
};

struct shim_mount {
    uint32_t kind;         /* enum shim_mount_kind */
    uint32_t dest_is_file; /* create the destination as an empty file, not a directory */
    uint64_t flags;        /* MS_* */
    uint64_t clear_flags;  /* flags the remount of a bind must clear ("rw", "suid", ...) */
    uint64_t propagation[4]; /* up to four propagation changes, 0-terminated */
    /* followed by str source, str dest (inside the rootfs), str fstype, str data */
};

struct shim_device {
    uint32_t mode; /* S_IFCHR/S_IFBLK/S_IFIFO | permission bits */
    uint32_t uid;
    uint32_t gid;
    uint32_t reserved;
    uint64_t major;
    uint64_t minor;
    /* followed by str path (inside the container, e.g. /dev/null) */
};

struct shim_seccomp {
    uint32_t flags; /* SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER) */
    uint32_t count; /* number of struct sock_filter (8 bytes each) that follow */
};

struct shim_console_size {
    uint16_t rows;
    uint16_t cols;
    uint32_t reserved;
};

struct shim_mkdir {
    uint32_t mode;
    uint32_t reserved;
    /* followed by str path (inside the rootfs) */
};

/* exit.json, written atomically (temp file, fsync, rename, fsync dir) into the state dir:
 *   {"pid":123,"status":0,"exitCode":0,"signal":0,"finishedAt":"2026-11-28T15:00:00.123456789Z"}
 * status is the raw wait status; exitCode is the code, or 128+signal when signal is non-zero. */
#define SHIM_EXIT_FILE "exit.json"
#define SHIM_SOCKET_FILE "shim.sock"

#endif
