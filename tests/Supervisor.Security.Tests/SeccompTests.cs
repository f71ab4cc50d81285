using System.Text.Json.Nodes;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// linux.seccomp through the real CLI: the profile is compiled with libseccomp in the runtime
/// (src/Supervisor.Runtime/Seccomp/SeccompCompiler.cs) and only loaded by the shim, last, right before
/// execve (native/src/shim_child.c, finish). The default profile that `supervisor spec` writes
/// (Seccomp/DefaultProfile.cs, docs/seccomp.md) refuses what Docker's refuses.
/// </summary>
public sealed class SeccompTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private static JsonObject Profile(string defaultAction, params JsonObject[] rules) => new()
    {
        ["defaultAction"] = defaultAction,
        ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray(rules.Select(r => (JsonNode?)r).ToArray()),
    };

    private CliResult Probe(Action<Bundle> edit, params string[] syscalls)
    {
        using var b = new Bundle(_root.Path);
        var attack = Attacker.InstallInto(b.RootfsPath);
        b.Process["args"] = Containers.Args("/bin/sh", "-c", string.Join("; ", syscalls.Select(s => $"{attack} syscall {s}")));
        edit(b);
        b.Save();
        return Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("seccomp"));
    }

    [RootFact]
    public void A_denied_getcwd_fails_with_eperm()
    {
        var r = Probe(b => b.Linux["seccomp"] = Profile("SCMP_ACT_ALLOW",
            new JsonObject { ["names"] = new JsonArray("getcwd"), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 1 }), "getcwd", "write1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var v = Attacker.Values(r.Stdout);
        Assert.Equal("EPERM", v["getcwd"]);
        Assert.Equal("OK", v["write1"]);
    }

    [RootFact]
    public void A_write_rule_conditional_on_its_first_argument_only_refuses_fds_above_one()
    {
        var r = Probe(b => b.Linux["seccomp"] = Profile("SCMP_ACT_ALLOW", new JsonObject
        {
            ["names"] = new JsonArray("write"), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 1,
            ["args"] = new JsonArray(new JsonObject { ["index"] = 0, ["value"] = 1, ["op"] = "SCMP_CMP_GT" }),
        }), "write1", "write2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var v = Attacker.Values(r.Stdout);
        Assert.Equal("OK", v["write1"]);
        Assert.Equal("EPERM", v["write2"]);
    }

    [RootFact]
    public void The_default_profile_blocks_mount_keyctl_user_namespaces_and_ptrace()
    {
        // CAP_SYS_ADMIN is granted so that the refused mount is seccomp's doing, not a missing capability;
        // keyctl, unshare(CLONE_NEWUSER) and ptrace of one's own child need no capability at all.
        var r = Probe(b =>
        {
            Assert.NotNull(b.Linux["seccomp"]); // written by `supervisor spec`
            Containers.AddCaps(b, "CAP_SYS_ADMIN");
        }, "mount", "keyctl", "unshare-user", "ptrace", "getcwd");
        Assert.True(r.ExitCode == 0, r.ToString());
        var v = Attacker.Values(r.Stdout);
        Assert.Equal("EPERM", v["mount"]);
        Assert.Equal("EPERM", v["keyctl"]);
        Assert.Equal("EPERM", v["unshare-user"]);
        Assert.Equal("EPERM", v["ptrace"]);
        Assert.Equal("OK", v["getcwd"]);

        // Without the profile the same probes get through: the refusals above are the filter's.
        var open = Probe(b =>
        {
            b.Linux.Remove("seccomp");
            Containers.AddCaps(b, "CAP_SYS_ADMIN");
        }, "mount", "keyctl", "unshare-user", "ptrace");
        Assert.True(open.ExitCode == 0, open.ToString());
        Assert.All(Attacker.Values(open.Stdout).Values, value => Assert.Equal("OK", value));
    }

    [RootFact]
    public void The_default_profile_allows_an_ordinary_busybox_session()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c",
            "set -e; cd /tmp; echo hello > f; cat f; ls / > /dev/null; ps > /dev/null; sleep 0.01 & wait; " +
            "sort /etc/passwd | head -n 1 > /dev/null; tar cf /tmp/t.tar /etc 2>/dev/null; id -u; echo ok"]);
        Assert.NotNull(b.Linux["seccomp"]);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("busybox"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n0\nok\n", r.Stdout);
    }
}
