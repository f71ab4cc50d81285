using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Oci;

public class SpecConverterTests
{
    private const string Bundle = "/srv/bundles/box";

    private static ContainerConfig Full() =>
        SpecConverter.Convert(SpecLoader.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Oci/Fixtures/full-config.json")), "config.json"), Bundle + "/");

    private static OciSpec Minimal(Func<OciSpec, OciSpec>? change = null)
    {
        var s = new OciSpec
        {
            OciVersion = "1.0.2",
            Root = new OciRoot { Path = "rootfs" },
            Process = new OciProcess { Args = ["sh"], Cwd = "/" },
        };
        return change is null ? s : change(s);
    }

    private static string Fails(OciSpec spec) =>
        Assert.Throws<ConfigException>(() => SpecConverter.Convert(spec, Bundle)).Message;

    [Fact]
    public void GoldenTopLevel()
    {
        var c = Full();
        Assert.Equal("1.2.0", c.OciVersion);
        Assert.Equal("/srv/bundles/box/rootfs", c.Rootfs);
        Assert.True(c.ReadonlyRootfs);
        Assert.Equal(MountFlags.Slave | MountFlags.Rec, c.RootPropagation);
        Assert.Equal("box", c.Hostname);
        Assert.Equal("example.org", c.Domainname);
        Assert.Equal("value", c.Annotations["org.example.key"]);
        Assert.Equal("/mygroup/box", c.Cgroups.Path);
        Assert.Equal(new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1", ["kernel.shmmax"] = "4096" }, c.Sysctl);
        Assert.Equal(["/proc/kcore", "/sys/firmware"], c.MaskedPaths);
        Assert.Equal(["/proc/sys"], c.ReadonlyPaths);
    }

    [Fact]
    public void GoldenNamespacesAndMaps()
    {
        var c = Full();
        Assert.Equal(
        [
            new NamespaceConfig(NamespaceType.Pid), new NamespaceConfig(NamespaceType.Network, "/proc/1/ns/net"),
            new NamespaceConfig(NamespaceType.Mount), new NamespaceConfig(NamespaceType.User), new NamespaceConfig(NamespaceType.Uts),
            new NamespaceConfig(NamespaceType.Ipc), new NamespaceConfig(NamespaceType.Cgroup),
        ], c.Namespaces);
        Assert.Equal([new IdMap(0, 100000, 65536)], c.UidMappings);
        Assert.Equal([new IdMap(0, 200000, 65536)], c.GidMappings);
    }

    [Fact]
    public void GoldenMounts()
    {
        var m = Full().Mounts;
        Assert.Equal(5, m.Count);
        Assert.Equal(("/proc", "proc", "proc", 0UL, ""), (m[0].Destination, m[0].Type, m[0].Source, m[0].Flags, m[0].Data));

        Assert.Equal("tmpfs", m[1].Type);
        Assert.Equal(MountFlags.NoSuid | MountFlags.StrictAtime, m[1].Flags);
        Assert.Equal("mode=755,size=65536k", m[1].Data);

        // A relative bind source is taken from the bundle.
        Assert.Equal("bind", m[2].Type);
        Assert.Equal("/srv/bundles/box/data", m[2].Source);
        Assert.Equal(MountFlags.Bind | MountFlags.Rec | MountFlags.ReadOnly, m[2].Flags);
        Assert.Equal([MountFlags.Private | MountFlags.Rec], m[2].PropagationFlags);
        Assert.True(m[2].IsBind);

        // type "none" with a "bind" option is a (non-recursive) bind; rw/suid become cleared flags.
        Assert.Equal("bind", m[3].Type);
        Assert.Equal("/srv/opt", m[3].Source);
        Assert.Equal(MountFlags.Bind | MountFlags.NoDev, m[3].Flags);
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid, m[3].ClearedFlags);
        Assert.Equal([MountFlags.Shared], m[3].PropagationFlags);

        Assert.Equal("cgroup", m[4].Type);
        Assert.Equal(MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev | MountFlags.RelAtime | MountFlags.ReadOnly, m[4].Flags);
    }

    [Fact]
    public void GoldenProcess()
    {
        var p = Full().Process;
        Assert.True(p.Terminal);
        Assert.Equal(new ConsoleSize(40, 120), p.ConsoleSize);
        Assert.Equal(1000u, p.User.Uid);
        Assert.Equal(1001u, p.User.Gid);
        Assert.Equal(18u, p.User.Umask);
        Assert.Equal([5u, 6u], p.User.AdditionalGids);
        Assert.Equal("user1", p.User.Username);
        Assert.Equal(["/bin/sh", "-c", "echo hi"], p.Args);
        Assert.Equal(["PATH=/bin", "TERM=xterm"], p.Env);
        Assert.Equal("/home/user1", p.Cwd);
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], p.Capabilities!.Bounding);
        Assert.Equal(["CAP_KILL"], p.Capabilities.Effective);
        Assert.Empty(p.Capabilities.Inheritable);
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], p.Capabilities.Permitted);
        Assert.Equal(["CAP_KILL"], p.Capabilities.Ambient);
        Assert.Equal([new Rlimit("RLIMIT_NOFILE", 4096, 1024), new Rlimit("RLIMIT_CORE", 0, 0)], p.Rlimits);
        Assert.True(p.NoNewPrivileges);
        Assert.Equal("my-profile", p.ApparmorProfile);
        Assert.Equal(500, p.OomScoreAdj);
        Assert.Equal("system_u:system_r:container_t:s0", p.SelinuxLabel);
    }

    [Fact]
    public void GoldenDevicesAndRules()
    {
        var c = Full();
        // Defaults first (except /dev/null, which the config overrides), then the configured nodes.
        Assert.Equal(["/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse", "/dev/null", "/dev/sda"],
            c.Devices.Select(d => d.Path));
        var fuse = c.Devices.Single(d => d.Path == "/dev/fuse");
        Assert.Equal(('c', 10L, 229L, 0x1B6u), (fuse.Type, fuse.Major, fuse.Minor, fuse.FileMode)); // S_IFCHR bits stripped
        Assert.Equal(0x1B0u, c.Devices.Single(d => d.Path == "/dev/null").FileMode);
        var sda = c.Devices.Single(d => d.Path == "/dev/sda");
        Assert.Equal(('b', 0x1B6u), (sda.Type, sda.FileMode));

        Assert.Equal(
        [
            "a *:* rwm",                         // deny all (the config's own leading deny-all is not repeated)
            "c 10:200 rw", "b 8:* r",            // the configured rules, in order
            "c 10:229 rwm", "b 8:0 rwm",         // nodes listed in linux.devices must be usable
            "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 136:* rwm", "c 5:2 rwm",
        ], c.Cgroups.Resources.Devices.Select(d => d.ToCgroupString()));
        Assert.Equal([false, true, true, true, true, true, true, true, true, true, true, true, true],
            c.Cgroups.Resources.Devices.Select(d => d.Allow));
    }

    [Fact]
    public void NoMknodWildcardRules()
    {
        var rules = SpecConverter.Convert(Minimal(), Bundle).Cgroups.Resources.Devices;
        // runc would add "c *:* m" and "b *:* m"; this runtime allows no wildcard-major rule at all.
        Assert.DoesNotContain(rules, r => r.Allow && r.Major is null);
        Assert.DoesNotContain("c *:* m", rules.Select(r => r.ToCgroupString()));
        Assert.DoesNotContain("b *:* m", rules.Select(r => r.ToCgroupString()));
        Assert.Equal(SpecConverter.DenyAll, rules[0]);
        Assert.Equal([.. SpecConverter.DefaultAllowRules], rules.Skip(1));
    }

    [Fact]
    public void DefaultDevicesAreAdded()
    {
        var c = SpecConverter.Convert(Minimal(), Bundle);
        Assert.Equal(
            [("/dev/null", 1L, 3L), ("/dev/zero", 1L, 5L), ("/dev/full", 1L, 7L), ("/dev/random", 1L, 8L), ("/dev/urandom", 1L, 9L), ("/dev/tty", 5L, 0L)],
            c.Devices.Select(d => (d.Path, d.Major, d.Minor)));
        Assert.All(c.Devices, d => Assert.Equal(('c', 0x1B6u, 0u, 0u), (d.Type, d.FileMode, d.Uid, d.Gid)));
    }

    [Fact]
    public void GoldenResources()
    {
        var r = Full().Cgroups.Resources;
        Assert.Equal(new MemoryResources
        {
            Limit = 536870912, Reservation = 268435456, Swap = 1073741824, Kernel = -1, KernelTcp = 1024, Swappiness = 60,
            DisableOomKiller = true, UseHierarchy = false, CheckBeforeUpdate = true,
        }, r.Memory);
        Assert.Equal(new CpuResources
        {
            Shares = 512, Quota = 50000, Burst = 1000, Period = 100000, RealtimeRuntime = 950, RealtimePeriod = 1000,
            Cpus = "0-1", Mems = "0", Idle = 1,
        }, r.Cpu);
        Assert.Equal(100, r.Pids!.Limit);
        var b = r.BlockIo!;
        Assert.Equal((ushort?)500, b.Weight);
        Assert.Equal((ushort?)300, b.LeafWeight);
        Assert.Equal([new WeightDevice(8, 0, 600, 200)], b.WeightDevices);
        Assert.Equal([new ThrottleDevice(8, 0, 1048576)], b.ThrottleReadBpsDevices);
        Assert.Equal([new ThrottleDevice(8, 0, 2097152)], b.ThrottleWriteBpsDevices);
        Assert.Equal([new ThrottleDevice(8, 0, 100)], b.ThrottleReadIopsDevices);
        Assert.Equal([new ThrottleDevice(8, 0, 200)], b.ThrottleWriteIopsDevices);
        Assert.Equal([new HugepageLimit("2MB", 209715200)], r.HugepageLimits);
        Assert.Equal(1048577u, r.Network!.ClassId);
        Assert.Equal([new InterfacePriority("eth0", 500)], r.Network.Priorities);
        Assert.Equal("400000000", r.Unified["memory.high"]);
    }

    [Fact]
    public void GoldenSeccompAndHooks()
    {
        var c = Full();
        var s = c.Seccomp!;
        Assert.Equal("SCMP_ACT_ERRNO", s.DefaultAction);
        Assert.Equal(1u, s.DefaultErrnoRet);
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], s.Architectures);
        Assert.Equal(["SECCOMP_FILTER_FLAG_LOG"], s.Flags);
        Assert.Equal("/run/seccomp.sock", s.ListenerPath);
        Assert.Equal("meta", s.ListenerMetadata);
        Assert.Equal(3, s.Syscalls.Count);
        Assert.Equal(["read", "write"], s.Syscalls[0].Names);
        Assert.Equal("SCMP_ACT_ALLOW", s.Syscalls[0].Action);
        Assert.Equal([new SeccompArg(0, 8, 0, "SCMP_CMP_EQ")], s.Syscalls[1].Args);
        Assert.Equal(13u, s.Syscalls[2].ErrnoRet);

        var h = c.Hooks;
        var pre = Assert.Single(h.Prestart);
        Assert.Equal(("/usr/bin/pre", 5), (pre.Path, pre.Timeout));
        Assert.Equal(["pre", "a"], pre.Args);
        Assert.Equal(["X=1"], pre.Env);
        Assert.Equal("/usr/bin/cr", h.CreateRuntime.Single().Path);
        Assert.Equal("/usr/bin/cc", h.CreateContainer.Single().Path);
        Assert.Equal("/usr/bin/sc", h.StartContainer.Single().Path);
        Assert.Equal("/usr/bin/ps", h.Poststart.Single().Path);
        Assert.Equal(10, h.Poststop.Single().Timeout);
        Assert.Empty(h.CreateRuntime.Single().Args);
    }

    [Theory]
    [InlineData("rootfs", "/srv/bundles/box/rootfs")]
    [InlineData("./a/../rootfs//", "/srv/bundles/box/rootfs")]
    [InlineData("../other/rootfs", "/srv/bundles/other/rootfs")]
    [InlineData("/abs/rootfs", "/abs/rootfs")]
    [InlineData("/abs/./x/../rootfs/", "/abs/rootfs")]
    public void RootPathIsMadeAbsoluteAndClean(string path, string expected) =>
        Assert.Equal(expected, SpecConverter.Convert(Minimal(s => s with { Root = new OciRoot { Path = path } }), Bundle).Rootfs);

    [Fact]
    public void AbsentOptionalPartsGiveDefaults()
    {
        var c = SpecConverter.Convert(Minimal(), Bundle);
        Assert.False(c.ReadonlyRootfs);
        Assert.Equal(0UL, c.RootPropagation);
        Assert.Null(c.Hostname);
        Assert.Empty(c.Mounts);
        Assert.Empty(c.Namespaces);
        Assert.Null(c.Process.Capabilities);
        Assert.Null(c.Seccomp);
        Assert.Null(c.Cgroups.Path);
        Assert.Null(c.Cgroups.Resources.Memory);
        Assert.Equal(0u, c.Process.User.Uid);
        Assert.Null(c.Process.User.Username);
        Assert.False(c.Process.Terminal);
    }

    [Theory]
    [InlineData("shared", MountFlags.Shared)]
    [InlineData("rshared", MountFlags.Shared | MountFlags.Rec)]
    [InlineData("slave", MountFlags.Slave)]
    [InlineData("rslave", MountFlags.Slave | MountFlags.Rec)]
    [InlineData("private", MountFlags.Private)]
    [InlineData("rprivate", MountFlags.Private | MountFlags.Rec)]
    [InlineData("unbindable", MountFlags.Unbindable)]
    [InlineData("runbindable", MountFlags.Unbindable | MountFlags.Rec)]
    [InlineData("", 0UL)]
    public void RootfsPropagation(string value, ulong flags) =>
        Assert.Equal(flags, SpecConverter.Convert(Minimal(s => s with { Linux = new OciLinux { RootfsPropagation = value } }), Bundle).RootPropagation);

    [Fact]
    public void UnknownRootfsPropagationIsAnError() =>
        Assert.Equal("linux.rootfsPropagation: unknown propagation \"sideways\"",
            Fails(Minimal(s => s with { Linux = new OciLinux { RootfsPropagation = "sideways" } })));

    [Fact]
    public void UnknownNamespaceIsAnError() =>
        Assert.Equal("linux.namespaces[2]: unknown namespace type \"foo\"",
            Fails(Minimal(s => s with { Linux = new OciLinux { Namespaces = [new() { Type = "pid" }, new() { Type = "mount" }, new() { Type = "foo" }] } })));

    [Fact]
    public void DuplicateNamespaceIsAnError() =>
        Assert.Equal("linux.namespaces[1]: duplicate namespace type \"pid\"",
            Fails(Minimal(s => s with { Linux = new OciLinux { Namespaces = [new() { Type = "pid" }, new() { Type = "pid", Path = "/proc/1/ns/pid" }] } })));

    public static TheoryData<string, Func<OciSpec, OciSpec>> Refusals => new()
    {
        { "root.path: required", s => s with { Root = null } },
        { "process: required", s => s with { Process = null } },
        { "mounts[0].destination: required", s => s with { Mounts = [new OciMount { Type = "tmpfs" }] } },
        { "mounts[0]: idmapped mounts (uidMappings/gidMappings) are not supported by this runtime",
            s => s with { Mounts = [new OciMount { Destination = "/x", Type = "bind", Source = "/y", UidMappings = [new OciIdMapping { Size = 1 }] }] } },
        { "linux.namespaces[0].type: required", s => s with { Linux = new OciLinux { Namespaces = [new OciNamespace()] } } },
        { "linux.devices[0].type: must be \"c\", \"b\", \"u\" or \"p\", not \"x\"",
            s => s with { Linux = new OciLinux { Devices = [new OciDevice { Path = "/dev/x", Type = "x", Major = 1, Minor = 1 }] } } },
        { "linux.devices[0]: major and minor are required for type \"c\"",
            s => s with { Linux = new OciLinux { Devices = [new OciDevice { Path = "/dev/x", Type = "c" }] } } },
        { "linux.resources.devices[0].type: must be \"a\", \"b\" or \"c\", not \"z\"",
            s => s with { Linux = new OciLinux { Resources = new OciResources { Devices = [new OciDeviceCgroup { Type = "z" }] } } } },
        { "process.rlimits[0].type: required", s => s with { Process = s.Process! with { Rlimits = [new OciRlimit { Hard = 1 }] } } },
        { "process.consoleSize: height and width must be at most 65535",
            s => s with { Process = s.Process! with { ConsoleSize = new OciConsoleSize { Height = 70000, Width = 1 } } } },
        { "hooks.poststop[0].path: required", s => s with { Hooks = new OciHooks { Poststop = [new OciHook()] } } },
        { "linux.seccomp.defaultAction: required", s => s with { Linux = new OciLinux { Seccomp = new OciSeccomp() } } },
        { "linux.seccomp.syscalls[0].names: required (at least one name)",
            s => s with { Linux = new OciLinux { Seccomp = new OciSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Syscalls = [new OciSyscall { Action = "SCMP_ACT_ERRNO" }] } } } },
        { "linux.mountLabel: SELinux mount labels are not supported by this runtime", s => s with { Linux = new OciLinux { MountLabel = "x" } } },
        { "linux.intelRdt: Intel RDT is not supported by this runtime", s => s with { Linux = new OciLinux { IntelRdt = new OciIntelRdt() } } },
        { "linux.personality: setting the execution domain is not supported by this runtime",
            s => s with { Linux = new OciLinux { Personality = new OciPersonality { Domain = "LINUX32" } } } },
        { "linux.timeOffsets: time namespace offsets are not supported by this runtime",
            s => s with { Linux = new OciLinux { TimeOffsets = new() { ["monotonic"] = new OciTimeOffset { Secs = 1 } } } } },
        { "linux.resources.hugepageLimits[0].pageSize: required",
            s => s with { Linux = new OciLinux { Resources = new OciResources { HugepageLimits = [new OciHugepageLimit { Limit = 1 }] } } } },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void RefusesWithTheField(string expected, Func<OciSpec, OciSpec> change) => Assert.Equal(expected, Fails(Minimal(change)));

    [Fact]
    public void NullArrayElementFromJsonIsAnError()
    {
        var spec = SpecLoader.Parse("{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{\"cwd\":\"/\",\"args\":[\"sh\",null]},\"mounts\":[null]}", "config.json");
        Assert.Equal("mounts[0]: must be an object, not null", Fails(spec));
        spec = spec with { Mounts = null };
        Assert.Equal("process.args[1]: must be a string, not null", Fails(spec));
    }

    [Fact]
    public void ConvertProcessForExec()
    {
        var p = SpecConverter.ConvertProcess(SpecLoader.ParseProcess("{\"args\":[\"ls\"],\"cwd\":\"/tmp\",\"user\":{\"uid\":5}}", "process.json"));
        Assert.Equal(["ls"], p.Args);
        Assert.Equal("/tmp", p.Cwd);
        Assert.Equal(5u, p.User.Uid);
    }
}

