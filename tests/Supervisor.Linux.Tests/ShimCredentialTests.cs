using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

/// <summary>Identity, capabilities, no_new_privs, seccomp, rlimits and fd hygiene of the exec'd process.</summary>
public class ShimCredentialTests
{
    private static readonly TimeSpan T = TimeSpan.FromSeconds(20);
    private const ulong CAP_KILL = 1ul << 5, CAP_NET_BIND_SERVICE = 1ul << 10, CAP_SETPCAP = 1ul << 8;

    private static (int Code, string Output) Run(ShimRequest r)
    {
        using var pipe = new TestPipe();
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r, new ShimStdio(0, pipe.Write, pipe.Write));
        pipe.CloseWrite();
        s.WaitChild(T);
        s.Go();
        s.WaitExeced(T);
        var exit = s.WaitExit(timeout: T);
        var output = pipe.ReadToEnd();
        s.WaitShimExit();
        return (exit.ExitCode, output);
    }

    private static Dictionary<string, string> Status(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(':'))
            .Select(l => l.Split(':', 2))
            .GroupBy(p => p[0].Trim())
            .ToDictionary(g => g.Key, g => g.First()[1].Trim());

    [RootFact]
    public void User_groups_and_ambient_capabilities_are_applied()
    {
        ulong caps = CAP_KILL | CAP_NET_BIND_SERVICE;
        var r = ShimSessionTests.Exec("/bin/sh", "-c", "id -u; id -g; id -G; cat /proc/self/status");
        r.User = new ShimUser(1000, 1001, null, [29, 2000]);
        r.Caps = new ShimCaps(caps, caps, caps, caps, caps);
        var (code, output) = Run(r);
        Assert.Equal(0, code);
        var lines = output.Split('\n');
        Assert.Equal("1000", lines[0]);
        Assert.Equal("1001", lines[1]);
        Assert.Equal(["1001", "29", "2000"], lines[2].Split(' '));
        var st = Status(output);
        Assert.Equal("0000000000000420", st["CapBnd"]);
        Assert.Equal("0000000000000420", st["CapAmb"]);
        Assert.Equal("0000000000000420", st["CapEff"]);
        Assert.Equal("0000000000000420", st["CapInh"]);
    }

    [RootFact]
    public void Without_ambient_a_non_root_user_ends_with_no_capabilities_but_the_bounding_set()
    {
        // CVE-2022-29162: nothing inheritable or ambient unless asked for.
        ulong caps = CAP_KILL | CAP_NET_BIND_SERVICE;
        var r = ShimSessionTests.Exec("/bin/cat", "/proc/self/status");
        r.User = new ShimUser(1000, 1000, null, []);
        r.Caps = new ShimCaps(caps, caps, caps, 0, 0);
        var st = Status(Run(r).Output);
        Assert.Equal("0000000000000420", st["CapBnd"]);
        Assert.Equal("0000000000000000", st["CapInh"]);
        Assert.Equal("0000000000000000", st["CapAmb"]);
        Assert.Equal("0000000000000000", st["CapEff"]);
        Assert.Equal("0000000000000000", st["CapPrm"]);
        Assert.StartsWith("1000", st["Uid"]);
        Assert.Equal("", st["Groups"]);
    }

    [RootFact]
    public void Root_keeps_exactly_the_bounding_set()
    {
        ulong caps = CAP_KILL | CAP_NET_BIND_SERVICE | CAP_SETPCAP;
        var r = ShimSessionTests.Exec("/bin/cat", "/proc/self/status");
        r.Caps = new ShimCaps(caps, caps, caps, 0, 0);
        var st = Status(Run(r).Output);
        Assert.Equal("0000000000000520", st["CapBnd"]);
        Assert.Equal("0000000000000520", st["CapEff"]);
        Assert.Equal("0000000000000000", st["CapInh"]);
    }

    /// <summary>A filter that fails mkdir and mkdirat with EPERM and allows everything else.</summary>
    private static byte[] DenyMkdirFilter()
    {
        (uint mkdir, uint mkdirat) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (83u, 258u),
            Architecture.Arm64 => (34u, 34u),
            var a => throw new PlatformNotSupportedException(a.ToString()),
        };
        var prog = new byte[5 * 8];
        void Insn(int i, ushort code, byte jt, byte jf, uint k)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(prog.AsSpan(i * 8), code);
            prog[i * 8 + 2] = jt;
            prog[i * 8 + 3] = jf;
            BinaryPrimitives.WriteUInt32LittleEndian(prog.AsSpan(i * 8 + 4), k);
        }
        Insn(0, 0x20, 0, 0, 0);            // ld [nr]
        Insn(1, 0x15, 2, 0, mkdir);        // jeq mkdir -> deny
        Insn(2, 0x15, 1, 0, mkdirat);      // jeq mkdirat -> deny
        Insn(3, 0x06, 0, 0, 0x7fff0000);   // ret ALLOW
        Insn(4, 0x06, 0, 0, 0x00050000 | 1); // ret ERRNO(EPERM)
        return prog;
    }

    [RootFact]
    public void Seccomp_and_no_new_privs_are_in_force_after_execve()
    {
        foreach (bool nnp in new[] { true, false })
        {
            var dir = $"/tmp/shim-seccomp-{Guid.NewGuid():N}";
            var r = ShimSessionTests.Exec("/bin/sh", "-c", $"grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mkdir {dir} || echo denied");
            r.Seccomp = new ShimSeccomp(0, DenyMkdirFilter());
            r.User = new ShimUser(1000, 1000, null, []);
            if (nnp)
                r.Flags = ShimFlags.NoNewPrivs;
            var (_, output) = Run(r);
            var st = Status(output);
            Assert.Equal(nnp ? "1" : "0", st["NoNewPrivs"]);
            Assert.Equal("2", st["Seccomp"]);
            Assert.Contains("denied", output);
            Assert.False(Directory.Exists(dir));
        }
    }

    [Fact]
    public void Rlimits_and_oom_score_adj_are_set()
    {
        var r = ShimSessionTests.Exec("/bin/sh", "-c", "ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj");
        r.Rlimits.Add(new ShimRlimit(7 /* RLIMIT_NOFILE */, 123, 456));
        r.OomScoreAdj = 321;
        var (code, output) = Run(r);
        Assert.Equal(0, code);
        Assert.Equal("123\n456\n321\n", output);
    }

    [Fact]
    public void The_process_gets_only_stdio_and_no_other_fd()
    {
        // CVE-2024-21626: no fd of the shim or of the caller may reach the container.
        var (code, output) = Run(ShimSessionTests.Exec("/bin/ls", "/proc/self/fd"));
        Assert.Equal(0, code);
        // 0-2 are stdio; 3 is the directory ls itself opened to list /proc/self/fd.
        Assert.Equal("0\n1\n2\n3\n", output);
    }

    [Fact]
    public void The_process_has_default_signal_dispositions_and_an_empty_mask()
    {
        var (_, output) = Run(ShimSessionTests.Exec("/bin/cat", "/proc/self/status"));
        var st = Status(output);
        Assert.Equal("0000000000000000", st["SigBlk"]);
        Assert.Equal("0000000000000000", st["SigIgn"]);
    }
}
