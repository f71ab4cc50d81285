using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.State;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime;

/// <summary>
/// Creates and loads containers under one state root (libcontainer's Factory, reference §1.1).
/// </summary>
public sealed class ContainerFactory
{
    private CgroupLayout? _layout;

    public ContainerFactory(RuntimeOptions options)
    {
        Options = options;
        Store = new StateStore(options.StateRoot);
    }

    public RuntimeOptions Options { get; }
    internal StateStore Store { get; }

    /// <summary>The host's cgroup layout, detected once per factory.</summary>
    public CgroupLayout Layout => _layout ??= CgroupLayout.Detect();

    /// <summary>
    /// Validates the id and the config and reserves the id by creating its state directory. No process,
    /// cgroup or state.json exists yet; <see cref="Container.Init"/> creates them, and removes everything
    /// again (this directory included) when it fails.
    /// </summary>
    public Container Create(string id, string bundleDir, ContainerConfig config)
    {
        ConfigValidator.ValidateId(id);
        if (Options.Rootless)
            config = Rootless.Adapt(config, Supervisor.Linux.Syscalls.EffectiveUid, Supervisor.Linux.Syscalls.EffectiveGid);
        ConfigValidator.ValidateOrThrow(config);
        var dir = Store.CreateContainerDir(id);
        return new Container(this, id, Path.GetFullPath(bundleDir), config, dir, state: null);
    }

    public Container Load(string id)
    {
        ConfigValidator.ValidateId(id);
        var state = Store.Read(id);
        return new Container(this, id, state.Bundle, state.Config, Store.ContainerDir(id), state);
    }

    public bool Exists(string id) => Store.Exists(id);

    /// <summary>The manager for a new container's cgroups: every hierarchy as root, the delegated ones rootless.</summary>
    internal Cgroups.ICgroupManager CgroupsFor(string? cgroupsPath, string id) => Options.Rootless
        ? CgroupManager.ForRootless(Layout, cgroupsPath, id, Supervisor.Linux.Syscalls.CanWriteDirectory)
        : CgroupManager.ForContainer(Layout, cgroupsPath, id);

    /// <summary>
    /// Restores a container from CRIU images (<see cref="Container.Restore"/>): a checkpointed container
    /// of this state root in place, or, when the id is unknown here (migration to another host or state
    /// root), a new container made from <paramref name="bundleDir"/> and <paramref name="config"/>.
    /// </summary>
    public (Container Container, RestoredProcess Process) Restore(string id, string bundleDir, ContainerConfig config,
        ProcessIo io, Supervisor.Criu.CriuOptions options)
    {
        var container = Exists(id) ? Load(id) : Create(id, bundleDir, config);
        return (container, container.Restore(io, options));
    }

    public IEnumerable<Container> List()
    {
        foreach (var id in Store.ListIds())
        {
            Container? c;
            try
            {
                c = Load(id);
            }
            catch (RuntimeException)
            {
                // One unreadable record must not hide the others (security-anchors F5).
                continue;
            }
            yield return c;
        }
    }
}
