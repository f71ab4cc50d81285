/*
 * shim_main.c: supervisor-shim's entry point, the control loop and the monitor.
 *
 *   supervisor-shim <control-fd>
 *
 * The shim reads one request, creates the container process (shim_spawn.c), relays the two-phase start
 * between the runtime and the child, then stays as the container's parent and child subreaper until
 * every descendant is reaped. See include/supervisor_shim.h for the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int shim_report_fd = -1;
int shim_in_child = 0;

static int control_fd = -1;
static uint64_t request_buf[SHIM_MAX_REQUEST / 8];
static struct shim_req request;
static struct shim_error error_record;

static void report_error(int step, int err, const char *a, const char *b)
{
    memset(&error_record, 0, sizeof error_record);
    error_record.step = step;
    error_record.errnum = err;
    shim_strlcpy(error_record.detail, a, sizeof error_record.detail);
    if (b)
        shim_strlcat(error_record.detail, b, sizeof error_record.detail);
    if (shim_report_fd >= 0)
        shim_send_msg(shim_report_fd, SHIM_MSG_ERROR, &error_record, sizeof error_record, -1);
}

void shim_fail2(int step, int err, const char *a, const char *b)
{
    report_error(step, err, a, b);
    if (shim_in_child)
        _exit(1);
    exit(255);
}

void shim_fail(int step, int err, const char *detail)
{
    shim_fail2(step, err, detail, NULL);
}

void shim_fail_num(int step, int err, const char *what, long long value)
{
    char num[24];
    if (value < 0) {
        num[0] = '-';
        shim_utoa((unsigned long long)(-value), num + 1);
    } else {
        shim_utoa((unsigned long long)value, num);
    }
    char text[128];
    shim_strlcpy(text, what, sizeof text);
    shim_strlcat(text, num, sizeof text);
    shim_fail2(step, err, text, NULL);
}

/*
 * CVE-2019-5736: a container process that execs /proc/self/exe of a runtime process (or opens
 * /proc/<pid>/exe of it) gets a handle on the host binary and can overwrite it once the runtime exits,
 * so the next run executes the attacker's code as root. The shim's children are the processes that
 * cross into the container, so the shim first re-executes itself from an anonymous memfd copy sealed
 * against writes, shrinking and growing: /proc/<pid>/exe then points at that memfd, and a write through
 * it fails with EPERM. The check uses F_GET_SEALS on /proc/self/exe, which only succeeds on a memfd.
 */
