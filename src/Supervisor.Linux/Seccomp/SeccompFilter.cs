using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Supervisor.Linux.Seccomp;

/// <summary>Seccomp return actions (SECCOMP_RET_* as libseccomp spells them, SCMP_ACT_*).</summary>
public static class SeccompAction
{
    public const uint KillProcess = 0x80000000;
    /// <summary>SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD: the kernel kills only the calling thread.</summary>
    public const uint KillThread = 0x00000000;
    public const uint Trap = 0x00030000;
    public const uint Notify = 0x7fc00000;
    public const uint Log = 0x7ffc0000;
    public const uint Allow = 0x7fff0000;

    /// <summary>Fail the call with -<paramref name="errno"/> (the kernel uses the low 16 bits).</summary>
    public static uint Errno(ushort errno) => 0x00050000u | errno;

    /// <summary>Notify a ptrace tracer with <paramref name="value"/> as PTRACE_GETEVENTMSG data.</summary>
    public static uint Trace(ushort value) => 0x7ff00000u | value;
}

/// <summary>libseccomp's enum scmp_compare, one to one.</summary>
public enum SeccompCompareOp
{
    NotEqual = 1,
    LessThan = 2,
    LessOrEqual = 3,
    Equal = 4,
    GreaterOrEqual = 5,
    GreaterThan = 6,
    /// <summary>(arg &amp; DatumA) == DatumB.</summary>
    MaskedEqual = 7,
}

/// <summary>One argument comparison (struct scmp_arg_cmp). Arg is the syscall argument index 0..5.</summary>
public readonly record struct SeccompArgCompare(uint Arg, SeccompCompareOp Op, ulong DatumA, ulong DatumB = 0);

/// <summary>
/// A libseccomp filter context: add architectures and rules, then export the classic BPF program that the
/// shim loads with seccomp(SECCOMP_SET_MODE_FILTER). The filter is never loaded into this process.
/// libseccomp failures become <see cref="SyscallException"/> with the libseccomp function as the operation,
/// the syscall or architecture as the path, and the negative return as errno.
/// </summary>
public sealed class SeccompFilter : IDisposable
{
    /// <summary>Size of one struct sock_filter (u16 code, u8 jt, u8 jf, u32 k).</summary>
    public const int InstructionSize = 8;

    /// <summary>__NR_SCMP_ERROR, returned by <see cref="ResolveSyscall(uint, string)"/> for an unknown name.</summary>
    public const int UnknownSyscall = LibSeccomp.NrScmpError;

    private nint _ctx;

    public SeccompFilter(uint defaultAction)
    {
        _ctx = LibSeccomp.Init(defaultAction);
        if (_ctx == 0)
        {
            // seccomp_init only fails on an invalid action or out of memory, and reports neither.
            throw new SyscallException("seccomp_init", $"default action 0x{defaultAction:x8}", Linux.Errno.EINVAL);
        }

        // The shim sets no_new_privs itself when the config asks for it; libseccomp's default would demand it.
        Check(LibSeccomp.AttrSet(_ctx, LibSeccomp.FltAtrCtlNnp, 0), "seccomp_attr_set", "SCMP_FLTATR_CTL_NNP");
        // Report the kernel's errno instead of libseccomp's generic -ECANCELED on system failures (API level 3+).
        if (ApiLevel >= 3)
        {
            Check(LibSeccomp.AttrSet(_ctx, LibSeccomp.FltAtrApiSysRawRc, 1), "seccomp_attr_set", "SCMP_FLTATR_API_SYSRAWRC");
        }
    }

    /// <summary>The AUDIT_ARCH_* token of the running kernel's native architecture.</summary>
    public static uint NativeArch => LibSeccomp.ArchNative();

    /// <summary>libseccomp's API level (seccomp_api_get): what the library and kernel support together.</summary>
    public static uint ApiLevel => LibSeccomp.ApiGet();

