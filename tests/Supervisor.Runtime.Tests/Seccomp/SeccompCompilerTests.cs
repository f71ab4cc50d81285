using Supervisor.Linux.Seccomp;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Seccomp;

namespace Supervisor.Runtime.Tests.Seccomp;

public sealed class SeccompCompilerTests
{
    private static SeccompConfig OneRule(string defaultAction, string action, uint? errnoRet = null, params SeccompArg[] args) => new()
    {
        DefaultAction = defaultAction,
        Syscalls = [new SeccompSyscall { Names = ["getcwd"], Action = action, ErrnoRet = errnoRet, Args = args }],
    };

    [Theory]
    [InlineData("SCMP_ACT_ERRNO", null, 0x00050001u)]
    [InlineData("SCMP_ACT_ERRNO", 38u, 0x00050026u)]
    [InlineData("SCMP_ACT_ERRNO", 0u, 0x00050000u)]
    [InlineData("SCMP_ACT_TRACE", 7u, 0x7ff00007u)]
    [InlineData("SCMP_ACT_TRACE", null, 0x7ff00001u)]
    [InlineData("SCMP_ACT_TRAP", null, 0x00030000u)]
    [InlineData("SCMP_ACT_LOG", null, 0x7ffc0000u)]
    [InlineData("SCMP_ACT_KILL_PROCESS", null, 0x80000000u)]
    public void Rule_action_becomes_the_return_value(string action, uint? errnoRet, uint expected)
    {
        var baseline = SeccompCompiler.Compile(new SeccompConfig { DefaultAction = "SCMP_ACT_ALLOW" });
        var compiled = SeccompCompiler.Compile(OneRule("SCMP_ACT_ALLOW", action, errnoRet));

        Assert.Equal(0, BpfInsn.CountReturns(baseline.Program, expected));
        Assert.True(BpfInsn.CountReturns(compiled.Program, expected) > 0, $"no ret 0x{expected:x8}");
    }

    [Theory]
    [InlineData("SCMP_ACT_KILL")]
    [InlineData("SCMP_ACT_KILL_THREAD")]
    public void Kill_and_kill_thread_are_SECCOMP_RET_KILL_THREAD(string action)
    {
        // libseccomp shares one "ret 0" with the bad-architecture action, so the program alone cannot tell;
        // the kernel tests show the effect.
        Assert.True(SeccompCompiler.TryAction(action, null, out var value, out var error), error);
        Assert.Equal(0u, value);
    }

    [Fact]
    public void Allow_rule_under_errno_default_and_defaultErrnoRet()
    {
        var config = OneRule("SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW") with { DefaultErrnoRet = 13 };
        var compiled = SeccompCompiler.Compile(config);

        Assert.True(BpfInsn.CountReturns(compiled.Program, SeccompAction.Allow) > 0);
        Assert.True(BpfInsn.CountReturns(compiled.Program, 0x0005000d) > 0);
        Assert.Equal(0, BpfInsn.CountReturns(compiled.Program, 0x00050001));
    }

    [Theory]
    [InlineData("SCMP_CMP_NE", SeccompCompareOp.NotEqual)]
    [InlineData("SCMP_CMP_LT", SeccompCompareOp.LessThan)]
    [InlineData("SCMP_CMP_LE", SeccompCompareOp.LessOrEqual)]
    [InlineData("SCMP_CMP_EQ", SeccompCompareOp.Equal)]
    [InlineData("SCMP_CMP_GE", SeccompCompareOp.GreaterOrEqual)]
    [InlineData("SCMP_CMP_GT", SeccompCompareOp.GreaterThan)]
    [InlineData("SCMP_CMP_MASKED_EQ", SeccompCompareOp.MaskedEqual)]
    public void Operators_map_one_to_one_onto_libseccomp(string name, SeccompCompareOp expected)
    {
        Assert.True(SeccompCompiler.TryOperator(name, out var op));
        Assert.Equal(expected, op);
        // libseccomp's enum scmp_compare values (seccomp.h): NE=1 LT=2 LE=3 EQ=4 GE=5 GT=6 MASKED_EQ=7.
        var header = new Dictionary<string, int>
        {
            ["SCMP_CMP_NE"] = 1, ["SCMP_CMP_LT"] = 2, ["SCMP_CMP_LE"] = 3, ["SCMP_CMP_EQ"] = 4,
            ["SCMP_CMP_GE"] = 5, ["SCMP_CMP_GT"] = 6, ["SCMP_CMP_MASKED_EQ"] = 7,
        };
        Assert.Equal(header[name], (int)op);
    }

