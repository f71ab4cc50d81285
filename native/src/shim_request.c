/*
 * shim_request.c: the bounds-checked parser of the request blob (layout in supervisor_shim.h).
 *
 * The blob comes from the runtime over the control socket. It is trusted in origin but parsed as if it
 * were not: every length is checked against the buffer, every string must end with its NUL inside its
 * record, a record must be consumed exactly, padding must be zero, and unknown tags are an error. A bug
 * on the managed side therefore shows up as a parse error, never as the shim reading past a record.
 * This runs in the shim before any fork, so snprintf is fine here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"

struct cursor {
    const unsigned char *p;
    size_t left;
};

static int take(struct cursor *c, void *dst, size_t n)
{
    if (c->left < n)
        return -1;
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int take_str(struct cursor *c, const char **out)
{
    const void *nul = memchr(c->p, '\0', c->left);
    if (!nul)
        return -1;
    size_t n = (size_t)((const unsigned char *)nul - c->p) + 1;
    *out = (const char *)c->p;
    c->p += n;
    c->left -= n;
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

#define ONCE(flag)                                                                                   \
    do {                                                                                             \
        if (flag)                                                                                    \
            return fail(err, errlen, "record %u: tag %u repeated", index, tag);                     \
        flag = 1;                                                                                    \
    } while (0)

/* Parses one record's payload. Returns 0, or -1 with err filled. */
static int parse_record(struct shim_req *r, uint32_t index, uint16_t tag, struct cursor *c, char *err,
                        size_t errlen, unsigned *seen)
{
    const char *s1, *s2;
#define STR(out)                                                                                     \
    do {                                                                                             \
        if (take_str(c, &(out)))                                                                     \
            return fail(err, errlen, "record %u (tag %u): string without NUL", index, tag);         \
    } while (0)
#define FIXED(dst)                                                                                   \
    do {                                                                                             \
        if (take(c, &(dst), sizeof(dst)))                                                            \
            return fail(err, errlen, "record %u (tag %u): payload too short", index, tag);          \
    } while (0)
#define FULL(cap, n, what)                                                                           \
    do {                                                                                             \
        if ((n) >= (cap))                                                                            \
            return fail(err, errlen, "record %u: too many %s (max %u)", index, what, (unsigned)(cap)); \
    } while (0)

    switch (tag) {
    case SHIM_T_ARG:
        FULL(SHIM_MAX_ARGS, r->nargs, "args");
        STR(r->args[r->nargs]);
        r->nargs++;
        break;
    case SHIM_T_ENV:
        FULL(SHIM_MAX_ENV, r->nenv, "env entries");
        STR(r->env[r->nenv]);
        r->nenv++;
        break;
    case SHIM_T_CWD:
        ONCE(seen[0]);
        STR(r->cwd);
        break;
    case SHIM_T_ROOTFS:
        ONCE(seen[1]);
        STR(r->rootfs);
        break;
    case SHIM_T_STATE_DIR:
        ONCE(seen[2]);
        STR(r->state_dir);
        break;
    case SHIM_T_HOSTNAME:
        ONCE(seen[3]);
        STR(r->hostname);
        break;
    case SHIM_T_DOMAINNAME:
        ONCE(seen[4]);
        STR(r->domainname);
        break;
    case SHIM_T_FLAGS:
        ONCE(seen[5]);
        FIXED(r->flags);
        break;
    case SHIM_T_NAMESPACE: {
        struct shim_namespace ns;
        FULL(SHIM_MAX_NS, r->nns, "namespaces");
        FIXED(ns);
        STR(s1);
        r->ns[r->nns].clone_flag = ns.clone_flag;
        r->ns[r->nns].path = s1;
        r->nns++;
        break;
    }
    case SHIM_T_USER:
        ONCE(r->has_user);
        FIXED(r->user);
        if (r->user.ngroups > 65536u || c->left != (size_t)r->user.ngroups * 4u)
            return fail(err, errlen, "record %u: user: %u groups do not match the length", index,
                        r->user.ngroups);
        r->gids = (const uint32_t *)c->p; /* 4-byte aligned: records are 8-aligned, the struct is 16 */
        c->p += c->left;
        c->left = 0;
        break;
    case SHIM_T_CAPS:
        ONCE(r->has_caps);
        FIXED(r->caps);
        break;
    case SHIM_T_RLIMIT:
        FULL(SHIM_MAX_RLIMITS, r->nrlimits, "rlimits");
        FIXED(r->rlimits[r->nrlimits]);
        r->nrlimits++;
        break;
    case SHIM_T_OOM_SCORE_ADJ:
        ONCE(r->has_oom);
        FIXED(r->oom_score_adj);
        break;
    case SHIM_T_SYSCTL:
        FULL(SHIM_MAX_SYSCTLS, r->nsysctls, "sysctls");
        STR(s1);
        STR(s2);
        r->sysctls[r->nsysctls].key = s1;
        r->sysctls[r->nsysctls].value = s2;
        r->nsysctls++;
        break;
    case SHIM_T_MOUNT: {
        FULL(SHIM_MAX_OPS, r->nops, "rootfs operations");
        struct shim_op *op = &r->ops[r->nops];
        op->tag = tag;
        FIXED(op->u.mount.hdr);
        STR(op->u.mount.source);
        STR(op->u.mount.dest);
        STR(op->u.mount.fstype);
        STR(op->u.mount.data);
        if (op->u.mount.hdr.kind != SHIM_MOUNT_FS && op->u.mount.hdr.kind != SHIM_MOUNT_BIND)
            return fail(err, errlen, "record %u: unknown mount kind %u", index, op->u.mount.hdr.kind);
        r->nops++;
        break;
    }
    case SHIM_T_DEVICE: {
        FULL(SHIM_MAX_OPS, r->nops, "rootfs operations");
        struct shim_op *op = &r->ops[r->nops];
        op->tag = tag;
        FIXED(op->u.device.hdr);
        STR(op->u.device.path);
        r->nops++;
        break;
    }
    case SHIM_T_SYMLINK: {
        FULL(SHIM_MAX_OPS, r->nops, "rootfs operations");
        struct shim_op *op = &r->ops[r->nops];
        op->tag = tag;
        STR(op->u.symlink.target);
        STR(op->u.symlink.link);
        r->nops++;
        break;
    }
    case SHIM_T_MKDIR: {
        FULL(SHIM_MAX_OPS, r->nops, "rootfs operations");
        struct shim_op *op = &r->ops[r->nops];
        struct shim_mkdir mk;
        op->tag = tag;
        FIXED(mk);
        op->u.mkdir.mode = mk.mode;
        STR(op->u.mkdir.path);
        r->nops++;
        break;
    }
    case SHIM_T_MASK_PATH:
        FULL(SHIM_MAX_PATHS, r->nmask, "masked paths");
        STR(r->mask[r->nmask]);
        r->nmask++;
        break;
    case SHIM_T_READONLY_PATH:
        FULL(SHIM_MAX_PATHS, r->nro, "readonly paths");
        STR(r->ro[r->nro]);
        r->nro++;
        break;
    case SHIM_T_ROOT_PROPAGATION:
        ONCE(seen[6]);
        FIXED(r->root_propagation);
        break;
    case SHIM_T_SECCOMP: {
        struct shim_seccomp sc;
        ONCE(r->has_seccomp);
        FIXED(sc);
        if (sc.count == 0 || sc.count > 4096u || c->left != (size_t)sc.count * 8u)
            return fail(err, errlen, "record %u: seccomp: %u instructions do not match the length", index,
                        sc.count);
        r->seccomp_flags = sc.flags;
        r->seccomp_count = sc.count;
        r->seccomp_filter = c->p;
        c->p += c->left;
        c->left = 0;
        break;
    }
    case SHIM_T_PRESERVE_FDS:
        ONCE(seen[7]);
        FIXED(r->preserve_fds);
        if (r->preserve_fds > 65536u)
            return fail(err, errlen, "record %u: preserve_fds %u out of range", index, r->preserve_fds);
        break;
    case SHIM_T_PDEATHSIG:
        ONCE(seen[8]);
        FIXED(r->pdeathsig);
        if (r->pdeathsig < 0 || r->pdeathsig > 64)
            return fail(err, errlen, "record %u: pdeathsig %d out of range", index, r->pdeathsig);
        break;
    case SHIM_T_CONSOLE_SIZE:
        ONCE(r->has_console_size);
        FIXED(r->console);
        break;
    default:
        return fail(err, errlen, "record %u: unknown tag %u", index, tag);
    }
    if (c->left != 0)
        return fail(err, errlen, "record %u (tag %u): %zu unexpected trailing bytes", index, tag, c->left);
    return 0;
#undef STR
#undef FIXED
#undef FULL
}

