/*
 * shim.h: internal declarations shared by the supervisor-shim sources.
 *
 * Everything that runs in the forked children (C1, C2) uses only static storage and async-signal-safe
 * calls: the children are forked from the shim without exec, so malloc/stdio state may be inconsistent.
 */
#ifndef SHIM_INTERNAL_H
#define SHIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor_shim.h"

/* Internal message (C2 -> shim only, never on the control socket): C2 is about to call execve. EOF on
 * the close-on-exec sync socket after this marker means execve succeeded; EOF without it means C2 died
 * during setup. */
#define SHIM_MSG_INTERNAL_EXECING 100u

#define SHIM_MAX_ARGS 4096
#define SHIM_MAX_ENV 4096
#define SHIM_MAX_NS 16
#define SHIM_MAX_RLIMITS 64
#define SHIM_MAX_SYSCTLS 512
#define SHIM_MAX_OPS 2048
#define SHIM_MAX_PATHS 512

struct shim_op {
    uint16_t tag; /* SHIM_T_MOUNT, SHIM_T_MKDIR, SHIM_T_DEVICE or SHIM_T_SYMLINK */
    union {
        struct {
            struct shim_mount hdr;
            const char *source, *dest, *fstype, *data;
        } mount;
        struct {
            struct shim_device hdr;
            const char *path;
        } device;
        struct {
            const char *target, *link;
        } symlink;
        struct {
            uint32_t mode;
            const char *path;
        } mkdir;
    } u;
};

/* The parsed request. Strings and arrays point into the request buffer, which outlives it. */
struct shim_req {
    uint16_t mode;
    const char *args[SHIM_MAX_ARGS + 1];
    uint32_t nargs;
    const char *env[SHIM_MAX_ENV + 1];
    uint32_t nenv;
    const char *cwd, *rootfs, *state_dir, *hostname, *domainname;
    uint64_t flags;
    struct {
        uint32_t clone_flag;
        const char *path;
    } ns[SHIM_MAX_NS];
    uint32_t nns;
    int has_user;
    struct shim_user user;
    const uint32_t *gids;
    int has_caps;
    struct shim_caps caps;
    struct shim_rlimit rlimits[SHIM_MAX_RLIMITS];
    uint32_t nrlimits;
    int has_oom;
    int32_t oom_score_adj;
    struct {
        const char *key, *value;
    } sysctls[SHIM_MAX_SYSCTLS];
    uint32_t nsysctls;
    struct shim_op ops[SHIM_MAX_OPS];
    uint32_t nops;
    const char *mask[SHIM_MAX_PATHS];
    uint32_t nmask;
    const char *ro[SHIM_MAX_PATHS];
    uint32_t nro;
    uint64_t root_propagation;
    int has_seccomp;
    uint32_t seccomp_flags, seccomp_count;
    const void *seccomp_filter;
    uint32_t preserve_fds;
    int32_t pdeathsig;
    int has_console_size;
    struct shim_console_size console;
};

/* shim_request.c: returns 0, or -1 with a one-line reason in err. The buffer must be 8-byte aligned. */
int shim_parse_request(const void *buf, size_t len, struct shim_req *out, char *err, size_t errlen);

/* shim_io.c */
ssize_t shim_read_full(int fd, void *buf, size_t len); /* < len only at EOF; -1 on error */
int shim_write_all(int fd, const void *buf, size_t len);
/* Sends header + payload; passfd >= 0 is attached as SCM_RIGHTS. 0 or -1 (errno). */
int shim_send_msg(int fd, uint32_t type, const void *payload, uint32_t len, int passfd);
/* 1 = message, 0 = clean EOF before a header, -1 = error (errno; EPROTO for a truncated message or a
 * payload larger than cap). A received fd goes to *fd_out (else -1); extra fds are closed. */
int shim_recv_msg(int fd, struct shim_msg_header *h, void *payload, size_t cap, int *fd_out);

/* Error reporting. In the children, shim_fail writes one shim_error record on the report fd (a
 * socket to the shim) and _exit(1)s; in the shim it reports on the control socket and exits 255. */
extern int shim_report_fd;
extern int shim_in_child;
__attribute__((noreturn)) void shim_fail(int step, int err, const char *detail);
__attribute__((noreturn)) void shim_fail2(int step, int err, const char *a, const char *b);
__attribute__((noreturn)) void shim_fail_num(int step, int err, const char *what, long long value);

/* Small async-signal-safe string helpers. */
size_t shim_strlcpy(char *dst, const char *src, size_t cap);
size_t shim_strlcat(char *dst, const char *src, size_t cap);
char *shim_utoa(unsigned long long v, char *buf); /* buf >= 21 bytes; returns buf */
char *shim_fd_path(int fd, char *buf);             /* "/proc/self/fd/N"; buf >= 32 bytes */

/* shim_spawn.c: moves fd to a number >= min (close-on-exec), so it never collides with fds 0..min-1. */
int shim_raise_fd(int fd, int min);

/* shim_spawn.c: C1 + C2. Returns C2's pid; the sync socket end of the shim goes to *sync_fd. Fails
 * through shim_fail. */
pid_t shim_spawn(const struct shim_req *req, int control_fd, int *sync_fd);

/* shim_spawn.c: every signal back to its default disposition and an empty mask (survive execve). */
void shim_reset_signals(void);
/* shim_spawn.c: points fds 0-2 at /dev/null, so the shim never holds the container's stdio. */
void shim_stdio_to_dev_null(void);

/* shim_main.c: writes <state-dir>/exit.json atomically (nothing without a state dir). */
void shim_write_exit_file(pid_t pid, int status);

/* shim_restore.c: restore mode (see supervisor_shim.h). sfd is the SIGCHLD signalfd. Never returns. */
__attribute__((noreturn)) void shim_restore_main(const struct shim_req *req, int control_fd, int sfd);

/* shim_child.c: the C2 step sequence. Never returns. */
__attribute__((noreturn)) void shim_child_main(const struct shim_req *req, int sync_fd);

/* shim_rootfs.c */
int shim_open_in_root(int rootfd, const char *path, int oflags, uint64_t resolve_extra);
void shim_setup_rootfs(const struct shim_req *req, int *rootfd_out);
void shim_setup_console(const struct shim_req *req, int rootfd, int sync_fd, int init_mode);
void shim_switch_root(const struct shim_req *req, int *rootfd);
void shim_finish_rootfs(const struct shim_req *req, int rootfd);
void shim_write_sysctls(const struct shim_req *req, int rootfd);

/* shim_creds.c */
extern unsigned shim_cap_last_cap;
void shim_read_cap_last_cap(void);
void shim_set_rlimits(const struct shim_req *req);
void shim_set_oom_score_adj(const struct shim_req *req);
void shim_set_identity(const struct shim_req *req);
void shim_no_new_privs(void);
void shim_load_seccomp(const struct shim_req *req);

#endif
