using Supervisor.Linux.Seccomp;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Seccomp;

namespace Supervisor.Runtime.Tests.Seccomp;

/// <summary>Compiled filters loaded into a real process on this kernel (seccomp-apply.c), checked by outcome.</summary>
[Collection(SeccompKernelCollection.Name)]
public sealed class SeccompKernelTests(SeccompKernelFixture k)
{
    private const string Busybox = SeccompKernelFixture.Busybox;
    private const int EPERM = 1, ENOSYS = 38, EINVAL = 22;
    private const ulong SIGCHLD = 17, CLONE_NEWUSER = 0x10000000, AfVsock = 40;

    private static readonly Lazy<Linux.Shim.ShimSeccomp> Default = new(() => SeccompCompiler.Compile(DefaultProfile.Create()));

    /// <summary>What seccomp-apply itself calls after loading a filter (printf, exit).</summary>
    private static readonly SeccompSyscall HelperNeeds = new()
    {
        Names = ["write", "fstat", "newfstatat", "brk", "mmap", "munmap", "exit_group", "exit"],
        Action = "SCMP_ACT_ALLOW",
    };

    private static int Nr(string name)
    {
        var nr = SeccompFilter.ResolveSyscall(SeccompFilter.NativeArch, name);
        Assert.True(nr >= 0, $"{name} does not exist on this architecture");
        return nr;
    }

    private static Linux.Shim.ShimSeccomp Deny(string defaultAction, params SeccompSyscall[] rules) =>
        SeccompCompiler.Compile(new SeccompConfig { DefaultAction = defaultAction, Syscalls = rules });