    /// <summary>The arch token for a libseccomp name ("x86_64", "aarch64", "x32", ...), or 0 if unknown.</summary>
    public static uint ResolveArch(string name) => LibSeccomp.ArchResolveName(name);

    /// <summary>
    /// The syscall number of <paramref name="name"/> on <paramref name="arch"/>. A name libseccomp knows but
    /// that does not exist on that architecture gives a negative pseudo number (below -1), which
    /// <see cref="AddRule"/> accepts and applies only where the call exists; an unknown name gives
    /// <see cref="UnknownSyscall"/>.
    /// </summary>
    public static int ResolveSyscall(uint arch, string name) => LibSeccomp.SyscallResolveNameArch(arch, name);

    /// <summary>Adds an architecture; adding one already present (the native one always is) is a no-op.</summary>
    public void AddArch(uint archToken)
    {
        var rc = LibSeccomp.ArchAdd(Handle, archToken);
        if (rc == -(int)Linux.Errno.EEXIST)
        {
            return;
        }

        Check(rc, "seccomp_arch_add", $"arch 0x{archToken:x8}");
    }

    /// <summary>
    /// Adds one rule: <paramref name="action"/> when <paramref name="syscall"/> is called and all of
    /// <paramref name="args"/> hold. libseccomp refuses two comparisons on the same argument in one rule
    /// (EINVAL) and a rule whose action equals the default action (EACCES).
    /// </summary>
    public unsafe void AddRule(uint action, int syscall, ReadOnlySpan<SeccompArgCompare> args, string? syscallName = null)
    {
        Span<LibSeccomp.ScmpArgCmp> native = stackalloc LibSeccomp.ScmpArgCmp[Math.Max(args.Length, 1)];
        for (var i = 0; i < args.Length; i++)
        {
            native[i] = new LibSeccomp.ScmpArgCmp
            {
                Arg = args[i].Arg,
                Op = (int)args[i].Op,
                DatumA = args[i].DatumA,
                DatumB = args[i].DatumB,
            };
        }

        int rc;
        fixed (LibSeccomp.ScmpArgCmp* p = native)
        {
            rc = LibSeccomp.RuleAddArray(Handle, action, syscall, (uint)args.Length, args.Length == 0 ? null : p);
        }

        Check(rc, "seccomp_rule_add", syscallName ?? $"syscall {syscall}");
    }

    /// <summary>The filter as a classic BPF program: struct sock_filter entries, 8 bytes each, host order.</summary>
    public byte[] ExportBpf()
    {
        var fd = LibSeccomp.MemfdCreate("seccomp-bpf", LibSeccomp.MfdCloexec);
        if (fd < 0)
        {
            throw new SyscallException("memfd_create", "seccomp-bpf", (Linux.Errno)Marshal.GetLastPInvokeError());
        }

        using var file = new SafeFileHandle(fd, ownsHandle: true);
        Check(LibSeccomp.ExportBpf(Handle, fd), "seccomp_export_bpf", null);
        var length = RandomAccess.GetLength(file);
        if (length == 0 || length % InstructionSize != 0)
        {
            throw new SyscallException("seccomp_export_bpf", $"{length} bytes", Linux.Errno.EIO);
        }

        var program = new byte[length];
        var done = 0;
        while (done < program.Length)
        {
            var n = RandomAccess.Read(file, program.AsSpan(done), done);
            if (n == 0)
            {
                throw new SyscallException("read", "seccomp-bpf memfd", Linux.Errno.EIO);
            }

            done += n;
        }

        return program;
    }

    public void Dispose()
    {
        if (_ctx != 0)
        {
            LibSeccomp.Release(_ctx);
            _ctx = 0;
        }
    }

    private nint Handle => _ctx != 0 ? _ctx : throw new ObjectDisposedException(nameof(SeccompFilter));

    private static void Check(int rc, string op, string? what)
    {
        if (rc < 0)
        {
            throw new SyscallException(op, what, (Linux.Errno)(-rc));
        }
    }
}