static void ensure_sealed(char **argv)
{
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        shim_fail(SHIM_STEP_SEAL, errno, "/proc/self/exe");
    int seals = fcntl(self, F_GET_SEALS);
    const int wanted = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    if (seals >= 0 && (seals & wanted) == wanted) {
        close(self);
        return;
    }
    /* MFD_EXEC says explicitly that the copy is executable (kernels >= 6.3 warn otherwise). */
    int mfd = memfd_create("supervisor-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (mfd < 0 && errno == EINVAL)
        mfd = memfd_create("supervisor-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        shim_fail(SHIM_STEP_SEAL, errno, "memfd_create");
    struct stat st;
    if (fstat(self, &st) < 0)
        shim_fail(SHIM_STEP_SEAL, errno, "/proc/self/exe");
    off_t copied = 0;
    while (copied < st.st_size) {
        ssize_t n = sendfile(mfd, self, NULL, (size_t)(st.st_size - copied));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            shim_fail(SHIM_STEP_SEAL, n < 0 ? errno : EIO, "copy of /proc/self/exe");
        copied += n;
    }
    close(self);
    /* F_SEAL_EXEC also stops chmod of the copy; older kernels reject it, the other seals suffice. */
    if (fcntl(mfd, F_ADD_SEALS, wanted | F_SEAL_EXEC) < 0 && fcntl(mfd, F_ADD_SEALS, wanted) < 0)
        shim_fail(SHIM_STEP_SEAL, errno, "F_ADD_SEALS");
    extern char **environ;
    fexecve(mfd, argv, environ);
    shim_fail(SHIM_STEP_SEAL, errno, "fexecve");
}

/* ---- exit.json ---------------------------------------------------------------------------------- */

static int state_dir_fd = -1;

static int fsync_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Written with the usual crash-safe sequence: a temp file, fsync, rename over the final name, fsync of
 * the directory so the rename itself is durable. A reader never sees a partial record. */
void shim_write_exit_file(pid_t pid, int status)
{
    if (state_dir_fd < 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int code = sig ? 128 + sig : WEXITSTATUS(status);
    char json[256];
    int n = snprintf(json, sizeof json,
                     "{\"pid\":%d,\"status\":%d,\"exitCode\":%d,\"signal\":%d,"
                     "\"finishedAt\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"}\n",
                     (int)pid, status, code, sig, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec);
    const char *tmp = SHIM_EXIT_FILE ".tmp";
    int fd = openat(state_dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return;
    int ok = shim_write_all(fd, json, (size_t)n) == 0 && fsync(fd) == 0;
    close(fd);
    if (!ok || renameat(state_dir_fd, tmp, state_dir_fd, SHIM_EXIT_FILE) < 0) {
        unlinkat(state_dir_fd, tmp, 0);
        return;
    }
    fsync_dir(state_dir_fd);
}

/* ---- shim.sock ---------------------------------------------------------------------------------- */

static int listen_fd = -1;

/* The socket is bound through /proc/self/fd/<dirfd>/shim.sock so that a state dir path longer than
 * sun_path (108 bytes) still works; it is created with mode 0600 (umask during bind). CVE-2020-15257
 * (containerd-shim served its API on an abstract socket, reachable from any container sharing the
 * host network namespace): this socket is a filesystem path in the 0700 state root, which a container's
 * mount namespace does not contain, and peers are checked with SO_PEERCRED. */
static void open_listener(void)
{
    if (state_dir_fd < 0)
        return;
    unlinkat(state_dir_fd, SHIM_SOCKET_FILE, 0);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char dirpath[32];
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", shim_fd_path(state_dir_fd, dirpath), SHIM_SOCKET_FILE);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r < 0 || listen(fd, 8) < 0) {
        close(fd);
        return;
    }
    listen_fd = fd;
}

static void close_listener(void)
{
    if (listen_fd < 0)
        return;
    close(listen_fd);
    listen_fd = -1;
    unlinkat(state_dir_fd, SHIM_SOCKET_FILE, 0);
}

/* Only root or the shim's own user may drive the container through shim.sock. */
static int accept_peer(void)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        (cred.uid != 0 && cred.uid != getuid())) {
        close(fd);
        return -1;
    }
    /* A peer that connects and says nothing must not stall the monitor. */
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* ---- the monitor -------------------------------------------------------------------------------- */

enum phase {
    PH_WAIT_GO,   /* CHILD sent, C2 blocked before its setup */
    PH_SETUP,     /* GO forwarded, C2 setting up */
    PH_READY,     /* READY forwarded, waiting for START */
    PH_STARTING,  /* START forwarded, waiting for execve */
    PH_RUNNING,   /* execve happened */
    PH_DONE,      /* C2 reaped */
};

static pid_t child_pid;
static int sync_fd = -1;
static int peer_fd = -1;     /* a shim.sock client waiting for its answer */
static int start_peer = -1;  /* the client whose START is in flight */
static enum phase phase = PH_WAIT_GO;
static int execing_seen, execed, child_status, child_reaped, child_failed;

static void to_control(uint32_t type, const void *p, uint32_t len, int fd)
{
    if (control_fd < 0)
        return;
    if (shim_send_msg(control_fd, type, p, len, fd) < 0) {
        close(control_fd);
        control_fd = -1;
    }
}

static void answer_start_peer(uint32_t type, const void *p, uint32_t len)
{
    if (start_peer < 0)
        return;
    shim_send_msg(start_peer, type, p, len, -1);
    close(start_peer);
    start_peer = -1;
}

static void kill_child_and_exit(void)
{
    if (!child_reaped)
        kill(child_pid, SIGKILL);
    close_listener();
    /* Reap C2 and anything it left behind; the exit code says the container never ran. */
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    exit(255);
}

static void send_go_or_start(uint32_t type)
{
    if (shim_send_msg(sync_fd, type, NULL, 0, -1) < 0) {
        /* C2 is gone; its exit (and possibly its error) arrives through the sync socket and SIGCHLD. */
    }
}

static void handle_control(void)
{
    struct shim_msg_header h;
    char payload[64];
    int r = shim_recv_msg(control_fd, &h, payload, sizeof payload, NULL);
    if (r <= 0) {
        close(control_fd);
        control_fd = -1;
        /* The creator went away before the container was fully created: nobody will ever start or
         * record it, so it must not linger. After READY/EXECED the creator may detach freely. */
        if (phase == PH_WAIT_GO || phase == PH_SETUP)
            kill_child_and_exit();
        return;
    }
    switch (h.type) {
    case SHIM_MSG_GO:
        if (phase == PH_WAIT_GO) {
            phase = PH_SETUP;
            send_go_or_start(SHIM_MSG_GO);
        }
        break;
    case SHIM_MSG_START:
        if (phase == PH_READY) {
            phase = PH_STARTING;
            close_listener();
            send_go_or_start(SHIM_MSG_START);
        }
        break;
    case SHIM_MSG_ABORT:
        if (phase < PH_STARTING)
            kill_child_and_exit();
        break;
    default:
        break;
    }
}

static void handle_peer(void)
{
    struct shim_msg_header h;
    char payload[64];
    int r = shim_recv_msg(peer_fd, &h, payload, sizeof payload, NULL);
    int fd = peer_fd;
    peer_fd = -1;
    if (r <= 0) {
        close(fd);
        return;
    }
    if (h.type == SHIM_MSG_START && phase == PH_READY) {
        phase = PH_STARTING;
        start_peer = fd;
        close_listener();
        send_go_or_start(SHIM_MSG_START);
        return;
    }
    if (h.type == SHIM_MSG_ABORT && phase < PH_STARTING) {
        close(fd);
        kill_child_and_exit();
    }
    struct shim_error e = { .step = SHIM_STEP_WAIT_START, .errnum = EINVAL };
    shim_strlcpy(e.detail, "container is not waiting for start", sizeof e.detail);
    shim_send_msg(fd, SHIM_MSG_ERROR, &e, sizeof e, -1);
    close(fd);
}

static void sync_closed(void)
{
    close(sync_fd);
    sync_fd = -1;
    if (child_failed)
        return;
    struct shim_pid_msg pm = { .pid = child_pid };
    if (execing_seen) {
        execed = 1;
        phase = PH_RUNNING;
        to_control(SHIM_MSG_EXECED, &pm, sizeof pm, -1);
        answer_start_peer(SHIM_MSG_EXECED, &pm, sizeof pm);
        return;
    }
    /* C2 died without an error record (killed from outside, or crashed) before execve. */
    child_failed = 1;
    struct shim_error e = { .step = SHIM_STEP_SYNC, .errnum = 0 };
    shim_strlcpy(e.detail, "container process ended before execve", sizeof e.detail);
    to_control(SHIM_MSG_ERROR, &e, sizeof e, -1);
    answer_start_peer(SHIM_MSG_ERROR, &e, sizeof e);
}

static void handle_sync(void)
{
    struct shim_msg_header h;
    struct shim_error e;
    int fd = -1;
    int r = shim_recv_msg(sync_fd, &h, &e, sizeof e, &fd);
    if (r <= 0) {
        sync_closed();
        return;
    }
    switch (h.type) {
    case SHIM_MSG_PTY: {
        struct shim_pid_msg pm = { .pid = child_pid };
        to_control(SHIM_MSG_PTY, &pm, sizeof pm, fd);
        break;
    }
    case SHIM_MSG_READY: {
        struct shim_pid_msg pm = { .pid = child_pid };
        phase = PH_READY;
        open_listener();
        to_control(SHIM_MSG_READY, &pm, sizeof pm, -1);
        break;
    }
    case SHIM_MSG_INTERNAL_EXECING:
        execing_seen = 1;
        break;
    case SHIM_MSG_ERROR:
        child_failed = 1;
        e.detail[sizeof e.detail - 1] = '\0';
        to_control(SHIM_MSG_ERROR, &e, sizeof e, -1);
        answer_start_peer(SHIM_MSG_ERROR, &e, sizeof e);
        break;
    default:
        break;
    }
    if (fd >= 0)
        close(fd);
}

static void reap(void)
{
    for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0)
            return;
        if (p != child_pid)
            continue; /* an orphan of the container, reparented to us as the subreaper */
        child_reaped = 1;
        child_status = status;
        /* Whatever C2 wrote before dying is still queued on the sync socket: read it to the end so an
         * error record or the execve marker is not lost. C2's end is closed, so this cannot block. */
        while (sync_fd >= 0)
            handle_sync();
        phase = PH_DONE;
        close_listener();
        if (execed) {
            if (request.mode == SHIM_MODE_INIT)
                shim_write_exit_file(p, status);
            struct shim_exit_msg em = { .pid = p, .wait_status = status };
            to_control(SHIM_MSG_EXITED, &em, sizeof em, -1);
        }
    }
}