    [Fact]
    public void Denying_getcwd_makes_busybox_pwd_fail_with_EPERM()
    {
        var control = k.Exec(null, Busybox, "pwd");
        Assert.Equal(0, control.ExitCode);
        Assert.Equal(Environment.CurrentDirectory, control.Stdout.Trim());

        var filter = Deny("SCMP_ACT_ALLOW", new SeccompSyscall { Names = ["getcwd"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 1 });
        var denied = k.Exec(filter, Busybox, "pwd");
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Equal("", denied.Stdout);
        Assert.Contains("Operation not permitted", denied.Stderr);
    }

    [Fact]
    public void Write_with_fd_greater_than_1_is_denied_but_stdout_works()
    {
        var filter = Deny("SCMP_ACT_ALLOW", new SeccompSyscall
        {
            Names = ["write"],
            Action = "SCMP_ACT_ERRNO",
            Args = [new SeccompArg(0, 1, 0, "SCMP_CMP_GT")],
        });

        // ls reports the missing path on fd 2 itself. (A shell's ">&2" would not do: it dup2s stderr onto
        // fd 1, and the write then goes to fd 1.)
        const string script = "echo out; ls /nonexistent-seccomp-path; echo \"status=$?\"";
        var r = k.Exec(filter, Busybox, "sh", "-c", script);
        Assert.Equal("out\nstatus=1\n", r.Stdout);
        Assert.Equal("", r.Stderr);

        var control = k.Exec(null, Busybox, "sh", "-c", script);
        Assert.Equal("out\nstatus=1\n", control.Stdout);
        Assert.Contains("No such file or directory", control.Stderr);
    }

    // getppid ignores its arguments, but the filter sees whatever is in the argument registers, so it
    // is a harmless probe for every comparison. The rule returns errno 99 when the comparison holds.
    [Theory]
    [InlineData("SCMP_CMP_EQ", 5ul, 0ul, 5ul, true)]
    [InlineData("SCMP_CMP_EQ", 5ul, 0ul, 6ul, false)]
    [InlineData("SCMP_CMP_NE", 5ul, 0ul, 5ul, false)]
    [InlineData("SCMP_CMP_NE", 5ul, 0ul, 4ul, true)]
    [InlineData("SCMP_CMP_LT", 5ul, 0ul, 4ul, true)]
    [InlineData("SCMP_CMP_LT", 5ul, 0ul, 5ul, false)]
    [InlineData("SCMP_CMP_LE", 5ul, 0ul, 5ul, true)]
    [InlineData("SCMP_CMP_LE", 5ul, 0ul, 6ul, false)]
    [InlineData("SCMP_CMP_GE", 5ul, 0ul, 5ul, true)]
    [InlineData("SCMP_CMP_GE", 5ul, 0ul, 4ul, false)]
    [InlineData("SCMP_CMP_GT", 5ul, 0ul, 5ul, false)]
    [InlineData("SCMP_CMP_GT", 5ul, 0ul, 6ul, true)]
    [InlineData("SCMP_CMP_GT", 5ul, 0ul, 0x100000000ul, true)]
    [InlineData("SCMP_CMP_MASKED_EQ", 0xF0ul, 0x30ul, 0x3Ful, true)]
    [InlineData("SCMP_CMP_MASKED_EQ", 0xF0ul, 0x30ul, 0x4Ful, false)]
    public void Each_operator_compares_as_named(string op, ulong value, ulong valueTwo, ulong arg, bool matches)
    {
        var filter = Deny("SCMP_ACT_ALLOW", new SeccompSyscall
        {
            Names = ["getppid"],
            Action = "SCMP_ACT_ERRNO",
            ErrnoRet = 99,
            Args = [new SeccompArg(0, value, valueTwo, op)],
        });

        var result = k.Syscall(filter, Nr("getppid"), arg);
        if (matches)
        {
            Assert.Equal("errno=99", result);
        }
        else
        {
            Assert.StartsWith("ret=", result);
        }
    }

    [Fact]
    public void Conditions_on_different_arguments_are_ANDed()
    {
        var filter = Deny("SCMP_ACT_ALLOW", new SeccompSyscall
        {
            Names = ["getppid"],
            Action = "SCMP_ACT_ERRNO",
            ErrnoRet = 99,
            Args = [new SeccompArg(0, 1, 0, "SCMP_CMP_EQ"), new SeccompArg(1, 2, 0, "SCMP_CMP_EQ")],
        });
        Assert.Equal("errno=99", k.Syscall(filter, Nr("getppid"), 1, 2));
        Assert.StartsWith("ret=", k.Syscall(filter, Nr("getppid"), 1, 3));
        Assert.StartsWith("ret=", k.Syscall(filter, Nr("getppid"), 0, 2));
    }

    [Fact]
    public void Conditions_on_the_same_argument_are_split_into_ORed_rules()
    {
        var filter = Deny("SCMP_ACT_ALLOW", new SeccompSyscall
        {
            Names = ["getppid"],
            Action = "SCMP_ACT_ERRNO",
            ErrnoRet = 99,
            Args = [new SeccompArg(0, 5, 0, "SCMP_CMP_GT"), new SeccompArg(0, 2, 0, "SCMP_CMP_LT")],
        });
        Assert.Equal("errno=99", k.Syscall(filter, Nr("getppid"), 7));
        Assert.Equal("errno=99", k.Syscall(filter, Nr("getppid"), 1));
        Assert.StartsWith("ret=", k.Syscall(filter, Nr("getppid"), 3));
    }

    [Theory]
    [InlineData("SCMP_ACT_KILL_PROCESS")]
    [InlineData("SCMP_ACT_KILL")]
    [InlineData("SCMP_ACT_TRAP")]
    public void Killing_actions_end_the_process_with_SIGSYS(string action)
    {
        // KILL_THREAD kills the only thread; the kernel reports a core-dumping SIGSYS for KILL_PROCESS and
        // TRAP's unhandled SIGSYS alike. .NET reports death by signal N as exit code 128 + N.
        var filter = Deny("SCMP_ACT_ALLOW", new SeccompSyscall { Names = ["getppid"], Action = action });
        Assert.StartsWith("ret=", k.Syscall(filter, Nr("getpid")));

        var path = Path.Combine(k.Dir, $"kill-{Guid.NewGuid():N}.bpf");
        File.WriteAllBytes(path, filter.Program);
        var probe = SeccompKernelFixture.Run(k.Helper, [path, "0", "--syscall", Nr("getppid").ToString()]);
        Assert.Equal(128 + 31, probe.ExitCode);
        Assert.Equal("", probe.Stdout);
    }

    [Fact]
    public void Log_and_allow_let_the_call_through()
    {
        var filter = Deny("SCMP_ACT_ERRNO",
            HelperNeeds,
            new SeccompSyscall { Names = ["getppid"], Action = "SCMP_ACT_LOG" },
            new SeccompSyscall { Names = ["getpid"], Action = "SCMP_ACT_ALLOW" });
        Assert.StartsWith("ret=", k.Syscall(filter, Nr("getppid")));
        Assert.StartsWith("ret=", k.Syscall(filter, Nr("getpid")));
        Assert.Equal("errno=1", k.Syscall(filter, Nr("getuid")));
    }

    [Fact]
    public void DefaultErrnoRet_is_what_unlisted_calls_return()
    {
        var filter = SeccompCompiler.Compile(new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            DefaultErrnoRet = 13,
            Syscalls = [HelperNeeds],
        });
        Assert.Equal("errno=13", k.Syscall(filter, Nr("getuid")));
    }

