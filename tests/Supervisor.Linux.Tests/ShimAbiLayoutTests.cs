using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

/// <summary>Compiles the real header with gcc and compares sizes, offsets and enum values with ShimAbi.</summary>
public class ShimAbiLayoutTests
{
    private static readonly Lazy<Dictionary<string, long>> Native = new(Compile);

    private static Dictionary<string, long> Compile()
    {
        var header = Path.Combine(ShimTestEnvironment.RepoRoot, "native", "include");
        var dir = ShimTestEnvironment.TempDir("shim-abi");
        try
        {
            var src = Path.Combine(dir, "abi.c");
            // Every managed enum member must name a C constant (gcc fails otherwise) with the same value.
            var generated = string.Concat(
                Enum.GetNames<ShimMessage>().Select(n => $"V(SHIM_MSG_{Snake(n)});")
                    .Concat(Enum.GetNames<ShimTag>().Select(n => $"V(SHIM_T_{Snake(n)});"))
                    .Concat(Enum.GetNames<ShimStep>().Select(n => $"V(SHIM_STEP_{Snake(n)});"))
                    .Concat(Enum.GetNames<ShimFlags>().Where(n => n != "None").Select(n => $"V(SHIM_F_{Snake(n)});")));
            File.WriteAllText(src, """
                #include <stddef.h>
                #include <stdio.h>
                #include "supervisor_shim.h"
                #define S(t) printf("sizeof %s %zu\n", #t, sizeof(struct t))
                #define O(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(struct t, f))
                #define V(n) printf("value %s %lld\n", #n, (long long)(n))
                int main(void) {
                    S(shim_msg_header); S(shim_pid_msg); S(shim_exit_msg); S(shim_error); S(shim_request_header);
                    S(shim_record_header); S(shim_namespace); S(shim_user); S(shim_caps); S(shim_rlimit);
                    S(shim_mount); S(shim_device); S(shim_seccomp); S(shim_console_size); S(shim_mkdir);
                    O(shim_request_header, magic); O(shim_request_header, abi_version); O(shim_request_header, mode);
                    O(shim_request_header, total_length); O(shim_request_header, record_count);
                    O(shim_record_header, tag); O(shim_record_header, reserved); O(shim_record_header, length);
                    O(shim_error, step); O(shim_error, errnum); O(shim_error, detail);
                    O(shim_exit_msg, pid); O(shim_exit_msg, wait_status);
                    O(shim_user, uid); O(shim_user, gid); O(shim_user, umask); O(shim_user, ngroups);
                    O(shim_caps, bounding); O(shim_caps, effective); O(shim_caps, permitted); O(shim_caps, inheritable); O(shim_caps, ambient);
                    O(shim_rlimit, resource); O(shim_rlimit, soft); O(shim_rlimit, hard);
                    O(shim_mount, kind); O(shim_mount, dest_is_file); O(shim_mount, flags); O(shim_mount, clear_flags); O(shim_mount, propagation);
                    O(shim_device, mode); O(shim_device, uid); O(shim_device, gid); O(shim_device, major); O(shim_device, minor);
                    O(shim_seccomp, flags); O(shim_seccomp, count); O(shim_console_size, rows); O(shim_console_size, cols);
                    O(shim_mkdir, mode);
                    V(SHIM_ABI_VERSION); V(SHIM_REQUEST_MAGIC); V(SHIM_MAX_REQUEST); V(SHIM_ERROR_DETAIL); V(SHIM_UMASK_UNSET);
                    V(SHIM_MODE_INIT); V(SHIM_MODE_EXEC); V(SHIM_MODE_RESTORE); V(SHIM_MOUNT_FS); V(SHIM_MOUNT_BIND);
                    GENERATED
                    return 0;
                }
                """.Replace("GENERATED", generated));
            var exe = Path.Combine(dir, "abi");
            var (code, _, err) = ShimTestEnvironment.Run("gcc", "-Wall", "-Werror", "-I", header, "-o", exe, src);
            Assert.True(code == 0, "gcc failed: " + err);
            var (rc, output, _) = ShimTestEnvironment.Run(exe);
            Assert.Equal(0, rc);
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' '))
                .ToDictionary(p => p[0] + " " + p[1], p => long.Parse(p[2]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>SetIdsInUserns → SET_IDS_IN_USERNS.</summary>
    private static string Snake(string name) =>
        string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    private static long N(string key) => Native.Value.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);

    [Fact]
    public void Struct_sizes_match()
    {
        Assert.Equal(ShimAbi.MsgHeaderSize, N("sizeof shim_msg_header"));
        Assert.Equal(ShimAbi.PidMsgSize, N("sizeof shim_pid_msg"));
        Assert.Equal(ShimAbi.ExitMsgSize, N("sizeof shim_exit_msg"));
        Assert.Equal(ShimAbi.ErrorSize, N("sizeof shim_error"));
        Assert.Equal(ShimAbi.RequestHeaderSize, N("sizeof shim_request_header"));
        Assert.Equal(ShimAbi.RecordHeaderSize, N("sizeof shim_record_header"));
        Assert.Equal(ShimAbi.NamespaceSize, N("sizeof shim_namespace"));
        Assert.Equal(ShimAbi.UserSize, N("sizeof shim_user"));
        Assert.Equal(ShimAbi.CapsSize, N("sizeof shim_caps"));
        Assert.Equal(ShimAbi.RlimitSize, N("sizeof shim_rlimit"));
        Assert.Equal(ShimAbi.MountSize, N("sizeof shim_mount"));
        Assert.Equal(ShimAbi.DeviceSize, N("sizeof shim_device"));
        Assert.Equal(ShimAbi.SeccompSize, N("sizeof shim_seccomp"));
        Assert.Equal(ShimAbi.ConsoleSizeSize, N("sizeof shim_console_size"));
        Assert.Equal(ShimAbi.MkdirSize, N("sizeof shim_mkdir"));
    }

    [Theory]
    [InlineData("shim_request_header.magic", ShimAbi.Offsets.RequestMagic)]
    [InlineData("shim_request_header.abi_version", ShimAbi.Offsets.RequestAbiVersion)]
    [InlineData("shim_request_header.mode", ShimAbi.Offsets.RequestMode)]
    [InlineData("shim_request_header.total_length", ShimAbi.Offsets.RequestTotalLength)]
    [InlineData("shim_request_header.record_count", ShimAbi.Offsets.RequestRecordCount)]
    [InlineData("shim_record_header.tag", ShimAbi.Offsets.RecordTag)]
    [InlineData("shim_record_header.reserved", ShimAbi.Offsets.RecordReserved)]
    [InlineData("shim_record_header.length", ShimAbi.Offsets.RecordLength)]
    [InlineData("shim_error.step", ShimAbi.Offsets.ErrorStep)]
    [InlineData("shim_error.errnum", ShimAbi.Offsets.ErrorErrnum)]
    [InlineData("shim_error.detail", ShimAbi.Offsets.ErrorDetail)]
    [InlineData("shim_exit_msg.pid", ShimAbi.Offsets.ExitPid)]
    [InlineData("shim_exit_msg.wait_status", ShimAbi.Offsets.ExitWaitStatus)]
    [InlineData("shim_user.uid", ShimAbi.Offsets.UserUid)]
    [InlineData("shim_user.gid", ShimAbi.Offsets.UserGid)]
    [InlineData("shim_user.umask", ShimAbi.Offsets.UserUmask)]
    [InlineData("shim_user.ngroups", ShimAbi.Offsets.UserNgroups)]
    [InlineData("shim_caps.bounding", ShimAbi.Offsets.CapsBounding)]
    [InlineData("shim_caps.effective", ShimAbi.Offsets.CapsEffective)]
    [InlineData("shim_caps.permitted", ShimAbi.Offsets.CapsPermitted)]
    [InlineData("shim_caps.inheritable", ShimAbi.Offsets.CapsInheritable)]
    [InlineData("shim_caps.ambient", ShimAbi.Offsets.CapsAmbient)]
    [InlineData("shim_rlimit.resource", ShimAbi.Offsets.RlimitResource)]
    [InlineData("shim_rlimit.soft", ShimAbi.Offsets.RlimitSoft)]
    [InlineData("shim_rlimit.hard", ShimAbi.Offsets.RlimitHard)]
    [InlineData("shim_mount.kind", ShimAbi.Offsets.MountKind)]
    [InlineData("shim_mount.dest_is_file", ShimAbi.Offsets.MountDestIsFile)]
    [InlineData("shim_mount.flags", ShimAbi.Offsets.MountFlags)]
    [InlineData("shim_mount.clear_flags", ShimAbi.Offsets.MountClearFlags)]
    [InlineData("shim_mount.propagation", ShimAbi.Offsets.MountPropagation)]
    [InlineData("shim_device.mode", ShimAbi.Offsets.DeviceMode)]
    [InlineData("shim_device.uid", ShimAbi.Offsets.DeviceUid)]
    [InlineData("shim_device.gid", ShimAbi.Offsets.DeviceGid)]
    [InlineData("shim_device.major", ShimAbi.Offsets.DeviceMajor)]
    [InlineData("shim_device.minor", ShimAbi.Offsets.DeviceMinor)]
    [InlineData("shim_seccomp.flags", ShimAbi.Offsets.SeccompFlags)]
    [InlineData("shim_seccomp.count", ShimAbi.Offsets.SeccompCount)]
    [InlineData("shim_console_size.rows", ShimAbi.Offsets.ConsoleRows)]
    [InlineData("shim_console_size.cols", ShimAbi.Offsets.ConsoleCols)]
    [InlineData("shim_mkdir.mode", ShimAbi.Offsets.MkdirMode)]
    public void Field_offsets_match(string field, int expected) => Assert.Equal(expected, N("offsetof " + field));

    [Fact]
    public void Constants_and_enums_match()
    {
        Assert.Equal(ShimAbi.AbiVersion, N("value SHIM_ABI_VERSION"));
        Assert.Equal(ShimAbi.RequestMagic, N("value SHIM_REQUEST_MAGIC"));
        Assert.Equal(ShimAbi.MaxRequest, N("value SHIM_MAX_REQUEST"));
        Assert.Equal(ShimAbi.ErrorDetailLength, N("value SHIM_ERROR_DETAIL"));
        Assert.Equal(ShimAbi.UmaskUnset, N("value SHIM_UMASK_UNSET"));
        Assert.Equal((long)ShimMode.Init, N("value SHIM_MODE_INIT"));
        Assert.Equal((long)ShimMode.Exec, N("value SHIM_MODE_EXEC"));
        Assert.Equal((long)ShimMode.Restore, N("value SHIM_MODE_RESTORE"));
        Assert.Equal((long)ShimMountKind.Fs, N("value SHIM_MOUNT_FS"));
        Assert.Equal((long)ShimMountKind.Bind, N("value SHIM_MOUNT_BIND"));
        foreach (var m in Enum.GetValues<ShimMessage>())
            Assert.Equal((long)m, N("value SHIM_MSG_" + Snake(m.ToString())));
        foreach (var t in Enum.GetValues<ShimTag>())
            Assert.Equal((long)t, N("value SHIM_T_" + Snake(t.ToString())));
        foreach (var st in Enum.GetValues<ShimStep>())
            Assert.Equal((long)st, N("value SHIM_STEP_" + Snake(st.ToString())));
        foreach (var f in Enum.GetValues<ShimFlags>().Where(f => f != ShimFlags.None))
            Assert.Equal((long)f, N("value SHIM_F_" + Snake(f.ToString())));
        // The last step in the header is the last one in the enum (nothing missing at the end).
        Assert.Equal(ShimStep.Seal, Enum.GetValues<ShimStep>().Max());
    }
}
