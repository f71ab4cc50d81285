using Supervisor.Runtime.Cgroups;

namespace Supervisor.Runtime.Tests.Cgroups;

public class CgroupPathsTests
{
    [Fact]
    public void Absolute_IsUnderEveryMountpointRoot()
    {
        using var f = CgroupFixture.V1();
        var paths = CgroupPaths.Resolve(f.Layout, "/machine/c1", "ignored");

        Assert.Equal(Path.Combine(f.Mount("memory"), "machine/c1"), paths["memory"]);
        Assert.Equal(Path.Combine(f.Mount("cpu,cpuacct"), "machine/c1"), paths["cpu"]);
        Assert.Equal(paths["cpu"], paths["cpuacct"]);
        Assert.Equal(Path.Combine(f.Mount("systemd"), "machine/c1"), paths["name=systemd"]);
        Assert.False(paths.ContainsKey(CgroupPaths.UnifiedKey));
    }

    [Fact]
    public void Relative_IsNestedUnderOwnCgroup()
    {
        using var f = CgroupFixture.V1(memoryOwnPath: "/process_api/abc");
        var paths = CgroupPaths.Resolve(f.Layout, "ctr/c1", "ignored");

        Assert.Equal(Path.Combine(f.Mount("memory"), "process_api/abc/ctr/c1"), paths["memory"]);
        Assert.Equal(Path.Combine(f.Mount("pids"), "ctr/c1"), paths["pids"]);
    }

    [Fact]
    public void Default_IsRelativeNamedAfterContainer()
    {
        using var f = CgroupFixture.V1(memoryOwnPath: "/process_api/abc");
        var paths = CgroupPaths.Resolve(f.Layout, null, "web1");
        Assert.Equal(Path.Combine(f.Mount("memory"), "process_api/abc/web1"), paths["memory"]);
        Assert.Equal(Path.Combine(f.Mount("devices"), "web1"), paths["devices"]);
        Assert.Equal(paths, CgroupPaths.Resolve(f.Layout, "", "web1"));
    }

    [Fact]
    public void V2AndHybrid_HaveUnifiedKey()
    {
        using var v2 = CgroupFixture.V2("/user.slice");
        var p2 = CgroupPaths.Resolve(v2.Layout, null, "c1");
        Assert.Equal([CgroupPaths.UnifiedKey], p2.Keys);
        Assert.Equal(Path.Combine(v2.Mount("unified"), "user.slice/c1"), p2[""]);

        using var h = CgroupFixture.Hybrid();
        var ph = CgroupPaths.Resolve(h.Layout, "/x", "c1");
        Assert.Equal(Path.Combine(h.Mount("unified"), "x"), ph[""]);
        Assert.Equal(Path.Combine(h.Mount("memory"), "x"), ph["memory"]);
    }

    [Fact]
    public void InnerDotDot_IsCollapsed()
    {
        using var f = CgroupFixture.V1();
        var paths = CgroupPaths.Resolve(f.Layout, "/a/./b/../c", "x");
        Assert.Equal(Path.Combine(f.Mount("pids"), "a/c"), paths["pids"]);
    }

    [Theory]
    [InlineData("/../etc")]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("/a/\0b")]
    [InlineData("/")]
    [InlineData("/a/..")]
    public void Escaping_OrNul_OrRoot_IsRejected(string path)
    {
        using var f = CgroupFixture.V1();
        Assert.Throws<ArgumentException>(() => CgroupPaths.Resolve(f.Layout, path, "x"));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    public void BadContainerId_ForDefaultPath_IsRejected(string id)
    {
        using var f = CgroupFixture.V1();
        Assert.Throws<ArgumentException>(() => CgroupPaths.Resolve(f.Layout, null, id));
    }
}
