/*
 * shim_child.c: C2, the future container process, from GO to execve.
 *
 * C2 was cloned without exec, so it uses only static storage and plain system calls. Every failure is
 * reported once as a shim_error on the sync socket (shim_fail) and ends the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static const char default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
static char exec_path[4096];

static void close_range_sys(unsigned lo, unsigned hi, unsigned flags)
{
    if (lo <= hi && syscall(SYS_close_range, lo, hi, flags) < 0)
        shim_fail(SHIM_STEP_CLOSE_FDS, errno, "close_range");
}

/* C2 starts with a copy of the shim's fd table. Anything besides stdio, the preserved fds and the sync
 * socket is a host object the container must never reach (CVE-2024-21626 leaked a host directory fd
 * that became the container's cwd), so it is closed before any setup step. */
static void close_inherited(unsigned min, unsigned keep)
{
    if (keep >= min) {
        if (keep > min)
            close_range_sys(min, keep - 1, 0);
        close_range_sys(keep + 1, ~0U, 0);
    } else {
        close_range_sys(min, ~0U, 0);
    }
}

static void wait_for(int sync_fd, uint32_t type, int step)
{
    struct shim_msg_header h;
    char payload[16];
    int r = shim_recv_msg(sync_fd, &h, payload, sizeof payload, NULL);
    if (r == 0)
        _exit(1); /* the shim is gone: nobody to report to */
    if (r < 0)
        shim_fail(step, errno, "sync socket");
    if (h.type != type)
        shim_fail_num(step, EPROTO, "unexpected message ", h.type);
}

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        shim_fail(SHIM_STEP_LOOPBACK, errno, "socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    shim_strlcpy(ifr.ifr_name, "lo", sizeof ifr.ifr_name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        shim_fail(SHIM_STEP_LOOPBACK, errno, "lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        shim_fail(SHIM_STEP_LOOPBACK, errno, "lo");
    close(s);
}

/* CVE-2024-21626: a cwd reached through a leaked fd (/proc/self/fd/N) or a symlink to one lies outside
 * the container's root. The kernel's getcwd then returns a path starting with "(unreachable)" (and
 * glibc turns that into ENOENT), which is how the escape is detected. The raw syscall is used so both
 * forms are seen. */
static void change_dir(const char *cwd)
{
    static char buf[4096];
    if (chdir(cwd) < 0)
        shim_fail(SHIM_STEP_CHDIR, errno, cwd);
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    if (n < 0)
        shim_fail(SHIM_STEP_CHDIR, errno == ENOENT ? ENOENT : errno, cwd);
    if (buf[0] != '/')
        shim_fail(SHIM_STEP_CHDIR, ENOENT, cwd);
}

static const char *find_env(const struct shim_req *req, const char *name, size_t len)
{
    for (uint32_t i = 0; i < req->nenv; i++)
        if (strncmp(req->env[i], name, len) == 0 && req->env[i][len] == '=')
            return req->env[i] + len + 1;
    return NULL;
}

/* 0 = usable, else errno: must exist, be a regular file and be executable by us. */
static int check_exec(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return errno;
    if (!S_ISREG(st.st_mode))
        return EACCES;
    if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
        return errno;
    return 0;
}

/* Resolves args[0] like execvp would, but before START so that `create` already fails on a missing
 * binary. The result is what execve gets. */
static void lookup_exec(const struct shim_req *req)
{
    const char *name = req->args[0];
    if (!name[0])
        shim_fail(SHIM_STEP_EXEC_LOOKUP, ENOENT, name);
    if (strchr(name, '/')) {
        int e = check_exec(name);
        if (e)
            shim_fail(SHIM_STEP_EXEC_LOOKUP, e, name);
        shim_strlcpy(exec_path, name, sizeof exec_path);
        return;
    }
    const char *path = find_env(req, "PATH", 4);
    if (!path)
        path = default_path;
    int err = ENOENT;
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len + 1 + strlen(name) + 1 <= sizeof exec_path) {
            if (len == 0) {
                shim_strlcpy(exec_path, ".", sizeof exec_path);
            } else {
                memcpy(exec_path, p, len);
                exec_path[len] = '\0';
            }
            shim_strlcat(exec_path, "/", sizeof exec_path);
            shim_strlcat(exec_path, name, sizeof exec_path);
            int e = check_exec(exec_path);
            if (e == 0)
                return;
            if (e == EACCES)
                err = EACCES; /* remembered, like execvp: a later hit still wins */
        }
        if (!end)
            break;
        p = end + 1;
    }
    shim_fail(SHIM_STEP_EXEC_LOOKUP, err, name);
}

static void set_umask(const struct shim_req *req)
{
    mode_t m = 022;
    if (req->has_user && req->user.umask != SHIM_UMASK_UNSET)
        m = (mode_t)(req->user.umask & 07777);
    umask(m);
}

