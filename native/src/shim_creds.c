/*
 * shim_creds.c: rlimits, oom_score_adj, user and groups, capabilities, no_new_privs and seccomp.
 *
 * Credentials are changed with raw system calls: glibc's wrappers broadcast id changes to all threads
 * through its own signal machinery, which is meaningless (and not async-signal-safe) in a child created
 * by a raw clone. C2 is single-threaded, so the per-thread kernel calls are exactly what is wanted.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"

unsigned shim_cap_last_cap = CAP_LAST_CAP;

/* Read in the shim before forking, from the host's /proc. */
void shim_read_cap_last_cap(void)
{
    char buf[16];
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = shim_read_full(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    unsigned v = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
        v = v * 10 + (unsigned)(buf[i] - '0');
    if (v > 0 && v < 64)
        shim_cap_last_cap = v;
}

void shim_set_rlimits(const struct shim_req *req)
{
    for (uint32_t i = 0; i < req->nrlimits; i++) {
        struct rlimit rl = { .rlim_cur = req->rlimits[i].soft, .rlim_max = req->rlimits[i].hard };
        if (prlimit(0, (__rlimit_resource_t)req->rlimits[i].resource, &rl, NULL) < 0)
            shim_fail_num(SHIM_STEP_RLIMIT, errno, "rlimit ", req->rlimits[i].resource);
    }
}

void shim_set_oom_score_adj(const struct shim_req *req)
{
    if (!req->has_oom)
        return;
    char num[24];
    int32_t v = req->oom_score_adj;
    if (v < 0) {
        num[0] = '-';
        shim_utoa((unsigned long long)(-(long long)v), num + 1);
    } else {
        shim_utoa((unsigned long long)v, num);
    }
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        shim_fail(SHIM_STEP_OOM_SCORE_ADJ, errno, "/proc/self/oom_score_adj");
    if (shim_write_all(fd, num, __builtin_strlen(num)) < 0)
        shim_fail(SHIM_STEP_OOM_SCORE_ADJ, errno, num);
    close(fd);
}

/* The container's stdio was opened by the caller; a non-root user must still be able to use it (e.g.
 * reopen /proc/self/fd/1). /dev/null is left alone. Errors are ignored like runc does: a pipe owned by
 * an unmapped user cannot be chowned and is still usable through the inherited fd. */
static void fix_stdio_owner(uint32_t uid, uint32_t gid)
{
    for (int fd = 0; fd < 3; fd++) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            continue;
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
            continue;
        if (st.st_uid == uid && st.st_gid == gid)
            continue;
        (void)fchown(fd, uid, gid);
    }
}

static void capset_all(const struct shim_caps *c)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2] = {
        { .effective = (uint32_t)c->effective, .permitted = (uint32_t)c->permitted,
          .inheritable = (uint32_t)c->inheritable },
        { .effective = (uint32_t)(c->effective >> 32), .permitted = (uint32_t)(c->permitted >> 32),
          .inheritable = (uint32_t)(c->inheritable >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) < 0)
        shim_fail(SHIM_STEP_CAPS, errno, "capset");
}

void shim_set_identity(const struct shim_req *req)
{
    uint32_t uid = req->has_user ? req->user.uid : 0, gid = req->has_user ? req->user.gid : 0;

    if (req->has_user) {
        long r = syscall(SYS_setgroups, (size_t)req->user.ngroups, req->gids);
        /* In a user namespace with /proc/<pid>/setgroups = deny, setgroups fails with EPERM; an empty
         * list then asks for nothing that could be refused. */
        if (r < 0 && !(req->user.ngroups == 0 && errno == EPERM))
            shim_fail(SHIM_STEP_SETGROUPS, errno, "setgroups");
        if (uid != 0)
            fix_stdio_owner(uid, gid);
    }

    if (req->has_caps) {
        /* The bounding set limits what any later execve (setuid or file-capability binaries) can gain;
         * it can only shrink, and only while we still hold CAP_SETPCAP. */
        for (unsigned cap = 0; cap <= shim_cap_last_cap; cap++) {
            if (req->caps.bounding & (1ull << cap))
                continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                shim_fail_num(SHIM_STEP_CAPS, errno, "drop bounding cap ", cap);
        }
        /* Keep the permitted set across the uid change below; capset then trims it. */
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            shim_fail(SHIM_STEP_CAPS, errno, "PR_SET_KEEPCAPS");
    }

    if (req->has_user) {
        if (syscall(SYS_setresgid, gid, gid, gid) < 0)
            shim_fail_num(SHIM_STEP_SETGID, errno, "gid ", gid);
        if (syscall(SYS_setresuid, uid, uid, uid) < 0)
            shim_fail_num(SHIM_STEP_SETUID, errno, "uid ", uid);
    }

    if (req->has_caps) {
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            shim_fail(SHIM_STEP_CAPS, errno, "PR_SET_KEEPCAPS");
        capset_all(&req->caps);
        /* Ambient capabilities survive execve of ordinary binaries for a non-root user. They are only
         * ever set when asked for (CVE-2022-29162 was about giving more than asked). */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            shim_fail(SHIM_STEP_CAPS, errno, "clear ambient caps");
        for (unsigned cap = 0; cap <= shim_cap_last_cap; cap++) {
            if (!(req->caps.ambient & (1ull << cap)))
                continue;
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                shim_fail_num(SHIM_STEP_CAPS, errno, "raise ambient cap ", cap);
        }
    }
}

void shim_no_new_privs(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        shim_fail(SHIM_STEP_NO_NEW_PRIVS, errno, "PR_SET_NO_NEW_PRIVS");
}

void shim_load_seccomp(const struct shim_req *req)
{
    struct sock_fprog prog = {
        .len = (unsigned short)req->seccomp_count,
        .filter = (struct sock_filter *)req->seccomp_filter,
    };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, req->seccomp_flags, &prog) < 0)
        shim_fail(SHIM_STEP_SECCOMP, errno, "seccomp");
}
