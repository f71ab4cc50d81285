using System.Text.Json;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Oci;

public sealed class DefaultSpecTests : IDisposable
{
    private readonly string _bundle;

    public DefaultSpecTests()
    {
        _bundle = Supervisor.Runtime.Paths.InRootResolver.Resolve("/", Directory.CreateTempSubdirectory("defaultspec").FullName);
        Directory.CreateDirectory(Path.Combine(_bundle, "rootfs"));
    }

    public void Dispose() => Directory.Delete(_bundle, true);

    private static string Serialize(OciSpec s) => JsonSerializer.Serialize(s, OciJsonContext.Default.OciSpec);

    [Fact]
    public void WritesRuntimeSpecNames()
    {
        var json = Serialize(DefaultSpec.Create());
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("1.0.2-dev", root.GetProperty("ociVersion").GetString());
        Assert.Equal("rootfs", root.GetProperty("root").GetProperty("path").GetString());
        Assert.True(root.GetProperty("root").GetProperty("readonly").GetBoolean());
        var process = root.GetProperty("process");
        Assert.True(process.GetProperty("terminal").GetBoolean());
        Assert.True(process.GetProperty("noNewPrivileges").GetBoolean());
        Assert.Equal(0u, process.GetProperty("user").GetProperty("uid").GetUInt32());
        Assert.Equal("RLIMIT_NOFILE", process.GetProperty("rlimits")[0].GetProperty("type").GetString());
        Assert.Equal(1024ul, process.GetProperty("rlimits")[0].GetProperty("hard").GetUInt64());
        Assert.Equal(0, process.GetProperty("capabilities").GetProperty("ambient").GetArrayLength());
        var linux = root.GetProperty("linux");
        Assert.False(linux.GetProperty("resources").GetProperty("devices")[0].GetProperty("allow").GetBoolean());
        Assert.Contains("/proc/interrupts", linux.GetProperty("maskedPaths").EnumerateArray().Select(e => e.GetString()));
        // Nulls are left out rather than written as null.
        Assert.False(root.TryGetProperty("hooks", out _));
        // The default seccomp profile is written out in full, as an allowlist with EPERM for the rest.
        var seccomp = linux.GetProperty("seccomp");
        Assert.Equal("SCMP_ACT_ERRNO", seccomp.GetProperty("defaultAction").GetString());
        Assert.Contains(seccomp.GetProperty("syscalls").EnumerateArray(),
            s => s.GetProperty("action").GetString() == "SCMP_ACT_ALLOW"
                 && s.GetProperty("names").EnumerateArray().Any(n => n.GetString() == "read"));
        Assert.DoesNotContain("null", json);
        Assert.Contains("\n  ", json); // indented for people to edit
    }

    [Fact]
    public void IrregularNamesFollowTheSpec()
    {
        var spec = new OciSpec
        {
            OciVersion = "1",
            Linux = new OciLinux
            {
                UidMappings = [new OciIdMapping { ContainerId = 1, HostId = 2, Size = 3 }],
                Resources = new OciResources
                {
                    BlockIo = new OciBlockIo { ThrottleReadIopsDevice = [], ThrottleWriteIopsDevice = [] },
                    Memory = new OciMemory { KernelTcp = 1, DisableOomKiller = true },
                    Network = new OciNetwork { ClassId = 7 },
                },
            },
        };
        var json = Serialize(spec);
        foreach (var name in new[] { "\"containerID\"", "\"hostID\"", "\"blockIO\"", "\"throttleReadIOPSDevice\"", "\"throttleWriteIOPSDevice\"", "\"kernelTCP\"", "\"disableOOMKiller\"", "\"classID\"", "\"uidMappings\"" })
            Assert.Contains(name, json);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsThroughTheJsonContext(bool rootless)
    {
        var spec = DefaultSpec.Create(rootless, 1000, 1000);
        var again = SpecLoader.Parse(Serialize(spec), "config.json");
        Assert.Equal(Serialize(spec), Serialize(again));
    }

    [Fact]
    public void ConvertsAndValidatesCleanly()
    {
        var c = SpecConverter.Convert(DefaultSpec.Create(), _bundle);
        Assert.Empty(ConfigValidator.Validate(c));
        Assert.Equal(Path.Combine(_bundle, "rootfs"), c.Rootfs);
        Assert.True(c.ReadonlyRootfs);
        Assert.Equal(["sh"], c.Process.Args);
        Assert.True(c.Process.NoNewPrivileges);
        Assert.Equal(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], c.Process.Capabilities!.Bounding);
        Assert.Empty(c.Process.Capabilities.Inheritable);
        Assert.Equal([NamespaceType.Pid, NamespaceType.Network, NamespaceType.Ipc, NamespaceType.Uts, NamespaceType.Mount, NamespaceType.Cgroup],
            c.Namespaces.Select(n => n.Type));
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"], c.Mounts.Select(m => m.Destination));
        var dev = c.Mounts[1];
        Assert.Equal(MountFlags.NoSuid | MountFlags.StrictAtime, dev.Flags);
        Assert.Equal("mode=755,size=65536k", dev.Data);
        Assert.Equal("newinstance,ptmxmode=0666,mode=0620,gid=5", c.Mounts[2].Data);
        Assert.Equal(MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev | MountFlags.ReadOnly, c.Mounts[5].Flags);
        Assert.Equal("sysfs", c.Mounts[5].Type);
        Assert.Equal(12, c.MaskedPaths.Count);
        Assert.Equal(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"], c.ReadonlyPaths);
        Assert.Equal("a *:* rwm", c.Cgroups.Resources.Devices[0].ToCgroupString());
        Assert.Equal(1, c.Cgroups.Resources.Devices.Count(d => !d.Allow));
    }

    [Fact]
    public void RootlessConvertsAndValidatesCleanly()
    {
        var c = SpecConverter.Convert(DefaultSpec.Create(rootless: true, hostUid: 1234, hostGid: 5678), _bundle);
        Assert.Empty(ConfigValidator.Validate(c));
        Assert.True(c.CreatesNamespace(NamespaceType.User));
        Assert.False(c.HasNamespace(NamespaceType.Network));
        Assert.Equal([new IdMap(0, 1234, 1)], c.UidMappings);
        Assert.Equal([new IdMap(0, 5678, 1)], c.GidMappings);
        var sys = c.Mounts.Single(m => m.Destination == "/sys");
        Assert.Equal("bind", sys.Type);
        Assert.Equal("/sys", sys.Source);
        Assert.Equal(MountFlags.Bind | MountFlags.Rec | MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev | MountFlags.ReadOnly, sys.Flags);
        Assert.DoesNotContain(c.Mounts, m => m.Type == "cgroup");
        Assert.DoesNotContain("gid=5", c.Mounts.Single(m => m.Destination == "/dev/pts").Data);
    }

    [Fact]
    public void LoadBundleWrittenBySpec()
    {
        File.WriteAllText(Path.Combine(_bundle, "config.json"), Serialize(DefaultSpec.Create()));
        var c = SpecConverter.Convert(SpecLoader.LoadBundle(_bundle), _bundle);
        ConfigValidator.ValidateOrThrow(c);
        Assert.Equal("supervisor", c.Hostname);
    }
}
