using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Validation;

public sealed class ConfigValidatorTests : IDisposable
{
    private readonly string _root;

    public ConfigValidatorTests()
    {
        // The temp directory itself may sit behind a symlink on some systems; validate against its real path.
        var dir = Directory.CreateTempSubdirectory("validator").FullName;
        _root = Supervisor.Runtime.Paths.InRootResolver.Resolve("/", dir);
        Directory.CreateDirectory(Path.Combine(_root, "rootfs"));
    }

    public void Dispose() => Directory.Delete(_root, true);

    private string Rootfs => Path.Combine(_root, "rootfs");

    private ContainerConfig Valid() => new()
    {
        Rootfs = Rootfs,
        Hostname = "box",
        Namespaces =
        [
            new(NamespaceType.Mount), new(NamespaceType.Uts), new(NamespaceType.Ipc), new(NamespaceType.Network),
            new(NamespaceType.Pid),
        ],
        Mounts = [new Mount { Destination = "/proc", Type = "proc", Source = "proc" }],
        MaskedPaths = ["/proc/kcore"],
        ReadonlyPaths = ["/proc/sys"],
        Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1", ["kernel.shmmax"] = "1", ["fs.mqueue.msg_max"] = "10" },
        Process = new ProcessConfig
        {
            Args = ["sh"],
            Env = ["PATH=/bin"],
            Cwd = "/",
            OomScoreAdj = 1000,
            Capabilities = new CapabilitySet { Bounding = ["CAP_KILL"], Effective = ["CAP_KILL"], Permitted = ["CAP_KILL"] },
            Rlimits = [new Rlimit("RLIMIT_NOFILE", 1024, 1024)],
        },
        Cgroups = new CgroupConfig
        {
            Resources = new Resources
            {
                Memory = new MemoryResources { Limit = -1, Swap = -1 },
                Pids = new PidsResources { Limit = -1 },
                Cpu = new CpuResources { Quota = 50000, Period = 100000, Cpus = "0-1,3", Mems = "0" },
                Devices = [new DeviceRule(false, 'a', null, null, "rwm"), new DeviceRule(true, 'c', 1, 3, "rwm")],
            },
        },
        Seccomp = new SeccompConfig
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Architectures = ["SCMP_ARCH_X86_64"],
            Syscalls = [new SeccompSyscall { Names = ["read"], Action = "SCMP_ACT_ALLOW", Args = [new SeccompArg(0, 1, 0, "SCMP_CMP_EQ")] }],
        },
        Hooks = new HooksConfig { Prestart = [new Hook("/bin/true", [], [], 5)] },
    };

    [Fact]
    public void ValidConfigHasNoProblems()
    {
        Assert.Empty(ConfigValidator.Validate(Valid()));
        ConfigValidator.ValidateOrThrow(Valid());
    }

    private static ContainerConfig WithProcess(ContainerConfig c, Func<ProcessConfig, ProcessConfig> f) => c with { Process = f(c.Process) };

    private static ContainerConfig WithResources(ContainerConfig c, Func<Resources, Resources> f) =>
        c with { Cgroups = c.Cgroups with { Resources = f(c.Cgroups.Resources) } };

    private static ContainerConfig Without(ContainerConfig c, NamespaceType t) =>
        c with { Namespaces = c.Namespaces.Where(n => n.Type != t).ToList() };

    private static ContainerConfig WithUserNs(ContainerConfig c) =>
        c with { Namespaces = [.. c.Namespaces, new NamespaceConfig(NamespaceType.User)] };

    // Each case: a name, the change that breaks the config, and the start of the expected problem.
    public static TheoryData<string, Func<ContainerConfig, ContainerConfig>, string> Cases => new()
    {
        { "rootfs missing", c => c with { Rootfs = c.Rootfs + "/nope" }, "root.path: \"" },
        { "rootfs relative", c => c with { Rootfs = "rootfs" }, "root.path: \"rootfs\" is not an absolute path" },
        { "rootfs empty", c => c with { Rootfs = "" }, "root.path: required" },
        { "rootfs with dotdot", c => c with { Rootfs = c.Rootfs + "/../rootfs" }, "root.path: \"" },
        { "hostname without uts", c => Without(c, NamespaceType.Uts) with { Sysctl = new Dictionary<string, string>() }, "hostname: cannot set the hostname without a new UTS namespace" },
        { "hostname with joined uts", c => Without(c, NamespaceType.Uts) with { Namespaces = [.. Without(c, NamespaceType.Uts).Namespaces, new(NamespaceType.Uts, "/proc/self/ns/uts")] }, "hostname: cannot set the hostname without a new UTS namespace" },
        { "domainname without uts", c => Without(c, NamespaceType.Uts) with { Hostname = null, Domainname = "d" }, "domainname: cannot set the domain name without a new UTS namespace" },
        { "hostname too long", c => c with { Hostname = new string('h', 65) }, "hostname: must be at most 64 characters" },
        { "net sysctl without netns", c => Without(c, NamespaceType.Network), "linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace" },
        { "ipc sysctl without ipcns", c => Without(c, NamespaceType.Ipc) with { Sysctl = new Dictionary<string, string> { ["kernel.shmmax"] = "1" } }, "linux.sysctl[\"kernel.shmmax\"]: needs a ipc namespace" },
        { "mqueue sysctl without ipcns", c => Without(c, NamespaceType.Ipc) with { Sysctl = new Dictionary<string, string> { ["fs.mqueue.msg_max"] = "1" } }, "linux.sysctl[\"fs.mqueue.msg_max\"]: needs a ipc namespace" },
        { "uts sysctl without utsns", c => Without(c, NamespaceType.Uts) with { Hostname = null, Sysctl = new Dictionary<string, string> { ["kernel.hostname"] = "x" } }, "linux.sysctl[\"kernel.hostname\"]: needs a uts namespace" },
        { "host-wide sysctl", c => c with { Sysctl = new Dictionary<string, string> { ["vm.swappiness"] = "1" } }, "linux.sysctl[\"vm.swappiness\"]: not namespaced" },
        { "kernel sysctl not namespaced", c => c with { Sysctl = new Dictionary<string, string> { ["kernel.panic"] = "1" } }, "linux.sysctl[\"kernel.panic\"]: not namespaced" },
        { "sysctl with slash", c => c with { Sysctl = new Dictionary<string, string> { ["net/../../x"] = "1" } }, "linux.sysctl[\"net/../../x\"]: not a valid sysctl name" },
        { "sysctl empty part", c => c with { Sysctl = new Dictionary<string, string> { ["net..x"] = "1" } }, "linux.sysctl[\"net..x\"]: not a valid sysctl name" },
        { "masked paths without mountns", c => Without(c, NamespaceType.Mount) with { Mounts = [] }, "linux.maskedPaths: cannot restrict paths without a new mount namespace" },
        { "readonly paths without mountns", c => Without(c, NamespaceType.Mount) with { MaskedPaths = [] }, "linux.readonlyPaths: cannot restrict paths without a new mount namespace" },
        { "no mount namespace", c => Without(c, NamespaceType.Mount) with { MaskedPaths = [], ReadonlyPaths = [] }, "linux.namespaces: a new mount namespace is required" },
        { "masked path relative", c => c with { MaskedPaths = ["proc/kcore"] }, "linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path" },
        { "uid map without userns", c => c with { UidMappings = [new IdMap(0, 1000, 1)] }, "linux.uidMappings: id mappings need a user namespace" },
        { "gid map without userns", c => c with { GidMappings = [new IdMap(0, 1000, 1)] }, "linux.gidMappings: id mappings need a user namespace" },
        { "userns without uid map", c => WithUserNs(c) with { GidMappings = [new IdMap(0, 1000, 1)] }, "linux.uidMappings: a new user namespace needs a uid mapping" },
        { "userns without gid map", c => WithUserNs(c) with { UidMappings = [new IdMap(0, 1000, 1)] }, "linux.gidMappings: a new user namespace needs a gid mapping" },
        { "overlapping container ids", c => WithUserNs(c) with { UidMappings = [new IdMap(0, 1000, 10), new IdMap(5, 5000, 10)], GidMappings = [new IdMap(0, 1000, 1)] }, "linux.uidMappings[1]: container ids 5..14 overlap linux.uidMappings[0]" },
        { "overlapping host ids", c => WithUserNs(c) with { UidMappings = [new IdMap(0, 1000, 1)], GidMappings = [new IdMap(0, 1000, 10), new IdMap(100, 1009, 1)] }, "linux.gidMappings[1]: host ids 1009..1009 overlap linux.gidMappings[0]" },
        { "zero-size map", c => WithUserNs(c) with { UidMappings = [new IdMap(0, 1000, 0)], GidMappings = [new IdMap(0, 1000, 1)] }, "linux.uidMappings[0].size: must be at least 1" },
        { "map past 2^32", c => WithUserNs(c) with { UidMappings = [new IdMap(0, 4294967295, 2)], GidMappings = [new IdMap(0, 1000, 1)] }, "linux.uidMappings[0]: the range goes past 4294967295" },
        { "maps with joined userns", c => c with { Namespaces = [.. c.Namespaces, new(NamespaceType.User, "/proc/self/ns/user")], UidMappings = [new IdMap(0, 1, 1)] }, "linux.uidMappings: cannot be set when joining an existing user namespace" },
        { "mount destination relative", c => c with { Mounts = [new Mount { Destination = "proc", Type = "proc" }] }, "mounts[0].destination: \"proc\" is not an absolute path" },
        { "mount destination dotdot", c => c with { Mounts = [new Mount { Destination = "/a/../../etc", Type = "tmpfs" }] }, "mounts[0].destination: \"/a/../../etc\" contains \"..\"" },
        { "NUL in mount destination", c => c with { Mounts = [new Mount { Destination = "/a\0b", Type = "tmpfs" }] }, "mounts[0]: a mount field contains a NUL byte" },
        { "NUL in mount source", c => c with { Mounts = [new Mount { Destination = "/a", Source = "/x\0", Type = "bind" }] }, "mounts[0]: a mount field contains a NUL byte" },
        { "NUL in mount data", c => c with { Mounts = [new Mount { Destination = "/a", Type = "tmpfs", Data = "mode=755\0" }] }, "mounts[0]: a mount field contains a NUL byte" },
        { "NUL in mount type", c => c with { Mounts = [new Mount { Destination = "/a", Type = "tmp\0fs" }] }, "mounts[0]: a mount field contains a NUL byte" },
        { "mount without type", c => c with { Mounts = [new Mount { Destination = "/a", Type = "" }] }, "mounts[0].type: required" },
        { "bind without source", c => c with { Mounts = [new Mount { Destination = "/a", Type = "bind" }] }, "mounts[0].source: a bind mount needs a source" },
        { "duplicate namespace", c => c with { Namespaces = [.. c.Namespaces, new(NamespaceType.Pid, "/proc/self/ns/pid")] }, "linux.namespaces[5]: duplicate namespace type \"pid\"" },
        { "namespace path missing", c => c with { Namespaces = [.. Without(c, NamespaceType.Pid).Namespaces, new(NamespaceType.Pid, "/proc/self/ns/nope")] }, "linux.namespaces[4].path: \"/proc/self/ns/nope\" does not exist" },
        { "namespace path relative", c => c with { Namespaces = [.. Without(c, NamespaceType.Pid).Namespaces, new(NamespaceType.Pid, "proc/1/ns/pid")] }, "linux.namespaces[4].path: \"proc/1/ns/pid\" is not an absolute path" },
        { "memory limit negative", c => WithResources(c, r => r with { Memory = new MemoryResources { Limit = -2 } }), "linux.resources.memory.limit: must be -1 (unlimited) or non-negative, not -2" },
        { "memory swap negative", c => WithResources(c, r => r with { Memory = new MemoryResources { Swap = -5 } }), "linux.resources.memory.swap: must be -1" },
        { "swap below limit", c => WithResources(c, r => r with { Memory = new MemoryResources { Limit = 200, Swap = 100 } }), "linux.resources.memory.swap: 100 is below memory.limit 200" },
        { "swappiness above 100", c => WithResources(c, r => r with { Memory = new MemoryResources { Swappiness = 101 } }), "linux.resources.memory.swappiness: 101 is above 100" },
        { "pids negative", c => WithResources(c, r => r with { Pids = new PidsResources { Limit = -7 } }), "linux.resources.pids.limit: must be -1 (unlimited) or non-negative, not -7" },
        { "quota without period", c => WithResources(c, r => r with { Cpu = new CpuResources { Quota = 50000 } }), "linux.resources.cpu.quota: needs cpu.period" },
        { "quota below -1", c => WithResources(c, r => r with { Cpu = new CpuResources { Quota = -2 } }), "linux.resources.cpu.quota: must be -1 (unlimited) or positive" },
        { "period out of range", c => WithResources(c, r => r with { Cpu = new CpuResources { Period = 10 } }), "linux.resources.cpu.period: 10 is outside 1000..1000000" },
        { "bad cpuset", c => WithResources(c, r => r with { Cpu = new CpuResources { Cpus = "0-a" } }), "linux.resources.cpu.cpus: \"0-a\" is not a list" },
        { "blkio weight out of range", c => WithResources(c, r => r with { BlockIo = new BlockIoResources { Weight = 5 } }), "linux.resources.blockIO.weight: 5 is outside 10..1000" },
        { "bad hugepage size", c => WithResources(c, r => r with { HugepageLimits = [new HugepageLimit("2XB", 1)] }), "linux.resources.hugepageLimits[0].pageSize: \"2XB\"" },
        { "unified key escapes", c => WithResources(c, r => r with { Unified = new Dictionary<string, string> { ["../memory.max"] = "1" } }), "linux.resources.unified[\"../memory.max\"]: not a cgroup file name" },
        { "device rule bad access", c => WithResources(c, r => r with { Devices = [new DeviceRule(true, 'c', 1, 3, "rwx")] }), "linux.resources.devices[0].access: \"rwx\"" },
        { "device outside /dev", c => c with { Devices = [new DeviceNode { Path = "/etc/null", Major = 1, Minor = 3 }] }, "linux.devices[0].path: \"/etc/null\" must be an absolute path under /dev" },
        { "device dotdot", c => c with { Devices = [new DeviceNode { Path = "/dev/../etc/x", Major = 1, Minor = 3 }] }, "linux.devices[0].path: \"/dev/../etc/x\"" },
        { "device listed twice", c => c with { Devices = [new DeviceNode { Path = "/dev/null", Major = 1, Minor = 3 }, new DeviceNode { Path = "/dev/null", Major = 1, Minor = 3 }] }, "linux.devices[1].path: \"/dev/null\" is listed twice" },
        { "oom score too high", c => WithProcess(c, p => p with { OomScoreAdj = 1001 }), "process.oomScoreAdj: 1001 is outside -1000..1000" },
        { "oom score too low", c => WithProcess(c, p => p with { OomScoreAdj = -1001 }), "process.oomScoreAdj: -1001 is outside -1000..1000" },
        { "rlimit soft above hard", c => WithProcess(c, p => p with { Rlimits = [new Rlimit("RLIMIT_NOFILE", 10, 20)] }), "process.rlimits[0]: soft limit 20 is above hard limit 10" },
        { "unknown rlimit", c => WithProcess(c, p => p with { Rlimits = [new Rlimit("RLIMIT_FOO", 1, 1)] }), "process.rlimits[0].type: unknown rlimit type \"RLIMIT_FOO\"" },
        { "duplicate rlimit", c => WithProcess(c, p => p with { Rlimits = [new Rlimit("RLIMIT_NOFILE", 1, 1), new Rlimit("RLIMIT_NOFILE", 2, 2)] }), "process.rlimits[1].type: \"RLIMIT_NOFILE\" is set twice" },
        { "unknown bounding cap", c => WithProcess(c, p => p with { Capabilities = new CapabilitySet { Bounding = ["CAP_FOO"] } }), "process.capabilities.bounding: unknown capability \"CAP_FOO\"" },
        { "unknown ambient cap", c => WithProcess(c, p => p with { Capabilities = new CapabilitySet { Ambient = ["chown"] } }), "process.capabilities.ambient: unknown capability \"chown\"" },
        { "unknown effective cap", c => WithProcess(c, p => p with { Capabilities = new CapabilitySet { Effective = ["CAP_KILLL"] } }), "process.capabilities.effective: unknown capability \"CAP_KILLL\"" },
        { "empty args", c => WithProcess(c, p => p with { Args = [] }), "process.args: must name a program to run" },
        { "empty argv0", c => WithProcess(c, p => p with { Args = [""] }), "process.args: must name a program to run" },
        { "NUL in args", c => WithProcess(c, p => p with { Args = ["sh", "a\0"] }), "process.args[1]: contains a NUL byte" },
        { "env without =", c => WithProcess(c, p => p with { Env = ["PATH"] }), "process.env[0]: \"PATH\" is not KEY=VALUE" },
        { "cwd relative", c => WithProcess(c, p => p with { Cwd = "home" }), "process.cwd: \"home\" is not an absolute path" },
        { "cwd empty", c => WithProcess(c, p => p with { Cwd = "" }), "process.cwd: \"\" is not an absolute path" },
        { "umask too big", c => WithProcess(c, p => p with { User = new UserConfig { Umask = 0x200 } }), "process.user.umask: 512 is above 0777" },
        { "relative hook", c => c with { Hooks = new HooksConfig { Poststart = [new Hook("bin/true", [], [], null)] } }, "hooks.poststart[0].path: \"bin/true\" is not an absolute path" },
        { "relative createRuntime hook", c => c with { Hooks = new HooksConfig { CreateRuntime = [new Hook("true", [], [], null)] } }, "hooks.createRuntime[0].path: \"true\"" },
        { "zero hook timeout", c => c with { Hooks = new HooksConfig { Poststop = [new Hook("/bin/true", [], [], 0)] } }, "hooks.poststop[0].timeout: must be a positive number of seconds" },
        { "unknown seccomp default action", c => c with { Seccomp = c.Seccomp! with { DefaultAction = "SCMP_ACT_MAYBE" } }, "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_MAYBE\"" },
        { "unknown seccomp syscall action", c => c with { Seccomp = c.Seccomp! with { Syscalls = [new SeccompSyscall { Names = ["read"], Action = "ALLOW" }] } }, "linux.seccomp.syscalls[0].action: unknown action \"ALLOW\"" },
        { "unknown seccomp operator", c => c with { Seccomp = c.Seccomp! with { Syscalls = [new SeccompSyscall { Names = ["read"], Action = "SCMP_ACT_ALLOW", Args = [new SeccompArg(0, 1, 0, "SCMP_CMP_SAME")] }] } }, "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_SAME\"" },
        { "seccomp arg index", c => c with { Seccomp = c.Seccomp! with { Syscalls = [new SeccompSyscall { Names = ["read"], Action = "SCMP_ACT_ALLOW", Args = [new SeccompArg(6, 1, 0, "SCMP_CMP_EQ")] }] } }, "linux.seccomp.syscalls[0].args[0].index: 6 is above 5" },
        { "unknown seccomp arch", c => c with { Seccomp = c.Seccomp! with { Architectures = ["SCMP_ARCH_Z80"] } }, "linux.seccomp.architectures: unknown architecture \"SCMP_ARCH_Z80\"" },
        { "unknown seccomp flag", c => c with { Seccomp = c.Seccomp! with { Flags = ["SECCOMP_FILTER_FLAG_FOO"] } }, "linux.seccomp.flags: unknown flag \"SECCOMP_FILTER_FLAG_FOO\"" },
        { "notify without listener", c => c with { Seccomp = c.Seccomp! with { DefaultAction = "SCMP_ACT_NOTIFY" } }, "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener socket path" },
        { "bad pdeathsig", c => c with { ParentDeathSignal = 65 }, "parentDeathSignal: 65 is not a signal number" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachProblemNamesItsField(string name, Func<ContainerConfig, ContainerConfig> breakIt, string expected)
    {
        var problems = ConfigValidator.Validate(breakIt(Valid()));
        Assert.True(problems.Any(p => p.StartsWith(expected, StringComparison.Ordinal)),
            $"{name}: expected a problem starting with [{expected}], got [{string.Join(" | ", problems)}]");
        Assert.All(problems, p => Assert.DoesNotContain('\n', p));
    }

    [Fact]
    public void RootfsThatIsAFile()
    {
        var file = Path.Combine(_root, "file");
        File.WriteAllText(file, "");
        Assert.Equal([$"root.path: \"{file}\" is not a directory"], ConfigValidator.Validate(Valid() with { Rootfs = file }));
    }

    [Fact]
    public void RootfsThroughASymlink()
    {
        var link = Path.Combine(_root, "link");
        File.CreateSymbolicLink(link, Rootfs);
        var problems = ConfigValidator.Validate(Valid() with { Rootfs = link });
        Assert.Equal([$"root.path: \"{link}\" is not a clean absolute path without symlinks (it resolves to \"{Rootfs}\")"], problems);
    }

    [Fact]
    public void RootfsWithASymlinkedParent()
    {
        var link = Path.Combine(_root, "parentlink");
        File.CreateSymbolicLink(link, _root);
        var problems = ConfigValidator.Validate(Valid() with { Rootfs = link + "/rootfs" });
        Assert.Single(problems);
        Assert.StartsWith("root.path:", problems[0]);
    }

    [Fact]
    public void ValidUserNamespaceConfig()
    {
        var c = Valid() with
        {
            Namespaces = [.. Valid().Namespaces, new(NamespaceType.User)],
            UidMappings = [new IdMap(0, 100000, 1000), new IdMap(1000, 1000, 1)],
            GidMappings = [new IdMap(0, 100000, 65536)],
        };
        Assert.Empty(ConfigValidator.Validate(c));
    }

    [Fact]
    public void ValidateOrThrowReportsFirstAndCount()
    {
        var bad = WithProcess(Valid(), p => p with { Args = [], Cwd = "x", OomScoreAdj = 5000 });
        var e = Assert.Throws<ConfigException>(() => ConfigValidator.ValidateOrThrow(bad));
        Assert.Equal("process.args: must name a program to run (and 2 more problems)", e.Message);
        Assert.Equal(3, e.Problems.Count);
        var one = WithProcess(Valid(), p => p with { Args = [] });
        Assert.Equal("process.args: must name a program to run", Assert.Throws<ConfigException>(() => ConfigValidator.ValidateOrThrow(one)).Message);
    }

    [Fact]
    public void ExecProcessValidation()
    {
        Assert.Empty(ConfigValidator.ValidateProcess(Valid().Process));
        Assert.Equal(["exec.cwd: \"rel\" is not an absolute path"], ConfigValidator.ValidateProcess(Valid().Process with { Cwd = "rel" }, "exec"));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("a.b-c_d")]
    [InlineData("UPPER123")]
    [InlineData("...")]
    [InlineData("-x")]
    public void GoodIds(string id) => ConfigValidator.ValidateId(id);

    [Fact]
    public void LongestGoodId() => ConfigValidator.ValidateId(new string('a', 1024));

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a\0b")]
    [InlineData("a b")]
    [InlineData("a:b")]
    [InlineData("é")]
    [InlineData("a\nb")]
    public void BadIds(string id)
    {
        var e = Assert.Throws<InvalidIdException>(() => ConfigValidator.ValidateId(id));
        Assert.StartsWith("invalid container id", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\0', e.Message);
    }

    [Fact]
    public void TooLongId() =>
        Assert.Equal("invalid container id: longer than 1024 characters",
            Assert.Throws<InvalidIdException>(() => ConfigValidator.ValidateId(new string('a', 1025))).Message);
}