static int exit_code(void)
{
    if (!execed)
        return 255;
    if (WIFSIGNALED(child_status))
        return 128 + WTERMSIG(child_status);
    return WEXITSTATUS(child_status);
}

static void monitor(int sfd)
{
    for (;;) {
        if (child_reaped) {
            /* Keep reaping until nothing is left: as the subreaper we also wait for the orphans. */
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p < 0 && errno == ECHILD)
                exit(exit_code());
        }
        struct pollfd pf[5];
        int n = 0, i_ctl = -1, i_sync = -1, i_listen = -1, i_peer = -1;
        pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
        if (control_fd >= 0) {
            i_ctl = n;
            pf[n++] = (struct pollfd){ .fd = control_fd, .events = POLLIN };
        }
        if (sync_fd >= 0) {
            i_sync = n;
            pf[n++] = (struct pollfd){ .fd = sync_fd, .events = POLLIN };
        }
        if (listen_fd >= 0 && peer_fd < 0) {
            i_listen = n;
            pf[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
        }
        if (peer_fd >= 0) {
            i_peer = n;
            pf[n++] = (struct pollfd){ .fd = peer_fd, .events = POLLIN };
        }
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            shim_fail(SHIM_STEP_SYNC, errno, "poll");
        }
        if (i_sync >= 0 && pf[i_sync].revents)
            handle_sync();
        if (i_ctl >= 0 && pf[i_ctl].revents && control_fd >= 0)
            handle_control();
        if (i_peer >= 0 && pf[i_peer].revents)
            handle_peer();
        if (i_listen >= 0 && listen_fd >= 0 && pf[i_listen].revents)
            peer_fd = accept_peer();
        if (pf[0].revents) {
            struct signalfd_siginfo si[8];
            while (read(sfd, si, sizeof si) > 0)
                ;
            reap();
        }
    }
}

