namespace Supervisor.Runtime.Configs;

/// <summary>
/// Everything needed to create one container, in libcontainer's shape (reference §2): the OCI bundle is
/// converted into this by <c>Oci.SpecConverter</c>, validated by <c>Validation.ConfigValidator</c>, and
/// persisted inside state.json so that a later <c>Load</c> sees exactly what was created.
/// </summary>
public sealed record ContainerConfig
{
    /// <summary>OCI version of the bundle, passed to hooks in the state JSON.</summary>
    public string OciVersion { get; init; } = "1.0.2";

    /// <summary>Absolute, symlink-free path of the root filesystem.</summary>
    public required string Rootfs { get; init; }

    /// <summary>Remount the root read-only after the root switch.</summary>
    public bool ReadonlyRootfs { get; init; }

    /// <summary>Use MS_MOVE + chroot instead of pivot_root (needed when the rootfs is on ramfs).</summary>
    public bool NoPivotRoot { get; init; }

    /// <summary>
    /// Propagation flags (MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, optionally with MS_REC) applied to
    /// "/" in the new mount namespace. 0 means the default, MS_SLAVE|MS_REC, as in runc.
    /// </summary>
    public ulong RootPropagation { get; init; }

    public string? Hostname { get; init; }
    public string? Domainname { get; init; }

    public IReadOnlyList<Mount> Mounts { get; init; } = [];

    /// <summary>Device nodes to create under /dev (in addition to the defaults added by the converter).</summary>
    public IReadOnlyList<DeviceNode> Devices { get; init; } = [];

    public IReadOnlyList<NamespaceConfig> Namespaces { get; init; } = [];
    public IReadOnlyList<IdMap> UidMappings { get; init; } = [];
    public IReadOnlyList<IdMap> GidMappings { get; init; } = [];

    public CgroupConfig Cgroups { get; init; } = new();

    /// <summary>The container's init process.</summary>
    public required ProcessConfig Process { get; init; }

    /// <summary>sysctl key (dotted, e.g. <c>net.ipv4.ip_forward</c>) to value.</summary>
    public IReadOnlyDictionary<string, string> Sysctl { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> MaskedPaths { get; init; } = [];
    public IReadOnlyList<string> ReadonlyPaths { get; init; } = [];

    public SeccompConfig? Seccomp { get; init; }

    public HooksConfig Hooks { get; init; } = new();

    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>Signal sent to the init when the shim that spawned it dies (0 = none).</summary>
    public int ParentDeathSignal { get; init; }

    public bool HasNamespace(NamespaceType type) => Namespaces.Any(n => n.Type == type);

    /// <summary>True when the namespace is created fresh (listed without a path).</summary>
    public bool CreatesNamespace(NamespaceType type) =>
        Namespaces.Any(n => n.Type == type && string.IsNullOrEmpty(n.Path));

    public NamespaceConfig? GetNamespace(NamespaceType type) => Namespaces.FirstOrDefault(n => n.Type == type);
}
