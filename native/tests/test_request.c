/* Unit tests of the request parser: one good request and the malformed cases that must be rejected. */
#include <stdio.h>
#include <string.h>

#include "shim.h"

static uint64_t buf_storage[4096];
static unsigned char *const buf = (unsigned char *)buf_storage;
static size_t len;
static uint32_t records;
static struct shim_req req;
static int failures;

static void begin(uint16_t mode)
{
    memset(buf_storage, 0, sizeof buf_storage);
    len = sizeof(struct shim_request_header);
    records = 0;
    struct shim_request_header h = { .magic = SHIM_REQUEST_MAGIC, .abi_version = SHIM_ABI_VERSION, .mode = mode };
    memcpy(buf, &h, sizeof h);
}

static void record(uint16_t tag, const void *a, size_t alen, const void *b, size_t blen)
{
    struct shim_record_header rh = { .tag = tag, .length = (uint32_t)(alen + blen) };
    memcpy(buf + len, &rh, sizeof rh);
    len += sizeof rh;
    if (alen)
        memcpy(buf + len, a, alen);
    if (blen)
        memcpy(buf + len + alen, b, blen);
    len += (alen + blen + 7) & ~(size_t)7;
    records++;
}

static void str(uint16_t tag, const char *s)
{
    record(tag, s, strlen(s) + 1, NULL, 0);
}

static void finish(void)
{
    struct shim_request_header h;
    memcpy(&h, buf, sizeof h);
    h.total_length = (uint32_t)len;
    h.record_count = records;
    memcpy(buf, &h, sizeof h);
}

static int parse(char *err, size_t cap)
{
    return shim_parse_request(buf, len, &req, err, cap);
}

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                \
            failures++;                                                                              \
        }                                                                                            \
    } while (0)

static void expect_error(const char *name, const char *fragment)
{
    char err[256] = "";
    int r = parse(err, sizeof err);
    if (r == 0 || !strstr(err, fragment)) {
        fprintf(stderr, "%s: expected an error containing \"%s\", got %d \"%s\"\n", name, fragment, r, err);
        failures++;
    }
}

static void good_request(void)
{
    begin(SHIM_MODE_INIT);
    str(SHIM_T_ARG, "/bin/sh");
    str(SHIM_T_ARG, "-c");
    str(SHIM_T_ENV, "PATH=/bin");
    str(SHIM_T_CWD, "/tmp");
    str(SHIM_T_ROOTFS, "/var/lib/rootfs");
    uint64_t flags = SHIM_F_SETUP_ROOTFS | SHIM_F_WAIT_START;
    record(SHIM_T_FLAGS, &flags, 8, NULL, 0);
    struct shim_namespace ns = { .clone_flag = 0x20000000 };
    record(SHIM_T_NAMESPACE, &ns, sizeof ns, "", 1);
    struct shim_user u = { .uid = 1000, .gid = 1000, .umask = SHIM_UMASK_UNSET, .ngroups = 2 };
    uint32_t gids[2] = { 29, 2000 };
    record(SHIM_T_USER, &u, sizeof u, gids, sizeof gids);
    struct shim_mount m = { .kind = SHIM_MOUNT_FS, .flags = 14 };
    record(SHIM_T_MOUNT, &m, sizeof m, "proc\0/proc\0proc\0", 17);
    struct shim_mkdir mk = { .mode = 0755 };
    record(SHIM_T_MKDIR, &mk, sizeof mk, "/dev/pts", 9);
    record(SHIM_T_SYMLINK, "pts/ptmx\0/dev/ptmx", 19, NULL, 0);
    record(SHIM_T_SYSCTL, "net/ipv4/ip_forward\0" "1", 22, NULL, 0);
    struct shim_seccomp sc = { .flags = 0, .count = 1 };
    uint64_t insn = 0x7fff000000000006ull;
    record(SHIM_T_SECCOMP, &sc, sizeof sc, &insn, 8);
    finish();

    char err[256] = "";
    int r = parse(err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "good request rejected: %s\n", err);
        failures++;
        return;
    }
    CHECK(req.mode == SHIM_MODE_INIT);
    CHECK(req.nargs == 2 && strcmp(req.args[0], "/bin/sh") == 0 && req.args[2] == NULL);
    CHECK(req.nenv == 1 && strcmp(req.env[0], "PATH=/bin") == 0 && req.env[1] == NULL);
    CHECK(strcmp(req.cwd, "/tmp") == 0);
    CHECK(req.flags == flags);
    CHECK(req.nns == 1 && req.ns[0].clone_flag == 0x20000000 && req.ns[0].path[0] == '\0');
    CHECK(req.has_user && req.user.uid == 1000 && req.user.ngroups == 2 && req.gids[1] == 2000);
    CHECK(req.nops == 3);
    CHECK(req.ops[0].tag == SHIM_T_MOUNT && strcmp(req.ops[0].u.mount.dest, "/proc") == 0 &&
          strcmp(req.ops[0].u.mount.fstype, "proc") == 0 && req.ops[0].u.mount.data[0] == '\0');
    CHECK(req.ops[1].tag == SHIM_T_MKDIR && req.ops[1].u.mkdir.mode == 0755);
    CHECK(req.ops[2].tag == SHIM_T_SYMLINK && strcmp(req.ops[2].u.symlink.link, "/dev/ptmx") == 0);
    CHECK(req.nsysctls == 1 && strcmp(req.sysctls[0].key, "net/ipv4/ip_forward") == 0 && strcmp(req.sysctls[0].value, "1") == 0);
    CHECK(req.has_seccomp && req.seccomp_count == 1);
}