public class OneLineMessageTests
{
    [Fact]
    public void ControlCharactersFromTheConfigAreEscaped()
    {
        var spec = new OciSpec
        {
            OciVersion = "1", Root = new OciRoot { Path = "r" }, Process = new OciProcess { Cwd = "/" },
            Linux = new OciLinux { Namespaces = [new OciNamespace { Type = "a\nb\u001b[31m" }] },
        };
        var e = Assert.Throws<ConfigException>(() => SpecConverter.Convert(spec, "/b"));
        Assert.Equal("linux.namespaces[0]: unknown namespace type \"a\\nb\\x1b[31m\"", e.Message);
    }

    [Fact]
    public void OverlongMessagesAreCut()
    {
        var msg = new ConfigException(new string('x', 5000)).Message;
        Assert.Equal(ConfigException.MaxMessageLength + 3, msg.Length);
        Assert.EndsWith("...", msg);
    }

    [Fact]
    public void NulInRootPath()
    {
        var spec = new OciSpec { OciVersion = "1", Root = new OciRoot { Path = "r\0" }, Process = new OciProcess { Cwd = "/" } };
        Assert.Equal("root.path: contains a NUL byte", Assert.Throws<ConfigException>(() => SpecConverter.Convert(spec, "/b")).Message);
    }
}