    [Fact]
    public void Unknown_syscall_is_an_error()
    {
        var config = OneRule("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO") with
        {
            Syscalls = [new SeccompSyscall { Names = ["getcwd", "foo"], Action = "SCMP_ACT_ERRNO" }],
        };

        var ex = Assert.Throws<SeccompConfigException>(() => SeccompCompiler.Compile(config));
        Assert.Equal("linux.seccomp: unknown syscall \"foo\"", ex.Message);
        Assert.Equal(["linux.seccomp: unknown syscall \"foo\""], SeccompCompiler.Validate(config));
    }

    [Fact]
    public void A_syscall_of_another_architecture_is_skipped_on_this_one()
    {
        // socketcall exists on x86 and other 32-bit ABIs, not on x86_64 or aarch64.
        var config = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = [new SeccompSyscall { Names = ["socketcall", "getcwd"], Action = "SCMP_ACT_ERRNO" }],
        };

        Assert.Empty(SeccompCompiler.Validate(config));
        Assert.True(BpfInsn.CountReturns(SeccompCompiler.Compile(config).Program, 0x00050001) > 0);
    }

    [Theory]
    [InlineData("SCMP_ACT_BOGUS", "unknown action \"SCMP_ACT_BOGUS\"")]
    [InlineData("SCMP_ACT_NOTIFY", "SCMP_ACT_NOTIFY is not supported")]
    public void Bad_rule_actions_are_errors(string action, string expected)
    {
        var errors = SeccompCompiler.Validate(OneRule("SCMP_ACT_ALLOW", action));
        Assert.Single(errors);
        Assert.StartsWith("linux.seccomp: syscalls[0]: ", errors[0]);
        Assert.Contains(expected, errors[0]);
    }

    [Theory]
    [InlineData("SCMP_ACT_NOTIFY", "linux.seccomp: defaultAction: SCMP_ACT_NOTIFY is not supported")]
    [InlineData("KILL", "linux.seccomp: defaultAction: unknown action \"KILL\"")]
    public void Bad_default_actions_are_errors(string action, string expected)
    {
        var ex = Assert.Throws<SeccompConfigException>(() => SeccompCompiler.Compile(new SeccompConfig { DefaultAction = action }));
        Assert.StartsWith(expected, ex.Message);
    }

    [Fact]
    public void Listener_path_is_refused()
    {
        var errors = SeccompCompiler.Validate(new SeccompConfig { DefaultAction = "SCMP_ACT_ALLOW", ListenerPath = "/run/agent.sock" });
        Assert.Contains(errors, e => e.Contains("SCMP_ACT_NOTIFY is not supported"));
    }

    [Fact]
    public void ErrnoRet_on_an_action_without_data_is_an_error()
    {
        var errors = SeccompCompiler.Validate(OneRule("SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", 5));
        Assert.Equal(["linux.seccomp: syscalls[0]: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"], errors);
    }

    [Fact]
    public void DefaultErrnoRet_on_a_default_without_data_is_an_error()
    {
        var errors = SeccompCompiler.Validate(new SeccompConfig { DefaultAction = "SCMP_ACT_KILL_PROCESS", DefaultErrnoRet = 1 });
        Assert.Equal(["linux.seccomp: defaultAction: defaultErrnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_KILL_PROCESS"], errors);
    }

    [Fact]
    public void Errno_beyond_MAX_ERRNO_is_an_error()
    {
        var errors = SeccompCompiler.Validate(OneRule("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", 4096));
        Assert.Single(errors);
        Assert.Contains("errnoRet 4096", errors[0]);
    }

    [Fact]
    public void Flags_map_to_the_SECCOMP_FILTER_FLAG_bits()
    {
        var config = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        };

        Assert.Equal(1u | 2u | 4u | 32u, SeccompCompiler.Compile(config).Flags);
        Assert.Equal(2u, SeccompCompiler.Compile(config with { Flags = ["SECCOMP_FILTER_FLAG_LOG"] }).Flags);
        Assert.Equal(0u, SeccompCompiler.Compile(config with { Flags = [] }).Flags);
    }

    [Fact]
    public void Unknown_flag_is_an_error()
    {
        var errors = SeccompCompiler.Validate(new SeccompConfig { DefaultAction = "SCMP_ACT_ALLOW", Flags = ["SECCOMP_FILTER_FLAG_NEW_LISTENER"] });
        Assert.Equal(["linux.seccomp: unknown flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\""], errors);
    }

    [Theory]
    [InlineData("SCMP_ARCH_X86_64")]
    [InlineData("SCMP_ARCH_X86")]
    [InlineData("SCMP_ARCH_X32")]
    [InlineData("SCMP_ARCH_AARCH64")]
    [InlineData("SCMP_ARCH_ARM")]
    [InlineData("SCMP_ARCH_RISCV64")]
    [InlineData("SCMP_ARCH_PPC64LE")]
    [InlineData("SCMP_ARCH_MIPSEL64")]
    public void Known_architectures_resolve(string name)
    {
        Assert.NotEqual(0u, SeccompCompiler.ResolveOciArch(name));
        var config = OneRule("SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW") with { Architectures = [name] };
        Assert.Empty(SeccompCompiler.Validate(config));
        SeccompCompiler.Compile(config);
    }

    [Fact]
    public void Architecture_tokens_are_the_audit_arch_values()
    {
        Assert.Equal(0xC000003Eu, SeccompCompiler.ResolveOciArch("SCMP_ARCH_X86_64"));
        Assert.Equal(0x40000003u, SeccompCompiler.ResolveOciArch("SCMP_ARCH_X86"));
        Assert.Equal(0xC00000B7u, SeccompCompiler.ResolveOciArch("SCMP_ARCH_AARCH64"));
        Assert.Equal(0x40000028u, SeccompCompiler.ResolveOciArch("SCMP_ARCH_ARM"));
    }

    [Theory]
    [InlineData("SCMP_ARCH_VAX")]
    [InlineData("x86_64")]
    [InlineData("SCMP_ARCH_")]
    public void Unknown_architecture_is_an_error(string name)
    {
        var errors = SeccompCompiler.Validate(new SeccompConfig { DefaultAction = "SCMP_ACT_ALLOW", Architectures = [name] });
        Assert.Equal([$"linux.seccomp: unknown architecture \"{name}\""], errors);
    }

    [Fact]
    public void An_architecture_of_the_other_byte_order_is_an_error()
    {
        // libseccomp cannot put big- and little-endian ABIs in one filter (seccomp_arch_add gives EDOM).
        var errors = SeccompCompiler.Validate(new SeccompConfig { DefaultAction = "SCMP_ACT_ALLOW", Architectures = ["SCMP_ARCH_S390X"] });
        Assert.Single(errors);
        Assert.StartsWith("linux.seccomp: architecture \"SCMP_ARCH_S390X\" cannot be filtered together with the native one", errors[0]);
    }

    [Fact]
    public void Bad_arguments_are_errors()
    {
        var errors = SeccompCompiler.Validate(OneRule("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", null,
            new SeccompArg(6, 1, 0, "SCMP_CMP_EQ"),
            new SeccompArg(0, 1, 0, "SCMP_CMP_BETWEEN")));
        Assert.Equal(
        [
            "linux.seccomp: syscalls[0].args[0]: index 6 is out of range (a syscall has arguments 0 to 5)",
            "linux.seccomp: syscalls[0].args[1]: unknown operator \"SCMP_CMP_BETWEEN\"",
        ], errors);
    }

    [Fact]
    public void Empty_names_is_an_error()
    {
        var errors = SeccompCompiler.Validate(new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = [new SeccompSyscall { Names = [], Action = "SCMP_ACT_ERRNO" }],
        });
        Assert.Equal(["linux.seccomp: syscalls[0]: names is empty"], errors);
    }

    [Fact]
    public void All_errors_are_reported_together()
    {
        var config = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_NOPE",
            Flags = ["BAD_FLAG"],
            Architectures = ["SCMP_ARCH_NOPE"],
            Syscalls = [new SeccompSyscall { Names = ["nosuchcall"], Action = "SCMP_ACT_ALLOW" }],
        };
        var ex = Assert.Throws<SeccompConfigException>(() => SeccompCompiler.Compile(config));
        Assert.Equal(4, ex.Errors.Count);
    }

    [Fact]
    public void Two_comparisons_on_one_argument_compile_as_separate_rules()
    {
        // libseccomp itself refuses this in one rule:
        using (var filter = new SeccompFilter(SeccompAction.Allow))
        {
            var nr = SeccompFilter.ResolveSyscall(SeccompFilter.NativeArch, "getppid");
            var ex = Assert.Throws<Supervisor.Linux.SyscallException>(() => filter.AddRule(SeccompAction.Errno(1), nr,
                [new SeccompArgCompare(0, SeccompCompareOp.GreaterThan, 5), new SeccompArgCompare(0, SeccompCompareOp.LessThan, 2)]));
            Assert.Equal(Supervisor.Linux.Errno.EINVAL, ex.Errno);
        }

        var config = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls =
            [
                new SeccompSyscall
                {
                    Names = ["getppid"],
                    Action = "SCMP_ACT_ERRNO",
                    Args = [new SeccompArg(0, 5, 0, "SCMP_CMP_GT"), new SeccompArg(0, 2, 0, "SCMP_CMP_LT")],
                },
            ],
        };
        Assert.Empty(SeccompCompiler.Validate(config));
        SeccompCompiler.Compile(config);
    }

    [Fact]
    public void Conflicting_rules_with_the_same_arguments_are_an_error()
    {
        SeccompArg[] args = [new SeccompArg(0, 1, 0, "SCMP_CMP_EQ")];
        var config = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls =
            [
                new SeccompSyscall { Names = ["getppid"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 5, Args = args },
                new SeccompSyscall { Names = ["getppid"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 6, Args = args },
            ],
        };
        var expected = "linux.seccomp: syscall \"getppid\" has two rules with the same arguments and different actions";
        Assert.Equal([expected], SeccompCompiler.Validate(config));
        Assert.Equal(expected, Assert.Throws<SeccompConfigException>(() => SeccompCompiler.Compile(config)).Message);
    }

    [Fact]
    public void A_rule_with_the_default_action_is_skipped()
    {
        var config = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls = [new SeccompSyscall { Names = ["getcwd"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 1 }],
        };
        var compiled = SeccompCompiler.Compile(config);
        var empty = SeccompCompiler.Compile(config with { Syscalls = [] });
        // Same filter body; only the ENOSYS stub's maximum knows about getcwd.
        Assert.Equal(0, BpfInsn.CountReturns(compiled.Program, SeccompAction.Allow));
        Assert.Equal(BpfInsn.CountReturns(empty.Program, 0x00050001), BpfInsn.CountReturns(compiled.Program, 0x00050001));
    }

    [Fact]
    public void Blocking_default_gets_the_enosys_stub_and_allow_default_does_not()
    {
        var blocking = SeccompCompiler.Compile(OneRule("SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW"));
        var insns = BpfInsn.Decode(blocking.Program);
        Assert.Equal(new BpfInsn(0x20, 0, 0, 4), insns[0]); // ld [arch]
        Assert.Equal(1, BpfInsn.CountReturns(blocking.Program, 0x00050026));

        var permissive = SeccompCompiler.Compile(OneRule("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"));
        Assert.Equal(0, BpfInsn.CountReturns(permissive.Program, 0x00050026));
    }

    [Fact]
    public void Default_profile_compiles()
    {
        var profile = DefaultProfile.Create();
        Assert.Empty(SeccompCompiler.Validate(profile));
        var compiled = SeccompCompiler.Compile(profile);
        Assert.Equal(0u, compiled.Flags);
        Assert.InRange(compiled.Program.Length / 8, 10, SeccompCompiler.MaxInstructions);
        // clone3 and the stub both return ENOSYS; the default is EPERM.
        Assert.True(BpfInsn.CountReturns(compiled.Program, 0x00050026) >= 2);
        Assert.True(BpfInsn.CountReturns(compiled.Program, 0x00050001) >= 1);
    }

    [Theory]
    [InlineData(System.Runtime.InteropServices.Architecture.X64)]
    [InlineData(System.Runtime.InteropServices.Architecture.Arm64)]
    public void Default_profile_compiles_for_both_architecture_sets(System.Runtime.InteropServices.Architecture arch)
    {
        var profile = DefaultProfile.Create(arch);
        Assert.Empty(SeccompCompiler.Validate(profile));
        SeccompCompiler.Compile(profile);
    }

    [Fact]
    public void No_dangerous_or_filtered_syscall_is_allowed_unconditionally()
    {
        string[] never =
        [
            "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "mount", "umount2", "umount",
            "unshare", "setns", "fsopen", "fsmount", "fsconfig", "fspick", "move_mount", "open_tree",
            "mount_setattr", "pivot_root", "bpf", "perf_event_open", "ptrace", "process_vm_readv",
            "process_vm_writev", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
            "iopl", "ioperm", "open_by_handle_at", "syslog", "acct", "settimeofday", "clock_settime",
            "clock_settime64", "stime", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
            "personality", "clone", "clone3", "socket", "kcmp", "quotactl", "quotactl_fd", "lookup_dcookie",
            "vhangup", "uselib", "nfsservctl", "_sysctl", "ustat", "sysfs", "modify_ldt", "create_module",
            "get_kernel_syms", "query_module", "fanotify_init", "memfd_secret",
        ];
        Assert.Empty(DefaultProfile.AllowedSyscalls.Intersect(never));
        Assert.Equal(DefaultProfile.AllowedSyscalls.Count, DefaultProfile.AllowedSyscalls.Distinct().Count());
    }
}
