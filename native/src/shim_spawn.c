/*
 * shim_spawn.c: creating the container process in two stages.
 *
 * C1 is a plain fork of the shim. It joins the namespaces given by path (setns only affects the
 * caller, and for a pid namespace only its future children), then clones C2 with CLONE_PARENT so that
 * C2 is the shim's child, not C1's, and with the CLONE_NEW* flags of the namespaces to create. C1
 * reports C2's pid and exits; the shim reaps it. The shim itself never joins the container's
 * namespaces: it stays a host process that only holds host fds.
 *
 * CLONE_NEWCGROUP is deliberately not in the clone flags: a cgroup namespace takes the caller's cgroup
 * as its root, and C2 is only moved into the container's cgroups by the runtime after CHILD, so C2
 * unshares it after GO (SHIM_F_NEW_CGROUPNS).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

static int ns_fds[SHIM_MAX_NS];

/* Moves fd to a number >= min (close-on-exec) so it can never collide with fds 0..2+preserve_fds. */
int shim_raise_fd(int fd, int min)
{
    if (fd >= min)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, min);
    if (n < 0)
        shim_fail(SHIM_STEP_FORK, errno, "F_DUPFD_CLOEXEC");
    close(fd);
    return n;
}

/* The shim keeps no pipe to the caller's stdio: the container holds those, and a reader of the
 * container's output must see EOF when the container (not the shim) exits. */
void shim_stdio_to_dev_null(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

/* The signal mask and ignored dispositions survive execve. The shim blocks SIGCHLD (for its signalfd)
 * and ignores SIGPIPE, and whoever started the shim may have ignored more (glibc's internal signals
 * 32/33 included, which its wrappers refuse to touch), so every signal is reset with raw system calls. */
void shim_reset_signals(void)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } dfl = { .handler = SIG_DFL };
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty);
}

__attribute__((noreturn)) static void run_c1(const struct shim_req *req, int report, int sync_child,
                                             unsigned long clone_flags)
{
    shim_in_child = 1;
    shim_report_fd = report;

    shim_reset_signals();

    for (uint32_t i = 0; i < req->nns; i++) {
        if (ns_fds[i] < 0)
            continue;
        if (setns(ns_fds[i], (int)req->ns[i].clone_flag) < 0)
            shim_fail(SHIM_STEP_SETNS, errno, req->ns[i].path);
    }

    /* Rootless: the runtime writes C2's uid_map and gid_map as the same unprivileged user. A
     * non-dumpable process's /proc/<pid> files belong to root, so C2 must start dumpable or the maps
     * cannot be opened. C2 holds no host fd but its sync socket, lives in namespaces nobody else has
     * joined yet, and drops dumpability again as soon as GO arrives (shim_child_main). A privileged
     * runtime writes the maps with CAP_DAC_OVERRIDE, so C2 stays non-dumpable then. */
    int dumpable_child = (clone_flags & CLONE_NEWUSER) && geteuid() != 0;
    if (dumpable_child)
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    /* Fork-style raw clone (no new stack): the child continues here with a copy of our memory. The
     * glibc wrapper insists on a stack and fork() cannot take namespace flags. */
    long pid = syscall(SYS_clone, clone_flags | CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (pid != 0 && dumpable_child)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (pid < 0)
        shim_fail(SHIM_STEP_CLONE, errno, "clone");
    if (pid == 0) {
        close(report);
        shim_report_fd = sync_child;
        for (uint32_t i = 0; i < req->nns; i++)
            if (ns_fds[i] >= 0)
                close(ns_fds[i]);
        shim_child_main(req, sync_child);
    }
    struct shim_pid_msg pm = { .pid = (int32_t)pid };
    if (shim_send_msg(report, SHIM_MSG_CHILD, &pm, sizeof pm, -1) < 0) {
        kill((pid_t)pid, SIGKILL);
        _exit(1);
    }
    _exit(0);
}

pid_t shim_spawn(const struct shim_req *req, int control_fd, int *sync_out)
{
    int min = 3 + (int)req->preserve_fds;
    unsigned long clone_flags = 0;

    /* Open the namespace files here, in the shim, so that a bad path fails before anything forks. */
    for (uint32_t i = 0; i < req->nns; i++) {
        ns_fds[i] = -1;
        if (req->ns[i].path && req->ns[i].path[0]) {
            int fd = open(req->ns[i].path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                shim_fail(SHIM_STEP_SETNS, errno, req->ns[i].path);
            ns_fds[i] = shim_raise_fd(fd, min);
        } else if (req->mode == SHIM_MODE_INIT && req->ns[i].clone_flag != CLONE_NEWCGROUP) {
            clone_flags |= req->ns[i].clone_flag;
        }
    }

    int rep[2], sy[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rep) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sy) < 0)
        shim_fail(SHIM_STEP_FORK, errno, "socketpair");
    for (int i = 0; i < 2; i++) {
        rep[i] = shim_raise_fd(rep[i], min);
        sy[i] = shim_raise_fd(sy[i], min);
    }

    pid_t c1 = fork();
    if (c1 < 0)
        shim_fail(SHIM_STEP_FORK, errno, "fork");
    if (c1 == 0) {
        close(rep[0]);
        close(sy[0]);
        close(control_fd);
        run_c1(req, rep[1], sy[1], clone_flags);
    }
    close(rep[1]);
    close(sy[1]);
    for (uint32_t i = 0; i < req->nns; i++)
        if (ns_fds[i] >= 0)
            close(ns_fds[i]);
    shim_stdio_to_dev_null();
    /* Likewise the preserved fds belong to the container now: a socket passed with --preserve-fds must
     * see EOF when the container closes it, not be kept open by the shim. All the shim's own fds were
     * placed above this range. */
    if (req->preserve_fds)
        syscall(SYS_close_range, 3u, 2u + req->preserve_fds, 0u);

    struct shim_msg_header h;
    union {
        struct shim_pid_msg pid;
        struct shim_error err;
    } u;
    int r = shim_recv_msg(rep[0], &h, &u, sizeof u, NULL);
    int e = errno;
    while (waitpid(c1, NULL, 0) < 0 && errno == EINTR)
        ;
    close(rep[0]);
    if (r > 0 && h.type == SHIM_MSG_ERROR && h.length == sizeof u.err) {
        u.err.detail[sizeof u.err.detail - 1] = '\0';
        shim_send_msg(control_fd, SHIM_MSG_ERROR, &u.err, sizeof u.err, -1);
        exit(255);
    }
    if (r <= 0 || h.type != SHIM_MSG_CHILD || h.length != sizeof u.pid)
        shim_fail(SHIM_STEP_FORK, r < 0 ? e : EPROTO, "first child ended without reporting");
    *sync_out = sy[0];
    return u.pid.pid;
}
