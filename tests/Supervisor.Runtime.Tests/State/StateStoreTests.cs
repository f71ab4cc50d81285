using Supervisor.Runtime.Configs;
using Supervisor.Runtime.State;

namespace Supervisor.Runtime.Tests.State;

public sealed class StateStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sv-state-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, true);
    }

    private static StateFile Sample(string id) => new()
    {
        Id = id,
        Bundle = "/b",
        Rootfs = "/b/rootfs",
        Created = new DateTimeOffset(2026, 11, 28, 15, 0, 0, TimeSpan.Zero),
        InitPid = 42,
        InitStartTime = 12345,
        Started = true,
        CgroupPaths = new() { ["memory"] = "/sys/fs/cgroup/memory/c1" },
        Config = new ContainerConfig
        {
            Rootfs = "/b/rootfs",
            Hostname = "h",
            Process = new ProcessConfig { Args = ["/bin/sh"], Rlimits = [new Rlimit("RLIMIT_NOFILE", 10, 5)] },
            Namespaces = [new NamespaceConfig(NamespaceType.Pid), new NamespaceConfig(NamespaceType.Network, "/proc/1/ns/net")],
            Cgroups = new CgroupConfig { Resources = new Resources { Memory = new MemoryResources { Limit = 1 << 20 } } },
        },
    };

    [Fact]
    public void State_round_trips_with_its_config()
    {
        var store = new StateStore(_dir);
        store.CreateContainerDir("c1");
        var state = Sample("c1");
        store.Write(state);
        var back = store.Read("c1");
        Assert.Equal(state.InitPid, back.InitPid);
        Assert.Equal(state.InitStartTime, back.InitStartTime);
        Assert.Equal(state.CgroupPaths, back.CgroupPaths);
        Assert.Equal("h", back.Config.Hostname);
        Assert.Equal(state.Config.Namespaces, back.Config.Namespaces);
        Assert.Equal(1 << 20, back.Config.Cgroups.Resources.Memory!.Limit);
        Assert.Equal(["c1"], store.ListIds());
        // The write went through a temp file that is gone now.
        Assert.Equal(["state.json"], Directory.GetFiles(store.ContainerDir("c1")).Select(Path.GetFileName));
    }

    [Fact]
    public void Creating_an_existing_container_dir_fails()
    {
        var store = new StateStore(_dir);
        store.CreateContainerDir("c1");
        Assert.Throws<ContainerExistsException>(() => store.CreateContainerDir("c1"));
    }

    [Fact]
    public void Directories_get_runcs_modes()
    {
        var store = new StateStore(_dir);
        store.CreateContainerDir("c1");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute,
            File.GetUnixFileMode(store.ContainerDir("c1")));
    }

    [Fact]
    public void Missing_and_corrupt_state_give_typed_errors()
    {
        var store = new StateStore(_dir);
        Assert.Throws<ContainerNotFoundException>(() => store.Read("nope"));
        store.CreateContainerDir("bad");
        File.WriteAllText(Path.Combine(store.ContainerDir("bad"), "state.json"), "{ not json");
        var e = Assert.Throws<CorruptStateException>(() => store.Read("bad"));
        Assert.Contains("bad", e.Message);
    }

    [Fact]
    public void Exit_record_written_by_the_shim_is_read()
    {
        var store = new StateStore(_dir);
        store.CreateContainerDir("c1");
        Assert.Null(store.ReadExit("c1"));
        File.WriteAllText(Path.Combine(store.ContainerDir("c1"), "exit.json"),
            "{\"pid\":42,\"status\":9,\"exitCode\":137,\"signal\":9,\"finishedAt\":\"2026-11-28T15:00:00.123456789Z\"}");
        var exit = store.ReadExit("c1")!;
        Assert.Equal(137, exit.ExitCode);
        Assert.Equal(9, exit.Signal);
    }
}