static int parse_fd(const char *s)
{
    long v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    /* CVE-2016-9962: a dumpable process can be ptraced and its /proc/<pid>/fd read by anyone with the
     * same uid, including a container's root once a child has joined the container's pid namespace.
     * Non-dumpable is inherited by C1/C2 and reset by the final execve. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    control_fd = argc == 2 ? parse_fd(argv[1]) : -1;
    if (control_fd < 0 || fcntl(control_fd, F_GETFD) < 0) {
        static const char usage[] = "usage: supervisor-shim <control-fd> (started by the supervisor runtime)\n";
        shim_write_all(2, usage, sizeof usage - 1);
        return 2;
    }
    shim_report_fd = control_fd;
    ensure_sealed(argv); /* the control fd is not close-on-exec yet, so it survives the re-exec */
    fcntl(control_fd, F_SETFD, FD_CLOEXEC);

    /* Our own session: the container must not get signals meant for the caller's process group. */
    setsid();
    /* Orphans of the container are reparented to us, not to PID 1 (which does not reap on these
     * machines), and we reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);

    struct shim_msg_header h;
    ssize_t got = shim_read_full(control_fd, &h, sizeof h);
    if (got != (ssize_t)sizeof h)
        shim_fail(SHIM_STEP_READ_REQUEST, got < 0 ? errno : EPIPE, "control socket");
    if (h.type != SHIM_MSG_REQUEST || h.length > SHIM_MAX_REQUEST)
        shim_fail_num(SHIM_STEP_READ_REQUEST, EPROTO, "unexpected message ", h.type);
    got = shim_read_full(control_fd, request_buf, h.length);
    if (got != (ssize_t)h.length)
        shim_fail(SHIM_STEP_READ_REQUEST, got < 0 ? errno : EPIPE, "control socket");
    char err[SHIM_ERROR_DETAIL];
    if (shim_parse_request(request_buf, h.length, &request, err, sizeof err) < 0)
        shim_fail(SHIM_STEP_PARSE_REQUEST, EINVAL, err);

    /* The runtime puts the control socket right after the preserved fds; never let it sit among them. */
    control_fd = shim_report_fd = shim_raise_fd(control_fd, 3 + (int)request.preserve_fds);
    shim_read_cap_last_cap();
    if (request.state_dir) {
        state_dir_fd = open(request.state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state_dir_fd < 0)
            shim_fail(SHIM_STEP_STATE_DIR, errno, request.state_dir);
        state_dir_fd = shim_raise_fd(state_dir_fd, 3 + (int)request.preserve_fds);
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        shim_fail(SHIM_STEP_FORK, errno, "signalfd");
    sfd = shim_raise_fd(sfd, 3 + (int)request.preserve_fds);

    if (request.mode == SHIM_MODE_RESTORE)
        shim_restore_main(&request, control_fd, sfd);

    child_pid = shim_spawn(&request, control_fd, &sync_fd);
    struct shim_pid_msg pm = { .pid = child_pid };
    to_control(SHIM_MSG_CHILD, &pm, sizeof pm, -1);
    if (control_fd < 0)
        kill_child_and_exit();
    monitor(sfd);
    return 0;
}
