/*
 * shim_restore.c: restore mode, the shim as the parent of a container that CRIU restores.
 *
 * A restored init is created by CRIU, not by the shim, yet it must end up exactly where a freshly
 * started init is: a child of a supervisor-shim that reaps it, writes exit.json and exits with its
 * code. So the shim starts `criu swrk 3` as its own child. CRIU restores the root task as a sibling of
 * itself (rst_sibling, CLONE_PARENT), which makes it the shim's child; and because the shim is the
 * child subreaper, anything CRIU leaves behind is reparented to the shim rather than to PID 1 once criu
 * exits. The runtime drives the RPC over the socket it shares with criu and, once the restore has
 * succeeded, names the init with ADOPT.
 *
 * Until ADOPT the shim cannot tell the init from the orphans, and the init may even exit before the
 * runtime gets to send ADOPT; so every child reaped in the meantime is remembered with its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_EARLY 256

static int ctl = -1;
static pid_t helper_pid, init_pid;
static int helper_reaped, adopted, init_reaped, init_status;
static struct {
    pid_t pid;
    int status;
} early[MAX_EARLY];
static unsigned early_next;

static void send_control(uint32_t type, const void *p, uint32_t len)
{
    if (ctl < 0)
        return;
    if (shim_send_msg(ctl, type, p, len, -1) < 0) {
        close(ctl);
        ctl = -1;
    }
}

/* The shim is single-threaded, so its thread's children file lists all of its children. */
static int kill_children(void)
{
    int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    static char buf[16384];
    ssize_t n = shim_read_full(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    int count = 0;
    long pid = 0;
    for (ssize_t i = 0; i <= n; i++) {
        if (buf[i] >= '0' && buf[i] <= '9') {
            pid = pid * 10 + (buf[i] - '0');
        } else if (pid > 0) {
            kill((pid_t)pid, SIGKILL);
            count++;
            pid = 0;
        }
    }
    return count;
}

/* Nothing may outlive a restore that failed or was abandoned: criu, the restored tasks that are our
 * children, and whatever is reparented to us while they die. */
__attribute__((noreturn)) static void kill_all_and_exit(void)
{
    for (;;) {
        kill_children();
        pid_t p = waitpid(-1, NULL, WNOHANG | __WALL);
        if (p < 0 && errno == ECHILD)
            break;
        if (p == 0) {
            struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    exit(255);
}

static void init_ended(int status)
{
    init_reaped = 1;
    init_status = status;
    shim_write_exit_file(init_pid, status);
    struct shim_exit_msg em = { .pid = init_pid, .wait_status = status };
    send_control(SHIM_MSG_EXITED, &em, sizeof em);
}

static void reap(void)
{
    for (;;) {
        int status;
        /* __WALL: CRIU chooses the exit signal of the tasks it clones; a child whose exit signal is not
         * SIGCHLD is invisible to a plain waitpid. */
        pid_t p = waitpid(-1, &status, WNOHANG | __WALL);
        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0)
            return;
        if (p == helper_pid) {
            helper_reaped = 1;
            struct shim_exit_msg em = { .pid = p, .wait_status = status };
            send_control(SHIM_MSG_HELPER_EXITED, &em, sizeof em);
        } else if (adopted) {
            if (p == init_pid && !init_reaped)
                init_ended(status);
        } else {
            early[early_next % MAX_EARLY].pid = p;
            early[early_next % MAX_EARLY].status = status;
            early_next++;
        }
    }
}

/* The parent pid from /proc/<pid>/stat: the field after the command, which is in parentheses and may
 * itself contain ") ". */
static pid_t parent_of(pid_t pid)
{
    char path[48], num[24];
    shim_strlcpy(path, "/proc/", sizeof path);
    shim_strlcat(path, shim_utoa((unsigned long long)pid, num), sizeof path);
    shim_strlcat(path, "/stat", sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[512];
    ssize_t n = shim_read_full(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end = strrchr(buf, ')');
    if (!end || end[1] != ' ' || !end[2] || end[3] != ' ')
        return -1;
    return (pid_t)strtol(end + 4, NULL, 10);
}

static void adopt(pid_t pid)
{
    struct shim_pid_msg pm = { .pid = pid };
    if (adopted || helper_pid == pid || pid <= 0)
        goto refuse;
    unsigned kept = early_next < MAX_EARLY ? early_next : MAX_EARLY;
    for (unsigned i = 0; i < kept; i++) {
        if (early[i].pid != pid)
            continue;
        /* It was our child and has already ended: report it as adopted and ended at once. */
        adopted = 1;
        init_pid = pid;
        send_control(SHIM_MSG_EXECED, &pm, sizeof pm);
        init_ended(early[i].status);
        return;
    }
    /* Children are reaped only by this thread, so a child that has exited is still a zombie with us as
     * its parent here: the check cannot race with its end. */
    if (parent_of(pid) != getpid())
        goto refuse;
    adopted = 1;
    init_pid = pid;
    send_control(SHIM_MSG_EXECED, &pm, sizeof pm);
    return;

refuse:;
    struct shim_error e = { .step = SHIM_STEP_SYNC, .errnum = adopted ? EALREADY : ESRCH };
    char num[24];
    shim_strlcpy(e.detail, adopted ? "already monitoring pid " : "not a child of supervisor-shim: pid ", sizeof e.detail);
    shim_strlcat(e.detail, shim_utoa((unsigned long long)(pid < 0 ? 0 : pid), num), sizeof e.detail);
    send_control(SHIM_MSG_ERROR, &e, sizeof e);
}

static void handle_control(void)
{
    struct shim_msg_header h;
    char payload[64];
    int r = shim_recv_msg(ctl, &h, payload, sizeof payload, NULL);
    if (r <= 0) {
        close(ctl);
        ctl = -1;
        /* The runtime went away before it knew the restore had succeeded: nobody would record this
         * container, so it must not linger. Once adopted, it may detach freely. */
        if (!adopted)
            kill_all_and_exit();
        return;
    }
    switch (h.type) {
    case SHIM_MSG_ADOPT: {
        struct shim_pid_msg pm;
        if (h.length != sizeof pm) {
            adopt(-1);
            break;
        }
        memcpy(&pm, payload, sizeof pm);
        adopt(pm.pid);
        break;
    }
    case SHIM_MSG_ABORT:
        if (!adopted)
            kill_all_and_exit();
        break;
    default:
        break;
    }
}

/* Forks and execs criu with fds 0-2 (the container's stdio, which restored tasks inherit through
 * inherit_fd) and its RPC socket at 3. A close-on-exec socket tells execve's success (EOF) from its
 * failure (an error record). */
static pid_t start_helper(const struct shim_req *req)
{
    int min = 3 + (int)req->preserve_fds;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        shim_fail(SHIM_STEP_FORK, errno, "socketpair");
    sv[0] = shim_raise_fd(sv[0], min);
    sv[1] = shim_raise_fd(sv[1], min);
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0)
        shim_fail(SHIM_STEP_FORK, errno, "fork");
    if (pid == 0) {
        shim_in_child = 1;
        shim_report_fd = sv[1];
        close(sv[0]);
        shim_reset_signals();
        /* criu must not outlive the shim: nobody would be left to adopt what it restores. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
            shim_fail(SHIM_STEP_PDEATHSIG, errno, "criu");
        if (getppid() != self)
            _exit(1);
        /* Whatever the shim inherited beyond the preserved fds stays out of criu. */
        syscall(SYS_close_range, (unsigned)min, ~0u, CLOSE_RANGE_CLOEXEC);
        execve(req->args[0], (char *const *)req->args, (char *const *)req->env);
        shim_fail(SHIM_STEP_EXEC, errno, req->args[0]);
    }
    close(sv[1]);
    shim_stdio_to_dev_null();
    if (req->preserve_fds)
        syscall(SYS_close_range, 3u, 2u + req->preserve_fds, 0u);

    struct shim_msg_header h;
    struct shim_error e;
    int r = shim_recv_msg(sv[0], &h, &e, sizeof e, NULL);
    close(sv[0]);
    if (r != 0) {
        if (r > 0 && h.type == SHIM_MSG_ERROR && h.length == sizeof e) {
            e.detail[sizeof e.detail - 1] = '\0';
        } else {
            memset(&e, 0, sizeof e);
            e.step = SHIM_STEP_EXEC;
            e.errnum = r < 0 ? errno : EPROTO;
            shim_strlcpy(e.detail, req->args[0], sizeof e.detail);
        }
        send_control(SHIM_MSG_ERROR, &e, sizeof e);
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
            ;
        exit(255);
    }
    return pid;
}

void shim_restore_main(const struct shim_req *req, int control_fd, int sfd)
{
    ctl = control_fd;
    helper_pid = start_helper(req);
    struct shim_pid_msg pm = { .pid = helper_pid };
    send_control(SHIM_MSG_CHILD, &pm, sizeof pm);
    if (ctl < 0)
        kill_all_and_exit();

    for (;;) {
        if (init_reaped) {
            /* As the subreaper the shim also waits for the orphans before it exits. */
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG | __WALL);
            if (p < 0 && errno == ECHILD)
                exit(WIFSIGNALED(init_status) ? 128 + WTERMSIG(init_status) : WEXITSTATUS(init_status));
        }
        struct pollfd pf[2];
        nfds_t n = 0;
        pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
        if (ctl >= 0)
            pf[n++] = (struct pollfd){ .fd = ctl, .events = POLLIN };
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            shim_fail(SHIM_STEP_SYNC, errno, "poll");
        }
        if (pf[0].revents) {
            struct signalfd_siginfo si[8];
            while (read(sfd, si, sizeof si) > 0)
                ;
            reap();
        }
        if (n > 1 && pf[1].revents && ctl >= 0)
            handle_control();
    }
}
