using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;

namespace Supervisor.Runtime.Tests.Oci;

public class MountOptionsTests
{
    [Theory]
    [InlineData("ro", MountFlags.ReadOnly)]
    [InlineData("nosuid", MountFlags.NoSuid)]
    [InlineData("nodev", MountFlags.NoDev)]
    [InlineData("noexec", MountFlags.NoExec)]
    [InlineData("sync", MountFlags.Synchronous)]
    [InlineData("dirsync", MountFlags.DirSync)]
    [InlineData("remount", MountFlags.Remount)]
    [InlineData("mand", MountFlags.Mandlock)]
    [InlineData("noatime", MountFlags.NoAtime)]
    [InlineData("nodiratime", MountFlags.NoDirAtime)]
    [InlineData("relatime", MountFlags.RelAtime)]
    [InlineData("strictatime", MountFlags.StrictAtime)]
    [InlineData("lazytime", MountFlags.LazyTime)]
    [InlineData("nosymfollow", MountFlags.NoSymFollow)]
    [InlineData("bind", MountFlags.Bind)]
    [InlineData("rbind", MountFlags.Bind | MountFlags.Rec)]
    public void SettingOptions(string option, ulong flag)
    {
        var p = MountOptions.Parse([option]);
        Assert.Equal(flag, p.Flags);
        Assert.Equal(0UL, p.ClearedFlags);
        Assert.Equal("", p.Data);
        Assert.Empty(p.PropagationFlags);
    }

    [Theory]
    [InlineData("ro", "rw", MountFlags.ReadOnly)]
    [InlineData("nosuid", "suid", MountFlags.NoSuid)]
    [InlineData("nodev", "dev", MountFlags.NoDev)]
    [InlineData("noexec", "exec", MountFlags.NoExec)]
    [InlineData("sync", "async", MountFlags.Synchronous)]
    [InlineData("mand", "nomand", MountFlags.Mandlock)]
    [InlineData("noatime", "atime", MountFlags.NoAtime)]
    [InlineData("nodiratime", "diratime", MountFlags.NoDirAtime)]
    [InlineData("relatime", "norelatime", MountFlags.RelAtime)]
    [InlineData("strictatime", "nostrictatime", MountFlags.StrictAtime)]
    public void ClearingOptionsUndoTheirPairAndAreRecorded(string set, string clear, ulong flag)
    {
        var p = MountOptions.Parse([set, clear]);
        Assert.Equal(0UL, p.Flags);
        Assert.Equal(flag, p.ClearedFlags);
        // The last one wins: setting again removes it from the cleared set.
        var q = MountOptions.Parse([clear, set]);
        Assert.Equal(flag, q.Flags);
        Assert.Equal(0UL, q.ClearedFlags);
    }

    [Theory]
    [InlineData("private", MountFlags.Private)]
    [InlineData("rprivate", MountFlags.Private | MountFlags.Rec)]
    [InlineData("shared", MountFlags.Shared)]
    [InlineData("rshared", MountFlags.Shared | MountFlags.Rec)]
    [InlineData("slave", MountFlags.Slave)]
    [InlineData("rslave", MountFlags.Slave | MountFlags.Rec)]
    [InlineData("unbindable", MountFlags.Unbindable)]
    [InlineData("runbindable", MountFlags.Unbindable | MountFlags.Rec)]
    public void PropagationOptions(string option, ulong flags)
    {
        var p = MountOptions.Parse([option]);
        Assert.Equal(0UL, p.Flags);
        Assert.Equal([flags], p.PropagationFlags);
    }

    [Fact]
    public void PropagationKeepsOrder() =>
        Assert.Equal([MountFlags.Private, MountFlags.Shared | MountFlags.Rec], MountOptions.Parse(["private", "rshared"]).PropagationFlags);

    [Fact]
    public void EverythingElseIsData()
    {
        var p = MountOptions.Parse(["nosuid", "mode=755", "defaults", "size=65536k", "newinstance", "gid=5"]);
        Assert.Equal(MountFlags.NoSuid, p.Flags);
        Assert.Equal("mode=755,size=65536k,newinstance,gid=5", p.Data);
    }

    [Fact]
    public void BindIsReported()
    {
        Assert.True(MountOptions.Parse(["rbind", "ro"]).Bind);
        Assert.False(MountOptions.Parse(["ro"]).Bind);
        Assert.False(MountOptions.Parse(null).Bind);
    }
}
