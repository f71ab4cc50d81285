using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Rootless;

public sealed class RootlessTests
{
    private static ContainerConfig Config(params NamespaceConfig[] namespaces) => new()
    {
        Rootfs = "/b/rootfs",
        Process = new ProcessConfig { Args = ["/bin/sh"] },
        Namespaces = namespaces.Length > 0 ? namespaces : [new NamespaceConfig(NamespaceType.Pid), new NamespaceConfig(NamespaceType.Mount), new NamespaceConfig(NamespaceType.User)],
    };

    [Theory]
    [InlineData(null, 0u, false)]
    [InlineData(null, 1000u, true)]
    [InlineData("auto", 0u, false)]
    [InlineData("auto", 1000u, true)]
    [InlineData("true", 0u, true)]
    [InlineData("false", 1000u, false)]
    public void Mode_is_auto_detected_from_the_effective_uid_unless_forced(string? flag, uint euid, bool expected) =>
        Assert.Equal(expected, Supervisor.Runtime.Rootless.Resolve(flag, euid));

    [Fact]
    public void An_unknown_mode_is_a_one_line_error()
    {
        var e = Assert.Throws<RuntimeException>(() => Supervisor.Runtime.Rootless.Resolve("yes", 1000));
        Assert.Contains("auto, true or false", e.Message);
    }

    [Theory]
    [InlineData(false, 1000u, "/run/user/1000", "/run/supervisor")]
    [InlineData(true, 1000u, "/run/user/1000", "/run/user/1000/supervisor")]
    [InlineData(true, 1000u, null, "/tmp/supervisor-1000")]
    [InlineData(true, 1000u, "relative/dir", "/tmp/supervisor-1000")]
    public void The_state_root_follows_the_mode(bool rootless, uint uid, string? xdg, string expected) =>
        Assert.Equal(expected, Supervisor.Runtime.Rootless.DefaultStateRoot(rootless, uid, xdg));

    [Fact]
    public void Without_mappings_container_root_is_the_caller()
    {
        var c = Supervisor.Runtime.Rootless.Adapt(Config(), 1000, 1001);
        Assert.Equal([new IdMap(0, 1000, 1)], c.UidMappings);
        Assert.Equal([new IdMap(0, 1001, 1)], c.GidMappings);
        Assert.DoesNotContain(ConfigValidator.Validate(c), p => p.Contains("Mappings"));
    }

    [Fact]
    public void Device_rules_are_dropped_because_devices_are_host_binds()
    {
        var c = Config() with
        {
            Cgroups = new CgroupConfig { Resources = new Resources { Devices = [new DeviceRule(false, 'a', null, null, "rwm")] } },
        };
        Assert.Empty(Supervisor.Runtime.Rootless.Adapt(c, 1000, 1000).Cgroups.Resources.Devices);
    }

    [Theory]
    [InlineData(0u, 0u, 1u)]        // host root
    [InlineData(0u, 1000u, 2u)]     // more than the caller's own id
    [InlineData(0u, 100000u, 65536u)]
    public void Mapping_anything_but_the_callers_uid_is_refused(uint containerId, uint hostId, uint size)
    {
        var c = Config() with { UidMappings = [new IdMap(containerId, hostId, size)], GidMappings = [new IdMap(0, 1000, 1)] };
        var e = Assert.Throws<ConfigException>(() => Supervisor.Runtime.Rootless.Adapt(c, 1000, 1000));
        Assert.Contains("may only map the caller's uid 1000", e.Message);
    }

    [Fact]
    public void A_user_namespace_is_required_and_must_be_new()
    {
        var none = Config(new NamespaceConfig(NamespaceType.Pid));
        Assert.Contains("needs a user namespace", Assert.Throws<ConfigException>(() => Supervisor.Runtime.Rootless.Adapt(none, 1000, 1000)).Message);
        var joined = Config(new NamespaceConfig(NamespaceType.User, "/proc/1/ns/user"));
        Assert.Contains("must create its own user namespace", Assert.Throws<ConfigException>(() => Supervisor.Runtime.Rootless.Adapt(joined, 1000, 1000)).Message);
    }

    [Fact]
    public void The_process_identity_must_be_mapped()
    {
        var c = Config() with { Process = new ProcessConfig { Args = ["sh"], User = new UserConfig { Uid = 1000, Gid = 0, AdditionalGids = [5] } } };
        var e = Assert.Throws<ConfigException>(() => Supervisor.Runtime.Rootless.Adapt(c, 1000, 1000));
        Assert.Contains(e.Problems, p => p.Contains("process.user.uid 1000 is not mapped"));
        Assert.Contains(e.Problems, p => p.Contains("gid 5 is not mapped"));
    }

    [Fact]
    public void A_sysctl_of_a_joined_namespace_is_refused()
    {
        var c = Config(new NamespaceConfig(NamespaceType.User), new NamespaceConfig(NamespaceType.Network, "/proc/1/ns/net")) with
        {
            Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1" },
        };
        var e = Assert.Throws<ConfigException>(() => Supervisor.Runtime.Rootless.Adapt(c, 1000, 1000));
        Assert.Contains("network namespace it creates", e.Message);
    }

    [Fact]
    public void Only_delegated_cgroups_are_kept()
    {
        var dir = Directory.CreateTempSubdirectory("rl-cg").FullName;
        try
        {
            var mine = Path.Combine(dir, "mine");
            Directory.CreateDirectory(mine);
            var paths = new Dictionary<string, string>
            {
                ["memory"] = Path.Combine(mine, "a", "c1"),   // nearest existing ancestor: mine (writable)
                ["pids"] = Path.Combine(dir, "theirs", "c1"), // nearest existing ancestor: dir (not writable)
            };
            var kept = Supervisor.Runtime.Rootless.DelegatedCgroups(paths, d => d == mine);
            Assert.Equal(["memory"], kept.Keys);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
