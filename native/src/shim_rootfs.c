/*
 * shim_rootfs.c: the container's root filesystem, set up inside C2's new mount namespace.
 *
 * Path safety. A rootfs (or a volume shared with another container) is attacker-controlled: any path
 * component may be, or may become, a symlink pointing at the host. Every destination is therefore
 * resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative to an fd of the rootfs, which
 * makes the kernel treat the rootfs as "/" for absolute symlinks and "..", and refuses /proc magic
 * links. Missing directories are created one component at a time with mkdirat on the fd of the
 * already-resolved parent, and mount(2) is given "/proc/self/fd/N" of the resolved fd, so nothing is
 * resolved twice. This closes the symlink-exchange race of CVE-2021-30465, the MkdirAll race of
 * CVE-2024-45310 and the /dev-symlink bugs (CVE-2026-41579).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int shim_open_in_root(int rootfd, const char *path, int oflags, uint64_t resolve_extra)
{
    struct open_how how = {
        .flags = (uint64_t)(oflags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve_extra,
    };
    long fd;
    int tries = 0;
    /* EAGAIN: the kernel saw a concurrent rename while resolving and refuses to guess; retry. */
    do {
        fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 64)));
    return (int)fd;
}

static int fail_errno(int fd)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
    return -1;
}

/* Opens (O_PATH) the directory `path` inside the root, creating what is missing with `mode`. */
static int mkdir_all_in_root(int rootfd, const char *path, mode_t mode)
{
    static char buf[4096];
    int fd = shim_open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    if (shim_strlcpy(buf, path, sizeof buf) >= sizeof buf - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int cur = shim_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
    if (cur < 0)
        return -1;
    char *p = buf;
    while (*p == '/')
        p++;
    while (*p) {
        char *end = p;
        while (*end && *end != '/')
            end++;
        char save = *end;
        *end = '\0';
        int next = shim_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY, 0);
        if (next < 0 && errno == ENOENT) {
            /* Created relative to the resolved parent; a dangling symlink here gives EEXIST and the
             * re-resolution below then fails with ENOENT instead of following it. */
            if (mkdirat(cur, p, mode) < 0 && errno != EEXIST)
                return fail_errno(cur);
            next = shim_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY, 0);
        }
        if (next < 0)
            return fail_errno(cur);
        close(cur);
        cur = next;
        *end = save;
        p = end;
        while (*p == '/')
            p++;
    }
    return cur;
}

/* Splits `path` into its parent directory (written to `parent`) and its last component (a static
 * buffer). Returns NULL when there is no last component ("/" or ""). */
static const char *split_path(const char *path, char *parent, size_t cap)
{
    static char last[256];
    size_t n = shim_strlcpy(parent, path, cap);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (!*base || shim_strlcpy(last, base, sizeof last) >= sizeof last - 1)
        return NULL;
    if (slash && slash != parent)
        *slash = '\0';
    else
        shim_strlcpy(parent, "/", cap);
    return last;
}

/* The flags statvfs reports for a mount, as MS_* bits. Inside a user namespace the kernel locks
 * ro/nosuid/nodev/noexec/atime of mounts inherited from the parent namespace; a bind remount that
 * omits a locked flag fails with EPERM, so remounts carry them over. */
static unsigned long mount_flags_of(int fd, unsigned long requested)
{
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return 0;
    unsigned long f = 0;
    if (sv.f_flag & ST_RDONLY)
        f |= MS_RDONLY;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (!(requested & (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME))) {
        if (sv.f_flag & ST_NOATIME)
            f |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
            f |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
            f |= MS_RELATIME;
    }
    return f;
}

static void do_mount(int rootfd, const struct shim_op *op);
static void do_device(int rootfd, const struct shim_req *req, const struct shim_op *op);

static int is_magic(int fd, long magic)
{
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && (long)sf.f_type == magic;
}

/* ---- preparing the root -------------------------------------------------------------------------- */

