using System.Buffers.Binary;
using Supervisor.Linux.Seccomp;

namespace Supervisor.Linux.Tests.Seccomp;

public sealed class SeccompFilterTests
{
    private const ushort BpfRetK = 0x06;
    private static readonly uint X86 = SeccompFilter.ResolveArch("x86");

    private static List<(ushort Code, uint K)> Decode(byte[] program)
    {
        Assert.Equal(0, program.Length % SeccompFilter.InstructionSize);
        var list = new List<(ushort, uint)>();
        for (var i = 0; i < program.Length; i += SeccompFilter.InstructionSize)
        {
            list.Add((BinaryPrimitives.ReadUInt16LittleEndian(program.AsSpan(i)), BinaryPrimitives.ReadUInt32LittleEndian(program.AsSpan(i + 4))));
        }

        return list;
    }

    private static int Nr(string name) => SeccompFilter.ResolveSyscall(SeccompFilter.NativeArch, name);

    [Fact]
    public void Library_reports_an_api_level_and_the_native_arch()
    {
        // Level 3 is the first with SCMP_FLTATR_API_SYSRAWRC; this kernel and libseccomp 2.5.4 give 6.
        Assert.True(SeccompFilter.ApiLevel >= 3, $"api level {SeccompFilter.ApiLevel}");
        var expected = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "x86_64",
            System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
            var other => throw new InvalidOperationException($"untested architecture {other}"),
        };
        Assert.Equal(SeccompFilter.ResolveArch(expected), SeccompFilter.NativeArch);
        Assert.Equal(0u, SeccompFilter.ResolveArch("vax"));
    }

    [Fact]
    public void Syscall_names_resolve_per_architecture()
    {
        Assert.Equal(SeccompFilter.UnknownSyscall, Nr("no_such_syscall"));
        Assert.Equal(435, Nr("clone3")); // the same number on every architecture that has it
        Assert.Equal(102, SeccompFilter.ResolveSyscall(X86, "socketcall"));
        // A name libseccomp knows but this ABI lacks resolves to a pseudo number, not to "unknown".
        Assert.True(SeccompFilter.ResolveSyscall(SeccompFilter.NativeArch, "socketcall") < SeccompFilter.UnknownSyscall);
    }

    [Fact]
    public void Export_ends_in_the_default_action_and_contains_the_rules()
    {
        using var filter = new SeccompFilter(SeccompAction.Errno(1));
        filter.AddRule(SeccompAction.Allow, Nr("getpid"), []);
        filter.AddRule(SeccompAction.Errno(38), Nr("getppid"), [new SeccompArgCompare(0, SeccompCompareOp.Equal, 5)]);
        var insns = Decode(filter.ExportBpf());

        Assert.Contains((BpfRetK, 0x00050001u), insns);
        Assert.Contains((BpfRetK, SeccompAction.Allow), insns);
        Assert.Contains((BpfRetK, 0x00050026u), insns);
        // The first instructions check the architecture: ld [4]; jeq AUDIT_ARCH_<native>.
        Assert.Equal(((ushort)0x20, 4u), insns[0]);
        Assert.Equal(SeccompFilter.NativeArch, insns[1].K);
    }

    [Fact]
    public void Adding_the_native_arch_again_is_a_no_op_and_a_second_arch_gets_its_own_section()
    {
        using var filter = new SeccompFilter(SeccompAction.Allow);
        filter.AddArch(SeccompFilter.NativeArch);
        filter.AddRule(SeccompAction.Errno(1), Nr("getpid"), []);
        var one = Decode(filter.ExportBpf());

        filter.AddArch(X86);
        var two = Decode(filter.ExportBpf());
        Assert.True(two.Count > one.Count);
        Assert.Contains(two, i => i.K == X86);
        Assert.DoesNotContain(one, i => i.K == X86);
    }

    [Fact]
    public void Two_comparisons_of_one_argument_in_one_rule_are_refused()
    {
        using var filter = new SeccompFilter(SeccompAction.Allow);
        var ex = Assert.Throws<SyscallException>(() => filter.AddRule(SeccompAction.Errno(1), Nr("getppid"),
            [new SeccompArgCompare(0, SeccompCompareOp.GreaterThan, 5), new SeccompArgCompare(0, SeccompCompareOp.LessThan, 2)], "getppid"));
        Assert.Equal(Errno.EINVAL, ex.Errno);
        Assert.Equal("seccomp_rule_add", ex.Operation);
        Assert.Equal("getppid", ex.Path);
    }

    [Fact]
    public void A_rule_with_the_default_action_is_refused()
    {
        using var filter = new SeccompFilter(SeccompAction.Errno(1));
        var ex = Assert.Throws<SyscallException>(() => filter.AddRule(SeccompAction.Errno(1), Nr("getpid"), []));
        Assert.Equal(Errno.EACCES, ex.Errno);
    }

    [Fact]
    public void A_rule_on_a_call_this_ABI_lacks_is_accepted_and_filters_nothing_here()
    {
        var socketcall = SeccompFilter.ResolveSyscall(SeccompFilter.NativeArch, "socketcall");
        using (var native = new SeccompFilter(SeccompAction.Allow))
        {
            native.AddRule(SeccompAction.Errno(5), socketcall, []);
            Assert.DoesNotContain(Decode(native.ExportBpf()), i => i.Code == BpfRetK && i.K == 0x00050005u);
        }

        // Architectures must be added before the rules: a rule only lands in the sections present.
        using var both = new SeccompFilter(SeccompAction.Allow);
        both.AddArch(X86);
        both.AddRule(SeccompAction.Errno(5), socketcall, []);
        var insns = Decode(both.ExportBpf());
        Assert.Contains(insns, i => i.Code == BpfRetK && i.K == 0x00050005u);
        Assert.Contains(insns, i => i.K == 102); // jeq 102 (socketcall on x86)
    }

    [Fact]
    public void Bad_arguments_surface_as_SyscallException()
    {
        using var filter = new SeccompFilter(SeccompAction.Allow);
        Assert.Equal(Errno.EINVAL, Assert.Throws<SyscallException>(() =>
            filter.AddRule(SeccompAction.Errno(1), Nr("getpid"), [new SeccompArgCompare(6, SeccompCompareOp.Equal, 0)])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<SyscallException>(() =>
            filter.AddRule(0x12345678, Nr("getpid"), [])).Errno);
        Assert.Equal(Errno.EDOM, Assert.Throws<SyscallException>(() =>
            filter.AddArch(SeccompFilter.ResolveArch("s390x"))).Errno);
    }

    [Fact]
    public void Disposed_filter_cannot_be_used()
    {
        var filter = new SeccompFilter(SeccompAction.Allow);
        filter.Dispose();
        filter.Dispose();
        Assert.Throws<ObjectDisposedException>(() => filter.ExportBpf());
    }

    [Fact]
    public void Action_values_match_the_kernel()
    {
        Assert.Equal(0x80000000u, SeccompAction.KillProcess);
        Assert.Equal(0u, SeccompAction.KillThread);
        Assert.Equal(0x00030000u, SeccompAction.Trap);
        Assert.Equal(0x00050001u, SeccompAction.Errno(1));
        Assert.Equal(0x00050026u, SeccompAction.Errno(38));
        Assert.Equal(0x7ff00007u, SeccompAction.Trace(7));
        Assert.Equal(0x7fc00000u, SeccompAction.Notify);
        Assert.Equal(0x7ffc0000u, SeccompAction.Log);
        Assert.Equal(0x7fff0000u, SeccompAction.Allow);
    }
}
