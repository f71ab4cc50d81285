using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Cgroups;

/// <summary>The state of a cgroup's freezer.</summary>
public enum FreezerState
{
    /// <summary>There is no freezer for this cgroup (controller not mounted, cgroup absent).</summary>
    Undefined,
    Thawed,
    /// <summary>A freeze was requested and not every task has stopped yet.</summary>
    Freezing,
    Frozen,
}

/// <summary>Which cgroup interface drives a controller.</summary>
public enum CgroupVersion
{
    V1 = 1,
    V2 = 2,
}

/// <summary>
/// One container's cgroups across every hierarchy. The runtime calls <see cref="Create"/> (limits written
/// before any task joins), then <see cref="Apply"/> for the init process, and <see cref="Destroy"/> when the
/// container is deleted.
/// </summary>
public interface ICgroupManager
{
    /// <summary>Controller → directory for v1 hierarchies, and <see cref="CgroupPaths.UnifiedKey"/> → the cgroup2 directory.</summary>
    IReadOnlyDictionary<string, string> Paths { get; }

    /// <summary>The directory that holds <paramref name="controller"/>'s files, or null when it is not available.</summary>
    string? Path(string controller);

    /// <summary>Which interface drives <paramref name="controller"/>, or null when it is not available.</summary>
    CgroupVersion? VersionOf(string controller);

    /// <summary>True when every directory exists.</summary>
    bool Exists();

    /// <summary>Every problem with <paramref name="resources"/> for this host's layout; empty when valid.</summary>
    IReadOnlyList<string> Validate(Resources resources);

    /// <summary>Creates the directories and writes the limits; on failure removes what it created.</summary>
    void Create(Resources resources);

    /// <summary>Moves <paramref name="pid"/> (a whole process) into every hierarchy.</summary>
    void Apply(int pid);

    /// <summary>Live update: validates first and writes nothing when any value is invalid.</summary>
    void Set(Resources resources);

    /// <summary>The processes in the cgroup (and, when <paramref name="recursive"/>, its sub-cgroups).</summary>
    IReadOnlyList<int> GetPids(bool recursive = true);

    /// <summary>Freezes every task; on timeout thaws back and throws.</summary>
    void Freeze(TimeSpan timeout);

    void Thaw(TimeSpan timeout);

    FreezerState GetFreezerState();

    /// <summary>Removes every directory (sub-cgroups first), waiting up to about a second for tasks to drain.</summary>
    void Destroy();

    CgroupStats GetStats();
}
