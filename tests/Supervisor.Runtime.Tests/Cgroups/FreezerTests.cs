using Supervisor.Linux;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class FreezerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void V1_FreezeThaw_ReadsBack()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        Assert.Equal(FreezerState.Thawed, m.GetFreezerState());

        m.Freeze(Timeout);
        Assert.Equal(FreezerState.Frozen, m.GetFreezerState());
        Assert.Equal("FROZEN", f.Read(Path.Combine(m.Path("freezer")!, "freezer.state")));

        m.Thaw(Timeout);
        Assert.Equal(FreezerState.Thawed, m.GetFreezerState());
    }

    [Fact]
    public void V1_StuckFreezing_TimesOut_AndThawsBack()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        f.Io.StuckFreeze = true;

        var e = Assert.Throws<CgroupException>(() => m.Freeze(Timeout));

        Assert.Equal(Errno.ETIMEDOUT, e.Errno);
        Assert.Contains("still FREEZING after 200 ms; thawed it back", e.Message);
        Assert.Equal(FreezerState.Thawed, m.GetFreezerState());
        // It re-requested FROZEN while waiting (the kernel retries stragglers on each write), then THAWED.
        var writes = f.Io.WritesTo("freezer.state");
        Assert.True(writes.Count(w => w == "FROZEN") >= 2);
        Assert.Equal("THAWED", writes[^1]);
    }

    [Fact]
    public void V1_PreWrittenStates_AreReported()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var file = Path.Combine(m.Path("freezer")!, "freezer.state");
        File.WriteAllText(file, "FREEZING\n");
        Assert.Equal(FreezerState.Freezing, m.GetFreezerState());
        File.WriteAllText(file, "FROZEN\n");
        Assert.Equal(FreezerState.Frozen, m.GetFreezerState());
        File.WriteAllText(file, "BOGUS\n");
        Assert.Throws<CgroupException>(() => m.GetFreezerState());
    }

    [Fact]
    public void NoFreezer_IsUndefined_AndFreezeSaysWhy()
    {
        using var f = CgroupFixture.V1();
        var paths = CgroupPaths.Resolve(f.Layout, "/c1", "c1").Where(kv => kv.Key != "freezer").ToDictionary();
        var m = CgroupManager.Create(f.Layout, paths, f.Io);
        Assert.Equal(FreezerState.Undefined, m.GetFreezerState());
        Assert.Equal("cgroup freeze: the freezer controller is not mounted", Assert.Throws<CgroupException>(() => m.Freeze(Timeout)).Message);
    }

    [Fact]
    public void V2_FreezeThaw_UsesCgroupFreezeAndEvents()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());

        m.Freeze(Timeout);
        Assert.Equal(FreezerState.Frozen, m.GetFreezerState());
        Assert.Equal("1", f.Read(Path.Combine(m.Path("")!, "cgroup.freeze")));
        m.Thaw(Timeout);
        Assert.Equal(FreezerState.Thawed, m.GetFreezerState());
    }

    [Fact]
    public void V2_StuckFreeze_IsFreezing_ThenTimesOutAndThaws()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        f.Io.StuckFreeze = true;
        var dir = m.Path("")!;

        var e = Assert.Throws<CgroupException>(() => m.Freeze(Timeout));

        Assert.Contains("did not report frozen after 200 ms; thawed it back", e.Message);
        Assert.Equal("0", f.Read(Path.Combine(dir, "cgroup.freeze")));
        File.WriteAllText(Path.Combine(dir, "cgroup.freeze"), "1");
        Assert.Equal(FreezerState.Freezing, m.GetFreezerState());
    }

    [Fact]
    public void Hybrid_UsesV1Freezer()
    {
        using var f = CgroupFixture.Hybrid();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        m.Freeze(Timeout);
        Assert.Equal("FROZEN", f.Read(Path.Combine(f.Mount("freezer"), "c1", "freezer.state")));
        Assert.Empty(f.Io.WritesTo("cgroup.freeze"));
        m.Thaw(Timeout);
    }
}
