using System.Runtime.InteropServices;

namespace Supervisor.Linux.Seccomp;

/// <summary>
/// Bindings to Debian's libseccomp.so.2 (2.5.4; signatures from /usr/include/seccomp.h). Source-generated
/// marshalling only, so the NativeAOT CLI can use it. Every int-returning call reports failure as a negative
/// errno value; seccomp_api_get/seccomp_arch_* return tokens, 0 meaning "unknown".
/// </summary>
internal static unsafe partial class LibSeccomp
{
    private const string Lib = "libseccomp.so.2";

    /// <summary>__NR_SCMP_ERROR: the name is unknown to libseccomp on every architecture.</summary>
    public const int NrScmpError = -1;

    public const int FltAtrCtlNnp = 3;
    public const int FltAtrApiSysRawRc = 9;

    [StructLayout(LayoutKind.Sequential)]
    public struct ScmpArgCmp
    {
        public uint Arg;
        public int Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    [LibraryImport(Lib, EntryPoint = "seccomp_init")]
    public static partial nint Init(uint defaultAction);

    [LibraryImport(Lib, EntryPoint = "seccomp_release")]
    public static partial void Release(nint ctx);

    [LibraryImport(Lib, EntryPoint = "seccomp_api_get")]
    public static partial uint ApiGet();

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_native")]
    public static partial uint ArchNative();

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_resolve_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint ArchResolveName(string name);

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_add")]
    public static partial int ArchAdd(nint ctx, uint archToken);

    [LibraryImport(Lib, EntryPoint = "seccomp_syscall_resolve_name_arch", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SyscallResolveNameArch(uint archToken, string name);

    [LibraryImport(Lib, EntryPoint = "seccomp_rule_add_array")]
    public static partial int RuleAddArray(nint ctx, uint action, int syscall, uint argCount, ScmpArgCmp* args);

    [LibraryImport(Lib, EntryPoint = "seccomp_attr_set")]
    public static partial int AttrSet(nint ctx, int attr, uint value);

    [LibraryImport(Lib, EntryPoint = "seccomp_export_bpf")]
    public static partial int ExportBpf(nint ctx, int fd);

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MemfdCreate(string name, uint flags);

    public const uint MfdCloexec = 1;
}