static char mountinfo[4 << 20];
static char rootfs_path[4096];

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
            r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* pivot_root refuses a new root whose parent mount is shared, and a shared parent would also propagate
 * the container's mounts back to the host. Find the mount holding the rootfs in mountinfo and make it
 * private if it carries a "shared:N" tag. */
static void make_parent_private(const char *rootfs)
{
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        shim_fail(SHIM_STEP_ROOT_PROPAGATION, errno, "/proc/self/mountinfo");
    ssize_t n = shim_read_full(fd, mountinfo, sizeof mountinfo - 1);
    close(fd);
    if (n < 0)
        shim_fail(SHIM_STEP_ROOT_PROPAGATION, errno, "/proc/self/mountinfo");
    mountinfo[n] = '\0';

    static char best[4096];
    size_t best_len = 0;
    int best_shared = 0, found = 0;
    char *line = mountinfo;
    while (line && *line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        /* id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
        char *fields[64];
        int nf = 0;
        for (char *tok = line; tok && nf < 64;) {
            fields[nf++] = tok;
            char *sp = strchr(tok, ' ');
            if (!sp)
                break;
            *sp = '\0';
            tok = sp + 1;
        }
        if (nf >= 7) {
            char *mp = fields[4];
            unescape(mp);
            size_t len = strlen(mp);
            int match = strcmp(mp, "/") == 0 ||
                        (strncmp(rootfs, mp, len) == 0 && (rootfs[len] == '/' || rootfs[len] == '\0'));
            if (strcmp(mp, "/") == 0)
                len = 1;
            if (match && len >= best_len) {
                int shared = 0;
                for (int i = 6; i < nf && strcmp(fields[i], "-") != 0; i++)
                    if (strncmp(fields[i], "shared:", 7) == 0)
                        shared = 1;
                best_len = len;
                best_shared = shared;
                found = 1;
                shim_strlcpy(best, mp, sizeof best);
            }
        }
        line = next;
    }
    if (found && best_shared && mount(NULL, best, NULL, MS_PRIVATE, NULL) < 0)
        shim_fail(SHIM_STEP_ROOT_PROPAGATION, errno, best);
}

void shim_setup_rootfs(const struct shim_req *req, int *rootfd_out)
{
    char fdpath[32];
    /* Paths are created with exactly the modes asked for; the process umask is set just before exec. */
    umask(0);

    /* Our new mount namespace starts as a copy of the host's with the same propagation, so without
     * this every mount below would propagate back to the host. */
    unsigned long prop = req->root_propagation ? (unsigned long)req->root_propagation : MS_SLAVE | MS_REC;
    if (mount(NULL, "/", NULL, prop, NULL) < 0)
        shim_fail(SHIM_STEP_ROOT_PROPAGATION, errno, "/");

    int fd = open(req->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        shim_fail(SHIM_STEP_ROOTFS_BIND, errno, req->rootfs);
    ssize_t n = readlink(shim_fd_path(fd, fdpath), rootfs_path, sizeof rootfs_path - 1);
    if (n < 0)
        shim_fail(SHIM_STEP_ROOTFS_BIND, errno, req->rootfs);
    rootfs_path[n] = '\0';
    make_parent_private(rootfs_path);

    /* The rootfs becomes a mount point of its own: pivot_root needs one, and it gives the container's
     * root its own mount flags (read-only rootfs). */
    if (mount(fdpath, fdpath, NULL, MS_BIND | MS_REC, NULL) < 0)
        shim_fail(SHIM_STEP_ROOTFS_BIND, errno, rootfs_path);
    close(fd);
    int rootfd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        shim_fail(SHIM_STEP_ROOTFS_BIND, errno, rootfs_path);
    *rootfd_out = rootfd;

    for (uint32_t i = 0; i < req->nops; i++) {
        const struct shim_op *op = &req->ops[i];
        switch (op->tag) {
        case SHIM_T_MOUNT:
            do_mount(rootfd, op);
            break;
        case SHIM_T_MKDIR: {
            int d = mkdir_all_in_root(rootfd, op->u.mkdir.path, op->u.mkdir.mode);
            if (d < 0)
                shim_fail(SHIM_STEP_MOUNT_TARGET, errno, op->u.mkdir.path);
            close(d);
            break;
        }
        case SHIM_T_DEVICE:
            do_device(rootfd, req, op);
            break;
        case SHIM_T_SYMLINK: {
            static char parent[4096];
            const char *base = split_path(op->u.symlink.link, parent, sizeof parent);
            if (!base)
                shim_fail(SHIM_STEP_SYMLINK, EINVAL, op->u.symlink.link);
            int d = mkdir_all_in_root(rootfd, parent, 0755);
            if (d < 0)
                shim_fail(SHIM_STEP_SYMLINK, errno, op->u.symlink.link);
            if (symlinkat(op->u.symlink.target, d, base) < 0 && errno != EEXIST)
                shim_fail(SHIM_STEP_SYMLINK, errno, op->u.symlink.link);
            close(d);
            break;
        }
        }
    }
}

/* ---- mounts and devices -------------------------------------------------------------------------- */

/* An empty regular file as a bind target (a file cannot be bound onto a directory). mknodat never
 * follows a final symlink, so an existing symlink stays a symlink and is resolved in the root later. */
static void create_file_in_root(int rootfd, const char *path, int step)
{
    static char parent[4096];
    const char *base = split_path(path, parent, sizeof parent);
    if (!base)
        shim_fail(step, EINVAL, path);
    int d = mkdir_all_in_root(rootfd, parent, 0755);
    if (d < 0)
        shim_fail(step, errno, path);
    if (mknodat(d, base, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
        shim_fail(step, errno, path);
    close(d);
}

/* The roots of the procfs and sysfs mounted at /proc and /sys, as verified right after their mounts
 * (index 0: /proc, 1: /sys); -1 until then. */
static int special_fd[2] = { -1, -1 };
static const char *const special_path[2] = { "/proc", "/sys" };

/* CVE-2019-19921 / CVE-2021-30465 as races: whoever can rename entries of the rootfs (a host process,
 * another container sharing the volume) can swap /proc with a symlink or a fake directory after procfs
 * was mounted and verified. Masked and read-only paths under /proc and /sys are therefore resolved
 * beneath the fd of the mount that was verified, never through the name "/proc" again, so they always
 * land on the real procfs or sysfs, wherever it has been moved to. */
static int open_masked(int rootfd, const char *path, int oflags)
{
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(special_path[i]);
        if (special_fd[i] >= 0 && strncmp(path, special_path[i], n) == 0 && path[n] == '/')
            return shim_open_in_root(special_fd[i], path + n, oflags, 0);
    }
    return shim_open_in_root(rootfd, path, oflags, 0);
}

/* After the root switch "/proc/self/fd/N" would be looked up through the container's /proc, which may
 * have been swapped by then. With the verified procfs as the working directory, "self/fd/N" reaches the
 * fd through that procfs alone. */
static int fd_paths_from_proc;

static char *fd_path(int fd, char *buf)
{
    if (!fd_paths_from_proc)
        return shim_fd_path(fd, buf);
    char num[21];
    shim_strlcpy(buf, "self/fd/", 32);
    shim_strlcat(buf, shim_utoa((unsigned)fd, num), 32);
    return buf;
}

/* CVE-2019-16884: whatever ends up mounted at the container's /proc (or /sys) must be procfs (sysfs),
 * whatever the mount's type says: a plain directory bound there looks like /proc to every later write
 * (masks, sysctls, labels) and to the container, while holding host files. The destination string is not
 * compared ("/x/../proc", "//proc/" all land there); instead, after each mount, /proc and /sys are resolved
 * again and, if they now name the mount just made (same device and inode as its root), its filesystem
 * is checked. Bind mounts of the real procfs or sysfs (rootless /sys) pass. */
static void check_proc_sys_target(int rootfd, int top, const char *dest)
{
    static const struct {
        const char *path;
        long magic;
    } special[] = { { "/proc", PROC_SUPER_MAGIC }, { "/sys", SYSFS_MAGIC } };
    struct stat mst;
    if (fstat(top, &mst) < 0)
        shim_fail(SHIM_STEP_MOUNT, errno, dest);
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        int fd = shim_open_in_root(rootfd, special[i].path, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
        if (fd < 0)
            continue; /* not there (yet), or a symlink: the proc/sysfs mount itself refuses that */
        struct stat st;
        int same = fstat(fd, &st) == 0 && st.st_dev == mst.st_dev && st.st_ino == mst.st_ino;
        int ok = !same || is_magic(fd, special[i].magic);
        close(fd);
        if (same && ok) {
            /* Kept for the masked and read-only paths under it (see open_masked). */
            if (special_fd[i] >= 0)
                close(special_fd[i]);
            special_fd[i] = fcntl(top, F_DUPFD_CLOEXEC, 3);
            if (special_fd[i] < 0)
                shim_fail(SHIM_STEP_MOUNT, errno, dest);
        }
        if (!ok)
            shim_fail2(SHIM_STEP_MOUNT, EXDEV, dest, special[i].magic == PROC_SUPER_MAGIC
                                                        ? ": only procfs may be mounted at /proc"
                                                        : ": only sysfs may be mounted at /sys");
    }
}

static void do_mount(int rootfd, const struct shim_op *op)
{
    const struct shim_mount *m = &op->u.mount.hdr;
    const char *dest = op->u.mount.dest, *fstype = op->u.mount.fstype;
    int bind = m->kind == SHIM_MOUNT_BIND;
    int is_proc = !bind && strcmp(fstype, "proc") == 0;
    int is_sys = !bind && strcmp(fstype, "sysfs") == 0;
    char dpath[32], spath[32];
    int dfd;

    if (is_proc || is_sys) {
        /* CVE-2019-19921 / CVE-2023-27561: a /proc (or /sys) that is a symlink would put the real procfs
         * where the image wants it and leave a fake one at /proc for later writes. These must be plain
         * directories on every component. */
        dfd = shim_open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
        if (dfd < 0 && errno == ENOENT) {
            int made = mkdir_all_in_root(rootfd, dest, 0755);
            if (made >= 0)
                close(made);
            dfd = shim_open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
        }
        if (dfd < 0)
            shim_fail(SHIM_STEP_MOUNT_TARGET, errno == ELOOP ? ENOTDIR : errno, dest);
    } else if (m->dest_is_file) {
        create_file_in_root(rootfd, dest, SHIM_STEP_MOUNT_TARGET);
        dfd = shim_open_in_root(rootfd, dest, O_PATH, 0);
    } else {
        dfd = mkdir_all_in_root(rootfd, dest, 0755);
    }
    if (dfd < 0)
        shim_fail(SHIM_STEP_MOUNT_TARGET, errno, dest);
    shim_fd_path(dfd, dpath);

    if (bind) {
        int sfd = open(op->u.mount.source, O_PATH | O_CLOEXEC);
        if (sfd < 0)
            shim_fail(SHIM_STEP_MOUNT, errno, op->u.mount.source);
        if (mount(shim_fd_path(sfd, spath), dpath, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
            shim_fail(SHIM_STEP_MOUNT, errno, dest);
        close(sfd);
    } else {
        const char *data = op->u.mount.data[0] ? op->u.mount.data : NULL;
        if (mount(op->u.mount.source, dpath, fstype, (unsigned long)m->flags, data) < 0)
            shim_fail(SHIM_STEP_MOUNT, errno, dest);
    }
    close(dfd);

    /* The fd above names the directory under the new mount; re-resolve to reach the mount itself. */
    int top = shim_open_in_root(rootfd, dest, O_PATH, (is_proc || is_sys) ? RESOLVE_NO_SYMLINKS : 0);
    if (top < 0)
        shim_fail(SHIM_STEP_MOUNT, errno, dest);
    if ((is_proc && !is_magic(top, PROC_SUPER_MAGIC)) || (is_sys && !is_magic(top, SYSFS_MAGIC)))
        shim_fail(SHIM_STEP_MOUNT, EXDEV, dest);
    check_proc_sys_target(rootfd, top, dest);
    shim_fd_path(top, dpath);

    /* A bind ignores every flag but MS_REC; ro, nosuid etc. take a second, remounting call. */
    unsigned long extra = (unsigned long)m->flags & ~(unsigned long)(MS_BIND | MS_REC);
    if (bind && extra) {
        unsigned long flags = MS_BIND | MS_REMOUNT | extra |
                              (mount_flags_of(top, extra) & ~(unsigned long)m->clear_flags);
        if (mount(NULL, dpath, NULL, flags, NULL) < 0)
            shim_fail(SHIM_STEP_MOUNT, errno, dest);
    }
    for (int i = 0; i < 4 && m->propagation[i]; i++)
        if (mount(NULL, dpath, NULL, (unsigned long)m->propagation[i], NULL) < 0)
            shim_fail(SHIM_STEP_MOUNT, errno, dest);
    close(top);
}

static void do_device(int rootfd, const struct shim_req *req, const struct shim_op *op)
{
    static char parent[4096];
    const struct shim_device *dv = &op->u.device.hdr;
    const char *path = op->u.device.path;
    mode_t type = dv->mode & S_IFMT;
    if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO)
        shim_fail(SHIM_STEP_DEVICE, EINVAL, path);
    const char *base = split_path(path, parent, sizeof parent);
    if (!base)
        shim_fail(SHIM_STEP_DEVICE, EINVAL, path);
    int d = mkdir_all_in_root(rootfd, parent, 0755);
    if (d < 0)
        shim_fail(SHIM_STEP_DEVICE, errno, path);

    if (req->flags & SHIM_F_DEV_BIND) {
        /* In a user namespace mknod is not allowed: bind the host's node onto an empty file. */
        if (mknodat(d, base, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
            shim_fail(SHIM_STEP_DEVICE, errno, path);
        int tfd = openat(d, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (tfd < 0 || fstat(tfd, &st) < 0)
            shim_fail(SHIM_STEP_DEVICE, errno, path);
        if (S_ISLNK(st.st_mode))
            shim_fail(SHIM_STEP_DEVICE, ELOOP, path);
        int sfd = open(path, O_PATH | O_CLOEXEC);
        if (sfd < 0)
            shim_fail(SHIM_STEP_DEVICE, errno, path);
        char spath[32], tpath[32];
        if (mount(shim_fd_path(sfd, spath), shim_fd_path(tfd, tpath), NULL, MS_BIND, NULL) < 0)
            shim_fail(SHIM_STEP_DEVICE, errno, path);
        close(sfd);
        close(tfd);
    } else {
        if (mknodat(d, base, dv->mode, makedev(dv->major, dv->minor)) < 0 && errno != EEXIST)
            shim_fail(SHIM_STEP_DEVICE, errno, path);
        if (fchownat(d, base, dv->uid, dv->gid, AT_SYMLINK_NOFOLLOW) < 0)
            shim_fail(SHIM_STEP_DEVICE, errno, path);
    }
    close(d);
}

/* ---- console ------------------------------------------------------------------------------------- */

void shim_setup_console(const struct shim_req *req, int rootfd, int sync_fd, int init_mode)
{
    int ptmx;
    if (rootfd >= 0)
        ptmx = shim_open_in_root(rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, RESOLVE_NO_SYMLINKS);
    else
        ptmx = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
    if (ptmx < 0)
        shim_fail(SHIM_STEP_CONSOLE, errno, "/dev/pts/ptmx");
    /* CVE-2025-52565 family: only a real devpts instance may hand out our terminal. */
    if (!is_magic(ptmx, DEVPTS_SUPER_MAGIC))
        shim_fail(SHIM_STEP_CONSOLE, EXDEV, "/dev/pts/ptmx");
    int unlock = 0;
    if (ioctl(ptmx, TIOCSPTLCK, &unlock) < 0)
        shim_fail(SHIM_STEP_TTY, errno, "TIOCSPTLCK");
    /* TIOCGPTPEER opens the slave through the master, never through a /dev/pts/N path that the
     * container could have replaced by a symlink (CVE-2025-52565). */
    int slave = ioctl(ptmx, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        shim_fail(SHIM_STEP_TTY, errno, "TIOCGPTPEER");
    if (req->has_console_size) {
        struct winsize ws = { .ws_row = req->console.rows, .ws_col = req->console.cols };
        if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
            shim_fail(SHIM_STEP_TTY, errno, "TIOCSWINSZ");
    }

    if (init_mode && rootfd >= 0) {
        /* /dev/console: an empty file created without following symlinks, with the slave bound on it. */
        int dev = mkdir_all_in_root(rootfd, "/dev", 0755);
        if (dev < 0)
            shim_fail(SHIM_STEP_CONSOLE, errno, "/dev");
        struct stat st;
        if (fstatat(dev, "console", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
            unlinkat(dev, "console", 0) < 0)
            shim_fail(SHIM_STEP_CONSOLE, errno, "/dev/console");
        int cfd = openat(dev, "console", O_CREAT | O_NOFOLLOW | O_PATH | O_CLOEXEC, 0600);
        if (cfd < 0 && (errno == EINVAL || errno == ENOENT)) {
            /* O_PATH ignores O_CREAT on some kernels: create first, then open. */
            if (mknodat(dev, "console", S_IFREG | 0600, 0) < 0 && errno != EEXIST)
                shim_fail(SHIM_STEP_CONSOLE, errno, "/dev/console");
            cfd = openat(dev, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        if (cfd < 0)
            shim_fail(SHIM_STEP_CONSOLE, errno, "/dev/console");
        char spath[32], cpath[32];
        if (mount(shim_fd_path(slave, spath), shim_fd_path(cfd, cpath), NULL, MS_BIND, NULL) < 0)
            shim_fail(SHIM_STEP_CONSOLE, errno, "/dev/console");
        close(cfd);
        close(dev);
    }

    /* We are a session leader without a terminal (setsid ran already): this makes it ours. */
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        shim_fail(SHIM_STEP_TTY, errno, "TIOCSCTTY");
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            shim_fail(SHIM_STEP_TTY, errno, "dup2");
    if (slave > 2)
        close(slave);
    struct shim_pid_msg pm = { .pid = 0 };
    if (shim_send_msg(sync_fd, SHIM_MSG_PTY, &pm, sizeof pm, ptmx) < 0)
        shim_fail(SHIM_STEP_TTY, errno, "send pty master");
    close(ptmx);
}

/* ---- root switch and the steps after it ------------------------------------------------------------ */

void shim_switch_root(const struct shim_req *req, int *rootfd)
{
    if (fchdir(*rootfd) < 0)
        shim_fail(SHIM_STEP_PIVOT_ROOT, errno, rootfs_path);
    if (req->flags & SHIM_F_NO_PIVOT) {
        /* For roots that cannot pivot (initramfs): move the mount over "/" and chroot into it. */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            shim_fail(SHIM_STEP_PIVOT_ROOT, errno, rootfs_path);
        if (chroot(".") < 0)
            shim_fail(SHIM_STEP_PIVOT_ROOT, errno, "chroot");
    } else {
        /* pivot_root(".", "."): the old root is stacked on top of the new one at the same place, so no
         * directory inside the rootfs is needed for it. Making it a slave first keeps the detach below
         * from propagating to the host's mounts; MNT_DETACH then drops the whole host tree. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            shim_fail(SHIM_STEP_PIVOT_ROOT, errno, rootfs_path);
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            shim_fail(SHIM_STEP_PIVOT_ROOT, errno, "old root");
        if (umount2(".", MNT_DETACH) < 0)
            shim_fail(SHIM_STEP_PIVOT_ROOT, errno, "old root");
    }
    if (chdir("/") < 0)
        shim_fail(SHIM_STEP_PIVOT_ROOT, errno, "/");
    close(*rootfd);
    *rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*rootfd < 0)
        shim_fail(SHIM_STEP_PIVOT_ROOT, errno, "/");
}

/* <linux/mount.h> clashes with glibc's <sys/mount.h> on glibc 2.36, so the few mount_setattr(2)
 * definitions are spelled out here (values from the kernel UAPI). */
struct shim_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#define SHIM_MOUNT_ATTR_RDONLY 0x00000001ull
#define SHIM_MOUNT_ATTR_NOSUID 0x00000002ull
#define SHIM_MOUNT_ATTR_NODEV 0x00000004ull
#define SHIM_MOUNT_ATTR_NOEXEC 0x00000008ull
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

static void readonly_path(int rootfd, const char *path)
{
    char fpath[32];
    int fd = open_masked(rootfd, path, O_PATH);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        shim_fail(SHIM_STEP_READONLY_PATH, errno, path);
    }
    fd_path(fd, fpath);
    if (mount(fpath, fpath, NULL, MS_BIND | MS_REC, NULL) < 0)
        shim_fail(SHIM_STEP_READONLY_PATH, errno, path);
    close(fd);
    int top = open_masked(rootfd, path, O_PATH);
    if (top < 0)
        shim_fail(SHIM_STEP_READONLY_PATH, errno, path);
    /* mount_setattr with AT_RECURSIVE makes the whole subtree read-only, including mounts below the
     * path (a remount only reaches the top one), and it only adds flags, so the flags a user namespace
     * locks are kept without having to restate them. Kernels before 5.12 get the remount. */
    struct shim_mount_attr attr = {
        .attr_set = SHIM_MOUNT_ATTR_RDONLY | SHIM_MOUNT_ATTR_NOSUID | SHIM_MOUNT_ATTR_NODEV | SHIM_MOUNT_ATTR_NOEXEC,
    };
    if (syscall(SYS_mount_setattr, top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            shim_fail(SHIM_STEP_READONLY_PATH, errno, path);
        unsigned long want = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (mount(NULL, fd_path(top, fpath), NULL, MS_BIND | MS_REMOUNT | want | mount_flags_of(top, 0),
                  NULL) < 0)
            shim_fail(SHIM_STEP_READONLY_PATH, errno, path);
    }
    close(top);
}

/* CVE-2025-31133: masking binds /dev/null over a file. If the container swapped its /dev/null for a
 * symlink to, say, /proc/sys/kernel/core_pattern, a path-based bind would expose that file read-write
 * instead of hiding one. /dev/null is opened without symlinks and must be the 1:3 character device. */
static int open_dev_null(int rootfd)
{
    int fd = shim_open_in_root(rootfd, "/dev/null", O_PATH, RESOLVE_NO_SYMLINKS);
    if (fd < 0)
        shim_fail(SHIM_STEP_MASK_PATH, errno, "/dev/null");
    struct stat st;
    if (fstat(fd, &st) < 0)
        shim_fail(SHIM_STEP_MASK_PATH, errno, "/dev/null");
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
        shim_fail(SHIM_STEP_MASK_PATH, ENODEV, "/dev/null is not the null device");
    return fd;
}

static void mask_path(int rootfd, const char *path, int *nullfd)
{
    char fpath[32], npath[32];
    int fd = open_masked(rootfd, path, O_PATH);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        shim_fail(SHIM_STEP_MASK_PATH, errno, path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        shim_fail(SHIM_STEP_MASK_PATH, errno, path);
    fd_path(fd, fpath);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", fpath, "tmpfs", MS_RDONLY, NULL) < 0)
            shim_fail(SHIM_STEP_MASK_PATH, errno, path);
    } else {
        if (*nullfd < 0)
            *nullfd = open_dev_null(rootfd);
        if (mount(fd_path(*nullfd, npath), fpath, NULL, MS_BIND, NULL) < 0)
            shim_fail(SHIM_STEP_MASK_PATH, errno, path);
    }
    close(fd);
}

void shim_finish_rootfs(const struct shim_req *req, int rootfd)
{
    if (special_fd[0] >= 0) {
        if (fchdir(special_fd[0]) < 0)
            shim_fail(SHIM_STEP_MASK_PATH, errno, "/proc");
        fd_paths_from_proc = 1;
    }
    for (uint32_t i = 0; i < req->nro; i++)
        readonly_path(rootfd, req->ro[i]);
    int nullfd = -1;
    for (uint32_t i = 0; i < req->nmask; i++)
        mask_path(rootfd, req->mask[i], &nullfd);
    if (nullfd >= 0)
        close(nullfd);
    if (fd_paths_from_proc) {
        fd_paths_from_proc = 0;
        if (chdir("/") < 0)
            shim_fail(SHIM_STEP_MASK_PATH, errno, "/");
    }
    for (int i = 0; i < 2; i++) {
        if (special_fd[i] >= 0)
            close(special_fd[i]);
        special_fd[i] = -1;
    }
    if (req->flags & SHIM_F_READONLY_ROOTFS) {
        int top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        unsigned long locked = top >= 0 ? mount_flags_of(top, 0) : 0;
        if (top >= 0)
            close(top);
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked, NULL) < 0)
            shim_fail(SHIM_STEP_READONLY_ROOT, errno, "/");
    }
}

/* CVE-2025-52881: a sysctl write must land in procfs and nowhere else. /proc is opened without symlinks
 * and checked to be procfs, then each key is opened beneath it without symlinks, magic links or mount
 * crossings, and the opened file is checked again. */
void shim_write_sysctls(const struct shim_req *req, int rootfd)
{
    if (req->nsysctls == 0)
        return;
    int own_root = -1;
    if (rootfd < 0) {
        own_root = rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
            shim_fail(SHIM_STEP_SYSCTL, errno, "/");
    }
    int proc = shim_open_in_root(rootfd, "/proc", O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
    if (proc < 0)
        shim_fail(SHIM_STEP_SYSCTL, errno, "/proc");
    if (!is_magic(proc, PROC_SUPER_MAGIC))
        shim_fail(SHIM_STEP_SYSCTL, EXDEV, "/proc");
    for (uint32_t i = 0; i < req->nsysctls; i++) {
        static char rel[4096];
        const char *key = req->sysctls[i].key, *value = req->sysctls[i].value;
        shim_strlcpy(rel, "sys/", sizeof rel);
        if (shim_strlcat(rel, key, sizeof rel) >= sizeof rel - 1)
            shim_fail(SHIM_STEP_SYSCTL, ENAMETOOLONG, key);
        struct open_how how = {
            .flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd;
        do {
            fd = syscall(SYS_openat2, proc, rel, &how, sizeof how);
        } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
        if (fd < 0)
            shim_fail(SHIM_STEP_SYSCTL, errno, key);
        if (!is_magic((int)fd, PROC_SUPER_MAGIC))
            shim_fail(SHIM_STEP_SYSCTL, EXDEV, key);
        if (shim_write_all((int)fd, value, strlen(value)) < 0)
            shim_fail2(SHIM_STEP_SYSCTL, errno, key, NULL);
        close((int)fd);
    }
    close(proc);
    if (own_root >= 0)
        close(own_root);
}