/* The steps shared by init and exec mode from the identity switch to execve. */
__attribute__((noreturn)) static void finish(const struct shim_req *req, int sync_fd)
{
    int nnp = (req->flags & SHIM_F_NO_NEW_PRIVS) != 0;
    shim_set_identity(req);
    change_dir(req->cwd);
    lookup_exec(req);

    if (req->flags & SHIM_F_WAIT_START) {
        struct shim_pid_msg pm = { .pid = 0 };
        if (shim_send_msg(sync_fd, SHIM_MSG_READY, &pm, sizeof pm, -1) < 0)
            _exit(1);
        wait_for(sync_fd, SHIM_MSG_START, SHIM_STEP_WAIT_START);
    }

    /* With no_new_privs the filter can be loaded unprivileged, so it goes last and may forbid
     * everything except execve. Without it, seccomp() needs CAP_SYS_ADMIN and was loaded before the
     * user switch. */
    if (nnp) {
        shim_no_new_privs();
        if (req->has_seccomp)
            shim_load_seccomp(req);
    }

    /* Everything above the passed fds becomes close-on-exec, including the sync socket: its EOF tells
     * the shim that execve succeeded. */
    close_range_sys(3 + req->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Set last: changing credentials clears the parent-death signal. */
    if (req->pdeathsig && prctl(PR_SET_PDEATHSIG, (unsigned long)req->pdeathsig, 0, 0, 0) < 0)
        shim_fail_num(SHIM_STEP_PDEATHSIG, errno, "signal ", req->pdeathsig);

    if (shim_send_msg(sync_fd, SHIM_MSG_INTERNAL_EXECING, NULL, 0, -1) < 0)
        _exit(1);
    execve(exec_path, (char *const *)req->args, (char *const *)req->env);
    shim_fail(SHIM_STEP_EXEC, errno, req->args[0]);
}

__attribute__((noreturn)) static void init_mode(const struct shim_req *req, int sync_fd)
{
    int rootfd = -1;
    int with_rootfs = (req->flags & SHIM_F_SETUP_ROOTFS) != 0;

    /* In a new user namespace C2 starts with the overflow ids until the runtime has written the maps
     * (done before GO); becoming 0:0 there gives it the namespace's full capability set. */
    if (req->flags & SHIM_F_NEW_USERNS) {
        if (syscall(SYS_setresgid, 0, 0, 0) < 0)
            shim_fail(SHIM_STEP_SET_IDS_IN_USERNS, errno, "setresgid 0");
        if (syscall(SYS_setresuid, 0, 0, 0) < 0)
            shim_fail(SHIM_STEP_SET_IDS_IN_USERNS, errno, "setresuid 0");
    }
    /* Now that the runtime has moved us into the container's cgroups, they become the namespace root. */
    if ((req->flags & SHIM_F_NEW_CGROUPNS) && unshare(CLONE_NEWCGROUP) < 0)
        shim_fail(SHIM_STEP_UNSHARE_CGROUP, errno, "unshare(CLONE_NEWCGROUP)");
    if (setsid() < 0)
        shim_fail(SHIM_STEP_SETSID, errno, "setsid");
    if (req->flags & SHIM_F_LOOPBACK_UP)
        loopback_up();
    shim_set_rlimits(req);
    shim_set_oom_score_adj(req);

    if (with_rootfs)
        shim_setup_rootfs(req, &rootfd);
    if (req->flags & SHIM_F_TERMINAL)
        shim_setup_console(req, rootfd, sync_fd, 1);
    if (with_rootfs)
        shim_switch_root(req, &rootfd);

    if (req->hostname && sethostname(req->hostname, strlen(req->hostname)) < 0)
        shim_fail(SHIM_STEP_HOSTNAME, errno, req->hostname);
    if (req->domainname && setdomainname(req->domainname, strlen(req->domainname)) < 0)
        shim_fail(SHIM_STEP_DOMAINNAME, errno, req->domainname);
    /* Before the read-only paths: /proc/sys is usually one of them. */
    shim_write_sysctls(req, rootfd);
    if (with_rootfs)
        shim_finish_rootfs(req, rootfd);
    if (rootfd >= 0)
        close(rootfd);

    if (req->has_seccomp && !(req->flags & SHIM_F_NO_NEW_PRIVS))
        shim_load_seccomp(req);
    set_umask(req);
    finish(req, sync_fd);
}

__attribute__((noreturn)) static void exec_mode(const struct shim_req *req, int sync_fd)
{
    if (setsid() < 0)
        shim_fail(SHIM_STEP_SETSID, errno, "setsid");
    shim_set_rlimits(req);
    shim_set_oom_score_adj(req);
    if (req->flags & SHIM_F_TERMINAL)
        shim_setup_console(req, -1, sync_fd, 0);
    if (req->has_seccomp && !(req->flags & SHIM_F_NO_NEW_PRIVS))
        shim_load_seccomp(req);
    set_umask(req);
    finish(req, sync_fd);
}

void shim_child_main(const struct shim_req *req, int sync_fd)
{
    close_inherited(3 + req->preserve_fds, (unsigned)sync_fd);
    wait_for(sync_fd, SHIM_MSG_GO, SHIM_STEP_SYNC);
    /* CVE-2016-9962: a rootless C2 was left dumpable only so that its id maps could be written (done
     * before GO); from here on it sets up the container and must not be ptraced or have its fds read. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (req->mode == SHIM_MODE_INIT)
        init_mode(req, sync_fd);
    exec_mode(req, sync_fd);
}