int shim_parse_request(const void *buf, size_t len, struct shim_req *r, char *err, size_t errlen)
{
    const unsigned char *base = buf;
    struct shim_request_header h;
    unsigned seen[9] = { 0 };

    memset(r, 0, sizeof *r);
    if (len < sizeof h)
        return fail(err, errlen, "request of %zu bytes is shorter than its header", len);
    memcpy(&h, base, sizeof h);
    if (h.magic != SHIM_REQUEST_MAGIC)
        return fail(err, errlen, "bad magic 0x%08x", h.magic);
    if (h.abi_version != SHIM_ABI_VERSION)
        return fail(err, errlen, "ABI version %u, this shim speaks %u", h.abi_version, SHIM_ABI_VERSION);
    if (h.mode != SHIM_MODE_INIT && h.mode != SHIM_MODE_EXEC && h.mode != SHIM_MODE_RESTORE)
        return fail(err, errlen, "unknown mode %u", h.mode);
    if (h.total_length != len)
        return fail(err, errlen, "total_length %u but %zu bytes received", h.total_length, len);
    r->mode = h.mode;

    size_t off = sizeof h;
    uint32_t index = 0;
    while (off < len) {
        struct shim_record_header rh;
        if (len - off < sizeof rh)
            return fail(err, errlen, "record %u: truncated header", index);
        memcpy(&rh, base + off, sizeof rh);
        off += sizeof rh;
        if (rh.reserved != 0)
            return fail(err, errlen, "record %u: reserved field is %u", index, rh.reserved);
        if (rh.length > len - off)
            return fail(err, errlen, "record %u (tag %u): length %u runs past the end", index, rh.tag,
                        rh.length);
        size_t padded = ((size_t)rh.length + 7u) & ~(size_t)7u;
        if (padded > len - off)
            return fail(err, errlen, "record %u (tag %u): padding runs past the end", index, rh.tag);
        for (size_t i = rh.length; i < padded; i++)
            if (base[off + i] != 0)
                return fail(err, errlen, "record %u (tag %u): non-zero padding", index, rh.tag);
        struct cursor c = { .p = base + off, .left = rh.length };
        if (parse_record(r, index, rh.tag, &c, err, errlen, seen))
            return -1;
        off += padded;
        index++;
    }
    if (index != h.record_count)
        return fail(err, errlen, "record_count %u but %u records present", h.record_count, index);
    if (r->nargs == 0)
        return fail(err, errlen, "no args");
    if ((r->flags & SHIM_F_SETUP_ROOTFS) && (!r->rootfs || r->rootfs[0] != '/'))
        return fail(err, errlen, "SETUP_ROOTFS needs an absolute rootfs path");
    if (r->mode == SHIM_MODE_EXEC && (r->flags & (SHIM_F_SETUP_ROOTFS | SHIM_F_WAIT_START)))
        return fail(err, errlen, "exec mode cannot set up a rootfs or wait for start");
    /* In restore mode CRIU recreates namespaces, mounts and the terminal from its images. */
    if (r->mode == SHIM_MODE_RESTORE &&
        (r->nns || (r->flags & (SHIM_F_SETUP_ROOTFS | SHIM_F_WAIT_START | SHIM_F_TERMINAL))))
        return fail(err, errlen, "restore mode takes no namespaces, rootfs setup, terminal or wait for start");
    if (r->mode == SHIM_MODE_RESTORE && r->args[0][0] != '/')
        return fail(err, errlen, "restore mode needs the absolute path of criu as its first arg");
    if (r->state_dir && r->state_dir[0] != '/')
        return fail(err, errlen, "state dir must be absolute");
    if (!r->cwd)
        r->cwd = "/";
    r->args[r->nargs] = NULL;
    r->env[r->nenv] = NULL;
    return 0;
}