int main(void)
{
    good_request();

    begin(SHIM_MODE_EXEC);
    str(SHIM_T_ARG, "true");
    finish();
    len -= 4; /* the last record loses its padding and part of its string */
    {
        struct shim_request_header h;
        memcpy(&h, buf, sizeof h);
        h.total_length = (uint32_t)len;
        memcpy(buf, &h, sizeof h);
    }
    expect_error("truncated record", "past the end");

    begin(SHIM_MODE_EXEC);
    str(SHIM_T_ARG, "true");
    finish();
    buf[0] ^= 0xff;
    expect_error("bad magic", "bad magic");

    begin(SHIM_MODE_EXEC);
    str(SHIM_T_ARG, "true");
    finish();
    buf[4] = SHIM_ABI_VERSION + 1;
    expect_error("bad version", "ABI version");

    begin(SHIM_MODE_EXEC);
    str(SHIM_T_ARG, "true");
    str(999, "x");
    finish();
    expect_error("unknown tag", "unknown tag 999");

    begin(SHIM_MODE_EXEC);
    str(SHIM_T_ARG, "true");
    record(SHIM_T_CWD, "abcdefgh", 8, NULL, 0);
    finish();
    expect_error("missing NUL", "without NUL");

    begin(SHIM_MODE_EXEC);
    str(SHIM_T_ARG, "true");
    finish();
    {
        struct shim_request_header h;
        memcpy(&h, buf, sizeof h);
        h.record_count = 2;
        memcpy(buf, &h, sizeof h);
    }
    expect_error("record count", "record_count");

    begin(SHIM_MODE_EXEC);
    uint32_t u32 = 7;
    record(SHIM_T_FLAGS, &u32, 4, NULL, 0);
    finish();
    expect_error("short fixed payload", "too short");

    begin(SHIM_MODE_EXEC);
    finish();
    expect_error("no args", "no args");

    /* Restore mode: criu's argv and env, its socket as the one preserved fd. */
    begin(SHIM_MODE_RESTORE);
    str(SHIM_T_ARG, "/opt/criu/bin/criu");
    str(SHIM_T_ARG, "swrk");
    str(SHIM_T_ARG, "3");
    str(SHIM_T_ENV, "PATH=/usr/bin");
    str(SHIM_T_STATE_DIR, "/run/supervisor/c1");
    u32 = 1;
    record(SHIM_T_PRESERVE_FDS, &u32, 4, NULL, 0);
    finish();
    {
        char err[256] = "";
        CHECK(parse(err, sizeof err) == 0);
        CHECK(req.mode == SHIM_MODE_RESTORE);
        CHECK(req.nargs == 3 && strcmp(req.args[1], "swrk") == 0 && req.args[3] == NULL);
        CHECK(req.preserve_fds == 1);
        CHECK(req.state_dir && strcmp(req.state_dir, "/run/supervisor/c1") == 0);
    }

    begin(SHIM_MODE_RESTORE);
    str(SHIM_T_ARG, "criu");
    finish();
    expect_error("restore with a relative criu", "absolute path of criu");

    begin(SHIM_MODE_RESTORE);
    str(SHIM_T_ARG, "/usr/sbin/criu");
    {
        uint64_t flags = SHIM_F_WAIT_START;
        record(SHIM_T_FLAGS, &flags, 8, NULL, 0);
    }
    finish();
    expect_error("restore waiting for start", "restore mode takes no namespaces");

    begin(4);
    str(SHIM_T_ARG, "/bin/true");
    finish();
    expect_error("unknown mode", "unknown mode 4");

    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("request parser: all checks passed\n");
    return 0;
}
