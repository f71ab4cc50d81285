using System.Diagnostics;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

/// <summary>A test that creates real cgroups under /sys/fs/cgroup; it needs root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: creates cgroups under /sys/fs/cgroup";
    }
}

/// <summary>
/// Against the live kernel: this machine has every controller on v1 and hugetlb alone on the cgroup2 mount.
/// Each test uses a fresh absolute cgroup and removes it (and kills its processes) even when it fails.
/// </summary>
[Collection("real cgroups")]
public class RealCgroupTests
{
    private static readonly TimeSpan FreezeTimeout = TimeSpan.FromSeconds(5);

    private static string NewPath() => "/supervisor-test-" + Guid.NewGuid().ToString("N")[..10];

    private static Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static void Cleanup(Process? p, ICgroupManager m)
    {
        if (p is not null)
        {
            try
            {
                // A frozen task cannot die; make sure it can.
                if (m.GetFreezerState() != FreezerState.Thawed && m.GetFreezerState() != FreezerState.Undefined)
                    m.Thaw(FreezeTimeout);
            }
            catch (CgroupException)
            {
            }
            if (!p.HasExited)
                p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
        m.Destroy();
    }

    private static char ProcState(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)];
    }

    [Fact]
    public void Detect_ThisMachine_IsHybridWithEveryControllerV1()
    {
        var layout = CgroupLayout.Detect();
        Assert.Equal(CgroupMode.Hybrid, layout.Mode);
        foreach (var c in new[] { "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd" })
            Assert.True(layout.IsV1(c), c);
        Assert.True(layout.IsV2("hugetlb"));
    }

    [RootFact]
    public void Limits_Freeze_Stats_Destroy_OnTheKernel()
    {
        var m = CgroupManager.ForContainer(CgroupLayout.Detect(), NewPath(), "real1");
        Process? p = null;
        try
        {
            m.Create(new Resources
            {
                Memory = new MemoryResources { Limit = 64L << 20, Swap = 64L << 20 },
                Pids = new PidsResources { Limit = 20 },
                Cpu = new CpuResources { Quota = 50000, Period = 100000, Shares = 512, Cpus = "0" },
                Devices = [new DeviceRule(false, 'a', null, null, "rwm"), new DeviceRule(true, 'c', 1, 3, "rwm"), new DeviceRule(true, 'c', 1, 5, "r")],
            });
            string R(string c, string f) => File.ReadAllText(Path.Combine(m.Path(c)!, f)).Trim();
            Assert.Equal((64L << 20).ToString(), R("memory", "memory.limit_in_bytes"));
            Assert.Equal((64L << 20).ToString(), R("memory", "memory.memsw.limit_in_bytes"));
            Assert.Equal("20", R("pids", "pids.max"));
            Assert.Equal("50000", R("cpu", "cpu.cfs_quota_us"));
            Assert.Equal("100000", R("cpu", "cpu.cfs_period_us"));
            Assert.Equal("512", R("cpu", "cpu.shares"));
            Assert.Equal("0", R("cpuset", "cpuset.cpus"));
            Assert.NotEqual("", R("cpuset", "cpuset.mems")); // inherited from the parent
            Assert.Equal("c 1:3 rwm\nc 1:5 r", R("devices", "devices.list"));

            // The shell waits for a line, so sleep is exec'd inside the cgroup and its pages are charged there.
            p = Start("/bin/sh", "-c", "read go; exec sleep 30");
            m.Apply(p.Id);
            p.StandardInput.WriteLine("go");
            p.StandardInput.Flush();
            Assert.Contains(p.Id, m.GetPids());
            Assert.Contains($":memory:{m.Path("memory")!["/sys/fs/cgroup/memory".Length..]}", File.ReadAllText($"/proc/{p.Id}/cgroup"));
            Assert.Contains("0::/" + Path.GetFileName(m.Path("")!), File.ReadAllText($"/proc/{p.Id}/cgroup"));

            m.Freeze(FreezeTimeout);
            Assert.Equal(FreezerState.Frozen, m.GetFreezerState());
            Assert.Equal('D', ProcState(p.Id)); // frozen tasks sleep uninterruptibly
            m.Thaw(FreezeTimeout);
            Assert.Equal(FreezerState.Thawed, m.GetFreezerState());
            Assert.NotEqual('D', ProcState(p.Id)); // woken by the thaw: running or sleeping again

            var s = m.GetStats();
            Assert.True(s.Memory.Usage.Usage > 0);
            Assert.Equal(64UL << 20, s.Memory.Usage.Limit);
            Assert.Equal(1UL, s.Pids.Current);
            Assert.Equal(20UL, s.Pids.Limit);
            Assert.True(s.Memory.Raw.ContainsKey("total_rss"));
            Assert.Contains("\"limit\":67108864", CgroupStatsJson.ToEventJson("real1", s, null));

            p.Kill();
            p.WaitForExit();
            m.Destroy();
            Assert.False(m.Exists());
            foreach (var dir in m.Paths.Values)
                Assert.False(Directory.Exists(dir), dir);
        }
        finally
        {
            Cleanup(p, m);
        }
    }

    [RootFact]
    public void LiveSwapUpdates_RaiseAndLower_AreAcceptedByTheKernel()
    {
        var m = CgroupManager.ForContainer(CgroupLayout.Detect(), NewPath(), "real2");
        try
        {
            m.Create(new Resources { Memory = new MemoryResources { Limit = 32L << 20, Swap = 32L << 20 } });
            // Raising memory above the current memsw is EINVAL for the kernel unless memsw moves first.
            m.Set(new Resources { Memory = new MemoryResources { Limit = 128L << 20, Swap = 256L << 20 } });
            // Lowering memsw below the current memory is EINVAL unless memory moves first.
            m.Set(new Resources { Memory = new MemoryResources { Limit = 16L << 20, Swap = 16L << 20 } });
            var s = m.GetStats();
            Assert.Equal(16UL << 20, s.Memory.Usage.Limit);
            Assert.Equal(16UL << 20, s.Memory.Swap.Limit);

            var e = Assert.Throws<CgroupException>(() => m.Set(new Resources { Memory = new MemoryResources { Limit = 64L << 20 } }));
            Assert.Equal($"cgroup memory.limit_in_bytes={64L << 20}: invalid argument", e.Message);
        }
        finally
        {
            Cleanup(null, m);
        }
    }

    [RootFact]
    public void HugetlbLimit_GoesToTheUnifiedHierarchy()
    {
        var layout = CgroupLayout.Detect();
        var m = CgroupManager.ForContainer(layout, NewPath(), "real3");
        var rootControl = Path.Combine(layout.Unified!.Mountpoint, "cgroup.subtree_control");
        bool wasEnabled = File.ReadAllText(rootControl).Split(' ', '\n').Contains("hugetlb");
        try
        {
            m.Create(new Resources { HugepageLimits = [new HugepageLimit("2MB", 4 << 20)] });
            Assert.Equal((4 << 20).ToString(), File.ReadAllText(Path.Combine(m.Path("hugetlb")!, "hugetlb.2MB.max")).Trim());
            Assert.StartsWith(layout.Unified.Mountpoint, m.Path("hugetlb"));
            var s = m.GetStats();
            Assert.Equal(4UL << 20, s.Hugetlb["2MB"].Limit);
        }
        finally
        {
            Cleanup(null, m);
            if (!wasEnabled)
            {
                // Leave the host's cgroup2 root as we found it.
                try { File.WriteAllText(rootControl, "-hugetlb"); } catch (IOException) { }
            }
        }
    }

    [RootFact]
    public async Task Oom_IsReported_AndTheStreamEndsWhenTheCgroupGoes()
    {
        var m = CgroupManager.ForContainer(CgroupLayout.Detect(), NewPath(), "real-oom");
        Process? p = null;
        IOomNotifier? oom = null;
        try
        {
            // memsw = memory, so the cgroup cannot escape into swap.
            m.Create(new Resources { Memory = new MemoryResources { Limit = 16L << 20, Swap = 16L << 20 } });
            oom = OomNotifier.Open(m);
            // The shell waits for a line so it is inside the cgroup before the allocation starts; tail keeps
            // the current "line" of /dev/zero in memory, and that line never ends.
            p = Start("/bin/sh", "-c", "read go; exec tail /dev/zero");
            m.Apply(p.Id);
            p.StandardInput.WriteLine("go");
            p.StandardInput.Flush();

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var ev = await oom.Events.ReadAsync(cts.Token);
            Assert.Null(ev.OomKillCount);

            await p.WaitForExitAsync(cts.Token);
            Assert.Equal(137, p.ExitCode); // SIGKILL from the OOM killer
            var control = OomNotifier.ParseOomControl(File.ReadAllText(Path.Combine(m.Path("memory")!, "memory.oom_control")));
            Assert.True(control.OomKill >= 1);
            // The peak reached the limit (kernel 6.x no longer counts v1 failcnt on the charge path).
            var after = m.GetStats().Memory;
            Assert.InRange(after.Usage.MaxUsage, 8UL << 20, 16UL << 20);

            m.Destroy();
            // Removal signals the eventfd too; the watcher sees the cgroup gone and completes the stream.
            await oom.Events.Completion.WaitAsync(cts.Token);
        }
        finally
        {
            oom?.Dispose();
            Cleanup(p, m);
        }
    }

    [RootFact]
    public void Destroy_WaitsForExitingTasks_AndRemovesSubCgroups()
    {
        var m = CgroupManager.ForContainer(CgroupLayout.Detect(), NewPath(), "real4");
        Process? p = null;
        try
        {
            m.Create(new Resources());
            Directory.CreateDirectory(Path.Combine(m.Path("memory")!, "child"));
            p = Start("sleep", "30");
            m.Apply(p.Id);
            var e = Assert.Throws<CgroupException>(() => m.Destroy());
            Assert.Contains("device or resource busy", e.Message);
            p.Kill();
            p.WaitForExit();
            m.Destroy();
            Assert.False(Directory.Exists(m.Path("memory")!));
        }
        finally
        {
            Cleanup(p, m);
        }
    }

    [RootFact]
    public void V2Freezer_OnTheUnifiedMount()
    {
        // The cgroup2 mount has no memory or cpu controller here, but cgroup.freeze and cgroup.procs are part
        // of the v2 core, so the v2 manager's create/join/freeze/destroy path runs against the real kernel.
        var unified = CgroupLayout.Detect().Unified!.Mountpoint;
        var layout = CgroupLayout.Parse($"41 31 0:38 / {unified} rw,relatime - cgroup2 cgroup2 rw\n", "0::/\n", unifiedControllers: "");
        Assert.Equal(CgroupMode.V2, layout.Mode);
        var m = CgroupManager.ForContainer(layout, NewPath(), "real-v2");
        Process? p = null;
        try
        {
            m.Create(new Resources());
            p = Start("sleep", "30");
            m.Apply(p.Id);
            Assert.Equal([p.Id], m.GetPids());

            m.Freeze(FreezeTimeout);
            Assert.Equal(FreezerState.Frozen, m.GetFreezerState());
            Assert.Contains("frozen 1", File.ReadAllText(Path.Combine(m.Path("")!, "cgroup.events")));
            m.Thaw(FreezeTimeout);
            Assert.Equal(FreezerState.Thawed, m.GetFreezerState());

            _ = m.GetStats(); // cpu.stat of the v2 core parses
            p.Kill();
            p.WaitForExit();
            m.Destroy();
            Assert.False(Directory.Exists(m.Path("")!));
        }
        finally
        {
            Cleanup(p, m);
        }
    }
}