    [Fact]
    public void Filter_flags_are_accepted_by_the_kernel()
    {
        var filter = SeccompCompiler.Compile(new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            Syscalls = [new SeccompSyscall { Names = ["getuid"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 7 }],
        });
        Assert.Equal("errno=7", k.Syscall(filter, Nr("getuid")));
    }

    [Fact]
    public void Default_profile_runs_an_ordinary_busybox_session()
    {
        var r = k.Exec(Default.Value, Busybox, "sh", "-c",
            "set -e; ls / >/dev/null; cat /etc/hostname; echo hi | wc -c; date >/dev/null; sleep 0.1; ps >/dev/null; " +
            "t=$(mktemp -d); echo data > $t/f; mv $t/f $t/g; cat $t/g; rm -r $t; " +
            "id >/dev/null; pwd >/dev/null; echo done");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Equal("", r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([File.ReadAllText("/etc/hostname").Trim(), "3", "data", "done"], lines);
    }

    [Fact]
    public void Default_profile_runs_a_dynamically_linked_shell_pipeline()
    {
        // busybox is static; bash and the coreutils go through ld.so and the shared glibc.
        var r = k.Exec(Default.Value, "/bin/bash", "-c",
            "set -eo pipefail; ls -la / | /usr/bin/wc -l >/dev/null; x=$(/bin/cat /etc/hostname); " +
            "(/bin/sleep 0.1 &); wait; /usr/bin/env true; echo \"ok $x\"");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Equal($"ok {File.ReadAllText("/etc/hostname").Trim()}\n", r.Stdout);
    }

    [Fact]
    public void Default_profile_blocks_mount()
    {
        Assert.True(Environment.IsPrivilegedProcess, "mount needs root to show that seccomp, not the kernel, refuses it");
        var dir = Directory.CreateDirectory(Path.Combine(k.Dir, "mnt-" + Guid.NewGuid().ToString("N"))).FullName;
        // unshare -m runs first, unfiltered: were the filter to let the mount through, it would land in a
        // private mount namespace rather than on the host.
        var control = SeccompKernelFixture.Run(Busybox,
            ["unshare", "-m", k.Helper, "-", "0", "--", Busybox, "mount", "-t", "tmpfs", "none", dir]);
        Assert.True(control.ExitCode == 0, control.Stderr);

        var denied = SeccompKernelFixture.Run(Busybox,
            ["unshare", "-m", k.Helper, WriteDefault(), "0", "--", Busybox, "mount", "-t", "tmpfs", "none", dir]);
        Assert.NotEqual(0, denied.ExitCode);
        // busybox mount words EPERM this way; the raw probes below show the errno itself.
        Assert.Contains("mount: permission denied", denied.Stderr);
        Assert.Equal(EPERM, ErrnoOf(k.Syscall(Default.Value, Nr("mount"), 0, 0, 0, 0, 0)));
        Assert.Equal(EPERM, ErrnoOf(k.Syscall(Default.Value, Nr("umount2"), 0, 0)));
    }

    [Fact]
    public void Default_profile_blocks_user_namespaces()
    {
        var denied = k.Exec(Default.Value, Busybox, "unshare", "-U", Busybox, "true");
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("Operation not permitted", denied.Stderr);

        var control = k.Exec(null, Busybox, "unshare", "-U", Busybox, "true");
        Assert.True(control.ExitCode == 0, control.Stderr);
    }

    [Theory]
    [InlineData("keyctl", new ulong[] { 0, 0 })]              // KEYCTL_GET_KEYRING_ID
    [InlineData("add_key", new ulong[] { 0, 0, 0, 0, 0 })]
    [InlineData("request_key", new ulong[] { 0, 0, 0, 0 })]
    [InlineData("ptrace", new ulong[] { 0 })]                 // PTRACE_TRACEME
    [InlineData("process_vm_readv", new ulong[] { 1, 0, 0, 0, 0, 0 })]
    [InlineData("bpf", new ulong[] { 0, 0, 0 })]
    [InlineData("perf_event_open", new ulong[] { 0, 0, 0, 0, 0 })]
    [InlineData("unshare", new ulong[] { 0x20000 })]          // CLONE_NEWNS
    [InlineData("setns", new ulong[] { 0, 0 })]
    [InlineData("pivot_root", new ulong[] { 0, 0 })]
    [InlineData("open_by_handle_at", new ulong[] { 0, 0, 0 })]
    [InlineData("userfaultfd", new ulong[] { 0 })]
    [InlineData("io_uring_setup", new ulong[] { 1, 0 })]
    [InlineData("kexec_load", new ulong[] { 0, 0, 0, 0 })]
    [InlineData("init_module", new ulong[] { 0, 0, 0 })]
    [InlineData("syslog", new ulong[] { 3, 0, 0 })]
    [InlineData("clock_settime", new ulong[] { 0, 0 })]
    [InlineData("swapoff", new ulong[] { 0 })]
    [InlineData("reboot", new ulong[] { 0, 0, 0, 0 })]
    [InlineData("fsopen", new ulong[] { 0, 0 })]
    [InlineData("kcmp", new ulong[] { 1, 1, 0, 0, 0 })]
    public void Default_profile_denies_with_EPERM(string name, ulong[] args)
    {
        Assert.Equal(EPERM, ErrnoOf(k.Syscall(Default.Value, Nr(name), args)));
    }

    [Fact]
    public void Default_profile_keyctl_and_ptrace_work_without_it()
    {
        // The same probes without a filter reach the kernel: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING=-1)
        // returns a keyring id or a non-EPERM error, and PTRACE_TRACEME succeeds.
        Assert.NotEqual("errno=1", k.Syscall(null, Nr("keyctl"), 0, unchecked((ulong)-1L)));
        Assert.Equal("ret=0", k.Syscall(null, Nr("ptrace"), 0));
    }

    [Fact]
    public void Default_profile_gives_ENOSYS_for_clone3()
    {
        Assert.Equal(EINVAL, ErrnoOf(k.Syscall(null, 435, 0, 0)));
        Assert.Equal(ENOSYS, ErrnoOf(k.Syscall(Default.Value, 435, 0, 0)));
    }

    [Fact]
    public void Default_profile_filters_clone_namespace_flags()
    {
        Assert.StartsWith("ret=", k.Syscall(Default.Value, Nr("clone"), SIGCHLD, 0, 0, 0, 0));
        Assert.Equal(EPERM, ErrnoOf(k.Syscall(Default.Value, Nr("clone"), SIGCHLD | CLONE_NEWUSER, 0, 0, 0, 0)));
        Assert.Equal(EPERM, ErrnoOf(k.Syscall(Default.Value, Nr("clone"), SIGCHLD | 0x20000, 0, 0, 0, 0)));
    }

    [Theory]
    [InlineData(2ul, true)]              // AF_INET
    [InlineData(1ul, true)]              // AF_UNIX
    [InlineData(16ul, true)]             // AF_NETLINK
    [InlineData(38ul, false)]            // AF_ALG
    [InlineData(40ul, false)]            // AF_VSOCK
    [InlineData(0x100000028ul, false)]   // AF_VSOCK with garbage in the upper half the kernel ignores
    [InlineData(0x100000002ul, false)]   // likewise for AF_INET: refused rather than guessed at
    public void Default_profile_filters_socket_families(ulong family, bool allowed)
    {
        // type SOCK_DGRAM (2): AF_ALG and AF_VSOCK would otherwise answer with their own errors, not EPERM.
        var result = k.Syscall(Default.Value, Nr("socket"), family, 2, 0);
        if (allowed)
        {
            Assert.NotEqual("errno=1", result);
        }
        else
        {
            Assert.Equal("errno=1", result);
        }
    }

    [Theory]
    [InlineData(0xfffffffful, true)]
    [InlineData(0x0ul, true)]
    [InlineData(0x20008ul, true)]
    [InlineData(0x0400000ul, false)]     // READ_IMPLIES_EXEC
    [InlineData(0x0040000ul, false)]     // ADDR_COMPAT_LAYOUT
    public void Default_profile_filters_personality(ulong persona, bool allowed)
    {
        var result = k.Syscall(Default.Value, Nr("personality"), persona);
        Assert.Equal(allowed, result.StartsWith("ret=", StringComparison.Ordinal));
    }

    [Fact]
    public void Default_profile_gives_ENOSYS_past_its_highest_syscall_and_EPERM_below()
    {
        Assert.Equal(ENOSYS, ErrnoOf(k.Syscall(Default.Value, 1000)));
        // Numbers newer than libseccomp 2.5.4's table (the futex2 calls, 454+) must look absent, not refused.
        Assert.Equal(ENOSYS, ErrnoOf(k.Syscall(Default.Value, Nr("map_shadow_stack") + 1, 0, 0, 0)));
        Assert.Equal(EPERM, ErrnoOf(k.Syscall(Default.Value, Nr("acct"), 0)));
    }

    // The i386 entry point (int $0x80) is open to 64-bit processes on x86_64; seccomp sees it as
    // AUDIT_ARCH_I386 with i386 numbers. These run only where that ABI exists, which is this x86_64 VM.
    private static bool HasI386Entry => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture
        == System.Runtime.InteropServices.Architecture.X64;

    private static int Nr32(string name)
    {
        var nr = SeccompFilter.ResolveSyscall(SeccompFilter.ResolveArch("x86"), name);
        Assert.True(nr >= 0, $"{name} does not exist on i386");
        return nr;
    }

    [Fact]
    public void Default_profile_filters_the_i386_entry_point_too()
    {
        Assert.True(HasI386Entry, "this VM is x86_64");
        Assert.Equal("ret=", k.Syscall32(null, Nr32("getpid")).Stdout[..4]);
        Assert.Equal("ret=", k.Syscall32(Default.Value, Nr32("getpid")).Stdout[..4]);
        Assert.Equal("errno=1\n", k.Syscall32(Default.Value, Nr32("keyctl"), 0, 0).Stdout);
        Assert.Equal("errno=1\n", k.Syscall32(Default.Value, Nr32("unshare"), CLONE_NEWUSER).Stdout);
        Assert.Equal("errno=1\n", k.Syscall32(Default.Value, Nr32("ptrace"), 0).Stdout);
        Assert.Equal("errno=1\n", k.Syscall32(Default.Value, Nr32("mount"), 0, 0, 0, 0, 0).Stdout);
        // libseccomp names i386 socket by its socketcall pseudo number and also filters the direct
        // call the kernel has had since 4.3, i386 number 359.
        Assert.Equal("errno=1\n", k.Syscall32(Default.Value, 359, AfVsock, 2, 0).Stdout);
        Assert.Equal("ret=", k.Syscall32(Default.Value, 359, 2, 2, 0).Stdout[..4]);
        Assert.Equal("errno=38\n", k.Syscall32(Default.Value, 1000).Stdout);
    }

    [Fact]
    public void An_ABI_left_out_of_the_filter_is_killed_not_let_through()
    {
        Assert.True(HasI386Entry, "this VM is x86_64");
        var nativeOnly = Deny("SCMP_ACT_ALLOW", new SeccompSyscall { Names = ["keyctl"], Action = "SCMP_ACT_ERRNO" });
        Assert.Equal("errno=1", k.Syscall(nativeOnly, Nr("keyctl"), 0, 0));
        var r = k.Syscall32(nativeOnly, Nr32("getpid"));
        Assert.Equal(128 + 31, r.ExitCode);
        Assert.Equal("", r.Stdout);
    }

    private string WriteDefault()
    {
        var path = Path.Combine(k.Dir, "default.bpf");
        File.WriteAllBytes(path, Default.Value.Program);
        return path;
    }

    private static int ErrnoOf(string result)
    {
        Assert.StartsWith("errno=", result);
        return int.Parse(result["errno=".Length..]);
    }
}
