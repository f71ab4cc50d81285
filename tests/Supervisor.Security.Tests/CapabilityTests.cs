using System.Text.Json.Nodes;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 6, CVE-2022-29162 (and CVE-2022-24769, CVE-2022-27650): capabilities. Defences: the inheritable and
/// ambient sets are exactly what the config asks for, `exec --cap` adds to bounding, effective and
/// permitted only (src/Supervisor.Cli/Commands/ExecCommand.cs, ApplyOverrides; native/src/shim_creds.c,
/// shim_set_identity), and no_new_privs is set before execve (shim_child.c, finish), so neither a setuid
/// nor a file-capability binary gives a non-root process more than it had.
/// </summary>
public sealed class CapabilityTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private const ulong CapNetRaw = 1UL << 13;

    [RootFact]
    public void Inheritable_and_ambient_stay_empty_for_the_init_and_for_exec_with_added_caps()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var attack = Attacker.InstallInto(b.RootfsPath);
        var id = StateRoot.NewId("capinh");
        Assert.Equal(0, Containers.RunDetached(_root.Path, b, id, "/dev/null").ExitCode);
        var init = Cli.Run(_root.Path, "exec", id, "/bin/grep", "-E", "^Cap(Inh|Amb)", "/proc/1/status");
        Assert.Matches(@"CapInh:\s+0000000000000000", init.Stdout);
        Assert.Matches(@"CapAmb:\s+0000000000000000", init.Stdout);

        var e = Cli.Run(_root.Path, "exec", "--cap", "CAP_NET_RAW", "--cap", "CAP_SYS_ADMIN", id, attack, "ids");
        Assert.True(e.ExitCode == 0, e.ToString());
        var v = Attacker.Values(e.Stdout);
        Assert.Equal("0000000000000000", v["capinh"]);
        Assert.NotEqual(0UL, Convert.ToUInt64(v["capprm"], 16) & CapNetRaw); // the --cap did arrive
        Cli.Run(_root.Path, "delete", "-f", id);
    }

    [RootFact]
    public void A_file_capability_binary_gives_a_non_root_exec_nothing_it_was_not_given()
    {
        // The CVE-2022-29162 escalation: with CAP_NET_RAW wrongly in the inheritable set, uid 1000 running a
        // binary marked cap_net_raw+ei gains it in its permitted set. no_new_privs would hide the bug (file
        // capabilities are ignored then), so it is off here.
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        b.Process["noNewPrivileges"] = false;
        b.Save();
        var fcap = Attacker.InstallInto(b.RootfsPath, "fcap-attack");
        var set = Shell.Run($"setcap cap_net_raw+ei {Shell.Quote(Path.Combine(b.RootfsPath, "fcap-attack"))}");
        Assert.True(set.ExitCode == 0, set.ToString());
        var id = StateRoot.NewId("fcap");
        Assert.Equal(0, Containers.RunDetached(_root.Path, b, id, "/dev/null").ExitCode);

        var e = Cli.Run(_root.Path, "exec", "--cap", "CAP_NET_RAW", "-u", "1000:1000", id, "/bin/sh", "-c", fcap + " ids");
        Assert.True(e.ExitCode == 0, e.ToString());
        var v = Attacker.Values(e.Stdout);
        Assert.Equal("1000", v["euid"]);
        Assert.Equal(0UL, Convert.ToUInt64(v["capprm"], 16) & CapNetRaw);
        Cli.Run(_root.Path, "delete", "-f", id);

        // The control: when inheritable is asked for explicitly, the same binary does get the capability,
        // so the refusal above is the runtime's doing and not a quirk of the setup.
        using var asked = new Bundle(_root.Path, args: ["/bin/sh", "-c", "/fcap-attack ids"]);
        asked.Process["noNewPrivileges"] = false;
        asked.Process["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
        asked.Process["capabilities"]!["inheritable"] = new JsonArray("CAP_NET_RAW");
        Containers.AddCaps(asked, "CAP_NET_RAW");
        asked.Save();
        Attacker.InstallInto(asked.RootfsPath, "fcap-attack");
        Assert.Equal(0, Shell.Run($"setcap cap_net_raw+ei {Shell.Quote(Path.Combine(asked.RootfsPath, "fcap-attack"))}").ExitCode);
        var c = Cli.Run(_root.Path, "run", "-b", asked.Dir, StateRoot.NewId("fcapctl"));
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.NotEqual(0UL, Convert.ToUInt64(Attacker.Values(c.Stdout)["capprm"], 16) & CapNetRaw);
    }

    [RootFact]
    public void A_setuid_root_binary_run_by_uid_1000_under_no_new_privs_stays_uid_1000()
    {
        foreach (var nnp in new[] { true, false })
        {
            using var b = new Bundle(_root.Path, args: ["/suid-attack", "ids"]);
            b.Process["noNewPrivileges"] = nnp;
            b.Process["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
            b.Save();
            var path = Path.Combine(b.RootfsPath, "suid-attack");
            Attacker.InstallInto(b.RootfsPath, "suid-attack");
            File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("4755", 8));
            var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("suid"));
            Assert.True(r.ExitCode == 0, r.ToString());
            var v = Attacker.Values(r.Stdout);
            Assert.Equal("1000", v["ruid"]);
            // Without no_new_privs the setuid bit works (the control); with it the kernel ignores the bit.
            Assert.Equal(nnp ? "1000" : "0", v["euid"]);
        }
    }
}
